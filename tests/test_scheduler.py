"""plan_next_check: intervals, server hints, clamps, backoff and jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import PollingSettings
from bot.model import FetchResult, FetchStatus, Source
from bot.scheduler import plan_next_check

NOW = datetime(2024, 12, 3, 7, 0, tzinfo=UTC)
SRC = Source("s", "rss", "https://example.org/", timedelta(minutes=5))
FLAT = PollingSettings(jitter=0)
M = timedelta(minutes=1)


def delay(result: FetchResult, errors: int = 0, polling: PollingSettings = FLAT) -> timedelta:
    return plan_next_check(NOW, SRC, polling, result, errors, random.Random(1)) - NOW


@pytest.mark.parametrize(
    ("result", "errors", "expected"),
    [
        (FetchResult(FetchStatus.OK), 0, 5 * M),
        (FetchResult(FetchStatus.NOT_MODIFIED), 0, 5 * M),
        (FetchResult(FetchStatus.OK, max_age=20 * M), 0, 20 * M),  # Cache-Control
        (FetchResult(FetchStatus.OK, ttl=60 * M), 0, 60 * M),  # <ttl>
        (FetchResult(FetchStatus.OK, max_age=30 * M, ttl=10 * M), 0, 30 * M),
        (FetchResult(FetchStatus.OK, ttl=timedelta(days=2)), 0, 6 * 60 * M),  # clamped to max
        (FetchResult(FetchStatus.ERROR), 1, 5 * M),
        (FetchResult(FetchStatus.ERROR), 2, 10 * M),
        (FetchResult(FetchStatus.ERROR), 4, 40 * M),
        (FetchResult(FetchStatus.ERROR), 30, 6 * 60 * M),  # backoff capped
        (FetchResult(FetchStatus.ERROR, retry_after=90 * M), 1, 90 * M),  # Retry-After
    ],
)
def test_next_check(result: FetchResult, errors: int, expected: timedelta) -> None:
    assert delay(result, errors) == expected


def test_min_interval_clamps_short_intervals() -> None:
    fast = Source("s", "rss", "https://example.org/", timedelta(seconds=5))
    got = plan_next_check(NOW, fast, FLAT, FetchResult(FetchStatus.OK), 0, random.Random(1))
    assert got - NOW == FLAT.min_interval


def test_jitter_stays_within_bounds_and_varies() -> None:
    polling = PollingSettings(jitter=0.1)
    rng = random.Random(7)
    seen = {
        plan_next_check(NOW, SRC, polling, FetchResult(FetchStatus.OK), 0, rng) - NOW
        for _ in range(50)
    }
    assert len(seen) > 10
    assert all(4.5 * M <= d <= 5.5 * M for d in seen)
