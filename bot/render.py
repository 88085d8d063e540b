"""Alert -> text: the parts every adapter shows (snippet with marked words, when, rules).

Adapters turn these neutral pieces into their own markup (console text here;
Telegram HTML and Slack Block Kit later).  A snippet is a tuple of ``(text, marked)``
segments cut from the original item text around the matched spans, so the words that
fired are exactly the ones marked.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.model import Alert, Span

Segments = tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class RenderedAlert:
    source: str
    title: Segments
    snippet: Segments
    link: str | None
    published: str | None
    rules: tuple[tuple[str, tuple[str, ...]], ...]  # (rule, terms that fired)


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, spans: Sequence[tuple[int, int]]) -> Segments:
    """Split ``text`` into plain and marked segments at the (merged) spans."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merge_spans([(max(0, s), min(len(text), e)) for s, e in spans]):
        if start >= end:
            continue
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
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
        return ((text[:cut].rstrip() + " …", False),)
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
        source=item.source,
        title=mark(item.title, [(s.start, s.end) for s in spans["title"]]),
        snippet=snippet(item.text, [(s.start, s.end) for s in spans["text"]], width),
        link=item.link,
        published=format_time(item.published),
        rules=tuple((m.rule, m.terms) for m in alert.matches),
    )


def format_time(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None


def plain(segments: Segments, left: str = "", right: str = "") -> str:
    return "".join(f"{left}{t}{right}" if marked else t for t, marked in segments)
