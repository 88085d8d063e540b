"""A clock tests move by hand: ``clock.now += timedelta(minutes=10)``."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2024, 12, 3, 7, 0, tzinfo=UTC)  # the morning of the real posts in fixtures


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
