"""A real SMTP server on 127.0.0.1 (aiosmtpd, in the test's own event loop) that
records every message, for the email destination's tests.

    async with LocalSmtp(tls="starttls", login=("dozor", "secret")) as smtp:
        # Dozor: [email] host = "127.0.0.1", port = smtp.port, security = "starttls",
        #        ca_file = smtp.ca_file, username = "dozor"; SMTP_PASSWORD=secret
        smtp.fail_next("RCPT", "450 4.2.1 Mailbox busy, try again later")
        await smtp.wait_for(1)
        [mail] = smtp.messages                    # Received(mail_from, rcpt_tos, message)
        assert mail.message["Subject"].startswith("[Dozor]")

Test-facing API:

- ``LocalSmtp(*, tls=None | "starttls" | "ssl", login=None | (user, password),
  dedup=False)``: STARTTLS offered and required, or implicit TLS, with a self-signed
  certificate for 127.0.0.1 made with ``cryptography`` (``ca_file`` is its path: the client
  trusts it); with ``login`` AUTH is required; with ``dedup`` a message whose
  Message-ID was taken before is acknowledged and not kept again (``duplicates``
  counts them), as Gmail and Exchange do.
- ``messages``: every ``Received(mail_from, rcpt_tos, message, raw)`` taken, oldest
  first; ``message`` is the parsed ``email.message.EmailMessage``.
- ``fail_next(stage, answer, *, times=1)``: the next ``times`` MAIL, RCPT or DATA
  commands get ``answer`` ("451 4.3.0 ...", "550 5.1.1 ..."); ``drop_after_data(times)``:
  the next DATA is taken and kept, then the connection is cut before the answer (the
  client never learns it was delivered).
- ``attempts``: how many DATA commands arrived; ``await wait_for(count, timeout)``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.local_server import Waiters

__all__ = ["LocalSmtp", "Received"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and localhost, valid two days
    (made with ``cryptography``, a dependency already: no ``openssl`` command needed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, server: LocalSmtp) -> None:
        self.server = server

    def _failure(self, stage: str) -> str | None:
        for failure in self.server._failures:
            if failure[0] == stage:
                failure[2] -= 1
                if failure[2] <= 0:
                    self.server._failures.remove(failure)
                return str(failure[1])
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        answer = self._failure("MAIL")
        if answer is not None:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        answer = self._failure("RCPT")
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        smtp = self.server
        smtp.attempts += 1
        try:
            answer = self._failure("DATA")
            if answer is not None:
                return answer
            raw = bytes(envelope.original_content or envelope.content or b"")
            parsed = BytesParser(policy=policy.default).parsebytes(raw)
            assert isinstance(parsed, EmailMessage)
            msg_id = str(parsed.get("Message-ID", ""))
            if smtp.dedup and msg_id and msg_id in smtp._ids:
                smtp.duplicates += 1
            else:
                smtp._ids.add(msg_id)
                smtp.messages.append(
                    Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), parsed, raw)
                )
            if smtp._drops > 0:
                smtp._drops -= 1
                assert server.transport is not None
                server.transport.abort()  # taken, but the client never hears so
            return "250 2.0.0 OK: queued"
        finally:
            smtp._waiters.notify()


class LocalSmtp:
    """An SMTP server on 127.0.0.1, a port the OS picks (see the module docstring)."""

    def __init__(
        self,
        *,
        tls: str | None = None,
        login: tuple[str, str] | None = None,
        dedup: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        if tls not in (None, "starttls", "ssl"):
            raise ValueError(f"tls is None, 'starttls' or 'ssl', not {tls!r}")
        self.tls = tls
        self.login = login
        self.dedup = dedup
        self.host = host
        self.port = 0
        self.ca_file: str | None = None
        self.messages: list[Received] = []
        self.duplicates = 0
        self.attempts = 0
        self.logins: list[str] = []
        self._ids: set[str] = set()
        self._failures: list[list[Any]] = []  # [stage, answer, times]
        self._drops = 0
        self._waiters = Waiters()
        self._server: asyncio.Server | None = None
        self._sessions: list[SMTP] = []
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    async def __aenter__(self) -> LocalSmtp:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        context = None
        if self.tls is not None:
            self._folder = tempfile.TemporaryDirectory(prefix="dozor-smtp-")
            cert, key = make_certificate(Path(self._folder.name))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.ca_file = str(cert)
        handler = _Handler(self)

        def protocol() -> SMTP:
            session = SMTP(
                handler,
                hostname="dozor-test-smtp",
                tls_context=context if self.tls == "starttls" else None,
                require_starttls=self.tls == "starttls",
                auth_required=self.login is not None,
                auth_require_tls=self.tls is not None,
                authenticator=self._authenticate,
            )
            self._sessions.append(session)
            return session

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self.host, 0, ssl=context if self.tls == "ssl" else None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._waiters.cancel()
        if self._server is not None:
            self._server.close()
            for session in self._sessions:
                if session.transport is not None:
                    session.transport.close()
            await self._server.wait_closed()
            self._server = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self.login is None or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = (user, password) == self.login
        if ok:
            self.logins.append(user)
        return AuthResult(success=ok, handled=False)

    def fail_next(self, stage: str, answer: str, *, times: int = 1) -> None:
        if stage not in ("MAIL", "RCPT", "DATA"):
            raise ValueError(f"stage is MAIL, RCPT or DATA, not {stage!r}")
        self._failures.append([stage, answer, times])

    def drop_after_data(self, times: int = 1) -> None:
        self._drops += times

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Received]:  # noqa: ASYNC109
        if not await self._waiters.until(lambda: len(self.messages) >= count, timeout):
            raise TimeoutError(f"{count} message(s) expected, {len(self.messages)} taken")
        return list(self.messages)
