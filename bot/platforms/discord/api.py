"""The Discord REST calls Dozor makes, paced by Discord's rate-limit headers.

Two ways to post: as a bot (``POST /channels/{channel}/messages`` with
``Authorization: Bot <token>``) or through a channel webhook (``POST
/webhooks/{id}/{token}?wait=true``, no token header: the webhook's token is in its
path).  Every answer becomes a ``SendResult`` the outbox acts on:

    200                                 -> sent (the message id kept for edits)
    429 (retry_after, X-RateLimit-*)    -> retry after retry_after: that bucket (or, when
                                           "global", every route) waits that long
    401, 403, 404 (token, permissions,
    unknown channel or webhook)         -> destination broken: alerts kept, in /status
    400 (Invalid Form Body)             -> refused: the caller may send a plainer body
    5xx, timeouts, network errors       -> retry with the outbox's backoff

Pacing: each route (one channel, one webhook) learns its bucket from
``X-RateLimit-Bucket``; when a bucket's ``X-RateLimit-Remaining`` reaches 0 the next
call on it waits ``X-RateLimit-Reset-After``: a short wait is slept here, a long one is
handed back to the outbox as a retry, so no alert is dropped and the destination's lane
is never held for long.  Calls on one route go one at a time.  Tokens (the bot's, a
webhook's) are never logged nor put in a result's detail.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from bot.model import SendResult, SendStatus

DISCORD_API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/dozor, 0.1.0)"
WEBHOOK_URL = re.compile(r"/webhooks/(\d{5,25})/([A-Za-z0-9_\-.]{10,200})/?$")
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
MAX_SLEEP = 2.0  # seconds a call may wait for its bucket here; longer: back to the outbox


@dataclass(frozen=True)
class Target:
    """Where a message goes: a channel (bot) or a webhook, optionally a thread."""

    channel_id: str | None = None
    webhook_id: str | None = None
    webhook_token: str | None = None
    thread_id: str | None = None

    @property
    def route(self) -> str:
        """Discord's major parameter: rate limits are per channel, or per webhook."""
        if self.webhook_id is not None:
            return f"webhook:{self.webhook_id}"
        return f"channel:{self.thread_id or self.channel_id}"

    def create_path(self) -> str:
        if self.webhook_id is not None:
            query = "?wait=true" + (f"&thread_id={self.thread_id}" if self.thread_id else "")
            return f"/webhooks/{self.webhook_id}/{self.webhook_token}{query}"
        return f"/channels/{self.thread_id or self.channel_id}/messages"

    def edit_path(self, message_id: str) -> str:
        if self.webhook_id is not None:
            query = f"?thread_id={self.thread_id}" if self.thread_id else ""
            return f"/webhooks/{self.webhook_id}/{self.webhook_token}/messages/{message_id}{query}"
        return f"/channels/{self.thread_id or self.channel_id}/messages/{message_id}"


def parse_webhook_url(url: str) -> tuple[str, str] | None:
    """``(id, token)`` of a webhook URL as Discord shows it
    (``https://discord.com/api/webhooks/<id>/<token>``); None if it is not one."""
    found = WEBHOOK_URL.search(url.strip().split("?", 1)[0])
    return (found.group(1), found.group(2)) if found else None


class RateLimits:
    """What Discord's headers said about each bucket, and when a route may call again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.bucket_of: dict[str, str] = {}  # route -> X-RateLimit-Bucket
        self.blocked_until: dict[str, float] = {}  # bucket (or route) -> monotonic time
        self.global_until = 0.0
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, route: str) -> asyncio.Lock:
        return self._locks.setdefault(route, asyncio.Lock())

    def _key(self, route: str) -> str:
        bucket = self.bucket_of.get(route)
        return f"{bucket}:{route}" if bucket else route

    def wait_for(self, route: str) -> float:
        """Seconds until ``route`` may call (0: now)."""
        until = max(self.blocked_until.get(self._key(route), 0.0), self.global_until)
        return max(0.0, until - self.clock())

    def update(self, route: str, headers: Any) -> None:
        """Learn from an answer's ``X-RateLimit-*`` headers."""
        bucket = headers.get("X-RateLimit-Bucket")
        if bucket:
            self.bucket_of[route] = bucket
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        reset_after = _number(headers.get("X-RateLimit-Reset-After"))
        if remaining is not None and remaining <= 0 and reset_after is not None:
            self.blocked_until[self._key(route)] = self.clock() + reset_after

    def limited(self, route: str, retry_after: float, everywhere: bool) -> None:
        """A 429: the route's bucket (or, for a global limit, every route) waits."""
        until = self.clock() + retry_after
        if everywhere:
            self.global_until = max(self.global_until, until)
        else:
            key = self._key(route)
            self.blocked_until[key] = max(self.blocked_until.get(key, 0.0), until)


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class DiscordApi:
    """One HTTP session to Discord (or the test fake at ``base_url``)."""

    def __init__(
        self,
        base_url: str = DISCORD_API,
        bot_token: str | None = None,
        *,
        timeout: timedelta = timedelta(seconds=15),
        clock: Callable[[], float] = time.monotonic,
        max_sleep: float = MAX_SLEEP,
    ):
        self.base_url = base_url.rstrip("/")
        self.bot_token = bot_token
        self.timeout = timeout
        self.limits = RateLimits(clock)
        self.max_sleep = max_sleep
        self._session: aiohttp.ClientSession | None = None
        self._secrets = [s for s in (bot_token,) if s]

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout.total_seconds()),
                headers={"User-Agent": USER_AGENT},
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def hide(self, secret: str) -> None:
        """Never show ``secret`` (a webhook token) in a result's detail."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    async def whoami(self) -> SendResult:
        """``GET /users/@me``: whether the bot token works (sent: ``remote_id`` is the
        bot's name)."""
        return await self._call("GET", "/users/@me", "users:@me", None, bot=True)

    async def create(self, target: Target, body: dict[str, Any]) -> SendResult:
        return await self._call(
            "POST", target.create_path(), target.route, body, bot=target.webhook_id is None
        )

    async def edit(self, target: Target, message_id: str, body: dict[str, Any]) -> SendResult:
        return await self._call(
            "PATCH", target.edit_path(message_id), target.route, body, bot=target.webhook_id is None
        )

    async def put(self, path: str, body: Any) -> SendResult:
        """A bot call (registering the slash commands)."""
        return await self._call("PUT", path, "applications", body, bot=True)

    async def post(self, path: str, body: dict[str, Any]) -> SendResult:
        """An interaction's follow-up (its token is in the path: no bot token)."""
        return await self._call("POST", path, "interactions", body, bot=False)

    async def patch(self, path: str, body: dict[str, Any]) -> SendResult:
        """An interaction's deferred answer, filled in."""
        return await self._call("PATCH", path, "interactions", body, bot=False)

    async def _call(
        self, method: str, path: str, route: str, body: Any, *, bot: bool
    ) -> SendResult:
        await self.start()
        assert self._session is not None
        headers = {"Authorization": f"Bot {self.bot_token}"} if bot and self.bot_token else {}
        async with self.limits.lock(route):
            wait = self.limits.wait_for(route)
            if wait > self.max_sleep:
                return SendResult(
                    SendStatus.RETRY,
                    f"Discord rate limit: {route} waits {wait:.1f} s",
                    retry_after=timedelta(seconds=wait),
                )
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                async with self._session.request(
                    method, self.base_url + path, json=body, headers=headers
                ) as response:
                    self.limits.update(route, response.headers)
                    data = await _json(response)
                    return self._outcome(route, response.status, data, response.headers)
            except NETWORK_ERRORS as exc:
                return SendResult(SendStatus.RETRY, f"Discord unreachable: {self._describe(exc)}")

    def _outcome(self, route: str, status: int, data: Any, headers: Any) -> SendResult:
        info = data if isinstance(data, dict) else {}
        if 200 <= status < 300:
            remote = info.get("id") or info.get("username")
            return SendResult(SendStatus.SENT, remote_id=str(remote) if remote else None)
        message = str(info.get("message") or "").strip()[:200]
        code = info.get("code")
        said = f"{message} (code {code})" if message and code else message or f"HTTP {status}"
        if status == 429:
            wait = _number(info.get("retry_after"))
            if wait is None:
                wait = _number(headers.get("Retry-After")) or 1.0
            everywhere = bool(info.get("global")) or headers.get("X-RateLimit-Global") == "true"
            self.limits.limited(route, wait, everywhere)
            scope = "global" if everywhere else route
            return SendResult(
                SendStatus.RETRY,
                f"Discord rate limit ({scope}): retry after {wait:.2f} s",
                retry_after=timedelta(seconds=wait),
            )
        if status == 401:
            return SendResult(SendStatus.BROKEN, "Discord: 401 Unauthorized (check the token)")
        if status in (403, 404):
            return SendResult(SendStatus.BROKEN, f"Discord: {said}")
        if status >= 500:
            return SendResult(SendStatus.RETRY, f"Discord unavailable: HTTP {status}")
        return SendResult(SendStatus.BROKEN, f"Discord refused the message: {said}")

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"[:200]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return None


def refused_content(result: SendResult) -> bool:
    """Discord refused the body itself (400 Invalid Form Body, an empty message)."""
    return result.status is SendStatus.BROKEN and result.detail.startswith(
        "Discord refused the message"
    )
