"""Store, stories: dedup's memory and what is told under an alert (bot/dedup.py).

The fingerprints of the dedup window, sightings (another item that tells an alerted
story), notes under an alert (edited, deleted), and how much of them an alert's thread
has been told.  The outbox reads them to compose an alert's note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.model import Item
from bot.store.connection import Concern
from bot.store.rows import StoredAlert, alert_from_row, from_iso, iso


@dataclass(frozen=True)
class Sighting:
    """Another item that tells an alerted story."""

    source: str
    title: str
    link: str | None
    seen_at: datetime
    reason: str


class Stories(Concern):
    def alerts_for_story(self, story_key: str) -> list[StoredAlert]:
        """Alerts of a story: its first alert per destination and any later one that a
        new rule made (``<story_key>#<rules>``)."""
        rows = self.db.query(  # "#" < "$": the range is every "<story_key>#..." (indexed)
            "select * from alerts where story_key = ? or (story_key > ? and story_key < ?)"
            " order by id",
            [story_key, story_key + "#", story_key + "$"],
        )
        return [alert_from_row(r) for r in rows]

    def add_sighting(self, story_key: str, item: Item, reason: str, now: datetime) -> bool:
        """Record that ``item`` (from another source, or later) tells an alerted story."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into sightings (story_key, source, item_key, title, link,"
                " seen_at, reason) values (?, ?, ?, ?, ?, ?, ?)",
                [story_key, item.source, item.key, item.title[:300], item.link, iso(now), reason],
            )
            return bool(cursor.rowcount)

    def sightings(self, story_key: str) -> list[Sighting]:
        return [
            Sighting(
                r["source"],
                r["title"],
                r["link"],
                from_iso(r["seen_at"]) or datetime.now(UTC),
                r["reason"],
            )
            for r in self.db.query(
                "select * from sightings where story_key = ? order by seen_at", [story_key]
            )
        ]

    def add_note(self, alert_id: int, kind: str, text: str, now: datetime) -> None:
        with self._tx():
            self.db.execute(
                "insert into alert_notes (alert_id, kind, text, created_at) values (?, ?, ?, ?)",
                [alert_id, kind, text, iso(now)],
            )

    def notes(self, alert_id: int) -> list[tuple[str, str]]:
        """(kind, text) of the notes under an alert, oldest first."""
        return [
            (r["kind"], r["text"])
            for r in self.db.query(
                "select kind, text from alert_notes where alert_id = ? order by id", [alert_id]
            )
        ]

    def has_note(self, alert_id: int, kind: str) -> bool:
        return bool(
            self.db.execute(
                "select 1 from alert_notes where alert_id = ? and kind = ? limit 1",
                [alert_id, kind],
            ).fetchone()
        )

    def told_counts(self, alert_id: int, story: str) -> tuple[int, int]:
        """How many sightings of ``story`` and notes of the alert there are now."""
        sightings = self.db.execute(
            "select count(*) from sightings where story_key = ?", [story]
        ).fetchone()[0]
        notes = self.db.execute(
            "select count(*) from alert_notes where alert_id = ?", [alert_id]
        ).fetchone()[0]
        return int(sightings), int(notes)

    def replied(self, alert_id: int) -> tuple[int, int]:
        """How many of the alert's sightings and notes its thread has been told of."""
        row = self.db.execute(
            "select replied_sightings, replied_notes from alerts where id = ?", [alert_id]
        ).fetchone()
        return (row[0] or 0, row[1] or 0) if row else (0, 0)

    def set_replied(self, alert_id: int, sightings: int, notes: int) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set replied_sightings = ?, replied_notes = ? where id = ?",
                [sightings, notes, alert_id],
            )

    def save_fingerprint(self, story_key: str, item_key: str, data: str, now: datetime) -> None:
        with self._tx():
            self.db.execute(
                "insert or replace into fingerprints (story_key, item_key, data, seen_at)"
                " values (?, ?, ?, ?)",
                [story_key, item_key, data, iso(now)],
            )

    def fingerprints_since(self, since: datetime) -> list[tuple[str, str, datetime]]:
        """(story_key, data, seen_at) of the fingerprints kept since ``since``."""
        return [
            (r["story_key"], r["data"], from_iso(r["seen_at"]) or since)
            for r in self.db.query(
                "select story_key, data, seen_at from fingerprints where seen_at >= ?"
                " order by seen_at",
                [iso(since)],
            )
        ]

    def forget_fingerprints(self, before: datetime) -> None:
        with self._tx():
            self.db.execute("delete from fingerprints where seen_at < ?", [iso(before)])
