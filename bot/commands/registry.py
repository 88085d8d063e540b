"""The command table and ``dispatch``: one Invocation in, one plain-text Reply out.

For every invocation, in order: find the command (unknown -> the close names and
/help; plain text without a "/" that names no command -> "not a command"); refuse
arguments over ``MAX_ARGS`` characters; ask ``permissions.refusal``;
ask the flood limiter (``limits.CommandLimiter``: told once, then silence); run the
handler.  A handler raising ``UsageError`` gets its usage line back; any
other exception is logged and answered with a short apology, never raised into the
adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import platforms
from bot.commands import alerts, chatsettings, mutes, rules, search, sources, status
from bot.commands.common import MAX_ARGS, UsageError, close_names
from bot.commands.permissions import Access, refusal
from bot.commands.types import Invocation, Reply
from bot.runtime import Runtime
from bot.store import retry_locked_async

log = logging.getLogger("dozor.commands")

Handler = Callable[[Runtime, Invocation], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str  # as typed after "/": lowercase letters only (Telegram's rule)
    usage: str  # "/mute <source|rule> [for 6h|2d|until 18:00]"
    summary: str  # one line for /help and the platform's command menu
    handler: Handler
    access: Access
    action: str = ""  # for refusals: "only admins may <action>"


async def help_command(ctx: Runtime, inv: Invocation) -> Reply:
    if inv.args.strip().casefold() == "platforms":
        return Reply(platforms_help(ctx, inv.platform), ephemeral=True)
    if inv.args:
        command = BY_NAME.get(inv.args.lstrip("/").casefold())
        if command is None:
            return Reply(_unknown(inv.args.lstrip("/")), ephemeral=True)
        return Reply(f"{command.usage}\n{command.summary}", ephemeral=True)
    lines = ["Dozor commands (<…> is required, […] optional):"]
    for c in COMMANDS:
        lines.append(f"{c.usage}\n    {c.summary}")
    lines.append(
        "Who may: in a chat Dozor serves, members may read and (unless the config says "
        "otherwise) /watch, /unwatch, /mute, /unmute and set /languages for that chat; "
        "admins may do anything, /addsource and /removesource included. Each chat sees "
        "only its own alerts, rules and mutes."
    )
    lines.append("/help platforms says what each platform Dozor posts to cannot do.")
    platform = platforms.find(inv.platform)
    cannot = platform.cannot() if platform is not None else None
    if cannot:  # what this platform cannot do, as it says itself
        lines.append(f"Here: {cannot}.")
    return Reply("\n".join(lines), ephemeral=True)


def platforms_help(ctx: Runtime, here: str) -> str:
    """What each configured platform cannot do (``Platform.cannot``), with the
    destinations on it: every platform a destination posts to, and the caller's own."""
    destinations = ctx.destinations()
    lines = ["What each platform Dozor posts to cannot do:"]
    for platform in platforms.PLATFORMS:
        names = [d.name for d in destinations if d.platform == platform.name]
        if not names and platform.name != here:
            continue
        cannot = platform.cannot() or f"{platform.title} can do everything Dozor offers"
        where = f"destinations: {', '.join(names)}" if names else "no destinations"
        mark = "; you are here" if platform.name == here else ""
        lines.append(f"{cannot} ({where}{mark}).")
    return "\n".join(lines)


COMMANDS: tuple[Command, ...] = (
    Command(
        "help",
        "/help [command|platforms]",
        "every command with its usage; platforms: what each platform cannot do",
        help_command,
        Access.ANYONE,
    ),
    Command(
        "watch",
        "/watch <terms>",
        'alert this chat on new items with all the terms ("a phrase", -exclude, a OR b, '
        "prefix*); shows what it would have matched in the last 7 days",
        rules.watch,
        Access.WATCH,
        "add rules",
    ),
    Command(
        "unwatch",
        "/unwatch <rule>",
        "remove a rule made with /watch",
        rules.unwatch,
        Access.WATCH,
        "remove rules",
    ),
    Command(
        "rules",
        "/rules",
        "the rules that alert this chat (from files and from chat), with their terms and mutes",
        rules.list_rules,
        Access.READ,
    ),
    Command(
        "test",
        "/test <terms>",
        "show stored items of the last 7 days that the terms "
        "match, with the matched words; creates nothing; with --forms also every form "
        "each term matches",
        rules.test,
        Access.READ,
    ),
    Command(
        "languages",
        "/languages [ru] [uk]",
        "what the rules this chat adds inflect Cyrillic words in: Russian, Ukrainian or both "
        "(the default); rules already made keep theirs",
        chatsettings.languages,
        Access.READ,  # setting it needs what /watch needs (chatsettings)
    ),
    Command(
        "search",
        "/search <query> [since 30d] [in <source>] [page 2]",
        "every stored item the query matches (the rule language, as in rule files), "
        "newest first, with the matched words; this chat's sources only",
        search.search,
        Access.READ,
    ),
    Command(
        "sources",
        "/sources",
        "every source: ok, failing since when and why, or disabled; last item; alerts in 24h",
        sources.list_sources,
        Access.READ,
    ),
    Command(
        "addsource",
        "/addsource <what>",
        "watch a feed URL, a public Telegram channel (@name, t.me link), a Mastodon or "
        "Bluesky account, r/subreddit, a YouTube channel, news:<query> or a VK wall",
        sources.add_source,
        Access.ADMIN,
        "add sources",
    ),
    Command(
        "removesource",
        "/removesource <source>",
        "stop polling a source added with /addsource",
        sources.remove_source,
        Access.ADMIN,
        "remove sources",
    ),
    Command(
        "mute",
        "/mute <source|rule> [for 6h|2d|until 18:00]",
        "no alerts from it in "
        "this chat for a while (default 6h; times UTC); as a reply to an alert, mutes "
        "its source",
        mutes.mute,
        Access.WATCH,
        "mute",
    ),
    Command(
        "unmute",
        "/unmute <source|rule>",
        "end a mute in this chat",
        mutes.unmute,
        Access.WATCH,
        "unmute",
    ),
    Command(
        "mutes",
        "/mutes",
        "what is muted in this chat, and until when",
        mutes.list_mutes,
        Access.READ,
    ),
    Command(
        "status",
        "/status",
        "sources ok and failing, outbox, destinations down (and why) or broken, last poll, "
        "uptime, version",
        status.status,
        Access.READ,
    ),
    Command(
        "import",
        "/import (as the caption of an OPML file)",
        "add the feeds of an OPML file (from any feed reader) as sources, keeping names "
        "and folders as tags",
        sources.import_sources,
        Access.ADMIN,
        "add sources",
    ),
    Command(
        "export",
        "/export",
        "every feed source as an OPML file, to move them to another reader",
        sources.export_sources,
        Access.ADMIN,
        "export sources",
    ),
    Command(
        "show",
        "/show <alert number>",
        "an alert's full text as stored, even after the post was deleted (or reply /show)",
        alerts.show,
        Access.READ,
    ),
    Command(
        "story",
        "/story <alert number>",
        "every source and time that told the same story as an alert",
        alerts.story,
        Access.READ,
    ),
    Command(
        "stats",
        "/stats [7|30]",
        "a chart of alerts per day over the last 7 or 30 days, by rule and by source",
        status.stats,
        Access.READ,
    ),
)
BY_NAME = {c.name: c for c in COMMANDS}


def _unknown(name: str) -> str:
    close = close_names(name, BY_NAME)
    hint = f" Did you mean {' or '.join('/' + c for c in close)}?" if close else ""
    return f"unknown command /{name}.{hint} /help lists every command."


async def dispatch(ctx: Runtime, inv: Invocation) -> Reply:
    """Run one command for one user in one chat; always returns a Reply."""
    name = inv.command.lstrip("/").casefold()
    command = BY_NAME.get(name)
    if command is None and not inv.slash:  # "thanks!" is not an unknown command
        text = 'that is not a command: commands start with "/"; /help lists them'
        return Reply(text, ephemeral=True)
    if command is None:
        return Reply(_unknown(inv.command.lstrip("/")[:40]), ephemeral=True)
    if len(inv.args) > MAX_ARGS:
        return Reply(
            f"/{name}: the arguments are {len(inv.args)} characters long; at most "
            f"{MAX_ARGS} are accepted",
            ephemeral=True,
        )
    why = refusal(
        ctx,
        inv.platform,
        inv.chat_id,
        inv.user_id,
        command.access,
        command.action,
        private=inv.chat_type in ("private", "im"),
    )
    if why:
        return Reply(why, ephemeral=True)
    if inv.platform != "console":  # the console is the operator at a terminal
        limited = ctx.limiter.check(f"{inv.platform}:{inv.user_id}", name, ctx.clock())
        if limited is not None:
            return Reply(limited, ephemeral=True)  # "" once told: adapters send nothing
    try:
        return await _run_waiting_out_locks(ctx, command, inv)
    except UsageError as e:
        reason = f"\n{e}" if str(e) else ""
        return Reply(f"usage: {command.usage}{reason}", ephemeral=True)
    except Exception:
        log.exception("/%s %r in %s failed", name, inv.args[:80], inv.chat)
        return Reply(f"/{name} failed: that is a bug in Dozor, and it is logged", ephemeral=True)


async def _run_waiting_out_locks(ctx: Runtime, command: Command, inv: Invocation) -> Reply:
    """Run the command, waiting out another program's write lock (bot/store/connection.py)."""
    return await retry_locked_async(
        ctx.store,
        lambda: command.handler(ctx, inv),
        lambda: Reply(
            f"/{command.name}: Dozor's database is locked by another program, so this was "
            "not done (or only in part); try again in a minute",
            ephemeral=True,
        ),
    )
