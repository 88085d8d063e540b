"""The plumbing every fake server shares: an aiohttp app on 127.0.0.1, port 0.

Each fake (``FeedServer``, ``TmeServer``, ``FakeVkApi``, ``FakeTelegram``,
``FakeSlack``) holds a ``LocalServer`` and keeps its own ``async with``, shutdown
steps and URL properties:

    self._server = LocalServer("FeedServer", host)
    port = await self._server.start(app)           # AppRunner without access log
    self._server.root                              # "http://127.0.0.1:<port>"
    await self._server.stop()

``root`` before ``start`` raises ``RuntimeError("FeedServer is not started: use
`async with FeedServer()`")``; after ``stop`` it still names the old port, so a
client pointed there is refused.  ``Waiters`` lets a fake's test-facing API wait until
a condition holds (``await waiters.until(predicate, seconds)``) and its handlers say
when something changed (``waiters.notify()``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["LocalServer", "Waiters"]


class LocalServer:
    """One aiohttp app served on ``host``, a port the OS picks (see the module docstring)."""

    def __init__(self, name: str, host: str = "127.0.0.1") -> None:
        self.name = name  # the fake's class name, for the "not started" message
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self, app: web.Application, **runner_options: Any) -> int:
        """Serve ``app``; ``runner_options`` go to ``web.AppRunner`` (after the defaults
        ``access_log=None, shutdown_timeout=0.5``).  Returns the port."""
        options: dict[str, Any] = {"access_log": None, "shutdown_timeout": 0.5}
        self._runner = web.AppRunner(app, **{**options, **runner_options})
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def root(self) -> str:
        """``http://<host>:<port>``, without a trailing slash."""
        if self.port is None:
            raise RuntimeError(f"{self.name} is not started: use `async with {self.name}()`")
        return f"http://{self.host}:{self.port}"


class Waiters:
    """Coroutines waiting for a condition on a fake's state, woken by ``notify``."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def notify(self) -> None:
        """Something changed: wake the waiters whose condition now holds."""
        for predicate, future in list(self._waiting):
            if not future.done() and predicate():
                future.set_result(None)

    async def until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Whether ``predicate()`` came true within ``seconds`` (checked on ``notify``)."""
        if predicate():
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(seconds):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting.remove(entry)

    def cancel(self) -> None:
        """Cancel every wait (the fake is shutting down)."""
        for _, future in self._waiting:
            if not future.done():
                future.cancel()
