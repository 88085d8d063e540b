"""The Discord edge: outbox messages -> Discord REST calls (``api``), on the shared
``ChatAdapter`` skeleton (look the destination up, post, fall back to plain text, map
failures to a ``SendResult``).

``post_alert`` sends one alert as an embed (``render.alert_message``); when Discord
refuses the embed (400 Invalid Form Body), the skeleton sends the same alert again as
plain content (``post_plain``), so a rendering surprise never blocks a destination.
``update_alert`` redraws a sent alert with its notes; ``post_text`` posts digests and
notices split into 2,000-character messages, as replies to a sent alert where asked
(bot destinations; a webhook cannot reply, so it just posts).  Buttons are not drawn (a
press would be a component interaction, which Dozor does not take).  Pacing is the
``api``'s (Discord's rate-limit buckets), so the skeleton's pacer has no interval of
its own.  Which channel or webhook a destination means comes from ``target_of`` (or
why it has none: a variable not set); secrets live only inside the ``Target`` and the
``DiscordApi``.  ``start`` checks the bot token once and, with ``listen``, opens the
interactions endpoint for slash commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.model import SendResult, SendStatus
from bot.pacing import Pacer
from bot.platforms.discord.api import DiscordApi, Target, refused_content
from bot.platforms.discord.render import (
    EMBED,
    LIMITS,
    NO_MENTIONS,
    SUPPRESS_NOTIFICATIONS,
    alert_message,
    escape,
    plain_message,
)
from bot.platforms.shared import ChatAdapter, TextPart
from bot.render import split_plain

if TYPE_CHECKING:
    from bot.model import Destination, OutgoingMessage
    from bot.platforms.discord.interactions import Interactions
    from bot.runtime import Runtime

log = logging.getLogger("dozor.discord")


class Refused(Exception):
    """A Discord call that did not go through; ``result`` says retry or broken."""

    def __init__(self, result: SendResult):
        super().__init__(result.detail)
        self.result = result


class DiscordAdapter(ChatAdapter):
    kind = "discord"
    title = "Discord"
    chat_noun = "channel"
    markup = "embed"
    limits = LIMITS
    errors = (Refused,)

    def __init__(
        self,
        api: DiscordApi,
        context: Runtime,
        target_of: Callable[[Destination], Target | str],
        interactions: Interactions | None = None,
    ):
        self.api = api
        self.context = context
        self.target_of = target_of
        self.interactions = interactions
        self.pacer = Pacer(0.0)  # one call at a time per channel; the buckets pace
        self.started = False
        self.listening = False

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, *, listen: bool = True) -> None:
        await self.api.start()
        mine = [d for d in self.context.destinations() if d.platform == self.kind]
        targets = {d.name: self.target_of(d) for d in mine}
        if self.api.bot_token and any(
            isinstance(t, Target) and t.channel_id for t in targets.values()
        ):
            me = await self.api.whoami()
            if me.status is not SendStatus.SENT:
                log.error("Discord: the bot token is refused (%s); alerts are kept", me.detail)
            else:
                log.info("Discord: connected as %s", me.remote_id)
        for name, target in targets.items():
            if isinstance(target, str):
                log.error("Discord destination %s cannot post: %s", name, target)
        self.started = True
        if listen and self.interactions is not None:
            try:
                await self.interactions.start()
            except OSError as exc:  # alerts still go out
                log.error("Discord: cannot take slash commands (%s); alerts are still sent", exc)
                await self.interactions.stop()
                return
            self.listening = True

    async def stop(self) -> None:
        if self.interactions is not None:
            await self.interactions.stop()
        await self.api.close()
        self.listening = False
        self.started = False

    # -- outbound ------------------------------------------------------------------------

    async def _create(self, d: Destination, body: dict[str, Any]) -> str:
        result = await self.api.create(self._target(d), body)
        if result.status is not SendStatus.SENT:
            raise Refused(result)
        return result.remote_id or ""

    def _target(self, d: Destination) -> Target:
        target = self.target_of(d)
        if isinstance(target, str):
            raise Refused(SendResult(SendStatus.BROKEN, f"Discord: {target}"))
        return target

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        silent = message.silent or d.silent
        return await self._create(d, alert_message(message.alert, message.note, silent=silent))

    async def post_plain(self, d: Destination, message: OutgoingMessage) -> str:
        body: dict[str, Any] = {
            "content": plain_message(message.alert, message.note),
            "allowed_mentions": NO_MENTIONS,
        }
        if message.silent or d.silent:
            body["flags"] = SUPPRESS_NOTIFICATIONS
        return await self._create(d, body)

    async def post_text(self, d: Destination, part: TextPart) -> str:
        body: dict[str, Any] = {
            "content": escape(part.text) or "…",
            "allowed_mentions": NO_MENTIONS,
        }
        if part.reply_to and self._target(d).webhook_id is None:
            reference = {"message_id": part.reply_to, "fail_if_not_exists": False}
            body["message_reference"] = reference
        return await self._create(d, body)

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        assert message.remote_id is not None
        body = alert_message(message.alert, message.note)
        result = await self.api.edit(self._target(d), message.remote_id, body)
        if result.status is not SendStatus.SENT:
            raise Refused(result)
        return None

    def split(self, text: str) -> list[str]:
        """Parts that stay within 2,000 characters once escaped."""
        return split_plain(text, EMBED.content, lambda part: len(escape(part)))

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        assert isinstance(exc, Refused)
        return exc.result

    def refused_markup(self, exc: BaseException) -> bool:
        return isinstance(exc, Refused) and refused_content(exc.result)

    def describe(self, exc: BaseException) -> str:
        return str(exc)
