"""Operations: Prometheus metrics and a health check, served on a local port.

The stages report what happened through one ``Metrics`` object (polls, new items,
matches, deliveries and their latency, send failures); the state that lives in the
store (outbox depth and age, alerts by state, sources by health) is read from it at
scrape time, so the numbers survive restarts and never drift from the truth.

    GET /metrics   Prometheus text format
    GET /healthz   JSON; 200 while the bot polls, 503 when no poll has happened for
                   longer than three times the longest source interval
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from bot.model import OutgoingMessage, SendResult, SendStatus
from bot.store import Store

if TYPE_CHECKING:
    from bot.scheduler import PollReport


class _StoreCollector(Collector):
    def __init__(self, store: Callable[[], Store | None], clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self.store()
        if store is None:
            return
        by_state = GaugeMetricFamily(
            "dozor_alerts",
            "Alerts in the outbox by destination and state",
            labels=["destination", "state"],
        )
        for destination, states in store.outbox_counts().items():
            for state, count in states.items():
                by_state.add_metric([destination, state], count)
        yield by_state
        yield GaugeMetricFamily(
            "dozor_outbox_depth", "Alerts waiting to be sent", value=store.outbox_depth()
        )
        oldest = store.oldest_pending_at()
        age = (self.clock() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "dozor_outbox_oldest_age_seconds", "Age of the oldest alert waiting", value=age
        )
        sources = GaugeMetricFamily("dozor_sources", "Sources by health", labels=["state"])
        counts = {"ok": 0, "failing": 0, "disabled": 0}
        errors = GaugeMetricFamily(
            "dozor_source_errors", "Failed polls in a row, per source", labels=["source"]
        )
        for h in store.source_health():
            state = "disabled" if h.disabled_reason else "failing" if h.failing_since else "ok"
            counts[state] += 1
            errors.add_metric([h.name], h.error_count)
        for state, n in counts.items():
            sources.add_metric([state], n)
        yield sources
        yield errors
        broken = GaugeMetricFamily(
            "dozor_destination_broken",
            "1 when a destination cannot take messages",
            labels=["destination"],
        )
        for name in store.broken_destinations():
            broken.add_metric([name], 1)
        yield broken


class Metrics:
    """Counters the stages bump; a registry of its own, so tests never share one."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        store: Store | None = None,
        longest_interval: timedelta = timedelta(minutes=5),
    ):
        """``store``: where /healthz reads the outbox; ``longest_interval``: the longest
        a healthy bot goes without a poll."""
        self.clock = clock
        self.registry = CollectorRegistry()
        self.store = store
        self.started_at = clock()
        self.last_poll_at: datetime | None = None
        self.longest_interval = longest_interval
        r = self.registry
        self.polls = Counter(
            "dozor_polls", "Polls by source and outcome", ["source", "status"], registry=r
        )
        self.items = Counter("dozor_items_new", "New items by source", ["source"], registry=r)
        self.matches = Counter(
            "dozor_matches", "Items that fired a rule, by rule", ["rule"], registry=r
        )
        self.sent = Counter(
            "dozor_alerts_sent", "Alerts delivered, by destination", ["destination"], registry=r
        )
        self.failures = Counter(
            "dozor_send_failures",
            "Failed sends by destination and kind",
            ["destination", "kind"],
            registry=r,
        )
        self.latency = Histogram(
            "dozor_delivery_latency_seconds",
            "From an alert's creation to its delivery",
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
        )
        r.register(_StoreCollector(lambda: self.store, clock))

    def observe_poll(self, report: PollReport, at: datetime) -> None:
        self.last_poll_at = at
        self.polls.labels(report.source, report.status.value).inc()
        if report.ingest is not None:
            if report.ingest.new:
                self.items.labels(report.source).inc(report.ingest.new)
            for rule in report.ingest.rules_fired:
                self.matches.labels(rule).inc()

    def observe_send(self, message: OutgoingMessage, result: SendResult, at: datetime) -> None:
        if result.status is SendStatus.SENT:
            self.sent.labels(message.destination).inc()
            if message.created_at is not None:
                self.latency.observe(max(0.0, (at - message.created_at).total_seconds()))
        else:
            self.failures.labels(message.destination, result.status.value).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def health(self) -> tuple[bool, dict[str, object]]:
        now = self.clock()
        stale = self.last_poll_at is None and now - self.started_at > 3 * self.longest_interval
        if self.last_poll_at is not None:
            stale = now - self.last_poll_at > 3 * self.longest_interval
        body: dict[str, object] = {
            "status": "stale" if stale else "ok",
            "uptime_seconds": int((now - self.started_at).total_seconds()),
            "last_poll_at": self.last_poll_at.isoformat() if self.last_poll_at else None,
        }
        if self.store is not None:
            body["outbox_depth"] = self.store.outbox_depth()
        return not stale, body


async def serve(metrics: Metrics, listen: str) -> web.AppRunner:
    """Start the /metrics and /healthz server on ``host:port``; the caller cleans it up."""

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=metrics.text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_view(_: web.Request) -> web.Response:
        ok, body = metrics.health()
        return web.Response(
            text=json.dumps(body), status=200 if ok else 503, content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health_view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
    return runner
