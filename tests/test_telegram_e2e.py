"""Telegram end to end: the real python-telegram-bot against a fake Bot API server on
127.0.0.1, feeds from a local HTTP server, the real pipeline, store and outbox."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from tests import e2e
from tests.clock import Clock
from tests.e2e import first_poll_then
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post, real_posts, rss

TOKEN = "123456:TEST-token-never-logged"
DESK, OTHER = -1001000000001, -1001000000002


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, FeedServer]]:
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as feeds:
        yield tg, feeds


def write_config(tmp_path: Path, tg: FakeTelegram, feeds: FeedServer, extra: str = "") -> Path:
    """Two Telegram desks (one a silent forum topic); ``extra`` goes after the source."""
    platform = f"""
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
thread_id = 5
silent = true
"""
    return e2e.write_config(tmp_path, feeds, platform, extra)


def app_for(path: Path, clock: Clock | None = None) -> App:
    return e2e.app_for(path, {"TELEGRAM_BOT_TOKEN": TOKEN}, clock)


async def test_feed_item_becomes_an_html_alert_with_mute_buttons(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    async with app_for(write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 2  # both desks (default route)
    (msg,) = tg.messages(DESK)
    assert msg.parse_mode == "HTML"
    assert "провинции <b>Дейр-эз-Зор</b>" in msg.text
    assert "deir-ez-zor" in msg.text and "📰 ria" in msg.text
    assert '<a href="https://t.me/rian_ru/271457">' in msg.text
    labels = [b["text"] for row in msg.reply_markup["inline_keyboard"] for b in row]
    assert any("Mute source" in label for label in labels)
    assert any("Mute rule" in label for label in labels)
    (topic,) = tg.messages(OTHER)
    assert topic.message_thread_id == 5 and topic.disable_notification is True
    assert TOKEN not in (tmp_path / "config.toml").read_text()


async def test_watch_from_chat_then_next_poll_alerts_there(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    deir = post(271457)
    older = [p for p in real_posts() if p["message_id"] != 271457]
    chat = -1001000000003  # not a destination: served because an admin asks there
    async with app_for(write_config(tmp_path, tg, feeds, "[routes]\ndefault = []")) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(older))
        await app.poller.poll_all()
        tg.push_command(chat, "/watch курдских", user_id=1, username="boss")
        (reply,) = [m for m in await wait_messages(tg, chat, 1)]
        assert "курдских" in reply.text
        feeds.set("/ria.rss", body=rss([*older, deir]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        alerts = await wait_messages(tg, chat, 2)
    assert "<b>курдских</b>" in alerts[1].text
    assert tg.messages(DESK) == []  # default route is empty: only the watching chat
    assert [c.params["commands"] for c in tg.calls("setMyCommands")]


# A Russian post (RIA's Deir ez-Zor report, retold with casualties) for a Latin rule.
DEIR_RU = (
    "Сирийская армия при поддержке союзных сил отразила атаки курдских формирований в "
    "Дейр-эз-Зоре, в боях погибли шесть военных, сообщило сирийское госагентство САНА."
)


async def test_the_alert_quotes_the_posts_words_not_the_rules_transliteration(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """A rule written in Latin letters (with --translit) fires on a Russian post: the
    alert names what the post says (Дейр-эз-Зоре, погибли), never "Deir ez-Zor"."""
    tg, feeds = servers
    older = [p for p in real_posts() if p["message_id"] != 271457]
    deir = {**post(271457), "text": DEIR_RU}
    chat = -1001000000003
    async with app_for(write_config(tmp_path, tg, feeds, "[routes]\ndefault = []")) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(older))
        await app.poller.poll_all()
        tg.push_command(chat, '/watch "Deir ez-Zor" killed --translit', user_id=1)
        await wait_messages(tg, chat, 1)
        tg.push_command(chat, '/watch "Deir ez-Zor" погиб --translit', user_id=1)
        await wait_messages(tg, chat, 2)
        feeds.set("/ria.rss", body=rss([*older, deir]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        alert = (await wait_messages(tg, chat, 3))[2]
    head = alert.text.split("\n")[0]
    assert head == "🔔 <b>watch-deir-ez-zor-pogib (Дейр-эз-Зоре, погибли)</b>", head
    assert "Deir" not in alert.text and "<b>Дейр-эз-Зоре</b>" in alert.text


async def wait_messages(tg: FakeTelegram, chat: int, count: int, seconds: float = 5) -> list:
    return await e2e.at_least(lambda: tg.messages(chat), count, seconds, f"chat {chat}")


async def test_mute_button_silences_that_source_in_that_chat_until_it_expires(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    clock = Clock()
    posts = real_posts()
    first, second, third = post(271457), post(194289), post(73307)
    rest = [p for p in posts if p["message_id"] not in {271457, 194289, 73307}]
    async with app_for(write_config(tmp_path, tg, feeds), clock) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(rest))
        await app.poller.poll_all()
        feeds.set("/ria.rss", body=rss([*rest, first]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        (alert,) = tg.messages(DESK)
        mute = next(
            b["callback_data"]
            for row in alert.reply_markup["inline_keyboard"]
            for b in row
            if "Mute source" in b["text"]
        )
        tg.push_callback(DESK, alert.message_id, mute, user_id=7, username="anna")
        await tg.wait_for("editMessageText")
        answer = tg.calls("answerCallbackQuery")[-1]
        assert "ria" in json.dumps(answer.params, ensure_ascii=False)
        edited = tg.messages(DESK)[0].edits[-1]
        assert "@anna muted source ria until" in edited.text
        # muted here, not in the other desk
        clock.now += timedelta(hours=1)
        feeds.set("/ria.rss", body=rss([*rest, first, second]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        assert len(tg.messages(DESK)) == 1
        assert len(tg.messages(OTHER)) == 2
        # the mute expires by itself; the muted alert is not replayed
        clock.now += timedelta(hours=6)
        feeds.set("/ria.rss", body=rss([*rest, first, second, third]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        desk = tg.messages(DESK)
        assert len(desk) == 2 and "t.me/bbcrussian/73307" in desk[1].text


async def test_flood_storm_every_alert_arrives_in_order_none_before_retry_after(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    posts = real_posts()
    async with app_for(write_config(tmp_path, tg, feeds, "backfill = 50")) as app:
        await app.connect(listen=False)
        tg.rate_limit(DESK, 1)  # the desk chat is flood-limited for 1 s
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        assert expected >= 5
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        await wait_messages(tg, DESK, expected, seconds=10)
        await wait_messages(tg, OTHER, expected, seconds=10)
        stop.set()
        await runner
        alerts = [a.item.link for _, a in app.store.sent_alerts("desk")]
        assert app.store.outbox_counts()["desk"] == {"sent": expected}
    refused = [r for r in tg.calls("sendMessage") if r.status == 429]
    assert refused, "the fake must have refused some sends"
    delivered = tg.messages(DESK)
    assert all(m.time >= refused[0].time + 1 - 0.05 for m in delivered)
    assert len(delivered) == expected  # none lost, none twice
    ids = [m.text.split('href="')[1].split('"')[0] for m in delivered]
    assert ids == alerts  # in outbox order


async def test_migrated_group_and_kicked_bot(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    new_id = -1009999999999
    async with app_for(write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=False)
        tg.fail_next("sendMessage", 400, migrate_to_chat_id=new_id, chat_id=DESK)
        tg.fail_next("sendMessage", 403, chat_id=OTHER)
        await first_poll_then(app, feeds, post(271457))
        await app.outbox.deliver_due()
        await app.outbox.deliver_due()
        assert len(tg.messages(new_id)) == 1  # resent to the supergroup
        assert app.store.broken_destinations().keys() == {"other-desk"}
        assert app.store.outbox_counts()["other-desk"] == {"pending": 1}  # kept, not dropped
        out = io.StringIO()
        from bot.cli import status_command

        status_command(app.settings, out)
        assert "other-desk: 1 pending  BROKEN: Telegram: Forbidden" in out.getvalue()


async def test_commands_addressed_to_another_bot_are_ignored(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    async with app_for(write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=True)
        tg.push_command(DESK, "/help@some_other_bot", user_id=7)
        tg.push_command(DESK, "/status@dozor_test_bot", user_id=7)
        (reply,) = await wait_messages(tg, DESK, 1)
        await asyncio.sleep(0.2)
    assert "Sources" in reply.text or "sources" in reply.text
    assert len(tg.messages(DESK)) == 1


async def test_webhook_mode_takes_updates_posted_by_telegram(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    import socket

    import aiohttp

    tg, feeds = servers
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = (
        write_config(tmp_path, tg, feeds)
        .read_text()
        .replace(
            "[telegram]\n",
            '[telegram]\nmode = "webhook"\nwebhook_url = "https://dozor.example.org/tg/hook"\n'
            f'webhook_listen = "127.0.0.1:{port}"\n',
        )
    )
    (tmp_path / "config.toml").write_text(config)
    settings = load_config(tmp_path / "config.toml")
    rules, _ = load_rules(settings)
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "s3cret-webhook-token"}
    async with App(settings, rules, stream=io.StringIO(), pool=e2e.POOL, environ=env) as app:
        await app.connect(listen=True)
        (hook,) = tg.calls("setWebhook")
        assert hook.params["url"] == "https://dozor.example.org/tg/hook"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 10,
                "date": 1733209688,
                "text": "/help",
                "chat": {"id": DESK, "type": "supergroup", "title": "desk"},
                "from": {"id": 7, "is_bot": False, "first_name": "Anna", "username": "anna"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as refused:  # no secret: not Telegram
                assert refused.status == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-webhook-token"}
            async with http.post(url, json=update, headers=headers) as accepted:
                assert accepted.status == 200
        (reply,) = await wait_messages(tg, DESK, 1)
    assert "/watch" in reply.text


async def test_stats_answers_with_a_chart(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    async with app_for(write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=True)
        await first_poll_then(app, feeds, post(271457), post(194289))
        await app.outbox.deliver_due()
        tg.push_command(DESK, "/stats", user_id=7)
        (photo,) = await tg.wait_for("sendPhoto")
    assert photo.files, "the chart travels as a file"
    png = next(iter(photo.files.values()))
    data = png if isinstance(png, bytes) else png[1] if isinstance(png, tuple) else png.data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Alerts in the last 7 days: 2" in photo.params["caption"]
    assert "deir-ez-zor" in photo.params["caption"]


async def test_quiet_hours_deliver_silently(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    path = write_config(tmp_path, tg, feeds)
    path.write_text(
        path.read_text().replace(
            f"chat_id = {DESK}\n", f'chat_id = {DESK}\nquiet_hours = "06:00-08:00"\n'
        )
    )
    clock = Clock()  # 07:00 UTC: inside the desk's quiet hours
    async with app_for(path, clock) as app:
        await app.connect(listen=False)
        rest = [p for p in real_posts() if p["message_id"] not in (271457, 194289)]
        feeds.set("/ria.rss", body=rss(rest))
        await app.poller.poll_all()
        feeds.set("/ria.rss", body=rss([*rest, post(271457)]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        clock.now += timedelta(hours=2)  # 09:00: loud again
        feeds.set("/ria.rss", body=rss([*rest, post(271457), post(194289)]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
    quiet, loud = tg.messages(DESK)
    assert quiet.disable_notification is True
    assert not loud.disable_notification


async def test_a_noisy_source_is_pointed_out_once_with_mute_buttons(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = servers
    path = write_config(tmp_path, tg, feeds, "[routes]\nnoisy_per_hour = 2")
    async with app_for(path) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(real_posts()[:1]))
        await app.poller.poll_all()  # the first poll: a baseline
        feeds.set("/ria.rss", body=rss(real_posts()))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        desk = tg.messages(DESK)
        notices = [m for m in desk if m.text.startswith("📢 Source ria sent")]
        assert len(notices) == 1  # said once, not once per alert
        assert "more than 2" in notices[0].text
        labels = [b["text"] for row in notices[0].reply_markup["inline_keyboard"] for b in row]
        assert labels == ["Mute ria 6h", "Mute ria 24h"]
        data = notices[0].reply_markup["inline_keyboard"][0][1]["callback_data"]
        tg.push_callback(DESK, notices[0].message_id, data, user_id=7, username="anna")
        await tg.wait_for("answerCallbackQuery")
        mutes = app.store.active_mutes(app.clock())
    assert [(m.chat, m.kind, m.target) for m in mutes] == [(f"telegram:{DESK}", "source", "ria")]
    assert mutes[0].until - app.clock() > timedelta(hours=23)


async def test_backfilled_items_do_not_make_a_source_noisy(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """The alerts of a first poll's backfill are old items, not the source's pace: no
    "mute it?" for them, nor when they are counted with the next poll's alerts."""
    tg, feeds = servers
    posts = real_posts()
    path = write_config(tmp_path, tg, feeds, "backfill = 50\n[routes]\nnoisy_per_hour = 2")
    async with app_for(path) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(posts[:-3]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        backfilled = len(tg.messages(DESK))
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        desk = tg.messages(DESK)
    assert backfilled > 2 and 0 < len(desk) - backfilled <= 2  # more than 2 in the hour
    assert [m.text for m in desk if m.text.startswith("📢")] == []


async def test_export_gives_admins_an_opml_file(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    from watchers.opml import read_opml

    tg, feeds = servers
    async with app_for(write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=True)
        tg.push_command(DESK, "/export", user_id=7)  # a member: refused
        (refused,) = await wait_messages(tg, DESK, 1)
        tg.push_command(DESK, "/export", user_id=1, username="boss")  # an admin
        (document,) = await tg.wait_for("sendDocument")
    assert "only admins may export sources" in refused.text
    data = next(iter(document.files.values()))
    body = data if isinstance(data, bytes) else data[1] if isinstance(data, tuple) else data.data
    (feed,) = read_opml(body)
    assert (feed.name, feed.url) == ("ria", feeds.url("/ria.rss"))


async def test_import_adds_the_feeds_of_an_opml_file_sent_by_an_admin(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """An OPML export (Miniflux's shape) sent with /import as its caption: its feeds
    become chat sources with their folders as tags; the feed already watched is skipped,
    a private address refused; a member's /import is refused; /import without a file
    says how."""
    from tests.test_opml import READER_EXPORT

    tg, feeds = servers
    opml = READER_EXPORT.replace(
        b'<outline text="a folder with nothing"/>',
        f'<outline text="ria again" xmlUrl="{feeds.url("/ria.rss")}"/>'
        '<outline text="metadata" xmlUrl="http://169.254.169.254/latest"/>'.encode(),
    )
    async with app_for(write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=True)
        tg.push_document(DESK, opml, "miniflux.opml", caption="/import", user_id=7)
        (refused,) = await wait_messages(tg, DESK, 1)
        tg.push_command(DESK, "/import", user_id=1, username="boss")
        (how,) = (await wait_messages(tg, DESK, 2))[1:]
        tg.push_document(DESK, opml, "miniflux.opml", caption="/import", user_id=1, username="boss")
        (done,) = (await wait_messages(tg, DESK, 3))[2:]
        added = {s.name: s for s in app.context.sources()}
    assert "only admins may add sources" in refused.text
    assert "send an OPML file with /import as its caption" in how.text
    assert done.text.startswith("imported 3 sources from 5 feeds in the file: meduza, bbc,")
    assert "1 feed already watched: skipped" in done.text
    assert "169.254.169.254" in done.text and "link-local" in done.text
    assert added["meduza"].url == "https://meduza.io/rss/all"
    assert added["meduza"].tags == ("chat", "syria")
    assert added["guardian-world"].tags == ("chat", "news", "en")
    assert not added["bbc"].trusted
