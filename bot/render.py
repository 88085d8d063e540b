"""Alert -> text: the parts every platform shows (snippet with marked words, when, rules).

``alert_parts`` is the one algorithm behind every platform's rendering of an alert
(rules and their terms, source, severity, title, snippet narrowed to fit, time, link);
each platform package only marks those parts up (Telegram HTML in
``bot/platforms/telegram/render.py``, Slack Block Kit in ``bot/platforms/slack/``).
Digests, notes, thread replies and the plain-text fallback are built here too.  A
snippet is a tuple of ``(text, marked)`` segments cut from the original item text
around the matched spans, so the words that fired are exactly the ones marked; the
line naming what fired quotes the same words (``matched_words``), grouped by the
rule's term.  Bidi
controls (``BIDI_CONTROLS``: embeddings, overrides, isolates and marks) are dropped
from everything shown, so a title carrying a right-to-left override cannot reorder the
rest of an alert.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from bot.model import Alert, Item, Match, Span, story_root
from bot.pictures import count_mark

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
    """One message for many alerts, grouped by rule and then by story; an entry whose
    item has photos says how many ("📷 2")."""
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
            photos = f" {count_mark(first)}" if count_mark(first) else ""
            lines.append(f"• {when}{first.source}: {title[:200]}{photos}")
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


_SURROGATE = re.compile("[\ud800-\udfff]")


def no_surrogates(text: str) -> str:
    """Lone surrogates (a broken JSON feed can carry them) as U+FFFD: chat platforms
    take only valid UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


SEVERITY_MARKS = {"urgent": "🚨 URGENT", "high": "🔴 HIGH"}  # low and normal: the bell only
SNIPPET_WIDTHS = (600, 400, 250, 120, 60)  # a snippet is narrowed along these to fit


@dataclass(frozen=True)
class AlertParts:
    """What every platform's alert shows, in order, before any markup: the rules that
    fired with their terms, the source, the severity mark, the title (at most 300
    characters), the time and the link; the snippet comes from ``snippet_at``."""

    rules: str  # "wagner (Вагнер, ЧВК); casualties (погиб)", at most 5 rules of 6 terms
    source: str
    mark: tuple[str, str] | None  # ("🚨", "URGENT"), ("🔴", "HIGH"); None: the bell only
    title: Segments
    published: str | None
    link: str | None
    text: str  # the item's text, whose matched spans ``snippet_at`` marks
    spans: tuple[tuple[int, int], ...]

    def snippet_at(self, width: int) -> Segments:
        return snippet(self.text, self.spans, width)


def alert_parts(alert: Alert) -> AlertParts:
    """The shared algorithm behind every platform's rendering of an alert."""
    shown = render(alert)
    rules = "; ".join(
        f"{rule} ({', '.join(terms[:6])}{', …' if len(terms) > 6 else ''})"
        for rule, terms in shown.rules[:5]
    )
    title = shown.title
    if sum(len(t) for t, _ in title) > 300:
        title = ((clip("".join(t for t, _ in title), 300), False),)
    mark_text = SEVERITY_MARKS.get(alert.severity)
    return AlertParts(
        rules=rules,
        source=shown.source,
        mark=(mark_text[:1], mark_text[2:]) if mark_text else None,
        title=title,
        published=shown.published,
        link=shown.link,
        text=alert.item.text,
        spans=tuple((s.start, s.end) for m in alert.matches for s in m.spans if s.field == "text"),
    )


def plain_alert(alert: Alert) -> str:
    """An alert as plain text (a platform refused its markup): rules and source, title,
    snippet, link."""
    shown = render(alert)
    return "\n\n".join(
        part
        for part in (
            "; ".join(rule for rule, _ in shown.rules) + " · " + shown.source,
            plain(shown.title),
            plain(shown.snippet),
            shown.link or "",
        )
        if part
    )
