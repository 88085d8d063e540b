"""Discord as a Dozor platform: its ``[discord]`` section, its destinations, its adapter.

A Discord destination posts either as the bot into a channel (``channel_id``; the token
comes from ``DISCORD_BOT_TOKEN``) or through a channel webhook (``webhook_env``: the
name of an environment variable holding the webhook URL, token included), optionally
into a thread (``thread_id``).  Secrets are read from the environment when the
platform connects, never from config.toml, and never logged.  Alerts only: Discord
slash commands arrive as interactions, which Dozor does not take yet, so there are no
commands and no mute buttons on Discord (``Capabilities``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import configread as read
from bot.platforms.base import Address, Capabilities, Limits, Platform, Section, Unavailable, Wiring
from bot.platforms.discord.adapter import DiscordAdapter
from bot.platforms.discord.api import DISCORD_API, DiscordApi, Target, parse_webhook_url
from bot.platforms.discord.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.configread import Reader

log = logging.getLogger("dozor.discord")

TOKEN_ENV = "DISCORD_BOT_TOKEN"
SECTION_KEYS = ("api_base_url", "timeout")
DESTINATION_KEYS = ("channel_id", "webhook_env", "thread_id")
_SNOWFLAKE = re.compile(r"^\d{15,22}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


@dataclass(frozen=True)
class DiscordSettings:
    """``[discord]``; the bot token comes from DISCORD_BOT_TOKEN, never from here."""

    api_base_url: str = DISCORD_API
    timeout: timedelta = timedelta(seconds=15)


def parse_settings(r: Reader, raw: Any) -> DiscordSettings:
    t = r.table(raw, "discord", SECTION_KEYS)
    d = DiscordSettings()
    return DiscordSettings(
        api_base_url=r.get(
            t, "discord", "api_base_url", read.base_url, d.api_base_url, "an http(s) URL"
        ),
        timeout=r.get(t, "discord", "timeout", read.duration, d.timeout, 'a duration like "15s"'),
    )


def snowflake(value: Any) -> str:
    """A Discord id: digits, as text (TOML integers are taken too)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _SNOWFLAKE.match(text.strip()):
        raise ValueError
    return text.strip()


def env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ValueError
    return value


class DiscordPlatform(Platform):
    name = "discord"
    title = "Discord"
    limits = Limits(message=LIMITS.total, text=LIMITS.content, buttons=0, button_label=0, notice=0)
    can = Capabilities(commands=False, buttons=False, threads=True, files=False, edits=True)
    section = Section("discord", SECTION_KEYS, parse_settings)
    default = DiscordSettings()
    destination_keys = DESTINATION_KEYS
    chats_key = "channels"
    chat_noun = "channel"

    def parse_destination(self, r: Reader, table: Mapping[str, Any], where: str) -> Address:
        snow = 'a Discord id like "1200000000000000001"'
        channel = r.get(dict(table), where, "channel_id", snowflake, None, snow)
        hook = r.get(
            dict(table),
            where,
            "webhook_env",
            env_name,
            None,
            'an environment variable name like "DISCORD_WEBHOOK_DESK"',
        )
        thread = r.get(dict(table), where, "thread_id", snowflake, None, snow)
        if ("channel_id" in table) == ("webhook_env" in table):
            r.error(
                where,
                "a discord destination needs channel_id (post as the bot) or webhook_env "
                "(post through a channel webhook), not both",
            )
        address = channel if channel is not None else (f"webhook:{hook}" if hook else None)
        return Address(address, thread, {"channel_id": channel, "webhook_env": hook})

    def connect(self, settings: Settings, wiring: Wiring) -> DiscordPlatformAdapter:
        own: DiscordSettings = self.own(settings)
        mine = [d for d in wiring.context.destinations() if d.platform == self.name]
        token = wiring.environ.get(TOKEN_ENV, "").strip() or None
        if token is None and mine and all(d.options.get("channel_id") for d in mine):
            log.error("Discord: %s is not set: Discord alerts wait in the outbox", TOKEN_ENV)
            raise Unavailable(f"as {TOKEN_ENV} is not set")
        api = DiscordApi(own.api_base_url, token, timeout=own.timeout)
        targets: dict[str, Target | str] = {}
        for d in mine:
            targets[d.name] = self._target(d.options, d.thread, token, wiring.environ, api)
        return DiscordPlatformAdapter(api, targets)

    def _target(
        self,
        options: Mapping[str, Any],
        thread: str | None,
        token: str | None,
        environ: Mapping[str, str],
        api: DiscordApi,
    ) -> Target | str:
        """The destination's target, or why it has none (said in /status)."""
        channel = options.get("channel_id")
        if channel:
            return (
                Target(channel_id=channel, thread_id=thread) if token else f"{TOKEN_ENV} is not set"
            )
        name = str(options.get("webhook_env"))
        value = environ.get(name, "").strip()
        if not value:
            return f"{name} is not set"
        found = parse_webhook_url(value)
        if found is None:
            return f"{name} is not a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>)"
        api.hide(found[1])
        return Target(webhook_id=found[0], webhook_token=found[1], thread_id=thread)


class DiscordPlatformAdapter(DiscordAdapter):
    """The adapter with its lifecycle: start checks the token and each webhook once."""

    def __init__(self, api: DiscordApi, targets: dict[str, Target | str]):
        super().__init__(api, self._lookup)
        self._targets = targets
        self.started = False
        self.listening = False

    def _lookup(self, destination: str) -> Target | str | None:
        return self._targets.get(destination)

    async def start(self, *, listen: bool = True) -> None:
        await self.api.start()
        if any(isinstance(t, Target) and t.webhook_id is None for t in self._targets.values()):
            me = await self.api.whoami()
            if me.status.value != "sent":
                log.error("Discord: the bot token is refused (%s); alerts are kept", me.detail)
            else:
                log.info("Discord: connected as %s", me.remote_id)
        for name, target in self._targets.items():
            if isinstance(target, str):
                log.error("Discord destination %s cannot post: %s", name, target)
        self.started = True

    async def stop(self) -> None:
        await self.api.close()
        self.started = False
