"""/show and /story: an alert's full text as it was stored (the post may be gone), the
pictures kept as evidence (bot/evidence.py), and every source that told the same story.

Only the chat the alert went to (and admins) may read it: for anyone else an alert of
another chat is answered exactly as a number that does not exist (``NO_SUCH``), so
walking the numbers shows nothing, not even which exist.
"""

from __future__ import annotations

from dataclasses import replace

from bot.commands.common import UsageError, shorten
from bot.commands.permissions import chat_destinations, may_see_alert
from bot.commands.types import Invocation, Reply
from bot.model import story_root
from bot.runtime import Runtime
from bot.store import StoredAlert

SHOWN_TEXT = 3500
NO_SUCH = "no such alert here"  # not one, suppressed, or another chat's: all the same


def _alert(ctx: Runtime, inv: Invocation) -> StoredAlert | str:
    arg = inv.args.strip().lstrip("#")
    if not (arg.isascii() and arg.isdigit()):
        raise UsageError('give the alert\'s number, as in "Dozor alert #12" (or reply to it)')
    stored = ctx.store.alert(int(arg)) if len(arg) <= 18 else None
    if (
        stored is None
        or stored.state == "suppressed"
        or not may_see_alert(ctx, inv.platform, inv.user_id, inv.chat, stored.alert.destination)
    ):
        return NO_SUCH
    return stored


def _replied(ctx: Runtime, inv: Invocation) -> Invocation:
    """``/show`` as a reply to an alert message means that alert."""
    if inv.args.strip() or inv.reply_to_message_id is None:
        return inv
    stored = ctx.store.alert_by_remote_id(chat_destinations(ctx, inv.chat), inv.reply_to_message_id)
    if stored is None:
        return inv
    return replace(inv, args=str(stored.id))


async def show(ctx: Runtime, inv: Invocation) -> Reply:
    found = _alert(ctx, _replied(ctx, inv))
    if isinstance(found, str):
        return Reply(found)
    item = found.alert.item
    lines = [
        f"Alert #{found.id} ({found.state}), rules: "
        + ", ".join(m.rule for m in found.alert.matches),
        f"Source: {item.source}"
        + (f", published {item.published:%Y-%m-%d %H:%M} UTC" if item.published else ""),
    ]
    if item.title:
        lines.append(f"Title: {item.title}")
    text = item.text if len(item.text) <= SHOWN_TEXT else item.text[:SHOWN_TEXT] + " …"
    lines += ["", text or "(no text)", ""]
    if item.link:
        lines.append(f"Link: {item.link}")
    for _, note in ctx.store.notes(found.id):
        lines.append(note)
    lines += _evidence_lines(ctx, found)
    return Reply("\n".join(lines))


def _evidence_lines(ctx: Runtime, found: StoredAlert) -> list[str]:
    """The pictures evidence keeping saved of the alert's item (bot/evidence.py)."""
    item = found.alert.item
    files = ctx.store.evidence.evidence_files(item.source, item.key)
    if not files:
        return []
    noun = "picture" if len(files) == 1 else "pictures"
    lines = ["", f"📎 Evidence kept: {len(files)} {noun} in the folder {files[0].folder}"]
    for f in files:
        lines.append(f"- {f.name} ({_size(f.size)}, {f.mime}), sha256 {f.sha256}")
        lines.append(f"  from {f.original_url}, fetched {f.fetched_at:%Y-%m-%d %H:%M} UTC")
    lines.append(f"(dozor evidence export {found.id} writes them with the text to a zip)")
    return lines


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


async def story(ctx: Runtime, inv: Invocation) -> Reply:
    found = _alert(ctx, _replied(ctx, inv))
    if isinstance(found, str):
        return Reply(found)
    root = story_root(found.alert.story_key)
    first = found.alert.item
    lines = [
        f"Story of alert #{found.id}: first {first.source}"
        + (f" at {found.created_at:%Y-%m-%d %H:%M} UTC" if found.created_at else ""),
        f"  {shorten(first.title or first.text, 100)}",
    ]
    if first.link:
        lines.append(f"  {first.link}")
    sightings = ctx.store.sightings(root)
    if not sightings:
        lines.append("No other source has told it yet.")
    else:
        lines.append(f"Also seen in {len(sightings)} items:")
        for s in sightings:
            lines.append(f"- {s.seen_at:%Y-%m-%d %H:%M} {s.source}: {shorten(s.title, 80)}")
            if s.link:
                lines.append(f"  {s.link}")
            lines.append(f"  ({s.reason})")
    return Reply("\n".join(lines))
