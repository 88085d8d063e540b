"""The Discord package (bot/platforms/discord) against the fake Discord REST API
(tests/fakes/discord.py) on 127.0.0.1: embeds within every limit Discord checks,
escaping, bot and webhook posting, errors as SendResults, and pacing by the
rate-limit headers."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_config
from bot.model import Alert, Item, Match, OutgoingMessage, SendStatus, Span
from bot.platforms.discord.adapter import DiscordAdapter
from bot.platforms.discord.api import DiscordApi, Target, parse_webhook_url
from bot.platforms.discord.render import (
    SEVERITY_COLOURS,
    SUPPRESS_NOTIFICATIONS,
    alert_embed,
    alert_message,
    embed_size,
    escape,
    text_messages,
)
from tests.fakes.discord import FakeDiscord, embed_errors
from tests.feeds import post

TOKEN = "MTIzNDU2Nzg5.discord-bot-token-never-logged"
HOOK_ID, HOOK_TOKEN = "1100000000000000001", "webhook-token-never-logged_x"
CHANNEL, HOOK_CHANNEL = "1200000000000000001", "1200000000000000002"
THREAD = "1300000000000000003"


def alert_of(
    title: str = "Вагнер в Дейр-эз-Зоре",
    text: str = "Бойцы ЧВК Вагнер замечены в провинции Дейр-эз-Зор, сообщает источник.",
    *,
    rules: int = 1,
    terms: tuple[str, ...] = ("Вагнер",),
    severity: str = "normal",
    link: str | None = "https://t.me/rian_ru/271457",
) -> Alert:
    spans = []
    start = text.find("Вагнер")
    if start >= 0:
        spans.append(Span("text", start, start + len("Вагнер"), "Вагнер"))
    item = Item(
        source="ria",
        key="guid:1",
        story_key="link:1",
        title=title,
        text=text,
        link=link,
        published=datetime(2026, 12, 4, 12, 30, tzinfo=UTC),
    )
    matches = tuple(Match(f"rule-{i}", terms, tuple(spans)) for i in range(rules))
    return Alert("desk", item, matches, "link:1", severity=severity)


def outgoing(
    alert: Alert, note: str | None = None, alert_id: int = 1, to: str = "desk"
) -> OutgoingMessage:
    return OutgoingMessage(alert_id, to, alert, note=note)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(bot_token=TOKEN) as server:
        yield server


def write_config(tmp_path: Path, fake: FakeDiscord) -> Path:
    """A desk as the bot, and a webhook destination posting into a thread."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[rules]
paths = ["rules/*.toml"]
[discord]
api_base_url = "{fake.api_url}"
[[destinations]]
name = "desk"
kind = "discord"
channel_id = "{CHANNEL}"
[[destinations]]
name = "hooked"
kind = "discord"
webhook_env = "DISCORD_WEBHOOK_HOOK"
thread = "{THREAD}"
""",
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def discord_app(
    tmp_path: Path, fake: FakeDiscord, token: str = TOKEN, hook_token: str = HOOK_TOKEN
) -> AsyncIterator[tuple[App, DiscordAdapter]]:
    """The real App with the Discord platform connected to the fake; its adapter."""
    hook = fake.add_webhook(HOOK_ID, HOOK_TOKEN, channel=HOOK_CHANNEL).replace(
        HOOK_TOKEN, hook_token
    )
    env = {"DISCORD_BOT_TOKEN": token, "DISCORD_WEBHOOK_HOOK": hook}
    settings = load_config(write_config(tmp_path, fake))
    async with App(settings, [], stream=io.StringIO(), environ=env) as app:
        await app.connect(listen=False)
        adapter = app.adapters["discord"]
        assert isinstance(adapter, DiscordAdapter)
        yield app, adapter


@pytest.fixture
async def adapter(tmp_path: Path, fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    async with discord_app(tmp_path, fake) as (_, found):
        yield found


# -- rendering ----------------------------------------------------------------------------


def test_embed_has_linked_title_bold_words_rule_fields_colour_and_source_footer() -> None:
    embed = alert_embed(alert_of(severity="high"), "👥 Also seen in 2 sources: a, b")
    assert embed["title"] == "Вагнер в Дейр-эз-Зоре"
    assert embed["url"] == "https://t.me/rian_ru/271457"
    assert "ЧВК **Вагнер** замечены" in embed["description"]
    assert embed["fields"][0] == {"name": "rule-0", "value": "Вагнер", "inline": True}
    assert (
        embed["fields"][-1]["name"] == "Notes" and "Also seen in 2" in embed["fields"][-1]["value"]
    )
    assert embed["color"] == SEVERITY_COLOURS["high"] and embed["footer"]["text"] == "📰 ria"
    assert embed["timestamp"] == "2026-12-04T12:30:00+00:00"
    body = alert_message(alert_of(severity="urgent"), silent=True)
    assert body["content"] == "🚨 **URGENT**" and body["flags"] == SUPPRESS_NOTIFICATIONS
    assert body["allowed_mentions"] == {"parse": []}  # feed text pings no one


def test_feed_text_cannot_format_or_mention() -> None:
    shown = escape(
        "*NEW* __x__ [a](http://evil) <@123> `code` Дейр-эз-Зор #тег\n# head\n> quote\n"
        "https://t.me/rian_ru/1_2"
    )
    assert shown == (
        "\\*NEW\\* \\_\\_x\\_\\_ \\[a\\](http://evil) \\<@123> \\`code\\` Дейр-эз-Зор #тег\n"
        "\\# head\n\\> quote\nhttps://t.me/rian_ru/1_2"
    )


@pytest.mark.parametrize(
    ("title", "text", "rules", "note"),
    [
        ("*" * 2000, "Вагнер " + "_" * 9000, 40, "n" * 5000),  # every part too long
        ("t" * 300, "Вагнер " + "слово " * 3000, 3, None),
        ("", "", 1, None),  # nothing but the rule: the source stands as the title
        ("x", "Вагнер", 30, "note\n" * 400),
    ],
)
def test_every_limit_is_kept_whatever_the_feed_sends(
    title: str, text: str, rules: int, note: str | None
) -> None:
    terms = tuple(f"term-{i}-" + "ж" * 200 for i in range(8))
    body = alert_message(alert_of(title, text, rules=rules, terms=terms), note)
    assert embed_errors(body) == {}  # the fake's own check of Discord's limits
    embed = body["embeds"][0]
    assert embed_size(embed) <= 6000 and len(embed["fields"]) <= 25
    assert embed["title"] and (note is None or embed["fields"][-1]["name"] == "Notes")


def test_long_text_is_split_into_messages_of_at_most_2000() -> None:
    text = "\n".join(f"• line {i} *with* stars " + "ё" * 60 for i in range(100))
    parts = text_messages(text)
    assert len(parts) > 3 and all(len(p) <= 2000 for p in parts)
    assert "\\*with\\*" in parts[0] and not any(p.endswith("\\") for p in parts)


def test_webhook_url_gives_id_and_token() -> None:
    url = f"https://discord.com/api/webhooks/{HOOK_ID}/{HOOK_TOKEN}"
    assert parse_webhook_url(url) == (HOOK_ID, HOOK_TOKEN)
    assert parse_webhook_url("https://discord.com/channels/1/2") is None


# -- against the fake ---------------------------------------------------------------------


async def test_bot_posts_a_real_corpus_alert_as_an_embed(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    real = post(271457)
    alert = alert_of(real["text"].split("\n")[0][:120], real["text"], link=real["link"])
    result = await adapter.send(outgoing(alert))
    assert result.status is SendStatus.SENT
    (message,) = fake.messages(CHANNEL)
    assert result.remote_id == message.id
    assert message.embeds[0]["url"] == real["link"] and message.allowed_mentions == {"parse": []}
    (call,) = fake.calls("POST", CHANNEL)
    assert call.headers["Authorization"] == f"Bot {TOKEN}"
    assert call.headers["User-Agent"].startswith("DiscordBot (")
    (me,) = fake.calls("GET")  # start checked the token once
    assert me.path.endswith("/users/@me")


async def test_webhook_posts_with_wait_into_a_thread_and_edits(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    sent = await adapter.send(outgoing(alert_of(), to="hooked"))
    assert sent.status is SendStatus.SENT and sent.remote_id
    (call,) = fake.calls("POST", HOOK_ID)
    assert call.query == {"wait": "true", "thread_id": THREAD}
    assert "Authorization" not in call.headers  # a webhook's token is its path
    note = "👥 Also seen in 1 source: tass"
    edited = await adapter.edit(
        OutgoingMessage(1, "hooked", alert_of(), note=note, remote_id=sent.remote_id)
    )
    assert edited.status is SendStatus.SENT
    (message,) = fake.messages(THREAD)
    assert message.webhook_id == HOOK_ID and len(message.edits) == 1
    assert message.embeds[0]["fields"][-1]["value"].startswith("👥 Also seen in 1 source")


@pytest.mark.parametrize(
    ("status", "code", "expected", "said"),
    [
        (403, 50013, SendStatus.BROKEN, "Missing Permissions (code 50013)"),
        (404, 10003, SendStatus.BROKEN, "Unknown Channel (code 10003)"),
        (500, 0, SendStatus.RETRY, "HTTP 500"),
        (503, 0, SendStatus.RETRY, "HTTP 503"),
    ],
)
async def test_errors_become_send_results(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    status: int,
    code: int,
    expected: SendStatus,
    said: str,
) -> None:
    fake.fail_next(CHANNEL, status=status, code=code)
    result = await adapter.send(outgoing(alert_of()))
    assert result.status is expected and said in result.detail
    assert fake.messages(CHANNEL) == []


async def test_wrong_token_and_unknown_webhook_break_without_showing_the_secret(
    tmp_path: Path, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    wrong, hook = "wrong-token-never-shown", "x" * 24
    async with discord_app(tmp_path, fake, wrong, hook) as (_, adapter):
        bad = await adapter.send(outgoing(alert_of()))
        unknown = await adapter.send(outgoing(alert_of(), to="hooked"))
    assert bad.status is SendStatus.BROKEN and "401" in bad.detail
    assert unknown.status is SendStatus.BROKEN and "Unknown Webhook" in unknown.detail
    assert "the bot token is refused" in caplog.text
    shown = caplog.text + bad.detail + unknown.detail
    assert wrong not in shown and hook not in shown


async def test_refused_embed_goes_again_as_plain_content(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.fail_next(CHANNEL, status=400, code=50035, message="Invalid Form Body")
    result = await adapter.send(outgoing(alert_of()))
    assert result.status is SendStatus.SENT
    (message,) = fake.messages(CHANNEL)
    assert message.embeds == [] and message.content.startswith("rule-0 · ria\n\nВагнер в")
    assert "https://t.me/rian_ru/271457" in message.content


async def test_429_gives_retry_after_from_the_body_and_holds_that_route_only(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.rate_limit(CHANNEL, 30)
    first = await adapter.send(outgoing(alert_of()))
    assert first.status is SendStatus.RETRY and first.retry_after is not None
    assert timedelta(seconds=29) < first.retry_after <= timedelta(seconds=30)
    calls = len(fake.requests)
    again = await adapter.send(outgoing(alert_of()))  # the bucket still waits: no call made
    assert again.status is SendStatus.RETRY and len(fake.requests) == calls
    other = await adapter.send(outgoing(alert_of(), to="hooked"))
    assert other.status is SendStatus.SENT  # another route is not held


async def test_global_429_holds_every_route(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    fake.rate_limit_global(30)
    first = await adapter.send(outgoing(alert_of()))
    assert first.status is SendStatus.RETRY and "global" in first.detail
    calls = len(fake.requests)
    other = await adapter.send(outgoing(alert_of(), to="hooked"))
    assert other.status is SendStatus.RETRY and len(fake.requests) == calls


async def test_sends_pace_themselves_by_the_bucket_headers(fake: FakeDiscord) -> None:
    fake.bucket_limit, fake.bucket_window = 2, 0.4
    api = DiscordApi(fake.api_url, TOKEN)
    started = time.monotonic()
    try:
        for i in range(6):
            result = await api.create(Target(channel_id=CHANNEL), {"content": f"n{i}"})
            assert result.status is SendStatus.SENT, result.detail
    finally:
        await api.close()
    elapsed = time.monotonic() - started
    assert fake.too_early == [] and len(fake.messages(CHANNEL)) == 6
    assert all(r.status == 200 for r in fake.requests)  # never a 429: paced before it
    assert elapsed >= 0.8 - 0.05  # 6 sends, 2 per 0.4 s: at least two full waits


async def test_digest_text_splits_and_replies_to_the_alert(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    sent = await adapter.send(outgoing(alert_of()))
    text = "\n".join(f"• ria: *заголовок* {i} " + "д" * 80 for i in range(60))
    result = await adapter.send_text("desk", text, reply_to=sent.remote_id)
    assert result.status is SendStatus.SENT
    alert, *parts = fake.messages(CHANNEL)
    assert len(parts) >= 3 and all(len(p.content) <= 2000 for p in parts)
    assert "\\*заголовок\\*" in parts[0].content
    reference = {"message_id": alert.id, "fail_if_not_exists": False}
    assert all(p.message_reference == reference for p in parts)
    assert (await adapter.send_text("nowhere", "x")).status is SendStatus.BROKEN
