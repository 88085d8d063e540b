"""The generic webhook package (bot/platforms/webhook) against a fake receiver
(tests/fakes/webhook.py) on 127.0.0.1 that checks the signature with its own code: the
versioned JSON schema, HMAC signing with a timestamp, and every answer as a SendResult
(retry on 5xx/timeouts, Retry-After honoured, other 4xx parked with the reason)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_config
from bot.model import Alert, Item, Match, OutgoingMessage, SendStatus, Span
from bot.platforms.webhook.adapter import WebhookAdapter
from tests.fakes.feed_server import unused_port
from tests.fakes.webhook import FakeReceiver
from tests.feeds import post

SECRET = "whsec-never-logged-0123456789"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def corpus_alert() -> Alert:
    real = post(271457)
    text = real["text"]
    at = text.find("Дейр-эз-Зор")
    item = Item(
        source="ria",
        key=f"guid:{real['link']}",
        story_key=f"link:{real['link']}",
        title=text.split("\n")[0][:120],
        text=text,
        link=real["link"],
        published=datetime.fromisoformat(real["date"]),
    )
    match = Match("deir-ez-zor", ("Дейр-эз-Зор",), (Span("text", at, at + 11, "Дейр-эз-Зор"),))
    return Alert("siem", item, (match,), item.story_key, severity="high")


def message(note: str | None = None, remote_id: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(42, "siem", corpus_alert(), note=note, remote_id=remote_id)


@pytest.fixture
async def receiver() -> AsyncIterator[FakeReceiver]:
    async with FakeReceiver(SECRET) as server:
        yield server


@asynccontextmanager
async def webhook_app(
    tmp_path: Path, url: str, secret: str = SECRET
) -> AsyncIterator[tuple[App, WebhookAdapter]]:
    """The real App with one webhook destination, "siem", and its adapter."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[rules]
paths = ["rules/*.toml"]
[webhook]
timeout = "1s"
[[destinations]]
name = "siem"
kind = "webhook"
url = "{url}"
secret_env = "SIEM_SECRET"
""",
        encoding="utf-8",
    )
    env = {"SIEM_SECRET": secret}
    async with App(
        load_config(path), [], stream=io.StringIO(), environ=env, clock=lambda: NOW
    ) as app:
        await app.connect(listen=False)
        adapter = app.adapters["webhook"]
        assert isinstance(adapter, WebhookAdapter)
        yield app, adapter


@pytest.fixture
async def adapter(tmp_path: Path, receiver: FakeReceiver) -> AsyncIterator[WebhookAdapter]:
    async with webhook_app(tmp_path, receiver.url + "?token=query-token-never-shown") as (_, found):
        yield found


async def test_alert_is_a_signed_versioned_json_event(
    receiver: FakeReceiver, adapter: WebhookAdapter
) -> None:
    result = await adapter.send(message())
    assert result.status is SendStatus.SENT and result.remote_id == "alert-42"
    (delivery,) = receiver.accepted  # the receiver's own HMAC check passed
    headers = delivery.headers
    assert headers["X-Dozor-Event"] == "alert" and headers["X-Dozor-Delivery"] == "alert-42"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    event = delivery.payload
    assert (event["version"], event["event"], event["id"]) == (1, "alert", "alert-42")
    assert event["destination"] == "siem" and event["sent_at"] == "2026-12-04T12:00:00+00:00"
    alert = event["alert"]
    assert alert["rule"] == "deir-ez-zor" and alert["matched_words"] == ["Дейр-эз-Зор"]
    assert alert["rules"] == [{"name": "deir-ez-zor", "terms": ["Дейр-эз-Зор"]}]
    assert alert["link"] == "https://t.me/rian_ru/271457" and alert["source"] == "ria"
    assert alert["severity"] == "high" and "Дейр-эз-Зор" in alert["text"]
    assert alert["story_id"] == "link:https://t.me/rian_ru/271457"
    assert alert["published"].startswith(post(271457)["date"][:10])
    assert set(alert) == {
        "id", "rule", "rules", "matched_words", "severity", "source", "title", "link",
        "text", "published", "story_id", "silent", "note",
    }  # fmt: skip
    assert json.loads(delivery.body.decode("utf-8")) == event  # UTF-8, not \u escapes
    assert "Дейр" in delivery.body.decode("utf-8")


async def test_update_and_text_events_keep_their_delivery_id_on_retries(
    receiver: FakeReceiver, adapter: WebhookAdapter
) -> None:
    note = "👥 Also seen in 1 source: tass (12:05)"
    first = await adapter.edit(message(note, remote_id="alert-42"))
    again = await adapter.edit(message(note, remote_id="alert-42"))
    digest = await adapter.send_text("siem", "🗞 Dozor digest", reply_to="alert-42")
    assert first.status is again.status is digest.status is SendStatus.SENT
    updated, repeated, text = receiver.accepted
    assert updated.payload["event"] == "alert.updated" and updated.payload["alert"]["note"] == note
    assert updated.payload["id"] == repeated.payload["id"] != "alert-42"
    assert text.payload["message"] == {"text": "🗞 Dozor digest", "in_reply_to": "alert-42"}


async def test_a_wrong_secret_is_refused_by_the_receiver_and_parks_the_destination(
    tmp_path: Path, receiver: FakeReceiver
) -> None:
    async with webhook_app(tmp_path, receiver.url, "not-the-secret") as (_, wrong):
        result = await wrong.send(message())
    (refused,) = receiver.rejected
    assert refused.reason == "bad signature" and receiver.accepted == []
    assert result.status is SendStatus.BROKEN
    assert "HTTP 401 (bad signature)" in result.detail and "secret_env" in result.detail
    assert "not-the-secret" not in result.detail


async def test_a_replayed_request_is_refused_by_its_timestamp(
    tmp_path: Path, receiver: FakeReceiver
) -> None:
    async with webhook_app(tmp_path, receiver.url) as (app, adapter):
        stale = WebhookAdapter(app.context, adapter.target_of, wall=lambda: 1_000_000)
        try:
            result = await stale.send(message())
        finally:
            await stale.stop()
    assert result.status is SendStatus.BROKEN and receiver.rejected[0].reason == "stale timestamp"


@pytest.mark.parametrize(
    ("status", "header", "expected", "wait"),
    [
        (500, None, SendStatus.RETRY, None),  # the outbox's backoff
        (503, "7", SendStatus.RETRY, timedelta(seconds=7)),
        (429, "2", SendStatus.RETRY, timedelta(seconds=2)),
        (
            429,
            format_datetime(NOW + timedelta(minutes=3), usegmt=True),
            SendStatus.RETRY,
            timedelta(minutes=3),
        ),
        (429, None, SendStatus.RETRY, timedelta(seconds=60)),
        (400, None, SendStatus.BROKEN, None),
        (410, None, SendStatus.BROKEN, None),
    ],
)
async def test_answers_become_send_results(
    receiver: FakeReceiver,
    adapter: WebhookAdapter,
    status: int,
    header: str | None,
    expected: SendStatus,
    wait: timedelta | None,
) -> None:
    receiver.fail_next(status, retry_after=header, body="schema mismatch: no field x")
    result = await adapter.send(message())
    assert (result.status, result.retry_after) == (expected, wait)
    assert f"HTTP {status}" in result.detail or "rate limit" in result.detail
    if expected is SendStatus.BROKEN:
        assert "(schema mismatch: no field x)" in result.detail
    assert "query-token" not in result.detail and SECRET not in result.detail
    assert (await adapter.send(message())).status is SendStatus.SENT  # it was one answer


async def test_a_slow_receiver_is_a_retry_not_a_hang(
    receiver: FakeReceiver, adapter: WebhookAdapter
) -> None:
    receiver.fail_next(200, delay=3)  # longer than the 1 s timeout
    result = await adapter.send(message())
    assert result.status is SendStatus.RETRY and "did not answer in 1 s" in result.detail


async def test_unreachable_receiver_is_a_retry(tmp_path: Path) -> None:
    async with webhook_app(tmp_path, f"http://127.0.0.1:{unused_port()}/hook") as (_, adapter):
        result = await adapter.send(message())
        nowhere = await adapter.send(replace(message(), destination="nowhere"))
    assert result.status is SendStatus.RETRY and "unreachable" in result.detail
    assert nowhere.status is SendStatus.BROKEN


async def test_a_redirect_parks_the_destination_naming_the_new_address(
    tmp_path: Path, receiver: FakeReceiver, adapter: WebhookAdapter
) -> None:
    receiver.fail_next(301, location="https://new.example.org/hooks/dozor?token=secret-query")
    result = await adapter.send(message())
    assert result.status is SendStatus.BROKEN
    assert "redirects to https://new.example.org/hooks/dozor: set url" in result.detail
    assert "secret-query" not in result.detail
