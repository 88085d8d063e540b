"""/sources, /addsource, /removesource: what Dozor polls, and feeds added from chat.

A chat-added source is an RSS/Atom/JSON feed at an http(s) URL, tagged ``chat``,
polled at ``[polling] interval``; its first poll is a baseline like any source's.
Sources in config.toml are listed too but changed only there.  Public Telegram
channels (``@name``, ``t.me/name``) come with the channel watcher, not yet.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.commands.common import UsageError, ago, find_name, moment, no_such, plural, shorten
from bot.commands.context import BotContext
from bot.commands.types import Invocation, Reply
from bot.config import format_duration
from bot.model import Source
from bot.store import SourceHealth

NAME_CHARS = 48
CHAT_TAGS = ("chat",)
_TELEGRAM_HOSTS = ("t.me", "www.t.me", "telegram.me", "www.telegram.me")
_CHANNEL = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
NOT_YET = (
    "public Telegram channels are not supported in this version yet: they come with the "
    "channel watcher. Until then, add a feed of the channel (an RSS bridge's URL) with "
    "/addsource <feed URL>."
)


def condition(h: SourceHealth | None, source: Source) -> str:
    """One of "off", "new" (not polled yet), "disabled", "failing", "ok"."""
    if not source.enabled:
        return "off"
    if h is None or h.last_poll_at is None:
        return "new"
    if h.disabled_reason:
        return "disabled"
    return "failing" if h.failing_since else "ok"


def health_text(h: SourceHealth | None, source: Source, now: datetime) -> str:
    match condition(h, source):
        case "off":
            return "off (enabled = false in config.toml)"
        case "new":
            return "not polled yet"
        case "disabled":
            assert h is not None
            return f"DISABLED: {h.disabled_reason}"
        case "failing":
            assert h is not None and h.failing_since is not None
            return (
                f"FAILING since {ago(now, h.failing_since)} "
                f"({plural(h.error_count, 'failed poll')} in a row): {h.last_error}"
            )
    return "ok"


async def list_sources(ctx: BotContext, inv: Invocation) -> Reply:
    now = ctx.clock()
    health = {h.name: h for h in ctx.store.source_health()}
    alerts = ctx.store.alerts_since(now - timedelta(hours=24))
    muted = {m.target: m for m in ctx.store.active_mutes(now, inv.chat) if m.kind == "source"}
    configured = {s.name for s in ctx.settings.sources}
    sources = ctx.sources()
    lines = [f"Sources ({len(sources)}):"]
    for s in sources:
        h = health.get(s.name)
        origin = "config" if s.name in configured else "added in chat"
        parts = [health_text(h, s, now)]
        if h is not None and h.last_item_at:
            parts.append(f"last item {ago(now, h.last_item_at)}")
        parts.append(f"{plural(alerts.get(s.name, 0), 'alert')} in 24h")
        if s.name in muted:
            parts.append(f"muted here until {moment(muted[s.name].until, now)}")
        lines.append(f"- {s.name} ({origin}): " + "; ".join(parts))
    if not sources:
        lines.append("- none: add feeds to config.toml, or /addsource <feed URL>")
    return Reply("\n".join(lines))


def telegram_channel(text: str) -> str | None:
    """The channel name of ``@name``, ``t.me/name``, ``https://t.me/s/name``; else None."""
    if _CHANNEL.match(text):
        return text[1:]
    bare = re.sub(r"^https?://", "", text, flags=re.I)
    host, _, path = bare.partition("/")
    if host.lower() not in _TELEGRAM_HOSTS:
        return None
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "s":
        parts = parts[1:]
    return parts[0] if parts else ""


def feed_problem(url: str) -> str | None:
    """Why ``url`` cannot be added from chat, or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "give the feed's full URL, starting with https:// (or http://)"
    if parts.username or parts.password:
        return "URLs with a user name or password cannot be added from chat"
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "addresses on local networks cannot be added from chat; use config.toml"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return "addresses on private networks cannot be added from chat; use config.toml"
    return None


def source_name(url: str, taken: list[str]) -> str:
    """Host + path of the URL, as a source name: ``meduza.io/rss/all`` -> meduza.io-rss-all."""
    parts = urlsplit(url)
    host = (parts.hostname or "feed").removeprefix("www.")
    raw = "-".join([host, *(p for p in parts.path.split("/") if p)])
    name = re.sub(r"[^A-Za-z0-9_.]+", "-", raw).strip("-.")[:NAME_CHARS].rstrip("-.") or "feed"
    used = {t.casefold() for t in taken}
    base, n = name, 2
    while name.casefold() in used:
        name, n = f"{base}-{n}", n + 1
    return name


async def add_source(ctx: BotContext, inv: Invocation) -> Reply:
    words = inv.args.split()
    if len(words) != 1:
        raise UsageError()
    url = words[0].strip("<>")
    if telegram_channel(url) is not None:
        return Reply(NOT_YET)
    problem = feed_problem(url)
    if problem:
        return Reply(f"cannot add {shorten(url, 80)}: {problem}")
    sources = ctx.sources()
    same = next((s for s in sources if s.url == url), None)
    if same is not None:
        return Reply(f"that feed is already a source: {same.name}")
    name = source_name(url, [s.name for s in sources])
    interval = ctx.settings.polling.interval
    if not ctx.add_source(Source(name, "rss", url, interval, CHAT_TAGS), inv.user_name):
        return Reply(f"the name {name} was just taken; please try again")
    return Reply(
        f"added source {name} ({url}), polled every {format_duration(interval)}. Its first poll "
        "records what is there (no alerts for old items); new items then alert. "
        f"/sources shows its health; /removesource {name} removes it."
    )


async def remove_source(ctx: BotContext, inv: Invocation) -> Reply:
    if not inv.args or len(inv.args.split()) != 1:
        raise UsageError()
    sources = ctx.sources()
    name = find_name(inv.args, [s.name for s in sources])
    if name is None:
        return Reply(no_such("source", inv.args, [s.name for s in sources]))
    if any(s.name == name for s in ctx.settings.sources):
        return Reply(
            f"source {name} comes from config.toml: edit that file to remove it "
            f"(or /mute {name} here)"
        )
    ctx.remove_source(name)
    return Reply(f"removed source {name}; it is no longer polled")
