"""Discord slash commands over the HTTP interactions endpoint
(bot/platforms/discord/interactions.py) against the fake Discord, which signs every
interaction with its own Ed25519 key as Discord does: forged and stale requests are
refused, PING is answered, commands are registered, answered at once or deferred."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.commands import COMMANDS, Invocation, Reply
from bot.platforms.discord.api import DiscordApi
from bot.platforms.discord.interactions import PATH, Interactions, invocation, verify
from tests.fakes.discord import FakeDiscord

TOKEN = "MTIz.discord-interactions-token"
APP = "1400000000000000001"


class Commands:
    """Stands in for bot.commands.dispatch: records invocations, answers as told."""

    def __init__(self) -> None:
        self.seen: list[Invocation] = []
        self.reply = Reply("ok")
        self.delay = 0.0

    async def __call__(self, inv: Invocation) -> Reply:
        self.seen.append(inv)
        await asyncio.sleep(self.delay)
        return self.reply


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[FakeDiscord, Interactions, Commands, str]]:
    async with FakeDiscord(bot_token=TOKEN, application_id=APP) as fake:
        api = DiscordApi(fake.api_url, TOKEN)
        commands = Commands()
        server = Interactions(
            api, APP, fake.public_key, "127.0.0.1:0", commands, COMMANDS, answer_within=0.5
        )
        await server.start()
        try:
            yield fake, server, commands, f"http://127.0.0.1:{server.port}{PATH}"
        finally:
            await server.stop()
            await api.close()


def test_verify_checks_key_body_and_encoding() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw().hex()
    signature = key.sign(b"1700000000" + b'{"type":1}').hex()
    assert verify(public, signature, "1700000000", b'{"type":1}')
    assert not verify(public, signature, "1700000000", b'{"type":2}')  # tampered body
    assert not verify(public, signature, "1700000001", b'{"type":1}')  # other timestamp
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    assert not verify(other, signature, "1700000000", b'{"type":1}')
    assert not verify(public, "zz", "1700000000", b"{}") and not verify("", signature, "1", b"")


async def test_commands_are_registered_and_ping_is_answered(
    endpoint: tuple[FakeDiscord, Interactions, Commands, str],
) -> None:
    fake, _, _, url = endpoint
    assert [c["name"] for c in fake.commands] == [c.name for c in COMMANDS]
    assert all(c["options"][0]["name"] == "args" for c in fake.commands)
    (put,) = fake.calls("PUT")
    assert put.headers["Authorization"] == f"Bot {TOKEN}"
    assert await fake.ping(url) == (200, {"type": 1})


async def test_forged_and_stale_requests_are_refused(
    endpoint: tuple[FakeDiscord, Interactions, Commands, str],
) -> None:
    fake, _, commands, url = endpoint
    body = json.dumps({"type": 2, "token": "t", "data": {"name": "addsource"}}).encode()
    forged = await fake.post_signed(url, body, key=Ed25519PrivateKey.generate())
    assert forged == (401, "invalid request signature")
    stale = await fake.post_signed(url, body, timestamp="1600000000")
    assert stale == (401, "stale request timestamp")
    unsigned = await fake.post_signed(url, body, timestamp="not-a-number")
    assert unsigned[0] == 401 and commands.seen == []


async def test_a_command_is_answered_at_once_ephemeral_when_the_reply_says_so(
    endpoint: tuple[FakeDiscord, Interactions, Commands, str],
) -> None:
    fake, _, commands, url = endpoint
    commands.reply = Reply("usage: /mute <source|rule> *now*", ephemeral=True)
    status, answer = await fake.interact(url, "mute", "ria for 2h", username="anna")
    assert status == 200 and answer["type"] == 4
    assert answer["data"]["flags"] == 64 and answer["data"]["allowed_mentions"] == {"parse": []}
    assert answer["data"]["content"] == "usage: /mute \\<source\\|rule> \\*now\\*"
    (inv,) = commands.seen
    assert (inv.platform, inv.command, inv.args, inv.user_name) == (
        "discord",
        "mute",
        "ria for 2h",
        "@anna",
    )
    assert (inv.chat_id, inv.user_id, inv.chat_type) == (
        "1200000000000000001",
        "1600000000000000001",
        "channel",
    )


async def test_a_slow_command_is_deferred_then_filled_in_and_long_replies_continue(
    endpoint: tuple[FakeDiscord, Interactions, Commands, str],
) -> None:
    fake, _, commands, url = endpoint
    commands.delay = 1.0  # longer than answer_within
    commands.reply = Reply("\n".join(f"rule {i}: " + "щ" * 90 for i in range(60)))
    status, answer = await fake.interact(url, "rules", channel_id="1200000000000000009")
    assert (status, answer) == (200, {"type": 5})
    messages = await fake.wait_messages("1200000000000000009", 3, seconds=10)
    first, *rest = messages
    assert first.content.startswith("rule 0:") and len(first.edits) == 1  # @original
    assert rest and all(len(m.content) <= 2000 for m in messages)
    assert "rule 59:" in messages[-1].content


def test_a_dm_is_a_private_chat() -> None:
    inv = invocation(
        {
            "type": 2,
            "channel_id": "1700000000000000001",
            "user": {"id": "1600000000000000001", "username": "boss"},
            "data": {"name": "status", "options": []},
        }
    )
    assert (inv.chat_type, inv.args, inv.user_name) == ("im", "", "@boss")
