"""Alert -> its pictures: which of an item's media an alert shows, and how.

    outbox -> adapter.send -> pictures.mode_for(alert, destination, platform) -> photos(item)

An alert shows its item's photos (``Media`` records of kind "photo" with an image URL)
in one of four ways, chosen per rule (``media`` in a rule file: its alert's first rule
that names one wins) or else per destination (``media`` in ``[[destinations]]``), else
``DEFAULT_MODE``:

    "none"     no picture; the alert as text
    "preview"  the first photo as the message's link preview, above the text (Telegram)
    "photo"    the first photo as a picture with the alert under it
    "album"    up to the platform's ``Limits.album`` photos as one album

A platform says which ways it can show in ``Limits.media``; a wanted way it lacks falls
back along album -> photo -> preview -> none.  Everything here is pure: no I/O; the
image URLs are untrusted and are fetched (for an upload) only by ``watchers.media``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.model import MEDIA_MODES, Alert, Destination, Item, Media

if TYPE_CHECKING:
    from bot.platforms.base import Limits

MODES = MEDIA_MODES
DEFAULT_MODE = "preview"  # one request, no upload, the alert keeps its 4,096 characters
_ICONS = {"photo": "📷", "video": "🎬", "document": "📄", "audio": "🎵", "poll": "📊"}
CANNOT_SHOW = "📷 photo could not be shown"


def photos(item: Item) -> tuple[Media, ...]:
    """The item's photos that have an image address (http or https), in post order."""
    return tuple(
        m
        for m in item.media
        if m.kind == "photo" and m.url and m.url.startswith(("http://", "https://"))
    )


def wanted(alert: Alert, destination: Destination | None) -> str:
    """The way the alert asks for: its rules', else its destination's, else the default."""
    if alert.media in MODES:
        return str(alert.media)
    chosen = destination.media if destination is not None else None
    return chosen if chosen in MODES else DEFAULT_MODE


def mode_for(alert: Alert, destination: Destination | None, limits: Limits) -> str:
    """How this platform shows the alert's pictures: the wanted way, or the next one
    down that it offers ("album" with one photo is "photo"); "none" when the item has no
    photo."""
    shown = photos(alert.item)
    if not shown:
        return "none"
    mode = wanted(alert, destination)
    if mode == "album" and len(shown) < 2:  # an album holds two photos or more
        mode = "photo"
    for step in MODES[MODES.index(mode) :: -1]:
        if step == "none" or step in limits.media:
            return step
    return "none"


def media_lines(item: Item) -> list[str]:
    """The media as text lines, for the console and plain text: "📷 photo https://..."."""
    lines = []
    for m in item.media:
        what = m.url or m.name or ""
        extra = f" ({m.alt})" if m.alt else ""
        lines.append(f"{_ICONS.get(m.kind, '📎')} {m.kind} {what}{extra}".rstrip())
    return lines


def count_mark(item: Item) -> str:
    """ "📷 2" for an item with two photos (digest entries); "" with none."""
    count = sum(1 for m in item.media if m.kind == "photo")
    return f"📷 {count}" if count else ""


def more_photos(shown: int, item: Item) -> str:
    """ "+3 photos" for the photos an alert did not show; "" when it showed them all."""
    rest = len(photos(item)) - shown
    if rest <= 0:
        return ""
    return f"+{rest} photo" if rest == 1 else f"+{rest} photos"
