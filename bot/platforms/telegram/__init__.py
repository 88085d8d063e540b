"""Telegram: alerts as HTML with mute buttons into chats and forum topics, commands in
chats and private chats (python-telegram-bot; ``adapter.py``), the ``[telegram]``
section and the ``chat_id``/``thread_id`` destination keys (``settings.py``), HTML
markup (``render.py``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.platforms.base import Capabilities, Platform, Section, Unavailable, Wiring
from bot.platforms.telegram import settings as own_settings
from bot.platforms.telegram.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.model import Destination
    from bot.platforms.base import Adapter

log = logging.getLogger("dozor")


def _as_int(value: int | str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class TelegramPlatform(Platform):
    name, title, chat_noun = "telegram", "Telegram", "chat"
    limits, can = LIMITS, Capabilities.everything()
    section = Section("telegram", own_settings.KEYS, own_settings.parse)
    parse_destination = staticmethod(own_settings.parse_destination)
    default, destination_keys = own_settings.TelegramSettings(), own_settings.DESTINATION_KEYS
    admins_key, chats_key, served_key = "admins", "chats", "chats"
    secret_variables = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")

    def complete(self, destination: Destination) -> Destination:
        """``chat_id`` and ``thread_id`` as numbers, from the address and the thread."""
        derived = {
            "chat_id": _as_int(destination.address),
            "thread_id": _as_int(destination.thread),
        }
        kept = tuple((k, v) for k, v in destination.options if k not in derived)
        return replace(destination, options=(*tuple(derived.items()), *kept))

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        token = wiring.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            log.error(
                "Telegram destinations are configured but TELEGRAM_BOT_TOKEN is not set: "
                "their alerts wait in the outbox until it is"
            )
            raise Unavailable("as TELEGRAM_BOT_TOKEN is not set", ["TELEGRAM_BOT_TOKEN"])
        from bot.platforms.telegram.adapter import TelegramAdapter

        return TelegramAdapter(
            token,
            self.own(settings),
            wiring.context,
            webhook_secret=wiring.environ.get("TELEGRAM_WEBHOOK_SECRET") or None,
            allow_private=settings.polling.allow_private,
        )


PLATFORM = TelegramPlatform()
