"""Shared pytest fixtures; other test modules may append theirs below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chatbot import ChatBot
from tests.fakes.feed_server import FeedServer


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A started ``FeedServer`` on 127.0.0.1 (see tests/fakes/feed_server.py)."""
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def testbot(tmp_path: Path) -> AsyncIterator[ChatBot]:
    """A whole bot on a temp store and config: ``await testbot.command("/rules",
    chat=testbot.DESK, user=testbot.MEMBER)`` (see tests/chatbot.py)."""
    bot = await ChatBot(tmp_path).start()
    try:
        yield bot
    finally:
        await bot.stop()
