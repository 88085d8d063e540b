"""Delivery lanes: one slow, paced, rate-limited, failing or hanging destination never
holds up another (README: "one slow or rate-limited destination never holds up another").

The real App, outbox and python-telegram-bot / slack-bolt clients against the fake
Telegram Bot API and fake Slack Web API on 127.0.0.1.  Alerts are made from real posts
(tests/fixtures/tg_posts_sample.json) and put in the store as the pipeline does, then
``outbox.wake()`` is called as the pipeline's ``on_alerts`` does.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from bot.model import Alert, Item, Match, Span
from tests.clock import Clock
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import real_posts
from tests.waiting import until

TG_TOKEN = "123456:LANES-token-never-logged"
BOT_TOKEN = "xoxb-1111-2222-lanes"
APP_TOKEN = "xapp-1-A0LANES-3333-lanes"
SLOW, FAST, RATE, GONE, FLAKY, HANG = (
    -1001000000101,  # a group: Telegram's 20 a minute, and 0.5 s a send on top
    -1001000000102,
    -1001000000103,
    -1001000000104,
    -1001000000105,
    -1001000000106,
)
SLACK_DESK = "CLANES01"
POOL = ThreadPoolExecutor(2)
POSTS = real_posts()


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeSlack]]:
    async with (
        FakeTelegram(token=TG_TOKEN) as tg,
        FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
    ):
        slack.add_channel(SLACK_DESK, "lanes-desk")
        yield tg, slack


def make_app(tmp_path: Path, tg: FakeTelegram, slack: FakeSlack, clock: Clock | None) -> App:
    chats = {"slow": SLOW, "fast": FAST, "rate": RATE, "gone": GONE, "flaky": FLAKY, "hang": HANG}
    destinations = "".join(
        f'[[destinations]]\nname = "{name}"\nkind = "telegram"\nchat_id = {chat}\n'
        for name, chat in chats.items()
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[rules]
paths = []
[telegram]
api_base_url = "{tg.api_root}"
per_chat_interval = "10ms"
[slack]
api_base_url = "{slack.api_url}"
per_channel_interval = "10ms"
{destinations}
[[destinations]]
name = "slack-desk"
kind = "slack"
channel = "{SLACK_DESK}"
""",
        encoding="utf-8",
    )
    settings = load_config(path)
    _, problems = load_rules(settings)
    assert problems == []
    env = {
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
    }
    kwargs = {"clock": clock} if clock is not None else {}
    return App(settings, [], stream=io.StringIO(), pool=POOL, environ=env, **kwargs)


_serial = iter(range(1_000_000))


def enqueue(app: App, destination: str, n: int = 1) -> list[str]:
    """``n`` alerts of real posts for ``destination``; returns their links, in order."""
    links = []
    for _ in range(n):
        k = next(_serial)
        p = POSTS[k % len(POSTS)]
        link = f"{p['link']}?lane={k}"
        text = " ".join(p["text"].split())
        item = Item("ria", f"guid:{link}", f"link:{link}", text[:80], text, link)
        match = Match("lanes", ("ЧВК",), (Span("text", 0, 3, text[:3]),))
        alert = Alert(destination, item, (match,), item.story_key)
        assert app.store.enqueue_alert(alert, app.clock()) is not None
        links.append(link)
    return links


def telegram_links(tg: FakeTelegram, chat: int) -> list[str]:
    return [
        m.text.split('href="')[1].split('"')[0].replace("&amp;", "&") for m in tg.messages(chat)
    ]


def in_telegram(tg: FakeTelegram, chat: int, link: str) -> Callable[[], bool]:
    return lambda: link in telegram_links(tg, chat)


def in_slack(slack: FakeSlack, channel: str, link: str) -> Callable[[], bool]:
    return lambda: any(link in json.dumps(m.blocks) for m in slack.messages(channel))


async def until_retried(
    condition: Callable[[], bool], seconds: float, what: str, clock: Clock, app: App
) -> float:
    """``until``, while the hand clock moves 10 s every 0.1 s and the outbox is told
    (retries that wait in backoff fall due)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds}s: {what}")
        await asyncio.sleep(0.1)
        clock.now += timedelta(seconds=10)
        app.outbox.wake()
    return time.monotonic() - started


async def test_a_busy_paced_lane_never_delays_an_idle_one(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeSlack]
) -> None:
    """100 alerts queued for a group that Telegram paces at 20 a minute and that takes
    0.5 s a send, and a chat whose sends hang past the client's timeout: a new alert
    for another chat and for Slack still goes out at once, each time."""
    tg, slack = fakes
    tg.slow(SLOW, 0.5)
    tg.slow(HANG, 30)  # longer than python-telegram-bot's read timeout
    async with make_app(tmp_path, tg, slack, None) as app:
        await app.connect(listen=False)
        backlog = enqueue(app, "slow", 100)
        enqueue(app, "hang", 3)
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        try:
            await until(lambda: len(tg.messages(SLOW)) >= 1, 20, "the slow lane started")
            await until(lambda: len(tg.calls("sendMessage")) >= 3, 20, "the hanging send began")
            latencies = []
            for round_ in range(3):
                (tg_link,) = enqueue(app, "fast")
                (slack_link,) = enqueue(app, "slack-desk")
                app.outbox.wake()
                latencies.append(await until(in_telegram(tg, FAST, tg_link), 10, "fast chat"))
                latencies.append(await until(in_slack(slack, SLACK_DESK, slack_link), 10, "Slack"))
                assert len(tg.messages(SLOW)) < 100 - round_  # the slow lane is still busy
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)
        assert max(latencies) < 1.0, latencies
        sent = telegram_links(tg, SLOW)
        assert sent == backlog[: len(sent)]  # in order, so far
        counts = app.store.outbox_counts()
        assert counts["slow"] == {"sent": len(sent), "pending": 100 - len(sent)}  # none lost
        assert counts["fast"] == {"sent": 3} and counts["slack-desk"] == {"sent": 3}


async def test_failing_lanes_lose_nothing_and_never_hold_a_healthy_one(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeSlack]
) -> None:
    """429 forever, 403 forever and 500 now and then, beside a healthy chat: the healthy
    chat gets each alert at once; when the others recover, every alert arrives once, in
    order."""
    tg, slack = fakes
    clock = Clock()
    tg.rate_limit(RATE, 600)  # longer than the test: forever, for it
    tg.fail_next("sendMessage", 403, chat_id=GONE, times=1_000)
    async with make_app(tmp_path, tg, slack, clock) as app:
        await app.connect(listen=False)
        wanted = {name: enqueue(app, name, 10) for name in ("rate", "gone", "flaky")}
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        try:
            healthy: list[str] = []
            for _ in range(5):
                tg.fail_next("sendMessage", 500, chat_id=FLAKY)  # now and then
                (link,) = enqueue(app, "fast")
                healthy.append(link)
                app.outbox.wake()
                took = await until(in_telegram(tg, FAST, link), 10, "healthy chat")
                assert took < 1.0
                clock.now += timedelta(seconds=5)  # the flaky chat's backoff passes
                app.outbox.wake()
            await until_retried(
                lambda: len(telegram_links(tg, FLAKY)) == 10, 20, "flaky chat: all", clock, app
            )
            assert app.store.broken_destinations().keys() == {"gone"}
            assert tg.messages(RATE) == [] and tg.messages(GONE) == []
            counts = app.store.outbox_counts()
            assert counts["rate"] == {"pending": 10} and counts["gone"] == {"pending": 10}
            # both recover: Telegram lifts the flood wait, the bot is let back in
            tg.rate_limit(RATE, 0)
            tg.clear_failures()
            clock.now += timedelta(minutes=16)
            app.outbox.wake()
            await until(lambda: len(tg.messages(RATE)) == 10, 20, "rate-limited chat recovers")
            await until(lambda: len(tg.messages(GONE)) == 10, 20, "forbidden chat recovers")
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)
        assert telegram_links(tg, FAST) == healthy
        for name, chat in (("rate", RATE), ("gone", GONE), ("flaky", FLAKY)):
            links = telegram_links(tg, chat)
            assert links == wanted[name], name  # each once, in order
            assert not [k for k, n in Counter(links).items() if n > 1]
            assert app.store.outbox_counts()[name] == {"sent": 10}
