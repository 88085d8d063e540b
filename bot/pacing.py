"""Flood limits as waits, for any chat platform: the adapters' last step before a send.

A ``Pacer`` keeps, per chat key (a Telegram chat id, a Slack channel id), when the last
message went out, and answers how long the next one must wait:

- one chat at most once per ``interval``;
- chats that ``grouped(key)`` says are groups at most ``per_minute`` a minute (Telegram);
- everything at most ``per_second`` a second (Telegram's global limit).

Waits are per chat: an adapter holds ``lock(key)`` while it waits and sends, so one
busy chat never delays another (the outbox drains each destination in its own task).
No platform library is imported here.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable


def _never(_: Hashable) -> bool:
    return False


class Pacer:
    def __init__(
        self,
        interval: float,
        *,
        per_minute: int | None = None,
        grouped: Callable[[Hashable], bool] = _never,
        per_second: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval = interval
        self.per_minute = per_minute
        self.grouped = grouped
        self.per_second = per_second
        self.clock = clock
        self.last: dict[Hashable, float] = {}
        self.group_sends: dict[Hashable, deque[float]] = {}
        self.all_sends: deque[float] = deque()
        self.locks: dict[Hashable, asyncio.Lock] = {}

    def lock(self, key: Hashable) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def wait_for(self, key: Hashable) -> float:
        """Seconds until ``key`` may take a message (0 when it may now)."""
        now = self.clock()
        wait = self.last.get(key, -1e9) + self.interval - now
        if self.per_minute is not None and self.grouped(key):
            window = self.group_sends.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                wait = max(wait, window[0] + 60 - now)
        if self.per_second is not None:
            while self.all_sends and self.all_sends[0] <= now - 1:
                self.all_sends.popleft()
            if len(self.all_sends) >= self.per_second:
                wait = max(wait, self.all_sends[0] + 1 - now)
        return max(0.0, wait)

    async def wait(self, key: Hashable) -> None:
        """Sleep until ``key`` may take a message (a shared limit can be used up by other
        chats meanwhile, so the wait is checked again after each sleep)."""
        for _ in range(1000):
            delay = self.wait_for(key)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    def sent(self, key: Hashable) -> None:
        now = self.clock()
        self.last[key] = now
        if self.per_minute is not None and self.grouped(key):
            self.group_sends.setdefault(key, deque()).append(now)
        if self.per_second is not None:
            self.all_sends.append(now)
