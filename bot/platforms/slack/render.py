"""Slack's markup for an alert: Block Kit sections in mrkdwn (``slack_blocks``) over
the parts ``bot.render.alert_parts`` builds, with an image block for its first photo;
plain replies as sections (``slack_text``), buttons as an ``actions`` block, and mrkdwn
escaping.  Pure: no I/O."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot import pictures
from bot.model import Alert, Media
from bot.platforms.base import Limits
from bot.render import (
    SNIPPET_WIDTHS,
    Segments,
    alert_parts,
    clip,
    no_surrogates,
    plain,
    render,
    unbidi,
)

if TYPE_CHECKING:
    from bot.commands.types import Button

SLACK_SECTION_LIMIT = 3000  # characters of a section's text
SLACK_MAX_BLOCKS = 50
SLACK_FALLBACK_LIMIT = 3000  # the message's `text` (notifications); Slack allows 40,000
# a section's text; a plain message is split at 3,500; an actions block holds 25 buttons
# pictures: an image block for the first photo ("preview" and "photo" alike)
LIMITS = Limits(
    SLACK_SECTION_LIMIT, text=3500, buttons=25, button_label=75, media=("preview", "photo")
)
# mrkdwn has no escape for its formatting characters: user text gets look-alikes, so a
# title like "*NEW*" or "_id_" never toggles bold or italics (jsx-slack does the same).
_SLACK_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
_URL = re.compile(r"https?://[^\s<>\"|]+")
_URL_TAIL = ".,;:!?)]}»\"'…"


def slack_url(url: str) -> str:
    """A URL for ``<url|label>``: everything but URL punctuation and ASCII letters and
    digits percent-encoded (``|``, ``<``, ``>``, spaces, controls would end or break the
    link), then ``&`` as an entity."""
    url = quote(no_surrogates(url), safe="!#$%&'()*+,/:;=?@[]~-._")
    return url.replace("&", "&amp;")


def slack_escape(text: str) -> str:
    """Feed or user text for mrkdwn: &, < and > as entities (Slack's escaping rule), the
    formatting characters as look-alikes, and URLs as explicit links (untouched by the
    look-alikes, so ``t.me/rian_ru`` still works); no bidi controls."""
    text = unbidi(no_surrogates(text))
    out: list[str] = []
    pos = 0
    for found in _URL.finditer(text):
        url = found.group().rstrip(_URL_TAIL)
        if len(url) <= len("https://"):
            continue
        out.append(_slack_plain(text[pos : found.start()]))
        target = slack_url(url)
        label = url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(f"<{target}>" if target == label else f"<{target}|{label}>")
        pos = found.start() + len(url)
    out.append(_slack_plain(text[pos:]))
    return "".join(out)


def _slack_plain(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.translate(_SLACK_LOOKALIKES)


def _slack_marked(segments: Segments) -> str:
    """Segments as mrkdwn with the marked ones in ``*bold*``: Slack wants the asterisks
    right against the words, so whitespace at a marked segment's edges stays outside."""
    out = []
    for text, marked in segments:
        core = text.strip()
        if not marked or not core:
            out.append(slack_escape(text))
            continue
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        out.append(f"{lead}*{slack_escape(core)}*{trail}")
    return "".join(out)


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _fits(text: str) -> bool:
    return bool(text.strip()) and len(text) <= SLACK_SECTION_LIMIT


def slack_blocks(
    alert: Alert, note: str | None = None, media: str = "none"
) -> tuple[list[dict[str, object]], str]:
    """An alert as Block Kit sections (rules and source; title and snippet with the
    matched words in bold; its first photo as an image block with alt text unless
    ``media`` is "none", "+3 photos" for the rest; time and link; the note) and its
    plain fallback text.  Every section is non-empty and at most 3,000 characters
    *after* escaping: the snippet is narrowed until it fits.  The adapter appends the
    buttons (one more block)."""
    parts = alert_parts(alert)
    rules = parts.rules
    source = clip(parts.source, 100).strip()
    bell = f"{parts.mark[0]} *{parts.mark[1]}* ·" if parts.mark else "🔔"
    head = [f"{bell} *{slack_escape(clip(rules, 400).strip())}*" if rules.strip() else bell]
    if source:
        head.append(f"📰 {slack_escape(source)}")
    blocks: list[dict[str, object]] = [_section("\n".join(head))]
    title_text = _slack_marked(parts.title)
    if _fits(title_text):
        blocks.append(_section(title_text))
    if parts.text.strip():
        for width in SNIPPET_WIDTHS:
            body = _slack_marked(parts.snippet_at(width))
            if _fits(body):
                break
        else:  # a match longer than the section: the text's start, unmarked
            body = slack_escape(clip(parts.text.strip(), 500))
        blocks.append(_section(body))
    photos = pictures.photos(alert.item)
    shown = photos[:1] if media != "none" and len(photos[0].url or "") <= 3000 else ()
    blocks.extend(_image(photo, parts.source) for photo in shown)
    tail = []
    if parts.published:
        tail.append(f"🕒 {parts.published}")
    linked = parts.link and parts.link.startswith(("http://", "https://"))
    more = pictures.more_photos(len(shown), alert.item)
    if more:
        tail.append(f"📷 <{slack_url(parts.link)}|{more}>" if linked else f"📷 {more}")
    if linked and len(parts.link) <= 2000:
        tail.append(f"<{slack_url(parts.link)}|Open the post>")
    if tail:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(tail)}]}
        )
    if note and note.strip():
        blocks.append(_section(slack_escape(clip(note.strip(), 500))))
    fallback = " · ".join(p for p in (rules.strip(), source) if p)
    plain_title = plain(render(alert).title).strip()
    if plain_title:
        fallback += f": {plain_title}"
    fallback = slack_escape(clip(fallback.strip() or "Dozor alert", 600))
    return blocks[: SLACK_MAX_BLOCKS - 1], fallback


def _image(photo: Media, source: str) -> dict[str, object]:
    """An image block: Slack fetches the picture itself; alt text is required."""
    alt = " ".join((photo.alt or f"photo from {source}").split())
    return {
        "type": "image",
        "image_url": photo.url or "",
        "alt_text": clip(unbidi(no_surrogates(alt)), 2000) or "photo",
    }


def slack_text(text: str, reserve: int = 1) -> tuple[list[dict[str, object]], str]:
    """A plain-text reply as mrkdwn sections of at most 3,000 characters, split at line
    breaks (at most 50 blocks, ``reserve`` of them left for buttons), and its fallback."""
    sections: list[str] = []
    current = ""
    for line in text.split("\n"):
        pieces = [line[i : i + 600] for i in range(0, len(line), 600)] or [""]
        for piece in pieces:  # 600 characters escape to at most 3,000
            escaped = slack_escape(piece)
            candidate = f"{current}\n{escaped}" if current else escaped
            if len(candidate) > SLACK_SECTION_LIMIT:
                sections.append(current)
                current = escaped
            else:
                current = candidate
    sections.append(current)
    kept = [s for s in sections if s.strip()][: SLACK_MAX_BLOCKS - reserve]
    fallback = slack_escape(clip(text.strip(), SLACK_FALLBACK_LIMIT // 5)) or "…"
    return [_section(s) for s in kept], fallback


def actions_block(buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    """Buttons as one ``actions`` block; action_id and value are the button's data."""
    if not buttons:
        return None
    return {
        "type": "actions",
        "block_id": "dozor-buttons",
        "elements": [
            {
                "type": "button",
                "text": {
                    "type": "plain_text",
                    "text": b.label[: LIMITS.button_label],
                    "emoji": True,
                },
                "action_id": b.data,
                "value": b.data,
            }
            for b in buttons[: LIMITS.buttons]
        ],
    }


def with_buttons(blocks: list[dict[str, Any]], buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    block = actions_block(buttons)
    return [*blocks, block] if block else list(blocks)
