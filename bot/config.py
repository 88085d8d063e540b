"""config.toml -> validated, typed, frozen settings: the first thing the bot reads.

Every problem is reported with its key path (``sources[3].interval: expected a
duration like "5m", got "fast"``) and all problems are collected, so ``dozor check``
can list them at once.  Secrets never live here: tokens come from the environment.
Relative paths (storage, rule globs, ``file:`` sample URLs) are resolved against the
config file's folder, so the bot runs the same from any working directory.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.model import Destination, Source
from bot.schedules import DigestSchedule, QuietHours, parse_duration, parse_zone
from watchers.expand import Expanded, expand_source

SOURCE_KINDS = ("rss", "telegram", "vk")
TME_BASE = "https://t.me"
VK_API = "https://api.vk.com"
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
DESTINATION_KINDS = ("console", "telegram", "slack")
TELEGRAM_API = "https://api.telegram.org"
SLACK_API = "https://slack.com/api/"
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_TS = re.compile(r"^\d+\.\d+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class ConfigError(Exception):
    """The config file cannot be used; ``problems`` lists every reason, one per line."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class StorageSettings:
    path: Path


@dataclass(frozen=True)
class PollingSettings:
    interval: timedelta = timedelta(minutes=5)
    min_interval: timedelta = timedelta(minutes=1)
    max_interval: timedelta = timedelta(hours=6)
    jitter: float = 0.1
    tick: timedelta = timedelta(seconds=5)
    concurrency: int = 16
    per_host: int = 4
    timeout: timedelta = timedelta(seconds=30)
    max_bytes: int = 10 * 1024 * 1024
    allow_private: tuple[str, ...] = ()  # addresses chat-added sources may reach anyway


@dataclass(frozen=True)
class RulesSettings:
    paths: tuple[str, ...] = ("rules/*.toml",)


@dataclass(frozen=True)
class RoutesSettings:
    default: tuple[str, ...] = ()
    rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    noisy_per_hour: int = 20  # more alerts than this from one source in a chat: say so


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: str = "text"  # or "json": one JSON object per line


@dataclass(frozen=True)
class MetricsSettings:
    listen: str | None = None  # "127.0.0.1:9464" serves /metrics and /healthz; None: off


@dataclass(frozen=True)
class DedupSettings:
    """One alert per story across sources (bot/dedup: MinHash LSH + a second signal)."""

    enabled: bool = True
    threshold: float = 0.5  # estimated Jaccard similarity of two texts' words
    window: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class TmeSettings:
    """Public Telegram channels, read from their web preview at <base_url>/s/<channel>."""

    base_url: str = TME_BASE
    max_pages: int = 10  # ?before= pages read back after downtime, at most
    page_jitter: timedelta = timedelta(seconds=1)  # a random pause up to this between pages


@dataclass(frozen=True)
class VkSettings:
    api_base_url: str = VK_API  # the token comes from VK_TOKEN


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram adapter; the bot token comes from TELEGRAM_BOT_TOKEN, never from here."""

    api_base_url: str = TELEGRAM_API
    mode: str = "polling"  # or "webhook"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:8443"
    admins: tuple[int, ...] = ()  # user ids who may add and remove sources
    chats: tuple[int, ...] = ()  # chats served besides the destinations' chats
    members_can_watch: bool = True  # members of served chats may add rules and mutes
    per_chat_interval: timedelta = timedelta(seconds=1)
    group_per_minute: int = 20
    global_per_second: int = 30


@dataclass(frozen=True)
class SlackSettings:
    """The Slack app; tokens come from SLACK_BOT_TOKEN, SLACK_APP_TOKEN (Socket Mode) and
    SLACK_SIGNING_SECRET (HTTP mode), never from here."""

    api_base_url: str = SLACK_API  # always ends with "/": slack_sdk appends the method
    mode: str = "socket"  # or "http"
    http_listen: str = "127.0.0.1:3000"
    admins: tuple[str, ...] = ()  # Slack user ids who may add and remove sources
    channels: tuple[str, ...] = ()  # channel ids served besides the destinations' channels
    members_can_watch: bool = True
    per_channel_interval: timedelta = timedelta(seconds=1)


@dataclass(frozen=True)
class Settings:
    config_path: Path
    base_dir: Path
    storage: StorageSettings
    polling: PollingSettings
    sources: tuple[Source, ...]
    rules: RulesSettings
    destinations: tuple[Destination, ...]
    routes: RoutesSettings
    log: LogSettings
    telegram: TelegramSettings = field(default_factory=lambda: TelegramSettings())
    metrics: MetricsSettings = field(default_factory=lambda: MetricsSettings())
    tme: TmeSettings = field(default_factory=lambda: TmeSettings())
    dedup: DedupSettings = field(default_factory=lambda: DedupSettings())
    vk: VkSettings = field(default_factory=lambda: VkSettings())
    slack: SlackSettings = field(default_factory=lambda: SlackSettings())

    def destination_names(self) -> set[str]:
        return {d.name for d in self.destinations}


def format_duration(value: timedelta) -> str:
    if value < timedelta(seconds=1) and value.microseconds:
        return f"{value.microseconds // 1000}ms"
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


class _Reader:
    """Walks the parsed TOML, converting values and collecting problems by key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, data: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.error(path, f"expected a table, got {_show(data)}")
            return {}
        for key in data:
            if key not in allowed:
                hint = _close(key, allowed)
                self.error(
                    f"{path}.{key}" if path else key,
                    f"unknown key{hint} (allowed: {', '.join(allowed)})",
                )
        return data

    def get(
        self,
        data: dict[str, Any],
        path: str,
        key: str,
        convert: Callable[[Any], Any],
        default: Any,
        expected: str,
        *,
        required: bool = False,
    ) -> Any:
        where = f"{path}.{key}" if path else key
        if key not in data:
            if required:
                self.error(where, f"missing (expected {expected})")
            return default
        try:
            return convert(data[key])
        except (TypeError, ValueError):
            self.error(where, f"expected {expected}, got {_show(data[key])}")
            return default


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _close(key: str, allowed: tuple[str, ...]) -> str:
    near = difflib.get_close_matches(key, allowed, n=1)
    return f' "{key}" (did you mean "{near[0]}"?)' if near else f' "{key}"'


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value.strip()


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError
    return tuple(v.strip() for v in value)


def _duration(value: Any) -> timedelta:
    result = parse_duration(value)
    if result <= timedelta(0):
        raise ValueError
    return result


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError
    return value


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError
    return value


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 0.5:
        raise ValueError
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _level(value: Any) -> str:
    if value not in ("debug", "info", "warning", "error"):
        raise ValueError
    return str(value)


WATCH_FORMS = (
    'what to watch, as /addsource takes it: "@user@mastodon.social", "bsky:handle", '
    '"r/subreddit", a YouTube channel URL, "news:<query>", "@channel", "vk.com/page"'
)


def _watch(tme_base: str) -> Callable[[Any], Expanded]:
    """A source named the way /addsource takes it, expanded to its feed (watchers/expand)."""

    def convert(value: Any) -> Expanded:
        return expand_source(_string(value), tme_base=tme_base)

    return convert


def _source_url(base_dir: Path) -> Callable[[Any], str]:
    """http(s) URLs as they are; ``file:relative/path`` resolved against the config folder."""

    def convert(value: Any) -> str:
        text = _string(value)
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.netloc:
            return text
        if parts.scheme == "file":
            raw = text[len("file://") :] if text.startswith("file://") else text[len("file:") :]
            path = Path(raw)
            return (path if path.is_absolute() else base_dir / path).resolve().as_uri()
        raise ValueError

    return convert


SOURCE_KEYS = (
    "name",
    "kind",
    "url",
    "channel",
    "watch",
    "interval",
    "tags",
    "backfill",
    "enabled",
    "note_edits",
)
TME_KEYS = ("base_url", "max_pages", "page_jitter")
VK_KEYS = ("api_base_url",)
DESTINATION_KEYS = (
    "name",
    "kind",
    "chat_id",
    "thread_id",
    "channel",
    "thread_ts",
    "unfurl",
    "silent",
    "link_preview",
    "quiet_hours",
    "quiet",
    "digest",
    "timezone",
    "also_seen",
)
TOP_KEYS = (
    "storage",
    "polling",
    "sources",
    "rules",
    "destinations",
    "routes",
    "log",
    "telegram",
    "metrics",
    "tme",
    "vk",
    "slack",
    "dedup",
)
POLLING_KEYS = (
    "interval",
    "min_interval",
    "max_interval",
    "jitter",
    "tick",
    "concurrency",
    "per_host",
    "timeout",
    "max_bytes",
    "allow_private",
)
STORAGE_KEYS = ("path",)
RULES_KEYS = ("paths",)
ROUTES_KEYS = ("default", "rules", "noisy_per_hour")
LOG_KEYS = ("level", "format")
METRICS_KEYS = ("listen",)
DEDUP_KEYS = ("enabled", "threshold", "window")
TELEGRAM_KEYS = (
    "api_base_url",
    "mode",
    "webhook_url",
    "webhook_listen",
    "admins",
    "chats",
    "members_can_watch",
    "per_chat_interval",
    "group_per_minute",
    "global_per_second",
)
# Every key of every section: the README's config reference must document each one.
SLACK_KEYS = (
    "api_base_url",
    "mode",
    "http_listen",
    "admins",
    "channels",
    "members_can_watch",
    "per_channel_interval",
)
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "storage": STORAGE_KEYS,
    "polling": POLLING_KEYS,
    "sources": SOURCE_KEYS,
    "rules": RULES_KEYS,
    "destinations": DESTINATION_KEYS,
    "routes": ROUTES_KEYS,
    "log": LOG_KEYS,
    "telegram": TELEGRAM_KEYS,
    "metrics": METRICS_KEYS,
    "tme": TME_KEYS,
    "dedup": DEDUP_KEYS,
    "vk": VK_KEYS,
    "slack": SLACK_KEYS,
}


def load_config(path: str | Path) -> Settings:
    """Read and validate a config file; raise ConfigError listing every problem."""
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(config_path, [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(config_path, ["the file is not UTF-8 text"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(config_path, [f"TOML syntax error: {exc}"]) from None
    return parse_config(data, config_path)


def parse_config(data: dict[str, Any], config_path: Path) -> Settings:
    base_dir = config_path.resolve().parent
    r = _Reader()
    r.table(data, "", TOP_KEYS)

    storage_t = r.table(data.get("storage", {}), "storage", STORAGE_KEYS)
    storage_path = Path(r.get(storage_t, "storage", "path", _string, "dozor.db", "a file path"))
    storage = StorageSettings(
        storage_path if storage_path.is_absolute() else base_dir / storage_path
    )

    defaults = PollingSettings()
    pt = r.table(data.get("polling", {}), "polling", POLLING_KEYS)
    duration = 'a duration like "5m"'
    polling = PollingSettings(
        interval=r.get(pt, "polling", "interval", _duration, defaults.interval, duration),
        min_interval=r.get(
            pt, "polling", "min_interval", _duration, defaults.min_interval, duration
        ),
        max_interval=r.get(
            pt, "polling", "max_interval", _duration, defaults.max_interval, duration
        ),
        jitter=r.get(
            pt, "polling", "jitter", _fraction, defaults.jitter, "a fraction from 0 to 0.5"
        ),
        tick=r.get(pt, "polling", "tick", _duration, defaults.tick, duration),
        concurrency=r.get(
            pt, "polling", "concurrency", _positive_int, defaults.concurrency, "a positive integer"
        ),
        per_host=r.get(
            pt, "polling", "per_host", _positive_int, defaults.per_host, "a positive integer"
        ),
        timeout=r.get(pt, "polling", "timeout", _duration, defaults.timeout, duration),
        max_bytes=r.get(
            pt, "polling", "max_bytes", _positive_int, defaults.max_bytes, "a size in bytes"
        ),
        allow_private=r.get(
            pt, "polling", "allow_private", _strings, (), 'a list like ["127.0.0.1", "10.0.0.0/8"]'
        ),
    )
    tme_t = r.table(data.get("tme", {}), "tme", TME_KEYS)
    tme = TmeSettings(
        base_url=r.get(tme_t, "tme", "base_url", _base_url, TME_BASE, "an http(s) URL"),
        max_pages=r.get(tme_t, "tme", "max_pages", _positive_int, 10, "a positive integer"),
        page_jitter=r.get(
            tme_t, "tme", "page_jitter", _duration_or_zero, timedelta(seconds=1), duration
        ),
    )
    dt = r.table(data.get("dedup", {}), "dedup", DEDUP_KEYS)
    dedup = DedupSettings(
        enabled=r.get(dt, "dedup", "enabled", _boolean, True, "true or false"),
        threshold=r.get(dt, "dedup", "threshold", _unit, 0.5, "a number from 0.1 to 1.0"),
        window=r.get(dt, "dedup", "window", _duration, timedelta(hours=48), duration),
    )
    vk_t = r.table(data.get("vk", {}), "vk", VK_KEYS)
    vk = VkSettings(r.get(vk_t, "vk", "api_base_url", _base_url, VK_API, "an http(s) URL"))
    if polling.min_interval > polling.max_interval:
        r.error("polling.min_interval", "is longer than polling.max_interval")

    sources: list[Source] = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        r.error("sources", "expected [[sources]] tables")
        raw_sources = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(raw_sources):
        where = f"sources[{i}]"
        t = r.table(raw, where, SOURCE_KEYS)
        if not t:
            continue
        watch = r.get(t, where, "watch", _watch(tme.base_url), None, WATCH_FORMS)
        name = r.get(
            t,
            where,
            "name",
            _name,
            watch.name if watch else None,
            "a name of letters, digits, - _ .",
            required="watch" not in t,
        )
        kind = r.get(
            t,
            where,
            "kind",
            _choice(SOURCE_KINDS),
            watch.kind if watch else "rss",
            f"one of {', '.join(SOURCE_KINDS)}",
        )
        channel = r.get(t, where, "channel", _channel, None, "a channel name like rian_ru")
        url = r.get(
            t,
            where,
            "url",
            _source_url(base_dir),
            None,
            'an http(s) URL or "file:path"',
            required=channel is None and watch is None and "watch" not in t,
        )
        if watch is not None:
            if url is not None or channel is not None:
                r.error(f"{where}.watch", "give one of url, channel or watch, not several")
            elif kind != watch.kind:
                r.error(f"{where}.kind", f'"{t.get("watch")}" is a {watch.kind} source, not {kind}')
            url = watch.url
        if channel is not None and url is not None and watch is None:
            r.error(f"{where}.channel", "give either url or channel, not both")
        elif channel is not None:
            if kind == "telegram":
                url = f"{tme.base_url}/s/{channel}"
            elif kind == "vk":
                url = f"https://vk.com/{channel}"
            else:
                r.error(f"{where}.channel", f'only for kind = "telegram" or "vk", not "{kind}"')
        note_edits = r.get(t, where, "note_edits", _boolean, False, "true or false")
        interval = r.get(t, where, "interval", _duration, polling.interval, duration)
        tags = r.get(t, where, "tags", _strings, (), "a list of strings")
        if watch is not None:
            tags = tuple(dict.fromkeys((*tags, *watch.tags)))
        backfill = r.get(t, where, "backfill", _non_negative_int, 0, "a whole number of items")
        enabled = r.get(t, where, "enabled", _boolean, True, "true or false")
        if name is not None:
            if name in seen:
                r.error(f"{where}.name", f'"{name}" is already the name of {seen[name]}')
            seen[name] = where
        if name is not None and url is not None:
            sources.append(
                Source(
                    name,
                    kind,
                    url,
                    interval,
                    tuple(tags),
                    backfill,
                    enabled,
                    note_edits=note_edits,
                )
            )

    rt = r.table(data.get("rules", {}), "rules", RULES_KEYS)
    rules = RulesSettings(
        paths=r.get(
            rt, "rules", "paths", _strings, RulesSettings().paths, "a list of glob patterns"
        )
    )

    destinations: list[Destination] = []
    raw_dest = data.get("destinations", [])
    if not isinstance(raw_dest, list):
        r.error("destinations", "expected [[destinations]] tables")
        raw_dest = []
    names: set[str] = set()
    for i, raw in enumerate(raw_dest):
        where = f"destinations[{i}]"
        t = r.table(raw, where, DESTINATION_KEYS)
        if not t:
            continue
        name = r.get(
            t, where, "name", _name, None, "a name of letters, digits, - _ .", required=True
        )
        kind = r.get(
            t,
            where,
            "kind",
            _choice(DESTINATION_KINDS),
            None,
            f"one of {', '.join(DESTINATION_KINDS)}",
            required=True,
        )
        chat_id = thread_id = None
        if kind == "telegram":
            chat_id = r.get(
                t,
                where,
                "chat_id",
                _chat_id,
                None,
                "a Telegram chat id like -1001234567890",
                required=True,
            )
            thread_id = r.get(t, where, "thread_id", _positive_int, None, "a forum topic id")
        else:
            for key in ("chat_id", "thread_id"):
                if key in t:
                    r.error(f"{where}.{key}", f'only for kind = "telegram", not "{kind}"')
        channel = thread_ts = None
        unfurl = False
        if kind == "slack":
            channel = r.get(
                t,
                where,
                "channel",
                _slack_channel,
                None,
                'a Slack channel id like "C0123ABC"',
                required=True,
            )
            thread_ts = r.get(
                t,
                where,
                "thread_ts",
                _slack_ts,
                None,
                'the ts of a thread like "1700000000.000100"',
            )
            unfurl = r.get(t, where, "unfurl", _boolean, False, "true or false")
        else:
            for key in ("channel", "thread_ts", "unfurl"):
                if key in t:
                    r.error(f"{where}.{key}", f'only for kind = "slack", not "{kind}"')
        silent = r.get(t, where, "silent", _boolean, False, "true or false")
        link_preview = r.get(t, where, "link_preview", _boolean, False, "true or false")
        zone = r.get(t, where, "timezone", parse_zone, UTC, 'a time zone like "Europe/Moscow"')
        quiet_hours = r.get(
            t,
            where,
            "quiet_hours",
            partial(QuietHours.parse, zone=zone),
            None,
            'a window like "22:00-07:00"',
        )
        quiet = r.get(t, where, "quiet", _choice(("silent", "hold")), "silent", "silent or hold")
        also_seen = r.get(
            t, where, "also_seen", _choice(("edit", "thread")), "edit", "edit or thread"
        )
        digest = r.get(
            t,
            where,
            "digest",
            partial(DigestSchedule.parse, zone=zone),
            None,
            '"hourly" or "daily 08:00"',
        )
        if name in names:
            r.error(f"{where}.name", f'"{name}" is already the name of another destination')
        if name is not None and kind is not None:
            names.add(name)
            destinations.append(
                Destination(
                    name,
                    kind,
                    chat_id,
                    thread_id,
                    silent,
                    link_preview,
                    channel=channel,
                    thread_ts=thread_ts,
                    unfurl=unfurl,
                    quiet_hours=quiet_hours,
                    quiet=quiet,
                    digest=digest,
                    also_seen=also_seen,
                )
            )

    route_t = r.table(data.get("routes", {}), "routes", ROUTES_KEYS)
    default = r.get(route_t, "routes", "default", _strings, None, "a list of destination names")
    if default is None:
        default = tuple(d.name for d in destinations)
    per_rule: dict[str, tuple[str, ...]] = {}
    rules_t = route_t.get("rules", {})
    if not isinstance(rules_t, dict):
        r.error("routes.rules", 'expected a table like { "rule name" = ["destination"] }')
        rules_t = {}
    for rule_name in rules_t:
        got = r.get(
            rules_t, "routes.rules", rule_name, _strings, None, "a list of destination names"
        )
        if got is not None:
            per_rule[rule_name] = got
    for where, targets in [("routes.default", default)] + [
        (f'routes.rules."{k}"', v) for k, v in per_rule.items()
    ]:
        for target in targets:
            if target not in names:
                r.error(where, f'no destination named "{target}"{_known(target, names)}')
    noisy = r.get(
        route_t, "routes", "noisy_per_hour", _non_negative_int, 20, "a whole number (0: off)"
    )
    routes = RoutesSettings(default=tuple(default), rules=per_rule, noisy_per_hour=noisy)

    lt = r.table(data.get("log", {}), "log", LOG_KEYS)
    log = LogSettings(
        r.get(lt, "log", "level", _level, "info", "one of debug, info, warning, error"),
        r.get(lt, "log", "format", _choice(("text", "json")), "text", "text or json"),
    )
    mt = r.table(data.get("metrics", {}), "metrics", METRICS_KEYS)
    metrics = MetricsSettings(
        r.get(mt, "metrics", "listen", _host_port, None, 'a "host:port" like "127.0.0.1:9464"')
    )

    telegram = _telegram(r, data.get("telegram", {}))
    slack = _slack(r, data.get("slack", {}))

    if r.problems:
        raise ConfigError(config_path, r.problems)
    return Settings(
        config_path=config_path,
        base_dir=base_dir,
        storage=storage,
        polling=polling,
        sources=tuple(sources),
        rules=rules,
        destinations=tuple(destinations),
        routes=routes,
        log=log,
        telegram=telegram,
        slack=slack,
        metrics=metrics,
        tme=tme,
        vk=vk,
        dedup=dedup,
    )


def _unit(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= 1:
        raise ValueError
    return float(value)


def _channel(value: Any) -> str:
    text = _string(value).removeprefix("@")
    if not _CHANNEL.match(text):
        raise ValueError
    return text


def _duration_or_zero(value: Any) -> timedelta:
    if value in ("0", "0s"):
        return timedelta(0)
    return _duration(value)


def _chat_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        raise ValueError
    return value


def _ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError
    return tuple(value)


def _base_url(value: Any) -> str:
    text = _string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError
    return text.rstrip("/")


def _host_port(value: Any) -> str:
    text = _string(value)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError
    return text


def _slack_api(value: Any) -> str:
    return _base_url(value) + "/"


def _slack_channel(value: Any) -> str:
    if not isinstance(value, str) or not _SLACK_CHANNEL.match(value.strip()):
        raise ValueError
    return value.strip()


def _slack_channels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError
    return tuple(_slack_channel(v) for v in value)


def _slack_users(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and _SLACK_USER.match(v.strip()) for v in value
    ):
        raise ValueError
    return tuple(v.strip() for v in value)


def _slack_ts(value: Any) -> str:
    if not isinstance(value, str) or not _SLACK_TS.match(value.strip()):
        raise ValueError
    return value.strip()


def _slack(r: _Reader, raw: Any) -> SlackSettings:
    t = r.table(raw, "slack", SLACK_KEYS)
    d = SlackSettings()
    w = "slack"
    return SlackSettings(
        api_base_url=r.get(t, w, "api_base_url", _slack_api, d.api_base_url, "an http(s) URL"),
        mode=r.get(t, w, "mode", _choice(("socket", "http")), d.mode, "socket or http"),
        http_listen=r.get(
            t, w, "http_listen", _host_port, d.http_listen, 'a "host:port" to listen on'
        ),
        admins=r.get(t, w, "admins", _slack_users, (), 'a list of Slack user ids like "U0123ABC"'),
        channels=r.get(
            t, w, "channels", _slack_channels, (), 'a list of Slack channel ids like "C0123ABC"'
        ),
        members_can_watch=r.get(t, w, "members_can_watch", _boolean, True, "true or false"),
        per_channel_interval=r.get(
            t, w, "per_channel_interval", _duration, d.per_channel_interval, 'a duration like "1s"'
        ),
    )


def _telegram(r: _Reader, raw: Any) -> TelegramSettings:
    t = r.table(raw, "telegram", TELEGRAM_KEYS)
    d = TelegramSettings()
    w = "telegram"
    settings = TelegramSettings(
        api_base_url=r.get(t, w, "api_base_url", _base_url, d.api_base_url, "an http(s) URL"),
        mode=r.get(t, w, "mode", _choice(("polling", "webhook")), d.mode, "polling or webhook"),
        webhook_url=r.get(t, w, "webhook_url", _base_url, None, "an https URL"),
        webhook_listen=r.get(
            t, w, "webhook_listen", _host_port, d.webhook_listen, 'a "host:port" to listen on'
        ),
        admins=r.get(t, w, "admins", _ids, (), "a list of Telegram user ids"),
        chats=r.get(t, w, "chats", _ids, (), "a list of Telegram chat ids"),
        members_can_watch=r.get(t, w, "members_can_watch", _boolean, True, "true or false"),
        per_chat_interval=r.get(
            t, w, "per_chat_interval", _duration, d.per_chat_interval, 'a duration like "1s"'
        ),
        group_per_minute=r.get(
            t, w, "group_per_minute", _positive_int, d.group_per_minute, "a positive integer"
        ),
        global_per_second=r.get(
            t, w, "global_per_second", _positive_int, d.global_per_second, "a positive integer"
        ),
    )
    if settings.mode == "webhook" and not settings.webhook_url:
        r.error("telegram.webhook_url", 'missing (needed with mode = "webhook")')
    return settings


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError
        return str(value)

    return convert


def _known(name: str, names: set[str]) -> str:
    if not names:
        return " (no destinations are defined)"
    near = difflib.get_close_matches(name, sorted(names), n=1)
    return f' (did you mean "{near[0]}"?)' if near else f" (known: {', '.join(sorted(names))})"
