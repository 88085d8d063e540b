"""A real HTTP server on 127.0.0.1 that plays a webhook receiver: it checks Dozor's
signature as a receiver following the README would, and records what it accepted.

    async with FakeReceiver(secret="s3cret") as receiver:
        url = receiver.url                         # "http://127.0.0.1:PORT/hooks/dozor"
        receiver.fail_next(503)                    # next POST: 503
        receiver.fail_next(429, retry_after="2")   # next POST: 429 with Retry-After: 2
        receiver.fail_next(200, delay=3)           # next POST answered after 3 s
        receiver.fail_next(301, location="https://elsewhere/")
        await receiver.wait_for(3)                 # three accepted deliveries
        receiver.accepted[0].payload["alert"]["rule"]

The check (its own code, not Dozor's): ``X-Dozor-Timestamp`` is Unix seconds within
``tolerance`` of now, and ``X-Dozor-Signature`` is ``sha256=`` + hex HMAC-SHA256 of
``<timestamp>.<raw body>`` with the shared secret, compared in constant time.  A
request failing it is answered 401 and kept in ``rejected`` with the reason; a body
that is not JSON is 400.  Injected failures come after the check (the receiver knows
the sender, then fails).  ``requests`` has every request (``Received``: headers, raw
body, payload, status, reason, time).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer, Waiters

__all__ = ["FakeReceiver", "Received", "signature_of"]

PATH = "/hooks/dozor"


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    time: float
    payload: Any = None
    status: int | None = None
    reason: str = ""  # why it was rejected


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    delay: float
    times: int
    body: str
    location: str | None


class FakeReceiver:
    def __init__(
        self,
        secret: str,
        *,
        tolerance: float = 300,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.clock = clock
        self.wall = wall
        self.requests: list[Received] = []
        self._failures: list[_Failure] = []
        self._waiters = Waiters()
        self._server = LocalServer("FakeReceiver")

    async def __aenter__(self) -> FakeReceiver:
        app = web.Application()
        app.router.add_post(PATH, self._receive)
        await self._server.start(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._waiters.cancel()
        await self._server.stop()

    @property
    def url(self) -> str:
        return self._server.root + PATH

    @property
    def accepted(self) -> list[Received]:
        """Verified deliveries answered 2xx, oldest first."""
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]

    @property
    def rejected(self) -> list[Received]:
        return [r for r in self.requests if r.status == 401]

    def fail_next(
        self,
        status: int,
        *,
        retry_after: str | None = None,
        delay: float = 0.0,
        times: int = 1,
        body: str = "",
        location: str | None = None,
    ) -> None:
        self._failures.append(_Failure(status, retry_after, delay, times, body, location))

    async def wait_for(self, count: int, seconds: float = 10) -> list[Received]:
        if not await self._waiters.until(lambda: len(self.accepted) >= count, seconds):
            raise TimeoutError(f"{len(self.accepted)} deliveries accepted, wanted {count}")
        return self.accepted

    def _verify(self, headers: Any, body: bytes) -> str:
        """Why the request is not from the holder of the secret ("" when it is)."""
        stamp = headers.get("X-Dozor-Timestamp", "")
        given = headers.get("X-Dozor-Signature", "")
        if not stamp.isdigit():
            return "no timestamp"
        if abs(self.wall() - int(stamp)) > self.tolerance:
            return "stale timestamp"
        if not hmac.compare_digest(given, signature_of(self.secret, stamp, body)):
            return "bad signature"
        return ""

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        record = Received(dict(request.headers), body, self.clock())
        self.requests.append(record)
        try:
            return await self._answer(record, request.headers, body)
        finally:
            self._waiters.notify()

    async def _answer(self, record: Received, headers: Any, body: bytes) -> web.Response:
        reason = self._verify(headers, body)
        if reason:
            record.status, record.reason = 401, reason
            return web.Response(status=401, text=reason)
        try:
            record.payload = json.loads(body)
        except ValueError:
            record.status, record.reason = 400, "not JSON"
            return web.Response(status=400, text="not JSON")
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            if failure.delay:
                await asyncio.sleep(failure.delay)
            record.status = failure.status
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            if failure.location:
                extra["Location"] = failure.location
            return web.Response(status=failure.status, text=failure.body, headers=extra)
        record.status = 200
        return web.json_response({"ok": True})
