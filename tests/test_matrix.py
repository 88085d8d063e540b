"""The Matrix package against the fake homeserver (tests/fakes/matrix.py): real HTTP on
127.0.0.1, the client-server API's own answers."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.commands.types import Invocation, Reply
from bot.config import ConfigError, load_config
from bot.model import Alert, Destination, Item, Match, OutgoingMessage, SendStatus, Span
from bot.platforms.matrix.adapter import MatrixAdapter
from bot.platforms.matrix.settings import MatrixSettings
from tests.fakes.matrix import FakeMatrix

DESK = "!desk:example.org"
OTHER = "!other:example.org"
ANNA = "@anna:example.org"
THREAD = "$root:example.org"
TOKEN = "syt_secret_token_never_logged"


def alert(title: str = "Вагнер <b>& co</b>", number: int = 1) -> OutgoingMessage:
    item = Item(
        "ria",
        f"k{number}",
        f"story{number}",
        title,
        "В Сирии погибли бойцы группы Вагнер, пишет источник.",
        "https://ria.example/a?x=1&y=2",
        datetime(2024, 12, 3, 7, 8, tzinfo=UTC),
    )
    spans = (Span("title", 0, 6, "Вагнер"), Span("text", 29, 35, "Вагнер"))
    found = Alert("desk", item, (Match("wagner", ("Вагнер",), spans),), f"story{number}")
    return OutgoingMessage(number, "desk", found)


@pytest.fixture
async def fake() -> AsyncIterator[FakeMatrix]:
    async with FakeMatrix(token=TOKEN) as server:
        server.add_room(DESK, members=[ANNA])
        server.add_room(OTHER)
        yield server


class Destinations:
    """What the adapter asks of the bot's context: a destination by name."""

    def __init__(self, *destinations: Destination) -> None:
        self.by_name = {d.name: d for d in destinations}

    def destination(self, name: str) -> Destination | None:
        return self.by_name.get(name)


def adapter_for(
    fake: FakeMatrix,
    interval: float = 0.0,
    token: str = TOKEN,
    handle: Callable[[Invocation], Awaitable[Reply]] | None = None,
) -> MatrixAdapter:
    settings = MatrixSettings(homeserver=fake.url, per_room_interval=timedelta(seconds=interval))
    rooms = Destinations(
        Destination("desk", "matrix", DESK),
        Destination("other", "matrix", OTHER),
        Destination("gone", "matrix", "!gone:example.org"),
        Destination("thread", "matrix", DESK, THREAD),
    )
    return MatrixAdapter(token, settings, rooms, handle=handle)  # type: ignore[arg-type]


async def test_an_alert_is_an_html_room_message_with_the_token_in_the_header(
    fake: FakeMatrix,
) -> None:
    matrix = adapter_for(fake)
    await matrix.start()
    try:
        result = await matrix.send(alert())
    finally:
        await matrix.stop()
    assert result.status is SendStatus.SENT
    [sent] = fake.messages(DESK)
    assert result.remote_id == sent.event_id
    content = sent.content
    assert content["msgtype"] == "m.text" and content["format"] == "org.matrix.custom.html"
    html = content["formatted_body"]
    assert "<u>Вагнер</u> &lt;b&gt;&amp; co&lt;/b&gt;" in html  # the feed's markup escaped
    assert "<b>Вагнер</b>" in html  # the matched word in the snippet
    assert '<a href="https://ria.example/a?x=1&amp;y=2">' in html
    assert "Вагнер <b>& co</b>" in content["body"]  # the plain body is not escaped
    [request] = fake.calls("send")
    assert request.token == TOKEN and "access_token" not in request.params


async def test_a_retried_send_is_the_same_event_not_a_second_one(fake: FakeMatrix) -> None:
    matrix = adapter_for(fake)
    first = await matrix.send(alert())
    again = await matrix.send(alert())  # the answer to the first was lost: sent again
    await matrix.stop()
    assert first.remote_id == again.remote_id
    assert len(fake.calls("send")) == 2 and len(fake.messages(DESK)) == 1
    other = await adapter_for(fake).send(alert(number=2))
    assert other.remote_id != first.remote_id and len(fake.messages(DESK)) == 2


async def test_429_limit_exceeded_is_a_retry_after_retry_after_ms(fake: FakeMatrix) -> None:
    matrix = adapter_for(fake)
    fake.fail_next("send", 429, retry_after_ms=2500)
    result = await matrix.send(alert())
    assert result.status is SendStatus.RETRY
    assert result.retry_after == timedelta(milliseconds=2500)
    assert fake.messages(DESK) == []
    assert (await matrix.send(alert())).status is SendStatus.SENT  # kept, and sent later
    await matrix.stop()
    assert len(fake.messages(DESK)) == 1


@pytest.mark.parametrize(
    ("status", "errcode", "expected", "words"),
    [
        (401, "M_UNKNOWN_TOKEN", SendStatus.BROKEN, "MATRIX_ACCESS_TOKEN"),
        (403, "M_FORBIDDEN", SendStatus.BROKEN, "invite"),
        (500, "M_UNKNOWN", SendStatus.RETRY, "homeserver"),
        (502, "M_UNKNOWN", SendStatus.RETRY, "homeserver"),
    ],
)
async def test_each_error_answer_becomes_what_the_outbox_should_do(
    fake: FakeMatrix, status: int, errcode: str, expected: SendStatus, words: str
) -> None:
    fake.fail_next("send", status, errcode=errcode)
    matrix = adapter_for(fake)
    result = await matrix.send(alert())
    await matrix.stop()
    assert result.status is expected and words in result.detail


async def test_a_room_the_bot_is_not_in_is_a_broken_destination(fake: FakeMatrix) -> None:
    fake.add_room("!gone:example.org", joined=False)
    matrix = adapter_for(fake)
    msg = alert()
    result = await matrix.send(OutgoingMessage(1, "gone", msg.alert))
    await matrix.stop()
    assert result.status is SendStatus.BROKEN and "not in room" in result.detail


async def test_no_homeserver_is_a_retry_and_the_token_is_never_logged(
    fake: FakeMatrix, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    matrix = adapter_for(fake)
    await fake.stop()
    result = await matrix.send(alert())
    await matrix.stop()
    assert result.status is SendStatus.RETRY and "unreachable" in result.detail
    assert TOKEN not in result.detail and TOKEN not in caplog.text


async def test_a_wrong_token_fails_the_start(fake: FakeMatrix) -> None:
    from bot.platforms.matrix.client import MatrixError

    matrix = adapter_for(fake, token="syt_wrong")
    with pytest.raises(MatrixError, match="M_UNKNOWN_TOKEN") as raised:
        await matrix.start()
    assert raised.value.status == 401


async def test_an_edit_replaces_the_alert_with_its_note(fake: FakeMatrix) -> None:
    matrix = adapter_for(fake)
    sent = await matrix.send(alert())
    msg = alert()
    edited = OutgoingMessage(
        1,
        "desk",
        msg.alert,
        note="👥 Also seen in 1 source: tass (07:10)",
        remote_id=sent.remote_id,
    )
    assert (await matrix.edit(edited)).status is SendStatus.SENT
    assert (await matrix.edit(edited)).status is SendStatus.SENT  # retried: one edit
    await matrix.stop()
    [shown] = fake.messages(DESK)
    assert len(shown.edits) == 1
    assert "Also seen in 1 source: tass" in shown.current["formatted_body"]
    [_, edit, _] = fake.calls("send")
    assert edit.body is not None and edit.body["m.relates_to"] == {
        "rel_type": "m.replace",
        "event_id": sent.remote_id,
    }
    assert edit.body["body"].startswith("* ")


async def test_text_answers_a_message_in_its_room(fake: FakeMatrix) -> None:
    matrix = adapter_for(fake)
    sent = await matrix.send(alert())
    result = await matrix.send_text(
        "desk", "👥 Also seen in 1 more source:\n• tass", reply_to=sent.remote_id
    )
    await matrix.stop()
    assert result.status is SendStatus.SENT
    reply = fake.messages(DESK)[-1].content
    assert reply["m.relates_to"] == {"m.in_reply_to": {"event_id": sent.remote_id}}
    assert reply["formatted_body"] == "👥 Also seen in 1 more source:<br>• tass"


async def test_a_thread_destination_posts_alerts_and_answers_into_its_thread(
    fake: FakeMatrix,
) -> None:
    matrix = adapter_for(fake)
    sent = await matrix.send(OutgoingMessage(1, "thread", alert().alert))
    answer = await matrix.send_text("thread", "👥 Also seen", reply_to=sent.remote_id)
    await matrix.stop()
    assert sent.status is answer.status is SendStatus.SENT
    first, second = (m.content["m.relates_to"] for m in fake.messages(DESK))
    assert first == {
        "rel_type": "m.thread",
        "event_id": THREAD,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": THREAD},
    }
    assert second["event_id"] == THREAD and not second["is_falling_back"]
    assert second["m.in_reply_to"] == {"event_id": sent.remote_id}


async def test_sends_into_one_room_are_paced_and_other_rooms_do_not_wait(
    fake: FakeMatrix,
) -> None:
    matrix = adapter_for(fake, interval=0.4)
    desk = [matrix.send(alert(number=n)) for n in range(1, 4)]
    other = OutgoingMessage(9, "other", alert(number=9).alert)
    results = await asyncio.gather(*desk, matrix.send(other))
    await matrix.stop()
    assert all(r.status is SendStatus.SENT for r in results)
    times = [r.time for r in fake.calls("send") if DESK in _room(r.path)]
    assert len(times) == 3
    assert all(b - a >= 0.35 for a, b in itertools.pairwise(times))
    [other_call] = [r for r in fake.calls("send") if OTHER in _room(r.path)]
    assert other_call.time < times[-1]  # not queued behind the desk room


def _room(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path.split("/")[5])


async def test_dozor_commands_are_read_by_sync_and_answered_in_the_room(
    fake: FakeMatrix,
) -> None:
    fake.push_message(DESK, ANNA, "!dozor status")  # before the start: not a command now
    seen: list[Invocation] = []

    async def handle(invocation: Invocation) -> Reply:
        seen.append(invocation)
        return Reply(f"you asked for {invocation.command} {invocation.args}".strip())

    matrix = adapter_for(fake, handle=handle)
    await matrix.start()
    try:
        command = fake.push_message(DESK, ANNA, "!dozor mute ria 2h")
        fake.push_message(DESK, ANNA, "just chatting")
        await fake.wait_for("send")
    finally:
        await matrix.stop()
    assert [(i.command, i.args, i.chat_id, i.user_id, i.platform) for i in seen] == [
        ("mute", "ria 2h", DESK, ANNA, "matrix")
    ]
    [reply] = fake.messages(DESK)
    assert reply.content["msgtype"] == "m.notice"
    assert reply.content["body"] == "you asked for mute ria 2h"
    assert reply.content["m.relates_to"] == {"m.in_reply_to": {"event_id": command["event_id"]}}


async def test_commands_are_read_once_a_failing_sync_works_again(fake: FakeMatrix) -> None:
    async def handle(invocation: Invocation) -> Reply:
        return Reply(f"ok {invocation.command}")

    fake.push_message(DESK, ANNA, "!dozor status")  # before the start: never answered
    fake.fail_next("sync", 502)  # the first sync fails: the listener finds "now" later
    fake.fail_next("sync", 429, retry_after_ms=100)
    matrix = adapter_for(fake, handle=handle)
    await matrix.start()
    try:
        assert matrix.listening
        await fake.wait_for("sync", count=3)  # 502, 429, then where "now" is
        fake.push_message(DESK, ANNA, "!dozor help")
        await fake.wait_for("send")
    finally:
        await matrix.stop()
    assert [m.content["body"] for m in fake.messages(DESK)] == ["ok help"]


async def test_the_fake_refuses_bad_content_no_token_a_large_event_and_a_flood(
    fake: FakeMatrix,
) -> None:
    url = f"{fake.url}/_matrix/client/v3/rooms/{DESK}/send/m.room.message/t1"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, json={"msgtype": "m.text"}, headers=headers) as bad:
            assert bad.status == 400 and (await bad.json())["errcode"] == "M_BAD_JSON"
        async with http.put(url, json={"msgtype": "m.text", "body": "x"}) as anonymous:
            assert anonymous.status == 401
        body = {"msgtype": "m.text", "body": "x" * 70_000}
        async with http.put(url, json=body, headers=headers) as large:
            assert large.status == 413 and (await large.json())["errcode"] == "M_TOO_LARGE"
        fake.rate_limit(DESK, 5)
        async with http.put(url, json={"msgtype": "m.text", "body": "x"}, headers=headers) as r:
            answer = await r.json()
            assert r.status == 429 and answer["errcode"] == "M_LIMIT_EXCEEDED"
            assert 0 < answer["retry_after_ms"] <= 5000 and r.headers["Retry-After"] == "5"


# -- config.toml ------------------------------------------------------------------------

CONFIG = """
[storage]
path = "dozor.db"
[matrix]
{matrix}
[[destinations]]
name = "desk"
kind = "matrix"
{destination}
"""


def config_problems(tmp_path: Path, matrix: str, destination: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(matrix=matrix, destination=destination), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_matrix_settings_and_destinations_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    matrix = (
        'homeserver = "https://matrix.example.org/"\nadmins = ["@boss:example.org"]\n'
        f'rooms = ["{OTHER}"]\nper_room_interval = "2s"\nmembers_can_watch = false'
    )
    destination = f'room = "{DESK}"\nthread_root = "{THREAD}"'
    path.write_text(CONFIG.format(matrix=matrix, destination=destination), encoding="utf-8")
    settings = load_config(path)
    own = settings.section("matrix")
    assert own == MatrixSettings(
        "https://matrix.example.org", ("@boss:example.org",), (OTHER,), False, timedelta(seconds=2)
    )
    (desk,) = settings.destinations
    assert (desk.platform, desk.address, desk.thread) == ("matrix", DESK, THREAD)


ROOM_ID = 'a room id like "!AbCdEf:example.org" (not an #alias: see the room\'s settings)'


@pytest.mark.parametrize(
    ("matrix", "destination", "problem"),
    [
        (
            "",
            'room = "#desk:example.org"',
            f'destinations[0].room: expected {ROOM_ID}, got "#desk:example.org"',
        ),
        ("", "", f"destinations[0].room: missing (expected {ROOM_ID})"),
        (
            "",
            f'room = "{DESK}"\nthread_root = "root"',
            "destinations[0].thread_root: expected the id of a thread's first event, "
            'like "$abc", got "root"',
        ),
        (
            'homeserver = "matrix.org"',
            f'room = "{DESK}"',
            'matrix.homeserver: expected an http(s) URL, got "matrix.org"',
        ),
        (
            'admins = ["anna"]',
            f'room = "{DESK}"',
            'matrix.admins: expected a list of user ids like "@anna:example.org", got a list',
        ),
        (
            'per_room_interval = "fast"',
            f'room = "{DESK}"',
            'matrix.per_room_interval: expected a duration like "1s", got "fast"',
        ),
        (
            'homeserve = "https://matrix.org"',
            f'room = "{DESK}"',
            'matrix.homeserve: unknown key "homeserve" (did you mean "homeserver"?) (allowed: '
            "homeserver, admins, rooms, members_can_watch, per_room_interval)",
        ),
    ],
)
def test_bad_matrix_config_is_a_located_error(
    tmp_path: Path, matrix: str, destination: str, problem: str
) -> None:
    assert config_problems(tmp_path, matrix, destination) == [problem]
