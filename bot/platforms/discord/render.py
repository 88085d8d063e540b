"""Alert -> Discord message payloads: embeds within Discord's limits.  Pure: no I/O.

An alert is one embed: the item's title (linked to the post), a description with the
snippet and the matched words in **bold**, one inline field per rule (its matched
words), a "Notes" field ("also seen in", who muted what), the colour of its severity,
the source in the footer and the publication time as the embed's timestamp.  Discord
refuses the whole message when one limit is passed, so every part is clipped to its
own limit (``EMBED``) and the snippet is narrowed, then rule fields dropped, until all
embed text together fits the 6,000-character total.  Plain text (digests, notices) is
escaped and split into 2,000-character messages.

Feed text never pings anyone (``allowed_mentions`` parses nothing) and never turns
into markup: Discord's markdown characters are escaped; URLs are left whole so they
stay links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.model import Alert
from bot.platforms.base import Limits
from bot.render import (
    SNIPPET_WIDTHS,
    Segments,
    clip,
    plain,
    plain_alert,
    render,
    snippet,
    split_plain,
    unbidi,
)


@dataclass(frozen=True)
class EmbedLimits:
    """Discord's message limits (characters): any one passed and the message is refused."""

    content: int = 2000
    title: int = 256
    description: int = 4096
    fields: int = 25
    field_name: int = 256
    field_value: int = 1024
    footer: int = 2048
    total: int = 6000  # title + description + field names and values + footer + author
    url: int = 2048


EMBED = EmbedLimits()
LIMITS = Limits(message=EMBED.total, text=EMBED.content)  # the platform's, as data
SEVERITY_COLOURS = {"low": 0x95A5A6, "normal": 0x3498DB, "high": 0xE67E22, "urgent": 0xE74C3C}
SEVERITY_MARKS = {"urgent": "🚨 **URGENT**", "high": "🔴 **HIGH**"}
SUPPRESS_NOTIFICATIONS = 1 << 12  # message flag: delivered without a notification
NO_MENTIONS: dict[str, list[str]] = {"parse": []}  # feed text pings no one

_MARKDOWN = re.compile(r"([\\*_~`|\[\]<])")  # anywhere in a line
_LINE_MARKUP = re.compile(r"^(\s*)(#|>|-|\+|\d+\.)", re.M)  # headings, quotes, lists
_URL = re.compile(r"https?://[^\s<>\"]+")
_URL_TAIL = ".,;:!?)]}»\"'…"


def escape(text: str) -> str:
    """Feed or user text for Discord markdown: its formatting characters backslash-escaped
    (so ``*NEW*`` or ``# title`` show as typed; headings, quotes and lists only at a
    line's start, where they mean something), URLs left whole, bidi controls dropped."""
    text = unbidi(text)
    out: list[str] = []
    pos = 0
    for found in _URL.finditer(text):
        url = found.group().rstrip(_URL_TAIL)
        out.append(_MARKDOWN.sub(r"\\\1", text[pos : found.start()]))
        out.append(url)
        pos = found.start() + len(url)
    out.append(_MARKDOWN.sub(r"\\\1", text[pos:]))
    return _LINE_MARKUP.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", "".join(out))


def _clip_escaped(text: str, limit: int) -> str:
    """``escape(text)`` in at most ``limit`` characters: the text cut before escaping,
    so an escape is never split."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    n = min(len(text), limit)
    while n > 0:
        cut = escape(text[:n].rstrip() + "…")
        if len(cut) <= limit:
            return cut
        n -= max(1, (len(cut) - limit) // 2)
    return "…"


_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.S)


def _bold(segments: Segments) -> str:
    """Segments with the marked ones in ``**bold**``: Discord wants the asterisks against
    the words, so a marked segment's edge whitespace stays outside them."""
    return "".join(
        _EDGES.sub(lambda m: f"{m[1]}**{escape(m[2])}**{m[3]}", text)
        if marked and text.strip()
        else escape(text)
        for text, marked in segments
    )


def embed_size(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards the 6,000 of all embeds of a message."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    size += len(embed.get("footer", {}).get("text", ""))
    return size + len(embed.get("author", {}).get("name", ""))


def alert_embed(
    alert: Alert, note: str | None = None, limits: EmbedLimits = EMBED
) -> dict[str, Any]:
    """One alert as one embed that Discord takes (every limit in ``limits`` kept)."""
    shown = render(alert)
    embed: dict[str, Any] = {
        "title": _clip_escaped(
            plain(shown.title).strip() or shown.source or "Dozor alert", limits.title
        ),
        "color": SEVERITY_COLOURS.get(alert.severity, SEVERITY_COLOURS["normal"]),
        "footer": {"text": clip(f"📰 {shown.source}", min(limits.footer, 200))},
    }
    link = shown.link
    if link and link.startswith(("http://", "https://")) and len(link) <= limits.url:
        embed["url"] = link
    if alert.item.published is not None:
        embed["timestamp"] = alert.item.published.isoformat()
    fields: list[dict[str, Any]] = []
    for rule, terms in shown.rules:
        words = ", ".join(terms) or "—"
        fields.append(
            {
                "name": _clip_escaped(rule, min(limits.field_name, 100)) or "rule",
                "value": _clip_escaped(words, min(limits.field_value, 300)),
                "inline": True,
            }
        )
    notes = []
    if note and note.strip():
        notes.append({"name": "Notes", "value": _clip_escaped(note.strip(), limits.field_value)})
    room = limits.fields - len(notes)
    if len(fields) > room:
        more = len(fields) - room + 1
        fields = [*fields[: room - 1], {"name": "…", "value": f"and {more} more rules"}]
    embed["fields"] = [*fields, *notes]
    item_text = alert.item.text
    text_spans = [(s.start, s.end) for m in alert.matches for s in m.spans if s.field == "text"]
    for width in (*SNIPPET_WIDTHS, 0):
        description = ""
        if width and item_text.strip():
            description = _bold(snippet(item_text, text_spans, width))
            if len(description) > limits.description:
                continue
        candidate = {**embed, "description": description} if description else dict(embed)
        if embed_size(candidate) <= limits.total:
            return candidate
    # every snippet too long together with the fields: keep the notes, drop rules
    while embed_size(embed) > limits.total and len(embed["fields"]) > len(notes):
        embed["fields"] = embed["fields"][1:]
    return embed


def alert_message(
    alert: Alert, note: str | None = None, *, silent: bool = False, limits: EmbedLimits = EMBED
) -> dict[str, Any]:
    """The JSON body of a create- or edit-message call for one alert."""
    body: dict[str, Any] = {
        "embeds": [alert_embed(alert, note, limits)],
        "allowed_mentions": NO_MENTIONS,
    }
    mark = SEVERITY_MARKS.get(alert.severity)
    body["content"] = mark or ""
    if silent:
        body["flags"] = SUPPRESS_NOTIFICATIONS
    return body


def plain_message(alert: Alert, note: str | None = None, limits: EmbedLimits = EMBED) -> str:
    """The alert as plain content, for when Discord refuses its embed."""
    text = plain_alert(alert) + (f"\n\n{note}" if note else "")
    return _clip_escaped(text, limits.content)


def text_messages(text: str, limits: EmbedLimits = EMBED) -> list[str]:
    """Plain text (a digest, a notice) as escaped messages of at most 2,000 characters,
    split at line breaks."""
    parts = split_plain(text, limits.content, measure=lambda s: len(escape(s)))
    return [escape(part) for part in parts if part.strip()] or ["…"]
