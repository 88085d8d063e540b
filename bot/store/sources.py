"""Store, sources and items: the first stage's memory (watchers -> ``Item``).

Each source's fetch state (conditional GET, cursor, redirect target) and health
(errors, next check, disabled), the sources added from chat, and every item seen, so
that nothing alerts twice: ``record_items`` says which items are new and which were
edited since (a new ``revision``).  The scheduler asks ``due_sources`` each tick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.model import FetchState, Item, Source
from bot.store.connection import Concern
from bot.store.rows import ITEM_TEXT_KEPT, from_iso, iso, item_from_row, media_to_json


@dataclass(frozen=True)
class SourceHealth:
    """A source's state as ``dozor status`` and ``/sources`` show it."""

    name: str
    url: str | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None
    error_count: int
    next_check_at: datetime | None
    disabled_reason: str | None
    last_item_at: datetime | None
    items_seen: int

    @property
    def ok(self) -> bool:
        return not self.disabled_reason and not self.failing_since


class Sources(Concern):
    def sync_sources(self, sources: tuple[Source, ...] | list[Source]) -> None:
        """Create state rows for new sources; reset the state of one whose URL changed."""
        table = self.db["source_state"]
        with self._tx():
            for source in sources:
                row = self._state_row(source.name)
                if row is None:
                    table.insert({"name": source.name, "configured_url": source.url})
                elif row["configured_url"] != source.url:
                    table.update(
                        source.name,
                        {
                            "configured_url": source.url,
                            "url": None,
                            "etag": None,
                            "last_modified": None,
                            "body_hash": None,
                            "disabled_reason": None,
                            "failing_since": None,
                            "error_count": 0,
                            "next_check_at": None,
                        },
                    )

    def _state_row(self, name: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from source_state where name = ?", [name]))
        return rows[0] if rows else None

    def due_sources(
        self, sources: list[Source] | tuple[Source, ...], now: datetime
    ) -> list[Source]:
        """Enabled sources whose next check has come, soonest first."""
        rows = {
            r["name"]: r
            for r in self.db.query("select name, next_check_at, disabled_reason from source_state")
        }
        due = []
        for source in sources:
            row = rows.get(source.name)
            if not source.enabled or (row and row["disabled_reason"]):
                continue
            if row is None or not row["next_check_at"] or row["next_check_at"] <= iso(now):
                due.append((row["next_check_at"] if row and row["next_check_at"] else "", source))
        return [s for _, s in sorted(due, key=lambda pair: pair[0])]

    def fetch_state(self, name: str) -> FetchState:
        row = self._state_row(name) or {}
        return FetchState(
            url=row.get("url"),
            etag=row.get("etag"),
            last_modified=row.get("last_modified"),
            body_hash=row.get("body_hash"),
            cursor=row.get("cursor"),
        )

    def baseline_done(self, name: str) -> bool:
        row = self._state_row(name)
        return bool(row and row["baseline_done"])

    def record_success(
        self,
        name: str,
        state: FetchState,
        now: datetime,
        next_check: datetime,
        *,
        new_items: int = 0,
        last_item_at: datetime | None = None,
    ) -> None:
        changes: dict[str, Any] = {
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "body_hash": state.body_hash,
            "cursor": state.cursor,
            "last_poll_at": iso(now),
            "last_success_at": iso(now),
            "failing_since": None,
            "error_count": 0,
            "next_check_at": iso(next_check),
            "baseline_done": 1,
        }
        if last_item_at is not None:
            changes["last_item_at"] = iso(last_item_at)
        with self._tx():
            self.db["source_state"].update(name, changes)
            if new_items:
                self.db.execute(
                    "update source_state set items_seen = items_seen + ? where name = ?",
                    [new_items, name],
                )

    def record_error(self, name: str, error: str, now: datetime, next_check: datetime) -> int:
        """Count a failed poll; returns how many polls in a row have failed."""
        row = self._state_row(name) or {}
        count = int(row.get("error_count") or 0) + 1
        with self._tx():
            self.db["source_state"].update(
                name,
                {
                    "last_poll_at": iso(now),
                    "last_error": error,
                    "last_error_at": iso(now),
                    "failing_since": row.get("failing_since") or iso(now),
                    "error_count": count,
                    "next_check_at": iso(next_check),
                },
            )
        return count

    def error_count(self, name: str) -> int:
        row = self._state_row(name)
        return int(row["error_count"] or 0) if row else 0

    def disable_source(self, name: str, reason: str, now: datetime) -> None:
        with self._tx():
            self.db["source_state"].update(
                name,
                {
                    "disabled_reason": reason,
                    "last_poll_at": iso(now),
                    "last_error": reason,
                    "last_error_at": iso(now),
                    "next_check_at": None,
                },
            )

    def next_check_at(self) -> datetime | None:
        """When the next source is due (disabled sources aside): one query, not a read
        of every source's health (the poll cycle's log line asks it at every tick)."""
        row = self.db.execute(
            "select min(next_check_at) from source_state"
            " where next_check_at is not null and next_check_at != ''"
            " and coalesce(disabled_reason, '') = ''"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def source_health(self) -> list[SourceHealth]:
        out = []
        for r in self.db.query("select * from source_state order by name"):
            out.append(
                SourceHealth(
                    name=r["name"],
                    url=r["url"] or r["configured_url"],
                    last_poll_at=from_iso(r["last_poll_at"]),
                    last_success_at=from_iso(r["last_success_at"]),
                    last_error=r["last_error"],
                    last_error_at=from_iso(r["last_error_at"]),
                    failing_since=from_iso(r["failing_since"]),
                    error_count=int(r["error_count"] or 0),
                    next_check_at=from_iso(r["next_check_at"]),
                    disabled_reason=r["disabled_reason"],
                    last_item_at=from_iso(r["last_item_at"]),
                    items_seen=int(r["items_seen"] or 0),
                )
            )
        return out

    def add_chat_source(self, source: Source, by: str, now: datetime) -> bool:
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into chat_sources (name, kind, url, tags, added_by, added_at)"
                " values (?, ?, ?, ?, ?, ?)",
                [source.name, source.kind, source.url, json.dumps(list(source.tags)), by, iso(now)],
            )
            return bool(cursor.rowcount)

    def remove_chat_source(self, name: str) -> bool:
        with self._tx():
            return bool(self.db.execute("delete from chat_sources where name = ?", [name]).rowcount)

    def chat_sources(self, interval: timedelta) -> list[Source]:
        return [
            Source(
                r["name"],
                r["kind"],
                r["url"],
                interval,
                tuple(json.loads(r["tags"] or "[]")),
                trusted=False,  # added from chat: never a private or loopback address
            )
            for r in self.db.query("select * from chat_sources order by added_at")
        ]

    def mark_seen(self, items: list[Item] | tuple[Item, ...], now: datetime) -> list[Item]:
        """Record items; return those never seen before from their source, in order."""
        return self.record_items(items, now)[0]

    def record_items(
        self, items: list[Item] | tuple[Item, ...], now: datetime
    ) -> tuple[list[Item], list[Item]]:
        """Record items; return (never seen before, seen but edited since: a new
        ``revision``), each in order."""
        new: list[Item] = []
        revised: list[Item] = []
        with self._tx():
            for item in items:
                cursor = self.db.execute(
                    "insert or ignore into items (source, key, story_key, title, link,"
                    " published_at, first_seen_at, text, tags, revision, media)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        item.source,
                        item.key,
                        item.story_key,
                        item.title[:500],
                        item.link,
                        iso(item.published) if item.published else None,
                        iso(now),
                        item.text[:ITEM_TEXT_KEPT],
                        json.dumps(list(item.tags), ensure_ascii=False),
                        item.revision or None,
                        _media_json(item),
                    ],
                )
                if cursor.rowcount:
                    new.append(item)
                elif item.revision:
                    changed = self.db.execute(
                        "update items set revision = ?, title = ?, text = ?, media = ?"
                        " where source = ? and key = ? and revision is not null"
                        " and revision != ?",
                        [
                            item.revision,
                            item.title[:500],
                            item.text[:ITEM_TEXT_KEPT],
                            _media_json(item),
                            item.source,
                            item.key,
                            item.revision,
                        ],
                    )
                    if changed.rowcount:
                        revised.append(item)
        return new, revised

    def items_count(self) -> int:
        return self.db["items"].count

    def recent_items(self, since: datetime, limit: int = 2000) -> list[Item]:
        """Items first seen since ``since``, newest first (for /test and /watch)."""
        rows = self.db.query(
            "select * from items where first_seen_at >= ? order by first_seen_at desc limit ?",
            [iso(since), limit],
        )
        return [item_from_row(r) for r in rows]


def _media_json(item: Item) -> str | None:
    """An item's media records as stored (null for none: old rows and new look alike)."""
    if not item.media:
        return None
    return json.dumps(media_to_json(item.media), ensure_ascii=False)
