"""Alert -> Matrix ``m.room.message`` content: a plain ``body`` and an HTML
``formatted_body`` (``org.matrix.custom.html``), from ``bot.render``'s neutral pieces.

The matched words are bold in the snippet and underlined in the title, as in Telegram;
everything from a feed is escaped (``& < > " '``), links are ``http(s)`` only.  A silent
alert is an ``m.notice`` (the default push rules do not notify for notices), any other
an ``m.text``.  An edit is an ``m.replace`` event whose fallback body starts with "* ",
as the spec asks.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from bot.model import Alert
from bot.render import SEVERITY_MARKS, Segments, plain, render, snippet, unbidi

HTML_FORMAT = "org.matrix.custom.html"
JsonDict = dict[str, Any]
SNIPPET_WIDTH = 600  # characters of the item's text around the first match
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def escape(text: str) -> str:
    """Text for Matrix HTML: the five HTML specials as entities, no bidi controls, no
    lone surrogates (a homeserver takes only valid UTF-8)."""
    clean = unbidi(text).encode("utf-8", "replace").decode("utf-8")
    return clean.translate(_ESCAPES)


def _html(segments: Segments, tag: str) -> str:
    return "".join(f"<{tag}>{escape(t)}</{tag}>" if marked else escape(t) for t, marked in segments)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _lines(text: str) -> str:
    return escape(text).replace("\n", "<br>")


def alert_content(alert: Alert, note: str | None = None, *, silent: bool = False) -> JsonDict:
    """An alert: rules and source, title, snippet, time and link, then the note."""
    shown = render(alert, SNIPPET_WIDTH)
    rules = _clip(
        "; ".join(
            f"{rule} ({', '.join(terms[:6])}{', …' if len(terms) > 6 else ''})"
            for rule, terms in shown.rules[:5]
        ),
        400,
    )
    source = _clip(shown.source, 100)
    mark = SEVERITY_MARKS.get(alert.severity)
    bell_html = f"{mark[:1]} <b>{mark[2:]}</b> ·" if mark else "🔔"
    bell_text = f"{mark} ·" if mark else "🔔"
    title = shown.title
    if sum(len(t) for t, _ in title) > 300:
        title = ((_clip("".join(t for t, _ in title), 300), False),)
    text_spans = [(s.start, s.end) for m in alert.matches for s in m.spans if s.field == "text"]
    body_segments = snippet(alert.item.text, text_spans, SNIPPET_WIDTH) if alert.item.text else ()
    tail_text, tail_html = [], []
    if shown.published:
        tail_text.append(f"🕒 {shown.published}")
        tail_html.append(f"🕒 {escape(shown.published)}")
    if shown.link and shown.link.startswith(("http://", "https://")) and len(shown.link) <= 2000:
        tail_text.append(shown.link)
        tail_html.append(f'<a href="{escape(shown.link)}">Open the post</a>')
    note_text = _clip(unbidi(note), 500) if note else ""
    text_parts = [
        f"{bell_text} {rules}\n📰 {source}",
        plain(title),
        plain(body_segments),
        " · ".join(tail_text),
        note_text,
    ]
    html_parts = [
        f"{bell_html} <b>{escape(rules)}</b><br>📰 {escape(source)}",
        f"<b>{_html(title, 'u')}</b>" if title else "",
        _html(body_segments, "b"),
        " · ".join(tail_html),
        _lines(note_text),
    ]
    return {
        "msgtype": "m.notice" if silent else "m.text",
        "body": unbidi("\n\n".join(p for p in text_parts if p)),
        "format": HTML_FORMAT,
        "formatted_body": "<br><br>".join(p for p in html_parts if p),
    }


def text_content(text: str, *, notice: bool = False) -> JsonDict:
    """Plain text (a digest, a notice, a command's reply) with its line breaks kept."""
    return {
        "msgtype": "m.notice" if notice else "m.text",
        "body": unbidi(text),
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
