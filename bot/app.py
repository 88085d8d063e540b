"""Wiring: settings + rules -> store, watchers, pipeline, outbox and adapters on one loop.

``App`` owns the long-lived parts (the SQLite store, the shared HTTP client, the
process pool that parses feeds off the event loop, the evidence keeper when
``[evidence]`` is on (bot/evidence.py, a task of its own beside the outbox), one adapter
per chat platform the config wants, made by looping over the registry
``bot.platforms``: no platform is named here) and offers the two ways to run:
``run_once`` (poll everything, deliver, keep evidence, return) and ``run_forever``
(APScheduler polls due sources, push sources stream, the outbox delivers, until
``stop`` is set).  Source kinds come from the registry ``watchers``.  In
``run_forever`` a platform whose adapter could not connect (a rejected token, no
network) is tried again in a task of its own, with backoff (``RECONNECT_FIRST``
doubling to ``RECONNECT_MOST``, with jitter); once it connects its alerts go out.

Stopping is bounded (a few seconds, whatever the network does): polls in flight are
cancelled (a poll commits all or nothing, so one cut short is polled again at the next
start), each outbox lane finishes the send in hand (``outbox.STOP_GRACE``), each
adapter gets ``ADAPTER_GRACE`` to disconnect, a running parse ``PARSE_GRACE``; a
reconnection waiting or in progress is cancelled at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TextIO

import watchers
from bot import platforms
from bot.commands.limits import CommandLimiter
from bot.config import Settings
from bot.evidence import EvidenceKeeper
from bot.matching import RuleFiles
from bot.matching.cache import cache_path, cached_matcher
from bot.metrics import Metrics
from bot.metrics import serve as serve_metrics
from bot.model import Rule
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.platforms.base import Adapter, Unavailable, Wiring
from bot.reach import cannot_connect, connected, no_token
from bot.runtime import Directory, Runtime
from bot.scheduler import Poller, PollReport, Streams, start_scheduler
from bot.store import LOOP_BUSY_MS, Store
from bot.workers import ParsePool
from watchers.base import Fetcher
from watchers.http import HttpClient

log = logging.getLogger("dozor")

ADAPTER_GRACE = 1.5  # seconds a chat adapter may take to disconnect
PARSE_GRACE = 1.0  # seconds a parse in progress may take, before its worker is killed
RECONNECT_FIRST = 5.0  # seconds before a platform that could not connect is tried again
RECONNECT_MOST = 300.0  # the longest wait between two tries (the wait doubles)
RECONNECT_LOG = 300.0  # at most one line per this many seconds about failed tries


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunSummary:
    polls: tuple[PollReport, ...]
    sent: int

    @property
    def failed(self) -> tuple[PollReport, ...]:
        return tuple(p for p in self.polls if p.error)


class App:
    def __init__(
        self,
        settings: Settings,
        rules: Sequence[Rule],
        *,
        stream: TextIO | None = None,
        clock: Callable[[], datetime] = utcnow,
        pool: Executor | None = None,
        environ: Mapping[str, str] | None = None,
        rule_files: RuleFiles | None = None,
        reconnect_after: float = RECONNECT_FIRST,
    ):
        """``rule_files``: the files ``rules`` were just read from (so they are not read
        again); by default the config's rule files are read to remember them as they are.
        ``reconnect_after``: seconds before the first new try of a platform that could
        not connect (then doubling, up to ``RECONNECT_MOST``)."""
        self.reconnect_after = reconnect_after
        self._rule_files = rule_files
        self.environ = os.environ if environ is None else environ
        self.settings = settings
        self.rules = list(rules)
        self.stream = stream
        self.clock = clock
        self._own_pool = pool is None
        self.pool = pool
        self.started_at = clock()

    async def __aenter__(self) -> App:
        s = self.settings
        self.store = Store.open(s.storage.path)
        if self.pool is None:
            self.pool = ParsePool(max(1, min(os.cpu_count() or 1, 4)))
        self.http = HttpClient(
            connect_timeout=min(10.0, s.polling.timeout.total_seconds()),
            read_timeout=s.polling.timeout.total_seconds(),
            max_bytes=s.polling.max_bytes,
            per_host=s.polling.per_host,
            allow=s.polling.allow_private,
        )
        await self.http.__aenter__()
        self.adapters: dict[str, Adapter] = {}  # the connected ones, by platform name
        self._made: dict[str, Adapter] = {}  # every adapter made, connected or not
        self._unavailable: dict[str, str] = {}  # platform -> why it has no adapter
        self._failed: set[str] = set()  # made, but connecting failed: tried again
        # Each part gets what it uses, in its constructor: the directory's lookups
        # (cached lists), never the app.
        self.directory = directory = Directory(s, self.store, self.rules)
        self.pipeline = Pipeline(
            self.store,
            directory.rules(),
            s.routes.default,
            s.routes.rules,
            self.clock,
            directory.chat_of,
            directory.digest_of,
            s.routes.noisy_per_hour,
            partial(cached_matcher, path=cache_path(s.storage.path)),
        )
        self.context = Runtime(
            s,
            self.store,
            directory,
            self.pipeline,
            self.clock,
            self.started_at,
            limiter=CommandLimiter(),
        )
        if s.dedup.enabled:
            loaded = self.pipeline.load_stories(s.dedup.window, s.dedup.threshold)
            log.debug("story index: %d fingerprints from the last %s", loaded, s.dedup.window)
        self.store.sync_sources(directory.sources())
        self.store.wait_for_locks(LOOP_BUSY_MS)  # from now on the loop never waits in SQLite
        self.metrics = Metrics(
            self.clock,
            store=self.store,
            longest_interval=max([src.interval for src in s.sources] + [s.polling.interval]),
        )
        self.outbox = Outbox(
            self.store,
            partial(_adapter_for, directory, self.adapters),
            self.clock,
            metrics=self.metrics,
            destination_of=directory.destination,
            unavailable=self._unavailable.get,
        )
        self.evidence: EvidenceKeeper | None = None
        if s.evidence.enabled:
            self.evidence = EvidenceKeeper(
                self.store,
                self.http,
                s.evidence,
                s.evidence_dir,
                self.clock,
                s.polling.allow_private,
            )
        self.poller = Poller(
            directory.sources,
            s.polling,
            self.store,
            self.pipeline,
            self.http,
            self.pool,
            self.clock,
            metrics=self.metrics,
            fetchers=self._fetchers(),
            on_alerts=self._on_alerts,
        )
        self.streams = Streams(
            directory.sources,
            self.pipeline,
            watchers.WATCHERS,
            s.source_settings,
            self.environ,
            on_alerts=self._on_alerts,
        )
        if self._rule_files is None:
            self.rule_files = RuleFiles(s.rules.paths, s.base_dir, frozenset(s.destination_names()))
            self.rule_files.reload()  # remember the files as they are now
        else:
            self.rule_files = self._rule_files
        self._rule_errors: tuple[str, ...] = ()
        self._make_adapters()
        return self

    def _on_alerts(self) -> None:
        self.outbox.wake()
        if self.evidence is not None:
            self.evidence.wake()

    def _make_adapters(self) -> None:
        """One adapter per registered platform that is wanted (configured); one that
        is wanted but cannot run (a token is not set) is said in /status."""
        wiring = Wiring(self.context, self.environ, self.stream)
        for platform in platforms.PLATFORMS:
            if not platform.wanted(self.settings, self.settings.destinations):
                continue
            try:
                adapter = platform.connect(self.settings, wiring)
            except Unavailable as why:
                self._unavailable[platform.name] = str(why)
                no_token(self.store, platform.name, why.missing, self.clock())
                continue
            self._made[platform.name] = self.adapters[platform.name] = adapter

    async def reload_rules(self) -> bool:
        """Pick up edited rule files without a restart; a broken file keeps its previous
        rules and its problems are logged (once per change).  True when rules changed.
        Reading and compiling run in a thread: thousands of rules take seconds."""
        loaded = await asyncio.to_thread(self.rule_files.reload)
        if loaded.errors != self._rule_errors:
            for problem in loaded.errors:
                log.error("rules: %s", problem)
            self._rule_errors = loaded.errors
        if not loaded.changed:
            return False
        self.rules = list(loaded.rules)
        self.directory.set_file_rules(self.rules)
        await self.context.refresh_rules()
        log.info("rules reloaded: %d rules from %d files", len(self.rules), len(loaded.files))
        return True

    def _fetchers(self) -> dict[str, Fetcher]:
        """Each polled kind's fetch, bound to its settings (``watchers`` registry)."""
        fetchers = {}
        for watcher in watchers.WATCHERS:
            own = self.settings.source_settings(watcher.kind)
            fetcher = watcher.fetcher(own, self.environ)
            if fetcher is not None:
                fetchers[watcher.kind] = fetcher
        return fetchers

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(_stop(a) for a in self._made.values()))
        await self.http.__aexit__(None, None, None)
        if self._own_pool and isinstance(self.pool, ParsePool):
            await asyncio.to_thread(self.pool.stop, PARSE_GRACE)
        self.store.close()

    async def connect(self, *, listen: bool) -> None:
        """Connect the chat adapters; with ``listen`` they also take commands."""
        for name, adapter in self._made.items():
            if adapter.started:
                continue
            why = await self._start(name, adapter, listen=listen)
            if why is not None:
                log.error(
                    "%s: %s; alerts for it wait in the outbox (dozor status shows it)",
                    _title(name),
                    why,
                )

    async def _start(self, name: str, adapter: Adapter, *, listen: bool) -> str | None:
        """Start one adapter and record the outcome: None when connected (back in
        ``adapters``), else why not (redacted; it is left out of ``adapters``)."""
        try:
            await adapter.start(listen=listen)
        except Exception as exc:  # a bad token or no network: alerts wait, bot runs on
            why = cannot_connect(self.store, name, exc, self.clock(), self.environ, self.settings)
            self.adapters.pop(name, None)
            self._unavailable[name] = f"as {_title(name)} {why}"
            self._failed.add(name)
            return why
        self._failed.discard(name)
        self._unavailable.pop(name, None)
        self.adapters[name] = adapter
        connected(self.store, name, self.clock())
        return None

    async def _reconnect(self, name: str, stop: asyncio.Event) -> None:
        """Try a platform that could not connect again, with backoff and jitter, until
        it connects (its waiting alerts are then sent) or ``stop``; a line in the log
        at most every ``RECONNECT_LOG`` seconds while it fails."""
        adapter = self._made[name]
        delay = self.reconnect_after
        logged = time.monotonic()  # ``connect`` just said why
        while name in self._failed:
            await _wait(stop, random.uniform(0.8, 1.0) * delay)
            if stop.is_set():
                return
            if adapter.started:  # cut short after connecting: start again from scratch
                await _stop(adapter)
            why = await self._start(name, adapter, listen=True)
            if why is None:
                log.info("%s: connected again; the alerts waiting for it go out", _title(name))
                self.outbox.wake()
                return
            delay = min(delay * 2, RECONNECT_MOST)
            if time.monotonic() - logged >= RECONNECT_LOG:
                logged = time.monotonic()
                log.error("%s: still %s; trying again in %.0f s", _title(name), why, delay)

    async def run_once(self) -> RunSummary:
        await self.connect(listen=False)
        polls = await self.poller.poll_all()
        sent = await self.outbox.deliver_due()
        if self.evidence is not None:  # after the alerts: they never wait for pictures
            await self.evidence.keep_pending()
        return RunSummary(tuple(polls), sent)

    async def run_forever(self, stop: asyncio.Event) -> None:
        sources = self.context.sources()
        off = {h.name for h in self.store.source_health() if h.disabled_reason}
        disabled = [s for s in sources if not s.enabled or s.name in off]
        due = self.store.next_check_at()  # after a restart: sources polled lately wait
        log.info(
            "Dozor is watching %d sources (%d disabled) with %d rules; alerts go to %s; "
            "store %s; first poll %s",
            len(sources) - len(disabled),
            len(disabled),
            len(self.rules),
            ", ".join(d.name for d in self.context.destinations()) or "nowhere",
            self.settings.storage.path,
            f"at {due:%H:%M} UTC" if due and due > self.clock() else "now",
        )
        if not await _unless(stop, self.connect(listen=True)):
            return
        ops = None
        if self.settings.metrics.listen:
            ops = await serve_metrics(self.metrics, self.settings.metrics.listen)
            log.info("metrics on http://%s/metrics", self.settings.metrics.listen)
        scheduler = start_scheduler(self.poller, self.settings.polling.tick)
        scheduler.add_job(
            self.reload_rules,
            "interval",
            seconds=5,
            id="reload-rules",
            max_instances=1,
            coalesce=True,
        )
        delivery = asyncio.create_task(self.outbox.run(stop), name="outbox")
        self.streams.start()
        keeping = (
            asyncio.create_task(self.evidence.run(stop), name="evidence")
            if self.evidence is not None
            else None
        )
        retries = [
            asyncio.create_task(self._reconnect(name, stop), name=f"reconnect:{name}")
            for name in sorted(self._failed)
        ]
        try:
            await stop.wait()
        finally:
            for retry in retries:
                retry.cancel()  # a wait or a connection attempt in progress ends at once
            await asyncio.gather(*retries, return_exceptions=True)
            scheduler.shutdown(wait=False)
            await self.streams.stop()
            await self.poller.cancel()
            await delivery  # within outbox.STOP_GRACE
            if keeping is not None:
                await keeping  # a download in hand is abandoned at once
            if ops is not None:
                await ops.cleanup()


def _adapter_for(
    directory: Directory, adapters: Mapping[str, Adapter], destination: str
) -> Adapter | None:
    """The connected adapter of a destination's platform (``adapters``: the app's
    connected ones, as they come and go)."""
    found = directory.destination(destination)
    return adapters.get(found.platform) if found else None


def _title(name: str) -> str:
    platform = platforms.find(name)
    return platform.title if platform else name


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Until ``stop`` is set or ``seconds`` pass."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def _unless(stop: asyncio.Event, work: Awaitable[None]) -> bool:
    """Run ``work`` unless ``stop`` is set first (then cancel it); whether it ran."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
    await asyncio.gather(task, stopping, return_exceptions=True)
    return not task.cancelled()


async def _stop(adapter: Adapter) -> None:
    """Disconnect a chat adapter, within ``ADAPTER_GRACE`` seconds."""
    try:
        async with asyncio.timeout(ADAPTER_GRACE):
            await adapter.stop()
    except Exception as exc:  # the bot stops anyway
        log.warning("%s: did not disconnect cleanly (%r)", adapter.kind, exc)
