"""The generic webhook as a Dozor platform: alerts as signed JSON POSTs to any URL.

A webhook destination is one URL (``url``) and the name of the environment variable
holding its HMAC secret (``secret_env``); ``[webhook] timeout`` bounds each POST.  The
secret is read when the platform connects, never from config.toml, never logged.  A
receiver cannot talk back: no commands, no buttons, no threads; a redrawn alert is an
``alert.updated`` event (see ``payload``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot import configread as read
from bot.platforms.base import Address, Capabilities, Limits, Platform, Section, Wiring
from bot.platforms.webhook.adapter import Target, WebhookAdapter
from bot.platforms.webhook.payload import TEXT_LIMIT

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.configread import Reader

log = logging.getLogger("dozor.webhook")

SECTION_KEYS = ("timeout",)
DESTINATION_KEYS = ("url", "secret_env")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


@dataclass(frozen=True)
class WebhookSettings:
    timeout: timedelta = timedelta(seconds=10)  # one POST, connect to last byte


def parse_settings(r: Reader, raw: Any) -> WebhookSettings:
    t = r.table(raw, "webhook", SECTION_KEYS)
    d = WebhookSettings()
    return WebhookSettings(
        timeout=r.get(t, "webhook", "timeout", read.duration, d.timeout, 'a duration like "10s"')
    )


def url(value: Any) -> str:
    text = read.string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError
    return text


def env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ValueError
    return value


class WebhookPlatform(Platform):
    name = "webhook"
    title = "Webhook"
    limits = Limits(message=TEXT_LIMIT)
    can = Capabilities(commands=False, buttons=False, threads=False, files=False, edits=True)
    section = Section("webhook", SECTION_KEYS, parse_settings)
    default = WebhookSettings()
    destination_keys = DESTINATION_KEYS
    chats_key = "url"
    chat_noun = "receiver"

    def parse_destination(self, r: Reader, table: Mapping[str, Any], where: str) -> Address:
        t = dict(table)
        target = r.get(t, where, "url", url, None, "an http(s) URL", required=True)
        secret = r.get(
            t,
            where,
            "secret_env",
            env_name,
            None,
            'the name of an environment variable holding the secret, like "DOZOR_WEBHOOK_SECRET"',
            required=True,
        )
        shown = Target(target).shown if target else None
        return Address(shown, None, {"url": target, "secret_env": secret})

    def connect(self, settings: Settings, wiring: Wiring) -> WebhookAdapter:
        own: WebhookSettings = self.own(settings)
        targets: dict[str, Target | str] = {}
        for d in wiring.context.destinations():
            if d.platform != self.name:
                continue
            name = str(d.options.get("secret_env"))
            secret = wiring.environ.get(name, "")
            if not secret:
                log.error("webhook destination %s cannot post: %s is not set", d.name, name)
                targets[d.name] = f"{name} is not set"
            else:
                targets[d.name] = Target(str(d.options["url"]), secret)
        return WebhookAdapter(targets.get, timeout=own.timeout)
