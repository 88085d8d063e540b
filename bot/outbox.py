"""Outbox -> adapters: persisted, ordered, retried delivery of alerts.

Alerts are already in the store when this stage sees them.  Each destination is
drained in alert order by its own task, so one slow or rate-limited destination never
holds up another.  A send ends in one of three ways (``SendResult``): sent (recorded),
retry (the alert stays pending until ``retry_after`` or an exponential backoff; later
alerts for that destination wait behind it so order holds), or broken (the destination
is marked broken with the reason, the alert is kept and tried again much later).
Nothing is ever dropped.  The states, the moves between them and how long to wait are
the store's (bot/store/deliveries.py); this module sends, and tells it how each send
ended.

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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from bot.commands.buttons import notice_buttons
from bot.metrics import Metrics
from bot.model import Destination, OutgoingMessage, SendResult, SendStatus, story_root
from bot.platforms.base import Sender
from bot.render import digest_text, notes_text, thread_reply_text
from bot.store import Store, retry_locked
from bot.store.deliveries import BROKEN_RETRY, State

log = logging.getLogger("dozor.outbox")

T = TypeVar("T")


def compose_note(store: Store, alert_id: int, story_key: str) -> str | None:
    """Everything to show under an alert: where else its story was seen, and its notes."""
    return _compose(store, alert_id, story_key)[0]


def _compose(store: Store, alert_id: int, story_key: str) -> tuple[str | None, tuple[int, int]]:
    """The note, and how many sightings and notes it tells of."""
    sightings = [(s.source, s.seen_at) for s in store.stories.sightings(story_root(story_key))]
    notes = [text for _, text in store.stories.notes(alert_id)]
    return notes_text(sightings, notes), (len(sightings), len(notes))


async def _write(write: Callable[[], T], destination: str) -> T:
    """Bookkeeping after a send, waiting out another program's write lock without
    holding the event loop (a send that is not recorded would be sent again)."""
    return await retry_locked(write, f"delivery to {destination}")


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
        adapter_for: Callable[[str], Sender | None],
        clock: Callable[[], datetime],
        *,
        batch: int = 50,
        metrics: Metrics | None = None,
        destination_of: Callable[[str], Destination | None] = lambda name: None,
        unavailable: Callable[[str], str | None] = lambda kind: None,
    ):
        self.metrics = metrics
        self.unavailable = unavailable  # platform kind -> why it has no adapter now
        self.destination_of = destination_of
        self.store = store
        self.deliveries = store.deliveries  # the queue and its state machine
        self.stories = store.stories  # what is told under an alert
        self.adapter_for = adapter_for
        self.clock = clock
        self.batch = batch
        self._wake = asyncio.Event()  # the supervisor: new destinations, new work
        self._lanes: dict[str, _Lane] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one drain at a time per destination
        self._stopping = False
        self._warned: set[str] = set()

    def wake(self) -> None:
        """New work (alerts, edits, notices): every lane looks at its queue now."""
        self._wake.set()
        for lane in self._lanes.values():
            lane.wake.set()

    def _wanted(self) -> set[str]:
        """The destinations that have something due now."""
        return self.deliveries.due_destinations(self.clock())

    async def deliver_due(self) -> int:
        """Send every alert that is due now, then redraw the sent alerts that asked for
        it ("also seen in", notes); returns how many alerts were sent.  (``run_once`` and
        tests; the running bot drains each destination in its own lane, ``run``.)"""
        counts = await asyncio.gather(*(self._deliver(d) for d in sorted(self._wanted())))
        return sum(counts)

    async def _deliver(self, destination: str) -> int:
        """One drain of one destination, never two at once (a lane and ``deliver_due``)."""
        lock = self._locks.setdefault(destination, asyncio.Lock())
        async with lock:
            adapter = self._adapter(destination)
            return 0 if adapter is None else await self._drain(destination, adapter)

    def _adapter(self, destination: str) -> Sender | None:
        adapter = self.adapter_for(destination)
        if adapter is None and destination not in self._warned:
            self._warned.add(destination)
            target = self.destination_of(destination)
            why = (
                "which is not configured now"
                if target is None
                else self.unavailable(target.kind) or f"whose {target.kind} connection is down"
            )
            log.warning(
                "alerts wait for destination %r, %s; they will be sent when it is",
                destination,
                why,
            )
        return adapter

    async def _drain(self, destination: str, adapter: Sender) -> int:
        target = self.destination_of(destination)
        silent = False
        if target is not None and target.quiet_hours is not None:
            now = self.clock()
            if target.quiet_hours.contains(now):
                if target.quiet == "hold":
                    until = target.quiet_hours.ends_after(now)
                    await _write(partial(self.deliveries.hold, destination, until), destination)
                    return 0
                silent = True
        sent = await self._digest(destination, adapter, target)
        await self._notices(destination, adapter)
        while True:
            batch = self.deliveries.claim_deliveries(destination, self.clock(), self.batch)
            if not batch:
                await self._edits(destination, adapter, target)
                return sent
            for message in batch:
                if self._stopping:
                    return sent  # shutting down: what is left stays pending
                note, told = _compose(self.store, message.alert_id, message.alert.story_key)
                message = replace(message, note=note, silent=silent or message.alert.silent)
                result = await _attempt(
                    adapter.send(message), f"sending alert {message.alert_id} to {destination}"
                )
                if self.metrics is not None:
                    self.metrics.observe_send(message, result, self.clock())
                record = partial(self._record, message, result)
                if not await _write(record, destination):
                    return sent
                await _write(partial(self._told, message, target, told), destination)
                sent += 1

    async def _digest(self, destination: str, adapter: Sender, target: Destination | None) -> int:
        """Send the collected alerts of a digest destination as one message, if due."""
        due = self.deliveries.due_digest(destination, self.clock())
        if not due:
            return 0
        schedule = str(target.digest) if target is not None and target.digest else "digest"
        text = digest_text([d.alert for d in due], schedule, self.clock())
        result = await _attempt(
            adapter.send_text(destination, text), f"sending the digest to {destination}"
        )
        ids = [d.id for d in due]
        record = partial(self.deliveries.record_digest, destination, ids, result, self.clock())
        delay = await _write(record, destination)
        if delay is None:
            return len(due)
        log.warning(
            "digest for %s not sent (%s); next try in %s", destination, result.detail, delay
        )
        return 0

    async def _notices(self, destination: str, adapter: Sender) -> None:
        for notice in self.deliveries.pending_notices(destination):
            buttons = notice_buttons(notice["id"], notice["kind"], notice["subject"])
            result = await _attempt(
                adapter.send_text(destination, notice["text"], buttons),
                f"sending notice {notice['id']} to {destination}",
            )
            if result.status is not SendStatus.SENT:
                return  # tried again on the next round
            sent = partial(self.deliveries.mark_notice_sent, notice["id"], result.remote_id)
            await _write(sent, destination)

    async def _edits(self, destination: str, adapter: Sender, target: Destination | None) -> None:
        if target is not None and target.also_seen == "thread":
            await self._replies(destination, adapter)
            return
        for stored in self.deliveries.due_edits(destination, self.clock()):
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
                retry = partial(self.deliveries.defer_edit, stored.id, result, self.clock())
                await _write(retry, destination)
                return
            if result.status is SendStatus.BROKEN:
                log.warning(
                    "alert %s in %s cannot be edited: %s; left as it is",
                    stored.id,
                    destination,
                    result.detail,
                )
            await _write(partial(self.deliveries.edit_done, stored.id), destination)

    def _told(
        self, message: OutgoingMessage, target: Destination | None, told: tuple[int, int]
    ) -> None:
        """After a send: the message told of ``told`` sightings and notes.  An edit asked
        for before it was sent is dropped when nothing came since (the message already
        says it all); one asked for during the send stays."""
        if target is not None and target.also_seen == "thread":
            self.stories.set_replied(message.alert_id, *told)
        story = story_root(message.alert.story_key)
        if self.stories.told_counts(message.alert_id, story) == told:
            self.deliveries.edit_done(message.alert_id)

    async def _replies(self, destination: str, adapter: Sender) -> None:
        """``also_seen = "thread"``: answer each alert with what is new under it (new
        sightings of its story, new notes) instead of redrawing it."""
        for stored in self.deliveries.due_edits(destination, self.clock()):
            done_sightings, done_notes = self.stories.replied(stored.id)
            sightings = self.stories.sightings(story_root(stored.alert.story_key))
            notes = [text for _, text in self.stories.notes(stored.id)]
            text = thread_reply_text(
                [(s.source, s.title, s.link, s.seen_at) for s in sightings[done_sightings:]],
                notes[done_notes:],
            )
            if text is None:
                await _write(partial(self.deliveries.edit_done, stored.id), destination)
                continue
            result = await _attempt(
                adapter.send_text(destination, text, reply_to=stored.remote_id),
                f"answering alert {stored.id} in {destination}",
            )
            if result.status is not SendStatus.SENT:
                if result.status is SendStatus.BROKEN:
                    log.warning("alert %s in %s: %s", stored.id, destination, result.detail)
                retry = partial(self.deliveries.defer_reply, stored.id, result, self.clock())
                await _write(retry, destination)
                return
            replied = partial(self.stories.set_replied, stored.id, len(sightings), len(notes))
            await _write(replied, destination)
            await _write(partial(self.deliveries.edit_done, stored.id), destination)

    def _record(self, message: OutgoingMessage, result: SendResult) -> bool:
        """Store the outcome; True when the destination may take the next alert now."""
        verdict = self.deliveries.record_send(
            message.alert_id, message.destination, result, self.clock()
        )
        if verdict.state is State.SENT:
            if verdict.recovered:
                log.info("destination %s works again", message.destination)
            return True
        if verdict.parked:
            log.error(
                "destination %s is broken: %s (alert %s kept, retried in %s)",
                message.destination,
                result.detail,
                message.alert_id,
                BROKEN_RETRY,
            )
            return False
        log.warning(
            "alert %s to %s not sent (%s); next try in %ss",
            message.alert_id,
            message.destination,
            result.detail,
            int((verdict.retry_in or timedelta(0)).total_seconds()),
        )
        return False

    async def run(self, stop: asyncio.Event, idle: timedelta = timedelta(seconds=30)) -> None:
        """Deliver until ``stop`` is set: one lane (task) per destination, each woken by
        ``wake()`` or when its own next retry, digest or edit falls due, so a slow, paced
        or failing destination only ever waits for itself.  On ``stop`` a lane finishes
        the send in hand (up to ``STOP_GRACE``), then all lanes end."""
        self._stopping = False
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    for destination in sorted(self._wanted() - self._lanes.keys()):
                        self._open_lane(destination, stop, idle)
                except Exception:
                    log.exception("delivery: cannot read the outbox; trying again shortly")
                await _wait_any(self._wake, stop, idle.total_seconds())
        finally:
            self._stopping = True
            lanes = [lane.task for lane in self._lanes.values()]
            for lane in self._lanes.values():
                lane.wake.set()
            if lanes:
                _, late = await asyncio.wait(lanes, timeout=STOP_GRACE.total_seconds())
                for task in late:
                    task.cancel()
                await asyncio.gather(*lanes, return_exceptions=True)
            self._lanes.clear()
            self._stopping = False

    def _open_lane(self, destination: str, stop: asyncio.Event, idle: timedelta) -> None:
        lane = _Lane(asyncio.Event())
        lane.wake.set()
        self._lanes[destination] = lane
        lane.task = asyncio.create_task(
            self._run_lane(destination, lane, stop, idle), name=f"outbox:{destination}"
        )

    async def _run_lane(
        self, destination: str, lane: _Lane, stop: asyncio.Event, idle: timedelta
    ) -> None:
        """Drain one destination whenever woken or due, until ``stop``.  A wake during a
        drain is kept (the event is cleared before the drain), so nothing waits a round."""
        while not stop.is_set() and not self._stopping:
            lane.wake.clear()
            wait = idle
            try:
                await self._deliver(destination)
                upcoming = self.deliveries.next_due_at(destination)
                if upcoming is not None and self.adapter_for(destination) is not None:
                    wait = max(timedelta(seconds=0.05), min(idle, upcoming - self.clock()))
            except Exception:
                log.exception("delivery to %s failed; trying again shortly", destination)
                wait = timedelta(seconds=1)
            await _wait_any(lane.wake, stop, wait.total_seconds())


STOP_GRACE = timedelta(seconds=2)


@dataclass
class _Lane:
    wake: asyncio.Event
    task: asyncio.Task[None] = field(init=False)


async def _wait_any(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Until ``event`` or ``stop`` is set, or ``seconds`` pass."""
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
