"""Store, deliveries: the outbox's queue (routing -> here -> bot/outbox.py -> adapters).

An alert is written here before any send; ``(destination, story_key)`` is unique, so
the same story never reaches the same destination twice, across restarts and across
sources.  Each destination's lane asks what is due (alerts, a digest, notices, edits),
records how each send ended, and when it next has something to do.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.model import Alert, OutgoingMessage
from bot.store.connection import Concern
from bot.store.rows import (
    StoredAlert,
    alert_from_json,
    alert_from_row,
    alert_to_json,
    from_iso,
    iso,
)


class Deliveries(Concern):
    def enqueue_alert(
        self,
        alert: Alert,
        now: datetime,
        *,
        suppressed: bool = False,
        digest_at: datetime | None = None,
    ) -> int | None:
        """Put an alert in the outbox; None when this story already went to that destination.

        A ``suppressed`` alert (muted in that chat) is recorded but never sent, not even
        after the mute ends."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into alerts (destination, story_key, source, rules, payload,"
                " created_at, state, attempts, next_attempt_at, item_key)"
                " values (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [
                    alert.destination,
                    alert.story_key,
                    alert.item.source,
                    ", ".join(m.rule for m in alert.matches),
                    json.dumps(alert_to_json(alert), ensure_ascii=False),
                    iso(now),
                    "suppressed" if suppressed else "digest" if digest_at else "pending",
                    iso(digest_at or now),
                    alert.item.key,
                ],
            )
            return cursor.lastrowid if cursor.rowcount else None

    def claim_deliveries(
        self, destination: str, now: datetime, limit: int = 50
    ) -> list[OutgoingMessage]:
        """The oldest pending alerts of one destination, up to the first that is not due
        yet: an alert waiting for a retry holds back the later ones, so order holds."""
        rows = self.db.query(
            "select id, payload, next_attempt_at, created_at from alerts"
            " where destination = ? and state = 'pending' order by id limit ?",
            [destination, limit],
        )
        due = []
        for r in rows:
            if r["next_attempt_at"] > iso(now):
                break
            due.append(
                OutgoingMessage(
                    r["id"],
                    destination,
                    alert_from_json(json.loads(r["payload"])),
                    from_iso(r["created_at"]),
                )
            )
        return due

    def mark_sent(self, alert_id: int, now: datetime, remote_id: str | None = None) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set state = 'sent', sent_at = ?, remote_id = ?,"
                " attempts = attempts + 1, last_error = null where id = ?",
                [iso(now), remote_id, alert_id],
            )

    def mark_retry(self, alert_id: int, error: str, next_attempt: datetime) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " where id = ?",
                [error, iso(next_attempt), alert_id],
            )

    def attempts(self, alert_id: int) -> int:
        row = self.db.execute("select attempts from alerts where id = ?", [alert_id]).fetchone()
        return int(row[0]) if row else 0

    def hold(self, destination: str, until: datetime) -> None:
        """Quiet hours: nothing pending for ``destination`` is sent before ``until``."""
        with self._tx():
            self.db.execute(
                "update alerts set next_attempt_at = ? where destination = ?"
                " and state = 'pending' and next_attempt_at < ?",
                [iso(until), destination, iso(until)],
            )

    def due_digest(self, destination: str, now: datetime) -> list[StoredAlert]:
        """The alerts collected for a digest of ``destination``, once the first of them
        is due (they all go out together), oldest first."""
        first = self.db.execute(
            "select min(next_attempt_at) from alerts where destination = ? and state = 'digest'",
            [destination],
        ).fetchone()[0]
        if not first or first > iso(now):
            return []
        rows = self.db.query(
            "select * from alerts where destination = ? and state = 'digest' order by id",
            [destination],
        )
        return [alert_from_row(r) for r in rows]

    def digest_destinations(self, now: datetime) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select destination from alerts where state = 'digest' group by destination"
                " having min(next_attempt_at) <= ?",
                [iso(now)],
            )
        ]

    def mark_digest_sent(self, alert_ids: list[int], now: datetime) -> None:
        """Sent in a digest: no message of their own (remote_id stays empty), so nothing
        edits the digest as if it were one of them."""
        with self._tx():
            for alert_id in alert_ids:
                self.db.execute(
                    "update alerts set state = 'sent', sent_at = ?, remote_id = NULL,"
                    " attempts = attempts + 1 where id = ?",
                    [iso(now), alert_id],
                )

    def delay_digest(self, destination: str, until: datetime, error: str) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set next_attempt_at = ?, last_error = ?, attempts = attempts + 1"
                " where destination = ? and state = 'digest'",
                [iso(until), error, destination],
            )

    def pending_destinations(self) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct destination from alerts where state = 'pending'"
                " order by destination"
            )
        ]

    def next_attempt_at(self) -> datetime | None:
        """When the outbox next has something to do: a retry, a held alert, a digest."""
        row = self.db.execute(
            "select min(next_attempt_at) from alerts where state in ('pending', 'digest')"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def next_due_at(self, destination: str) -> datetime | None:
        """When one destination next has something to do: a retry, a held alert, a
        digest, an edit or thread reply (its lane sleeps until then or a wake)."""
        row = self.db.execute(
            "select min(at) from ("
            " select min(next_attempt_at) as at from alerts"
            "  where destination = ? and state in ('pending', 'digest')"
            " union all"
            " select min(alert_edits.due_at) from alert_edits cross join alerts"
            "  on alerts.id = alert_edits.alert_id"
            "  where alerts.destination = ? and alerts.state = 'sent')",
            [destination, destination],
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def mark_destination_broken(self, name: str, reason: str, now: datetime) -> None:
        with self._tx():
            self.db["destination_state"].upsert(
                {"name": name, "broken_reason": reason, "broken_since": iso(now)}, pk="name"
            )

    def clear_destination_broken(self, name: str) -> bool:
        """True when the destination was marked broken (and is not any more)."""
        with self._tx():
            cursor = self.db.execute(
                "update destination_state set broken_reason = null, broken_since = null"
                " where name = ? and broken_reason is not null",
                [name],
            )
            return bool(cursor.rowcount)

    def broken_destinations(self) -> dict[str, str]:
        return {
            r["name"]: r["broken_reason"]
            for r in self.db.query(
                "select * from destination_state where broken_reason is not null"
            )
        }

    def request_edit(self, alert_id: int, due: datetime) -> None:
        """Ask for the alert's message to be redrawn once it is sent (several requests:
        one edit)."""
        with self._tx():
            self.db.execute(
                "insert into alert_edits (alert_id, due_at, attempts) values (?, ?, 0)"
                " on conflict(alert_id) do nothing",
                [alert_id, iso(due)],
            )

    def due_edits(self, destination: str, now: datetime, limit: int = 20) -> list[StoredAlert]:
        rows = self.db.query(
            # CROSS JOIN: walk the few edit requests, not every sent alert
            "select alerts.* from alert_edits cross join alerts"
            " on alerts.id = alert_edits.alert_id"
            " where alerts.destination = ? and alerts.state = 'sent'"
            " and alerts.remote_id is not null and alert_edits.due_at <= ?"
            " order by alert_edits.due_at limit ?",
            [destination, iso(now), limit],
        )
        return [alert_from_row(r) for r in rows]

    def edit_destinations(self, now: datetime) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct alerts.destination from alert_edits cross join alerts"
                " on alerts.id = alert_edits.alert_id where alert_edits.due_at <= ?"
                " and alerts.state = 'sent'",
                [iso(now)],
            )
        ]

    def edit_done(self, alert_id: int) -> None:
        with self._tx():
            self.db.execute("delete from alert_edits where alert_id = ?", [alert_id])

    def edit_retry(self, alert_id: int, error: str, due: datetime) -> None:
        with self._tx():
            self.db.execute(
                "update alert_edits set attempts = attempts + 1, last_error = ?, due_at = ?"
                " where alert_id = ?",
                [error, iso(due), alert_id],
            )

    def enqueue_notice(
        self, destination: str, kind: str, subject: str, text: str, now: datetime
    ) -> int:
        with self._tx():
            cursor = self.db.execute(
                "insert into notices (destination, kind, subject, text, created_at, state)"
                " values (?, ?, ?, ?, ?, 'pending')",
                [destination, kind, subject, text, iso(now)],
            )
        return int(cursor.lastrowid or 0)

    def pending_notices(self, destination: str) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "select * from notices where destination = ? and state = 'pending' order by id",
                [destination],
            )
        )

    def notice_destinations(self) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct destination from notices where state = 'pending'"
            )
        ]

    def notice(self, notice_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from notices where id = ?", [notice_id]))
        return rows[0] if rows else None

    def mark_notice_sent(self, notice_id: int, remote_id: str | None) -> None:
        with self._tx():
            self.db.execute(
                "update notices set state = 'sent', remote_id = ? where id = ?",
                [remote_id, notice_id],
            )

    def noticed_since(self, destination: str, kind: str, subject: str, since: datetime) -> bool:
        return bool(
            self.db.execute(
                "select 1 from notices where destination = ? and kind = ? and subject = ?"
                " and created_at >= ? limit 1",
                [destination, kind, subject, iso(since)],
            ).fetchone()
        )
