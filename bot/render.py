"""Alert -> text: the parts every adapter shows (snippet with marked words, when, rules).

Adapters turn these neutral pieces into their own markup: console text, Telegram HTML
(``telegram_html``) and Slack Block Kit (``slack_blocks``) are built here, as are
digests, notes and thread replies.  A snippet is a tuple of ``(text, marked)``
segments cut from the original item text around the matched spans, so the words that
fired are exactly the ones marked; the line naming what fired quotes the same words
(``matched_words``), grouped by the rule's term.  Bidi controls (``BIDI_CONTROLS``: embeddings,
overrides, isolates and marks) are dropped from everything shown, so a title carrying
a right-to-left override cannot reorder the rest of an alert.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from bot.model import Alert, Item, Match, Span, story_root

Segments = tuple[tuple[str, bool], ...]

# U+202A..U+202E embeddings and overrides, U+2066..U+2069 isolates, LRM, RLM, ALM
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def unbidi(text: str) -> str:
    """``text`` without bidi controls."""
    return BIDI_CONTROLS.sub("", text)


def _unbidi_url(url: str) -> str:
    """A link's bidi controls percent-encoded: the same address, nothing reordered."""
    return BIDI_CONTROLS.sub(lambda m: quote(m.group()), url)


@dataclass(frozen=True)
class RenderedAlert:
    source: str
    title: Segments
    snippet: Segments
    link: str | None
    published: str | None
    # (rule, what fired: per term, the post's own words, "/"-joined: ``matched_words``)
    rules: tuple[tuple[str, tuple[str, ...]], ...]


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, spans: Sequence[tuple[int, int]]) -> Segments:
    """Split ``text`` into plain and marked segments at the (merged) spans (offsets
    into ``text``); the segments lose their bidi controls."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merge_spans([(max(0, s), min(len(text), e)) for s, e in spans]):
        if start >= end:
            continue
        if start > pos:
            out.append((unbidi(text[pos:start]), False))
        out.append((unbidi(text[start:end]), True))
        pos = end
    if pos < len(text):
        out.append((unbidi(text[pos:]), False))
    return tuple(out)


def snippet(text: str, spans: Sequence[tuple[int, int]], width: int = 280) -> Segments:
    """A window of about ``width`` characters around the first spans, cut at word
    boundaries, with "…" where text was left out; the start of the text if no spans."""
    text = text.strip() if not spans else text
    if len(text) <= width:
        return mark(text, spans)
    merged = merge_spans(spans)
    if not merged:
        cut = _cut_end(text, width)
        return ((unbidi(text[:cut]).rstrip() + " …", False),)
    first_start = merged[0][0]
    start = max(0, first_start - width // 3)
    if start > 0:
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space > 0 and first_start - space < width // 2 else start
    end = min(len(text), start + width)
    end = max(end, min(len(text), merged[0][1]))
    if end < len(text):
        end = _cut_end(text, end, floor=merged[0][1])
    inside = [(s - start, e - start) for s, e in merged if s >= start and e <= end]
    segments = list(mark(text[start:end], inside))
    if start > 0:
        segments.insert(0, ("… ", False))
    if end < len(text):
        segments.append((" …", False))
    return tuple(segments)


def _cut_end(text: str, end: int, floor: int = 0) -> int:
    space = text.rfind(" ", floor, end)
    return space if space > floor else end


def render(alert: Alert, width: int = 280) -> RenderedAlert:
    item = alert.item
    spans: dict[str, list[Span]] = {"title": [], "text": []}
    for match in alert.matches:
        for span in match.spans:
            spans.setdefault(span.field, []).append(span)
    return RenderedAlert(
        source=unbidi(item.source),
        title=mark(item.title, [(s.start, s.end) for s in spans["title"]]),
        snippet=snippet(item.text, [(s.start, s.end) for s in spans["text"]], width),
        link=_unbidi_url(item.link) if item.link else item.link,
        published=format_time(item.published),
        rules=tuple((unbidi(m.rule), matched_words(item, m)) for m in alert.matches),
    )


_META = re.compile(r"^(?:source|tag|link):")


def matched_words(item: Item, match: Match) -> tuple[str, ...]:
    """What fired, as the post writes it: per term of the rule (rule order), the words
    its spans cover in the title and text ("Дейр-эз-Зоре/Deir ez-Zor"), never a form or
    transliteration the post does not contain; a ``source:``/``tag:``/``link:`` term,
    which covers no words, as the rule writes it."""
    words: dict[str, dict[str, None]] = {term: {} for term in match.terms}
    for span in match.spans:
        text = item.title if span.field == "title" else item.text
        word = " ".join(unbidi(text[span.start : span.end]).split())
        if word:
            words.setdefault(span.term, {})[word] = None
    return tuple(
        "/".join(found) if found else unbidi(term)
        for term, found in words.items()
        if found or _META.match(term)
    )


def format_time(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None


def notes_text(
    sightings: Sequence[tuple[str, datetime]], notes: Sequence[str], limit: int = 8
) -> str | None:
    """The lines under an alert: where else its story was seen, then notes such as who
    muted what or that the post was deleted.  None when there is nothing to say."""
    lines = []
    if sightings:
        sources = list(dict.fromkeys(source for source, _ in sightings))
        first = {}
        for source, at in sightings:
            first.setdefault(source, at)
        shown = ", ".join(f"{s} ({first[s]:%H:%M})" for s in sources[:limit])
        more = f" and {len(sources) - limit} more" if len(sources) > limit else ""
        noun = "source" if len(sources) == 1 else "sources"
        lines.append(f"👥 Also seen in {len(sources)} {noun}: {shown}{more}")
    lines.extend(notes[-5:])
    return unbidi("\n".join(lines)) or None


def thread_reply_text(
    sightings: Sequence[tuple[str, str, str | None, datetime]], notes: Sequence[str]
) -> str | None:
    """An answer under an alert (``also_seen = "thread"``): the sources that told its
    story since the last answer, each with its title and link, then new notes.
    ``sightings``: (source, title, link, seen at)."""
    lines = []
    if sightings:
        noun = "source" if len(sightings) == 1 else "sources"
        lines.append(f"👥 Also seen in {len(sightings)} more {noun}:")
        for source, title, link, at in sightings[:20]:
            shown = " ".join(title.split())[:200]
            lines.append(f"• {source} ({at:%H:%M} UTC): {shown}" + (f" {link}" if link else ""))
        if len(sightings) > 20:
            lines.append(f"… and {len(sightings) - 20} more (/story shows them all)")
    lines.extend(notes)
    return unbidi("\n".join(lines)) or None


def digest_text(alerts: Sequence[Alert], schedule: str, at: datetime) -> str:
    """One message for many alerts, grouped by rule and then by story."""
    by_rule: dict[str, dict[str, list[Alert]]] = {}
    for alert in alerts:
        rule = ", ".join(m.rule for m in alert.matches)
        story = story_root(alert.story_key)
        by_rule.setdefault(rule, {}).setdefault(story, []).append(alert)
    noun = "alert" if len(alerts) == 1 else "alerts"
    lines = [f"🗞 Dozor digest ({schedule}), {at:%Y-%m-%d %H:%M} UTC: {len(alerts)} {noun}"]
    for rule, stories in by_rule.items():
        lines += ["", f"■ {rule} ({len(stories)})"]
        for items in stories.values():
            first = items[0].item
            title = first.title or first.text[:100]
            when = f"{first.published:%H:%M} " if first.published else ""
            lines.append(f"• {when}{first.source}: {title[:200]}")
            if first.link:
                lines.append(f"  {first.link}")
            if len(items) > 1:
                others = ", ".join(dict.fromkeys(a.item.source for a in items[1:]))
                lines.append(f"  also: {others}")
    return unbidi("\n".join(lines))


def split_plain(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split plain text at line breaks into parts of at most ``limit``, as ``measure``
    counts (Telegram counts UTF-16 units: an emoji outside the BMP is two).  A line
    longer than that is cut, never inside a character."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while measure(line) > limit:
            if current:
                parts.append(current)
                current = ""
            cut = min(len(line), limit)
            while cut > 1 and measure(line[:cut]) > limit:
                cut -= max(1, (measure(line[:cut]) - limit) // 2)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if measure(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts or [""]


def plain(segments: Segments, left: str = "", right: str = "") -> str:
    return "".join(f"{left}{t}{right}" if marked else t for t, marked in segments)


# -- Telegram HTML --------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
TELEGRAM_LIMIT = 4096  # characters of a message, counted by Telegram in UTF-16 units


def html_escape(text: str) -> str:
    """Escape for Telegram's HTML parse mode: exactly &, < and >; lone surrogates (a
    broken JSON feed can carry them) become U+FFFD, as Telegram takes only valid UTF-8;
    bidi controls are dropped."""
    text = unbidi(_SURROGATE.sub("\ufffd", text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _html(segments: Segments, tag: str) -> str:
    return "".join(
        f"<{tag}>{html_escape(t)}</{tag}>" if marked else html_escape(t) for t, marked in segments
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


SEVERITY_MARKS = {"urgent": "🚨 URGENT", "high": "🔴 HIGH"}  # low and normal: the bell only


def telegram_html(alert: Alert, note: str | None = None, limit: int = TELEGRAM_LIMIT) -> str:
    """An alert as Telegram HTML: rules and source, title, a snippet with the matched
    words in bold, the time and the link, and an optional note under it (e.g. who muted
    what).  Everything from the feed is escaped; the result is at most ``limit`` UTF-16
    units of *markup*, so the visible text is shorter still, and it is never cut inside
    a tag or an entity: the snippet is narrowed until the whole fits."""
    shown = render(alert)
    rules = "; ".join(
        f"{rule} ({', '.join(terms[:6])}{', …' if len(terms) > 6 else ''})"
        for rule, terms in shown.rules[:5]
    )
    mark = SEVERITY_MARKS.get(alert.severity)
    bell = f"{mark[:1]} <b>{mark[2:]}</b> ·" if mark else "🔔"
    head = (
        f"{bell} <b>{html_escape(_clip(rules, 400))}</b>\n"
        f"📰 {html_escape(_clip(shown.source, 100))}"
    )
    title = shown.title
    if sum(len(t) for t, _ in title) > 300:
        title = ((_clip("".join(t for t, _ in title), 300), False),)
    title_html = f"<b>{_html(title, 'u')}</b>" if title else ""
    tail = []
    if shown.published:
        tail.append(f"🕒 {shown.published}")
    if shown.link and len(shown.link) <= 2000:
        tail.append(
            f'<a href="{html_escape(shown.link).replace(chr(34), "&quot;")}">Open the post</a>'
        )
    footer = " · ".join(tail)
    if note:
        footer += "\n\n" + html_escape(_clip(note, 500))
    item_text = alert.item.text
    text_spans = [(s.start, s.end) for m in alert.matches for s in m.spans if s.field == "text"]
    for width in (600, 400, 250, 120, 60, 0):
        body = _html(snippet(item_text, text_spans, width), "b") if width and item_text else ""
        parts = [head, title_html, body, footer]
        message = "\n\n".join(p for p in parts if p)
        if utf16_len(message) <= limit:
            return message
    return html_escape(_clip(rules, 200))  # head and footer are bounded, so unreachable


# -- Slack Block Kit ------------------------------------------------------------------

SLACK_SECTION_LIMIT = 3000  # characters of a section's text
SLACK_MAX_BLOCKS = 50
SLACK_FALLBACK_LIMIT = 3000  # the message's `text` (notifications); Slack allows 40,000
# mrkdwn has no escape for its formatting characters: user text gets look-alikes, so a
# title like "*NEW*" or "_id_" never toggles bold or italics (jsx-slack does the same).
_SLACK_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
_URL = re.compile(r"https?://[^\s<>\"|]+")
_URL_TAIL = ".,;:!?)]}»\"'…"


def slack_url(url: str) -> str:
    """A URL for ``<url|label>``: everything but URL punctuation and ASCII letters and
    digits percent-encoded (``|``, ``<``, ``>``, spaces, controls would end or break the
    link), then ``&`` as an entity."""
    url = quote(_SURROGATE.sub("\ufffd", url), safe="!#$%&'()*+,/:;=?@[]~-._")
    return url.replace("&", "&amp;")


def slack_escape(text: str) -> str:
    """Feed or user text for mrkdwn: &, < and > as entities (Slack's escaping rule), the
    formatting characters as look-alikes, and URLs as explicit links (untouched by the
    look-alikes, so ``t.me/rian_ru`` still works); no bidi controls."""
    text = unbidi(_SURROGATE.sub("\ufffd", text))
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


def slack_blocks(alert: Alert, note: str | None = None) -> tuple[list[dict[str, object]], str]:
    """An alert as Block Kit sections (rules and source; title and snippet with the
    matched words in bold; time and link; the note) and its plain fallback text.  Every
    section is non-empty and at most 3,000 characters *after* escaping: the snippet is
    narrowed until it fits.  The adapter appends the buttons (one more block)."""
    shown = render(alert)
    rules = "; ".join(
        f"{rule} ({', '.join(terms[:6])}{', …' if len(terms) > 6 else ''})"
        for rule, terms in shown.rules[:5]
    )
    source = _clip(shown.source, 100).strip()
    mark = SEVERITY_MARKS.get(alert.severity)
    bell = f"{mark[:1]} *{mark[2:]}* ·" if mark else "🔔"
    head = [f"{bell} *{slack_escape(_clip(rules, 400).strip())}*" if rules.strip() else bell]
    if source:
        head.append(f"📰 {slack_escape(source)}")
    blocks: list[dict[str, object]] = [_section("\n".join(head))]
    title = shown.title
    if sum(len(t) for t, _ in title) > 300:
        title = ((_clip("".join(t for t, _ in title), 300), False),)
    title_text = _slack_marked(title)
    if _fits(title_text):
        blocks.append(_section(title_text))
    item_text = alert.item.text
    text_spans = [(s.start, s.end) for m in alert.matches for s in m.spans if s.field == "text"]
    if item_text.strip():
        for width in (600, 400, 250, 120, 60):
            body = _slack_marked(snippet(item_text, text_spans, width))
            if _fits(body):
                break
        else:  # a match longer than the section: the text's start, unmarked
            body = slack_escape(_clip(item_text.strip(), 500))
        blocks.append(_section(body))
    tail = []
    if shown.published:
        tail.append(f"🕒 {shown.published}")
    if shown.link and shown.link.startswith(("http://", "https://")) and len(shown.link) <= 2000:
        tail.append(f"<{slack_url(shown.link)}|Open the post>")
    if tail:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(tail)}]}
        )
    if note and note.strip():
        blocks.append(_section(slack_escape(_clip(note.strip(), 500))))
    fallback = " · ".join(p for p in (rules.strip(), source) if p)
    plain_title = plain(shown.title).strip()
    if plain_title:
        fallback += f": {plain_title}"
    fallback = slack_escape(_clip(fallback.strip() or "Dozor alert", 600))
    return blocks[: SLACK_MAX_BLOCKS - 1], fallback


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
    fallback = slack_escape(_clip(text.strip(), SLACK_FALLBACK_LIMIT // 5)) or "…"
    return [_section(s) for s in kept], fallback
