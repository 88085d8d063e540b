"""The Matrix edge: outbox alerts into rooms, ``!dozor <command>`` out of them.

Outbound (the skeleton is ``ChatAdapter``'s), an alert goes into its room (or a thread
of it) as an ``m.room.message`` with an HTML body, paced per room
(``per_room_interval``), and every answer becomes a ``SendResult`` the outbox acts on:

    429 M_LIMIT_EXCEEDED (retry_after_ms)      -> retry after that; never give up
    401 M_UNKNOWN_TOKEN / M_MISSING_TOKEN,
    403 M_FORBIDDEN, 404 (no such room)        -> destination broken: alerts kept
    400 / 413 on an alert                      -> the same alert as plain text
    5xx, no answer                             -> retry with backoff

Every send has a transaction id derived from what it sends (the alert id and its story,
or the text), so a send retried after a lost answer is the same event, not a second
one.  ``edit`` redraws a sent alert with an ``m.replace`` event.  Matrix has no buttons:
alerts go without them (mute with ``!dozor mute``).

Inbound, a ``/sync`` long poll reads the rooms the bot has joined; a message starting
with ``!dozor`` becomes a neutral ``Invocation`` for ``bot.commands`` and its reply goes
back as an ``m.notice`` answering the command.  Messages from before the start are
skipped.  The access token comes from ``MATRIX_ACCESS_TOKEN`` and is never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.commands.types import Invocation, Reply
from bot.model import Destination, OutgoingMessage, SendResult, SendStatus
from bot.pacing import Pacer
from bot.platforms.matrix.client import MatrixClient, MatrixError
from bot.platforms.matrix.render import (
    LIMITS,
    alert_content,
    edit_content,
    related,
    text_content,
)
from bot.platforms.matrix.settings import MatrixSettings
from bot.platforms.shared import ChatAdapter, TextPart
from bot.render import plain_alert, split_plain
from bot.runtime import Runtime

log = logging.getLogger("dozor.matrix")

COMMAND_PREFIX = "!dozor"
SYNC_FILTER = json.dumps(
    {
        "presence": {"types": []},
        "account_data": {"types": []},
        "room": {
            "timeline": {"types": ["m.room.message"], "limit": 50},
            "state": {"types": []},
            "ephemeral": {"types": []},
            "account_data": {"types": []},
        },
    },
    separators=(",", ":"),
)
BROKEN_CODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN", "M_NOT_FOUND"})
HINTS = {
    401: "the access token is not valid: check MATRIX_ACCESS_TOKEN",
    403: "the bot may not post there: invite its user and let it join",
    404: "no such room on this homeserver",
}
CommandHandler = Callable[[Invocation], Awaitable[Reply]]


def txn_id(*parts: object) -> str:
    """A transaction id that is the same for the same send, whenever it is tried."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"dozor.{digest[:32]}"


def failure(exc: MatrixError, room_id: str | None) -> SendResult:
    """What the outbox should do after ``exc``."""
    if exc.status == 429 or exc.errcode == "M_LIMIT_EXCEEDED":
        wait = exc.retry_after or timedelta(seconds=5)
        return SendResult(
            SendStatus.RETRY,
            f"Matrix rate limit: retry after {wait.total_seconds():.1f} s",
            retry_after=wait,
        )
    if exc.status in (401, 403, 404) or exc.errcode in BROKEN_CODES:
        hint = HINTS.get(exc.status, "")
        return SendResult(SendStatus.BROKEN, f"Matrix room {room_id}: {exc} ({hint})")
    if exc.status == 0 or exc.status >= 500:
        return SendResult(SendStatus.RETRY, f"Matrix homeserver: {exc}")
    return SendResult(SendStatus.BROKEN, f"Matrix refused the message in {room_id}: {exc}")


class MatrixAdapter(ChatAdapter):
    kind = "matrix"
    title = "Matrix"
    chat_noun = "room"
    markup = "HTML"
    limits = LIMITS
    errors = (MatrixError,)

    def __init__(
        self,
        token: str,
        settings: MatrixSettings,
        context: Runtime,
        *,
        handle: CommandHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.context = context
        self.handle = handle  # runs a command (``bot.commands.dispatch``)
        self.client = MatrixClient(settings.homeserver, token)
        self.pacer = Pacer(settings.per_room_interval.total_seconds(), clock=clock)
        self.user_id: str | None = None
        self.started = False
        self.listening = False
        self._listener: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, *, listen: bool = True) -> None:
        """Check the token (whoami); with ``listen``, also take ``!dozor`` commands."""
        try:
            self.user_id = await self.client.whoami()
        except MatrixError:
            await self.client.close()
            raise
        self.started = True
        if listen and self.handle is not None:
            try:  # where commands start: now (earlier messages are not commands)
                since = (await self.client.sync(None, 0, SYNC_FILTER)).get("next_batch")
            except MatrixError as exc:  # the listener finds "now" once the server answers
                log.warning("Matrix: cannot read commands yet (%s); trying again", exc)
                since = None
            self._listener = asyncio.create_task(
                self._listen(self.handle, since), name="matrix:sync"
            )
            self.listening = True
        log.info("Matrix: connected as %s on %s", self.user_id, self.settings.homeserver)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        self.listening = False
        self.started = False
        await self.client.close()

    # -- outbound: the skeleton is ChatAdapter's -----------------------------------------

    async def _post(self, d: Destination, content: dict[str, Any], txn: str) -> str:
        assert d.address is not None
        return await self.client.send(d.address, content, txn)

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        content = alert_content(message.alert, message.note, silent=d.silent or message.silent)
        txn = txn_id("alert", message.alert_id, message.destination, message.alert.story_key)
        return await self._post(d, related(content, d.thread, None), txn)

    async def post_plain(self, d: Destination, message: OutgoingMessage) -> str:
        content = text_content(plain_alert(message.alert)[:4000], notice=message.silent)
        txn = txn_id("plain", message.alert_id, message.destination, message.alert.story_key)
        return await self._post(d, related(content, d.thread, None), txn)

    async def post_text(self, d: Destination, part: TextPart) -> str:
        """One part of a digest, a notice or an answer; Matrix has no buttons."""
        answers = part.reply_to if part.first else None
        content = related(text_content(part.text), d.thread, answers)
        return await self._post(d, content, txn_id("text", d.name, answers, part.text))

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        assert message.remote_id is not None
        new = alert_content(message.alert, message.note, silent=True)
        txn = txn_id("edit", message.remote_id, json.dumps(new, sort_keys=True))
        await self._post(d, edit_content(message.remote_id, new), txn)
        return None

    def refused_markup(self, exc: BaseException) -> bool:
        return isinstance(exc, MatrixError) and exc.status in (400, 413)

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        assert isinstance(exc, MatrixError)
        return failure(exc, d.address)

    # -- inbound -------------------------------------------------------------------------

    async def _listen(self, handle: CommandHandler, since: str | None) -> None:
        """Read commands until cancelled; a failed sync is tried again after a pause (the
        homeserver's ``retry_after_ms``, else 1 s doubling to a minute).  Without
        ``since`` the first answer only says where "now" is."""
        backoff = 1.0
        while True:
            try:
                answer = await self.client.sync(since, 30_000, SYNC_FILTER)
            except MatrixError as exc:
                wait = exc.retry_after.total_seconds() if exc.retry_after else backoff
                log.warning("Matrix: reading commands failed (%s); again in %.0f s", exc, wait)
                await asyncio.sleep(wait)
                backoff = min(60.0, backoff * 2)
                continue
            backoff = 1.0
            first, since = since is None, answer.get("next_batch", since)
            for room_id, event in () if first else _timeline(answer):
                invocation = self.invocation(room_id, event)
                if invocation is not None:
                    await self._answer(handle, invocation, room_id, event)

    def invocation(self, room_id: str, event: dict[str, Any]) -> Invocation | None:
        """``!dozor <command> <args>`` from someone else, as an ``Invocation``."""
        if event.get("type") != "m.room.message" or event.get("sender") == self.user_id:
            return None
        content = event.get("content", {})
        body = content.get("body") if isinstance(content, dict) else None
        if not isinstance(body, str) or "m.new_content" in content:
            return None  # an edit of a message is not a new command
        head, _, rest = body.strip().partition(" ")
        if head.casefold() != COMMAND_PREFIX:
            return None
        command, _, args = rest.strip().partition(" ")
        sender = str(event.get("sender", ""))
        return Invocation(
            platform="matrix",
            chat_id=room_id,
            user_id=sender,
            user_name=sender,
            command=(command.lstrip("/") or "help").casefold(),
            args=args.strip(),
            chat_type="group",
        )

    async def _answer(
        self,
        handle: CommandHandler,
        invocation: Invocation,
        room_id: str,
        event: dict[str, Any],
    ) -> None:
        try:
            reply = await handle(invocation)
        except Exception:
            log.exception("Matrix: the command in %s failed", room_id)
            return
        text = reply.text
        if reply.attachment is not None:
            text += f"\n({reply.attachment_name} is not sent on Matrix: use the dozor command)"
        if not text:
            return
        event_id = str(event.get("event_id", ""))
        async with self.pacer.lock(room_id):
            for number, chunk in enumerate(split_plain(text, LIMITS.text_limit)):
                content = text_content(chunk, notice=True)
                if number == 0 and event_id:
                    content = related(content, None, event_id)
                await self.pacer.wait(room_id)
                try:
                    await self.client.send(
                        room_id, content, txn_id("reply", room_id, event_id, number)
                    )
                except MatrixError as exc:
                    log.warning("Matrix: the reply in %s was not sent: %s", room_id, exc)
                    return
                finally:
                    self.pacer.sent(room_id)


def _timeline(answer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (room id, event) pairs of a ``/sync`` answer's joined rooms; whatever is not
    shaped as the spec says is skipped."""
    rooms = answer.get("rooms")
    joined = rooms.get("join") if isinstance(rooms, dict) else None
    out = []
    for room_id, room in joined.items() if isinstance(joined, dict) else ():
        timeline = room.get("timeline") if isinstance(room, dict) else None
        events = timeline.get("events") if isinstance(timeline, dict) else None
        out.extend((room_id, e) for e in events or () if isinstance(e, dict))
    return out
