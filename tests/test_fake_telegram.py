"""The Telegram Bot API fake (tests/fakes/telegram_api.py) driven by the real python-telegram-bot.

Every test talks HTTP to a ``FakeTelegram`` on 127.0.0.1: PTB's own request layer must map
the fake's answers to the same objects and exceptions the real API produces.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:ABC-fake-token"
GROUP = -100_500
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tg_bot_api_teloxide"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


@pytest.fixture
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns on every RetryAfter unless opted in to ``retry_after: timedelta``."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def _application(fake: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        Application.builder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )


# ---------------------------------------------------------------- basics


async def test_get_me_is_the_configured_bot(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "dozor_test_bot", True)
    assert fake.calls("getMe")[-1].status == 200
    assert fake.api_root.startswith("http://127.0.0.1:")


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    other = Bot("999:WRONG", base_url=fake.base_url)
    with pytest.raises(InvalidToken, match="rejected by the server") as caught:
        await other.initialize()  # PTB 22 checks the token with getMe here
    await other.shutdown()
    assert str(caught.value.__cause__) == "Unauthorized"
    assert (fake.requests[-1].method, fake.requests[-1].status) == ("getMe", 401)


async def test_raw_http_shapes(fake: FakeTelegram) -> None:
    """Unknown method, bad tokens, JSON bodies and GET query strings, without PTB."""
    async with aiohttp.ClientSession() as http:
        api = f"{fake.api_root}/bot{TOKEN}"
        async with http.post(f"{api}/fooBar", json={}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with http.get(f"{fake.api_root}/bot1:other/getMe") as response:
            assert (response.status, (await response.json())["description"]) == (
                401,
                "Unauthorized",
            )
        async with http.get(f"{fake.api_root}/botnotatoken/getMe") as response:
            assert response.status == 404
        body = {"chat_id": GROUP, "text": "json body", "disable_notification": True}
        async with http.post(f"{api}/sendMessage", json=body) as response:
            result = (await response.json())["result"]
        async with http.get(f"{api}/sendMessage", params={"chat_id": "42", "text": "7"}) as r:
            assert (await r.json())["result"]["text"] == "7"  # text stays a string
    assert result["chat"] == {"id": GROUP, "title": f"Supergroup {GROUP}", "type": "supergroup"}
    [stored] = fake.messages(GROUP)
    assert (stored.text, stored.disable_notification) == ("json body", True)
    assert [r.encoding for r in fake.calls("sendMessage")] == ["json", "query"]
    assert fake.messages(42)[0].chat["type"] == "private"


# ---------------------------------------------------------------- sending


async def test_send_message_html_is_stored_and_echoed(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute 6h", callback_data="mute:6h")]])
    first = await bot.send_message(GROUP, "hello", disable_notification=True)
    sent = await bot.send_message(
        GROUP,
        '<b>Wagner</b> &amp; <a href="https://t.me/x/1">Deir ez-Zor</a> &lt;3',
        parse_mode="HTML",
        reply_markup=keyboard,
        message_thread_id=7,
        disable_web_page_preview=True,
    )
    assert (first.message_id, sent.message_id) == (1, 2)
    assert sent.chat.id == GROUP and sent.from_user and sent.from_user.is_bot
    assert sent.text and sent.text.startswith("<b>Wagner</b>")  # echoed as sent
    assert sent.reply_markup == keyboard and sent.message_thread_id == 7
    stored = fake.messages(GROUP)[-1]
    assert (stored.parse_mode, stored.message_thread_id) == ("HTML", 7)
    assert stored.reply_markup == keyboard.to_dict()
    assert stored.link_preview_options == {"is_disabled": True}  # PTB 22 converts the flag
    assert fake.calls("sendMessage")[-1].encoding == "form"  # PTB posts form fields


PARSE = "Bad Request: can't parse entities: "


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("<b>open", PARSE + 'Can\'t find end tag corresponding to start tag "b"'),
        ("line<br>break", PARSE + 'Unsupported start tag "br" at byte offset 4'),
        (
            "Дейр <b><i>x</b></i>",  # byte offsets: Cyrillic letters are 2 bytes
            PARSE + 'Unmatched end tag at byte offset 16, expected "</i>", found "</b>"',
        ),
        ("1 < 2", PARSE + 'Unsupported start tag "" at byte offset 2'),
        ("<span>x</span>", PARSE + 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("AT&T", PARSE + 'Unescaped "&" at byte offset 2 (fake strict mode: write &amp;)'),
        ("<b> </b>", "Bad Request: message text is empty"),
        ("x" * 4097, "Bad Request: message is too long"),
        ("😀" * 2049, "Bad Request: message is too long"),  # 4098 UTF-16 code units
    ],
)
async def test_malformed_html_is_a_bad_request(
    fake: FakeTelegram, bot: Bot, text: str, description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(GROUP, text, parse_mode="HTML")
    call = fake.calls("sendMessage")[-1]
    assert (call.status, call.response) == (
        400,
        {"ok": False, "error_code": 400, "description": description},
    )
    assert fake.messages(GROUP) == []


async def test_html_limits_count_visible_utf16_units(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(GROUP, "<b>" + "😀" * 2048 + "</b>", parse_mode="HTML")
    await bot.send_message(GROUP, "&lt;" * 4096, parse_mode="HTML")
    assert len(fake.messages(GROUP)) == 2


async def test_empty_text_is_a_bad_request(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):  # PTB re-capitalizes
        await bot.send_message(GROUP, "")


async def test_send_document_and_download_it(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_document(
        GROUP,
        b"id,title\n1,Wagner\n",
        filename="digest.csv",
        caption="<i>digest</i>",
        parse_mode="HTML",
    )
    photo = await bot.send_photo(GROUP, b"\x89PNG fake", caption="map")
    stored = fake.messages(GROUP)[0]
    assert stored.file is not None and not isinstance(stored.file, str)
    assert (stored.file.filename, stored.file.data) == ("digest.csv", b"id,title\n1,Wagner\n")
    assert fake.calls("sendDocument")[-1].encoding == "multipart"
    assert message.document and message.document.file_name == "digest.csv"
    assert photo.photo and photo.caption == "map"
    telegram_file = await bot.get_file(message.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == b"id,title\n1,Wagner\n"


# ---------------------------------------------------------------- errors


@pytest.mark.usefixtures("timedelta_retry_after")
async def test_429_is_retry_after_with_its_seconds(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "first")
    assert caught.value.retry_after == timedelta(seconds=3)
    assert fake.calls("sendMessage")[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    await bot.send_message(GROUP, "second")  # only the next call failed
    assert [m.text for m in fake.messages(GROUP)] == ["second"]


async def test_failures_can_target_one_chat(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 403, chat_id=GROUP, times=2)
    await bot.send_message(42, "other chat is fine")
    for _ in range(2):
        with pytest.raises(Forbidden, match="Forbidden: bot was kicked from the group chat"):
            await bot.send_message(GROUP, "kicked")
    await bot.send_message(GROUP, "back")


async def test_migrated_group_is_chat_migrated(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 400, migrate_to_chat_id=-1_001_234_567_890)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-4_321, "hi")
    assert caught.value.new_chat_id == -1_001_234_567_890
    response = fake.calls("sendMessage")[-1].response
    assert response is not None
    assert response["description"] == "Bad Request: group chat was upgraded to a supergroup chat"


@pytest.mark.parametrize(
    ("status", "error"), [(400, BadRequest), (500, NetworkError), (502, NetworkError)]
)
async def test_other_statuses(
    fake: FakeTelegram, bot: Bot, status: int, error: type[Exception]
) -> None:
    fake.fail_next("sendMessage", status)
    with pytest.raises(error):
        await bot.send_message(GROUP, "x")
    if status == 400:
        assert fake.calls("sendMessage")[-1].response == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: chat not found",
        }


@pytest.mark.usefixtures("timedelta_retry_after")
async def test_rate_limit_window_follows_the_clock() -> None:
    now = [1000.0]
    async with (
        FakeTelegram(token=TOKEN, clock=lambda: now[0]) as limited,
        Bot(TOKEN, base_url=limited.base_url) as client,
    ):
        limited.rate_limit(GROUP, 5)
        now[0] += 1.5
        with pytest.raises(RetryAfter) as caught:
            await client.send_message(GROUP, "too soon")
        assert caught.value.retry_after == timedelta(seconds=4)  # ceil(3.5)
        await client.send_message(42, "another chat is not limited")
        now[0] += 3.5
        await client.send_message(GROUP, "on time")
        first_ok = next(r for r in limited.calls("sendMessage") if r.status == 200)
        assert first_ok.time == 1001.5
        assert limited.messages(GROUP)[0].time == 1005.0


# ---------------------------------------------------------------- edits, commands, webhook


async def test_edits_are_kept_as_history(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])
    sent = await bot.send_message(GROUP, "v1", reply_markup=keyboard)
    await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=None)
    edited = await bot.edit_message_text("<b>v2</b>", GROUP, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, Message) and edited.edit_date is not None
    stored = fake.messages(GROUP)[0]
    assert (stored.text, stored.parse_mode, stored.reply_markup) == ("<b>v2</b>", "HTML", None)
    assert [e.text for e in stored.edits] == ["v1", "<b>v2</b>"]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>v2</b>", GROUP, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("v3", GROUP, 999)


async def test_bot_commands_per_scope(bot: Bot) -> None:
    await bot.set_my_commands([("help", "What Dozor can do"), ("mute", "Mute a source")])
    assert [c.command for c in await bot.get_my_commands()] == ["help", "mute"]
    assert await bot.get_my_commands(language_code="ru") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Mute-Now", "bad name")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_webhook_blocks_get_updates(bot: Bot) -> None:
    await bot.set_webhook("https://dozor.example/hook")
    assert (await bot.get_webhook_info()).url == "https://dozor.example/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == ()
    assert await bot.close() is True and await bot.log_out() is True


# ---------------------------------------------------------------- getUpdates


async def test_get_updates_long_polls_and_confirms(fake: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for("getUpdates")
    pushed = fake.push_command(GROUP, "/status@dozor_test_bot now")
    [update] = await poll
    assert time.monotonic() - started < 2  # woken by the push, not the timeout
    assert update.update_id == pushed["update_id"]
    assert update.message and update.message.text == "/status@dozor_test_bot now"
    assert update.message.entities[0].length == len("/status@dozor_test_bot")
    assert len(await bot.get_updates()) == 1  # not confirmed yet: delivered again
    second = fake.push_command(GROUP, "/help")
    assert [u.update_id for u in await bot.get_updates(offset=update.update_id + 1)] == [
        second["update_id"]
    ]
    assert fake.pending_updates() == [second]
    assert [u.update_id for u in await bot.get_updates(offset=-1, limit=5)] == [second["update_id"]]
    started = time.monotonic()
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9  # a real long poll


async def test_pushed_private_reply_is_real_shaped(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(77, "Alert: Wagner")
    fake.push_command(77, "/mute 6h", chat_type="private", reply_to_message_id=sent.message_id)
    [update] = await bot.get_updates()
    message = update.message
    assert message and message.from_user and message.reply_to_message
    assert (message.chat.type, message.from_user.id) == ("private", 77)
    assert message.message_id == sent.message_id + 1  # one id sequence per chat
    assert message.reply_to_message.text == "Alert: Wagner"
    assert message.text == "/mute 6h" and message.entities[0].length == 5


async def test_a_second_poller_ends_the_first_with_conflict(fake: FakeTelegram) -> None:
    async with (
        Bot(TOKEN, base_url=fake.base_url) as first,
        Bot(TOKEN, base_url=fake.base_url) as second,
    ):
        waiting = asyncio.create_task(first.get_updates(timeout=5))
        await fake.wait_for("getUpdates")
        assert await second.get_updates() == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await waiting


async def test_wait_for_times_out_with_a_hint(fake: FakeTelegram) -> None:
    with pytest.raises(TimeoutError, match="sendMessage"):
        await fake.wait_for("sendMessage", timeout=0.05)


@pytest.mark.parametrize(
    "name", ["update__message__L558.json", "update__de_private_chat_text_message__L749.json"]
)
async def test_real_update_json_round_trips(fake: FakeTelegram, bot: Bot, name: str) -> None:
    """Real Update JSON (teloxide's test data, MIT) passes through the fake unchanged."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"shared corpus not beside the repo: {path}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    fake.push_update(raw)
    [received] = await bot.get_updates()
    expected = Update.de_json(raw, bot)
    assert received == expected and received.message and expected.message
    assert received.message.text == raw["message"]["text"]
    assert received.message.chat.id == raw["message"]["chat"]["id"]
    assert received.message.chat.type == raw["message"]["chat"]["type"]


# ---------------------------------------------------------------- a whole Application


async def test_application_answers_a_pushed_command(fake: FakeTelegram) -> None:
    async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("<b>Dozor</b>: /mute, /status", parse_mode="HTML")

    application = _application(fake)
    application.add_handler(CommandHandler("help", help_command))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        fake.push_command(GROUP, "/help", chat_type="supergroup", message_thread_id=4)
        await fake.wait_for("sendMessage")
        await application.updater.stop()
        await application.stop()
    [reply] = fake.messages(GROUP)
    assert (reply.text, reply.parse_mode) == ("<b>Dozor</b>: /mute, /status", "HTML")
    assert reply.message_thread_id == 4  # PTB replies inside the topic
    assert fake.pending_updates() == []  # PTB confirmed the update on shutdown
    assert [r.method for r in fake.requests[:2]] == ["getMe", "deleteWebhook"]


async def test_application_handles_a_callback_query(fake: FakeTelegram) -> None:
    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Muted for 6 h")
        await query.edit_message_text(f"Muted ({query.data})")

    keyboard = {"inline_keyboard": [[{"text": "Mute 6h", "callback_data": "mute:6h"}]]}
    async with aiohttp.ClientSession() as http:
        body = {"chat_id": GROUP, "text": "Alert", "reply_markup": keyboard}
        await http.post(f"{fake.api_root}/bot{TOKEN}/sendMessage", json=body)
    application = _application(fake)
    application.add_handler(CallbackQueryHandler(on_press, pattern=r"^mute:"))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        pushed = fake.push_callback(GROUP, 1, "mute:6h")
        await fake.wait_for("editMessageText")
        await application.updater.stop()
        await application.stop()
    [answer] = fake.calls("answerCallbackQuery")
    assert answer.params["callback_query_id"] == pushed["callback_query"]["id"]
    assert answer.params["text"] == "Muted for 6 h"
    assert fake.messages(GROUP)[0].text == "Muted (mute:6h)"
