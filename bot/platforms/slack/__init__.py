"""Slack: alerts as Block Kit with mute buttons into channels and threads, ``/dozor``
and mentions as commands (slack-bolt; ``adapter.py``), the ``[slack]`` section and the
``channel``/``thread_ts``/``unfurl`` destination keys (``settings.py``), mrkdwn markup
(``render.py``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.platforms.base import Capabilities, Platform, Section, Unavailable, Wiring
from bot.platforms.slack import settings as own_settings
from bot.platforms.slack.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms.base import Adapter

log = logging.getLogger("dozor")


class SlackPlatform(Platform):
    name, title, chat_noun = "slack", "Slack", "channel"
    limits, can = LIMITS, Capabilities.everything()
    section = Section("slack", own_settings.KEYS, own_settings.parse)
    parse_destination = staticmethod(own_settings.parse_destination)
    default, destination_keys = own_settings.SlackSettings(), own_settings.DESTINATION_KEYS
    admins_key, chats_key, served_key = "admins", "channels", "channels"
    secret_variables = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        own = self.own(settings)
        env = wiring.environ
        token = env.get("SLACK_BOT_TOKEN", "").strip()
        app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
        secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
        listener = (
            ("SLACK_SIGNING_SECRET", secret)
            if own.mode == "http"
            else ("SLACK_APP_TOKEN", app_token)
        )
        missing = [name for name, value in (("SLACK_BOT_TOKEN", token), listener) if not value]
        if missing:
            log.error(
                "Slack is configured (mode %s) but %s not set: alerts for Slack destinations "
                "wait in the outbox until it is",
                own.mode,
                " and ".join(missing) + (" is" if len(missing) == 1 else " are"),
            )
            raise Unavailable(f"as {' and '.join(missing)} not set", missing)
        from bot.platforms.slack.adapter import SlackAdapter

        return SlackAdapter(token, app_token, secret, own, wiring.context)


PLATFORM = SlackPlatform()
