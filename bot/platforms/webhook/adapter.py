"""The generic webhook edge, outbound: outbox messages -> signed JSON POSTs, on the
shared ``ChatAdapter`` skeleton (look the destination up, post, map failures to a
``SendResult``).

Each destination is one URL and one shared secret (``Target``).  ``post_alert`` posts
an ``alert`` event, ``update_alert`` an ``alert.updated`` one, ``post_text`` a
``message`` (see ``payload`` for the schema and the signature).  The receiver's answer
becomes a ``SendResult`` the outbox acts on:

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
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.model import SendResult, SendStatus
from bot.pacing import Pacer
from bot.platforms.base import Limits
from bot.platforms.shared import ChatAdapter, TextPart
from bot.platforms.webhook.payload import (
    TEXT_LIMIT,
    alert_event,
    encode,
    message_event,
    signed_headers,
)
from bot.platforms.webhook.settings import shown
from watchers.http import parse_retry_after

if TYPE_CHECKING:
    from bot.model import Destination, OutgoingMessage
    from bot.runtime import Runtime

USER_AGENT = "Dozor-Webhook/1"
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
DEFAULT_RETRY_AFTER = timedelta(seconds=60)  # a 429 that does not say how long


@dataclass(frozen=True)
class Target:
    url: str
    secret: str = ""

    @property
    def shown(self) -> str:
        return shown(self.url)


class Undelivered(Exception):
    """A POST that did not go through: ``Undelivered(result)``, where the
    ``SendResult`` says retry or broken."""

    @property
    def result(self) -> SendResult:
        return self.args[0]


class WebhookAdapter(ChatAdapter):
    kind, title, chat_noun = "webhook", "Webhook", "receiver"
    limits, errors = Limits(message=TEXT_LIMIT), (Undelivered,)

    def __init__(
        self,
        context: Runtime,
        target_of: Callable[[Destination], Target | str],  # or why there is none
        *,
        timeout: timedelta = timedelta(seconds=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall: Callable[[], float] = time.time,
    ):
        self.context = context
        self.target_of = target_of
        self.timeout = timeout
        self.clock = clock
        self.wall = wall
        self.pacer = Pacer(0.0)  # one POST at a time per receiver, no interval
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

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        return await self._post(d, alert_event(message, self.clock()))

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        await self._post(d, alert_event(message, self.clock(), updated=True))
        return None

    async def post_text(self, d: Destination, part: TextPart) -> str:
        return await self._post(d, message_event(d.name, part.text, self.clock(), part.reply_to))

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        assert isinstance(exc, Undelivered)
        return exc.result

    async def _post(self, d: Destination, event: dict[str, Any]) -> str:
        target = self.target_of(d)
        if isinstance(target, str):
            raise Undelivered(SendResult(SendStatus.BROKEN, f"webhook: {target}"))
        await self.start()
        assert self._session is not None
        body = encode(event)
        headers = signed_headers(event, body, target.secret, self.wall())
        try:
            async with self._session.post(
                target.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                said = (await response.content.read(300)).decode("utf-8", "replace")
                result = self._outcome(target, response.status, response.headers, said)
        except TimeoutError:
            seconds = f"{self.timeout.total_seconds():g}"
            result = SendResult(
                SendStatus.RETRY, f"webhook {target.shown} did not answer in {seconds} s"
            )
        except NETWORK_ERRORS as exc:
            result = SendResult(
                SendStatus.RETRY, f"webhook {target.shown} unreachable: {type(exc).__name__}"
            )
        if result.status is not SendStatus.SENT:
            raise Undelivered(result)
        return str(event["id"])

    def _outcome(self, target: Target, status: int, headers: Any, said: str) -> SendResult:
        if 200 <= status < 300:
            return SendResult(SendStatus.SENT)
        wait = parse_retry_after(headers.get("Retry-After"), self.clock())
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
            moved = shown(str(headers.get("Location", "")))
            why += f"; it redirects to {moved}: set url to the new address"
        elif status in (401, 403):
            why += "; check that the receiver has the secret of secret_env"
        return SendResult(SendStatus.BROKEN, f"webhook {target.shown} refused the delivery: {why}")
