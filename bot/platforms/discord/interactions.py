"""Discord slash commands, inbound: the HTTP interactions endpoint.

    Discord --POST /discord/interactions (Ed25519-signed)--> Invocation -> bot.commands
    Reply -> the interaction's answer (type 4), or a deferred one (type 5) filled later

Discord posts every slash command to the URL set as the application's "Interactions
Endpoint URL".  Each request is checked before anything else: ``X-Signature-Ed25519``
must be the application's Ed25519 signature (``[discord] public_key``) over
``X-Signature-Timestamp`` followed by the raw body, and the timestamp within five
minutes of now (a replay is refused); otherwise 401.  A PING is answered with a PONG
(Discord checks the URL that way).  A command becomes an ``Invocation`` for
``bot.commands.dispatch``; its reply is the answer when it is ready within
``ANSWER_WITHIN`` seconds (Discord allows three), ephemeral when the reply says so;
otherwise the answer is deferred and the reply edited in when done.  Replies over
2,000 characters continue in follow-up messages.  At start every command is registered
as a global slash command with one optional text option, ``args`` (``PUT
/applications/{id}/commands``).  No buttons: presses would be interactions too, and
Dozor does not draw them on Discord.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.commands import Command, Invocation, Reply
from bot.model import SendStatus
from bot.platforms.discord.api import DiscordApi
from bot.platforms.discord.render import NO_MENTIONS, text_messages

log = logging.getLogger("dozor.discord")

PATH = "/discord/interactions"
PING, APPLICATION_COMMAND = 1, 2
PONG, ANSWER, DEFERRED = 1, 4, 5
EPHEMERAL = 1 << 6
ANSWER_WITHIN = 2.0  # seconds; Discord waits 3 for the first answer
MAX_AGE = 300  # seconds a signed request stays valid
MAX_BODY = 64 * 1024


def verify(public_key: str, signature: str, timestamp: str, body: bytes) -> bool:
    """Whether ``signature`` (hex) is the key's Ed25519 signature of timestamp + body."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
        key.verify(bytes.fromhex(signature), timestamp.encode() + body)
    except (ValueError, InvalidSignature):
        return False
    return True


def slash_commands(commands: Sequence[Command]) -> list[dict[str, Any]]:
    """The command table as Discord application commands (bulk overwrite body)."""
    return [
        {
            "name": c.name,
            "type": 1,
            "description": c.summary[:100],
            "options": [
                {
                    "name": "args",
                    "type": 3,  # STRING
                    "description": c.usage[:100],
                    "required": False,
                }
            ],
        }
        for c in commands
    ]


def invocation(payload: dict[str, Any]) -> Invocation:
    """An APPLICATION_COMMAND interaction as the command layer's ``Invocation``."""
    data = payload.get("data") or {}
    options = data.get("options") or []
    args = next((str(o.get("value") or "") for o in options if o.get("name") == "args"), "")
    user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
    channel = payload.get("channel_id") or (payload.get("channel") or {}).get("id")
    name = user.get("username") or user.get("global_name")
    return Invocation(
        platform="discord",
        chat_id=str(channel) if channel else None,
        user_id=str(user.get("id") or ""),
        user_name=f"@{name}" if name else str(user.get("id") or "?"),
        command=str(data.get("name") or "help"),
        args=args.strip(),
        chat_type="channel" if payload.get("guild_id") else "im",
    )


class Interactions:
    """The endpoint: ``start`` registers the commands and listens; ``stop`` closes."""

    def __init__(
        self,
        api: DiscordApi,
        application_id: str,
        public_key: str,
        listen: str,
        run: Callable[[Invocation], Awaitable[Reply]],
        commands: Sequence[Command],
        *,
        wall: Callable[[], float] = time.time,
        answer_within: float = ANSWER_WITHIN,
    ):
        self.api = api
        self.application_id = application_id
        self.public_key = public_key
        self.listen = listen
        self.run = run
        self.commands = commands
        self.wall = wall
        self.answer_within = answer_within
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        registered = await self.api.put(
            f"/applications/{self.application_id}/commands", slash_commands(self.commands)
        )
        if registered.status is not SendStatus.SENT:
            log.error("Discord: cannot register the slash commands: %s", registered.detail)
        server = web.Application(client_max_size=MAX_BODY)
        server.router.add_post(PATH, self._on_request)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        host, _, port = self.listen.rpartition(":")
        await web.TCPSite(self._runner, host, int(port)).start()
        self.port = self._runner.addresses[0][1]
        log.info("Discord: slash commands on http://%s%s", self.listen, PATH)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_request(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get("X-Signature-Ed25519", "")
        timestamp = request.headers.get("X-Signature-Timestamp", "")
        if not (timestamp.isdigit() and len(timestamp) <= 12) or not verify(
            self.public_key, signature, timestamp, body
        ):
            return web.Response(status=401, text="invalid request signature")
        if abs(self.wall() - int(timestamp)) > MAX_AGE:
            return web.Response(status=401, text="stale request timestamp")
        try:
            payload = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="not JSON")
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == PING:
            return web.json_response({"type": PONG})
        if kind != APPLICATION_COMMAND:
            return web.json_response({"type": ANSWER, "data": _data(Reply("not supported"))})
        token = str(payload.get("token") or "")
        work = asyncio.ensure_future(self.run(invocation(payload)))
        done, _ = await asyncio.wait({work}, timeout=self.answer_within)
        if done:
            reply = work.result()
            parts = _parts(reply)
            if len(parts) > 1:
                self._later(self._follow_up(token, parts[1:], reply.ephemeral))
            return web.json_response({"type": ANSWER, "data": _data(reply, parts[0])})
        self._later(self._finish(token, work))
        return web.json_response({"type": DEFERRED})

    def _later(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, token: str, work: asyncio.Future[Reply]) -> None:
        """A slow command: its reply replaces the deferred answer ("thinking...")."""
        reply = await work
        parts = _parts(reply)
        path = f"/webhooks/{self.application_id}/{token}/messages/@original"
        edited = await self.api.patch(path, _data(reply, parts[0]))
        if edited.status is not SendStatus.SENT:
            log.error("Discord: cannot answer a command: %s", edited.detail)
        await self._follow_up(token, parts[1:], reply.ephemeral)

    async def _follow_up(self, token: str, parts: Sequence[str], ephemeral: bool) -> None:
        for part in parts:
            body: dict[str, Any] = {"content": part, "allowed_mentions": NO_MENTIONS}
            if ephemeral:
                body["flags"] = EPHEMERAL
            sent = await self.api.post(f"/webhooks/{self.application_id}/{token}", body)
            if sent.status is not SendStatus.SENT:
                log.error("Discord: cannot send the rest of an answer: %s", sent.detail)
                return


def _parts(reply: Reply) -> list[str]:
    if not reply.text:
        return ["…"]
    return text_messages(reply.text)


def _data(reply: Reply, content: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "content": content if content is not None else _parts(reply)[0],
        "allowed_mentions": NO_MENTIONS,
    }
    if reply.ephemeral:
        data["flags"] = EPHEMERAL
    return data
