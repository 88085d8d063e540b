"""Posts are evidence: an alerted post deleted from its channel stays readable with
``/show``, and, where a source sets ``note_edits``, an edit is noted under its alert.

A fake t.me serves the channel's web preview, the fake Bot API plays the team's chat;
the real watcher, pipeline, store, outbox and python-telegram-bot run on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from tests.clock import Clock
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.fakes.tme_server import FakeChannel, TmeServer
from tests.feeds import post

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:EVIDENCE-token"
DESK = -1005000000001
MEMBER = 7  # a member of the desk's chat, not an admin
POOL = ThreadPoolExecutor(2)
FILLER = "Учения ОДКБ в 2025 году пройдут в Белоруссии, Казахстане и Киргизии."
DEIR = post(271457)["text"]  # RIA: the Syrian army repelled attacks in Deir ez-Zor


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, TmeServer]]:
    async with FakeTelegram(token=TOKEN) as tg, TmeServer() as tme:
        yield tg, tme


def make_app(
    tmp_path: Path, tg: FakeTelegram, tme: TmeServer, clock: Clock, source: str = ""
) -> App:
    """The channel osint_news as source "osint" (``source``: more of its keys), alerts
    to the desk's Telegram chat."""
    (tmp_path / "config.toml").write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
timeout = "5s"
[tme]
base_url = "{tme.base_url}"
page_jitter = "0s"
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
name = "osint"
kind = "telegram"
channel = "osint_news"
{source}
""",
        encoding="utf-8",
    )
    settings = load_config(tmp_path / "config.toml")
    rules, problems = load_rules(settings)
    assert problems == []
    return App(
        settings,
        rules,
        stream=io.StringIO(),
        pool=POOL,
        clock=clock,
        environ={"TELEGRAM_BOT_TOKEN": TOKEN},
    )


async def alert_one_post(app: App, chan: FakeChannel, tg: FakeTelegram) -> tuple[int, SentMessage]:
    """A baseline of filler posts, then the Deir ez-Zor post: it alerts the desk."""
    for _ in range(3):
        chan.post(FILLER)
    await app.poller.poll_all()  # baseline
    number = chan.post(DEIR)
    chan.post(FILLER)
    await app.poller.poll_all()
    assert await app.outbox.deliver_due() == 1
    (alert,) = tg.messages(DESK)
    assert f'href="https://t.me/osint_news/{number}"' in alert.text
    return number, alert


async def reply_to(tg: FakeTelegram, command: str, **options: int) -> SentMessage:
    """Type ``command`` in the desk's chat as a member; the bot's answer."""
    before = len(tg.messages(DESK))
    tg.push_command(DESK, command, user_id=MEMBER, username="anna", **options)
    for _ in range(250):
        if len(tg.messages(DESK)) > before:
            return tg.messages(DESK)[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no answer to {command!r}")


async def test_show_gives_the_stored_text_of_a_post_deleted_from_its_channel(
    tmp_path: Path, servers: tuple[FakeTelegram, TmeServer]
) -> None:
    tg, tme = servers
    clock = Clock()
    chan = tme.channel("osint_news", title="OSINT News")
    async with make_app(tmp_path, tg, tme, clock) as app:
        await app.connect(listen=True)
        number, alert = await alert_one_post(app, chan, tg)

        chan.delete(number)  # the channel deletes the post
        clock.now += timedelta(minutes=10)
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        async with aiohttp.ClientSession() as http:  # t.me no longer shows it
            async with http.get(tme.channel_url("osint_news")) as page:
                assert "Дейр-эз-Зор" not in await page.text()

        shown = await reply_to(tg, "/show 1")
        replied = await reply_to(tg, "/show", reply_to_message_id=alert.message_id)

    # the alert itself says the post is gone and where its text is kept
    (edit,) = alert.edits
    assert "🗑 Deleted from osint by 2024-12-03 07:10 UTC" in edit.text
    assert "/show 1" in edit.text
    # /show gives the post's whole text as it was, its link and the deletion
    assert shown.text.startswith("Alert #1 (sent), rules: ")
    assert "Source: osint" in shown.text
    assert " ".join(DEIR.split()) in " ".join(shown.text.split())
    assert f"Link: https://t.me/osint_news/{number}" in shown.text
    assert "🗑 Deleted from osint by 2024-12-03 07:10 UTC" in shown.text
    # as a reply to the alert, /show needs no number
    assert replied.text == shown.text


async def test_with_note_edits_an_edited_post_is_noted_under_its_alert(
    tmp_path: Path, servers: tuple[FakeTelegram, TmeServer]
) -> None:
    tg, tme = servers
    clock = Clock()
    chan = tme.channel("osint_news")
    async with make_app(tmp_path, tg, tme, clock, "note_edits = true") as app:
        await app.connect(listen=False)
        number, alert = await alert_one_post(app, chan, tg)
        original = alert.text

        chan.edit(number, DEIR + "\n\nОбновлено: есть раненые.")  # the channel edits it
        clock.now += timedelta(minutes=5)
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        await app.poller.poll_all()  # the same edit seen again: noted once
        await app.outbox.deliver_due()

    assert len(tg.messages(DESK)) == 1  # no second alert: the one alert is edited
    assert [c.params["message_id"] for c in tg.calls("editMessageText")] == [alert.message_id]
    (edit,) = alert.edits
    assert edit.text.startswith(original)  # the alert as it was, the post's first text
    assert edit.text.endswith("✏️ Edited at 2024-12-03 07:05 UTC")  # and the note under it


async def test_without_note_edits_an_edited_post_changes_nothing(
    tmp_path: Path, servers: tuple[FakeTelegram, TmeServer]
) -> None:
    tg, tme = servers
    clock = Clock()
    chan = tme.channel("osint_news")
    async with make_app(tmp_path, tg, tme, clock) as app:
        await app.connect(listen=False)
        number, alert = await alert_one_post(app, chan, tg)
        original = alert.text

        chan.edit(number, DEIR + "\n\nОбновлено: есть раненые.")
        clock.now += timedelta(minutes=5)
        asked = len(tme.requests_for("osint_news"))
        await app.poller.poll_all()
        assert len(tme.requests_for("osint_news")) > asked  # the edited page was read
        await app.outbox.deliver_due()

    assert len(tg.messages(DESK)) == 1
    assert tg.calls("editMessageText") == [] and alert.edits == []
    assert alert.text == original and "Edited" not in alert.text
