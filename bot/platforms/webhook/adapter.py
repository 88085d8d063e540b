"""The generic webhook edge, outbound: outbox messages -> signed JSON POSTs.

Each destination is one URL and one shared secret (``Target``).  ``send`` posts an
``alert`` event, ``edit`` an ``alert.updated`` one, ``send_text`` a ``message`` (see
``payload`` for the schema and the signature).  The receiver's answer becomes a
``SendResult`` the outbox acts on:

    2xx                              -> sent (the delivery id is the "message id")
    429, 503 with Retry-After        -> retry after Retry-After (seconds or an HTTP date)
    5xx, 408, timeouts, network      -> retry with the outbox's backoff (2 s, 4 s ... 10 min)
    3xx, other 4xx                   -> destination broken with the status and the
                                        receiver's first words: alerts kept, in /status,
                                        tried again every 15 minutes until it takes them

Redirects are not followed (a POST must not turn into a GET elsewhere).  The secret
and the URL's query (it may hold a token) are never logged nor put in a detail; a
detail names the receiver by scheme, host and path only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from bot.model import OutgoingMessage, SendResult, SendStatus
from bot.platforms.webhook.payload import alert_event, encode, message_event, signed_headers

if TYPE_CHECKING:
    from bot.commands.types import Button

USER_AGENT = "Dozor-Webhook/1"
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
DEFAULT_RETRY_AFTER = timedelta(seconds=60)  # a 429 that does not say how long


@dataclass(frozen=True)
class Target:
    url: str
    secret: str = ""

    @property
    def shown(self) -> str:
        """The URL without query or credentials: safe for logs and /status."""
        parts = urlsplit(self.url)
        return (
            f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
        )


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header: seconds, or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)


class WebhookAdapter:
    kind = "webhook"

    def __init__(
        self,
        targets: Callable[[str], Target | str | None],  # or why there is none
        *,
        timeout: timedelta = timedelta(seconds=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall: Callable[[], float] = time.time,
    ):
        self.targets = targets
        self.timeout = timeout
        self.clock = clock
        self.wall = wall
        self.started = False
        self.listening = False
        self._session: aiohttp.ClientSession | None = None

    async def start(self, *, listen: bool = True) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout.total_seconds()),
                headers={"User-Agent": USER_AGENT},
            )
        self.started = True

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.started = False

    async def send(self, message: OutgoingMessage) -> SendResult:
        return await self._post(message.destination, alert_event(message, self.clock()))

    async def edit(self, message: OutgoingMessage) -> SendResult:
        return await self._post(
            message.destination, alert_event(message, self.clock(), updated=True)
        )

    async def send_text(
        self,
        destination: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        return await self._post(
            destination, message_event(destination, text, self.clock(), reply_to)
        )

    async def _post(self, destination: str, event: dict[str, Any]) -> SendResult:
        target = self.targets(destination)
        if target is None:
            return SendResult(SendStatus.BROKEN, f"no webhook URL for {destination}")
        if isinstance(target, str):
            return SendResult(SendStatus.BROKEN, f"webhook: {target}")
        await self.start()
        assert self._session is not None
        body = encode(event)
        headers = signed_headers(event, body, target.secret, self.wall())
        try:
            async with self._session.post(
                target.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                said = (await response.content.read(300)).decode("utf-8", "replace")
                return self._outcome(target, response.status, response.headers, said, event)
        except TimeoutError:
            return SendResult(
                SendStatus.RETRY,
                f"webhook {target.shown} did not answer in {self.timeout.total_seconds():g} s",
            )
        except NETWORK_ERRORS as exc:
            return SendResult(
                SendStatus.RETRY, f"webhook {target.shown} unreachable: {type(exc).__name__}"
            )

    def _outcome(
        self, target: Target, status: int, headers: Any, said: str, event: dict[str, Any]
    ) -> SendResult:
        if 200 <= status < 300:
            return SendResult(SendStatus.SENT, remote_id=str(event["id"]))
        wait = retry_after(headers.get("Retry-After"), self.clock())
        if status == 429:
            wait = wait if wait is not None else DEFAULT_RETRY_AFTER
            return SendResult(
                SendStatus.RETRY,
                f"webhook {target.shown} rate limit: retry after {wait.total_seconds():g} s",
                retry_after=wait,
            )
        if status >= 500 or status == 408:
            return SendResult(
                SendStatus.RETRY, f"webhook {target.shown} failed: HTTP {status}", retry_after=wait
            )
        first_words = " ".join(said.split())[:120]
        why = f"HTTP {status}" + (f" ({first_words})" if first_words else "")
        if 300 <= status < 400:
            moved = Target(str(headers.get("Location", ""))).shown
            why += f"; it redirects to {moved}: set url to the new address"
        elif status in (401, 403):
            why += "; check that the receiver has the secret of secret_env"
        return SendResult(SendStatus.BROKEN, f"webhook {target.shown} refused the delivery: {why}")
