"""The ``[discord]`` section and the Discord keys of ``[[destinations]]``: config.toml ->
``DiscordSettings`` and a destination's channel, webhook and thread, problems by key
path.  Secrets are not here: the bot token is ``DISCORD_BOT_TOKEN``, a webhook's URL
is in the environment variable its ``webhook_env`` names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.configread import Reader, base_url, boolean, duration, env_name, host_port, list_of
from bot.platforms.base import Address
from bot.platforms.discord.api import DISCORD_API

KEYS = (
    "api_base_url",
    "timeout",
    "application_id",
    "public_key",
    "interactions_listen",
    "admins",
    "channels",
    "members_can_watch",
)
DESTINATION_KEYS = ("channel_id", "webhook_env", "thread")
WEBHOOK_PREFIX = "webhook:"  # a webhook destination's address: "webhook:<variable>"
_SNOWFLAKE = re.compile(r"^\d{15,22}$")
_PUBLIC_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
SNOWFLAKE = 'a Discord id like "1200000000000000001"'
BOTH = (
    "a discord destination needs channel_id (post as the bot) or webhook_env "
    "(post through a channel webhook), not both"
)


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


def snowflake(value: Any) -> str:
    """A Discord id: digits, as text (TOML integers are taken too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SNOWFLAKE.match(value.strip()):
        raise ValueError
    return value.strip()


_snowflakes = list_of(snowflake)


def _public_key(value: Any) -> str:
    if not isinstance(value, str) or not _PUBLIC_KEY.match(value.strip()):
        raise ValueError
    return value.strip().lower()


def parse(r: Reader, raw: Any) -> DiscordSettings:
    t = r.table(raw, "discord", KEYS)
    d = DiscordSettings()
    w = "discord"
    ids = 'a list of Discord ids like "1200000000000000001"'
    settings = DiscordSettings(
        api_base_url=r.get(t, w, "api_base_url", base_url, d.api_base_url, "an http(s) URL"),
        timeout=r.get(t, w, "timeout", duration, d.timeout, 'a duration like "15s"'),
        application_id=r.get(t, w, "application_id", snowflake, None, SNOWFLAKE),
        public_key=r.get(t, w, "public_key", _public_key, None, "64 hexadecimal digits"),
        interactions_listen=r.get(
            t, w, "interactions_listen", host_port, d.interactions_listen, '"host:port"'
        ),
        admins=r.get(t, w, "admins", _snowflakes, (), ids),
        channels=r.get(t, w, "channels", _snowflakes, (), ids),
        members_can_watch=r.get(t, w, "members_can_watch", boolean, True, "true or false"),
    )
    if ("application_id" in t) != ("public_key" in t):
        r.error(w, "slash commands need both application_id and public_key")
    return settings


def parse_destination(r: Reader, t: Mapping[str, Any], where: str) -> Address:
    """A channel (as the bot) or a webhook variable, exactly one; a thread in it."""
    table = dict(t)
    channel = r.get(table, where, "channel_id", snowflake, None, SNOWFLAKE)
    env = 'an environment variable name like "DISCORD_WEBHOOK_DESK"'
    hook = r.get(table, where, "webhook_env", env_name, None, env)
    thread = r.get(table, where, "thread", snowflake, None, SNOWFLAKE)
    if ("channel_id" in table) == ("webhook_env" in table):
        r.error(where, BOTH)
    address = channel if channel is not None else (f"{WEBHOOK_PREFIX}{hook}" if hook else None)
    return Address(address, thread, {"channel_id": channel, "webhook_env": hook})
