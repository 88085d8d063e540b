"""The ``[webhook]`` section and the webhook keys of ``[[destinations]]``: config.toml ->
``WebhookSettings`` and a destination's URL and secret variable, problems by key path.
The secret itself is not here: it is in the environment variable ``secret_env`` names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from bot.configread import Reader, duration, env_name, string
from bot.platforms.base import Address

KEYS = ("timeout",)
DESTINATION_KEYS = ("url", "secret_env")
SECRET_ENV = 'the name of an environment variable holding the secret, like "DOZOR_WEBHOOK_SECRET"'


@dataclass(frozen=True)
class WebhookSettings:
    timeout: timedelta = timedelta(seconds=10)  # one POST, connect to last byte


def parse(r: Reader, raw: Any) -> WebhookSettings:
    t = r.table(raw, "webhook", KEYS)
    d = WebhookSettings()
    return WebhookSettings(
        timeout=r.get(t, "webhook", "timeout", duration, d.timeout, 'a duration like "10s"')
    )


def _url(value: Any) -> str:
    text = string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError
    return text


def shown(url: str) -> str:
    """A URL without its query, fragment or credentials: safe for logs and /status."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def parse_destination(r: Reader, t: Mapping[str, Any], where: str) -> Address:
    """The receiver's URL and the variable holding its secret, both required."""
    table = dict(t)
    url = r.get(table, where, "url", _url, None, "an http(s) URL", required=True)
    secret = r.get(table, where, "secret_env", env_name, None, SECRET_ENV, required=True)
    return Address(shown(url) if url else None, None, {"url": url, "secret_env": secret})
