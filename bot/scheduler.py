"""Scheduling and polling: which source is due, fetch it, record its health.

APScheduler runs one short job every ``polling.tick`` that asks the store which
sources are due (Miniflux's approach: one ticker, not a timer per source) and starts a
poll for each, at most ``polling.concurrency`` at once.  After a poll the next check
is planned by ``plan_next_check``: the source's interval, lengthened by Retry-After,
Cache-Control max-age and the feed's <ttl>, clamped to [min_interval, max_interval],
jittered; failures back off exponentially.  When a tick's polls are done, one INFO line says
how many, how many new items and when the next check is ("polled 4 sources, 0 new,
next 10:23"): the sign of life of a quiet bot.  A failing source stays visible in the
store (last error, since when, how many) and is never silently dropped; a 410 disables
it with the reason.  A successful poll goes to the pipeline (``Pipeline.receive``: its
items, alerts and the source's new state in one transaction).  When the bot stops,
polls in flight are cancelled: nothing of them is stored, the next start polls again.

Push sources (a kind whose watcher streams: ``Watcher.push``) are never polled:
``Streams`` runs each push kind's ``stream`` while the bot runs and hands what arrives
to the same ``Pipeline.receive``.  A stream that fails is logged and started again
after ``STREAM_RESTART``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import PollingSettings
from bot.metrics import Metrics
from bot.model import FetchResult, FetchStatus, Source
from bot.pipeline import IngestReport, Pipeline
from bot.store import Store
from watchers.base import Fetcher, Watcher
from watchers.http import HttpClient

log = logging.getLogger("dozor.poll")


def plan_next_check(
    now: datetime,
    source: Source,
    polling: PollingSettings,
    result: FetchResult,
    error_count: int,
    rng: random.Random,
) -> datetime:
    """When to poll ``source`` again after ``result`` (``error_count`` failures in a row)."""
    if result.status is FetchStatus.ERROR:
        delay = source.interval * (2 ** min(max(error_count - 1, 0), 10))
        delay = min(delay, polling.max_interval)
    else:
        delay = source.interval
        for hint in (result.max_age, result.ttl):
            if hint is not None:
                delay = max(delay, hint)
    if result.retry_after is not None:
        delay = max(delay, result.retry_after)
    delay = min(max(delay, polling.min_interval), polling.max_interval)
    if polling.jitter:
        delay *= 1 + rng.uniform(-polling.jitter, polling.jitter)
    return now + delay


@dataclass(frozen=True)
class PollReport:
    source: str
    status: FetchStatus
    error: str | None = None
    ingest: IngestReport | None = None


class Poller:
    def __init__(
        self,
        sources: Callable[[], Sequence[Source]],
        polling: PollingSettings,
        store: Store,
        pipeline: Pipeline,
        http: HttpClient,
        pool: Executor | None,
        clock: Callable[[], datetime],
        *,
        fetchers: Mapping[str, Fetcher],
        on_alerts: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ):
        """``fetchers``: each polled kind's fetch, by kind (``Watcher.fetcher``);
        ``on_alerts``: after a poll that left the outbox work (its wake)."""
        self.on_alerts = on_alerts
        self.metrics = metrics
        self.fetchers = dict(fetchers)
        self.sources = sources  # read at every tick: chat commands add and remove sources
        self.polling = polling
        self.store = store
        self.pipeline = pipeline
        self.http = http
        self.pool = pool
        self.clock = clock
        self.rng = rng or random.Random()
        self.in_flight: dict[str, asyncio.Task[PollReport]] = {}
        self.limit = asyncio.Semaphore(polling.concurrency)
        self.last_poll_at: datetime | None = None
        self._cycles: set[asyncio.Task[None]] = set()  # "polled N sources" lines to write

    async def poll(self, source: Source) -> PollReport:
        async with self.limit:
            state = self.store.fetch_state(source.name)
            fetcher = self.fetchers[source.kind]
            deadline = self.polling.timeout.total_seconds() * 3
            try:
                async with asyncio.timeout(deadline):  # a trickling server cannot hold a poll
                    result = await fetcher(source, state, self.http, self.pool)
            except TimeoutError:
                result = FetchResult(
                    FetchStatus.ERROR, state=state, error=f"no complete answer in {deadline:.0f} s"
                )
            except Exception as exc:  # a watcher bug must not stop the bot
                log.exception("source %s: the %s watcher failed", source.name, source.kind)
                result = FetchResult(
                    FetchStatus.ERROR, state=state, error=f"internal error: {exc!r}"
                )
            try:
                report = self.record(source, result)
            except sqlite3.Error as exc:  # locked or full: nothing of this poll was kept
                log.error(
                    "source %s: the store refused the poll (%s); nothing is lost, the "
                    "next tick polls it again",
                    source.name,
                    exc,
                )
                return PollReport(source.name, FetchStatus.ERROR, f"store: {exc}")
            self.last_poll_at = self.clock()
            if self.metrics is not None:
                self.metrics.observe_poll(report, self.last_poll_at)
            return report

    def record(self, source: Source, result: FetchResult) -> PollReport:
        now = self.clock()
        if result.status is FetchStatus.GONE:
            reason = result.error or "the source is gone (HTTP 410)"
            log.error("source %s disabled: %s", source.name, reason)
            self.store.disable_source(source.name, reason, now)
            return PollReport(source.name, result.status, reason)
        if result.status is FetchStatus.ERROR:
            count = self.store.error_count(source.name) + 1
            next_check = plan_next_check(now, source, self.polling, result, count, self.rng)
            error = result.error or "unknown error"
            self.store.record_error(source.name, error, now, next_check)
            log.warning(
                "source %s: %s (failure %d in a row; next try %s)",
                source.name,
                error,
                count,
                next_check.strftime("%H:%M:%S"),
            )
            return PollReport(source.name, result.status, error)
        next_check = plan_next_check(now, source, self.polling, result, 0, self.rng)
        ingest = self.pipeline.receive(source, result, next_check=next_check)
        if ingest is not None and ingest.work:
            self.on_alerts()
        return PollReport(source.name, result.status, None, ingest)

    async def poll_all(self) -> list[PollReport]:
        """Poll every enabled source once, due or not (``dozor run --once``)."""
        disabled = {h.name for h in self.store.source_health() if h.disabled_reason}
        targets = [s for s in self.polled() if s.enabled and s.name not in disabled]
        return list(await asyncio.gather(*(self.poll(s) for s in targets)))

    def polled(self) -> list[Source]:
        """The sources of the polled kinds (push sources arrive by themselves)."""
        return [s for s in self.sources() if s.kind in self.fetchers]

    async def poll_due(self) -> int:
        """Start a poll for each due source not already in flight; returns how many."""
        started: list[asyncio.Task[PollReport]] = []
        for source in self.store.due_sources(self.polled(), self.clock()):
            if source.name in self.in_flight:
                continue
            task = asyncio.create_task(self.poll(source), name=f"poll {source.name}")
            self.in_flight[source.name] = task
            task.add_done_callback(lambda _t, name=source.name: self.in_flight.pop(name, None))
            started.append(task)
        if started:  # one sign of life per cycle, when its polls are done
            cycle = asyncio.create_task(self._log_cycle(started), name="poll cycle")
            self._cycles.add(cycle)
            cycle.add_done_callback(self._cycles.discard)
        return len(started)

    async def _log_cycle(self, polls: Sequence[asyncio.Task[PollReport]]) -> None:
        done = await asyncio.gather(*polls, return_exceptions=True)
        reports = [r for r in done if isinstance(r, PollReport)]
        if not reports:
            return
        new = sum(r.ingest.new for r in reports if r.ingest)
        failed = sum(1 for r in reports if r.error)
        upcoming = self.store.next_check_at()
        log.info(
            "polled %d source%s, %d new%s, next %s",
            len(reports),
            "" if len(reports) == 1 else "s",
            new,
            f", {failed} failed" if failed else "",
            upcoming.strftime("%H:%M") if upcoming else "not planned",
        )

    async def wait_idle(self) -> None:
        while self.in_flight:
            await asyncio.gather(*list(self.in_flight.values()), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel the polls in flight (the bot stops).  A poll commits all or nothing
        after its fetch, so one cut short left no trace and is polled again."""
        for task in [*self.in_flight.values(), *self._cycles]:
            task.cancel()
        await self.wait_idle()
        await asyncio.gather(*self._cycles, return_exceptions=True)


STREAM_RESTART = 30.0  # seconds before a failed stream is started again


class Streams:
    """The push kinds' streams, one task per push kind, each handing what arrives to
    ``Pipeline.receive`` (the sink a stream gets)."""

    def __init__(
        self,
        sources: Callable[[], Sequence[Source]],
        pipeline: Pipeline,
        kinds: Sequence[Watcher],
        own: Callable[[str], Any],
        environ: Mapping[str, str],
        *,
        on_alerts: Callable[[], None] = lambda: None,
        restart: float = STREAM_RESTART,
    ):
        """``kinds``: the registered watchers (the push ones stream); ``own``: a kind's
        settings by kind; ``on_alerts`` as for ``Poller``."""
        self.on_alerts = on_alerts
        self.sources = sources
        self.pipeline = pipeline
        self.kinds = [w for w in kinds if w.push]
        self.own = own
        self.environ = environ
        self.restart = restart
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for watcher in self.kinds:
            task = asyncio.create_task(self._run(watcher), name=f"stream {watcher.kind}")
            self.tasks.append(task)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()

    def of_kind(self, kind: str) -> list[Source]:
        return [s for s in self.sources() if s.kind == kind and s.enabled]

    def sink(self, watcher: Watcher, source: Source, result: FetchResult) -> IngestReport | None:
        """What a stream hands in: to the pipeline; a store that refuses it is logged
        (the stream goes on)."""
        try:
            report = self.pipeline.receive(source, result, baseline=watcher.baseline)
        except sqlite3.Error as exc:
            log.error("source %s: the store refused what arrived (%s)", source.name, exc)
            return None
        if report is not None and report.work:
            self.on_alerts()
        return report

    async def _run(self, watcher: Watcher) -> None:
        sources = partial(self.of_kind, watcher.kind)
        sink = partial(self.sink, watcher)
        while True:
            try:
                await watcher.stream(sources, self.own(watcher.kind), self.environ, sink)
                return
            except Exception:  # a watcher bug must not stop the bot
                log.exception(
                    "the %s stream failed; starting it again in %.0f s",
                    watcher.kind,
                    self.restart,
                )
            await asyncio.sleep(self.restart)


def start_scheduler(poller: Poller, tick: timedelta) -> AsyncIOScheduler:
    """APScheduler on the running loop: ``poller.poll_due`` now and every ``tick``."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        poller.poll_due,
        IntervalTrigger(seconds=max(1, tick.total_seconds())),
        id="poll-due",
        next_run_time=datetime.now(tz=scheduler.timezone),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler
