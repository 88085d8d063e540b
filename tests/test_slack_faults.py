"""Slack faults and files: Slack down for ten minutes loses, repeats and reorders
nothing; ``/dozor stats`` puts its chart in the channel as a PNG file.

The real slack_sdk and slack-bolt against the fake Slack (Web API, Socket Mode, the
upload URL) on 127.0.0.1; feeds from a local HTTP server; the real pipeline and outbox."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from tests.clock import Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack, SentMessage
from tests.feeds import post, real_posts, rss

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-1-slack-faults"
APP_TOKEN = "xapp-1-A0DOZOR-slack-faults"
DESK = "CDESK01"
POOL = ThreadPoolExecutor(2)
LINK = re.compile(r"<(https?://[^|>]+)\|Open the post>")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeSlack, FeedServer]]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack, FeedServer() as feeds:
        yield slack, feeds


def make_app(tmp_path: Path, slack: FakeSlack, feeds: FeedServer, clock: Clock) -> App:
    (tmp_path / "config.toml").write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
timeout = "5s"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[slack]
api_base_url = "{slack.api_url}"
per_channel_interval = "10ms"
[[destinations]]
name = "desk"
kind = "slack"
channel = "{DESK}"
[[sources]]
name = "ria"
url = "{feeds.url("/ria.rss")}"
""",
        encoding="utf-8",
    )
    settings = load_config(tmp_path / "config.toml")
    rules, problems = load_rules(settings)
    assert problems == []
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    return App(settings, rules, stream=io.StringIO(), pool=POOL, clock=clock, environ=env)


def link_of(message: SentMessage) -> str:
    """The post's link in an alert, where a reader clicks it."""
    text = []
    for block in message.blocks or []:
        if block["type"] == "section":
            text.append(block["text"]["text"])
        elif block["type"] == "context":
            text.extend(e["text"] for e in block["elements"])
    found = LINK.search("\n".join(text))
    assert found, message.blocks
    return found.group(1)


async def test_slack_unreachable_for_ten_minutes_then_every_alert_arrives_once_in_order(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    clock = Clock()
    posts = real_posts()
    published = {p["link"]: datetime.fromisoformat(p["date"]) for p in posts}
    feeds.set("/ria.rss", body=rss([]))
    async with make_app(tmp_path, slack, feeds, clock) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()  # baseline: an empty feed
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        assert expected >= 3
        slack.fail_next("chat.postMessage", status=503, times=10_000)  # Slack is down
        for _ in range(20):  # ten minutes of tries, 30 s apart
            await app.outbox.deliver_due()
            clock.now += timedelta(seconds=30)
        refused = slack.calls("chat.postMessage")
        assert refused and all(r.status == 503 for r in refused)  # it kept trying
        assert slack.messages(DESK) == []
        assert app.store.outbox_counts()["desk"] == {"pending": expected}
        slack.clear_failures()  # Slack is back
        clock.now += timedelta(minutes=11)  # past any backoff
        await app.outbox.deliver_due()
        await app.outbox.deliver_due()  # nothing is left to send twice
        assert app.store.outbox_counts()["desk"] == {"sent": expected}
        stored = [a.item.link for _, a in app.store.sent_alerts("desk")]

    links = [link_of(m) for m in slack.messages(DESK)]
    assert len(links) == expected and len(set(links)) == expected  # each exactly once
    assert links == stored
    times = [published[link] for link in links]
    assert times == sorted(times)  # oldest post first, as they were published


async def test_stats_from_slack_uploads_a_png_chart_to_that_channel(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    clock = Clock()
    older = [p for p in real_posts() if p["message_id"] not in {271457, 194289}]
    feeds.set("/ria.rss", body=rss(older))
    async with make_app(tmp_path, slack, feeds, clock) as app:
        await app.connect(listen=True)
        await slack.wait_connected()
        await app.poller.poll_all()  # baseline
        feeds.set("/ria.rss", body=rss([*older, post(271457), post(194289)]))
        await app.poller.poll_all()
        assert await app.outbox.deliver_due() == 2
        envelope = await slack.push_slash_command(
            text="stats", user_id="U0MEMBER", user_name="anna", channel_id=DESK
        )
        await slack.wait_ack(envelope)
        await slack.wait_for("files.completeUploadExternal")
        await slack.wait_for("response_url")

    (chart,) = slack.files.values()
    assert chart.completed and chart.channel == DESK
    assert chart.filename.endswith(".png") and chart.data is not None
    assert chart.data[:8] == PNG and len(chart.data) == chart.length > 1000
    (answer,) = slack.responses
    assert answer.payload["response_type"] == "in_channel"  # the table, for everyone
    assert "Alerts in the last 7 days: 2" in answer.payload["text"]
