"""Discord: alerts as embeds into channels and threads, as the bot or through a channel
webhook (REST over aiohttp: ``api.py``, ``adapter.py``; embeds: ``render.py``), slash
commands on the Ed25519-signed interactions endpoint (``interactions.py``), the
``[discord]`` section and the ``channel_id``/``webhook_env``/``thread`` destination
keys (``settings.py``).  Secrets come from the environment when the platform connects
(``DISCORD_BOT_TOKEN``, the variable a ``webhook_env`` names), never from config.toml,
and are never logged.  No mute buttons, no files."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.platforms.base import Capabilities, Platform, Section, Unavailable, Wiring
from bot.platforms.discord import settings as own_settings
from bot.platforms.discord.api import Target, parse_webhook_url
from bot.platforms.discord.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.model import Destination
    from bot.platforms.discord.adapter import DiscordAdapter

log = logging.getLogger("dozor.discord")

TOKEN_ENV = "DISCORD_BOT_TOKEN"


class DiscordPlatform(Platform):
    name, title, chat_noun, limits = "discord", "Discord", "channel", LIMITS
    can = Capabilities(commands=True, buttons=False, threads=True, files=False, edits=True)
    section = Section("discord", own_settings.KEYS, own_settings.parse)
    default, destination_keys = own_settings.DiscordSettings(), own_settings.DESTINATION_KEYS
    admins_key, chats_key, served_key = "admins", "channels", "channels"
    secret_variables, secret_keys = (TOKEN_ENV,), ("webhook_env",)

    parse_destination = staticmethod(own_settings.parse_destination)

    def complete(self, destination: Destination) -> Destination:
        """A destination /watch made in a channel has only its address: the channel."""
        address = destination.address or ""
        if destination.option("webhook_env") or address.startswith(own_settings.WEBHOOK_PREFIX):
            return destination
        kept = tuple((k, v) for k, v in destination.options if k != "channel_id")
        return replace(destination, options=(("channel_id", address or None), *kept))

    def is_private(self, chat_type: str | None) -> bool:
        return chat_type == "im"

    def wanted(self, settings: Settings, destinations: Sequence[Destination]) -> bool:
        commands = self.own(settings).public_key is not None
        return commands or super().wanted(settings, destinations)

    def connect(self, settings: Settings, wiring: Wiring) -> DiscordAdapter:
        from bot.platforms.discord.adapter import DiscordAdapter
        from bot.platforms.discord.api import DiscordApi

        own = self.own(settings)
        token = wiring.environ.get(TOKEN_ENV, "").strip() or None
        mine = [d for d in wiring.context.destinations() if d.platform == self.name]
        if token is None and not any(d.option("webhook_env") for d in mine):
            log.error(
                "Discord is configured but %s is not set: alerts for Discord destinations "
                "wait in the outbox until it is",
                TOKEN_ENV,
            )
            raise Unavailable(f"as {TOKEN_ENV} is not set", (TOKEN_ENV,))
        api = DiscordApi(own.api_base_url, token, timeout=own.timeout)

        def target_of(d: Destination) -> Target | str:
            return _target(d, token, wiring.environ, api.hide)

        interactions = None
        if own.public_key and token is None:
            log.error("Discord: slash commands need %s; not taking them", TOKEN_ENV)
        if own.application_id and own.public_key and token is not None:
            from bot.commands import COMMANDS, dispatch
            from bot.platforms.discord.interactions import Interactions

            context = wiring.context
            interactions = Interactions(
                api,
                own.application_id,
                own.public_key,
                own.interactions_listen,
                lambda inv: dispatch(context, inv),
                COMMANDS,
            )
        return DiscordAdapter(api, wiring.context, target_of, interactions)


def _target(
    d: Destination, token: str | None, environ: Mapping[str, str], hide: Any
) -> Target | str:
    """Where a destination posts, or why it cannot (said in /status)."""
    channel = d.option("channel_id")
    if channel:
        if token is None:
            return f"{TOKEN_ENV} is not set"
        return Target(channel_id=str(channel), thread_id=d.thread)
    name = str(d.option("webhook_env"))
    value = environ.get(name, "").strip()
    if not value:
        return f"{name} is not set"
    found = parse_webhook_url(value)
    if found is None:
        return (
            f"{name} is not a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>)"
        )
    hide(found[1])
    return Target(webhook_id=found[0], webhook_token=found[1], thread_id=d.thread)


PLATFORM = DiscordPlatform()
