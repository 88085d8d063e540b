"""/mute, /unmute, /mutes: pause a source or a rule in one chat for a while.

A mute belongs to the chat it was made in (``Invocation.chat``) and ends by itself:
the store compares ``until`` with the clock, nothing sleeps.  The pipeline records a
muted alert as suppressed (never sent, not even later).  ``/mute`` as a reply to an
alert mutes that alert's source.  A chat names only its own rules (and any source):
another chat's rule is answered as one that does not exist.  Durations: ``for 6h``,
``2d``, ``1h30m`` (default 6h, at most 30d); ``until 18:00`` is UTC, the next time the
clock shows it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.commands.common import UsageError, find_name, moment, no_such, span
from bot.commands.permissions import chat_destinations, rules_for
from bot.commands.types import Invocation, Reply
from bot.config import parse_duration
from bot.model import Mute
from bot.runtime import Runtime
from bot.schedules import DurationTooLong

DEFAULT_MUTE = timedelta(hours=6)
LONGEST_MUTE = timedelta(days=30)
KINDS = ("source", "rule")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_until(words: list[str], now: datetime) -> tuple[list[str], datetime]:
    """Split "<target> [for 6h | 6h | until 18:00]" into the target's words and the end."""
    if len(words) >= 2 and words[-2].lower() == "until":
        m = _HHMM.match(words[-1])
        if not m:
            raise UsageError(f'"until {words[-1]}": give a UTC time like 18:00')
        at = now.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        return words[:-2], at if at > now else at + timedelta(days=1)
    if len(words) >= 2 and words[-2].lower() == "for":
        return words[:-2], now + _duration(words[-1])
    if words and _is_duration(words[-1]):
        return words[:-1], now + _duration(words[-1])
    return words, now + DEFAULT_MUTE


def _is_duration(word: str) -> bool:
    try:
        parse_duration(word)
    except DurationTooLong:
        return True
    except ValueError:
        return False
    return any(c.isdigit() for c in word)


def _duration(word: str) -> timedelta:
    try:
        value = parse_duration(word)
    except DurationTooLong:
        value = timedelta.max  # longer than any mute: refused below
    except ValueError:
        raise UsageError(f'"{word}": give a duration like 6h, 2d or 1h30m') from None
    if value <= timedelta(0):
        raise UsageError("a mute must last a while")
    if value > LONGEST_MUTE:
        raise UsageError("a mute lasts at most 30d; for good, /unwatch the rule")
    return value


def resolve(ctx: Runtime, inv: Invocation, words: list[str]) -> tuple[str, str] | str:
    """(kind, name) of the source or rule the words name, or why there is none; rules
    of other chats are not named (``permissions.rules_for``)."""
    kind = None
    if len(words) > 1 and words[0].lower() in KINDS:
        kind, words = words[0].lower(), words[1:]
    text = " ".join(words)
    sources = [s.name for s in ctx.sources()]
    rules = [r.name for r in rules_for(ctx, inv)]
    found = {
        k: find_name(text, names)
        for k, names in (("source", sources), ("rule", rules))
        if kind in (None, k)
    }
    hits = [(k, n) for k, n in found.items() if n is not None]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        return f"{text} is a source and a rule: say /mute source {text} or /mute rule {text}"
    if kind == "source":
        return no_such("source", text, sources)
    if kind == "rule":
        return no_such("rule", text, rules)
    return no_such("source or rule", text, [*sources, *rules])


def replied_alert_source(ctx: Runtime, inv: Invocation) -> str | None:
    """The source of the alert ``inv`` replies to, if it is one of this chat's alerts."""
    if not inv.reply_to_message_id:
        return None
    stored = ctx.store.alert_by_remote_id(chat_destinations(ctx, inv.chat), inv.reply_to_message_id)
    return stored.alert.item.source if stored else None


def add_mute(ctx: Runtime, chat: str, kind: str, target: str, until: datetime, by: str) -> Mute:
    return ctx.store.add_mute(chat, kind, target, until, by, ctx.clock())


async def mute(ctx: Runtime, inv: Invocation) -> Reply:
    now = ctx.clock()
    words, until = parse_until(inv.args.split(), now)
    if words:
        target = resolve(ctx, inv, words)
        if isinstance(target, str):
            return Reply(target)
        kind, name = target
    else:
        source = replied_alert_source(ctx, inv)
        if source is None:
            if inv.reply_to_message_id:
                raise UsageError("that message is not one of this chat's alerts; name a source")
            raise UsageError()
        kind, name = "source", source
    made = add_mute(ctx, inv.chat, kind, name, until, inv.user_name)
    return Reply(
        f"🔇 muted {kind} {name} in this chat until {moment(made.until, now)} "
        f"(for {span(made.until - now)}); /unmute {name} ends it sooner"
    )


async def unmute(ctx: Runtime, inv: Invocation) -> Reply:
    now = ctx.clock()
    active = ctx.store.active_mutes(now, inv.chat)
    if inv.args:
        words = inv.args.split()
        if len(words) > 1 and words[0].lower() in KINDS:
            words = words[1:]
        text = " ".join(words)
    else:
        source = replied_alert_source(ctx, inv)
        if source is None:
            raise UsageError()
        text = source
    target = find_name(text, [m.target for m in active])
    if target is None:
        names = [*(m.target for m in active), *(s.name for s in ctx.sources())]
        names += [r.name for r in rules_for(ctx, inv)]
        known = find_name(text, names)
        if known is not None:
            return Reply(f"{known} is not muted in this chat")
        return Reply(no_such("source or rule", text, names))
    ctx.store.unmute(inv.chat, target, now)
    return Reply(f"🔊 {target} is no longer muted in this chat")


async def list_mutes(ctx: Runtime, inv: Invocation) -> Reply:
    now = ctx.clock()
    active = ctx.store.active_mutes(now, inv.chat)
    if not active:
        return Reply("nothing is muted in this chat")
    lines = [f"Muted in this chat ({len(active)}):"]
    for m in active:
        lines.append(
            f"- {m.kind} {m.target} until {moment(m.until, now)} "
            f"({span(m.until - now)} left), by {m.by}"
        )
    return Reply("\n".join(lines))
