"""Store, the alerts log: reads of what was alerted (commands, status, stats, notes).

Only reads: an alert by id or by its chat message, the alerts of items (to note edits
and deletions), counts per source and per day.  Every change of an alert's state is
made by bot/store/deliveries.py.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from bot.model import Alert
from bot.store.connection import Concern
from bot.store.rows import StoredAlert, alert_from_json, alert_from_row, among, from_iso, iso


class Alerts(Concern):
    def alert(self, alert_id: int) -> StoredAlert | None:
        rows = list(self.db.query("select * from alerts where id = ?", [alert_id]))
        return alert_from_row(rows[0]) if rows else None

    def alert_by_remote_id(self, destinations: list[str], remote_id: str) -> StoredAlert | None:
        """The alert a chat message is, e.g. the one a user replied to."""
        if not destinations:
            return None
        marks = ", ".join("?" for _ in destinations)
        rows = list(
            self.db.query(
                f"select * from alerts where remote_id = ? and destination in ({marks})",
                [remote_id, *destinations],
            )
        )
        return alert_from_row(rows[0]) if rows else None

    def alerts_of_items(self, source: str, keys: list[str]) -> list[StoredAlert]:
        """The sent alerts of these items of one source (to note edits and deletions)."""
        out: list[StoredAlert] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            out += [
                alert_from_row(r)
                for r in self.db.query(
                    f"select * from alerts where source = ? and item_key in ({marks})"
                    " and state = 'sent' order by id",
                    [source, *chunk],
                )
            ]
        return out

    def alerted_keys(self, source: str, limit: int = 1000) -> list[str]:
        """Item keys of the newest alerts sent from ``source``."""
        return [
            r["item_key"]
            for r in self.db.query(
                "select distinct item_key from alerts where source = ? and state = 'sent'"
                " and item_key is not null order by id desc limit ?",
                [source, limit],
            )
        ]

    def alerts_since(
        self, since: datetime, destinations: Collection[str] | None = None
    ) -> dict[str, int]:
        """{source: alerts created since ``since``}, suppressed ones not counted; only
        those of ``destinations`` when given."""
        where, args = among("destination", destinations)
        return {
            r["source"]: r["n"]
            for r in self.db.query(
                "select source, count(*) as n from alerts where created_at >= ?"
                f" and state != 'suppressed'{where} group by source",
                [iso(since), *args],
            )
        }

    def alerts_by_day(
        self, since: datetime, destinations: Collection[str] | None = None
    ) -> list[tuple[date, str, str, str]]:
        """(day, source, comma-separated rules, story) of every alert since ``since`` that
        a chat was meant to see (suppressed ones are left out), one per destination; only
        those of ``destinations`` when given."""
        where, args = among("destination", destinations)
        return [
            (date.fromisoformat(r["day"]), r["source"], r["rules"] or "", r["story_key"])
            for r in self.db.query(
                "select substr(created_at, 1, 10) as day, source, rules, story_key from alerts"
                f" where created_at >= ? and state != 'suppressed'{where} order by id",
                [iso(since), *args],
            )
        ]

    def count_alerts(self, destination: str, source: str, since: datetime) -> int:
        return int(
            self.db.execute(
                "select count(*) from alerts where destination = ? and source = ?"
                " and created_at >= ? and state != 'suppressed'",
                [destination, source, iso(since)],
            ).fetchone()[0]
        )

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

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        """{destination: {state: count}}."""
        out: dict[str, dict[str, int]] = {}
        for r in self.db.query(
            "select destination, state, count(*) as n from alerts group by destination, state"
        ):
            out.setdefault(r["destination"], {})[r["state"]] = r["n"]
        return out

    def oldest_pending_at(self) -> datetime | None:
        row = self.db.execute(
            "select min(created_at) from alerts where state = 'pending'"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def outbox_depth(self) -> int:
        return int(
            self.db.execute("select count(*) from alerts where state = 'pending'").fetchone()[0]
        )
