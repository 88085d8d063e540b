"""The email edge: outbox alerts as mail through one SMTP server (aiosmtplib).

An alert is one mail (plain text + HTML) to the destination's recipients; a plain
message is a digest (every entry in one mail), a notice, or an answer under an alert
(threaded by ``In-Reply-To``).  The skeleton is ``ChatAdapter``'s; each SMTP answer
becomes a ``SendResult`` the outbox acts on:

    4xx (busy, greylisted, 421 closing), a refused recipient with 4xx,
    no connection, a dropped connection, a timeout    -> retry with backoff
    5xx (refused message, unknown recipients),
    535 login refused, no STARTTLS on offer          -> destination broken ("parked"):
                                                        alerts kept, the reason in /status
    some recipients refused, others took it          -> sent (the refused ones are logged)

``Message-ID`` is the same on every try of one alert, so a server that took a message
whose answer was lost and deduplicates by Message-ID keeps one copy.  Mail cannot be
changed once sent: ``edit`` sends nothing (``also_seen = "thread"`` mails the news as
an answer instead).  No buttons, no commands.  The password comes from
``SMTP_PASSWORD`` and is never logged.
"""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage

import aiosmtplib

from bot.model import Destination, OutgoingMessage, SendResult, SendStatus
from bot.pacing import Pacer
from bot.platforms.email.render import LIMITS, alert_email, message_id, text_email
from bot.platforms.email.settings import EmailSettings
from bot.platforms.shared import ChatAdapter, TextPart
from bot.runtime import Runtime

log = logging.getLogger("dozor.email")

NETWORK_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
)


def _code(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {' '.join(str(exc.message).split())}"


def failure(exc: BaseException, server: str) -> SendResult:
    """What the outbox should do after ``exc`` from ``server`` ("host:port")."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r.recipient}: {_code(r)}" for r in exc.recipients)
        if any(400 <= r.code < 500 for r in exc.recipients):
            return SendResult(SendStatus.RETRY, f"{server} refused for now: {refused}")
        return SendResult(SendStatus.BROKEN, f"{server} refused every recipient: {refused}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendResult(
            SendStatus.BROKEN,
            f"{server} refused the login ({_code(exc)}): check [email] username and SMTP_PASSWORD",
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return SendResult(SendStatus.RETRY, f"{server} answered {_code(exc)}")
        return SendResult(SendStatus.BROKEN, f"{server} refused the mail: {_code(exc)}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or (
        type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc)
    ):
        return SendResult(SendStatus.BROKEN, f"{server}: {exc} (check [email] security and port)")
    if isinstance(exc, ssl.SSLError):
        return SendResult(SendStatus.BROKEN, f"{server}: TLS failed ({exc.reason or exc})")
    if isinstance(exc, NETWORK_ERRORS):
        return SendResult(SendStatus.RETRY, f"{server} unreachable: {exc}")
    return SendResult(SendStatus.RETRY, f"{server}: {exc}")


class EmailAdapter(ChatAdapter):
    kind = "email"
    title = "Email"
    chat_noun = "mailbox"
    limits = LIMITS
    errors = (aiosmtplib.SMTPException, OSError)  # ssl.SSLError is an OSError

    def __init__(self, settings: EmailSettings, password: str | None, context: Runtime) -> None:
        self.settings = settings
        self._password = password
        self.context = context
        self.pacer = Pacer(0.0)  # the server says when it is busy (4xx): retried
        self.server = f"{settings.host}:{settings.effective_port}"
        self.started = False
        self.listening = False  # email takes no commands

    async def start(self, *, listen: bool = True) -> None:
        """Nothing to connect: each mail opens its own SMTP session."""
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        sender, to = self.settings.sender, _recipients(d)
        mail = alert_email(
            message.alert,
            message.note,
            sender=sender,
            to=to,
            msg_id=message_id(
                sender, "alert", message.alert_id, message.destination, message.alert.story_key
            ),
            at=self.context.clock(),
        )
        return await self._deliver(mail, to)

    async def post_text(self, d: Destination, part: TextPart) -> str:
        """A digest, a notice or an answer as one mail; there are no buttons."""
        sender, to = self.settings.sender, _recipients(d)
        mail = text_email(
            part.text,
            sender=sender,
            to=to,
            msg_id=message_id(sender, "text", d.name, part.reply_to, part.text),
            at=self.context.clock(),
            reply_to=part.reply_to,
        )
        return await self._deliver(mail, to)

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        """Sent mail cannot change: nothing to do."""
        return None

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        return failure(exc, self.server)

    async def _deliver(self, mail: EmailMessage, to: tuple[str, ...]) -> str:
        s = self.settings
        refused, _ = await aiosmtplib.send(
            mail,
            sender=s.sender,
            recipients=list(to),
            hostname=s.host,
            port=s.effective_port,
            username=s.username,
            password=self._password if s.username else None,
            use_tls=s.security == "ssl",
            start_tls=s.security == "starttls",
            timeout=s.timeout.total_seconds(),
            cert_bundle=s.ca_file,
        )
        if refused:
            log.warning(
                "email %s: not delivered to %s",
                mail["Message-ID"],
                "; ".join(f"{who}: {r.code} {r.message}" for who, r in refused.items()),
            )
        return str(mail["Message-ID"])


def _recipients(d: Destination) -> tuple[str, ...]:
    return tuple(d.option("to") or ())
