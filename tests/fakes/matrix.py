"""A real HTTP server on 127.0.0.1 that plays a Matrix homeserver's client-server API.

Dozor's Matrix package (or matrix-nio, or any HTTP client) talks to it over real
sockets at ``fake.url`` (the homeserver base URL), with ``Authorization: Bearer <token>``.

    async with FakeMatrix(token="syt_dozor", user_id="@dozor:example.org") as fake:
        fake.add_room("!desk:example.org", members=["@anna:example.org"])
        fake.fail_next("send", 429, retry_after_ms=1500)    # M_LIMIT_EXCEEDED once
        fake.push_message("!desk:example.org", "@anna:example.org", "!dozor help")
        await fake.wait_for("send", count=2)                # no sleeps
        assert fake.messages("!desk:example.org")[-1].content["body"] == "..."

Test-facing API:

- ``FakeMatrix(token=..., user_id=..., *, clock=time.monotonic)``; ``url``.
- ``add_room(room_id, *, members=(), joined=True)``: a room; the bot can send only into
  rooms it has joined (else 403 ``M_FORBIDDEN``, as Synapse answers); unknown rooms: 404.
- ``requests``: every ``RecordedRequest(endpoint, method, path, params, body, time,
  token, status, response)``; ``endpoint`` is "versions", "whoami", "send", "sync" or
  "unknown".  ``calls(endpoint)`` filters.
- ``messages(room_id)``: the ``SentEvent``s the bot sent (event_id, txn_id, event_type,
  content, time, ``edits``: the ``m.replace`` events applied to it, newest last;
  ``current`` is the content as a client shows it now).  An ``m.replace`` event is
  stored as an edit of its target, not as a new message, as clients show it.
- ``fail_next(endpoint, status, *, errcode, error, retry_after_ms, times, room_id)``:
  the next ``times`` matching calls get the real error shape (``{"errcode": ..., "error":
  ...}``, plus ``retry_after_ms`` and a ``Retry-After`` header for 429).  ``rate_limit(
  room_id, seconds)``: an honest flood window, every send into that room before
  ``clock() + seconds`` gets 429 with the milliseconds still left.
- ``push_message(room_id, sender, body, *, formatted_body=None)``: a member's message
  that the next ``/sync`` returns (a waiting long poll is woken).
- ``await wait_for(endpoint, count=1, timeout=5.0)``: the answered calls, once ``count``
  have arrived; ``TimeoutError`` otherwise.

Behaviour, as the spec (v1.11) says: ``PUT /_matrix/client/v3/rooms/{roomId}/send/
{eventType}/{txnId}`` is idempotent per access token and txnId (the same event_id comes
back and nothing is stored twice); ``m.room.message`` content needs string ``msgtype``
and ``body``, and ``format`` ``org.matrix.custom.html`` with a string
``formatted_body`` when ``format`` is given; an event over 65,536 bytes is 413
``M_TOO_LARGE``; an edit must name an event of the same sender in the same room (else
400).  ``GET /_matrix/client/v3/sync`` honours ``since`` and ``timeout`` (a real long
poll); a first sync without ``since`` returns everything so far.  A missing token is 401
``M_MISSING_TOKEN``, a wrong one 401 ``M_UNKNOWN_TOKEN``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.fakes.local_server import LocalServer, Waiters

__all__ = ["FakeMatrix", "RecordedRequest", "SentEvent"]

JsonDict = dict[str, Any]
PREFIX = "/_matrix/client/v3"
MAX_EVENT_BYTES = 65_536
HTML_FORMAT = "org.matrix.custom.html"


@dataclass
class RecordedRequest:
    endpoint: str
    method: str
    path: str
    params: dict[str, str]
    body: JsonDict | None
    time: float
    token: str | None
    status: int | None = None
    response: JsonDict | None = None


@dataclass
class SentEvent:
    room_id: str
    event_id: str
    txn_id: str
    event_type: str
    content: JsonDict
    time: float
    edits: list[JsonDict] = field(default_factory=list)  # each edit's m.new_content

    @property
    def current(self) -> JsonDict:
        """The content a client shows now: the newest edit's ``m.new_content``."""
        return self.edits[-1] if self.edits else self.content


@dataclass
class _Room:
    room_id: str
    members: set[str]
    joined: bool


@dataclass
class _Failure:
    endpoint: str
    status: int
    errcode: str
    error: str
    retry_after_ms: int | None
    times: int
    room_id: str | None


class _MatrixError(Exception):
    def __init__(
        self, status: int, errcode: str, error: str, retry_after_ms: int | None = None
    ) -> None:
        super().__init__(error)
        self.status = status
        self.errcode = errcode
        self.error = error
        self.retry_after_ms = retry_after_ms


_DEFAULT_ERRORS = {
    400: ("M_BAD_JSON", "Bad request"),
    401: ("M_UNKNOWN_TOKEN", "Invalid access token passed."),
    403: ("M_FORBIDDEN", "User is not in room"),
    404: ("M_NOT_FOUND", "Unknown room"),
    413: ("M_TOO_LARGE", "Event too large"),
    429: ("M_LIMIT_EXCEEDED", "Too Many Requests"),
    500: ("M_UNKNOWN", "Internal server error"),
    502: ("M_UNKNOWN", "Bad gateway"),
}


class FakeMatrix:
    """A Matrix homeserver's client-server API on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        token: str = "syt_ZG96b3I_fake_token",
        user_id: str = "@dozor:example.org",
        *,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.user_id = user_id
        self.device_id = "DOZORDEVICE"
        self.clock = clock
        self._server = LocalServer("FakeMatrix", host)
        self.requests: list[RecordedRequest] = []
        self.rooms: dict[str, _Room] = {}
        self._sent: dict[str, list[SentEvent]] = {}
        self._txns: dict[tuple[str, str, str], str] = {}  # (token, room, txn) -> event id
        self._events: dict[str, SentEvent] = {}
        self._timeline: list[tuple[str, JsonDict]] = []  # (room id, event) for /sync
        self._failures: list[_Failure] = []
        self._flood: dict[str, float] = {}  # room -> clock() until which sends get 429
        self._ids = itertools.count(1)
        self._waiters = Waiters()
        self._synced = asyncio.Event()

    async def __aenter__(self) -> FakeMatrix:
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
        self._waiters.cancel()
        self._synced.set()  # end waiting long polls
        await self._server.stop()

    @property
    def url(self) -> str:
        """The homeserver base URL, e.g. ``http://127.0.0.1:54321``."""
        return self._server.root

    # -- test-facing ------------------------------------------------------------------

    def add_room(
        self, room_id: str, *, members: tuple[str, ...] | list[str] = (), joined: bool = True
    ) -> None:
        self.rooms[room_id] = _Room(room_id, {*members, self.user_id}, joined)
        self._sent.setdefault(room_id, [])

    def messages(self, room_id: str) -> list[SentEvent]:
        return list(self._sent.get(room_id, []))

    def calls(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def fail_next(
        self,
        endpoint: str,
        status: int,
        *,
        errcode: str | None = None,
        error: str | None = None,
        retry_after_ms: int | None = None,
        times: int = 1,
        room_id: str | None = None,
    ) -> None:
        code, text = _DEFAULT_ERRORS.get(status, ("M_UNKNOWN", "Error"))
        if status == 429 and retry_after_ms is None:
            retry_after_ms = 1000
        self._failures.append(
            _Failure(
                endpoint, status, errcode or code, error or text, retry_after_ms, times, room_id
            )
        )

    def rate_limit(self, room_id: str, seconds: float) -> None:
        self._flood[room_id] = self.clock() + seconds

    def push_message(
        self, room_id: str, sender: str, body: str, *, formatted_body: str | None = None
    ) -> JsonDict:
        content: JsonDict = {"msgtype": "m.text", "body": body}
        if formatted_body is not None:
            content.update(format=HTML_FORMAT, formatted_body=formatted_body)
        event = {
            "type": "m.room.message",
            "event_id": f"$member{next(self._ids)}",
            "sender": sender,
            "origin_server_ts": int(time.time() * 1000),
            "content": content,
        }
        self._timeline.append((room_id, event))
        self._synced.set()
        return event

    async def wait_for(
        self,
        endpoint: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        def answered() -> list[RecordedRequest]:
            return [r for r in self.calls(endpoint) if r.status is not None]

        if not await self._waiters.until(lambda: len(answered()) >= count, timeout):
            seen = sorted({r.endpoint for r in self.requests})
            raise TimeoutError(
                f"{count} {endpoint} call(s) expected, {len(answered())} answered "
                f"(seen: {', '.join(seen) or 'nothing'})"
            )
        return answered()

    # -- the server -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path  # percent-encoded: each part is unquoted once
        body: JsonDict | None = None
        raw = await request.read()
        record = RecordedRequest(
            _endpoint(request.method, path),
            request.method,
            path,
            dict(request.query),
            None,
            self.clock(),
            _token(request),
        )
        self.requests.append(record)
        try:
            if raw:
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    raise _MatrixError(400, "M_NOT_JSON", "Content not JSON.") from None
                if not isinstance(parsed, dict):
                    raise _MatrixError(400, "M_BAD_JSON", "Content must be a JSON object.")
                body = record.body = parsed
            answer = await self._route(record, body)
            status = 200
        except _MatrixError as exc:
            status, answer = exc.status, {"errcode": exc.errcode, "error": exc.error}
            headers = {}
            if exc.retry_after_ms is not None:
                answer["retry_after_ms"] = exc.retry_after_ms
                headers["Retry-After"] = str(math.ceil(exc.retry_after_ms / 1000))
            record.status, record.response = status, answer
            self._waiters.notify()
            return web.json_response(answer, status=status, headers=headers)
        record.status, record.response = status, answer
        self._waiters.notify()
        return web.json_response(answer, status=status)

    async def _route(self, record: RecordedRequest, body: JsonDict | None) -> JsonDict:
        if record.endpoint == "versions":
            return {"versions": ["v1.1", "v1.5", "v1.11"], "unstable_features": {}}
        if record.endpoint == "unknown":
            raise _MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")
        self._check_token(record.token)
        if record.endpoint == "whoami":
            return {"user_id": self.user_id, "device_id": self.device_id, "is_guest": False}
        if record.endpoint == "sync":
            return await self._sync(record)
        return self._send(record, body)

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise _MatrixError(401, "M_MISSING_TOKEN", "Missing access token.")
        if token != self.token:
            raise _MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.")

    def _fail(self, record: RecordedRequest, room_id: str | None) -> None:
        for failure in self._failures:
            if failure.endpoint != record.endpoint:
                continue
            if failure.room_id is not None and failure.room_id != room_id:
                continue
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            raise _MatrixError(
                failure.status, failure.errcode, failure.error, failure.retry_after_ms
            )
        if room_id is not None and self._flood.get(room_id, 0.0) > self.clock():
            left = self._flood[room_id] - self.clock()
            raise _MatrixError(
                429, "M_LIMIT_EXCEEDED", "Too Many Requests", max(1, math.ceil(left * 1000))
            )

    def _send(self, record: RecordedRequest, body: JsonDict | None) -> JsonDict:
        parts = record.path[len(PREFIX) :].split("/")  # "", rooms, id, send, type, txn
        room_id, event_type, txn_id = unquote(parts[2]), unquote(parts[4]), unquote(parts[5])
        assert record.token is not None
        known = self._txns.get((record.token, room_id, txn_id))
        if known is not None:  # a retried request: the same event, nothing stored twice
            return {"event_id": known}
        self._fail(record, room_id)
        room = self.rooms.get(room_id)
        if room is None:
            raise _MatrixError(404, "M_NOT_FOUND", f"Unknown room {room_id}")
        if not room.joined:
            raise _MatrixError(403, "M_FORBIDDEN", f"User {self.user_id} not in room {room_id}")
        content = body if body is not None else {}
        if event_type == "m.room.message":
            _check_message(content)
        size = len(
            json.dumps(
                {"type": event_type, "content": content, "room_id": room_id, "sender": self.user_id}
            ).encode()
        )
        if size > MAX_EVENT_BYTES:
            raise _MatrixError(413, "M_TOO_LARGE", "event too large")
        relates = content.get("m.relates_to") if isinstance(content, dict) else None
        event_id = f"${next(self._ids)}fake{room_id[1:8]}"
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            target = self._events.get(str(relates.get("event_id")))
            if target is None or target.room_id != room_id:
                raise _MatrixError(400, "M_UNKNOWN", "Edit of an unknown event")
            new = content.get("m.new_content")
            if not isinstance(new, dict):
                raise _MatrixError(400, "M_BAD_JSON", "m.replace needs m.new_content")
            _check_message(new)
            target.edits.append(new)
        else:
            sent = SentEvent(room_id, event_id, txn_id, event_type, content, self.clock())
            self._sent.setdefault(room_id, []).append(sent)
            self._events[event_id] = sent
        self._txns[(record.token, room_id, txn_id)] = event_id
        return {"event_id": event_id}

    async def _sync(self, record: RecordedRequest) -> JsonDict:
        self._fail(record, None)
        since = record.params.get("since")
        try:
            start = int(since[1:]) if since else 0
            timeout = int(record.params.get("timeout", "0")) / 1000
        except ValueError:
            raise _MatrixError(400, "M_INVALID_PARAM", "bad since or timeout") from None
        if start >= len(self._timeline) and timeout > 0:
            self._synced.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._synced.wait()
            except TimeoutError:
                pass
        events = self._timeline[start:]
        rooms: dict[str, JsonDict] = {}
        for room_id, event in events:
            joined = rooms.setdefault(room_id, {"timeline": {"events": [], "limited": False}})
            joined["timeline"]["events"].append(event)
        return {"next_batch": f"s{start + len(events)}", "rooms": {"join": rooms}}


def _check_message(content: Any) -> None:
    if not isinstance(content, dict):
        raise _MatrixError(400, "M_BAD_JSON", "content must be an object")
    if not isinstance(content.get("msgtype"), str) or not isinstance(content.get("body"), str):
        raise _MatrixError(400, "M_BAD_JSON", "m.room.message needs string msgtype and body")
    if "format" in content:
        if content["format"] != HTML_FORMAT or not isinstance(content.get("formatted_body"), str):
            raise _MatrixError(
                400, "M_BAD_JSON", f"format must be {HTML_FORMAT} with a string formatted_body"
            )


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.query.get("access_token")


def _endpoint(method: str, path: str) -> str:
    if path == "/_matrix/client/versions" and method == "GET":
        return "versions"
    if not path.startswith(PREFIX):
        return "unknown"
    rest = path[len(PREFIX) :].split("/")
    if rest[1:] == ["account", "whoami"] and method == "GET":
        return "whoami"
    if rest[1:] == ["sync"] and method == "GET":
        return "sync"
    if len(rest) == 6 and rest[1] == "rooms" and rest[3] == "send" and method == "PUT":
        return "send"
    return "unknown"
