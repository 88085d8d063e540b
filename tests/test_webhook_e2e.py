"""Generic webhook end to end: a real corpus post served by the local feed server fires
a rule, and the alert arrives, signed, at the fake receiver (tests/fakes/webhook.py,
which checks the signature with its own code) through the real pipeline, store, outbox
and the webhook package; 5xx and 429 storms delay but lose nothing; a refusal parks
the destination with its reason; config problems are located."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import status_command
from bot.config import ConfigError, load_config
from tests import e2e
from tests.clock import Clock
from tests.e2e import first_poll_then
from tests.fakes.feed_server import FeedServer
from tests.fakes.webhook import FakeReceiver
from tests.feeds import post, real_posts, rss

SECRET = "whsec-e2e-never-logged-0123456789"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeReceiver, FeedServer]]:
    async with FakeReceiver(SECRET) as receiver, FeedServer() as feeds:
        yield receiver, feeds


def write_config(tmp_path: Path, receiver: FakeReceiver, feeds: FeedServer, tail: str = "") -> Path:
    """One signed webhook destination, ``siem``; ``tail`` goes after the source."""
    platform = f"""
[webhook]
timeout = "2s"
[[destinations]]
name = "siem"
kind = "webhook"
url = "{receiver.url}"
secret_env = "DOZOR_TEST_WEBHOOK_SECRET"
"""
    return e2e.write_config(tmp_path, feeds, platform, tail)


def app_for(path: Path, clock: Clock, secret: str | None = SECRET) -> App:
    env = {"DOZOR_TEST_WEBHOOK_SECRET": secret} if secret else {}
    return e2e.app_for(path, env, clock)


def status(app: App) -> str:
    out = io.StringIO()
    status_command(app.settings, out)
    return out.getvalue()


async def test_feed_item_arrives_signed_with_the_documented_schema(
    tmp_path: Path, servers: tuple[FakeReceiver, FeedServer], caplog: pytest.LogCaptureFixture
) -> None:
    receiver, feeds = servers
    async with app_for(write_config(tmp_path, receiver, feeds), Clock()) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 1
    (delivery,) = receiver.accepted  # the receiver's own signature check passed
    event = delivery.payload
    assert (event["version"], event["event"], event["destination"]) == (1, "alert", "siem")
    alert = event["alert"]
    assert alert["link"] == "https://t.me/rian_ru/271457" and alert["source"] == "ria"
    assert alert["rule"] == "deir-ez-zor" and "Дейр-эз-Зор" in alert["matched_words"]
    assert alert["rules"][0] == {"name": "deir-ez-zor", "terms": ["Дейр-эз-Зор*"]}
    assert alert["story_id"] and alert["published"] and alert["severity"] == "normal"
    assert delivery.headers["X-Dozor-Delivery"] == event["id"] == f"alert-{alert['id']}"
    assert SECRET not in caplog.text


async def test_server_errors_and_429s_delay_but_lose_nothing(
    tmp_path: Path, servers: tuple[FakeReceiver, FeedServer]
) -> None:
    receiver, feeds = servers
    clock = Clock()
    posts = real_posts()
    async with app_for(write_config(tmp_path, receiver, feeds, "backfill = 50"), clock) as app:
        await app.connect(listen=False)
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["siem"]["pending"]
        assert expected >= 5
        receiver.fail_next(503, times=2)
        receiver.fail_next(429, retry_after="120")
        assert await app.outbox.deliver_due() == 0  # 503: backoff (2 s)
        clock.now += timedelta(seconds=3)
        assert await app.outbox.deliver_due() == 0  # 503 again: backoff (4 s)
        clock.now += timedelta(seconds=5)
        assert await app.outbox.deliver_due() == 0  # 429: Retry-After 120 s
        clock.now += timedelta(seconds=60)
        assert await app.outbox.deliver_due() == 0  # not before Retry-After
        assert len(receiver.requests) == 3
        clock.now += timedelta(seconds=61)
        assert await app.outbox.deliver_due() == expected
        order = [a.item.link for _, a in app.store.sent_alerts("siem")]
        assert app.store.outbox_counts()["siem"] == {"sent": expected}
    delivered = receiver.accepted
    assert len(delivered) == expected  # none lost, none twice
    assert [d.payload["alert"]["link"] for d in delivered] == order  # in outbox order
    first_try = receiver.requests[0].payload["id"]
    assert delivered[0].payload["id"] == first_try  # a retry keeps its delivery id


async def test_a_refusal_parks_the_destination_with_the_reason_and_keeps_the_alert(
    tmp_path: Path, servers: tuple[FakeReceiver, FeedServer]
) -> None:
    receiver, feeds = servers
    clock = Clock()
    async with app_for(write_config(tmp_path, receiver, feeds), clock) as app:
        await app.connect(listen=False)
        receiver.fail_next(422, body="unknown field: alert.story_id")
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.outbox_counts()["siem"] == {"pending": 1}
        assert "BROKEN: webhook http://127.0.0.1:" in status(app)
        assert "refused the delivery: HTTP 422 (unknown field: alert.story_id)" in status(app)
        clock.now += timedelta(minutes=16)  # tried again later, and it takes it now
        assert await app.outbox.deliver_due() == 1
        assert "BROKEN" not in status(app)
    assert len(receiver.accepted) == 1


async def test_without_the_secret_nothing_is_posted_and_status_says_why(
    tmp_path: Path, servers: tuple[FakeReceiver, FeedServer]
) -> None:
    receiver, feeds = servers
    async with app_for(write_config(tmp_path, receiver, feeds), Clock(), secret=None) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.outbox_counts()["siem"] == {"pending": 1}
        assert "webhook: DOZOR_TEST_WEBHOOK_SECRET is not set" in status(app)
    assert receiver.requests == []


def test_webhook_config_problems_are_located(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[webhook]
timeout = 10
retries = 3
[[destinations]]
name = "nothing"
kind = "webhook"
[[destinations]]
name = "bad"
kind = "webhook"
url = "ftp://siem.example.org/in"
secret_env = "my secret"
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    found = info.value.problems
    secret = 'the name of an environment variable holding the secret, like "DOZOR_WEBHOOK_SECRET"'
    expected = [
        "destinations[0].url: missing (expected an http(s) URL)",
        f"destinations[0].secret_env: missing (expected {secret})",
        'destinations[1].url: expected an http(s) URL, got "ftp://siem.example.org/in"',
        f'destinations[1].secret_env: expected {secret}, got "my secret"',
        'webhook.timeout: expected a duration like "10s", got 10',
    ]
    for problem in expected:
        assert problem in found, found
    assert any(p.startswith('webhook.retries: unknown key "retries"') for p in found), found
