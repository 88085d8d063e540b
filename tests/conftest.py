"""Shared pytest fixtures; other test modules may append theirs below."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.feed_server import FeedServer


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A started ``FeedServer`` on 127.0.0.1 (see tests/fakes/feed_server.py)."""
    async with FeedServer() as server:
        yield server
