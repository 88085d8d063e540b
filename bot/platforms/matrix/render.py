"""Matrix's markup for an alert: an ``m.room.message`` with a plain ``body`` and an HTML
``formatted_body`` (``org.matrix.custom.html``) over the parts ``bot.render.alert_parts``
builds.

The matched words are bold in the snippet and underlined in the title, as in Telegram;
everything from a feed is escaped (``& < > " '``), links are ``http(s)`` only.  A silent
alert is an ``m.notice`` (the default push rules do not notify for notices), any other
an ``m.text``.  An edit is an ``m.replace`` event whose fallback body starts with "* ",
as the spec asks; answers and threads are ``m.relates_to`` relations.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from bot.model import Alert
from bot.platforms.base import Limits
from bot.render import SNIPPET_WIDTHS, Segments, alert_parts, clip, no_surrogates, plain, unbidi

HTML_FORMAT = "org.matrix.custom.html"
TEXT_LIMIT = 16_000  # characters of one text message: well inside the 64 KiB event limit
LIMITS = Limits(TEXT_LIMIT)
JsonDict = dict[str, Any]
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def escape(text: str) -> str:
    """Text for Matrix HTML: the five HTML specials as entities, no bidi controls, no
    lone surrogates (a homeserver takes only valid UTF-8)."""
    return unbidi(no_surrogates(text)).translate(_ESCAPES)


def _html(segments: Segments, tag: str) -> str:
    return "".join(f"<{tag}>{escape(t)}</{tag}>" if marked else escape(t) for t, marked in segments)


def _lines(text: str) -> str:
    return escape(text).replace("\n", "<br>")


def alert_content(alert: Alert, note: str | None = None, *, silent: bool = False) -> JsonDict:
    """An alert: rules and source, title, snippet, time and link, then the note."""
    parts = alert_parts(alert)
    rules, source = clip(parts.rules, 400), clip(parts.source, 100)
    mark = parts.mark
    snippet = parts.snippet_at(SNIPPET_WIDTHS[0]) if parts.text else ()
    tail_text, tail_html = [], []
    if parts.published:
        tail_text.append(f"🕒 {parts.published}")
        tail_html.append(f"🕒 {escape(parts.published)}")
    if parts.link and parts.link.startswith(("http://", "https://")) and len(parts.link) <= 2000:
        tail_text.append(parts.link)
        tail_html.append(f'<a href="{escape(parts.link)}">Open the post</a>')
    note_text = clip(unbidi(note), 500) if note else ""
    text = [
        f"{f'{mark[0]} {mark[1]} ·' if mark else '🔔'} {rules}\n📰 {source}",
        plain(parts.title),
        plain(snippet),
        " · ".join(tail_text),
        note_text,
    ]
    html = [
        f"{f'{mark[0]} <b>{mark[1]}</b> ·' if mark else '🔔'} <b>{escape(rules)}</b>"
        f"<br>📰 {escape(source)}",
        f"<b>{_html(parts.title, 'u')}</b>" if parts.title else "",
        _html(snippet, "b"),
        " · ".join(tail_html),
        _lines(note_text),
    ]
    return {
        "msgtype": "m.notice" if silent else "m.text",
        "body": unbidi(no_surrogates("\n\n".join(p for p in text if p))),
        "format": HTML_FORMAT,
        "formatted_body": "<br><br>".join(p for p in html if p),
    }


def text_content(text: str, *, notice: bool = False) -> JsonDict:
    """Plain text (a digest, a notice, a command's reply) with its line breaks kept."""
    return {
        "msgtype": "m.notice" if notice else "m.text",
        "body": unbidi(no_surrogates(text)),
        "format": HTML_FORMAT,
        "formatted_body": _lines(text),
    }


def edit_content(event_id: str, new: JsonDict) -> JsonDict:
    """An ``m.replace`` of ``event_id`` with ``new`` content; clients without edits
    show the "* " fallback as a new message."""
    return {
        "msgtype": new["msgtype"],
        "body": f"* {new['body']}",
        "format": HTML_FORMAT,
        "formatted_body": f"* {new['formatted_body']}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def reply_content(content: JsonDict, event_id: str) -> JsonDict:
    """``content`` as an answer to ``event_id`` (a rich reply)."""
    return {**content, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


def thread_content(content: JsonDict, root: str, reply_to: str | None = None) -> JsonDict:
    """``content`` in the thread that ``root`` starts; ``reply_to``: the event in it that
    it answers (clients without threads show it as a reply to that, or to the root)."""
    relation = {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": reply_to is None,
        "m.in_reply_to": {"event_id": reply_to or root},
    }
    return {**content, "m.relates_to": relation}


def related(content: JsonDict, thread: str | None, reply_to: str | None) -> JsonDict:
    """``content`` in ``thread`` (if any), answering ``reply_to`` (if any)."""
    if thread is not None:
        return thread_content(content, thread, reply_to)
    return reply_content(content, reply_to) if reply_to is not None else content
