"""The Slack fake (tests/fakes/slack_api.py) driven by the real slack_sdk and slack-bolt.

Every test talks HTTP or a websocket to a ``FakeSlack`` on 127.0.0.1: slack_sdk's own
request layer and bolt's Socket Mode handler must see the answers and envelopes the real
Slack produces (errors as ``SlackApiError``, 429 with ``Retry-After``, acks, response_url).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack, block_errors, sign

BOT_TOKEN = "xoxb-1111-2222-dozortest"
APP_TOKEN = "xapp-1-A0DOZOR-3333-dozortest"
SIGNING_SECRET = "dozor-signing-secret"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TS_RE = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(BOT_TOKEN, base_url=fake.api_url)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def _api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# ---------------------------------------------------------------- Web API basics


async def test_auth_test_is_the_bot(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        "UBOT",
        "B0DOZOR",
        "T0DOZOR",
    )
    assert fake.api_url.startswith("http://127.0.0.1:") and fake.api_url.endswith("/api/")
    record = fake.calls("auth.test")[0]
    assert record.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert (record.status, record.token) == (200, BOT_TOKEN)


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-wrong", "invalid_auth"), (APP_TOKEN, "not_allowed_token_type"), (None, "not_authed")],
)
async def test_tokens_are_checked(fake: FakeSlack, token: str | None, error: str) -> None:
    other = AsyncWebClient(token, base_url=fake.api_url)
    caught = await _api_error(other.chat_postMessage(channel="C1", text="hi"))
    assert (caught.response.status_code, caught.response["error"]) == (200, error)
    assert fake.messages("C1") == []


async def test_post_message_with_blocks_is_stored(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Вагнер"}},
        _section("*Дейр-эз-Зор*: новости"),
    ]
    first = await client.chat_postMessage(
        channel="C1", text="Вагнер: новости", blocks=blocks, unfurl_links=False, unfurl_media=False
    )
    reply = await client.chat_postMessage(channel="C1", text="ещё", thread_ts=first["ts"])

    assert first["channel"] == "C1" and TS_RE.match(first["ts"])
    assert first["message"]["blocks"] == blocks and first["message"]["bot_id"] == "B0DOZOR"
    assert reply["message"]["thread_ts"] == first["ts"] and reply["ts"] > first["ts"]
    stored = fake.messages("C1")
    assert [m.text for m in stored] == ["Вагнер: новости", "ещё"]
    assert (stored[0].blocks, stored[0].unfurl_links, stored[0].unfurl_media) == (
        blocks,
        False,
        False,
    )
    assert stored[1].thread_ts == first["ts"] and stored[0].thread_ts is None
    assert fake.calls("chat.postMessage")[0].encoding == "json"


async def test_form_encoded_blocks_are_decoded(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "blocks": json.dumps([_section("form")]), "mrkdwn": "false"},
    )
    message = fake.messages("C1")[0]
    assert (message.blocks, message.text, message.mrkdwn) == ([_section("form")], None, False)
    assert fake.calls("chat.postMessage")[0].encoding == "form"


@pytest.mark.parametrize(
    ("blocks", "wording"),
    [
        ([_section("x")] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        ([_section("я" * 3001)], "must be less than 3001 characters"),
        ([_section("")], "must be more than 0 characters"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "must be less than 151 characters",
        ),
    ],
)
async def test_invalid_blocks(
    fake: FakeSlack, client: AsyncWebClient, blocks: list[Any], wording: str
) -> None:
    caught = await _api_error(client.chat_postMessage(channel="C1", text="t", blocks=blocks))
    assert caught.response["error"] == "invalid_blocks"
    assert any(wording in e for e in caught.response["errors"])
    assert fake.messages("C1") == []


async def test_blocks_at_the_limits_pass(client: AsyncWebClient) -> None:
    assert block_errors([_section("x" * 3000)] * 50) == []
    await client.chat_postMessage(channel="C1", text="t", blocks=[_section("x" * 3000)] * 50)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_no_text(client: AsyncWebClient) -> None:
    caught = await _api_error(client.chat_postMessage(channel="C1"))
    assert caught.response["error"] == "no_text"


async def test_channel_states(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.remove_channel("C9")
    fake.add_channel("C2", "archive", archived=True)
    fake.add_channel("C3", "private-ops", member=False)
    for channel, error in [
        ("C9", "channel_not_found"),
        ("X1", "channel_not_found"),
        ("C2", "is_archived"),
        ("C3", "not_in_channel"),
    ]:
        caught = await _api_error(client.chat_postMessage(channel=channel, text="t"))
        assert caught.response["error"] == error, channel


async def test_strict_channel_list() -> None:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN, channels=["C1"]) as strict:
        client = AsyncWebClient(BOT_TOKEN, base_url=strict.api_url)
        await client.chat_postMessage(channel="C1", text="ok")
        caught = await _api_error(client.chat_postMessage(channel="C2", text="no"))
        assert caught.response["error"] == "channel_not_found"


async def test_user_id_posts_to_the_dm(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.chat_postMessage(channel="U1", text="личное")
    assert response["channel"] == "D1"
    assert fake.messages("D1")[0].text == "личное"


# ---------------------------------------------------------------- failures


async def test_429_shows_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    caught = await _api_error(client.chat_postMessage(channel="C1", text="t"))
    assert caught.response.status_code == 429
    assert caught.response.headers["Retry-After"] == "7"
    assert caught.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C1", text="t")  # only the next call failed
    assert [r.status for r in fake.calls("chat.postMessage")] == [429, 200]


async def test_rate_limit_retry_handler_waits(fake: FakeSlack) -> None:
    client = AsyncWebClient(
        BOT_TOKEN, base_url=fake.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    response = await client.chat_postMessage(channel="C1", text="t")
    assert response["ok"]
    first, second = fake.calls("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 1.0  # it slept Retry-After (+ up to 1 s jitter)


async def test_rate_limit_window(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit("C1", 30)
    caught = await _api_error(client.chat_postMessage(channel="C1", text="t"))
    assert caught.response.status_code == 429
    assert int(caught.response.headers["Retry-After"]) in (29, 30)
    await client.chat_postMessage(channel="C2", text="other channel is fine")


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_injected_errors(fake: FakeSlack, client: AsyncWebClient, error: str) -> None:
    fake.fail_next("chat.postMessage", error=error, channel="C2")
    await client.chat_postMessage(channel="C1", text="other channel")
    caught = await _api_error(client.chat_postMessage(channel="C2", text="t"))
    assert (caught.response.status_code, caught.response["error"]) == (200, error)


async def test_server_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=500)
    caught = await _api_error(client.chat_postMessage(channel="C1", text="t"))
    assert (caught.response.status_code, caught.response["error"]) == (500, "fatal_error")

    fake.fail_next("chat.postMessage", status=503)  # an HTML gateway page: no JSON
    caught = await _api_error(client.chat_postMessage(channel="C1", text="t"))
    assert caught.response.status_code == 503 and caught.response.data == {}

    retrying = AsyncWebClient(
        BOT_TOKEN, base_url=fake.api_url, retry_handlers=[AsyncServerErrorRetryHandler()]
    )
    fake.fail_next("chat.postMessage", status=503)
    assert (await retrying.chat_postMessage(channel="C1", text="t"))["ok"]


async def test_unknown_method(client: AsyncWebClient) -> None:
    caught = await _api_error(client.api_call("chat.shout"))
    assert caught.response["error"] == "unknown_method"


# ---------------------------------------------------------------- other methods


async def test_update_keeps_an_edit_history(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="v1", blocks=[_section("v1")])
    await client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    updated = await client.chat_update(
        channel="C1", ts=posted["ts"], text="v3", blocks=[_section("v3")]
    )
    assert updated["ts"] == posted["ts"] and updated["text"] == "v3"
    message = fake.messages("C1")[0]
    assert [(e.text, e.blocks) for e in message.edits] == [
        ("v2", [_section("v1")]),  # blocks not sent are kept
        ("v3", [_section("v3")]),
    ]
    caught = await _api_error(client.chat_update(channel="C1", ts="1.000000", text="x"))
    assert caught.response["error"] == "message_not_found"
    await client.chat_delete(channel="C1", ts=posted["ts"])
    assert fake.messages("C1")[0].deleted


async def test_ephemeral_permalink_and_lookups(fake: FakeSlack, client: AsyncWebClient) -> None:
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="только тебе")
    assert TS_RE.match(ephemeral["message_ts"])
    assert [(m.user, m.text) for m in fake.ephemeral("C1")] == [("U1", "только тебе")]
    assert fake.messages("C1") == []

    posted = await client.chat_postMessage(channel="C1", text="t")
    link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C1/p" + posted["ts"].replace(".", ""))
    assert fake.calls("chat.getPermalink")[0].http_method == "GET"

    fake.add_channel("C5", "osint")
    info = await client.conversations_info(channel="C5")
    assert (info["channel"]["name"], info["channel"]["is_member"]) == ("osint", True)
    fake.add_user("U7", "boris", real_name="Boris B.")
    user = await client.users_info(user="U7")
    assert (user["user"]["name"], user["user"]["real_name"]) == ("boris", "Boris B.")
    caught = await _api_error(client.users_info(user="nobody"))
    assert caught.response["error"] == "user_not_found"


async def test_files_upload_v2(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.files_upload_v2(
        channel="C1", content="отчёт", filename="report.txt", title="Report"
    )
    uploaded = fake.files[response["file"]["id"]]
    assert (uploaded.data, uploaded.title, uploaded.channel) == ("отчёт".encode(), "Report", "C1")
    assert [r.method for r in fake.requests] == [
        "files.getUploadURLExternal",
        "files.upload",
        "files.completeUploadExternal",
    ]


def test_sign_matches_the_slack_test_vector() -> None:
    vectors = json.loads((CORPUS / "slack_signing" / "signing_vectors.json").read_text())
    for vector in vectors["vectors"]:
        headers = sign(vector["body"].encode(), vector["signing_secret"], vector["timestamp"])
        assert headers["X-Slack-Signature"] == vector["expected_signature"]
        assert headers["X-Slack-Request-Timestamp"] == vector["timestamp"]


# ---------------------------------------------------------------- bolt over Socket Mode


@dataclass
class Bolt:
    fake: FakeSlack
    app: AsyncApp
    handler: AsyncSocketModeHandler


def _dozor_app(client: AsyncWebClient, **kwargs: Any) -> AsyncApp:
    app = AsyncApp(client=client, **kwargs)  # the token comes from the client

    @app.command("/dozor")
    async def dozor(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        await respond(f"Слежу за: {command['text'].removeprefix('watch ')}")

    @app.command("/dozor-help")
    async def dozor_help(ack: AsyncAck) -> None:
        await ack("Команды: watch, mute")  # an ack with a payload

    @app.event("app_mention")
    async def mention(event: dict[str, Any], say: AsyncSay) -> None:
        await say(text=f"Принято: {event['text']}", thread_ts=event["ts"])

    @app.action("mute")
    async def mute(ack: AsyncAck, respond: AsyncRespond, action: dict[str, Any]) -> None:
        await ack()
        await respond(replace_original=True, text=f"Заглушено: {action['value']}")

    return app


@pytest.fixture
async def bolt(fake: FakeSlack, client: AsyncWebClient) -> AsyncIterator[Bolt]:
    app = _dozor_app(client)
    handler = AsyncSocketModeHandler(app, APP_TOKEN)  # apps.connections.open via app.client
    await handler.connect_async()
    await fake.wait_connected()
    yield Bolt(fake, app, handler)
    await handler.close_async()  # before the fake stops, or it reconnects


async def test_socket_mode_connects_with_the_app_token(bolt: Bolt) -> None:
    opened = bolt.fake.calls("apps.connections.open")
    assert [r.token for r in opened] == [APP_TOKEN]
    answer = opened[0].response
    assert isinstance(answer, dict) and answer["url"].startswith(
        f"ws://127.0.0.1:{bolt.fake.port}/"
    )


async def test_slash_command_is_acked_then_responded(bolt: Bolt) -> None:
    fake = bolt.fake
    envelope_id = await fake.push_slash_command(
        command="/dozor", text="watch Вагнер", user_id="U1", user_name="anna", channel_id="C1"
    )
    ack = await fake.wait_ack(envelope_id)
    assert ack.payload is None  # a bare ack()
    # No order between the two: bolt polls for ack() every 10 ms before it sends the ack,
    # while the listener goes on to respond(), which can reach Slack first.
    await fake.wait_for("response_url")
    assert fake.responses[0].payload["text"] == "Слежу за: Вагнер"
    assert fake.responses[0].envelope_id == envelope_id
    assert [(m.user, m.text, m.via) for m in fake.ephemeral("C1")] == [
        ("U1", "Слежу за: Вагнер", "response_url")
    ]
    assert [r.method for r in fake.calls("auth.test")] == ["auth.test"]  # bolt's authorize

    help_id = await fake.push_slash_command(command="/dozor-help")
    assert (await fake.wait_ack(help_id)).payload == {"text": "Команды: watch, mute"}


async def test_app_mention_reply_goes_to_the_thread(bolt: Bolt) -> None:
    fake = bolt.fake
    envelope_id = await fake.push_app_mention("<@UBOT> mute ria", user="U1", channel="C1")
    assert (await fake.wait_ack(envelope_id)).payload is None
    await fake.wait_for("chat.postMessage")
    (reply,) = fake.messages("C1")
    mention = fake.envelopes[-1]["payload"]["event"]
    assert (reply.text, reply.thread_ts) == ("Принято: <@UBOT> mute ria", mention["ts"])
    assert mention["blocks"][0]["elements"][0]["elements"][0] == {
        "type": "user",
        "user_id": "UBOT",
    }


async def test_block_action_replaces_the_message(bolt: Bolt, client: AsyncWebClient) -> None:
    fake = bolt.fake
    posted = await client.chat_postMessage(channel="C1", text="Новость", blocks=[_section("n")])
    envelope_id = await fake.push_block_action(
        action_id="mute", value="ria", user_id="U2", channel_id="C1", message_ts=posted["ts"]
    )
    assert (await fake.wait_ack(envelope_id)).payload is None
    await fake.wait_for("response_url")
    (message,) = fake.messages("C1")
    assert message.text == "Заглушено: ria" and message.edits[-1].via == "response_url"
    assert fake.envelopes[-1]["payload"]["message"]["ts"] == posted["ts"]


async def test_disconnect_makes_the_client_reconnect(bolt: Bolt) -> None:
    fake = bolt.fake
    await fake.disconnect("refresh_requested")
    await fake.wait_for("apps.connections.open", count=2)
    await fake.wait_connected()
    envelope_id = await fake.push_slash_command(command="/dozor-help")
    assert (await fake.wait_ack(envelope_id)).payload is not None


# ---------------------------------------------------------------- bolt over HTTP


async def test_http_mode_checks_the_signature(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = _dozor_app(client, signing_secret=SIGNING_SECRET)
    body = urlencode(fake.slash_command_payload("/dozor", "watch Сирия"))
    form = "application/x-www-form-urlencoded"

    now = int(time.time())
    good = sign(body.encode(), SIGNING_SECRET, now, content_type=form)
    response = await app.async_dispatch(AsyncBoltRequest(body=body, headers={**good}))
    assert response.status == 200
    await fake.wait_for("response_url")
    assert fake.responses[0].payload["text"] == "Слежу за: Сирия"

    bad = sign(body.encode(), "wrong-secret", now, content_type=form)
    stale = sign(body.encode(), SIGNING_SECRET, now - 600, content_type=form)
    for headers in (bad, stale):
        rejected = await app.async_dispatch(AsyncBoltRequest(body=body, headers={**headers}))
        assert rejected.status == 401
    assert len(fake.responses) == 1
