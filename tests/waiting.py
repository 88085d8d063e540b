"""Waiting in tests for something to happen, not for a fixed time: poll a condition
often, fail with what was awaited after a generous limit, and say how long it took."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Wait for ``condition``; returns the seconds it took (fails after ``seconds``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds}s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started
