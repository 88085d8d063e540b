"""The ``[email]`` section and the email keys of ``[[destinations]]``: config.toml ->
``EmailSettings`` (the SMTP server) and a destination's recipients, problems by key path.

The password comes from ``SMTP_PASSWORD``, never from the config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.configread import Reader, choice, duration, positive_int, string
from bot.platforms.base import Address

PASSWORD_VARIABLE = "SMTP_PASSWORD"
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
KEYS = ("host", "port", "security", "username", "from", "timeout", "ca_file")
DESTINATION_KEYS = ("to",)
AN_ADDRESS = 'an email address like "desk@example.org"'


@dataclass(frozen=True)
class EmailSettings:
    host: str = ""  # the SMTP server, e.g. "smtp.example.org"
    port: int | None = None  # None: 587 (starttls), 465 (ssl) or 25 (none)
    security: str = "starttls"  # "starttls" | "ssl" (implicit TLS) | "none" (a local relay)
    username: str | None = None  # log in as this user (with SMTP_PASSWORD); None: no login
    sender: str = ""  # the From address ("from" in config.toml)
    timeout: timedelta = timedelta(seconds=30)
    ca_file: str | None = None  # a CA bundle to trust besides the system's (a private relay)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]


def _address(value: Any) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
        raise ValueError
    return value.strip()


def _addresses(value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise ValueError
    return tuple(dict.fromkeys(_address(v) for v in values))


def _port(value: Any) -> int:
    port = positive_int(value)
    if port > 65535:
        raise ValueError
    return port


def _file(value: Any) -> str:
    """A path; an absolute one must exist now (a relative one is resolved against the
    config file's folder when the platform connects)."""
    path = Path(string(value))
    if path.is_absolute() and not path.is_file():
        raise ValueError
    return str(path)


def parse(r: Reader, raw: Any) -> EmailSettings:
    """``host`` and ``from`` are required once the table is there."""
    t = r.table(raw, "email", KEYS)
    if not t:
        return EmailSettings()
    d = EmailSettings()
    w = "email"
    return EmailSettings(
        host=r.get(
            t, w, "host", string, "", 'the SMTP server like "smtp.example.org"', required=True
        ),
        port=r.get(t, w, "port", _port, None, "a port number like 587"),
        security=r.get(t, w, "security", choice(SECURITY), d.security, "starttls, ssl or none"),
        username=r.get(t, w, "username", string, None, "the SMTP login name"),
        sender=r.get(t, w, "from", _address, "", AN_ADDRESS, required=True),
        timeout=r.get(t, w, "timeout", duration, d.timeout, 'a duration like "30s"'),
        ca_file=r.get(t, w, "ca_file", _file, None, "the path of a PEM file that exists"),
    )


def parse_destination(r: Reader, t: Mapping[str, Any], where: str) -> Address:
    """The recipients (required): one address or a list of them."""
    to = r.get(
        dict(t), where, "to", _addresses, None, f"{AN_ADDRESS}, or a list of them", required=True
    )
    return Address(", ".join(to) if to else None, None, {"to": to})
