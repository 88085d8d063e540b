"""Email: alerts as multipart plain+HTML mail through one SMTP server (aiosmtplib;
``adapter.py``), the ``[email]`` section and the ``to`` destination key
(``settings.py``), the mail itself (``render.py``).  No commands, no buttons, no edits:
/help and README say so."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.platforms.base import Adapter, Capabilities, Platform, Section, Unavailable, Wiring
from bot.platforms.email import settings as conf
from bot.platforms.email.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("dozor")


class EmailPlatform(Platform):
    name = "email"
    title = "Email"
    limits = LIMITS
    can = Capabilities()
    section = Section("email", conf.KEYS, conf.parse)
    default = conf.EmailSettings()
    destination_keys = conf.DESTINATION_KEYS
    chats_key = "to"
    chat_noun = "mailbox"
    secret_variables = (conf.PASSWORD_VARIABLE,)

    parse_destination = staticmethod(conf.parse_destination)

    def cannot(self) -> str | None:
        return (
            "Email takes no commands, has no buttons and cannot change a sent mail; "
            "alerts and digests arrive all the same"
        )

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        own = self.own(settings)
        if not own.host:
            log.error(
                "email destinations are configured but config.toml has no [email] section "
                "with the SMTP server: their alerts wait in the outbox"
            )
            raise Unavailable("as config.toml has no [email] section")
        password = wiring.environ.get(conf.PASSWORD_VARIABLE) or None
        if own.username and not password:
            log.error(
                "[email] username is set but %s is not: email alerts wait in the outbox "
                "until it is",
                conf.PASSWORD_VARIABLE,
            )
            raise Unavailable(f"as {conf.PASSWORD_VARIABLE} is not set", [conf.PASSWORD_VARIABLE])
        if own.ca_file is not None:
            ca_file = settings.base_dir / own.ca_file  # an absolute path stays as it is
            if not ca_file.is_file():
                log.error("[email] ca_file %s does not exist: email alerts wait", ca_file)
                raise Unavailable(f"as [email] ca_file {ca_file} does not exist")
            own = replace(own, ca_file=str(ca_file))
        from bot.platforms.email.adapter import EmailAdapter

        return EmailAdapter(own, password, wiring.context)


PLATFORM = EmailPlatform()
