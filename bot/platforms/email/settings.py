"""The ``[email]`` settings section: the SMTP server Dozor sends alert mail through.

The password comes from ``SMTP_PASSWORD``, never from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

PASSWORD_VARIABLE = "SMTP_PASSWORD"
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


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
