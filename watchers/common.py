"""What every watcher's ``fetch`` shares around the HTTP call and the parse.

    fetch(source, state, http, pool) -> HttpClient.get -> run_off_loop(pool, parse, ...)
      -> FetchResult, or failed(source, state, "<what went wrong>") -> FetchResult(ERROR)

Error messages read "<what went wrong, with the URL> (source: <name>)" (``about``), with
"; retry after N s" when the server said when to come back (``retry_note``).  An error
result keeps the state it is given, so a failed poll stores nothing new.  Parsers run
in the given executor (a process pool in production) or, without one, a thread: never
on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import timedelta
from typing import Any, TypeVar

from bot.model import FetchResult, FetchState, FetchStatus, Source

__all__ = ["about", "failed", "retry_note", "run_off_loop"]

T = TypeVar("T")


def about(source: Source, message: str) -> str:
    """An error message that names its source, for logs and chats that show it alone."""
    return f"{message} (source: {source.name})"


def retry_note(retry_after: timedelta | None) -> str:
    """``"; retry after N s"`` to end an error message, or "" without a delay."""
    return f"; retry after {int(retry_after.total_seconds())} s" if retry_after else ""


def failed(
    source: Source,
    state: FetchState,
    message: str,
    *,
    retry_after: timedelta | None = None,
    max_age: timedelta | None = None,
    http_status: int | None = None,
) -> FetchResult:
    """An ERROR result that keeps ``state`` and names the source in its message."""
    return FetchResult(
        FetchStatus.ERROR,
        state=state,
        error=about(source, message),
        retry_after=retry_after,
        max_age=max_age,
        http_status=http_status,
    )


async def run_off_loop(pool: Executor | None, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in ``pool`` (picklable arguments for a process pool), or in a
    thread when there is no pool."""
    if pool is None:
        return await asyncio.to_thread(fn, *args)
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
