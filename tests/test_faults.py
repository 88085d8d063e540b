"""Faults: a locked database, a full disk, chat platforms unreachable for ten minutes, a clock that
jumps.  The bot reports, retries, and loses nothing."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from bot.model import FetchStatus
from tests.clock import Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post, real_posts, rss

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:FAULTS-token"
DESK = -1003000000001
POOL = ThreadPoolExecutor(2)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, FeedServer]]:
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as feeds:
        yield tg, feeds


def make_app(tmp_path: Path, tg: FakeTelegram, feeds: FeedServer, clock: Clock) -> App:
    (tmp_path / "config.toml").write_text(
        f"""
[storage]
path = "dozor.db"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[telegram]
api_base_url = "{tg.api_root}"
per_chat_interval = "10ms"
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
    settings = load_config(tmp_path / "config.toml")
    rules, _ = load_rules(settings)
    return App(
        settings,
        rules,
        stream=io.StringIO(),
        pool=POOL,
        clock=clock,
        environ={"TELEGRAM_BOT_TOKEN": TOKEN},
    )


async def test_a_locked_database_loses_no_alert(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    clock = Clock()
    rest = [p for p in real_posts() if p["message_id"] != 271457]
    feeds.set("/ria.rss", body=rss(rest))
    async with make_app(tmp_path, tg, feeds, clock) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()  # baseline
        app.store.db.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(tmp_path / "dozor.db")
        other.execute("BEGIN EXCLUSIVE")  # another process holds the database
        feeds.set("/ria.rss", body=rss([*rest, post(271457)]))
        (refused,) = await app.poller.poll_all()
        assert refused.status is FetchStatus.ERROR and "locked" in (refused.error or "")
        other.rollback()
        other.close()
        await app.poller.poll_all()  # the next poll: the same body is read and kept
        await app.outbox.deliver_due()
    (alert,) = tg.messages(DESK)
    assert "t.me/rian_ru/271457" in alert.text


async def test_telegram_unreachable_for_ten_minutes_then_everything_arrives(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    clock = Clock()
    posts = real_posts()
    feeds.set("/ria.rss", body=rss([]))
    async with make_app(tmp_path, tg, feeds, clock) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        tg.fail_next("sendMessage", 502, times=1000)  # the Bot API is down
        for _ in range(20):  # ten minutes of tries, 30 s apart
            await app.outbox.deliver_due()
            clock.now += timedelta(seconds=30)
        assert tg.messages(DESK) == []
        assert app.store.outbox_counts()["desk"] == {"pending": expected}
        tg.clear_failures()  # the Bot API is back
        clock.now += timedelta(minutes=11)  # past any backoff
        await app.outbox.deliver_due()
        sent = [a.item.link for _, a in app.store.sent_alerts("desk")]
    assert len(tg.messages(DESK)) == expected
    assert [m.text.split('href="')[1].split('"')[0] for m in tg.messages(DESK)] == sent


async def test_a_clock_jumping_back_and_forth_breaks_nothing(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    clock = Clock()
    rest = [p for p in real_posts() if p["message_id"] not in (271457, 194289)]
    feeds.set("/ria.rss", body=rss(rest))
    async with make_app(tmp_path, tg, feeds, clock) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()
        clock.now -= timedelta(days=3)  # NTP fixes a clock that ran ahead
        feeds.set("/ria.rss", body=rss([*rest, post(271457)]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        clock.now += timedelta(days=30)  # and then one that stood still
        feeds.set("/ria.rss", body=rss([*rest, post(271457), post(194289)]))
        assert await app.poller.poll_due() == 1  # due, whatever the jump
        await app.poller.wait_idle()
        await app.outbox.deliver_due()
    links = [m.text.split('href="')[1].split('"')[0] for m in tg.messages(DESK)]
    assert links == ["https://t.me/rian_ru/271457", "https://t.me/bbbreaking/194289"]


async def test_a_full_disk_loses_nothing_in_the_outbox_or_the_feed(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """SQLite's own limit on the file's pages gives the very error a full disk gives
    ("database or disk is full"), through the same code paths."""
    tg, feeds = servers
    clock = Clock()
    rest = [p for p in real_posts() if p["message_id"] not in (271457, 194289)]
    feeds.set("/ria.rss", body=rss(rest))
    async with make_app(tmp_path, tg, feeds, clock) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()  # baseline
        feeds.set("/ria.rss", body=rss([*rest, post(271457)]))
        await app.poller.poll_all()  # an alert waits in the outbox
        assert app.store.outbox_counts()["desk"] == {"pending": 1}
        db = app.store.db
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages + 8}")  # the disk fills up
        db.execute("CREATE TABLE ballast (b BLOB)")
        for size in (4096, 64):
            with contextlib.suppress(sqlite3.OperationalError):
                while True:
                    with db.conn:
                        db.execute("INSERT INTO ballast VALUES (zeroblob(?))", [size])
        news = post(194289)  # a long one: its text needs pages of its own
        news["text"] = "\n\n".join([news["text"]] * 8)
        feeds.set("/ria.rss", body=rss([*rest, post(271457), news]))
        clock.now += timedelta(minutes=10)
        (refused,) = await app.poller.poll_all()
        assert refused.status is FetchStatus.ERROR
        assert "full" in (refused.error or ""), refused.error
        await app.outbox.deliver_due()  # what was already queued goes out
        db.execute("PRAGMA max_page_count = 1073741823")  # space again
        with db.conn:
            db.execute("DROP TABLE ballast")
        clock.now += timedelta(minutes=10)
        await app.poller.poll_all()  # the same feed: the missed post is read and kept
        clock.now += timedelta(minutes=10)
        await app.outbox.deliver_due()
        assert app.store.outbox_counts()["desk"] == {"sent": 2}
    links = [m.text.split('href="')[1].split('"')[0] for m in tg.messages(DESK)]
    assert links == ["https://t.me/rian_ru/271457", "https://t.me/bbbreaking/194289"]


async def test_a_poll_is_kept_whole_or_not_at_all(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """The items a poll stores and the "first poll done" mark commit together: a store
    failure (or a kill) between them would make the next poll a baseline again, and
    the posts published in between would never alert."""
    tg, feeds = servers
    clock = Clock()
    rest = [p for p in real_posts() if p["message_id"] != 271457]
    feeds.set("/ria.rss", body=rss(rest))
    async with make_app(tmp_path, tg, feeds, clock) as app:
        await app.connect(listen=False)
        store = app.store
        record_success = store.record_success

        def fails(*args: object, **kwargs: object) -> None:
            raise sqlite3.OperationalError("disk I/O error")  # the write after the items

        store.record_success = fails  # type: ignore[method-assign]
        (refused,) = await app.poller.poll_all()
        assert refused.status is FetchStatus.ERROR and "disk I/O error" in (refused.error or "")
        assert store.items_count() == 0 and not store.baseline_done("ria")
        store.record_success = record_success  # type: ignore[method-assign]
        clock.now += timedelta(minutes=10)
        await app.poller.poll_all()  # the baseline, whole
        assert store.items_count() == len(rest) and store.baseline_done("ria")
        feeds.set("/ria.rss", body=rss([*rest, post(271457)]))
        clock.now += timedelta(minutes=10)
        await app.poller.poll_all()
        await app.outbox.deliver_due()
    (alert,) = tg.messages(DESK)
    assert "t.me/rian_ru/271457" in alert.text
