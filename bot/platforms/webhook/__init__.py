"""The generic webhook: alerts as signed, versioned JSON POSTs to any URL (``adapter.py``,
the schema and the signature in ``payload.py``), the ``[webhook]`` section and the
``url``/``secret_env`` destination keys (``settings.py``).  The HMAC secret comes from
the environment variable ``secret_env`` names, never from config.toml, and is never
logged.  A receiver cannot talk back: no commands, no buttons, no threads, no files."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.platforms.base import Adapter, Capabilities, Limits, Platform, Section, Wiring
from bot.platforms.webhook import settings as own_settings
from bot.platforms.webhook.payload import TEXT_LIMIT

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.model import Destination
    from bot.platforms.webhook.adapter import Target

log = logging.getLogger("dozor.webhook")


class WebhookPlatform(Platform):
    name, title, chat_noun, chats_key = "webhook", "Webhook", "receiver", "url"
    limits = Limits(message=TEXT_LIMIT)  # one event's item text; one POST, never split
    can = Capabilities(commands=False, buttons=False, threads=False, files=False, edits=True)
    section = Section("webhook", own_settings.KEYS, own_settings.parse)
    default, destination_keys = own_settings.WebhookSettings(), own_settings.DESTINATION_KEYS
    secret_keys = ("secret_env",)

    parse_destination = staticmethod(own_settings.parse_destination)

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        from bot.platforms.webhook.adapter import Target, WebhookAdapter

        environ = wiring.environ

        def target_of(d: Destination) -> Target | str:
            name = str(d.option("secret_env"))
            secret = environ.get(name, "")
            url = d.option("url")
            if not url:
                return f"no URL for {d.name}"
            return Target(str(url), secret) if secret else f"{name} is not set"

        own = self.own(settings)
        return WebhookAdapter(
            wiring.context, target_of, timeout=own.timeout, clock=wiring.context.clock
        )


PLATFORM = WebhookPlatform()
