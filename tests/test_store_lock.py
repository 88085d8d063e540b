"""Another program holds the database's write lock (a backup, ``sqlite3`` in a shell):
the running bot's event loop is never held by it.  /healthz answers at once, a chat
command waits (asynchronously) and is then done, the poll that could not be kept is
polled again, and every alert arrives once the lock is gone.

The real App (``run_forever``) with the real python-telegram-bot against the fake
Telegram Bot API, a feed server of real posts, and a second process holding the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from tests.fakes.feed_server import FeedServer, unused_port
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post, real_posts, rss
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:LOCK-token-never-logged"
DESK = -1001000000201
ADMIN = 1
POOL = ThreadPoolExecutor(2)
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")  # the write lock, as a backup or a shell would take it
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
print("released", flush=True)
"""


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, FeedServer]]:
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as feeds:
        yield tg, feeds


def make_app(tmp_path: Path, tg: FakeTelegram, feeds: FeedServer, port: int) -> App:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
interval = "1s"
min_interval = "1s"
tick = "1s"
jitter = 0
timeout = "5s"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[telegram]
api_base_url = "{tg.api_root}"
admins = [{ADMIN}]
per_chat_interval = "10ms"
[metrics]
listen = "127.0.0.1:{port}"
[[destinations]]
name = "desk"
kind = "telegram"
chat_id = {DESK}
[[sources]]
name = "ria"
url = "{feeds.url("/ria.rss")}"
""",
        encoding="utf-8",
    )
    settings = load_config(path)
    rules, problems = load_rules(settings)
    assert problems == []
    return App(
        settings, rules, stream=io.StringIO(), pool=POOL, environ={"TELEGRAM_BOT_TOKEN": TOKEN}
    )


@contextlib.asynccontextmanager
async def write_lock_held(db: Path) -> AsyncIterator[None]:
    """Another process holds the database's write lock inside the block."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(db),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert await asyncio.wait_for(holder.stdout.readline(), 20) == b"locked\n"
        yield
    finally:
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        assert await asyncio.wait_for(holder.stdout.readline(), 20) == b"released\n"
        await asyncio.wait_for(holder.wait(), 20)


async def test_a_locked_database_never_holds_the_event_loop(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    port = unused_port()
    older = [p for p in real_posts() if p["message_id"] != 271457]
    feeds.set("/ria.rss", body=rss(older))
    stop = asyncio.Event()
    app = make_app(tmp_path, tg, feeds, port)
    async with app, aiohttp.ClientSession() as http:
        runner = asyncio.create_task(app.run_forever(stop))
        await until(lambda: app.store.baseline_done("ria"), 20, "the baseline poll")
        await tg.wait_for("getUpdates", 1, timeout=20)
        async with write_lock_held(tmp_path / "dozor.db"):
            # while it is held: a new post to alert on, and an admin's command that writes
            feeds.set("/ria.rss", body=rss([*older, post(271457)]))
            tg.push_command(DESK, "/watch Хашам", user_id=ADMIN)
            took = []
            polled = len(feeds.requests_to("/ria.rss"))
            for _ in range(30):  # about three seconds, three polls that cannot be kept
                started = time.monotonic()
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    await response.read()
                took.append(time.monotonic() - started)
                await asyncio.sleep(0.1)
            assert len(feeds.requests_to("/ria.rss")) > polled  # the bot kept polling
            assert [m.text for m in tg.messages(DESK)] == []  # nothing recorded, none sent
            assert app.store.chat_rules() == []
        # nothing lost: the poll is kept at the next tick, its alert goes out; the
        # command that waited is done and answered
        await until(
            lambda: any("t.me/rian_ru/271457" in m.text for m in tg.messages(DESK)),
            20,
            "the alert after the lock",
        )
        await until(lambda: app.store.chat_rules() != [], 20, "the chat rule")
        await until(lambda: any("Watching as" in m.text for m in tg.messages(DESK)), 20, "reply")
        stop.set()
        await asyncio.wait_for(runner, 20)
    assert statistics.median(took) < 0.1, took
    assert sorted(took)[int(len(took) * 0.9)] < 0.1, took  # nine in ten within 100 ms
    assert max(took) < 0.5, took
    alerts = [m for m in tg.messages(DESK) if "t.me/rian_ru/271457" in m.text]
    assert len(alerts) == 1


async def test_a_button_pressed_while_the_database_is_locked_mutes_once_it_is_free(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """The press waits for the lock without holding the loop (another chat's alert goes
    out meanwhile), then the mute is made once and the alert says who muted what."""
    tg, feeds = servers
    older = [p for p in real_posts() if p["message_id"] != 271457]
    feeds.set("/ria.rss", body=rss(older))
    stop = asyncio.Event()
    app = make_app(tmp_path, tg, feeds, unused_port())
    async with app:
        runner = asyncio.create_task(app.run_forever(stop))
        await until(lambda: app.store.baseline_done("ria"), 20, "the baseline poll")
        feeds.set("/ria.rss", body=rss([*older, post(271457)]))
        await until(lambda: len(tg.messages(DESK)) == 1, 20, "the alert")
        (alert,) = tg.messages(DESK)
        mute = next(
            b["callback_data"]
            for row in alert.reply_markup["inline_keyboard"]
            for b in row
            if "Mute source" in b["text"]
        )
        async with write_lock_held(tmp_path / "dozor.db"):
            tg.push_callback(DESK, alert.message_id, mute, user_id=7, username="anna")
            await tg.wait_for("getUpdates", len(tg.calls("getUpdates")) + 1, timeout=20)
            lag = 0.0
            for _ in range(20):  # the loop turns while the press waits for the lock
                started = time.monotonic()
                await asyncio.sleep(0.05)
                lag = max(lag, time.monotonic() - started - 0.05)
            assert app.store.active_mutes(app.clock()) == []
            assert tg.calls("answerCallbackQuery") == []
        await tg.wait_for("editMessageText", 1, timeout=20)
        stop.set()
        await asyncio.wait_for(runner, 20)
        (made,) = app.store.active_mutes(app.clock())
    assert made.target == "ria" and made.by == "@anna"
    assert "ria" in json.dumps(tg.calls("answerCallbackQuery")[-1].params, ensure_ascii=False)
    assert "@anna muted source ria until" in tg.messages(DESK)[0].edits[-1].text
    assert lag < 0.5, lag
