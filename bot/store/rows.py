"""How rows of the store become model values and back: times as ISO 8601 UTC strings
(which sort as times), alerts as the JSON the outbox keeps (everything needed to render
them again), items as the store kept them, media records as JSON lists (an old alert's plain kinds
read as records of that kind).  A leaf of the store package: every concern
module may import it; it imports none of them.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.model import Alert, Item, Match, Media, Span

ITEM_TEXT_KEPT = 5000  # characters of each item's text kept for /test and /watch


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class StoredAlert:
    id: int
    alert: Alert
    state: str
    remote_id: str | None
    created_at: datetime


def item_from_row(r: dict[str, Any]) -> Item:
    """An item as the store kept it (its text cut to ``ITEM_TEXT_KEPT``)."""
    return Item(
        source=r["source"],
        key=r["key"],
        story_key=r["story_key"],
        title=r["title"] or "",
        text=r["text"] or "",
        link=r["link"],
        published=from_iso(r["published_at"]),
        tags=tuple(json.loads(r["tags"] or "[]")),
        media=media_from_json(json.loads(r.get("media") or "[]")),
    )


_MEDIA_FIELDS = ("kind", "url", "width", "height", "size", "mime", "duration", "name", "alt")


def media_to_json(media: tuple[Media, ...]) -> list[dict[str, Any]]:
    """Media records as JSON objects, the fields not known left out."""
    return [
        {name: getattr(m, name) for name in _MEDIA_FIELDS if getattr(m, name) is not None}
        for m in media
    ]


def media_from_json(data: Any) -> tuple[Media, ...]:
    """Media records from ``media_to_json``'s list; a plain string (what alerts stored
    before media were records: just the kind) is a record of that kind."""
    out: list[Media] = []
    for entry in data if isinstance(data, list) else ():
        if isinstance(entry, str):
            out.append(Media(entry))
        elif isinstance(entry, dict) and isinstance(entry.get("kind"), str):
            out.append(Media(**{k: v for k, v in entry.items() if k in _MEDIA_FIELDS}))
    return tuple(out)


def among(column: str, values: Collection[str] | None) -> tuple[str, list[str]]:
    """An ``and <column> in (...)`` clause and its arguments; none for ``values`` None."""
    if values is None:
        return "", []
    args = list(values)
    return f" and {column} in ({', '.join('?' for _ in args)})", args


def alert_from_row(r: dict[str, Any]) -> StoredAlert:
    return StoredAlert(
        r["id"],
        alert_from_json(json.loads(r["payload"])),
        r["state"],
        r["remote_id"],
        from_iso(r["created_at"]) or datetime.now(UTC),
    )


# -- serialization of alerts (the outbox keeps everything needed to render them) ----


def alert_to_json(alert: Alert) -> dict[str, Any]:
    item = alert.item
    return {
        "destination": alert.destination,
        "story_key": alert.story_key,
        "silent": alert.silent,
        "severity": alert.severity,
        **({"media": alert.media} if alert.media else {}),
        "item": {
            "source": item.source,
            "key": item.key,
            "story_key": item.story_key,
            "title": item.title,
            "text": item.text,
            "link": item.link,
            "published": iso(item.published) if item.published else None,
            "author": item.author,
            "tags": list(item.tags),
            "media": media_to_json(item.media),
        },
        "matches": [
            {
                "rule": m.rule,
                "terms": list(m.terms),
                "spans": [[s.field, s.start, s.end, s.term] for s in m.spans],
            }
            for m in alert.matches
        ],
    }


def alert_from_json(data: dict[str, Any]) -> Alert:
    raw = data["item"]
    item = Item(
        source=raw["source"],
        key=raw["key"],
        story_key=raw["story_key"],
        title=raw["title"],
        text=raw["text"],
        link=raw["link"],
        published=from_iso(raw["published"]),
        author=raw["author"],
        tags=tuple(raw["tags"]),
        media=media_from_json(raw.get("media")),
    )
    matches = tuple(
        Match(
            rule=m["rule"],
            terms=tuple(m["terms"]),
            spans=tuple(Span(f, s, e, t) for f, s, e, t in m["spans"]),
        )
        for m in data["matches"]
    )
    return Alert(
        data["destination"],
        item,
        matches,
        data["story_key"],
        bool(data.get("silent")),
        str(data.get("severity") or "normal"),
        data.get("media"),
    )
