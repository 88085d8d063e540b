"""The buttons under an alert: mute its source or one of its rules in that chat for
6h, and Undo.  Adapters attach ``alert_buttons`` to each alert they send and hand
every press to ``press``; the alert is found again from the outbox id in the data.  A
press acts only on an alert, mute or notice of the chat it was pressed in: any other id
is "this button no longer works", whoever presses.

Callback data (at most 64 bytes, Telegram's limit):
``ms:<alert id>`` mute the source; ``mr:<alert id>:<i>`` mute the alert's i-th rule;
``un:<mute id>:<alert id>`` undo that mute; ``nm:<notice id>:<hours>`` mute the source
a "noisy source" notice names.  Data is read as forged unless every field after the
kind is a number the store can hold; such a press is answered ``FORGED``.
"""

from __future__ import annotations

from datetime import timedelta

from bot.commands.common import moment, parse_number
from bot.commands.permissions import Access, refusal
from bot.commands.types import Button, Press, PressOutcome
from bot.model import Alert
from bot.runtime import Runtime
from bot.store import retry_locked_async

BUTTON_MUTE = timedelta(hours=6)
MAX_RULE_BUTTONS = 3
STALE = PressOutcome(notice="this button no longer works")
FORGED = PressOutcome(notice="this is not a button Dozor made (its data is not valid)")
BUSY = PressOutcome(notice="Dozor's database is locked by another program; press it again soon")


def alert_buttons(alert_id: int, alert: Alert) -> tuple[Button, ...]:
    """ "Mute source 6h", and "Mute rule 6h" (one per rule, named, if several)."""
    hours = f"{int(BUTTON_MUTE.total_seconds() // 3600)}h"
    buttons = [Button(f"Mute source {hours}", f"ms:{alert_id}")]
    rules = alert.matches[:MAX_RULE_BUTTONS]
    for i, match in enumerate(rules):
        label = f"Mute rule {hours}" if len(rules) == 1 else f"Mute rule {match.rule} {hours}"
        buttons.append(Button(label, f"mr:{alert_id}:{i}"))
    return tuple(buttons)


def notice_buttons(notice_id: int, kind: str, subject: str) -> tuple[Button, ...]:
    """Buttons under a notice: for a noisy source, mute it for 6 or 24 hours."""
    if kind != "noisy":
        return ()
    return tuple(Button(f"Mute {subject[:40]} {h}h", f"nm:{notice_id}:{h}") for h in (6, 24))


# A button's data starts with its kind: mute source, mute rule, undo, mute a noisy source
BUTTON_KINDS = ("ms", "mr", "un", "nm")


async def press(ctx: Runtime, press: Press) -> PressOutcome:
    """Apply the button's mute (or undo it) in the chat where it was pressed, waiting
    out another program's write lock on the database (bot/store/connection.py)."""

    async def run() -> PressOutcome:
        return _press(ctx, press)

    return await retry_locked_async(ctx.store, run, lambda: BUSY)


def _press(ctx: Runtime, press: Press) -> PressOutcome:
    kind, _, rest = press.data.partition(":")
    parsed = [parse_number(f) for f in rest.split(":")]  # forged data: any text at all
    fields = [n for n in parsed if n is not None]
    if kind not in BUTTON_KINDS or len(fields) != len(parsed) or len(fields) > 2:
        return FORGED
    why = refusal(ctx, press.platform, press.chat_id, press.user_id, Access.WATCH, "mute")
    if why:
        return PressOutcome(notice=why)
    if kind == "nm":
        return _mute_noisy(ctx, press, fields)
    if kind == "un":
        if len(fields) != 2:
            return STALE
        return _undo(ctx, press, fields[0], fields[1])
    alert_id = fields[0]
    stored = ctx.store.alert(alert_id)
    if stored is None or not _in_chat(ctx, stored.alert.destination, press.chat):
        return STALE
    alert = stored.alert
    if kind == "ms":
        target_kind, target = "source", alert.item.source
    else:
        index = fields[1] if len(fields) == 2 else -1
        if not 0 <= index < len(alert.matches):
            return STALE
        target_kind, target = "rule", alert.matches[index].rule
    now = ctx.clock()
    made = ctx.store.add_mute(
        press.chat, target_kind, target, now + BUTTON_MUTE, press.user_name, now
    )
    until = moment(made.until, now)
    return PressOutcome(
        notice=f"muted {target_kind} {target} in this chat until {until}",
        note=f"🔇 {press.user_name} muted {target_kind} {target} until {until}",
        buttons=(Button("Undo", f"un:{made.id}:{alert_id}"),),
    )


def _mute_noisy(ctx: Runtime, press: Press, fields: list[int]) -> PressOutcome:
    notice = ctx.store.notice(fields[0]) if len(fields) == 2 else None
    hours = fields[1] if len(fields) == 2 else 0
    if (
        notice is None
        or hours not in (6, 24)
        or not _in_chat(ctx, notice["destination"], press.chat)
    ):
        return STALE
    now = ctx.clock()
    made = ctx.store.add_mute(
        press.chat, "source", notice["subject"], now + timedelta(hours=hours), press.user_name, now
    )
    return PressOutcome(
        notice=f"muted source {notice['subject']} in this chat until {moment(made.until, now)}"
    )


def _undo(ctx: Runtime, press: Press, mute_id: int, alert_id: int) -> PressOutcome:
    stored = ctx.store.alert(alert_id)
    if stored is None or not _in_chat(ctx, stored.alert.destination, press.chat):
        return STALE  # the new buttons would name another chat's rules
    mute = next(
        (m for m in ctx.store.active_mutes(ctx.clock(), press.chat) if m.id == mute_id), None
    )
    buttons = alert_buttons(alert_id, stored.alert)
    if mute is None:  # already over (expired, undone, /unmute): offer the buttons again
        return PressOutcome(
            notice="that mute is already over",
            note="🔊 the mute had already ended",
            buttons=buttons,
        )
    ctx.store.undo_mute(mute_id)
    return PressOutcome(
        notice=f"{mute.target} is no longer muted here",
        note=f"🔊 {press.user_name} undid the mute",
        buttons=buttons,
    )


def _in_chat(ctx: Runtime, destination: str, chat: str) -> bool:
    found = ctx.destination(destination)
    return found is not None and found.chat_key == chat
