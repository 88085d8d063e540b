"""Telegram's markup for an alert: HTML parse mode (``telegram_html``) over the parts
``bot.render.alert_parts`` builds, the same as a photo's caption with the rest for a
reply (``telegram_caption``), and splitting plain text within Telegram's limit, which
it counts in UTF-16 units.  Pure: no I/O."""

from __future__ import annotations

from bot.model import Alert
from bot.platforms.base import Limits
from bot.render import (
    SNIPPET_WIDTHS,
    Segments,
    alert_parts,
    clip,
    no_surrogates,
    split_plain,
    unbidi,
)

TELEGRAM_LIMIT = 4096  # characters of a message, counted by Telegram in UTF-16 units


def html_escape(text: str) -> str:
    """Escape for Telegram's HTML parse mode: exactly &, < and >; lone surrogates (a
    broken JSON feed can carry them) become U+FFFD, as Telegram takes only valid UTF-8;
    bidi controls are dropped."""
    text = unbidi(no_surrogates(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


LIMITS = Limits(
    TELEGRAM_LIMIT,
    caption=1024,
    notice=200,
    measure=utf16_len,
    media=("preview", "photo", "album"),
    album=10,
)


def _html(segments: Segments, tag: str) -> str:
    return "".join(
        f"<{tag}>{html_escape(t)}</{tag}>" if marked else html_escape(t) for t, marked in segments
    )


def telegram_html(alert: Alert, note: str | None = None, limit: int = TELEGRAM_LIMIT) -> str:
    """An alert as Telegram HTML: rules and source, title, a snippet with the matched
    words in bold, the time and the link, and an optional note under it (e.g. who muted
    what).  Everything from the feed is escaped; the result is at most ``limit`` UTF-16
    units of *markup*, so the visible text is shorter still, and it is never cut inside
    a tag or an entity: the snippet is narrowed until the whole fits."""
    parts = alert_parts(alert)
    bell = f"{parts.mark[0]} <b>{parts.mark[1]}</b> ·" if parts.mark else "🔔"
    head = (
        f"{bell} <b>{html_escape(clip(parts.rules, 400))}</b>\n"
        f"📰 {html_escape(clip(parts.source, 100))}"
    )
    title_html = f"<b>{_html(parts.title, 'u')}</b>" if parts.title else ""
    tail = []
    if parts.published:
        tail.append(f"🕒 {parts.published}")
    if parts.link and len(parts.link) <= 2000:
        tail.append(
            f'<a href="{html_escape(parts.link).replace(chr(34), "&quot;")}">Open the post</a>'
        )
    footer = " · ".join(tail)
    if note:
        footer += "\n\n" + html_escape(clip(note, 500))
    for width in (*SNIPPET_WIDTHS, 0):
        body = _html(parts.snippet_at(width), "b") if width and parts.text else ""
        message = "\n\n".join(p for p in (head, title_html, body, footer) if p)
        if utf16_len(message) <= limit:
            return message
    return html_escape(clip(parts.rules, 200))  # head and footer are bounded, so unreachable


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split a long reply at line breaks into messages Telegram accepts (its limit is in
    UTF-16 units); without bidi controls, as in alerts (``/show`` quotes a post)."""
    return split_plain(unbidi(text) or "…", limit, utf16_len)


def telegram_caption(alert: Alert, note: str | None = None) -> tuple[str, str | None]:
    """An alert as a photo's caption (at most 1,024 UTF-16 units of markup: the snippet
    is narrowed to fit) and, when that left text out, the rest: the whole snippet, for a
    reply under the photo (None when the caption says everything)."""
    caption = telegram_html(alert, note, limit=LIMITS.caption)
    if caption == telegram_html(alert, note):
        return caption, None
    parts = alert_parts(alert)
    for width in SNIPPET_WIDTHS:
        body = _html(parts.snippet_at(width), "b")
        if body.strip() and utf16_len(body) <= TELEGRAM_LIMIT - 10:
            return caption, body
    return caption, None
