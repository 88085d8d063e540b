"""Discord as a Dozor platform: its ``[discord]`` section, its destinations, its adapter.

A Discord destination posts either as the bot into a channel (``channel_id``; the token
comes from ``DISCORD_BOT_TOKEN``) or through a channel webhook (``webhook_env``: the
name of an environment variable holding the webhook URL, token included), optionally
into a thread (``thread_id``).  Secrets are read from the environment when the
platform connects, never from config.toml, and never logged.  Commands: with
``application_id`` and ``public_key`` set, slash commands arrive on the interactions
endpoint (``interactions``, listening on ``interactions_listen``); ``admins`` and
``channels`` say who may do what where, as on the other platforms.  No mute buttons
and no files on Discord (``Capabilities``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import configread as read
from bot.platforms.base import Address, Capabilities, Limits, Platform, Section, Unavailable, Wiring
from bot.platforms.discord.api import DISCORD_API, DiscordApi, Target, parse_webhook_url
from bot.platforms.discord.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.configread import Reader
    from bot.model import Destination
    from bot.platforms.discord.adapter import DiscordPlatformAdapter

log = logging.getLogger("dozor.discord")

TOKEN_ENV = "DISCORD_BOT_TOKEN"
SECTION_KEYS = (
    "api_base_url",
    "timeout",
    "application_id",
    "public_key",
    "interactions_listen",
    "admins",
    "channels",
    "members_can_watch",
)
DESTINATION_KEYS = ("channel_id", "webhook_env", "thread_id")
_SNOWFLAKE = re.compile(r"^\d{15,22}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_PUBLIC_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class DiscordSettings:
    """``[discord]``; the bot token comes from DISCORD_BOT_TOKEN, never from here."""

    api_base_url: str = DISCORD_API
    timeout: timedelta = timedelta(seconds=15)
    application_id: str | None = None  # with public_key: take slash commands
    public_key: str | None = None  # the application's Ed25519 key (hex), not a secret
    interactions_listen: str = "127.0.0.1:8090"
    admins: tuple[str, ...] = ()  # Discord user ids who may add and remove sources
    channels: tuple[str, ...] = ()  # channel ids served besides the destinations' channels
    members_can_watch: bool = True


def parse_settings(r: Reader, raw: Any) -> DiscordSettings:
    t = r.table(raw, "discord", SECTION_KEYS)
    d = DiscordSettings()
    w = "discord"
    snow = 'a Discord id like "1200000000000000001"'
    ids = 'a list of Discord ids like "1200000000000000001"'
    settings = DiscordSettings(
        api_base_url=r.get(
            t, "discord", "api_base_url", read.base_url, d.api_base_url, "an http(s) URL"
        ),
        timeout=r.get(t, "discord", "timeout", read.duration, d.timeout, 'a duration like "15s"'),
        application_id=r.get(t, w, "application_id", snowflake, None, snow),
        public_key=r.get(t, w, "public_key", public_key, None, "64 hexadecimal digits"),
        interactions_listen=r.get(
            t, w, "interactions_listen", read.host_port, d.interactions_listen, '"host:port"'
        ),
        admins=r.get(t, w, "admins", snowflakes, (), ids),
        channels=r.get(t, w, "channels", snowflakes, (), ids),
        members_can_watch=r.get(t, w, "members_can_watch", read.boolean, True, "true or false"),
    )
    if (settings.application_id is None) != (settings.public_key is None):
        r.error(w, "slash commands need both application_id and public_key")
    return settings


def snowflake(value: Any) -> str:
    """A Discord id: digits, as text (TOML integers are taken too)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _SNOWFLAKE.match(text.strip()):
        raise ValueError
    return text.strip()


def snowflakes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError
    return tuple(snowflake(v) for v in value)


def public_key(value: Any) -> str:
    if not isinstance(value, str) or not _PUBLIC_KEY.match(value.strip()):
        raise ValueError
    return value.strip().lower()


def env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ValueError
    return value


class DiscordPlatform(Platform):
    name = "discord"
    title = "Discord"
    limits = Limits(message=LIMITS.total, text=LIMITS.content, buttons=0, button_label=0, notice=0)
    can = Capabilities(commands=True, buttons=False, threads=True, files=False, edits=True)
    section = Section("discord", SECTION_KEYS, parse_settings)
    default = DiscordSettings()
    destination_keys = DESTINATION_KEYS
    chats_key = "channels"
    chat_noun = "channel"

    def is_admin(self, settings: Settings, user_id: int | str) -> bool:
        return str(user_id) in self.own(settings).admins

    def serves(self, settings: Settings, chat_id: int | str | None) -> bool:
        return str(chat_id) in self.own(settings).channels

    def members_can_watch(self, settings: Settings) -> bool:
        return bool(self.own(settings).members_can_watch)

    def is_private(self, chat_type: str | None) -> bool:
        return chat_type == "im"

    def wanted(self, settings: Settings, destinations: Sequence[Destination]) -> bool:
        own: DiscordSettings = self.own(settings)
        return own.public_key is not None or super().wanted(settings, destinations)

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
        from bot.platforms.discord.adapter import DiscordPlatformAdapter
        from bot.platforms.discord.interactions import Interactions

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
        interactions = None
        if own.application_id and own.public_key:
            if token is None:
                log.error("Discord: slash commands need %s; not taking them", TOKEN_ENV)
            else:
                from bot.commands import COMMANDS, dispatch  # here: config imports platforms

                context = wiring.context
                interactions = Interactions(
                    api,
                    own.application_id,
                    own.public_key,
                    own.interactions_listen,
                    lambda inv: dispatch(context, inv),
                    COMMANDS,
                )
        return DiscordPlatformAdapter(api, targets, interactions)

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
