"""watchers/http.py against a real HTTP server on 127.0.0.1 (tests/fakes/feed_server.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer, unused_port
from watchers.http import DEFAULT_USER_AGENT, FetchError, HttpClient, redact_url

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
MiB = 1024 * 1024


async def test_get_returns_body_headers_and_sends_our_user_agent(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=RSS, cache_control="max-age=60")
    async with HttpClient() as http:
        response = await http.get(feed_server.url("/feed"))
    assert response.status == 200
    assert response.body == RSS
    assert response.url == feed_server.url("/feed")
    assert response.permanent_url is None and not response.truncated
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["etag"].startswith('"')
    sent = feed_server.requests_to("/feed")[0]
    assert sent.method == "GET"
    assert sent.headers["user-agent"] == DEFAULT_USER_AGENT
    assert "gzip" in sent.headers["accept-encoding"]


async def test_conditional_get_round_trip(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=RSS)
    async with HttpClient() as http:
        first = await http.get(feed_server.url("/feed"))
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        second = await http.get(feed_server.url("/feed"), etag=etag, last_modified=modified)
        feed_server.set("/feed", body=RSS + b"\n")
        third = await http.get(feed_server.url("/feed"), etag=etag, last_modified=modified)
    assert (second.status, second.body) == (304, b"")
    assert third.status == 200 and third.headers["etag"] != etag
    sent = feed_server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == etag
    assert sent["if-modified-since"] == modified
    assert "if-none-match" not in feed_server.requests_to("/feed")[0].headers


async def test_if_modified_since_alone_gives_304(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=RSS, etag=None)
    async with HttpClient() as http:
        first = await http.get(feed_server.url("/feed"))
        assert "etag" not in first.headers
        second = await http.get(
            feed_server.url("/feed"), last_modified=first.headers["last-modified"]
        )
    assert second.status == 304


@pytest.mark.parametrize(
    ("chain", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308], True),
        ([302], False),
        ([307], False),
        ([301, 302], False),
        ([302, 301], False),
    ],
)
async def test_redirects_permanent_only_when_every_hop_is(
    feed_server: FeedServer, chain: list[int], permanent: bool
) -> None:
    feed_server.set("/final", body=RSS)
    target = "/final"
    for hop, status in reversed(list(enumerate(chain))):
        feed_server.set(f"/hop{hop}", redirect=target, redirect_status=status)
        target = f"/hop{hop}"
    async with HttpClient() as http:
        response = await http.get(feed_server.url("/hop0"))
    assert response.status == 200 and response.body == RSS
    assert response.url == feed_server.url("/final")
    assert response.permanent_url == (feed_server.url("/final") if permanent else None)


async def test_conditional_headers_follow_redirects(feed_server: FeedServer) -> None:
    feed_server.set("/old", redirect="/new", redirect_status=301)
    feed_server.set("/new", body=RSS)
    async with HttpClient() as http:
        etag = (await http.get(feed_server.url("/new"))).headers["etag"]
        response = await http.get(feed_server.url("/old"), etag=etag)
    assert response.status == 304
    assert response.permanent_url == feed_server.url("/new")


async def test_too_many_redirects(feed_server: FeedServer) -> None:
    feed_server.set("/loop", redirect="/loop", redirect_status=302)
    async with HttpClient(max_redirects=3) as http:
        with pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
            await http.get(feed_server.url("/loop"))
    assert len(feed_server.requests_to("/loop")) == 4


async def test_redirect_to_a_file_url_is_refused(feed_server: FeedServer) -> None:
    feed_server.set("/evil", redirect="file:///etc/passwd", redirect_status=301)
    async with HttpClient() as http:
        with pytest.raises(FetchError, match="non-http URL"):
            await http.get(feed_server.url("/evil"))


async def test_gzip_is_decoded(feed_server: FeedServer) -> None:
    feed_server.set("/gz", body=RSS * 50, gzip=True)
    async with HttpClient() as http:
        response = await http.get(feed_server.url("/gz"))
    assert response.headers["content-encoding"] == "gzip"
    assert response.body == RSS * 50


async def test_broken_gzip_is_an_error(feed_server: FeedServer) -> None:
    feed_server.set("/gz", body=os.urandom(4000), headers={"Content-Encoding": "gzip"})
    async with HttpClient() as http:
        with pytest.raises(FetchError, match="could not decompress"):
            await http.get(feed_server.url("/gz"))


async def test_body_over_the_default_cap_is_refused(feed_server: FeedServer) -> None:
    feed_server.set("/huge", oversized=11 * MiB)  # chunked: no Content-Length to go by
    async with HttpClient() as http:
        with pytest.raises(FetchError, match=r"^response larger than 10 MB cap: http://127"):
            await http.get(feed_server.url("/huge"))


async def test_declared_length_over_the_cap_is_refused_before_reading(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/big", body=b"x" * 5000)
    async with HttpClient(max_bytes=4096) as http:
        with pytest.raises(FetchError, match="larger than 4 KB cap"):
            await http.get(feed_server.url("/big"))


async def test_gzip_bomb_is_capped_on_decoded_size(feed_server: FeedServer) -> None:
    feed_server.set("/bomb", body=b"\0" * (2 * MiB), gzip=True)  # ~2 KB on the wire
    async with HttpClient(max_bytes=MiB) as http:
        with pytest.raises(FetchError, match="larger than 1 MB cap"):
            await http.get(feed_server.url("/bomb"))


async def test_slow_server_times_out(feed_server: FeedServer) -> None:
    feed_server.set("/slow", body=RSS, delay=5)
    async with HttpClient(read_timeout=0.2) as http:
        with pytest.raises(FetchError, match=r"timed out after 0\.2 s reading http://127"):
            await http.get(feed_server.url("/slow"))


async def test_connection_refused() -> None:
    port = unused_port()
    async with HttpClient() as http:
        with pytest.raises(FetchError, match=f"connection refused: 127.0.0.1:{port}"):
            await http.get(f"http://127.0.0.1:{port}/feed")


async def test_messages_never_show_credentials() -> None:
    port = unused_port()
    async with HttpClient() as http:
        with pytest.raises(FetchError) as caught:
            await http.get(f"http://reader:hunter2@127.0.0.1:{port}/feed")
    assert "hunter2" not in str(caught.value) and "reader" not in str(caught.value)
    assert redact_url("https://u:p@example.com/x?y=1") == "https://example.com/x?y=1"


async def test_truncated_body_is_flagged(feed_server: FeedServer) -> None:
    feed_server.set("/cut", body=RSS * 10, truncate_at=100)
    async with HttpClient() as http:
        response = await http.get(feed_server.url("/cut"))
    assert response.truncated
    assert response.body == (RSS * 10)[:100]


async def test_error_statuses_are_responses_not_exceptions(feed_server: FeedServer) -> None:
    feed_server.set("/gone", body=b"gone", status=410)
    async with HttpClient() as http:
        gone = await http.get(feed_server.url("/gone"))
        missing = await http.get(feed_server.url("/missing"))
    assert (gone.status, gone.body) == (410, b"gone")
    assert missing.status == 404


async def test_per_host_limit(feed_server: FeedServer) -> None:
    feed_server.set("/slowish", body=RSS, delay=0.1)
    async with HttpClient(per_host=2) as http:
        await asyncio.gather(*(http.get(feed_server.url("/slowish")) for _ in range(6)))
    assert feed_server.max_in_flight == 2
    assert len(feed_server.requests_to("/slowish")) == 6


async def test_unsupported_scheme() -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError, match="unsupported URL"):
            await http.get("ftp://example.com/feed")


async def test_file_url_with_conditional_get(tmp_path: Path) -> None:
    feed = tmp_path / "sample feed.xml"
    feed.write_bytes(RSS)
    url = feed.as_uri()  # file:///.../sample%20feed.xml
    async with HttpClient() as http:
        first = await http.get(url)
        again = await http.get(url, etag=first.headers["etag"])
        by_date = await http.get(url, last_modified=first.headers["last-modified"])
        feed.write_bytes(RSS + b"<!-- more -->")
        changed = await http.get(url, etag=first.headers["etag"])
    assert (first.status, first.body, first.url) == (200, RSS, url)
    assert (again.status, again.body) == (304, b"")
    assert by_date.status == 304
    assert changed.status == 200 and changed.headers["etag"] != first.headers["etag"]


async def test_file_url_errors(tmp_path: Path) -> None:
    async with HttpClient(max_bytes=10) as http:
        with pytest.raises(FetchError, match="file not found"):
            await http.get((tmp_path / "missing.xml").as_uri())
        with pytest.raises(FetchError, match="directory"):
            await http.get(tmp_path.as_uri())
        (tmp_path / "big.xml").write_bytes(b"x" * 11)
        with pytest.raises(FetchError, match="larger than 10 bytes cap"):
            await http.get((tmp_path / "big.xml").as_uri())
        with pytest.raises(FetchError, match="with a host"):
            await http.get("file://server/share/feed.xml")
