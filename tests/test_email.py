"""The email package against a real SMTP server on 127.0.0.1 (tests/fakes/smtp.py,
aiosmtpd): plain, STARTTLS and implicit TLS, logins, and the server's refusals."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.model import Alert, Destination, Item, Match, OutgoingMessage, SendStatus, Span
from bot.platforms.email.adapter import EmailAdapter
from bot.platforms.email.settings import EmailSettings
from tests.fakes.smtp import LocalSmtp

NOW = datetime(2024, 12, 3, 8, 0, tzinfo=UTC)
PASSWORD = "s3cret-never-logged"
DESK = ("desk@example.org",)


def alert(number: int = 1, title: str = "Вагнер <script>alert(1)</script>") -> OutgoingMessage:
    item = Item(
        "ria",
        f"k{number}",
        f"story{number}",
        title,
        "В Сирии погибли бойцы группы Вагнер, пишет источник.",
        "https://ria.example/a?x=1&y=2",
        datetime(2024, 12, 3, 7, 8, tzinfo=UTC),
    )
    spans = (Span("title", 0, 6, "Вагнер"), Span("text", 29, 35, "Вагнер"))
    found = Alert("desk", item, (Match("wagner", ("Вагнер",), spans),), f"story{number}")
    return OutgoingMessage(number, "desk", found)


class Context:
    """What the adapter asks of the bot's context: a destination by name, the clock."""

    def __init__(self, to: tuple[str, ...]) -> None:
        self.desk = Destination("desk", "email", ", ".join(to), options=(("to", to),))

    def destination(self, name: str) -> Destination | None:
        return self.desk if name == "desk" else None

    def clock(self) -> datetime:
        return NOW


def adapter_for(
    smtp: LocalSmtp,
    security: str = "none",
    *,
    username: str | None = None,
    password: str | None = None,
    to: tuple[str, ...] = DESK,
) -> EmailAdapter:
    settings = EmailSettings(
        host="127.0.0.1",
        port=smtp.port,
        security=security,
        username=username,
        sender="dozor@example.org",
        timeout=timedelta(seconds=10),
        ca_file=smtp.ca_file,
    )
    return EmailAdapter(settings, password, Context(to))  # type: ignore[arg-type]


async def test_an_alert_is_one_plain_and_html_mail_with_rule_and_title_in_the_subject() -> None:
    async with LocalSmtp() as smtp:
        result = await adapter_for(smtp).send(alert())
        [mail] = smtp.messages
    assert result.status is SendStatus.SENT
    message = mail.message
    assert mail.mail_from == "dozor@example.org" and mail.rcpt_tos == DESK
    assert message["Subject"] == "[Dozor] wagner: Вагнер <script>alert(1)</script>"
    assert message["Message-ID"] == result.remote_id
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "**Вагнер** <script>" in text and "https://ria.example/a?x=1&y=2" in text
    assert "<b>Вагнер</b> &lt;script&gt;" in html and "<script>" not in html
    assert '<a href="https://ria.example/a?x=1&amp;y=2">' in html


async def test_starttls_with_a_login() -> None:
    async with LocalSmtp(tls="starttls", login=("dozor", PASSWORD)) as smtp:
        adapter = adapter_for(smtp, "starttls", username="dozor", password=PASSWORD)
        result = await adapter.send(alert())
        assert result.status is SendStatus.SENT
        assert len(smtp.messages) == 1 and smtp.logins == ["dozor"]


async def test_implicit_tls() -> None:
    async with LocalSmtp(tls="ssl") as smtp:
        result = await adapter_for(smtp, "ssl").send(alert())
        assert result.status is SendStatus.SENT and len(smtp.messages) == 1


async def test_starttls_asked_of_a_server_without_it_is_parked_with_the_reason() -> None:
    async with LocalSmtp() as smtp:
        result = await adapter_for(smtp, "starttls").send(alert())
    assert result.status is SendStatus.BROKEN and "STARTTLS" in result.detail


async def test_a_wrong_password_is_parked_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalSmtp(tls="starttls", login=("dozor", "right")) as smtp:
        adapter = adapter_for(smtp, "starttls", username="dozor", password=PASSWORD)
        result = await adapter.send(alert())
        assert smtp.messages == []
    assert result.status is SendStatus.BROKEN and "SMTP_PASSWORD" in result.detail
    assert "535" in result.detail
    assert PASSWORD not in result.detail and PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("stage", "answer", "expected"),
    [
        ("RCPT", "450 4.2.1 Mailbox busy, try again later", SendStatus.RETRY),
        ("MAIL", "421 4.7.0 Too many connections", SendStatus.RETRY),
        ("DATA", "451 4.3.0 Greylisted, come back later", SendStatus.RETRY),
        ("RCPT", "550 5.1.1 User unknown", SendStatus.BROKEN),
        ("DATA", "554 5.7.1 Message refused as spam", SendStatus.BROKEN),
    ],
)
async def test_4xx_is_retried_and_5xx_parked_with_the_servers_reason(
    stage: str, answer: str, expected: SendStatus
) -> None:
    async with LocalSmtp() as smtp:
        smtp.fail_next(stage, answer)
        adapter = adapter_for(smtp)
        result = await adapter.send(alert())
        assert result.status is expected
        assert answer.split(" ", 1)[0] in result.detail and answer.split()[-1] in result.detail
        assert smtp.messages == []
        again = await adapter.send(alert())  # the outbox kept it: the next try goes through
        assert again.status is SendStatus.SENT and len(smtp.messages) == 1


async def test_one_refused_recipient_of_two_does_not_stop_the_other() -> None:
    async with LocalSmtp() as smtp:
        smtp.fail_next("RCPT", "550 5.1.1 User unknown")
        to = ("gone@example.org", "desk@example.org")
        result = await adapter_for(smtp, to=to).send(alert())
        [mail] = smtp.messages
    assert result.status is SendStatus.SENT and mail.rcpt_tos == ("desk@example.org",)


async def test_a_retry_after_a_lost_answer_has_the_same_message_id() -> None:
    async with LocalSmtp(dedup=True) as smtp:
        smtp.drop_after_data()
        adapter = adapter_for(smtp)
        first = await adapter.send(alert())
        assert first.status is SendStatus.RETRY  # taken, but the answer never came
        second = await adapter.send(alert())
        assert second.status is SendStatus.SENT
        assert smtp.attempts == 2 and smtp.duplicates == 1 and len(smtp.messages) == 1
        assert smtp.messages[0].message["Message-ID"] == second.remote_id
        other = await adapter.send(alert(2))
        assert other.remote_id != second.remote_id and len(smtp.messages) == 2


async def test_no_server_is_a_retry() -> None:
    async with LocalSmtp() as smtp:
        adapter = adapter_for(smtp)
    result = await adapter.send(alert())
    assert result.status is SendStatus.RETRY and "unreachable" in result.detail


async def test_a_digest_is_one_mail_and_an_answer_is_threaded_under_its_alert() -> None:
    digest = (
        "🗞 Dozor digest (hourly), 2024-12-03 08:00 UTC: 2 alerts\n\n"
        "■ wagner (2)\n• a\n  https://x.example/1\n• b"
    )
    async with LocalSmtp() as smtp:
        adapter = adapter_for(smtp)
        assert (await adapter.send_text("desk", digest)).status is SendStatus.SENT
        sent = await adapter.send(alert())
        answer = await adapter.send_text(
            "desk", "👥 Also seen in 1 more source:", reply_to=sent.remote_id
        )
        assert answer.status is SendStatus.SENT
        edited = await adapter.edit(replace(alert(), remote_id=sent.remote_id))  # nothing sent
        assert edited.status is SendStatus.SENT and len(smtp.messages) == 3
        one, _, reply = (m.message for m in smtp.messages)
    assert one["Subject"] == "[Dozor] 🗞 Dozor digest (hourly), 2024-12-03 08:00 UTC: 2 alerts"
    assert "■ wagner (2)" in one.get_body(("plain",)).get_content()
    assert '<a href="https://x.example/1">' in one.get_body(("html",)).get_content()
    assert reply["In-Reply-To"] == sent.remote_id == reply["References"]


# -- config.toml ------------------------------------------------------------------------

CONFIG = """
[storage]
path = "dozor.db"
{email}
[[destinations]]
name = "mail"
kind = "email"
{destination}
"""
SERVER = '[email]\nhost = "smtp.example.org"\nfrom = "dozor@example.org"\n'
AN_ADDRESS = 'an email address like "desk@example.org"'


def config_problems(tmp_path: Path, email: str, destination: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(email=email, destination=destination), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_email_settings_and_destinations_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    email = SERVER + 'security = "ssl"\nusername = "dozor"\ntimeout = "10s"'
    destination = 'to = ["desk@example.org", "chief@example.org"]'
    path.write_text(CONFIG.format(email=email, destination=destination), encoding="utf-8")
    settings = load_config(path)
    own = settings.section("email")
    assert (own.host, own.effective_port, own.security, own.username, own.sender) == (
        "smtp.example.org",
        465,
        "ssl",
        "dozor",
        "dozor@example.org",
    )
    assert own.timeout == timedelta(seconds=10)
    (mail,) = settings.destinations
    assert mail.platform == "email"
    assert mail.option("to") == ("desk@example.org", "chief@example.org")


@pytest.mark.parametrize(
    ("email", "destination", "problems"),
    [
        (
            "[email]\nport = 2525",
            'to = "desk@example.org"',
            [
                'email.host: missing (expected the SMTP server like "smtp.example.org")',
                f"email.from: missing (expected {AN_ADDRESS})",
            ],
        ),
        (
            SERVER + 'security = "tls"',
            'to = "desk@example.org"',
            ['email.security: expected starttls, ssl or none, got "tls"'],
        ),
        (
            SERVER + "port = 70000",
            'to = "desk@example.org"',
            ["email.port: expected a port number like 587, got 70000"],
        ),
        (
            SERVER + 'ca_file = "/nonexistent/ca.pem"',
            'to = "desk@example.org"',
            [
                "email.ca_file: expected the path of a PEM file that exists, "
                'got "/nonexistent/ca.pem"'
            ],
        ),
        (
            SERVER,
            'to = ["desk@example.org", "desk at example.org"]',
            [f"destinations[0].to: expected {AN_ADDRESS}, or a list of them, got a list"],
        ),
        (SERVER, "", [f"destinations[0].to: missing (expected {AN_ADDRESS}, or a list of them)"]),
        (
            SERVER + 'password = "x"',
            'to = "desk@example.org"',
            [
                'email.password: unknown key "password" (allowed: host, port, security, '
                "username, from, timeout, ca_file)"
            ],
        ),
    ],
)
def test_bad_email_config_is_a_located_error(
    tmp_path: Path, email: str, destination: str, problems: list[str]
) -> None:
    assert config_problems(tmp_path, email, destination) == problems
