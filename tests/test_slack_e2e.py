"""Slack end to end: the real slack-bolt and slack_sdk against the fake Slack (Web API,
Socket Mode, response_url) on 127.0.0.1, feeds from a local HTTP server, the real
pipeline, store and outbox; and Slack next to Telegram (the fake Bot API) in one bot."""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.app import App
from bot.cli import status_command
from bot.commands import Invocation, dispatch
from tests import e2e
from tests.clock import Clock
from tests.e2e import first_poll_then
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import EphemeralMessage, FakeSlack, SentMessage, sign
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post, real_posts, rss

BOT_TOKEN = "xoxb-1111-2222-dozor-never-logged"
APP_TOKEN = "xapp-1-A0DOZOR-3333-never-logged"
SECRET = "dozor-signing-secret-never-logged"
TG_TOKEN = "123456:TEST-token-never-logged"
DESK, OTHER = "CDESK01", "COTHER01"
THREAD = "1700000000.000042"
TG_DESK = -1001000000001
BOSS = "UBOSS01"  # in [slack] admins
LINK = re.compile(r"<(https?://[^|>]+)\|Open the post>")


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeSlack, FeedServer]]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack, FeedServer() as feeds:
        yield slack, feeds


def write_config(
    tmp_path: Path, slack: FakeSlack, feeds: FeedServer, extra: str = "", tail: str = ""
) -> Path:
    """Two Slack desks (one posting into a thread) and the ria feed; ``extra`` goes into
    ``[slack]``, ``tail`` after the source (``backfill = 50``, more tables)."""
    platform = f"""
[slack]
api_base_url = "{slack.api_url}"
admins = ["{BOSS}"]
per_channel_interval = "20ms"
{extra}
[[destinations]]
name = "desk"
kind = "slack"
channel = "{DESK}"
[[destinations]]
name = "other-desk"
kind = "slack"
channel = "{OTHER}"
thread_ts = "{THREAD}"
unfurl = true
"""
    return e2e.write_config(tmp_path, feeds, platform, tail)


def app_for(path: Path, clock: Clock | None = None, **environ: str) -> App:
    env = environ or {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    return e2e.app_for(path, env, clock)


async def wait_messages(
    slack: FakeSlack, channel: str, count: int, seconds: float = 5
) -> list[SentMessage]:
    return await e2e.at_least(lambda: slack.messages(channel), count, seconds, channel)


def texts(message: SentMessage | EphemeralMessage) -> str:
    """Every mrkdwn text of a message's blocks, one per line."""
    out = []
    for block in message.blocks or []:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.extend(e["text"] for e in block["elements"])
    return "\n".join(out)


def buttons(message: SentMessage) -> list[dict[str, Any]]:
    return [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


def link_of(message: SentMessage) -> str:
    found = LINK.search(texts(message))
    assert found, texts(message)
    return found.group(1)


async def test_feed_item_becomes_a_block_kit_alert_with_mute_buttons(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    async with app_for(write_config(tmp_path, slack, feeds)) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 2  # both desks (default route)
        (msg,) = slack.messages(DESK)
        stored = app.store.alert_by_remote_id(["desk"], msg.ts)  # ts kept for chat.update
        assert stored is not None and stored.alert.item.link == "https://t.me/rian_ru/271457"
    shown = texts(msg)
    assert "провинции *Дейр-эз-Зор*" in shown
    assert "deir-ez-zor" in shown and "📰 ria" in shown
    assert "<https://t.me/rian_ru/271457|Open the post>" in shown
    assert msg.text and "ria" in msg.text and "*" not in msg.text  # the plain fallback
    labels = [b["text"]["text"] for b in buttons(msg)]
    assert labels[0] == "Mute source 6h" and any("Mute rule" in label for label in labels)
    assert (msg.thread_ts, msg.unfurl_links, msg.unfurl_media) == (None, False, False)
    (threaded,) = slack.messages(OTHER)
    assert (threaded.thread_ts, threaded.unfurl_links) == (THREAD, True)
    config = (tmp_path / "config.toml").read_text()
    assert BOT_TOKEN not in config and APP_TOKEN not in config


async def test_watch_by_slash_command_then_next_poll_alerts_that_channel(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    deir = post(271457)
    older = [p for p in real_posts() if p["message_id"] != 271457]
    channel = "CNEW0001"  # not a destination: served because an admin asks there
    path = write_config(tmp_path, slack, feeds, tail="[routes]\ndefault = []")
    async with app_for(path) as app:
        await app.connect(listen=True)
        await slack.wait_connected()
        feeds.set("/ria.rss", body=rss(older))
        await app.poller.poll_all()
        envelope = await slack.push_slash_command(
            text="watch курдских", user_id=BOSS, user_name="boss", channel_id=channel
        )
        assert (await slack.wait_ack(envelope)).payload is None  # acked at once, bare
        await slack.wait_for("response_url")
        answer = slack.responses[0].payload
        assert answer["response_type"] == "in_channel" and "курдских" in answer["text"]
        feeds.set("/ria.rss", body=rss([*older, deir]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        reply, alert = await wait_messages(slack, channel, 2)
    assert reply.via == "response_url" and "Watching as" in texts(reply)
    assert "*курдских*" in texts(alert) and alert.via == "chat.postMessage"
    assert slack.messages(DESK) == []  # default route is empty: only the watching channel


async def test_the_alert_quotes_the_posts_words_not_the_rules_transliteration(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    """A Latin rule with --translit fires on a Russian post: the Block Kit head and the
    fallback name the post's words (Дейр-эз-Зоре, погибли), never "Deir ez-Zor"."""
    from tests.test_telegram_e2e import DEIR_RU

    slack, feeds = servers
    older = [p for p in real_posts() if p["message_id"] != 271457]
    channel = "CNEW0001"
    path = write_config(tmp_path, slack, feeds, tail="[routes]\ndefault = []")
    async with app_for(path) as app:
        await app.connect(listen=True)
        await slack.wait_connected()
        feeds.set("/ria.rss", body=rss(older))
        await app.poller.poll_all()
        envelope = await slack.push_slash_command(
            text='watch "Deir ez-Zor" погиб --translit', user_id=BOSS, channel_id=channel
        )
        await slack.wait_ack(envelope)
        await slack.wait_for("response_url")
        feeds.set("/ria.rss", body=rss([*older, {**post(271457), "text": DEIR_RU}]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        _, alert = await wait_messages(slack, channel, 2)
    head = texts(alert).split("\n")[0]
    assert head == "🔔 *watch-deir-ez-zor-pogib (Дейр-эз-Зоре, погибли)*", head
    assert alert.text and alert.text.startswith("watch-deir-ez-zor-pogib (Дейр-эз-Зоре, погибли)")
    assert "Deir" not in texts(alert) + alert.text


async def test_help_mentions_and_refusals(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    async with app_for(write_config(tmp_path, slack, feeds)) as app:
        await app.connect(listen=True)
        await slack.push_slash_command(text="", user_id="U0ANNA", channel_id=DESK)
        await slack.wait_for("response_url")
        (help_message,) = slack.ephemeral(DESK)  # ephemeral: only the caller sees it
        assert "/watch &lt;terms&gt;" in texts(help_message) and "/mute" in texts(help_message)

        await slack.push_slash_command(text="watch x", user_id="U0ANNA", channel_id="CNOPE01")
        await slack.wait_for("response_url", count=2)
        (refusal,) = slack.ephemeral("CNOPE01")
        assert "[slack] channels" in texts(refusal) and "CNOPE01" in texts(refusal)

        envelope = await slack.push_app_mention(
            "<@UBOT> mute ria for 2h", user="U0BORIS", channel=DESK
        )
        assert (await slack.wait_ack(envelope)).payload is None
        (answer,) = await wait_messages(slack, DESK, 1)
        mention = slack.envelopes[-1]["payload"]["event"]
        assert answer.thread_ts == mention["ts"]  # answered in the mention's thread
        assert "muted source ria in this chat" in texts(answer)
        (mute,) = app.store.active_mutes(app.clock(), f"slack:{DESK}")
        assert (mute.target, mute.by) == ("ria", "@u0boris")  # the name from users.info


async def test_mute_button_silences_that_source_in_that_channel_until_it_expires(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    clock = Clock()
    first, second, third = post(271457), post(194289), post(73307)
    rest = [p for p in real_posts() if p["message_id"] not in {271457, 194289, 73307}]
    async with app_for(write_config(tmp_path, slack, feeds), clock) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(rest))
        await app.poller.poll_all()
        feeds.set("/ria.rss", body=rss([*rest, first]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        (alert,) = slack.messages(DESK)
        mute = next(b for b in buttons(alert) if b["text"]["text"] == "Mute source 6h")
        envelope = await slack.push_block_action(
            mute["action_id"],
            mute["value"],
            user_id="U0ANNA",
            user_name="anna",
            channel_id=DESK,
            message_ts=alert.ts,
        )
        assert (await slack.wait_ack(envelope)).payload is None
        (update,) = await slack.wait_for("chat.update")
        assert update.params["ts"] == alert.ts
        (edit,) = slack.messages(DESK)[0].edits
        redrawn = slack.messages(DESK)[0]
        assert (
            "@anna muted source ria until 13:00 UTC" in texts(redrawn) and edit.via == "chat.update"
        )
        assert [b["text"]["text"] for b in buttons(redrawn)] == ["Undo"]
        # muted here, not in the other desk
        clock.now += timedelta(hours=1)
        feeds.set("/ria.rss", body=rss([*rest, first, second]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        assert len(slack.messages(DESK)) == 1
        assert len(slack.messages(OTHER)) == 2
        # the mute expires by itself; the muted alert is not replayed
        clock.now += timedelta(hours=6)
        feeds.set("/ria.rss", body=rss([*rest, first, second, third]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        desk = slack.messages(DESK)
        assert len(desk) == 2 and link_of(desk[1]) == "https://t.me/bbcrussian/73307"
        # a member of another channel cannot press this channel's buttons from there
        await slack.push_block_action(
            mute["action_id"], mute["value"], user_id="U0EVE", channel_id="CNOPE01"
        )
        await slack.wait_for("response_url")
        (refused,) = slack.ephemeral("CNOPE01")
        assert "not one Dozor serves" in (refused.text or "")  # a notice: text only
        assert len(slack.messages(DESK)[0].edits) == 1  # nothing changed


async def test_rate_limit_storm_every_alert_arrives_in_order_none_before_retry_after(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    posts = real_posts()
    async with app_for(write_config(tmp_path, slack, feeds, tail="backfill = 50")) as app:
        await app.connect(listen=False)
        slack.rate_limit(DESK, 1)  # the desk channel answers 429 for 1 s
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        assert expected >= 5
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        await wait_messages(slack, DESK, expected, seconds=10)
        await wait_messages(slack, OTHER, expected, seconds=10)
        stop.set()
        await runner
        alerts = [a.item.link for _, a in app.store.sent_alerts("desk")]
        assert app.store.outbox_counts()["desk"] == {"sent": expected}
    refused = [r for r in slack.calls("chat.postMessage") if r.status == 429]
    assert refused, "the fake must have refused some sends"
    assert refused[0].response == {"ok": False, "error": "ratelimited"}
    delivered = slack.messages(DESK)
    assert all(m.time >= refused[0].time + 1 - 0.05 for m in delivered)
    assert len(delivered) == expected  # none lost, none twice
    assert [link_of(m) for m in delivered] == alerts  # in outbox order


async def test_missing_channel_breaks_the_destination_and_keeps_the_alert(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    clock = Clock()
    async with app_for(write_config(tmp_path, slack, feeds), clock) as app:
        await app.connect(listen=False)
        slack.fail_next("chat.postMessage", error="channel_not_found", channel=OTHER)
        slack.fail_next("chat.postMessage", status=503, channel=DESK)  # an HTML gateway page
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.broken_destinations().keys() == {"other-desk"}
        assert app.store.outbox_counts()["other-desk"] == {"pending": 1}  # kept, not dropped
        assert app.store.outbox_counts()["desk"] == {"pending": 1}  # 503: retried later
        out = io.StringIO()
        status_command(app.settings, out)
        assert "other-desk: 1 pending  BROKEN: Slack: channel_not_found" in out.getvalue()
        clock.now += timedelta(seconds=10)
        assert await app.outbox.deliver_due() == 1  # the 503 was only for one try
        assert len(slack.messages(DESK)) == 1 and slack.messages(OTHER) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_http_mode_serves_signed_requests_and_refuses_bad_or_stale_ones(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    port = free_port()
    extra = f'mode = "http"\nhttp_listen = "127.0.0.1:{port}"'
    path = write_config(tmp_path, slack, feeds, extra)
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    form = "application/x-www-form-urlencoded"
    url = f"http://127.0.0.1:{port}/slack/events"
    async with app_for(path, **env) as app, aiohttp.ClientSession() as http:
        await app.connect(listen=True)
        assert slack.calls("apps.connections.open") == []  # no Socket Mode in HTTP mode

        async def post_signed(body: str, secret: str, age: int = 0) -> int:
            headers = sign(body.encode(), secret, int(time.time()) - age, content_type=form)
            async with http.post(url, data=body.encode(), headers=headers) as response:
                return response.status

        rules_before = len(app.store.chat_rules())
        bad = urlencode(slack.slash_command_payload(text="watch Вагнер", user_id=BOSS))
        assert await post_signed(bad, "wrong-secret") == 401
        assert await post_signed(bad, SECRET, age=600) == 401  # a replayed, stale request
        assert len(app.store.chat_rules()) == rules_before and slack.responses == []

        good = urlencode(
            slack.slash_command_payload(text="watch курдских", user_id=BOSS, channel_id=DESK)
        )
        assert await post_signed(good, SECRET) == 200
        await slack.wait_for("response_url")
        assert "Watching as" in slack.responses[0].payload["text"]
        assert len(app.store.chat_rules()) == rules_before + 1

        # a button press arrives on the same endpoint, as payload=<json>
        await first_poll_then(app, feeds, post(271457))
        await app.outbox.deliver_due()
        alert = slack.messages(DESK)[-1]
        mute = buttons(alert)[0]
        action = slack.block_action_payload(
            mute["action_id"], mute["value"], user_id="U0ANNA", channel_id=DESK, message_ts=alert.ts
        )
        assert await post_signed(urlencode({"payload": json.dumps(action)}), SECRET) == 200
        await slack.wait_for("chat.update")
        assert "muted source ria" in texts(slack.messages(DESK)[-1])


async def test_one_item_alerts_slack_and_telegram_and_a_telegram_storm_does_not_delay_slack(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    first, second = post(271457), post(73307)
    older = [p for p in real_posts() if p["message_id"] not in {271457, 73307}]
    async with FakeTelegram(token=TG_TOKEN) as tg:
        tail = f"""
[telegram]
api_base_url = "{tg.api_root}"
per_chat_interval = "20ms"
[[destinations]]
name = "tg-desk"
kind = "telegram"
chat_id = {TG_DESK}
[routes]
default = ["desk", "tg-desk"]
"""
        path = write_config(tmp_path, slack, feeds, tail=tail)
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        }
        async with app_for(path, **env) as app:
            await app.connect(listen=False)
            feeds.set("/ria.rss", body=rss(older))
            await app.poller.poll_all()
            feeds.set("/ria.rss", body=rss([*older, first]))
            await app.poller.poll_all()
            assert await app.outbox.deliver_due() == 2  # one item: one alert on each
            assert len(slack.messages(DESK)) == 1 and len(tg.messages(TG_DESK)) == 1
            assert slack.messages(OTHER) == []  # not in the route

            tg.rate_limit(TG_DESK, 2)  # Telegram refuses that chat for 2 s
            started = time.monotonic()
            feeds.set("/ria.rss", body=rss([*older, first, second]))
            await app.poller.poll_all()
            stop = asyncio.Event()
            runner = asyncio.create_task(app.outbox.run(stop))
            await wait_messages(slack, DESK, 2)
            slack_took = time.monotonic() - started
            for _ in range(250):
                if len(tg.messages(TG_DESK)) >= 2:
                    break
                await asyncio.sleep(0.02)
            stop.set()
            await runner
    assert slack_took < 1.5  # Slack did not wait out Telegram's 2 s
    assert [r for r in tg.calls("sendMessage") if r.status == 429]
    assert len(tg.messages(TG_DESK)) == 2  # and Telegram lost nothing
    assert tg.messages(TG_DESK)[1].time - started >= 2 - 0.05


async def test_permissions_come_from_the_slack_section(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    extra = 'channels = ["CEXTRA01"]\nmembers_can_watch = false'
    async with app_for(write_config(tmp_path, slack, feeds, extra)) as app:

        async def run(line: str, channel: str, user: str = "U0MEMBER") -> str:
            head, _, args = line.partition(" ")
            invocation = Invocation("slack", channel, user, "@m", head, args, "channel")
            return (await dispatch(app.context, invocation)).text

        assert "Terms:" in await run("test Вагнер", "CEXTRA01")  # served: members may read
        assert await run("watch Вагнер", "CEXTRA01") == (
            "only admins may add rules here ([slack] members_can_watch is false)"
        )
        assert "not one Dozor serves" in await run("rules", "CELSE001")
        assert "only admins may add sources" in await run("addsource https://x.org/f", DESK)
        assert "Watching as" in await run("watch Вагнер", "CELSE001", BOSS)  # admins anywhere
        # the channel that /watch gave a destination is served from now on
        assert app.context.destination_for("slack", "CELSE001", None) == "slack:CELSE001"
        assert "Terms:" in await run("test Вагнер", "CELSE001")
        dm = Invocation("slack", "D0DM0001", "U0MEMBER", "@m", "rules", "", "im")
        assert "[slack] admins" in (await dispatch(app.context, dm)).text


async def test_a_listener_that_cannot_start_still_lets_alerts_out(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = servers
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        extra = f'mode = "http"\nhttp_listen = "127.0.0.1:{port}"'
        path = write_config(tmp_path, slack, feeds, extra)
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET}
        async with app_for(path, **env) as app:
            await app.connect(listen=True)  # the port is taken: no commands, but alerts
            slack = app.adapters.get("slack")
            assert slack is not None and not slack.listening
            await first_poll_then(app, feeds, post(271457))
            assert await app.outbox.deliver_due() == 2


async def test_without_tokens_slack_alerts_wait_in_the_outbox(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer], caplog: pytest.LogCaptureFixture
) -> None:
    slack, feeds = servers
    async with app_for(write_config(tmp_path, slack, feeds), SLACK_BOT_TOKEN=BOT_TOKEN) as app:
        assert app._made.get("slack") is None and "slack" not in app.adapters
        assert "SLACK_APP_TOKEN is not set" in caplog.text
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.outbox_counts()["desk"] == {"pending": 1}
    assert slack.requests == []


async def test_the_noisy_source_buttons_mute_it_in_slack_too(
    tmp_path: Path, servers: tuple[FakeSlack, FeedServer]
) -> None:
    """The notice's "Mute ria 24h" button, pressed in Slack, mutes ria in that channel."""
    slack, feeds = servers
    path = write_config(tmp_path, slack, feeds, tail="[routes]\nnoisy_per_hour = 2")
    async with app_for(path) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(real_posts()[:1]))
        await app.poller.poll_all()  # the first poll: a baseline
        feeds.set("/ria.rss", body=rss(real_posts()))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        (notice,) = [m for m in slack.messages(DESK) if "📢 Source ria sent" in (m.text or "")]
        mute = next(b for b in buttons(notice) if b["text"]["text"] == "Mute ria 24h")
        envelope = await slack.push_block_action(
            mute["action_id"], mute["value"], user_id="U0ANNA", channel_id=DESK
        )
        await slack.wait_ack(envelope)
        for _ in range(100):
            mutes = app.store.active_mutes(app.clock())
            if mutes:
                break
            await asyncio.sleep(0.02)
    assert [(m.chat, m.kind, m.target) for m in mutes] == [(f"slack:{DESK}", "source", "ria")]
    assert mutes[0].until - app.clock() > timedelta(hours=23)
