"""Alert -> an email: a multipart/alternative message (plain text and HTML) from
``bot.render``'s neutral pieces.

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
from bot.render import SEVERITY_MARKS, Segments, plain, render, snippet, unbidi

SNIPPET_WIDTH = 1200  # mail has room: more of the item's text than a chat message
SUBJECT_LIMIT = 200
_URL = re.compile(r"https?://[^\s<>\"]+")


def message_id(sender: str, *parts: object) -> str:
    """``<dozor.<hash>@<the sender's domain>>``: the same for the same send."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "dozor.invalid"
    return f"<dozor.{digest}@{domain}>"


def header(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """A header value: one line, no bidi controls or surrogates, at most ``limit``."""
    one = " ".join(unbidi(text).encode("utf-8", "replace").decode("utf-8").split())
    return one if len(one) <= limit else one[: limit - 1].rstrip() + "…"


def _html(segments: Segments) -> str:
    return "".join(
        f"<b>{html.escape(t)}</b>" if marked else html.escape(t) for t, marked in segments
    )


def _linked(text: str) -> str:
    """Plain text as HTML: escaped, URLs as links, line breaks kept."""
    out, pos = [], 0
    for found in _URL.finditer(text):
        out.append(html.escape(text[pos : found.start()]))
        url = found.group()
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        pos = found.end()
    out.append(html.escape(text[pos:]))
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
    shown = render(alert, SNIPPET_WIDTH)
    rules = ", ".join(rule for rule, _ in shown.rules) or "Dozor"
    title = plain(shown.title).strip() or alert.item.text[:100]
    mark = SEVERITY_MARKS.get(alert.severity)
    subject = f"[Dozor] {mark + ' · ' if mark else ''}{rules}: {title}"
    message = _envelope(subject, sender, to, msg_id, at)
    if alert.severity in ("high", "urgent"):
        message["Importance"] = "high"
    terms = "; ".join(f"{rule} ({', '.join(terms)})" for rule, terms in shown.rules)
    body = snippet(alert.item.text, _text_spans(alert), SNIPPET_WIDTH) if alert.item.text else ()
    lines = [
        f"Rule:    {unbidi(terms)}",
        *([f"Severity: {alert.severity}"] if alert.severity != "normal" else []),
        f"Source:  {shown.source}",
        f"Title:   {plain(shown.title, '**', '**')}",
        *([f"When:    {shown.published}"] if shown.published else []),
        *([f"Link:    {shown.link}"] if shown.link else []),
        "",
        plain(body, "**", "**"),
    ]
    if note:
        lines += ["", unbidi(note)]
    message.set_content("\n".join(lines) + "\n")
    parts = [
        f"<p>{'🚨' if alert.severity == 'urgent' else '🔔'} <b>{html.escape(unbidi(terms))}</b>"
        f"<br>📰 {html.escape(shown.source)}</p>",
        f"<h2>{_html(shown.title)}</h2>" if shown.title else "",
        f"<p>{_html(body)}</p>" if body else "",
    ]
    tail = [html.escape(shown.published)] if shown.published else []
    if shown.link and shown.link.startswith(("http://", "https://")):
        tail.append(f'<a href="{html.escape(shown.link)}">Open the post</a>')
    if tail:
        parts.append(f"<p>🕒 {' · '.join(tail)}</p>")
    if note:
        parts.append(f"<p>{_linked(unbidi(note))}</p>")
    message.add_alternative(_page("\n".join(p for p in parts if p)), subtype="html")
    return message


def _text_spans(alert: Alert) -> list[tuple[int, int]]:
    return [(s.start, s.end) for m in alert.matches for s in m.spans if s.field == "text"]


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
