"""The world every platform's end-to-end test sets up (tests/test_*_e2e.py): a config
with the shipped rules, the ria feed from the local feed server and the platform's own
section and destinations; the real App built from it; a baseline poll then a poll
that brings new posts; and waiting for a fake's messages to arrive."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from tests.clock import Clock
from tests.fakes.feed_server import FeedServer
from tests.feeds import real_posts, rss

ROOT = Path(__file__).resolve().parents[1]
POOL = ThreadPoolExecutor(2)
T = TypeVar("T")


def write_config(tmp_path: Path, feeds: FeedServer, platform: str, tail: str = "") -> Path:
    """``tmp_path/config.toml``: the store in ``tmp_path``, no jitter, the shipped rules,
    ``platform`` (the platform's ``[section]`` and its ``[[destinations]]``), then the
    ria source served by ``feeds``; ``tail`` goes after the source (``backfill = 50``,
    more tables)."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
timeout = "5s"
[rules]
paths = ["{ROOT}/rules/*.toml"]
{platform.strip()}
[[sources]]
name = "ria"
url = "{feeds.url("/ria.rss")}"
tags = ["ru"]
{tail}
""",
        encoding="utf-8",
    )
    return path


def app_for(path: Path, environ: Mapping[str, str], clock: Clock | None = None) -> App:
    """The real App for the config at ``path`` (its rules must load without problems),
    with ``environ`` as its environment and ``clock`` if given."""
    settings = load_config(path)
    rules, problems = load_rules(settings)
    assert problems == []
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    env = dict(environ)
    return App(settings, rules, stream=io.StringIO(), pool=POOL, environ=env, **kwargs)


async def first_poll_then(app: App, feeds: FeedServer, *extra: dict) -> None:
    """A baseline poll of the older posts, then a poll that brings ``extra`` posts."""
    older = [p for p in real_posts() if p["message_id"] not in {e["message_id"] for e in extra}]
    feeds.set("/ria.rss", body=rss(older))
    await app.poller.poll_all()
    feeds.set("/ria.rss", body=rss([*older, *extra]))
    await app.poller.poll_all()


async def at_least(
    messages: Callable[[], list[T]], count: int, seconds: float, where: str
) -> list[T]:
    """``messages()`` once it holds ``count`` or more (fails after ``seconds``)."""
    for _ in range(int(seconds / 0.02)):
        if len(messages()) >= count:
            return messages()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{where}: {len(messages())} messages, wanted {count}")
