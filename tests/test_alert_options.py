"""How alerts look and sound on the chat platforms, per destination and per rule:

- "Also seen in": by default the alert is edited (Telegram ``editMessageText``, Slack
  ``chat.update``); with ``also_seen = "thread"`` it is answered instead (a Telegram
  reply, a Slack thread reply) with each new source and its link;
- a rule's severity: "urgent" and "high" are marked at the top of the message, "low"
  arrives without a notification sound.

Real python-telegram-bot and slack_sdk against the fakes on 127.0.0.1, real posts."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import labelled_pair as pair
from tests.feeds import post, real_posts, rss

POOL = ThreadPoolExecutor(2)
TG_TOKEN = "123456:ALSO-SEEN-token"
BOT_TOKEN, APP_TOKEN = "xoxb-1-also-seen", "xapp-1-also-seen"
EDITED, THREADED = -1004000000001, -1004000000002
SLACK_CHANNEL = "CTHREAD01"
RULES = """
[[rule]]
name = "kursk"
any = ["Курск*"]

[[rule]]
name = "wagner-losses"
query = "Вагнер OR ЧВК"
severity = "urgent"

[[rule]]
name = "deir-ez-zor"
any = ["Дейр-эз-Зор"]
severity = "low"
"""


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeTelegram, FakeSlack, FeedServer]]:
    async with (
        FakeTelegram(token=TG_TOKEN) as tg,
        FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
        FeedServer() as feeds,
    ):
        yield tg, slack, feeds


def make_app(
    tmp_path: Path,
    tg: FakeTelegram,
    slack: FakeSlack,
    feeds: FeedServer,
    console: io.StringIO | None = None,
) -> App:
    (tmp_path / "rules.toml").write_text(RULES, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
[rules]
paths = ["rules.toml"]
[telegram]
api_base_url = "{tg.api_root}"
per_chat_interval = "10ms"
[slack]
api_base_url = "{slack.api_url}"
per_channel_interval = "10ms"
[[destinations]]
name = "edited"
kind = "telegram"
chat_id = {EDITED}
[[destinations]]
name = "threaded"
kind = "telegram"
chat_id = {THREADED}
also_seen = "thread"
[[destinations]]
name = "slack-threaded"
kind = "slack"
channel = "{SLACK_CHANNEL}"
also_seen = "thread"
[[destinations]]
name = "console"
kind = "console"
[[sources]]
name = "ria"
url = "{feeds.url("/ria.rss")}"
[[sources]]
name = "breaking"
url = "{feeds.url("/breaking.rss")}"
""",
        encoding="utf-8",
    )
    settings = load_config(tmp_path / "config.toml")
    rules, problems = load_rules(settings)
    assert problems == []
    env = {
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
    }
    return App(settings, rules, stream=console or io.StringIO(), pool=POOL, environ=env)


async def test_edit_by_default_thread_replies_where_configured(
    tmp_path: Path, world: tuple[FakeTelegram, FakeSlack, FeedServer]
) -> None:
    tg, slack, feeds = world
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    async with make_app(tmp_path, tg, slack, feeds) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()  # baselines
        feeds.set("/ria.rss", body=rss([ria]))
        await app.poller.poll_all()
        assert await app.outbox.deliver_due() == 4  # one alert in each destination
        feeds.set("/breaking.rss", body=rss([retold]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        await app.outbox.deliver_due()  # nothing new: nothing more is said

    # default: the one alert is redrawn with the new source under it
    (alert,) = tg.messages(EDITED)
    assert "Also seen in 1 source: breaking" in alert.text
    assert len(tg.calls("editMessageText")) == 1

    # thread: the alert stays as it was; a reply names the source and links its post
    first, reply = tg.messages(THREADED)
    assert "Also seen in" not in first.text
    assert reply.reply_to_message_id == first.message_id
    assert "Also seen in 1 more source:" in reply.text
    assert "breaking (" in reply.text and "https://t.me/bbbreaking/194796" in reply.text

    top, answer = slack.messages(SLACK_CHANNEL)
    assert top.thread_ts is None and not top.edits
    assert answer.thread_ts == top.ts
    assert "https://t.me/bbbreaking/194796" in (answer.text or "")


async def test_thread_replies_tell_only_what_is_new(
    tmp_path: Path, world: tuple[FakeTelegram, FakeSlack, FeedServer]
) -> None:
    """A second retelling later gets its own reply, without repeating the first."""
    tg, slack, feeds = world
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    again = dict(retold, link="https://t.me/bbbreaking/194797", message_id=194797)
    again["text"] = "Повтор: " + retold["text"]
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    async with make_app(tmp_path, tg, slack, feeds) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()
        feeds.set("/ria.rss", body=rss([ria]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        feeds.set("/breaking.rss", body=rss([retold]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        feeds.set("/breaking.rss", body=rss([retold, again]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
    first, reply1, reply2 = tg.messages(THREADED)
    assert reply1.reply_to_message_id == reply2.reply_to_message_id == first.message_id
    assert "/194796" in reply1.text and "/194797" not in reply1.text
    assert "/194797" in reply2.text and "/194796" not in reply2.text
    assert len(slack.messages(SLACK_CHANNEL)) == 3


async def test_severity_is_shown_and_low_is_silent(
    tmp_path: Path, world: tuple[FakeTelegram, FakeSlack, FeedServer]
) -> None:
    """194289: "Экс-сотрудники ЧВК ..." (urgent); 271457: "... в провинции Дейр-эз-Зор"
    (low): real posts."""
    tg, slack, feeds = world
    older = [p for p in real_posts() if p["message_id"] not in {271457, 194289}]
    feeds.set("/ria.rss", body=rss(older))
    feeds.set("/breaking.rss", body=rss([]))
    console = io.StringIO()
    async with make_app(tmp_path, tg, slack, feeds, console) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()  # baselines
        feeds.set("/ria.rss", body=rss([*older, post(271457), post(194289)]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()

    by_link = {m.text.split('href="')[1].split('"')[0]: m for m in tg.messages(EDITED)}
    urgent = by_link["https://t.me/bbbreaking/194289"]
    assert urgent.text.startswith("🚨 <b>URGENT</b> · <b>wagner-losses")
    assert not urgent.disable_notification
    low = by_link["https://t.me/rian_ru/271457"]
    assert low.text.startswith("🔔 <b>deir-ez-zor")
    assert low.disable_notification is True

    heads = [str(m.blocks[0]["text"]["text"]) for m in slack.messages(SLACK_CHANNEL) if m.blocks]
    assert any(h.startswith("🚨 *URGENT* · *wagner-losses") for h in heads)
    assert "Severity: urgent" in console.getvalue()
    assert "Severity: low" in console.getvalue()


async def test_a_retelling_of_a_story_sent_in_a_digest_leaves_the_digest_alone(
    tmp_path: Path, world: tuple[FakeTelegram, FakeSlack, FeedServer]
) -> None:
    """A digest is one message for many alerts: a later sighting of one of its stories
    must not redraw that message as the single alert."""
    from datetime import timedelta

    from tests.clock import Clock

    tg, slack, feeds = world
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    make_app(tmp_path, tg, slack, feeds)  # writes the config; "edited" gets a digest here
    path = tmp_path / "config.toml"
    text = path.read_text("utf-8").replace(
        f"chat_id = {EDITED}\n", f'chat_id = {EDITED}\ndigest = "hourly"\n', 1
    )
    path.write_text(text, encoding="utf-8")
    settings = load_config(path)
    rules, _ = load_rules(settings)
    clock = Clock()
    env = {"TELEGRAM_BOT_TOKEN": TG_TOKEN}
    app = App(settings, rules, stream=io.StringIO(), pool=POOL, clock=clock, environ=env)
    async with app:
        await app.connect(listen=False)
        await app.poller.poll_all()  # baselines
        feeds.set("/ria.rss", body=rss([ria]))
        await app.poller.poll_all()
        clock.now = clock.now.replace(minute=0) + timedelta(hours=1)
        await app.outbox.deliver_due()  # the digest goes out
        (digest,) = tg.messages(EDITED)
        feeds.set("/breaking.rss", body=rss([retold]))
        clock.now += timedelta(minutes=5)
        await app.poller.poll_all()
        await app.outbox.deliver_due()
    assert digest.text.startswith("🗞 Dozor digest")
    assert tg.messages(EDITED) == [digest] and tg.calls("editMessageText") == []


async def test_a_poll_that_only_brings_a_retelling_wakes_delivery(
    tmp_path: Path, world: tuple[FakeTelegram, FakeSlack, FeedServer]
) -> None:
    """The outbox sleeps up to 30 s when it has nothing to send; a poll whose only news
    is "also seen in" wakes it, so the edit follows within moments."""
    import asyncio

    tg, slack, feeds = world
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    async with make_app(tmp_path, tg, slack, feeds) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()
        stop = asyncio.Event()
        delivery = asyncio.create_task(app.outbox.run(stop))
        feeds.set("/ria.rss", body=rss([ria]))
        await app.poller.poll_all()
        await tg.wait_for("sendMessage")
        await asyncio.sleep(0.3)  # the outbox has sent everything and sleeps
        feeds.set("/breaking.rss", body=rss([retold]))
        (report,) = [r for r in await app.poller.poll_all() if r.source == "breaking"]
        assert report.ingest is not None and report.ingest.alerts == ()  # no new alert
        await tg.wait_for("editMessageText", timeout=3)  # not the 30 s idle
        stop.set()
        await delivery
    assert "Also seen in 1 source: breaking" in tg.messages(EDITED)[0].text


async def test_a_silent_alert_stays_silent_when_sent_as_plain_text(
    tmp_path: Path, world: tuple[FakeTelegram, FakeSlack, FeedServer]
) -> None:
    """Telegram refuses the HTML ("can't parse entities"): the alert goes again as plain
    text, and a low-severity alert still makes no sound."""
    tg, slack, feeds = world
    older = [p for p in real_posts() if p["message_id"] != 271457]
    feeds.set("/ria.rss", body=rss(older))
    feeds.set("/breaking.rss", body=rss([]))
    async with make_app(tmp_path, tg, slack, feeds) as app:
        await app.connect(listen=False)
        await app.poller.poll_all()
        feeds.set("/ria.rss", body=rss([*older, post(271457)]))  # the low "deir-ez-zor"
        await app.poller.poll_all()
        tg.fail_next(
            "sendMessage",
            400,
            description="Bad Request: can't parse entities: unexpected end tag",
            chat_id=EDITED,
        )
        await app.outbox.deliver_due()
    (plain,) = tg.messages(EDITED)
    assert plain.parse_mode is None and "https://t.me/rian_ru/271457" in plain.text
    assert plain.disable_notification is True
