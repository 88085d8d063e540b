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
it with the reason.  Items of a successful poll go to the pipeline.  When the bot stops,
polls in flight are cancelled: nothing of them is stored, the next start polls again.
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

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import PollingSettings
from bot.metrics import Metrics
from bot.model import FetchResult, FetchStatus, Source
from bot.pipeline import IngestReport, Pipeline
from bot.store import Store
from watchers.base import Fetcher
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
        """``fetchers``: each polled kind's fetch, by kind (``Watcher.fetcher``)."""
        self.metrics = metrics
        self.fetchers = dict(fetchers)
        self.sources = sources  # read at every tick: chat commands add and remove sources
        self.polling = polling
        self.store = store
        self.pipeline = pipeline
        self.http = http
        self.pool = pool
        self.clock = clock
        self.on_alerts = on_alerts
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
        with self.store.atomic():  # the items, their alerts and "baseline done" together
            ingest, gone = self._ingest(source, result)
            next_check = plan_next_check(now, source, self.polling, result, 0, self.rng)
            newest = max((i.published for i in result.items if i.published), default=None)
            self.store.record_success(
                source.name,
                result.state,
                now,
                next_check,
                new_items=ingest.new if ingest else 0,
                last_item_at=newest,
            )
        if ingest is not None:
            if ingest.alerts or ingest.matched or gone:  # new alerts, or edits to make
                self.on_alerts()
            first = ingest.baseline
            log.info(
                "source %s: %d items, %d new, %d alerts%s",
                source.name,
                ingest.items,
                ingest.new,
                len(ingest.alerts),
                " (first poll: baseline)" if first else "",
            )
        return PollReport(source.name, result.status, None, ingest)

    def _ingest(
        self, source: Source, result: FetchResult
    ) -> tuple[IngestReport | None, Sequence[str]]:
        if result.status is not FetchStatus.OK:
            return None, ()
        first = not self.store.baseline_done(source.name)
        gone = result.gone(self.store.alerted_keys(source.name)) if result.covered else ()
        return self.pipeline.ingest(source, result.items, first_poll=first, gone=gone), gone

    async def poll_all(self) -> list[PollReport]:
        """Poll every enabled source once, due or not (``dozor run --once``)."""
        disabled = {h.name for h in self.store.source_health() if h.disabled_reason}
        targets = [s for s in self.sources() if s.enabled and s.name not in disabled]
        return list(await asyncio.gather(*(self.poll(s) for s in targets)))

    async def poll_due(self) -> int:
        """Start a poll for each due source not already in flight; returns how many."""
        started: list[asyncio.Task[PollReport]] = []
        for source in self.store.due_sources(self.sources(), self.clock()):
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
