"""A real HTTP server on 127.0.0.1 that plays a feed publisher, for watcher and pipeline tests.

The watchers' ``HttpClient`` talks to it over real sockets; nothing of ours is mocked.

    async with FeedServer() as server:           # binds 127.0.0.1, port 0
        server.set("/feed.xml", body=rss_bytes)   # 200 with ETag + Last-Modified
        url = server.url("/feed.xml")             # "http://127.0.0.1:<port>/feed.xml"
        ...poll...
        assert server.requests_to("/feed.xml")[-1].headers["if-none-match"]
        server.set("/feed.xml", body=newer_bytes) # new ETag, later Last-Modified

(``tests/conftest.py`` has a ``feed_server`` fixture doing the ``async with``.)

``set(path, body=..., **options)`` creates a route or updates one (options not given
keep their value; ``body`` may be bytes, str (UTF-8) or a ``Path`` to read).  Options:

- ``content_type``: default ``"application/rss+xml; charset=utf-8"``; None sends none.
- ``status``: e.g. 404, 410, 500, 503; the body is sent as is.
- ``retry_after``: a ``Retry-After`` value (seconds or an HTTP date), on any status.
- ``redirect`` / ``redirect_status``: answer ``redirect_status`` (default 301) with
  ``Location: redirect`` (a path on this server, or an absolute URL).
- ``delay``: seconds to wait before answering (a slow server).
- ``gzip``: send the body gzip-compressed with ``Content-Encoding: gzip``.
- ``oversized``: stream this many bytes (chunked, no Content-Length) instead of the body.
- ``truncate_at``: declare the full Content-Length, send this many bytes, drop the connection.
- ``cache_control``: a ``Cache-Control`` value, e.g. ``"max-age=300"``.
- ``etag`` / ``last_modified``: ``"auto"`` (default: derived from the body / a fake
  clock that advances on every ``set`` with a body), a fixed string, or None (not sent).
- ``conditional``: honour ``If-None-Match`` / ``If-Modified-Since`` with 304 (default True).
- ``headers``: extra response headers.

``fail_next(path, status, retry_after=None, times=1)`` makes the next ``times``
requests to ``path`` fail with ``status`` before the route answers normally again.
Unknown paths answer 404.  Every request is recorded in ``requests`` as a
``RecordedRequest(method, path, query, headers)`` (header names lower-case);
``requests_to(path)`` filters them.  ``max_in_flight`` is the most requests it was
answering at one time (for concurrency limits).  ``unused_port()`` gives a port on
127.0.0.1 that nothing listens on, for "connection refused".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip as gzip_module
import hashlib
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer

__all__ = ["FeedServer", "RecordedRequest", "Route", "record", "unused_port"]

_AUTO = "auto"
_CLOCK_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names


def record(request: web.Request) -> RecordedRequest:
    """What the fakes that play websites keep of a request."""
    return RecordedRequest(
        request.method,
        request.path,
        request.query_string,
        {k.lower(): v for k, v in request.headers.items()},
    )


@dataclass
class Route:
    body: bytes = b""
    content_type: str | None = "application/rss+xml; charset=utf-8"
    status: int = 200
    retry_after: str | int | None = None
    redirect: str | None = None
    redirect_status: int = 301
    delay: float = 0.0
    gzip: bool = False
    oversized: int | None = None
    truncate_at: int | None = None
    cache_control: str | None = None
    etag: str | None = _AUTO
    last_modified: str | None = _AUTO
    conditional: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    version: int = 0  # bumped on every new body; drives the auto Last-Modified

    def current_etag(self) -> str | None:
        if self.etag == _AUTO:
            return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'
        return self.etag

    def current_last_modified(self) -> str | None:
        if self.last_modified == _AUTO:
            when = _CLOCK_START + timedelta(minutes=self.version)
            return format_datetime(when, usegmt=True)
        return self.last_modified


@dataclass
class _Failure:
    status: int
    retry_after: str | int | None
    times: int


class FeedServer:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._server = LocalServer("FeedServer", host)
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self.in_flight = 0  # requests being answered right now
        self.max_in_flight = 0  # the most at any one time

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        await self._server.start(app)

    async def stop(self) -> None:
        for task in list(self._handlers):  # slow handlers still sleeping
            task.cancel()
        await self._server.stop()

    @property
    def port(self) -> int | None:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.root

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def set(self, path: str, body: bytes | str | Path | None = None, **options: Any) -> Route:
        """Create or update the route at ``path`` (see the module docstring)."""
        route = self.routes.get(path) or Route()
        if body is not None:
            if isinstance(body, Path):
                body = body.read_bytes()
            elif isinstance(body, str):
                body = body.encode("utf-8")
            options["body"] = body
            options["version"] = route.version + 1
        route = dataclasses.replace(route, **options)
        self.routes[path] = route
        return route

    def fail_next(
        self, path: str, status: int = 500, *, retry_after: str | int | None = None, times: int = 1
    ) -> None:
        self._failures.setdefault(path, []).append(_Failure(status, retry_after, times))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(record(request))
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1
            if task is not None:
                self._handlers.discard(task)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        failures = self._failures.get(path)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            return web.Response(
                status=failure.status, text=f"failure {failure.status}", headers=extra
            )

        route = self.routes.get(request.path_qs) or self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            await asyncio.sleep(route.delay)

        headers: dict[str, str] = dict(route.headers)
        if route.retry_after is not None:
            headers["Retry-After"] = str(route.retry_after)
        if route.cache_control is not None:
            headers["Cache-Control"] = route.cache_control

        if route.redirect is not None:
            target = route.redirect
            headers["Location"] = self.url(target) if target.startswith("/") else target
            return web.Response(status=route.redirect_status, headers=headers)

        etag, last_modified = route.current_etag(), route.current_last_modified()
        if route.status == 200:
            if etag:
                headers["ETag"] = etag
            if last_modified:
                headers["Last-Modified"] = last_modified
            if route.conditional and _not_modified(request, etag, last_modified):
                return web.Response(status=304, headers=headers)
        if route.content_type:
            headers["Content-Type"] = route.content_type

        if route.oversized is not None:
            return await _stream_filler(request, route.status, headers, route.oversized)
        body = route.body
        if route.gzip:
            body = gzip_module.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.truncate_at is not None:
            return await _send_truncated(request, route.status, headers, body, route.truncate_at)
        return web.Response(status=route.status, body=body, headers=headers)


def unused_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _not_modified(request: web.Request, etag: str | None, last_modified: str | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        if not etag:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


async def _stream_filler(
    request: web.Request, status: int, headers: dict[str, str], size: int
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"<!-- filler -->\n" * 4096  # 64 KiB
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < size:
            piece = chunk[: size - sent]
            await response.write(piece)
            sent += len(piece)
        await response.write_eof()
    return response


async def _send_truncated(
    request: web.Request, status: int, headers: dict[str, str], body: bytes, keep: int
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(body[:keep])
    await asyncio.sleep(0.05)  # let the bytes leave before the connection drops
    if request.transport is not None:
        request.transport.close()
    return response
