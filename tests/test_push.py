"""A push source, written outside the bot: a watcher defined here, registered with one
line, whose items arrive on an asyncio queue and go straight into the pipeline (no
poll).  The real app, store, rules and outbox; the real python-telegram-bot against the
fake Bot API on 127.0.0.1.  Its items fire rules and reach Telegram; an item seen
before is not alerted again; a /mute in a chat holds its alerts there."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import watchers
from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from bot.model import FetchResult, FetchStatus, Item, Source
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post, real_posts, rss
from watchers.base import Sink, Watcher
from watchers.rss import parse_feed

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:TEST-token-never-logged"
DESK, OTHER = -1001000000001, -1001000000002


class QueueWatcher(Watcher):
    """``kind = "queue"``: items put on ``queue`` as (source name, item) are news."""

    kind = "queue"
    push = True
    baseline = False  # nothing was there before: every item that arrives is new

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, Item]] = asyncio.Queue()

    async def stream(
        self,
        sources: Callable[[], Sequence[Source]],
        own: Any,
        environ: Mapping[str, str],
        sink: Sink,
    ) -> None:
        while True:
            name, item = await self.queue.get()
            source = next(s for s in sources() if s.name == name)
            sink(source, FetchResult(FetchStatus.OK, items=(item,)))
            self.queue.task_done()


@pytest.fixture
def wire() -> Iterator[QueueWatcher]:
    watcher = QueueWatcher()
    watchers.register(watcher)  # the one line that adds the kind
    yield watcher
    watchers.unregister(watcher.kind)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


def item_of(message_id: int) -> Item:
    """A real post as an item of the ``wire`` source."""
    parsed = parse_feed(rss([post(message_id)]), {}, "wire", ("wire",), "https://wire.example/")
    (item,) = parsed.items
    return item


async def wait_messages(tg: FakeTelegram, chat: int, count: int, seconds: float = 20) -> list:
    for _ in range(int(seconds / 0.02)):
        if len(tg.messages(chat)) >= count:
            return tg.messages(chat)
        await asyncio.sleep(0.02)
    raise AssertionError(f"chat {chat}: {len(tg.messages(chat))} messages, wanted {count}")


async def test_a_push_watcher_feeds_the_pipeline_with_dedup_and_mutes(
    tmp_path: Path, tg: FakeTelegram, wire: QueueWatcher
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[storage]
path = "dozor.db"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[telegram]
api_base_url = "{tg.api_root}"
admins = [1]
per_chat_interval = "20ms"
[[destinations]]
name = "desk"
kind = "telegram"
chat_id = {DESK}
[[destinations]]
name = "other-desk"
kind = "telegram"
chat_id = {OTHER}
[[sources]]
name = "wire"
kind = "queue"
url = "https://wire.example/"
""",
        encoding="utf-8",
    )
    settings = load_config(config)
    assert [s.kind for s in settings.sources] == ["queue"]
    rules, problems = load_rules(settings)
    assert problems == []
    first, second = item_of(271457), item_of(194289)
    assert {p["message_id"] for p in real_posts()} >= {271457, 194289}
    stop = asyncio.Event()
    app = App(settings, rules, stream=io.StringIO(), environ={"TELEGRAM_BOT_TOKEN": TOKEN})
    async with app:
        running = asyncio.create_task(app.run_forever(stop))
        try:
            await wire.queue.put(("wire", first))
            (alert,) = await wait_messages(tg, DESK, 1)
            assert "Дейр-эз-Зор" in alert.text and "wire" in alert.text
            await wait_messages(tg, OTHER, 1)

            await wire.queue.put(("wire", first))  # the same item again: seen, no alert
            await wire.queue.join()
            tg.push_command(DESK, "/mute wire 1h", user_id=1, username="boss")
            (_, reply) = await wait_messages(tg, DESK, 2)
            assert "muted source wire" in reply.text

            await wire.queue.put(("wire", second))
            await wire.queue.join()  # received: alerts decided and stored
            others = await wait_messages(tg, OTHER, 2)  # not muted there
            assert "wire" in others[1].text
            assert len(tg.messages(DESK)) == 2  # the alert and the /mute reply, no more
            health = {h.name: h for h in app.store.source_health()}["wire"]
            assert health.last_poll_at is not None and health.error_count == 0
        finally:
            stop.set()
            await running
    assert [m.text for m in tg.messages(OTHER)].count(tg.messages(OTHER)[0].text) == 1
