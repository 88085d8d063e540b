"""Email's markup for an alert: a multipart/alternative message (plain text and HTML)
over the parts ``bot.render.alert_parts`` builds.

The subject carries the rules and the title (``[Dozor] wagner: <title>``); the matched
words are bold in the HTML part and between ``**`` in the plain one.  ``Message-ID`` is
derived from what is sent (the alert id and its story, or the text), so a retry of the
same alert is the same message, which servers and mail clients that deduplicate by
Message-ID show once.  Everything from a feed is escaped; header values lose line breaks
and bidi controls.  Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from bot.model import Alert
from bot.platforms.base import Limits
from bot.render import Segments, alert_parts, clip, no_surrogates, plain, unbidi

SNIPPET_WIDTH = 1200  # mail has room: more of the item's text than a chat message
SUBJECT_LIMIT = 200
LIMITS = Limits(1_000_000)  # a digest is one mail, however long
_URL = re.compile(r"https?://[^\s<>\"]+")


def message_id(sender: str, *parts: object) -> str:
    """``<dozor.<hash>@<the sender's domain>>``: the same for the same send."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "dozor.invalid"
    return f"<dozor.{digest}@{domain}>"


def header(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """A header value: one line, no bidi controls or surrogates, at most ``limit``."""
    return clip(" ".join(unbidi(no_surrogates(text)).split()), limit)


def _escape(text: str) -> str:
    return html.escape(unbidi(no_surrogates(text)))


def _html(segments: Segments) -> str:
    return "".join(f"<b>{_escape(t)}</b>" if marked else _escape(t) for t, marked in segments)


def _linked(text: str) -> str:
    """Plain text as HTML: escaped, URLs as links, line breaks kept."""
    out, pos = [], 0
    for found in _URL.finditer(text):
        out.append(_escape(text[pos : found.start()]))
        url = _escape(found.group())
        out.append(f'<a href="{url}">{url}</a>')
        pos = found.end()
    out.append(_escape(text[pos:]))
    return "".join(out).replace("\n", "<br>\n")


def _page(body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html><body style="font-family: sans-serif">\n{body}\n</body></html>\n'
    )


def _envelope(
    subject: str, sender: str, to: tuple[str, ...], msg_id: str, at: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = header(subject)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(at)
    message["Message-ID"] = msg_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    return message


def alert_email(
    alert: Alert,
    note: str | None,
    *,
    sender: str,
    to: tuple[str, ...],
    msg_id: str,
    at: datetime,
) -> EmailMessage:
    parts = alert_parts(alert)
    names = ", ".join(m.rule for m in alert.matches) or "Dozor"
    title = plain(parts.title).strip() or alert.item.text[:100]
    mark = f"{parts.mark[0]} {parts.mark[1]} · " if parts.mark else ""
    message = _envelope(f"[Dozor] {mark}{names}: {title}", sender, to, msg_id, at)
    if parts.mark:
        message["Importance"] = "high"
    body = parts.snippet_at(SNIPPET_WIDTH) if parts.text else ()
    lines = [
        f"Rule:    {parts.rules}",
        *([f"Severity: {alert.severity}"] if parts.mark else []),
        f"Source:  {parts.source}",
        f"Title:   {plain(parts.title, '**', '**')}",
        *([f"When:    {parts.published}"] if parts.published else []),
        *([f"Link:    {parts.link}"] if parts.link else []),
        "",
        plain(body, "**", "**"),
    ]
    if note:
        lines += ["", note]
    message.set_content(unbidi(no_surrogates("\n".join(lines))) + "\n")
    html = [
        f"<p>{parts.mark[0] if parts.mark else '🔔'} <b>{_escape(parts.rules)}</b>"
        f"<br>📰 {_escape(parts.source)}</p>",
        f"<h2>{_html(parts.title)}</h2>" if parts.title else "",
        f"<p>{_html(body)}</p>" if body else "",
    ]
    tail = [_escape(parts.published)] if parts.published else []
    if parts.link and parts.link.startswith(("http://", "https://")):
        tail.append(f'<a href="{_escape(parts.link)}">Open the post</a>')
    if tail:
        html.append(f"<p>🕒 {' · '.join(tail)}</p>")
    if note:
        html.append(f"<p>{_linked(note)}</p>")
    message.add_alternative(_page("\n".join(p for p in html if p)), subtype="html")
    return message


def text_email(
    text: str,
    *,
    sender: str,
    to: tuple[str, ...],
    msg_id: str,
    at: datetime,
    reply_to: str | None = None,
) -> EmailMessage:
    """Plain text (a digest with all its entries, a notice, an answer under an alert)
    as one message; the subject is its first line.  ``reply_to``: the Message-ID it
    answers, so mail clients thread it under that alert."""
    text = unbidi(text)
    first = next((line for line in text.split("\n") if line.strip()), "Dozor")
    message = _envelope(f"[Dozor] {first}", sender, to, msg_id, at)
    if reply_to is not None:
        message["In-Reply-To"] = reply_to
        message["References"] = reply_to
    message.set_content(text + "\n")
    message.add_alternative(_page(f"<p>{_linked(text)}</p>"), subtype="html")
    return message
