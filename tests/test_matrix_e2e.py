"""Matrix end to end: the real pipeline, store and outbox, feeds from a local HTTP server
(real posts), and the Matrix package talking to the fake homeserver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import status_command
from bot.commands.permissions import is_admin
from bot.config import load_config
from tests import e2e
from tests.clock import Clock
from tests.e2e import first_poll_then
from tests.fakes.feed_server import FeedServer
from tests.fakes.matrix import FakeMatrix, SentEvent
from tests.feeds import post, real_posts, rss

TOKEN = "syt_ZG96b3I_e2e_never_logged"
DESK = "!desk:example.org"
LOBBY = "!lobby:example.org"
BOSS = "@boss:example.org"  # in [matrix] admins
ANNA = "@anna:example.org"  # a member of the desk room


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeMatrix, FeedServer]]:
    async with FakeMatrix(token=TOKEN) as matrix, FeedServer() as feeds:
        matrix.add_room(DESK, members=[BOSS, ANNA])
        matrix.add_room(LOBBY, members=[ANNA])  # the bot is there, but it is no destination
        yield matrix, feeds


def write_config(tmp_path: Path, matrix: FakeMatrix, feeds: FeedServer, tail: str = "") -> Path:
    """The desk room as the one destination; ``tail`` goes after the source."""
    platform = f"""
[matrix]
homeserver = "{matrix.url}"
admins = ["{BOSS}"]
per_room_interval = "20ms"
[[destinations]]
name = "desk"
kind = "matrix"
room = "{DESK}"
"""
    return e2e.write_config(tmp_path, feeds, platform, tail)


def app_for(path: Path, clock: Clock | None = None, **environ: str) -> App:
    return e2e.app_for(path, environ or {"MATRIX_ACCESS_TOKEN": TOKEN}, clock)


async def wait_messages(
    matrix: FakeMatrix, room: str, count: int, seconds: float = 10
) -> list[SentEvent]:
    return await e2e.at_least(lambda: matrix.messages(room), count, seconds, room)


def link_of(event: SentEvent) -> str:
    html = str(event.current["formatted_body"])
    start = html.index('<a href="') + len('<a href="')
    return html[start : html.index('"', start)]


async def test_a_feed_item_arrives_in_the_room_as_an_html_message(
    tmp_path: Path, servers: tuple[FakeMatrix, FeedServer]
) -> None:
    matrix, feeds = servers
    async with app_for(write_config(tmp_path, matrix, feeds)) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 1
        (event,) = matrix.messages(DESK)
        stored = app.store.alert_by_remote_id(["desk"], event.event_id)  # kept for edits
        assert stored is not None and stored.alert.item.link == "https://t.me/rian_ru/271457"
    content = event.content
    assert content["msgtype"] == "m.text" and content["format"] == "org.matrix.custom.html"
    assert "<b>Дейр-эз-Зор</b>" in content["formatted_body"]
    assert "deir-ez-zor" in content["body"] and "📰 ria" in content["body"]
    assert link_of(event) == "https://t.me/rian_ru/271457"
    assert all(r.token == TOKEN for r in matrix.requests)
    assert TOKEN not in (tmp_path / "config.toml").read_text()


async def test_the_story_in_another_feed_edits_the_alert_in_place(
    tmp_path: Path, servers: tuple[FakeMatrix, FeedServer]
) -> None:
    matrix, feeds = servers
    tail = f'[[sources]]\nname = "tass"\nurl = "{feeds.url("/tass.rss")}"'
    feeds.set("/tass.rss", body=rss([]))
    deir = post(271457)
    async with app_for(write_config(tmp_path, matrix, feeds, tail=tail)) as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, deir)
        assert await app.outbox.deliver_due() == 1
        feeds.set("/tass.rss", body=rss([dict(deir, text="Репост: " + deir["text"])]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
    (event,) = matrix.messages(DESK)  # one message, edited: not a second one
    assert "Also seen in" not in event.content["body"]
    assert len(event.edits) == 1 and "👥 Also seen in 1 source: tass" in event.current["body"]
    edit = matrix.calls("send")[-1].body
    assert edit is not None and edit["m.relates_to"]["rel_type"] == "m.replace"


async def test_a_429_storm_delays_every_alert_but_loses_none_and_keeps_their_order(
    tmp_path: Path, servers: tuple[FakeMatrix, FeedServer]
) -> None:
    matrix, feeds = servers
    async with app_for(write_config(tmp_path, matrix, feeds, tail="backfill = 50")) as app:
        await app.connect(listen=False)
        matrix.rate_limit(DESK, 1)  # the room answers 429 M_LIMIT_EXCEEDED for 1 s
        feeds.set("/ria.rss", body=rss(real_posts()))
        await app.poller.poll_all()
        expected = app.store.outbox_counts()["desk"]["pending"]
        assert expected >= 5
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        await wait_messages(matrix, DESK, expected)
        stop.set()
        await runner
        order = [a.item.link for _, a in app.store.sent_alerts("desk")]
        assert app.store.outbox_counts()["desk"] == {"sent": expected}
    refused = [r for r in matrix.calls("send") if r.status == 429]
    assert refused and refused[0].response is not None
    assert refused[0].response["errcode"] == "M_LIMIT_EXCEEDED"
    delivered = matrix.messages(DESK)
    until = refused[0].time + refused[0].response["retry_after_ms"] / 1000
    assert all(m.time >= until - 0.05 for m in delivered)  # retry_after_ms honoured
    assert len(delivered) == expected  # none lost, none twice
    assert [link_of(m) for m in delivered] == order


async def test_dozor_commands_in_the_room_watch_and_the_next_poll_alerts_there(
    tmp_path: Path, servers: tuple[FakeMatrix, FeedServer]
) -> None:
    matrix, feeds = servers
    deir = post(271457)
    older = [p for p in real_posts() if p["message_id"] != 271457]
    path = write_config(tmp_path, matrix, feeds, tail="[routes]\ndefault = []")
    async with app_for(path) as app:
        await app.connect(listen=True)
        feeds.set("/ria.rss", body=rss(older))
        await app.poller.poll_all()
        matrix.push_message(DESK, ANNA, "!dozor help")
        (help_reply,) = await wait_messages(matrix, DESK, 1)
        matrix.push_message(DESK, ANNA, "!dozor addsource https://example.org/feed.xml")
        matrix.push_message(DESK, ANNA, "!dozor watch курдских")
        _, refusal, watching = await wait_messages(matrix, DESK, 3)
        feeds.set("/ria.rss", body=rss([*older, deir]))
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        alert = (await wait_messages(matrix, DESK, 4))[3]
        matrix.push_message(LOBBY, ANNA, "!dozor watch курдских")
        (elsewhere,) = await wait_messages(matrix, LOBBY, 1)
        assert is_admin(app.context, "matrix", BOSS) and not is_admin(app.context, "matrix", ANNA)
    assert "not one Dozor serves" in elsewhere.content["body"]
    assert f"[matrix] rooms (this chat's id is {LOBBY})" in elsewhere.content["body"]
    help_text = help_reply.content["body"]
    assert "/watch <terms>" in help_text and "Matrix has no buttons" in help_text
    assert help_reply.content["msgtype"] == "m.notice"
    assert "only admins" in refusal.content["body"]
    assert "Watching as" in watching.content["body"]
    assert "<b>курдских</b>" in alert.content["formatted_body"]
    assert app.settings  # the bot stopped cleanly
    assert all(r.status == 200 for r in matrix.calls("send"))


async def test_without_the_token_alerts_wait_and_status_says_why(
    tmp_path: Path, servers: tuple[FakeMatrix, FeedServer]
) -> None:
    matrix, feeds = servers
    async with app_for(write_config(tmp_path, matrix, feeds), NO_TOKEN="") as app:
        await app.connect(listen=False)
        await first_poll_then(app, feeds, post(271457))
        assert await app.outbox.deliver_due() == 0
        assert app.store.outbox_counts()["desk"] == {"pending": 1}
    assert matrix.requests == []
    out = io.StringIO()
    status_command(load_config(tmp_path / "config.toml"), out)
    assert "desk: 1 pending" in out.getvalue()
