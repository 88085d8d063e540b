"""Outbox -> adapters: persisted, ordered, retried delivery of alerts.

Alerts are already in the store when this stage sees them.  Each destination is
drained in alert order by its own task, so one slow or rate-limited destination never
holds up another.  A send ends in one of three ways (``SendResult``): sent (recorded),
retry (the alert stays pending until ``retry_after`` or an exponential backoff; later
alerts for that destination wait behind it so order holds), or broken (the destination
is marked broken with the reason, the alert is kept and tried again much later).
Nothing is ever dropped.

Each round, per destination: quiet hours (inside the window alerts go out silently,
or are held until it ends); the digest, if due (the alerts a destination's or a rule's
``digest`` collected, as one message grouped by rule and story); notices from the bot
itself (a noisy source, with mute buttons); the alerts, in order; then the alerts whose
notes changed ("also seen in", deleted, edited) are redrawn, or, with the
destination's ``also_seen = "thread"``, answered in their thread with what is new.
An edit asked for while the alert is still being sent waits for the send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.commands.buttons import notice_buttons
from bot.commands.types import Button
from bot.metrics import Metrics
from bot.model import Destination, OutgoingMessage, SendResult, SendStatus, story_root
from bot.render import digest_text, notes_text, thread_reply_text
from bot.store import Store

log = logging.getLogger("dozor.outbox")

MAX_BACKOFF = timedelta(minutes=10)
BROKEN_RETRY = timedelta(minutes=15)


class Adapter(Protocol):
    kind: str

    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def edit(self, message: OutgoingMessage) -> SendResult:
        """Redraw a sent alert (``message.remote_id``) with ``message.note`` under it."""
        ...

    async def send_text(
        self,
        destination: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        """A plain message, split as the platform needs (digests, notices); ``reply_to``:
        a sent message's id (its remote id) to answer, in its thread."""
        ...


def compose_note(store: Store, alert_id: int, story_key: str) -> str | None:
    """Everything to show under an alert: where else its story was seen, and its notes."""
    return _compose(store, alert_id, story_key)[0]


def _compose(store: Store, alert_id: int, story_key: str) -> tuple[str | None, tuple[int, int]]:
    """The note, and how many sightings and notes it tells of."""
    sightings = [(s.source, s.seen_at) for s in store.sightings(story_root(story_key))]
    notes = [text for _, text in store.notes(alert_id)]
    return notes_text(sightings, notes), (len(sightings), len(notes))


async def _attempt(call: Awaitable[SendResult], what: str) -> SendResult:
    """An adapter call; an adapter bug becomes a retry (logged), never a lost alert."""
    try:
        return await call
    except Exception as exc:
        log.exception("%s failed", what)
        return SendResult(SendStatus.RETRY, f"unexpected error: {exc!r}")


class Outbox:
    def __init__(
        self,
        store: Store,
        adapter_for: Callable[[str], Adapter | None],
        clock: Callable[[], datetime],
        *,
        batch: int = 50,
        metrics: Metrics | None = None,
        destination_of: Callable[[str], Destination | None] = lambda name: None,
    ):
        self.metrics = metrics
        self.destination_of = destination_of
        self.store = store
        self.adapter_for = adapter_for
        self.clock = clock
        self.batch = batch
        self._wake = asyncio.Event()
        self._warned: set[str] = set()

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self) -> int:
        """Send every alert that is due now, then redraw the sent alerts that asked for
        it ("also seen in", notes); returns how many alerts were sent."""
        now = self.clock()
        wanted = {
            *self.store.pending_destinations(),
            *self.store.edit_destinations(now),
            *self.store.digest_destinations(now),
            *self.store.notice_destinations(),
        }
        adapters = {d: self._adapter(d) for d in sorted(wanted)}
        counts = await asyncio.gather(
            *(self._drain(d, adapter) for d, adapter in adapters.items() if adapter)
        )
        return sum(counts)

    def _adapter(self, destination: str) -> Adapter | None:
        adapter = self.adapter_for(destination)
        if adapter is None and destination not in self._warned:
            self._warned.add(destination)
            log.warning(
                "alerts wait for destination %r, which is not configured now; "
                "they will be sent when it is",
                destination,
            )
        return adapter

    async def _drain(self, destination: str, adapter: Adapter) -> int:
        target = self.destination_of(destination)
        silent = False
        if target is not None and target.quiet_hours is not None:
            now = self.clock()
            if target.quiet_hours.contains(now):
                if target.quiet == "hold":
                    self.store.hold(destination, target.quiet_hours.ends_after(now))
                    return 0
                silent = True
        sent = await self._digest(destination, adapter, target)
        await self._notices(destination, adapter)
        while True:
            batch = self.store.claim_deliveries(destination, self.clock(), self.batch)
            if not batch:
                await self._edits(destination, adapter, target)
                return sent
            for message in batch:
                note, told = _compose(self.store, message.alert_id, message.alert.story_key)
                message = replace(message, note=note, silent=silent or message.alert.silent)
                result = await _attempt(
                    adapter.send(message), f"sending alert {message.alert_id} to {destination}"
                )
                if not self._record(message, result):
                    return sent
                self._told(message, target, told)
                sent += 1

    async def _digest(self, destination: str, adapter: Adapter, target: Destination | None) -> int:
        """Send the collected alerts of a digest destination as one message, if due."""
        due = self.store.due_digest(destination, self.clock())
        if not due:
            return 0
        schedule = str(target.digest) if target is not None and target.digest else "digest"
        text = digest_text([d.alert for d in due], schedule, self.clock())
        result = await _attempt(
            adapter.send_text(destination, text), f"sending the digest to {destination}"
        )
        now = self.clock()
        if result.status is SendStatus.SENT:
            self.store.mark_digest_sent([d.id for d in due], now)
            return len(due)
        delay = result.retry_after if result.retry_after is not None else timedelta(minutes=1)
        if result.status is SendStatus.BROKEN:
            self.store.mark_destination_broken(destination, result.detail, now)
            delay = BROKEN_RETRY
        log.warning(
            "digest for %s not sent (%s); next try in %s", destination, result.detail, delay
        )
        self.store.delay_digest(destination, now + delay, result.detail)
        return 0

    async def _notices(self, destination: str, adapter: Adapter) -> None:
        for notice in self.store.pending_notices(destination):
            buttons = notice_buttons(notice["id"], notice["kind"], notice["subject"])
            result = await _attempt(
                adapter.send_text(destination, notice["text"], buttons),
                f"sending notice {notice['id']} to {destination}",
            )
            if result.status is not SendStatus.SENT:
                return  # tried again on the next round
            self.store.mark_notice_sent(notice["id"], result.remote_id)

    async def _edits(self, destination: str, adapter: Adapter, target: Destination | None) -> None:
        if target is not None and target.also_seen == "thread":
            await self._replies(destination, adapter)
            return
        for stored in self.store.due_edits(destination, self.clock()):
            message = OutgoingMessage(
                stored.id,
                destination,
                stored.alert,
                stored.created_at,
                note=compose_note(self.store, stored.id, stored.alert.story_key),
                remote_id=stored.remote_id,
            )
            result = await _attempt(
                adapter.edit(message), f"editing alert {stored.id} in {destination}"
            )
            if result.status is SendStatus.RETRY:
                delay = (
                    result.retry_after if result.retry_after is not None else timedelta(seconds=30)
                )
                self.store.edit_retry(stored.id, result.detail, self.clock() + delay)
                return
            if result.status is SendStatus.BROKEN:
                log.warning(
                    "alert %s in %s cannot be edited: %s; left as it is",
                    stored.id,
                    destination,
                    result.detail,
                )
            self.store.edit_done(stored.id)

    def _told(
        self, message: OutgoingMessage, target: Destination | None, told: tuple[int, int]
    ) -> None:
        """After a send: the message told of ``told`` sightings and notes.  An edit asked
        for before it was sent is dropped when nothing came since (the message already
        says it all); one asked for during the send stays."""
        if target is not None and target.also_seen == "thread":
            self.store.set_replied(message.alert_id, *told)
        story = story_root(message.alert.story_key)
        if self.store.told_counts(message.alert_id, story) == told:
            self.store.edit_done(message.alert_id)

    async def _replies(self, destination: str, adapter: Adapter) -> None:
        """``also_seen = "thread"``: answer each alert with what is new under it (new
        sightings of its story, new notes) instead of redrawing it."""
        for stored in self.store.due_edits(destination, self.clock()):
            done_sightings, done_notes = self.store.replied(stored.id)
            sightings = self.store.sightings(story_root(stored.alert.story_key))
            notes = [text for _, text in self.store.notes(stored.id)]
            text = thread_reply_text(
                [(s.source, s.title, s.link, s.seen_at) for s in sightings[done_sightings:]],
                notes[done_notes:],
            )
            if text is None:
                self.store.edit_done(stored.id)
                continue
            result = await _attempt(
                adapter.send_text(destination, text, reply_to=stored.remote_id),
                f"answering alert {stored.id} in {destination}",
            )
            if result.status is not SendStatus.SENT:
                delay = result.retry_after or timedelta(seconds=30)
                if result.status is SendStatus.BROKEN:
                    log.warning("alert %s in %s: %s", stored.id, destination, result.detail)
                    delay = BROKEN_RETRY
                self.store.edit_retry(stored.id, result.detail, self.clock() + delay)
                return
            self.store.set_replied(stored.id, len(sightings), len(notes))
            self.store.edit_done(stored.id)

    def _record(self, message: OutgoingMessage, result: SendResult) -> bool:
        """Store the outcome; True when the destination may take the next alert now."""
        now = self.clock()
        if self.metrics is not None:
            self.metrics.observe_send(message, result, now)
        if result.status is SendStatus.SENT:
            self.store.mark_sent(message.alert_id, now, result.remote_id)
            if self.store.clear_destination_broken(message.destination):
                log.info("destination %s works again", message.destination)
            return True
        if result.status is SendStatus.BROKEN:
            log.error(
                "destination %s is broken: %s (alert %s kept, retried in %s)",
                message.destination,
                result.detail,
                message.alert_id,
                BROKEN_RETRY,
            )
            self.store.mark_destination_broken(message.destination, result.detail, now)
            self.store.mark_retry(message.alert_id, result.detail, now + BROKEN_RETRY)
            return False
        attempts = self.store.attempts(message.alert_id)
        delay = (
            result.retry_after
            if result.retry_after is not None
            else min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 10)))
        )
        log.warning(
            "alert %s to %s not sent (%s); next try in %ss",
            message.alert_id,
            message.destination,
            result.detail,
            int(delay.total_seconds()),
        )
        self.store.mark_retry(message.alert_id, result.detail, now + delay)
        return False

    async def run(self, stop: asyncio.Event, idle: timedelta = timedelta(seconds=30)) -> None:
        """Deliver until ``stop`` is set, waking on ``wake()`` or when a retry falls due."""
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:
                log.exception("delivery round failed; trying again shortly")
            self._wake.clear()
            wait = idle
            upcoming = self.store.next_attempt_at()
            if upcoming is not None:
                wait = max(timedelta(seconds=0.05), min(idle, upcoming - self.clock()))
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=wait.total_seconds(), return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
