"""Discord end to end: a real corpus post served by the local feed server fires a rule,
and the alert arrives at the fake Discord (tests/fakes/discord.py) through the real
pipeline, store, outbox and the Discord package, as the bot and through a webhook;
a 429 storm delays but loses nothing; config problems are located."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import status_command
from bot.config import ConfigError, load_config
from tests import e2e
from tests.clock import Clock
from tests.e2e import first_poll_then
from tests.fakes.discord import FakeDiscord
from tests.fakes.feed_server import FeedServer
from tests.feeds import post, real_posts, rss

TOKEN = "MTIzNDU2Nzg5.discord-e2e-token-never-logged"
HOOK_ID, HOOK_TOKEN = "1100000000000000001", "webhook-e2e-token-never-logged"
DESK, WIRE = "1200000000000000001", "1200000000000000002"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeDiscord, FeedServer]]:
    async with FakeDiscord(bot_token=TOKEN) as discord, FeedServer() as feeds:
        yield discord, feeds


def write_config(
    tmp_path: Path, discord: FakeDiscord, feeds: FeedServer, tail: str = "", extra: str = ""
) -> Path:
    """Two Discord destinations, one as the bot and one through a webhook, and the ria
    feed; ``extra`` goes into ``[discord]``, ``tail`` after the source."""
    platform = f"""
[discord]
api_base_url = "{discord.api_url}"
timeout = "5s"
{extra}
[[destinations]]
name = "desk"
kind = "discord"
channel_id = "{DESK}"
[[destinations]]
name = "wire"
kind = "discord"
webhook_env = "DISCORD_WEBHOOK_WIRE"
"""
    return e2e.write_config(tmp_path, feeds, platform, tail)


def app_for(path: Path, discord: FakeDiscord, clock: Clock | None = None, **environ: str) -> App:
    hook = discord.add_webhook(HOOK_ID, HOOK_TOKEN, channel=WIRE)
    env = environ or {"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_WEBHOOK_WIRE": hook}
    return e2e.app_for(path, env, clock)


async def test_feed_item_arrives_as_an_embed_as_the_bot_and_through_the_webhook(
    tmp_path: Path, servers: tuple[FakeDiscord, FeedServer], caplog: pytest.LogCaptureFixture
) -> None:
    discord, feeds = servers
    async with app_for(write_config(tmp_path, discord, feeds), discord) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 2
        (alert,) = discord.messages(DESK)
        stored = app.store.alert_by_remote_id(["desk"], alert.id)  # the id kept for edits
        assert stored is not None and stored.alert.item.link == "https://t.me/rian_ru/271457"
    embed = alert.embeds[0]
    assert embed["url"] == "https://t.me/rian_ru/271457" and embed["footer"]["text"] == "📰 ria"
    assert "**Дейр-эз-Зор**" in embed["description"]
    assert any(f["name"] == "deir-ez-zor" for f in embed["fields"])
    assert alert.allowed_mentions == {"parse": []}
    (hooked,) = discord.messages(WIRE)
    assert hooked.webhook_id == HOOK_ID and hooked.embeds[0]["url"] == embed["url"]
    (bot_call,) = discord.calls("POST", DESK)
    assert bot_call.headers["Authorization"] == f"Bot {TOKEN}"
    (hook_call,) = discord.calls("POST", HOOK_ID)
    assert hook_call.query["wait"] == "true" and "Authorization" not in hook_call.headers
    logged = caplog.text + (tmp_path / "config.toml").read_text()
    assert TOKEN not in logged and HOOK_TOKEN not in logged


async def test_rate_limit_storm_delays_but_loses_nothing(
    tmp_path: Path, servers: tuple[FakeDiscord, FeedServer]
) -> None:
    discord, feeds = servers
    discord.bucket_limit, discord.bucket_window = 3, 0.5  # a small bucket: pacing is needed
    posts = real_posts()
    async with app_for(write_config(tmp_path, discord, feeds, "backfill = 50"), discord) as app:
        await app.connect(listen=False)
        discord.rate_limit(DESK, 1)  # the desk channel answers 429 for 1 s
        discord.rate_limit(HOOK_ID, 1)
        feeds.set("/ria.rss", body=rss(posts))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        assert expected >= 5
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        await discord.wait_messages(DESK, expected, seconds=30)
        await discord.wait_messages(WIRE, expected, seconds=30)
        stop.set()
        await runner
        order = [a.item.link for _, a in app.store.sent_alerts("desk")]
        assert app.store.outbox_counts()["desk"] == {"sent": expected}
        assert app.store.outbox_counts()["wire"] == {"sent": expected}
    refused = [r for r in discord.calls("POST", DESK) if r.status == 429]
    assert refused and refused[0].response["retry_after"] > 0  # Discord's JSON body
    delivered = discord.messages(DESK)
    wait = refused[0].response["retry_after"]
    assert all(m.time >= refused[0].time + wait - 0.05 for m in delivered)  # none too early
    assert len(delivered) == expected  # none lost, none twice, in outbox order
    assert [m.embeds[0]["url"] for m in delivered] == order
    assert discord.too_early == []  # paced by the bucket headers: never past a bucket


async def test_a_missing_channel_breaks_that_destination_and_keeps_its_alert(
    tmp_path: Path, servers: tuple[FakeDiscord, FeedServer]
) -> None:
    discord, feeds = servers
    clock = Clock()
    async with app_for(write_config(tmp_path, discord, feeds), discord, clock) as app:
        await app.connect(listen=False)
        discord.fail_next(DESK, status=404, code=10003, message="Unknown Channel")
        discord.fail_next(HOOK_ID, status=503)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.broken_destinations().keys() == {"desk"}
        assert app.store.outbox_counts()["desk"] == {"pending": 1}  # kept, not dropped
        assert app.store.outbox_counts()["wire"] == {"pending": 1}  # 503: retried later
        out = io.StringIO()
        status_command(app.settings, out)
        assert "desk: 1 pending  BROKEN: Discord: Unknown Channel (code 10003)" in out.getvalue()
        clock.now += timedelta(seconds=10)
        assert await app.outbox.deliver_due() == 1
        assert len(discord.messages(WIRE)) == 1 and discord.messages(DESK) == []


async def test_without_secrets_alerts_wait_or_say_why(
    tmp_path: Path, servers: tuple[FakeDiscord, FeedServer]
) -> None:
    discord, feeds = servers
    path = write_config(tmp_path, discord, feeds)
    async with app_for(path, discord, DOZOR_UNRELATED="1") as app:  # neither variable set
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        counts = app.store.outbox_counts()
        assert counts["desk"] == {"pending": 1} and counts["wire"] == {"pending": 1}
        out = io.StringIO()
        status_command(app.settings, out)
    assert discord.requests == []
    assert "DISCORD_WEBHOOK_WIRE is not set" in out.getvalue()


async def test_without_the_bot_token_bot_destinations_wait_and_status_says_so(
    tmp_path: Path, servers: tuple[FakeDiscord, FeedServer]
) -> None:
    discord, feeds = servers
    path = write_config(tmp_path, discord, feeds)
    text = path.read_text()
    path.write_text(text.replace('webhook_env = "DISCORD_WEBHOOK_WIRE"', f'channel_id = "{WIRE}"'))
    async with app_for(path, discord, DOZOR_UNRELATED="1") as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.outbox_counts()["desk"] == {"pending": 1}
        assert app.store.broken_destinations() == {}  # waiting, not broken
        out = io.StringIO()
        status_command(app.settings, out)
    assert "desk (discord): down: no token set (DISCORD_BOT_TOKEN); 1 alert waits" in out.getvalue()
    assert discord.requests == []


def test_discord_config_problems_are_located(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[discord]
api_base_url = "discord.com"
timeout = "soon"
colour = "red"
[[destinations]]
name = "both"
kind = "discord"
channel_id = "1200000000000000001"
webhook_env = "DISCORD_WEBHOOK"
[[destinations]]
name = "neither"
kind = "discord"
[[destinations]]
name = "bad"
kind = "discord"
channel_id = "#general"
thread = 12
[[destinations]]
name = "hook"
kind = "discord"
webhook_env = "https://discord.com/api/webhooks/1/x"
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    found = info.value.problems
    expected = [
        "destinations[0]: a discord destination needs channel_id (post as the bot) or "
        "webhook_env (post through a channel webhook), not both",
        "destinations[1]: a discord destination needs channel_id (post as the bot) or "
        "webhook_env (post through a channel webhook), not both",
        'destinations[2].channel_id: expected a Discord id like "1200000000000000001", '
        'got "#general"',
        'destinations[2].thread: expected a Discord id like "1200000000000000001", got 12',
        "destinations[3].webhook_env: expected an environment variable name like "
        '"DISCORD_WEBHOOK_DESK", got "https://discord.com/api/webhooks/1/x"',
        'discord.api_base_url: expected an http(s) URL, got "discord.com"',
        'discord.timeout: expected a duration like "15s", got "soon"',
    ]
    for problem in expected:
        assert problem in found, found
    assert any(p.startswith('discord.colour: unknown key "colour"') for p in found), found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_slash_command_watch_then_the_next_poll_alerts_that_channel(
    tmp_path: Path, servers: tuple[FakeDiscord, FeedServer]
) -> None:
    discord, feeds = servers
    port = free_port()
    boss, newcomer = "1600000000000000001", "1600000000000000002"
    channel = "1200000000000000042"  # no destination: served because an admin asks there
    extra = f"""
application_id = "{discord.application_id}"
public_key = "{discord.public_key}"
interactions_listen = "127.0.0.1:{port}"
admins = ["{boss}"]
"""
    path = write_config(tmp_path, discord, feeds, "[routes]\ndefault = []", extra)
    url = f"http://127.0.0.1:{port}/discord/interactions"
    deir = post(271457)
    older = [p for p in real_posts() if p["message_id"] != 271457]
    async with app_for(path, discord) as app:
        await app.connect(listen=True)
        assert {c["name"] for c in discord.commands} >= {"help", "watch", "mute", "status"}
        assert await discord.ping(url) == (200, {"type": 1})
        feeds.set("/ria.rss", body=rss(older))
        await app.poller.poll_all()
        status, answer = await discord.interact(
            url, "watch", "курдских", user_id=boss, username="boss", channel_id=channel
        )
        assert status == 200 and answer["type"] == 4
        assert "Watching as" in answer["data"]["content"] and "flags" not in answer["data"]
        refused = await discord.interact(
            url, "watch", "x", user_id=newcomer, channel_id="1200000000000000099"
        )
        assert refused[1]["data"]["flags"] == 64  # only the caller sees the refusal
        assert "\\[discord\\] channels" in refused[1]["data"]["content"]  # escaped markdown
        help_answer = await discord.interact(url, "help", user_id=newcomer, channel_id=DESK)
        assert "/watch" in help_answer[1]["data"]["content"]
        cannot = "Here: Discord has no buttons or files; alerts arrive all the same."
        for _ in range(500):  # the rest of /help comes as follow-up messages
            if any(cannot in m.content for m in discord.messages(DESK)):
                break
            await asyncio.sleep(0.02)
        assert any(cannot in m.content for m in discord.messages(DESK))
        feeds.set("/ria.rss", body=rss([*older, deir]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        reply, alert = await discord.wait_messages(channel, 2)
    assert reply.webhook_id == discord.application_id  # the interaction's answer
    assert "**курдских**" in alert.embeds[0]["description"]
    assert alert.embeds[0]["url"] == deir["link"]
    assert not any(m.embeds for m in discord.messages(DESK))  # no alert: the route is empty
