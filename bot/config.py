"""config.toml -> validated, typed, frozen settings: the first thing the bot reads.

Every problem is reported with its key path (``sources[3].interval: expected a
duration like "5m", got "fast"``) and all problems are collected, so ``dozor check``
can list them at once.  Secrets never live here: tokens come from the environment.
Relative paths (storage, rule globs, ``file:`` sample URLs) are resolved against the
config file's folder, so the bot runs the same from any working directory.

Sections are data (``SECTIONS``: name, keys, parser), each parsed by the code that
owns it: the core's here, each chat platform's in its package (``Platform.section``,
``Platform.parse_destination``), found through the registry ``bot.platforms``, and
each source kind's in its watcher (``Watcher.section``, e.g. ``[tme]``; a
``[[sources]]`` table's ``channel`` becomes a URL by ``Watcher.channel_url``), found
through the registry ``watchers``.  The values are read with ``bot.configread``'s
``Reader``.
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

import watchers
from bot import platforms
from bot.configread import Reader as _Reader
from bot.configread import boolean as _boolean
from bot.configread import choice as _choice
from bot.configread import duration as _duration
from bot.configread import host_port as _host_port
from bot.configread import positive_int as _positive_int
from bot.configread import string as _string
from bot.configread import strings as _strings
from bot.matching.inflect import LANGUAGES
from bot.model import Destination, Source
from bot.pictures import MODES as MEDIA_MODES
from bot.schedules import DigestSchedule, QuietHours, parse_duration, parse_zone
from watchers.expand import Expanded, expand_source

_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
__all__ = ["ConfigError", "Settings", "format_duration", "load_config", "parse_duration"]


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
class EvidenceSettings:
    """Pictures of alerted items kept on disk (bot/evidence.py); off by default."""

    enabled: bool = False
    dir: Path | None = None  # None: "evidence" beside the store
    max_mb: int = 500  # disk use, at most: the oldest items' pictures go first
    max_files_per_item: int = 10
    max_file_mb: int = 20
    timeout: timedelta = timedelta(seconds=30)  # one picture's whole download, at most


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
    metrics: MetricsSettings = field(default_factory=lambda: MetricsSettings())
    dedup: DedupSettings = field(default_factory=lambda: DedupSettings())
    evidence: EvidenceSettings = field(default_factory=lambda: EvidenceSettings())
    platforms: Mapping[str, Any] = field(default_factory=dict)  # each platform's section
    kinds: Mapping[str, Any] = field(default_factory=dict)  # each source kind's, by kind

    @property
    def evidence_dir(self) -> Path:
        """Where evidence is kept: ``[evidence] dir``, else "evidence" beside the store."""
        return self.evidence.dir or self.storage.path.parent / "evidence"

    def destination_names(self) -> set[str]:
        return {d.name for d in self.destinations}

    def section(self, name: str) -> Any:
        """A platform's settings: its section as parsed, else the platform's default."""
        if name in self.platforms:
            return self.platforms[name]
        found = platforms.find(name)
        return found.default if found is not None else None

    def source_settings(self, kind: str) -> Any:
        """A source kind's settings: its section as parsed, else the watcher's default."""
        if kind in self.kinds:
            return self.kinds[kind]
        found = watchers.find(kind)
        return found.default if found is not None else None

    def expand_options(self) -> dict[str, Any]:
        """What the kinds' short forms need (``watchers.expand.expand_source``)."""
        return _expand_options(self.source_settings)


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


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
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


def _level(value: Any) -> str:
    if value not in ("debug", "info", "warning", "error"):
        raise ValueError
    return str(value)


WATCH_FORMS = (
    'what to watch, as /addsource takes it: "@user@mastodon.social", "bsky:handle", '
    '"r/subreddit", a YouTube channel URL, "news:<query>", "@channel", "vk.com/page"'
)


def _expand_options(own: Callable[[str], Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for watcher in watchers.WATCHERS:
        options.update(watcher.expand_options(own(watcher.kind)))
    return options


def _watch(options: Mapping[str, Any]) -> Callable[[Any], Expanded]:
    """A source named the way /addsource takes it, expanded to its feed (watchers/expand)."""

    def convert(value: Any) -> Expanded:
        return expand_source(_string(value), **options)

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
MEDIA_CHOICES = '"none", "preview", "photo" or "album"'
_DESTINATION_COMMON = (
    "silent",
    "link_preview",
    "quiet_hours",
    "quiet",
    "digest",
    "timezone",
    "also_seen",
    "languages",
    "media",
)


def destination_keys() -> tuple[str, ...]:
    """Every key a ``[[destinations]]`` table may have: the common ones and each
    registered platform's own."""
    own = tuple(k for p in platforms.PLATFORMS for k in p.destination_keys)
    return ("name", "kind", *own, *_DESTINATION_COMMON)


def destination_kinds() -> tuple[str, ...]:
    return platforms.names()


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
EVIDENCE_KEYS = ("enabled", "dir", "max_mb", "max_files_per_item", "max_file_mb", "timeout")


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


@dataclass
class _Parsed:
    """What the sections read so far; a later section may use an earlier one's."""

    base_dir: Path
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Section:
    """One top-level table (or array of tables) of config.toml and who reads it."""

    name: str
    keys: tuple[str, ...]
    parse: Callable[[_Reader, Any, _Parsed], Any]
    default: Any = None  # the raw value when the table is absent


DURATION = 'a duration like "5m"'


def _storage(r: _Reader, raw: Any, got: _Parsed) -> StorageSettings:
    t = r.table(raw, "storage", STORAGE_KEYS)
    path = Path(r.get(t, "storage", "path", _string, "dozor.db", "a file path"))
    return StorageSettings(path if path.is_absolute() else got.base_dir / path)


def _polling(r: _Reader, raw: Any, got: _Parsed) -> PollingSettings:
    d = PollingSettings()
    pt = r.table(raw, "polling", POLLING_KEYS)
    w = "polling"
    return PollingSettings(
        interval=r.get(pt, w, "interval", _duration, d.interval, DURATION),
        min_interval=r.get(pt, w, "min_interval", _duration, d.min_interval, DURATION),
        max_interval=r.get(pt, w, "max_interval", _duration, d.max_interval, DURATION),
        jitter=r.get(pt, w, "jitter", _fraction, d.jitter, "a fraction from 0 to 0.5"),
        tick=r.get(pt, w, "tick", _duration, d.tick, DURATION),
        concurrency=r.get(pt, w, "concurrency", _positive_int, d.concurrency, "a positive integer"),
        per_host=r.get(pt, w, "per_host", _positive_int, d.per_host, "a positive integer"),
        timeout=r.get(pt, w, "timeout", _duration, d.timeout, DURATION),
        max_bytes=r.get(pt, w, "max_bytes", _positive_int, d.max_bytes, "a size in bytes"),
        allow_private=r.get(
            pt, w, "allow_private", _strings, (), 'a list like ["127.0.0.1", "10.0.0.0/8"]'
        ),
    )


def _dedup(r: _Reader, raw: Any, got: _Parsed) -> DedupSettings:
    t = r.table(raw, "dedup", DEDUP_KEYS)
    return DedupSettings(
        enabled=r.get(t, "dedup", "enabled", _boolean, True, "true or false"),
        threshold=r.get(t, "dedup", "threshold", _unit, 0.5, "a number from 0.1 to 1.0"),
        window=r.get(t, "dedup", "window", _duration, timedelta(hours=48), DURATION),
    )


def _evidence(r: _Reader, raw: Any, got: _Parsed) -> EvidenceSettings:
    t = r.table(raw, "evidence", EVIDENCE_KEYS)
    d, w, count = EvidenceSettings(), "evidence", "a positive integer"
    folder = r.get(t, w, "dir", _string, None, "a folder path")
    path = Path(folder) if folder else None
    return EvidenceSettings(
        enabled=r.get(t, w, "enabled", _boolean, d.enabled, "true or false"),
        dir=path if path is None or path.is_absolute() else got.base_dir / path,
        max_mb=r.get(t, w, "max_mb", _positive_int, d.max_mb, "a size in MB"),
        max_files_per_item=r.get(
            t, w, "max_files_per_item", _positive_int, d.max_files_per_item, count
        ),
        max_file_mb=r.get(t, w, "max_file_mb", _positive_int, d.max_file_mb, "a size in MB"),
        timeout=r.get(t, w, "timeout", _duration, d.timeout, DURATION),
    )


def _tables(r: _Reader, raw: Any, name: str) -> list[Any]:
    if not isinstance(raw, list):
        r.error(name, f"expected [[{name}]] tables")
        return []
    return raw


def _kind_settings(got: _Parsed) -> Callable[[str], Any]:
    """A kind's settings as read so far (its section), else its watcher's default."""

    def own(kind: str) -> Any:
        watcher = watchers.find(kind)
        if watcher is None:
            return None
        if watcher.section is not None and watcher.section.name in got.values:
            return got.values[watcher.section.name]
        return watcher.default

    return own


def _sources(r: _Reader, raw: Any, got: _Parsed) -> tuple[Source, ...]:
    polling: PollingSettings = got.values["polling"]
    if polling.min_interval > polling.max_interval:  # said here, after the tables' keys
        r.error("polling.min_interval", "is longer than polling.max_interval")
    own = _kind_settings(got)
    kinds = watchers.kinds()
    with_channels = [w.kind for w in watchers.WATCHERS if w.channels]
    options = _expand_options(own)
    sources: list[Source] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(_tables(r, raw, "sources")):
        where = f"sources[{i}]"
        t = r.table(table, where, SOURCE_KEYS)
        if not t:
            continue
        watch = r.get(t, where, "watch", _watch(options), None, WATCH_FORMS)
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
            _choice(kinds),
            watch.kind if watch else watchers.FEED,
            f"one of {', '.join(kinds)}",
        )
        channel = r.get(t, where, "channel", _channel, None, "a channel name like rian_ru")
        url = r.get(
            t,
            where,
            "url",
            _source_url(got.base_dir),
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
            watcher = watchers.find(kind)
            if watcher is not None and watcher.channels:
                url = watcher.channel_url(channel, own(kind))
            else:
                only = " or ".join(f'"{k}"' for k in with_channels)
                r.error(f"{where}.channel", f'only for kind = {only}, not "{kind}"')
        note_edits = r.get(t, where, "note_edits", _boolean, False, "true or false")
        interval = r.get(t, where, "interval", _duration, polling.interval, DURATION)
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
    return tuple(sources)


def _rules(r: _Reader, raw: Any, got: _Parsed) -> RulesSettings:
    t = r.table(raw, "rules", RULES_KEYS)
    default = RulesSettings().paths
    return RulesSettings(r.get(t, "rules", "paths", _strings, default, "a list of glob patterns"))


def _destinations(r: _Reader, raw: Any, got: _Parsed) -> tuple[Destination, ...]:
    """The common keys here; each platform reads its own keys (``parse_destination``),
    and a key of another platform is an error that names the platform it is for."""
    kinds = destination_kinds()
    destinations: list[Destination] = []
    names: set[str] = set()
    for i, table in enumerate(_tables(r, raw, "destinations")):
        where = f"destinations[{i}]"
        t = r.table(table, where, destination_keys())
        if not t:
            continue
        name = r.get(
            t, where, "name", _name, None, "a name of letters, digits, - _ .", required=True
        )
        kind = r.get(
            t, where, "kind", _choice(kinds), None, f"one of {', '.join(kinds)}", required=True
        )
        address = None
        for platform in platforms.PLATFORMS:
            if platform.name == kind:
                address = platform.parse_destination(r, t, where)
                continue
            for key in platform.destination_keys:
                if key in t:
                    r.error(f"{where}.{key}", f'only for kind = "{platform.name}", not "{kind}"')
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
        languages = _languages(r, t, where)
        media = r.get(t, where, "media", _choice(MEDIA_MODES), None, MEDIA_CHOICES)
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
        if name is not None and kind is not None and address is not None:
            names.add(name)
            destinations.append(
                Destination(
                    name,
                    kind,
                    address.address,
                    address.thread,
                    silent,
                    link_preview,
                    options=tuple(address.options.items()),
                    quiet_hours=quiet_hours,
                    quiet=quiet,
                    digest=digest,
                    also_seen=also_seen,
                    languages=languages,
                    media=media,
                )
            )
    return tuple(destinations)


def _languages(r: _Reader, t: dict[str, Any], where: str) -> tuple[str, ...]:
    """A destination's ``languages``: what the rules its chat adds inflect in (as a
    rule file's ``languages``; ``/languages`` in the chat overrides it)."""
    got = r.get(t, where, "languages", _strings, None, 'a list like ["ru"]')
    if got is None:
        return LANGUAGES
    wrong = [v for v in got if v not in LANGUAGES]
    if wrong or not got:
        value = f'"{wrong[0]}"' if wrong else "an empty list"
        r.error(f"{where}.languages", f'takes "ru", "uk" or both (["ru", "uk"]), got {value}')
        return LANGUAGES
    return tuple(lang for lang in LANGUAGES if lang in got)


def _routes(r: _Reader, raw: Any, got: _Parsed) -> RoutesSettings:
    destinations: tuple[Destination, ...] = got.values["destinations"]
    names = {d.name for d in destinations}
    route_t = r.table(raw, "routes", ROUTES_KEYS)
    default = r.get(route_t, "routes", "default", _strings, None, "a list of destination names")
    if default is None:
        default = tuple(d.name for d in destinations)
    per_rule: dict[str, tuple[str, ...]] = {}
    rules_t = route_t.get("rules", {})
    if not isinstance(rules_t, dict):
        r.error("routes.rules", 'expected a table like { "rule name" = ["destination"] }')
        rules_t = {}
    for rule_name in rules_t:
        found = r.get(
            rules_t, "routes.rules", rule_name, _strings, None, "a list of destination names"
        )
        if found is not None:
            per_rule[rule_name] = found
    for where, targets in [("routes.default", default)] + [
        (f'routes.rules."{k}"', v) for k, v in per_rule.items()
    ]:
        for target in targets:
            if target not in names:
                r.error(where, f'no destination named "{target}"{_known(target, names)}')
    noisy = r.get(
        route_t, "routes", "noisy_per_hour", _non_negative_int, 20, "a whole number (0: off)"
    )
    return RoutesSettings(default=tuple(default), rules=per_rule, noisy_per_hour=noisy)


def _log(r: _Reader, raw: Any, got: _Parsed) -> LogSettings:
    t = r.table(raw, "log", LOG_KEYS)
    return LogSettings(
        r.get(t, "log", "level", _level, "info", "one of debug, info, warning, error"),
        r.get(t, "log", "format", _choice(("text", "json")), "text", "text or json"),
    )


def _metrics(r: _Reader, raw: Any, got: _Parsed) -> MetricsSettings:
    t = r.table(raw, "metrics", METRICS_KEYS)
    return MetricsSettings(
        r.get(t, "metrics", "listen", _host_port, None, 'a "host:port" like "127.0.0.1:9464"')
    )


# The core's sections, in the order they are read (and their problems listed); each
# source kind's section comes before "sources" (which reads them), each platform's
# section at the end, in registry order.
SECTIONS: tuple[_Section, ...] = (
    _Section("storage", STORAGE_KEYS, _storage, {}),
    _Section("polling", POLLING_KEYS, _polling, {}),
    _Section("dedup", DEDUP_KEYS, _dedup, {}),
    _Section("sources", SOURCE_KEYS, _sources, []),
    _Section("rules", RULES_KEYS, _rules, {}),
    _Section("destinations", (), _destinations, []),  # keys: destination_keys()
    _Section("routes", ROUTES_KEYS, _routes, {}),
    _Section("log", LOG_KEYS, _log, {}),
    _Section("metrics", METRICS_KEYS, _metrics, {}),
    _Section("evidence", EVIDENCE_KEYS, _evidence, {}),
)


def _platform_sections() -> list[_Section]:
    return [
        _Section(p.section.name, p.section.keys, partial(_own, p.section.parse), {})
        for p in platforms.PLATFORMS
        if p.section is not None
    ]


def _kind_sections() -> list[_Section]:
    return [
        _Section(w.section.name, w.section.keys, partial(_own, w.section.parse), {})
        for w in watchers.WATCHERS
        if w.section is not None
    ]


def _sections() -> list[_Section]:
    """Every section in reading order: the kinds' before "sources", which reads them."""
    at = next(i for i, s in enumerate(SECTIONS) if s.name == "sources")
    return [*SECTIONS[:at], *_kind_sections(), *SECTIONS[at:], *_platform_sections()]


def _own(parse: Callable[[_Reader, Any], Any], r: _Reader, raw: Any, got: _Parsed) -> Any:
    return parse(r, raw)


def config_keys() -> dict[str, tuple[str, ...]]:
    """Every key of every section: the README's config reference must document each."""
    keys = {s.name: s.keys for s in _sections()}
    keys["destinations"] = destination_keys()
    return keys


CONFIG_KEYS: dict[str, tuple[str, ...]] = config_keys()  # of the platforms and kinds built in
TOP_KEYS = tuple(CONFIG_KEYS)


def parse_config(data: dict[str, Any], config_path: Path) -> Settings:
    got = _Parsed(config_path.resolve().parent)
    r = _Reader()
    sections = _sections()
    r.table(data, "", tuple(s.name for s in sections))
    for section in sections:
        got.values[section.name] = section.parse(r, data.get(section.name, section.default), got)
    if r.problems:
        raise ConfigError(config_path, r.problems)
    v = got.values
    return Settings(
        config_path=config_path,
        base_dir=got.base_dir,
        storage=v["storage"],
        polling=v["polling"],
        sources=v["sources"],
        rules=v["rules"],
        destinations=v["destinations"],
        routes=v["routes"],
        log=v["log"],
        metrics=v["metrics"],
        dedup=v["dedup"],
        evidence=v["evidence"],
        platforms={s.name: v[s.name] for s in _platform_sections()},
        kinds={w.kind: v[w.section.name] for w in watchers.WATCHERS if w.section is not None},
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


def _known(name: str, names: set[str]) -> str:
    if not names:
        return " (no destinations are defined)"
    near = difflib.get_close_matches(name, sorted(names), n=1)
    return f' (did you mean "{near[0]}"?)' if near else f" (known: {', '.join(sorted(names))})"
