"""Store, deliveries: the outbox's queue and its state machine (routing -> here ->
bot/outbox.py -> adapters).

An alert is written here before any send; ``(destination, story_key)`` is unique, so
the same story never reaches the same destination twice, across restarts and across
sources.  Each destination's lane asks what is due (``due_destinations``,
``claim_deliveries``, ``due_digest``, ``pending_notices``, ``due_edits``), tells how
each send ended (``record_send``, ``record_digest``, ``defer_edit``), and asks when it
next has something to do (``next_due_at``).  How long to wait after a failure is
decided here too.

States (``State``) and the moves between them (``TRANSITIONS``, data; in short):

    (new) -> pending | digest | suppressed     enqueue_alert (suppressed: muted there)
    pending -> pending    deferred: a retry, quiet hours, a broken destination (parked)
    pending -> sent       mark_sent
    digest  -> digest     the digest failed; tried again later
    digest  -> sent       mark_digest_sent
    sent, suppressed      final

A send in hand is still ``pending``: a crash before ``mark_sent`` sends it again on
restart (at least once; the adapter's send is the only thing repeated).  A destination
that refuses for good is "broken" (``destination_state``): its alert stays pending,
tried again after ``BROKEN_RETRY``.  Notices (the bot's own messages) go pending ->
sent.  Any other move raises ``IllegalTransition`` and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from bot.model import Alert, OutgoingMessage, SendResult, SendStatus
from bot.store.connection import Concern
from bot.store.rows import (
    StoredAlert,
    alert_from_json,
    alert_from_row,
    alert_to_json,
    from_iso,
    iso,
)

MAX_BACKOFF = timedelta(minutes=10)  # a failed send waits 2, 4, 8 ... s, at most this
BROKEN_RETRY = timedelta(minutes=15)  # a broken destination is tried again after this
DIGEST_RETRY = timedelta(minutes=1)  # a digest that failed without a Retry-After
EDIT_RETRY = timedelta(seconds=30)  # a redraw or thread reply that failed


class State(StrEnum):
    PENDING = "pending"  # due at next_attempt_at; a send in hand is still pending
    DIGEST = "digest"  # collected for the destination's digest, due at next_attempt_at
    SUPPRESSED = "suppressed"  # muted in that chat: recorded, never sent
    SENT = "sent"  # delivered, alone or in a digest


class Move(NamedTuple):
    was: frozenset[State | None]  # the states it may start from (None: a new row)
    to: State


# Every move an alert or a notice can make: which state may go to which.
TRANSITIONS: Mapping[str, Move] = {
    "enqueue": Move(frozenset({None}), State.PENDING),
    "collect": Move(frozenset({None}), State.DIGEST),  # for the destination's digest
    "suppress": Move(frozenset({None}), State.SUPPRESSED),  # muted in that chat
    "defer": Move(frozenset({State.PENDING}), State.PENDING),  # retry, quiet hours, parked
    "send": Move(frozenset({State.PENDING}), State.SENT),
    "delay_digest": Move(frozenset({State.DIGEST}), State.DIGEST),
    "send_digest": Move(frozenset({State.DIGEST}), State.SENT),
}


class IllegalTransition(Exception):
    """A move the table does not allow (e.g. an alert sent twice); nothing was written."""

    def __init__(self, table: str, row_id: int | None, was: str | None, move: str):
        to = TRANSITIONS[move].to
        super().__init__(f"{table} {row_id}: cannot {move} from {was or 'nowhere'} to {to}")
        self.was, self.move = was, move


def _states(move: Move) -> str:
    """The SQL list of the states a move starts from."""
    return ", ".join(f"'{state.value}'" for state in move.was if state is not None)


@dataclass(frozen=True)
class Verdict:
    """How a send ended, as recorded: sent, or pending again (deferred or parked)."""

    state: State
    retry_in: timedelta | None = None  # when pending again: the wait before the next try
    parked: bool = False  # the destination is broken (the alert waits ``BROKEN_RETRY``)
    recovered: bool = False  # sent to a destination that was marked broken until now


class Deliveries(Concern):
    def _move(self, table: str, row_id: int, move: str, changes: str, args: list[Any]) -> None:
        """Make ``move`` (``TRANSITIONS``) on one row of ``table``, setting ``changes``
        too, or raise ``IllegalTransition`` (writing nothing) when the row is in a state
        the move may not start from."""
        step = TRANSITIONS[move]
        cursor = self.db.execute(
            f"update {table} set state = ?, {changes} where id = ? and state in ({_states(step)})",
            [step.to.value, *args, row_id],
        )
        if not cursor.rowcount:
            row = self.db.execute(f"select state from {table} where id = ?", [row_id]).fetchone()
            raise IllegalTransition(table, row_id, row[0] if row else None, move)

    def due_destinations(self, now: datetime) -> set[str]:
        """The destinations that have something due now: alerts, edits, a digest,
        notices (the outbox opens a lane for each)."""
        return {
            *self.pending_destinations(),
            *self.edit_destinations(now),
            *self.digest_destinations(now),
            *self.notice_destinations(),
        }

    def record_send(
        self, alert_id: int, destination: str, result: SendResult, now: datetime
    ) -> Verdict:
        """Record how sending a claimed alert ended, in one transaction: sent; broken
        (the destination is marked broken, the alert parked for ``BROKEN_RETRY``); or a
        retry after the adapter's ``retry_after`` (a 429) or an exponential backoff."""
        with self._tx():
            if result.status is SendStatus.SENT:
                self.mark_sent(alert_id, now, result.remote_id)
                return Verdict(State.SENT, recovered=self.clear_destination_broken(destination))
            if result.status is SendStatus.BROKEN:
                self.mark_destination_broken(destination, result.detail, now)
                self.mark_retry(alert_id, result.detail, now + BROKEN_RETRY)
                return Verdict(State.PENDING, BROKEN_RETRY, parked=True)
            attempts = self.attempts(alert_id)
            delay = (
                result.retry_after
                if result.retry_after is not None
                else min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 10)))
            )
            self.mark_retry(alert_id, result.detail, now + delay)
            return Verdict(State.PENDING, delay)

    def record_digest(
        self, destination: str, alert_ids: list[int], result: SendResult, now: datetime
    ) -> timedelta | None:
        """Record how sending a digest ended, in one transaction; None when it was sent,
        else the wait before it is tried again (``BROKEN_RETRY`` for a broken
        destination, which is marked so)."""
        with self._tx():
            if result.status is SendStatus.SENT:
                self.mark_digest_sent(alert_ids, now)
                return None
            delay = result.retry_after if result.retry_after is not None else DIGEST_RETRY
            if result.status is SendStatus.BROKEN:
                self.mark_destination_broken(destination, result.detail, now)
                delay = BROKEN_RETRY
            self.delay_digest(destination, now + delay, result.detail)
            return delay

    def defer_edit(self, alert_id: int, result: SendResult, now: datetime) -> None:
        """A redraw that was not done: tried again after ``retry_after`` (``EDIT_RETRY``
        without one)."""
        delay = result.retry_after if result.retry_after is not None else EDIT_RETRY
        self.edit_retry(alert_id, result.detail, now + delay)

    def defer_reply(self, alert_id: int, result: SendResult, now: datetime) -> None:
        """A thread reply that was not sent: tried again after ``retry_after`` (or
        ``EDIT_RETRY``), after ``BROKEN_RETRY`` when the destination is broken."""
        delay = result.retry_after or EDIT_RETRY
        if result.status is SendStatus.BROKEN:
            delay = BROKEN_RETRY
        self.edit_retry(alert_id, result.detail, now + delay)

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
        move = "suppress" if suppressed else "collect" if digest_at else "enqueue"
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
                    TRANSITIONS[move].to.value,
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
        """pending -> sent."""
        with self._tx():
            self._move(
                "alerts",
                alert_id,
                "send",
                "sent_at = ?, remote_id = ?, attempts = attempts + 1, last_error = null",
                [iso(now), remote_id],
            )

    def mark_retry(self, alert_id: int, error: str, next_attempt: datetime) -> None:
        """pending -> pending: deferred until ``next_attempt``."""
        with self._tx():
            self._move(
                "alerts",
                alert_id,
                "defer",
                "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
                [error, iso(next_attempt)],
            )

    def attempts(self, alert_id: int) -> int:
        row = self.db.execute("select attempts from alerts where id = ?", [alert_id]).fetchone()
        return int(row[0]) if row else 0

    def hold(self, destination: str, until: datetime) -> None:
        """Quiet hours: nothing pending for ``destination`` is sent before ``until``."""
        with self._tx():
            self.db.execute(
                "update alerts set next_attempt_at = ? where destination = ?"
                f" and state in ({_states(TRANSITIONS['defer'])}) and next_attempt_at < ?",
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
                self._move(
                    "alerts",
                    alert_id,
                    "send_digest",
                    "sent_at = ?, remote_id = NULL, attempts = attempts + 1",
                    [iso(now)],
                )

    def delay_digest(self, destination: str, until: datetime, error: str) -> None:
        """digest -> digest: the whole digest of ``destination`` waits until ``until``."""
        with self._tx():
            self.db.execute(
                "update alerts set next_attempt_at = ?, last_error = ?, attempts = attempts + 1"
                f" where destination = ? and state in ({_states(TRANSITIONS['delay_digest'])})",
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
        """A notice: pending -> sent."""
        with self._tx():
            self._move("notices", notice_id, "send", "remote_id = ?", [remote_id])

    def noticed_since(self, destination: str, kind: str, subject: str, since: datetime) -> bool:
        return bool(
            self.db.execute(
                "select 1 from notices where destination = ? and kind = ? and subject = ?"
                " and created_at >= ? limit 1",
                [destination, kind, subject, iso(since)],
            ).fetchone()
        )
