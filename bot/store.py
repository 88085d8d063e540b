"""The SQLite store (sqlite-utils, WAL): the only module that writes SQL.

It keeps what must survive a restart: each source's fetch state and health, every
item seen (so nothing alerts twice), and the outbox of alerts.  An alert is written
here before any send; ``(destination, story_key)`` is unique, so the same story never
reaches the same destination twice, across restarts and across sources.  Methods are
named for intent; times are stored as ISO 8601 UTC strings, which sort as times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.migrations import MIGRATIONS
from bot.model import Alert, FetchState, Item, Match, OutgoingMessage, Source, Span


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


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


class Store:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    @classmethod
    def open(cls, path: Path | str) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA busy_timeout = 5000")
        if str(path) != ":memory:":
            db.enable_wal()
        store = cls(db)
        store.migrate()
        return store

    def close(self) -> None:
        self.db.conn.close()

    def migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number > version:
                with self.db.conn:
                    migration(self.db)
                    self.db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    # -- sources -------------------------------------------------------------------

    def sync_sources(self, sources: tuple[Source, ...] | list[Source]) -> None:
        """Create state rows for new sources; reset the state of one whose URL changed."""
        table = self.db["source_state"]
        with self.db.conn:
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
            "last_poll_at": iso(now),
            "last_success_at": iso(now),
            "failing_since": None,
            "error_count": 0,
            "next_check_at": iso(next_check),
            "baseline_done": 1,
        }
        if last_item_at is not None:
            changes["last_item_at"] = iso(last_item_at)
        with self.db.conn:
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
        with self.db.conn:
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
        with self.db.conn:
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

    # -- items ---------------------------------------------------------------------

    def mark_seen(self, items: list[Item] | tuple[Item, ...], now: datetime) -> list[Item]:
        """Record items; return those never seen before from their source, in order."""
        new = []
        with self.db.conn:
            for item in items:
                cursor = self.db.execute(
                    "insert or ignore into items"
                    " (source, key, story_key, title, link, published_at, first_seen_at)"
                    " values (?, ?, ?, ?, ?, ?, ?)",
                    [
                        item.source,
                        item.key,
                        item.story_key,
                        item.title[:500],
                        item.link,
                        iso(item.published) if item.published else None,
                        iso(now),
                    ],
                )
                if cursor.rowcount:
                    new.append(item)
        return new

    def items_count(self) -> int:
        return self.db["items"].count

    # -- outbox --------------------------------------------------------------------

    def enqueue_alert(self, alert: Alert, now: datetime) -> int | None:
        """Put an alert in the outbox; None when this story already went to that destination."""
        with self.db.conn:
            cursor = self.db.execute(
                "insert or ignore into alerts (destination, story_key, source, rules, payload,"
                " created_at, state, attempts, next_attempt_at) values (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                [
                    alert.destination,
                    alert.story_key,
                    alert.item.source,
                    ", ".join(m.rule for m in alert.matches),
                    json.dumps(alert_to_json(alert), ensure_ascii=False),
                    iso(now),
                    "pending",
                    iso(now),
                ],
            )
            return cursor.lastrowid if cursor.rowcount else None

    def claim_deliveries(
        self, destination: str, now: datetime, limit: int = 50
    ) -> list[OutgoingMessage]:
        """The oldest pending alerts of one destination, up to the first that is not due
        yet: an alert waiting for a retry holds back the later ones, so order holds."""
        rows = self.db.query(
            "select id, payload, next_attempt_at from alerts"
            " where destination = ? and state = 'pending' order by id limit ?",
            [destination, limit],
        )
        due = []
        for r in rows:
            if r["next_attempt_at"] > iso(now):
                break
            due.append(
                OutgoingMessage(r["id"], destination, alert_from_json(json.loads(r["payload"])))
            )
        return due

    def pending_destinations(self) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct destination from alerts where state = 'pending'"
                " order by destination"
            )
        ]

    def next_attempt_at(self) -> datetime | None:
        row = self.db.execute(
            "select min(next_attempt_at) from alerts where state = 'pending'"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def mark_sent(self, alert_id: int, now: datetime, remote_id: str | None = None) -> None:
        with self.db.conn:
            self.db.execute(
                "update alerts set state = 'sent', sent_at = ?, remote_id = ?,"
                " attempts = attempts + 1, last_error = null where id = ?",
                [iso(now), remote_id, alert_id],
            )

    def mark_retry(self, alert_id: int, error: str, next_attempt: datetime) -> None:
        with self.db.conn:
            self.db.execute(
                "update alerts set attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " where id = ?",
                [error, iso(next_attempt), alert_id],
            )

    def attempts(self, alert_id: int) -> int:
        row = self.db.execute("select attempts from alerts where id = ?", [alert_id]).fetchone()
        return int(row[0]) if row else 0

    def mark_destination_broken(self, name: str, reason: str, now: datetime) -> None:
        with self.db.conn:
            self.db["destination_state"].upsert(
                {"name": name, "broken_reason": reason, "broken_since": iso(now)}, pk="name"
            )

    def clear_destination_broken(self, name: str) -> None:
        with self.db.conn:
            self.db.execute("delete from destination_state where name = ?", [name])

    def broken_destinations(self) -> dict[str, str]:
        return {
            r["name"]: r["broken_reason"] for r in self.db.query("select * from destination_state")
        }

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        """{destination: {state: count}}."""
        out: dict[str, dict[str, int]] = {}
        for r in self.db.query(
            "select destination, state, count(*) as n from alerts group by destination, state"
        ):
            out.setdefault(r["destination"], {})[r["state"]] = r["n"]
        return out

    def sent_alerts(self, destination: str | None = None) -> list[tuple[int, Alert]]:
        sql = "select id, payload from alerts where state = 'sent'"
        args: list[Any] = []
        if destination:
            sql += " and destination = ?"
            args.append(destination)
        return [
            (r["id"], alert_from_json(json.loads(r["payload"])))
            for r in self.db.query(sql + " order by id", args)
        ]


# -- serialization of alerts (the outbox keeps everything needed to render them) ----


def alert_to_json(alert: Alert) -> dict[str, Any]:
    item = alert.item
    return {
        "destination": alert.destination,
        "story_key": alert.story_key,
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
    )
    matches = tuple(
        Match(
            rule=m["rule"],
            terms=tuple(m["terms"]),
            spans=tuple(Span(f, s, e, t) for f, s, e, t in m["spans"]),
        )
        for m in data["matches"]
    )
    return Alert(data["destination"], item, matches, data["story_key"])
