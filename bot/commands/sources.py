"""/sources, /addsource, /removesource: what Dozor polls, and feeds added from chat.

A chat-added source is a feed at an http(s) URL or a name that ``watchers.expand``
turns into a source of a registered kind (a public Telegram channel
``@name``/``t.me/name``, a Mastodon or Bluesky account, a subreddit, a YouTube channel,
``news:<query>``, a VK wall), tagged ``chat``, polled at ``[polling] interval``; its
first poll is a baseline like any source's.  Sources in config.toml are listed too but
changed only there.  Private addresses are refused unless ``[polling] allow_private``
names them (for kinds whose address is what the user typed: ``Watcher.open_address``).
Sources are the team's, shared by every chat; the alerts /sources counts are this
chat's (every chat's in an admin's private chat).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import watchers
from bot.commands.common import (
    UsageError,
    ago,
    find_name,
    moment,
    no_such,
    plural,
    shorten,
    unique_name,
)
from bot.commands.permissions import chat_destinations, sees_every_chat
from bot.commands.types import Invocation, Reply
from bot.config import format_duration
from bot.model import Source
from bot.runtime import Runtime
from bot.store import SourceHealth
from watchers.expand import expand_source
from watchers.http import AddressGuard, canonical_host, ip_literal
from watchers.opml import OpmlError, OpmlFeed, read_opml, write_opml

CHAT_TAGS = ("chat",)


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


async def list_sources(ctx: Runtime, inv: Invocation) -> Reply:
    now = ctx.clock()
    health = {h.name: h for h in ctx.store.source_health()}
    here = None if sees_every_chat(ctx, inv) else chat_destinations(ctx, inv.chat)
    alerts = ctx.store.alerts_since(now - timedelta(hours=24), here)
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


def feed_problem(url: str, allow: Sequence[str] = ()) -> str | None:
    """Why ``url`` cannot be added from chat, or None.  ``allow``: ``[polling]
    allow_private``, the addresses, networks and host names chat may add anyway.  Host
    names are not resolved here: every connection to a chat-added source resolves and
    checks the address it reaches (and every redirect's), so a name that points
    somewhere private is refused when polled, as a source error in /sources."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "give the feed's full URL, starting with https:// (or http://)"
    if parts.username or parts.password:
        return "URLs with a user name or password cannot be added from chat"
    guard = AddressGuard(allow)
    written = parts.hostname
    host = canonical_host(written)  # as the resolver reads it: "１２７.０.０.１" is 127.0.0.1
    if guard.allows_host(host):
        return None
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return (
            "addresses on local networks cannot be added from chat; use config.toml, "
            "or allow it in [polling] allow_private"
        )
    address = ip_literal(host)  # also "2130706433", "0x7f000001", "127.1", "0177.0.0.1"
    if address is None:
        return None
    problem = guard.problem(str(address))
    if problem:
        shown = written if written == str(address) else f"{written}, that is {address},"
        return (
            f"addresses on private networks cannot be added from chat ({shown} is "
            f"{problem}); use config.toml, or allow it in [polling] allow_private"
        )
    return None


async def add_source(ctx: Runtime, inv: Invocation) -> Reply:
    """/addsource <what>: a feed URL, a public Telegram channel (@name, t.me/name,
    t.me/s/name), a Mastodon or Bluesky account, a subreddit, a YouTube channel,
    news:<query>, or a VK wall; see ``watchers.expand``."""
    text = inv.args.strip().strip("<>")
    if not text or (len(text.split()) != 1 and not text.lower().startswith("news:")):
        raise UsageError()
    try:
        found = expand_source(text, **ctx.settings.expand_options())
    except ValueError as exc:
        return Reply(f"cannot add {shorten(text, 80)}: {exc}")
    watcher = watchers.find(found.kind)
    assert watcher is not None  # expand_source names registered kinds only
    if watcher.open_address:
        problem = feed_problem(found.url, ctx.settings.polling.allow_private)
        if problem:
            return Reply(f"cannot add {shorten(found.url, 80)}: {problem}")
    lacks = watcher.needs(os.environ)
    note = f" ({lacks}: until then it fails)" if lacks else ""
    sources = ctx.sources()
    same = next((s for s in sources if s.url.rstrip("/") == found.url.rstrip("/")), None)
    if same is not None:
        return Reply(f"that is already a source: {same.name}")
    name = unique_name(found.name, (s.name for s in sources))
    interval = ctx.settings.polling.interval
    tags = tuple(dict.fromkeys((*CHAT_TAGS, *found.tags)))
    source = Source(name, found.kind, found.url, interval, tags, trusted=False)
    if not ctx.add_source(source, inv.user_name):
        return Reply(f"the name {name} was just taken; please try again")
    what = f" It is {watcher.about}." if watcher.about else ""
    return Reply(
        f"added source {name} ({found.url}), polled every {format_duration(interval)}."
        f"{what}{note} Its first poll records what is there (no alerts for old posts); "
        f"new posts then alert. /sources shows its health; /removesource {name} removes it."
    )


IMPORT_LIMIT = 1_000_000  # bytes of OPML taken from chat
IMPORT_MAX_FEEDS = 500  # sources one /import adds


async def import_sources(ctx: Runtime, inv: Invocation) -> Reply:
    """/import: the feeds of an OPML file sent with the command (as its caption) or
    answered by it, added as chat sources with their names and folders as tags; feeds
    already watched (by URL) are skipped, and the same checks as /addsource apply."""
    data = inv.attachment
    if data is None and inv.platform != "telegram":
        return Reply(
            "here a command cannot carry a file: send the OPML file to the bot in Telegram "
            "with /import as its caption, or run `dozor sources import FILE.opml` on the "
            "server (it adds the feeds to config.toml)"
        )
    if data is None:
        return Reply(
            "send an OPML file with /import as its caption, or answer a message that has "
            "one with /import (most feed readers export their list as OPML)"
        )
    if len(data) > IMPORT_LIMIT:
        return Reply(f"that file is over {IMPORT_LIMIT // 1_000_000} MB: not an OPML list")
    try:
        feeds = read_opml(data)
    except OpmlError as exc:
        return Reply(f"cannot import that file: {exc}")
    if not feeds:
        return Reply("that OPML file lists no feeds (outlines with an xmlUrl)")
    sources = ctx.sources()
    known = {s.url.rstrip("/") for s in sources}
    taken = {s.name for s in sources}
    interval = ctx.settings.polling.interval
    added: list[str] = []
    skipped = 0
    refused: list[str] = []
    for feed in feeds[:IMPORT_MAX_FEEDS]:
        if feed.url.rstrip("/") in known:
            skipped += 1
            continue
        problem = feed_problem(feed.url, ctx.settings.polling.allow_private)
        if problem:
            refused.append(f"{shorten(feed.url, 60)}: {problem}")
            continue
        name = unique_name(feed.name, taken)
        tags = tuple(dict.fromkeys((*CHAT_TAGS, *feed.tags)))
        if ctx.add_source(
            Source(name, watchers.FEED, feed.url, interval, tags, trusted=False), inv.user_name
        ):
            added.append(name)
            taken.add(name)
            known.add(feed.url.rstrip("/"))
    lines = [
        f"imported {plural(len(added), 'source')} from {plural(len(feeds), 'feed')} in the file"
        + (f": {', '.join(added[:10])}" + (", …" if len(added) > 10 else "") if added else "")
    ]
    if skipped:
        lines.append(f"{plural(skipped, 'feed')} already watched: skipped")
    if len(feeds) > IMPORT_MAX_FEEDS:
        lines.append(f"only the first {IMPORT_MAX_FEEDS} feeds were read; send the rest apart")
    if refused:
        lines.append(f"refused {len(refused)}:")
        lines.extend(f"  {why}" for why in refused[:5])
    if added:
        lines.append(
            "their first polls record what is there (no alerts for old posts); /sources "
            "shows their health"
        )
    return Reply("\n".join(lines))


async def export_sources(ctx: Runtime, inv: Invocation) -> Reply:
    """/export: every feed source (config and chat-added) as an OPML file."""
    feeds = [s for s in ctx.sources() if s.kind == watchers.FEED]
    others = len(ctx.sources()) - len(feeds)
    opml = write_opml(OpmlFeed(s.name, s.name, s.url, s.tags) for s in feeds)
    note = f" ({others} channel and wall sources are not feeds: not in OPML)" if others else ""
    return Reply(
        f"{len(feeds)} feed sources as OPML{note}.",
        file=opml.encode("utf-8"),
        file_name="dozor-sources.opml",
    )


async def remove_source(ctx: Runtime, inv: Invocation) -> Reply:
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
