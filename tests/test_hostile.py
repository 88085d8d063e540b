"""Hostile inputs: each gets a clear source error or a bounded result, and the bot
keeps running.  (Fault and abuse suite; the chat abuse cases are in test_commands.)"""

from __future__ import annotations

import asyncio
import io
import resource
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import App
from bot.cli import load_rules
from bot.config import load_config
from bot.model import FetchState, FetchStatus, Source
from tests.fakes.feed_server import FeedServer
from tests.feeds import post, real_posts, rss
from watchers.http import HttpClient
from watchers.rss import MAX_ITEMS, fetch, parse_feed
from watchers.telegram_channel import parse_channel_page

ROOT = Path(__file__).resolve().parents[1]
POOL = ThreadPoolExecutor(2)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>bomb</title>
<item><title>&lol9;</title><link>https://example.org/1</link></item>
</channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>xxe</title>
<item><title>leak &xxe; here</title><link>https://example.org/1</link>
<description>&xxe;</description></item></channel></rss>"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_billion_laughs_is_not_expanded() -> None:
    start, before = time.monotonic(), peak_mb()
    parsed = parse_feed(BILLION_LAUGHS, {}, "bomb", (), "https://example.org/")
    assert time.monotonic() - start < 5
    assert peak_mb() - before < 100  # nowhere near the gigabytes an expansion needs
    assert parsed.error or all(len(i.title) < 10_000 for i in parsed.items)


def test_external_entities_are_not_read() -> None:
    parsed = parse_feed(XXE, {}, "xxe", (), "https://example.org/")
    text = " ".join(f"{i.title} {i.text}" for i in parsed.items)
    assert "root:" not in text and "/bin/" not in text


def test_invalid_utf8_gives_items_or_a_clear_error() -> None:
    body = rss([post(271457)]).replace("Дейр".encode(), b"\xff\xfe\xfa\xd0")
    parsed = parse_feed(
        body,
        {"content-type": "application/rss+xml; charset=utf-8"},
        "bad",
        (),
        "https://example.org/",
    )
    assert parsed.items or parsed.error
    if parsed.items:
        assert "эз-Зор" in parsed.items[0].text


def test_a_feed_of_50000_items_is_bounded() -> None:
    one = real_posts()[0]
    start = datetime(2024, 12, 1, tzinfo=UTC)
    posts = [
        dict(
            one,
            message_id=n,
            link=f"https://t.me/x/{n}",
            date=(start + timedelta(minutes=n)).isoformat(),
        )
        for n in range(50_000)
    ]  # newest first in the feed, as feeds are
    body = rss(posts)
    start = time.monotonic()
    parsed = parse_feed(body, {}, "huge", (), "https://example.org/")
    assert time.monotonic() - start < 30
    assert 0 < len(parsed.items) <= MAX_ITEMS
    newest = max(int(i.link.rsplit("/", 1)[1]) for i in parsed.items)  # type: ignore[union-attr]
    assert newest == 49_999  # the newest items are the ones kept


def test_a_tme_page_with_10000_nested_tags_is_parsed_or_refused() -> None:
    nested = "<div>" * 10_000 + "Дейр-эз-Зор" + "</div>" * 10_000
    page = (
        "<html><head><title>Telegram: View @x</title></head><body>"
        '<section class="tgme_channel_history">'
        '<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" '
        'data-post="x/1"><div class="tgme_widget_message_text">'
        f"{nested}</div></div></div></section></body></html>"
    ).encode()
    start = time.monotonic()
    parsed = parse_channel_page(page, "x", "https://t.me")
    assert time.monotonic() - start < 5
    assert parsed.error or [p.id for p in parsed.posts] == [1]


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as s:
        yield s


async def test_a_1gb_response_is_cut_at_the_cap_with_memory_bounded(server: FeedServer) -> None:
    server.set("/huge.rss", oversized=1_000_000_000)
    source = Source("huge", "rss", server.url("/huge.rss"), timedelta(minutes=5))
    before = peak_mb()
    async with HttpClient(max_bytes=2 * 1024 * 1024) as http:
        result = await fetch(source, FetchState(), http, None)
    assert result.status is FetchStatus.ERROR and "cap" in (result.error or "")
    assert peak_mb() - before < 100


async def test_a_server_trickling_a_byte_a_second_cannot_hold_a_poll(tmp_path: Path) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        for byte in rss([post(271457)]):
            await response.write(bytes([byte]))
            await asyncio.sleep(0.5)
        return response

    app = web.Application()
    app.router.add_get("/slow.rss", trickle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        (tmp_path / "config.toml").write_text(
            f'[polling]\ntimeout = "1s"\n[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
            '[[destinations]]\nname = "console"\nkind = "console"\n'
            f'[[sources]]\nname = "slow"\nurl = "http://127.0.0.1:{port}/slow.rss"\n',
            encoding="utf-8",
        )
        settings = load_config(tmp_path / "config.toml")
        rules, _ = load_rules(settings)
        start = time.monotonic()
        async with App(settings, rules, stream=io.StringIO(), pool=POOL, environ={}) as bot:
            summary = await bot.run_once()
        assert time.monotonic() - start < 8
        (poll,) = summary.polls
        assert poll.status is FetchStatus.ERROR and "no complete answer" in (poll.error or "")
    finally:
        await runner.cleanup()


async def test_a_post_of_100000_characters_alerts_within_limits(
    tmp_path: Path, server: FeedServer
) -> None:
    big = dict(post(271457))
    big["text"] = big["text"] + (" Бои продолжаются." * 6000)
    assert len(big["text"]) > 100_000
    server.set("/big.rss", body=rss([big]))
    (tmp_path / "config.toml").write_text(
        f'[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n'
        f'[[sources]]\nname = "big"\nurl = "{server.url("/big.rss")}"\nbackfill = 5\n',
        encoding="utf-8",
    )
    settings = load_config(tmp_path / "config.toml")
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as bot:
        await bot.run_once()
    text = out.getvalue()
    assert "**Дейр-эз-Зор**" in text
    assert len(text) < 5_000  # a snippet, not the whole post
