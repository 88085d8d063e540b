"""A real server on 127.0.0.1 that plays Discord's REST API (v10): bot messages and webhooks.

The Discord package's aiohttp client talks to it over real sockets.  One aiohttp server
(port 0) serves, under ``/api/v10``:

    GET   /users/@me                                  the bot (Authorization: Bot <token>)
    POST  /channels/{channel}/messages                a bot message
    PATCH /channels/{channel}/messages/{message}      edit it
    GET   /webhooks/{id}/{token}                      the webhook (no Authorization)
    POST  /webhooks/{id}/{token}?wait=true&thread_id= a webhook message (204 without wait)
    PATCH /webhooks/{id}/{token}/messages/{message}   edit it

    async with FakeDiscord(bot_token="MTIz.bot-token") as fake:
        fake.add_webhook("1001", "hook-token", channel="2001")
        base = fake.api_url                            # "http://127.0.0.1:PORT/api/v10"
        ...
        fake.rate_limit("2001", 1.0)                   # that channel answers 429 for 1 s
        fake.fail_next("2001", status=403, code=50013)
        await fake.wait_messages("2001", 3)

Checked as Discord checks them (400 ``Invalid Form Body``, code 50035, with an
``errors`` tree): ``content`` over 2,000 characters, more than 10 embeds, an embed's
title over 256, description over 4,096, more than 25 fields, a field name over 256 or
value over 1,024, footer text over 2,048, author name over 256, all embeds together over
6,000 characters, a colour outside 0..0xFFFFFF, a title ``url`` that is not http(s); a
message with neither content nor embeds is 400 code 50006 ("Cannot send an empty
message").  A wrong bot token is 401 ``{"message": "401: Unauthorized", "code": 0}``; an
unknown channel 404 code 10003, an unknown webhook or a wrong webhook token 404 code
10015, an unknown message 404 code 10008.

Rate limits as Discord sends them: every answer carries ``X-RateLimit-Limit``,
``-Remaining``, ``-Reset``, ``-Reset-After`` (seconds, a float) and ``-Bucket`` (an
opaque hash per route: one per channel, one per webhook).  Each bucket allows
``bucket_limit`` requests per ``bucket_window`` seconds; one more is answered 429 with
``{"message": "You are being rate limited.", "retry_after": <float s>, "global":
false}``, ``Retry-After`` (whole seconds) and ``X-RateLimit-Scope: user``.
``rate_limit(key, seconds)`` makes a channel or webhook id answer 429 until then;
``rate_limit_global(seconds)`` answers every call 429 with ``"global": true`` and
``X-RateLimit-Global``.  ``fail_next(key, status=..., code=..., times=1)``: the next
calls for that channel/webhook get that error (500/502/503: Discord's plain gateway
text).

Interactions (slash commands), as Discord sends them to a bot's HTTP endpoint:
``PUT /applications/{application_id}/commands`` (bulk overwrite, bot token) is kept in
``commands``; ``await interact(url, "watch", "Вагнер", user_id=..., channel_id=...)``
posts a signed APPLICATION_COMMAND (``X-Signature-Ed25519`` over timestamp + body with
the fake's own key; ``public_key`` is its hex) and returns ``(status, json)``; a type 4
answer becomes a message in the channel, a type 5 (deferred) a placeholder that ``PATCH
/webhooks/{application_id}/{token}/messages/@original`` fills; follow-ups ``POST
/webhooks/{application_id}/{token}``.  ``ping(url)``; ``post_signed(url, body, key=...,
timestamp=...)`` for forged or stale requests.

Test-facing records: ``requests`` (every ``RecordedRequest``: method, path, query,
headers, json, time, status, response), ``messages(key)`` (``StoredMessage``: id,
channel, content, embeds, flags, allowed_mentions, message_reference, thread_id,
webhook_id, edits, time), ``too_early`` (requests that came while their bucket was
exhausted: a client that paces by the headers never makes one).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.fakes.local_server import LocalServer, Waiters

__all__ = ["FakeDiscord", "RecordedRequest", "StoredMessage", "embed_errors"]

JsonDict = dict[str, Any]

CONTENT_LIMIT = 2000
MAX_EMBEDS = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
MAX_FIELDS = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBEDS_TOTAL_LIMIT = 6000
_EPOCH_MS = 1_420_070_400_000  # Discord's snowflake epoch
_COMMAND_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    time: float
    key: str | None  # the channel or webhook id the call is for
    status: int | None = None
    response: Any = None
    limit_headers: dict[str, str] = field(default_factory=dict)  # sent with the answer


@dataclass
class StoredMessage:
    id: str
    channel: str
    time: float
    content: str
    embeds: list[JsonDict]
    flags: int = 0
    allowed_mentions: JsonDict | None = None
    message_reference: JsonDict | None = None
    thread_id: str | None = None
    webhook_id: str | None = None
    edits: list[JsonDict] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int


@dataclass
class _Bucket:
    sent: list[float] = field(default_factory=list)


def embed_errors(payload: JsonDict) -> JsonDict:
    """Discord's ``errors`` tree for a message body, empty when Discord would take it."""
    errors: JsonDict = {}

    def add(path: list[str | int], code: str, message: str) -> None:
        node = errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(path: list[str | int], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    length(["content"], payload.get("content"), CONTENT_LIMIT)
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        add(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds[:MAX_EMBEDS]):
        where: list[str | int] = ["embeds", i]
        length([*where, "title"], embed.get("title"), TITLE_LIMIT)
        length([*where, "description"], embed.get("description"), DESCRIPTION_LIMIT)
        url = embed.get("url")
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            add([*where, "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        colour = embed.get("color")
        if colour is not None and not (isinstance(colour, int) and 0 <= colour <= 0xFFFFFF):
            add([*where, "color"], "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            add(
                [*where, "fields"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_FIELDS} or fewer in length.",
            )
        for j, item in enumerate(fields):
            for key, limit in (("name", FIELD_NAME_LIMIT), ("value", FIELD_VALUE_LIMIT)):
                value = item.get(key)
                if not isinstance(value, str) or not value:
                    add([*where, "fields", j, key], "BASE_TYPE_REQUIRED", "This field is required")
                length([*where, "fields", j, key], value, limit)
            total += len(item.get("name") or "") + len(item.get("value") or "")
        footer = (embed.get("footer") or {}).get("text")
        author = (embed.get("author") or {}).get("name")
        length([*where, "footer", "text"], footer, FOOTER_LIMIT)
        length([*where, "author", "name"], author, AUTHOR_LIMIT)
        for part in (embed.get("title"), embed.get("description"), footer, author):
            total += len(part or "")
    if total > EMBEDS_TOTAL_LIMIT:
        add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    return errors


class FakeDiscord:
    def __init__(
        self,
        bot_token: str = "MTIzNDU2.fake.bot-token",
        *,
        channels: tuple[str, ...] | None = None,
        bucket_limit: int = 5,
        bucket_window: float = 2.0,
        application_id: str = "1400000000000000001",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.application_id = application_id
        self.key = Ed25519PrivateKey.generate()
        self.commands: list[JsonDict] = []
        self._interactions: dict[str, tuple[str, str | None]] = {}  # token: channel, original
        self.channels = set(channels) if channels is not None else None  # None: any snowflake
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.too_early: list[RecordedRequest] = []
        self.webhooks: dict[str, tuple[str, str]] = {}  # id -> (token, channel)
        self._messages: dict[str, list[StoredMessage]] = {}
        self._by_id: dict[str, StoredMessage] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._limited: dict[str, float] = {}
        self._global_until = 0.0
        self._buckets: dict[str, _Bucket] = {}
        self._ids = itertools.count(1)
        self._waiters = Waiters()
        self._server = LocalServer("FakeDiscord")

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        base = "/api/v10"
        app.router.add_get(f"{base}/users/@me", self._me)
        app.router.add_post(f"{base}/channels/{{channel}}/messages", self._channel_post)
        app.router.add_patch(
            f"{base}/channels/{{channel}}/messages/{{message}}", self._channel_edit
        )
        app.router.add_put(f"{base}/applications/{{app}}/commands", self._put_commands)
        app.router.add_get(f"{base}/webhooks/{{id}}/{{token}}", self._webhook_get)
        app.router.add_post(f"{base}/webhooks/{{id}}/{{token}}", self._webhook_post)
        app.router.add_patch(
            f"{base}/webhooks/{{id}}/{{token}}/messages/{{message}}", self._webhook_edit
        )
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
    def api_url(self) -> str:
        """The API base the client is pointed at: ``http://127.0.0.1:PORT/api/v10``."""
        return f"{self._server.root}/api/v10"

    # -- test-facing ---------------------------------------------------------------------

    def add_webhook(self, webhook_id: str, token: str, *, channel: str) -> str:
        """A channel webhook; returns its URL as Discord shows it (on this server)."""
        self.webhooks[webhook_id] = (token, channel)
        return f"{self._server.root}/api/webhooks/{webhook_id}/{token}"

    @property
    def public_key(self) -> str:
        """The hex Ed25519 public key interactions are signed with (the app's key)."""
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return raw.hex()

    async def post_signed(
        self,
        url: str,
        body: bytes,
        *,
        key: Ed25519PrivateKey | None = None,
        timestamp: str | None = None,
    ) -> tuple[int, Any]:
        """POST ``body`` to a bot's interactions endpoint, signed as Discord signs."""
        stamp = timestamp or str(int(time.time()))
        signature = (key or self.key).sign(stamp.encode() + body).hex()
        headers = {
            "Content-Type": "application/json",
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": stamp,
        }
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def ping(self, url: str) -> tuple[int, Any]:
        body = {"id": "1", "application_id": self.application_id, "type": 1, "token": "p"}
        return await self.post_signed(url, json.dumps(body).encode())

    async def interact(
        self,
        url: str,
        name: str,
        args: str | None = None,
        *,
        user_id: str = "1600000000000000001",
        username: str = "anna",
        channel_id: str = "1200000000000000001",
        guild_id: str | None = "1500000000000000001",
    ) -> tuple[int, Any]:
        """A user runs ``/name args`` in a channel (``guild_id=None``: a DM)."""
        token = f"interaction-token-{next(self._ids)}"
        self._interactions[token] = (channel_id, None)
        user = {"id": user_id, "username": username, "global_name": username.title()}
        options = [{"name": "args", "type": 3, "value": args}] if args is not None else []
        payload: JsonDict = {
            "id": str(next(self._ids)),
            "application_id": self.application_id,
            "type": 2,
            "token": token,
            "version": 1,
            "channel_id": channel_id,
            "channel": {"id": channel_id, "type": 0 if guild_id else 1},
            "data": {"id": "1", "name": name, "type": 1, "options": options},
        }
        if guild_id:
            payload["guild_id"] = guild_id
            payload["member"] = {"user": user, "roles": []}
        else:
            payload["user"] = user
        status, answer = await self.post_signed(url, json.dumps(payload).encode())
        if status == 200 and isinstance(answer, dict) and answer.get("type") in (4, 5):
            data = answer.get("data") or {}
            message = self._store(channel_id, data, self.application_id, None, None)
            self._interactions[token] = (channel_id, message.id)
        return status, answer

    def messages(self, key: str) -> list[StoredMessage]:
        """The messages in a channel (a webhook's messages are in its channel, or in the
        thread it posted to), oldest first."""
        return list(self._messages.get(key, []))

    def calls(self, method: str, key: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and key in (None, r.key)]

    def fail_next(
        self,
        key: str,
        *,
        status: int = 500,
        code: int = 0,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        text = message or {403: "Missing Permissions", 404: "Unknown Channel"}.get(status, "")
        self._failures.setdefault(key, []).append(_Failure(status, code, text, times))

    def rate_limit(self, key: str, seconds: float) -> None:
        """Every call for channel or webhook ``key`` is answered 429 for ``seconds``."""
        self._limited[key] = self.clock() + seconds

    def rate_limit_global(self, seconds: float) -> None:
        self._global_until = self.clock() + seconds

    async def wait_messages(self, key: str, count: int, seconds: float = 10) -> list[StoredMessage]:
        if not await self._waiters.until(lambda: len(self.messages(key)) >= count, seconds):
            raise TimeoutError(f"{key}: {len(self.messages(key))} messages, wanted {count}")
        return self.messages(key)

    # -- handlers ------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        record = await self._record(request, None)
        if (denied := self._unauthorized(request, record)) is not None:
            return denied
        return self._answer(
            record, 200, {"id": "900000000000000001", "username": "Dozor", "bot": True}
        )

    async def _channel_post(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        record = await self._record(request, channel)
        if (denied := self._unauthorized(request, record)) is not None:
            return denied
        if (refused := self._refuse(record, channel, f"channel:{channel}")) is not None:
            return refused
        if self.channels is not None and channel not in self.channels:
            return self._error(record, 404, 10003, "Unknown Channel")
        return self._create(record, channel, record.json, None, None)

    async def _channel_edit(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        record = await self._record(request, channel)
        if (denied := self._unauthorized(request, record)) is not None:
            return denied
        if (refused := self._refuse(record, channel, f"channel:{channel}")) is not None:
            return refused
        return self._edit(record, channel, request.match_info["message"], record.json)

    async def _put_commands(self, request: web.Request) -> web.Response:
        record = await self._record(request, None)
        if (denied := self._unauthorized(request, record)) is not None:
            return denied
        if request.match_info["app"] != self.application_id:
            return self._error(record, 404, 10002, "Unknown Application")
        body = record.json
        if not isinstance(body, list) or len(body) > 100:
            return self._error(record, 400, 50035, "Invalid Form Body")
        errors: JsonDict = {}
        for i, command in enumerate(body):
            name = command.get("name")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME.match(name):
                errors[str(i)] = {"name": {"_errors": [{"code": "INVALID_NAME"}]}}
            if not isinstance(description, str) or not 1 <= len(description) <= 100:
                errors[str(i)] = {"description": {"_errors": [{"code": "BAD_LENGTH"}]}}
        if errors:
            return self._error(record, 400, 50035, "Invalid Form Body", errors)
        self.commands = [
            {**c, "id": str(900 + i), "application_id": self.application_id}
            for i, c in enumerate(body)
        ]
        return self._answer(record, 200, self.commands)

    async def _webhook_get(self, request: web.Request) -> web.Response:
        hook_id = request.match_info["id"]
        record = await self._record(request, hook_id)
        if (unknown := self._unknown_webhook(request, record)) is not None:
            return unknown
        _, channel = self.webhooks[hook_id]
        return self._answer(record, 200, {"id": hook_id, "type": 1, "channel_id": channel})

    async def _webhook_post(self, request: web.Request) -> web.Response:
        hook_id = request.match_info["id"]
        record = await self._record(request, hook_id)
        if (unknown := self._unknown_webhook(request, record)) is not None:
            return unknown
        if (refused := self._refuse(record, hook_id, f"webhook:{hook_id}")) is not None:
            return refused
        _, channel = self._hook(request)
        thread = request.query.get("thread_id")
        response = self._create(record, thread or channel, record.json, hook_id, thread)
        if response.status == 200 and request.query.get("wait", "false").lower() != "true":
            record.response = None
            record.status = 204
            return web.Response(status=204, headers=dict(response.headers))
        return response

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        hook_id = request.match_info["id"]
        record = await self._record(request, hook_id)
        if (unknown := self._unknown_webhook(request, record)) is not None:
            return unknown
        if (refused := self._refuse(record, hook_id, f"webhook:{hook_id}")) is not None:
            return refused
        token, channel = self._hook(request)
        where = request.query.get("thread_id") or channel
        message = request.match_info["message"]
        if message == "@original":
            message = (self._interactions.get(token) or ("", None))[1] or "unknown"
        return self._edit(record, where, message, record.json)

    def _hook(self, request: web.Request) -> tuple[str, str]:
        """The token and channel of a known webhook (or of an interaction's token)."""
        hook_id, token = request.match_info["id"], request.match_info["token"]
        if hook_id == self.application_id and token in self._interactions:
            return token, self._interactions[token][0]
        return self.webhooks[hook_id]

    # -- plumbing ------------------------------------------------------------------------

    async def _record(self, request: web.Request, key: str | None) -> RecordedRequest:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        record = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            body,
            self.clock(),
            key,
        )
        self.requests.append(record)
        return record

    def _unauthorized(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bot {self.bot_token}":
            return self._answer(record, 401, {"message": "401: Unauthorized", "code": 0})
        return None

    def _unknown_webhook(
        self, request: web.Request, record: RecordedRequest
    ) -> web.Response | None:
        hook_id, token = request.match_info["id"], request.match_info["token"]
        if hook_id == self.application_id and token in self._interactions:
            return None
        known = self.webhooks.get(hook_id)
        if known is None or known[0] != request.match_info["token"]:
            return self._error(record, 404, 10015, "Unknown Webhook")
        return None

    def _refuse(self, record: RecordedRequest, key: str, route: str) -> web.Response | None:
        """Rate limits, then injected failures; None when the call goes through."""
        now = self.clock()
        bucket_id = hashlib.sha1(route.encode()).hexdigest()[:16]
        if now < self._global_until:
            wait = self._global_until - now
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(wait, 3),
                "global": True,
            }
            headers = {
                "Retry-After": str(math.ceil(wait)),
                "X-RateLimit-Global": "true",
                "X-RateLimit-Scope": "global",
            }
            return self._answer(record, 429, body, headers)
        bucket = self._buckets.setdefault(bucket_id, _Bucket())
        bucket.sent = [t for t in bucket.sent if t > now - self.bucket_window]
        forced = self._limited.get(key, 0.0)
        if now < forced or len(bucket.sent) >= self.bucket_limit:
            wait = forced - now if now < forced else bucket.sent[0] + self.bucket_window - now
            if now >= forced:
                self.too_early.append(record)
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(wait, 3),
                "global": False,
            }
            headers = {
                **self._limit_headers(bucket_id, 0, wait),
                "Retry-After": str(math.ceil(wait)),
                "X-RateLimit-Scope": "user",
            }
            return self._answer(record, 429, body, headers)
        failures = self._failures.get(key) or []
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            if failure.status in (500, 502, 503, 504):
                record.status = failure.status
                record.response = "upstream connect error"
                return web.Response(status=failure.status, text="upstream connect error")
            return self._error(record, failure.status, failure.code, failure.message)
        bucket.sent.append(now)
        remaining = self.bucket_limit - len(bucket.sent)
        reset_after = bucket.sent[0] + self.bucket_window - now
        record.limit_headers = self._limit_headers(bucket_id, remaining, reset_after)
        return None

    def _limit_headers(self, bucket: str, remaining: int, reset_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{max(0.0, reset_after):.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    def _create(
        self,
        record: RecordedRequest,
        channel: str,
        body: Any,
        webhook_id: str | None,
        thread: str | None,
    ) -> web.Response:
        if not isinstance(body, dict):
            return self._error(record, 400, 50109, "The request body contains invalid JSON.")
        errors = embed_errors(body)
        if errors:
            return self._error(record, 400, 50035, "Invalid Form Body", errors)
        if not body.get("content") and not body.get("embeds"):
            return self._error(record, 400, 50006, "Cannot send an empty message")
        reference = body.get("message_reference")
        if reference is not None and reference.get("message_id") not in self._by_id:
            if reference.get("fail_if_not_exists") is False:
                reference = None
        if reference is not None and reference.get("message_id") not in self._by_id:
            errors = {
                "message_reference": {
                    "_errors": [
                        {"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}
                    ]
                }
            }
            return self._error(record, 400, 50035, "Invalid Form Body", errors)
        message = self._store(channel, body, webhook_id, thread, reference)
        return self._answer(record, 200, self._shape(message), record.limit_headers)

    def _store(
        self,
        channel: str,
        body: JsonDict,
        webhook_id: str | None,
        thread: str | None,
        reference: JsonDict | None,
    ) -> StoredMessage:
        stamp = int(time.time() * 1000) - _EPOCH_MS
        message = StoredMessage(
            id=str((stamp << 22) + next(self._ids)),
            channel=channel,
            time=self.clock(),
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            flags=int(body.get("flags") or 0),
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=reference,
            thread_id=thread,
            webhook_id=webhook_id,
        )
        self._messages.setdefault(channel, []).append(message)
        self._by_id[message.id] = message
        self._waiters.notify()
        return message

    def _edit(
        self, record: RecordedRequest, channel: str, message_id: str, body: Any
    ) -> web.Response:
        message = self._by_id.get(message_id)
        if message is None or message.channel != channel:
            return self._error(record, 404, 10008, "Unknown Message")
        if not isinstance(body, dict):
            return self._error(record, 400, 50109, "The request body contains invalid JSON.")
        merged = {"content": message.content, "embeds": message.embeds, **body}
        errors = embed_errors(merged)
        if errors:
            return self._error(record, 400, 50035, "Invalid Form Body", errors)
        message.content = merged.get("content") or ""
        message.embeds = list(merged.get("embeds") or [])
        message.edits.append(body)
        self._waiters.notify()
        return self._answer(record, 200, self._shape(message), record.limit_headers)

    def _shape(self, message: StoredMessage) -> JsonDict:
        return {
            "id": message.id,
            "channel_id": message.channel,
            "content": message.content,
            "embeds": message.embeds,
            "flags": message.flags,
            "webhook_id": message.webhook_id,
            "type": 0,
        }

    def _error(
        self,
        record: RecordedRequest,
        status: int,
        code: int,
        message: str,
        errors: JsonDict | None = None,
    ) -> web.Response:
        body: JsonDict = {"message": message, "code": code}
        if errors:
            body["errors"] = errors
        return self._answer(record, status, body)

    def _answer(
        self,
        record: RecordedRequest,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        record.status = status
        record.response = body
        self._waiters.notify()
        return web.json_response(body, status=status, headers=headers or {})
