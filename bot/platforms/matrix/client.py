"""The Matrix client-server API over plain aiohttp: the few calls Dozor makes.

    PUT  /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}   send, edit
    GET  /_matrix/client/v3/sync?since=&timeout=                         commands
    GET  /_matrix/client/v3/account/whoami                               start

Every error answer becomes a ``MatrixError`` carrying the HTTP status, the ``errcode``
and, for 429 ``M_LIMIT_EXCEEDED``, ``retry_after`` (from ``retry_after_ms``, else the
``Retry-After`` header).  A network failure becomes a ``MatrixError`` with status 0.
The access token goes in the ``Authorization`` header only; it is never logged and
never part of an error's text.  Sends are idempotent: the caller picks the txnId, and a
homeserver answers a repeated txnId with the first event instead of a second one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

PREFIX = "/_matrix/client/v3"
JsonDict = dict[str, Any]


class MatrixError(Exception):
    def __init__(
        self,
        status: int,
        errcode: str,
        error: str,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(f"{errcode}: {error}" if errcode else error)
        self.status = status  # 0: no answer (network, timeout)
        self.errcode = errcode
        self.error = error
        self.retry_after = retry_after


class MatrixClient:
    """One homeserver, one access token; ``close`` when done."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def whoami(self) -> str:
        """The user id the token belongs to."""
        answer = await self._call("GET", f"{PREFIX}/account/whoami")
        return str(answer.get("user_id", ""))

    async def send(
        self, room_id: str, content: JsonDict, txn_id: str, event_type: str = "m.room.message"
    ) -> str:
        """Send an event; the event id.  The same ``txn_id`` again sends nothing new."""
        path = f"{PREFIX}/rooms/{quote(room_id, safe='')}/send/{quote(event_type, safe='')}"
        answer = await self._call("PUT", f"{path}/{quote(txn_id, safe='')}", content)
        return str(answer["event_id"])

    async def sync(self, since: str | None, timeout_ms: int, filter_json: str) -> JsonDict:
        params = {"timeout": str(timeout_ms), "filter": filter_json}
        if since is not None:
            params["since"] = since
        return await self._call(
            "GET", f"{PREFIX}/sync", params=params, seconds=self._timeout + timeout_ms / 1000
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: JsonDict | None = None,
        *,
        params: dict[str, str] | None = None,
        seconds: float | None = None,
    ) -> JsonDict:
        limit = aiohttp.ClientTimeout(total=seconds or self._timeout)
        try:
            async with self._http().request(
                method, self.base_url + path, json=body, params=params, timeout=limit
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
                if response.status == 200 and isinstance(answer, dict):
                    return answer
                raise _error(response.status, answer, response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MatrixError(0, "", f"homeserver unreachable ({type(exc).__name__})") from None


def _error(status: int, answer: Any, retry_header: str | None) -> MatrixError:
    if not isinstance(answer, dict):
        return MatrixError(status, "", f"HTTP {status} without a Matrix error body")
    errcode = str(answer.get("errcode", ""))
    error = str(answer.get("error", ""))[:300]
    retry_after = None
    ms = answer.get("retry_after_ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms >= 0:
        retry_after = timedelta(milliseconds=ms)
    elif retry_header and retry_header.strip().isdigit():
        retry_after = timedelta(seconds=int(retry_header.strip()))
    if status == 429 and retry_after is None:
        retry_after = timedelta(seconds=5)
    return MatrixError(status, errcode, error, retry_after)
