"""Email end to end: the real pipeline, store and outbox, feeds from a local HTTP server
(real posts), and the email package sending to a local SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import status_command
from bot.config import load_config
from bot.model import story_root
from tests import e2e
from tests.clock import Clock
from tests.e2e import first_poll_then
from tests.fakes.feed_server import FeedServer
from tests.fakes.smtp import LocalSmtp, Received
from tests.feeds import post, real_posts, rss

PASSWORD = "smtp-password-never-logged"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[LocalSmtp, FeedServer]]:
    async with LocalSmtp(tls="starttls", login=("dozor", PASSWORD)) as smtp, FeedServer() as feeds:
        yield smtp, feeds


def write_config(
    tmp_path: Path, smtp: LocalSmtp, feeds: FeedServer, *, desk: str = "", tail: str = ""
) -> Path:
    """One email destination over STARTTLS; ``desk`` goes into it, ``tail`` after the source."""
    platform = f"""
[email]
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
username = "dozor"
from = "dozor@example.org"
timeout = "5s"
ca_file = "{smtp.ca_file}"
[[destinations]]
name = "desk"
kind = "email"
to = ["desk@example.org", "editor@example.org"]
{desk}
"""
    return e2e.write_config(tmp_path, feeds, platform, tail)


def app_for(path: Path, clock: Clock | None = None, **environ: str) -> App:
    return e2e.app_for(path, environ or {"SMTP_PASSWORD": PASSWORD}, clock)


def link_of(mail: Received) -> str:
    text = mail.message.get_body(("plain",)).get_content()
    return next(line.split()[-1] for line in text.splitlines() if line.startswith("Link:"))


async def test_a_feed_item_arrives_as_one_plain_and_html_mail(
    tmp_path: Path, servers: tuple[LocalSmtp, FeedServer]
) -> None:
    smtp, feeds = servers
    async with app_for(write_config(tmp_path, smtp, feeds)) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 1
        (mail,) = smtp.messages
        stored = app.store.alert_by_remote_id(["desk"], str(mail.message["Message-ID"]))
        assert stored is not None
    message = mail.message
    assert mail.rcpt_tos == ("desk@example.org", "editor@example.org")
    assert message["Subject"].startswith("[Dozor] deir-ez-zor, syria-fighting-ru: Сирийская армия")
    assert "**Дейр-эз-Зор**" in message.get_body(("plain",)).get_content()
    assert "<b>Дейр-эз-Зор</b>" in message.get_body(("html",)).get_content()
    assert link_of(mail) == "https://t.me/rian_ru/271457"
    assert smtp.logins == ["dozor"]


async def test_a_digest_destination_gets_one_mail_with_every_entry(
    tmp_path: Path, servers: tuple[LocalSmtp, FeedServer]
) -> None:
    smtp, feeds = servers
    clock = Clock()
    path = write_config(tmp_path, smtp, feeds, desk='digest = "hourly"', tail="backfill = 50")
    async with app_for(path, clock) as app:
        await app.connect(listen=False)
        feeds.set("/ria.rss", body=rss(real_posts()))
        await app.poller.poll_all()
        assert await app.outbox.deliver_due() == 0 and smtp.messages == []  # collected
        clock.now += timedelta(hours=1)
        due = [d.alert for d in app.store.due_digest("desk", clock())]
        collected = await app.outbox.deliver_due()
        assert collected == len(due) >= 5
    (mail,) = smtp.messages
    text = mail.message.get_body(("plain",)).get_content()
    assert mail.message["Subject"].startswith("[Dozor] 🗞 Dozor digest (hourly)")
    assert f"{collected} alerts" in mail.message["Subject"]
    stories = {story_root(a.story_key): a.item.link for a in reversed(due)}
    shown = [line.strip() for line in text.splitlines() if line.strip().startswith("https://")]
    assert len(shown) == len(stories) and set(shown) <= {a.item.link for a in due}


async def test_a_4xx_storm_delays_every_alert_but_loses_none_and_keeps_their_order(
    tmp_path: Path, servers: tuple[LocalSmtp, FeedServer]
) -> None:
    smtp, feeds = servers
    async with app_for(write_config(tmp_path, smtp, feeds, tail="backfill = 50")) as app:
        await app.connect(listen=False)
        smtp.fail_next("RCPT", "451 4.7.1 Greylisted, please try again later", times=2)
        smtp.fail_next("DATA", "452 4.3.1 Insufficient system storage")
        feeds.set("/ria.rss", body=rss(real_posts()))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        assert expected >= 5
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        await smtp.wait_for(expected, timeout=30)
        stop.set()
        await runner
        order = [a.item.link for _, a in app.store.sent_alerts("desk")]
        assert app.store.outbox_counts()["desk"] == {"sent": expected}
    assert smtp.attempts == expected + 1  # the refused DATA, then each once
    assert [link_of(m) for m in smtp.messages] == order  # none lost, none twice, in order


async def test_a_5xx_parks_the_destination_with_the_servers_reason(
    tmp_path: Path, servers: tuple[LocalSmtp, FeedServer]
) -> None:
    smtp, feeds = servers
    async with app_for(write_config(tmp_path, smtp, feeds)) as app:
        await app.connect(listen=False)
        smtp.fail_next("RCPT", "550 5.1.1 <desk@example.org>: Recipient address rejected", times=2)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.outbox_counts()["desk"] == {"pending": 1}  # kept, not dropped
        assert app.store.broken_destinations().keys() == {"desk"}
    out = io.StringIO()
    status_command(load_config(tmp_path / "config.toml"), out)
    assert "BROKEN" in out.getvalue() and "550 5.1.1" in out.getvalue()
    assert PASSWORD not in out.getvalue()
