"""The Discord edge, outbound: outbox messages -> Discord REST calls (``api``).

``send`` posts one alert as an embed (``render.alert_message``); when Discord refuses
the embed (400), the same alert goes again as plain content, so a rendering surprise
never blocks a destination.  ``edit`` redraws a sent alert with its notes; ``send_text``
posts digests and notices split into 2,000-character messages, as replies to a sent
alert where asked (bot destinations; a webhook cannot reply, so it just posts).
Buttons are not drawn (a press would be a component interaction, which Dozor does not
take).  Which channel or webhook a destination name means comes from
``targets`` (or why it has none: a variable not set); secrets live only inside the
``Target`` and the ``DiscordApi``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.model import OutgoingMessage, SendResult, SendStatus
from bot.platforms.discord.api import DiscordApi, Target, refused_content
from bot.platforms.discord.render import (
    NO_MENTIONS,
    SUPPRESS_NOTIFICATIONS,
    alert_message,
    plain_message,
    text_messages,
)

if TYPE_CHECKING:
    from bot.commands.types import Button
    from bot.platforms.discord.interactions import Interactions

log = logging.getLogger("dozor.discord")


class DiscordAdapter:
    kind = "discord"

    def __init__(self, api: DiscordApi, targets: Callable[[str], Target | str | None]):
        self.api = api
        self.targets = targets  # a destination's target, or why it has none

    def _target(self, destination: str) -> Target | SendResult:
        target = self.targets(destination)
        if target is None:
            return SendResult(SendStatus.BROKEN, f"no Discord channel or webhook for {destination}")
        if isinstance(target, str):
            return SendResult(SendStatus.BROKEN, f"Discord: {target}")
        return target

    async def send(self, message: OutgoingMessage) -> SendResult:
        target = self._target(message.destination)
        if isinstance(target, SendResult):
            return target
        body = alert_message(message.alert, message.note, silent=message.silent)
        result = await self.api.create(target, body)
        if refused_content(result):
            plain: dict[str, Any] = {
                "content": plain_message(message.alert, message.note),
                "allowed_mentions": NO_MENTIONS,
            }
            if message.silent:
                plain["flags"] = SUPPRESS_NOTIFICATIONS
            result = await self.api.create(target, plain)
        return result

    async def edit(self, message: OutgoingMessage) -> SendResult:
        target = self._target(message.destination)
        if isinstance(target, SendResult):
            return target
        if message.remote_id is None:
            return SendResult(SendStatus.BROKEN, "no Discord message to edit")
        body = alert_message(message.alert, message.note)
        body.pop("flags", None)
        result = await self.api.edit(target, message.remote_id, body)
        if result.status is SendStatus.SENT:
            return SendResult(SendStatus.SENT, remote_id=message.remote_id)
        return result

    async def send_text(
        self,
        destination: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        target = self._target(destination)
        if isinstance(target, SendResult):
            return target
        first: str | None = None
        for part in text_messages(text):
            body: dict[str, Any] = {"content": part, "allowed_mentions": NO_MENTIONS}
            if reply_to and target.webhook_id is None:
                body["message_reference"] = {"message_id": reply_to, "fail_if_not_exists": False}
            result = await self.api.create(target, body)
            if result.status is not SendStatus.SENT:
                return result
            first = first or result.remote_id
        return SendResult(SendStatus.SENT, remote_id=first)


class DiscordPlatformAdapter(DiscordAdapter):
    """The adapter with its lifecycle: ``start`` checks the bot token once (``GET
    /users/@me``), logs which destinations cannot post and why, and, with ``listen``,
    opens the interactions endpoint for slash commands."""

    def __init__(
        self,
        api: DiscordApi,
        targets: dict[str, Target | str],
        interactions: Interactions | None = None,
    ):
        super().__init__(api, self._lookup)
        self._targets = targets
        self.interactions = interactions
        self.started = False
        self.listening = False

    def _lookup(self, destination: str) -> Target | str | None:
        return self._targets.get(destination)

    async def start(self, *, listen: bool = True) -> None:
        await self.api.start()
        if any(isinstance(t, Target) and t.webhook_id is None for t in self._targets.values()):
            me = await self.api.whoami()
            if me.status is not SendStatus.SENT:
                log.error("Discord: the bot token is refused (%s); alerts are kept", me.detail)
            else:
                log.info("Discord: connected as %s", me.remote_id)
        for name, target in self._targets.items():
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
