"""watchers/rss.py: real feeds parse into the items a reader would see, and fetch() maps
HTTP behaviour (conditional GET, redirects, errors) onto FetchResults over real HTTP."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import FetchState, FetchStatus, Source
from bot.workers import ParsePool
from tests.fakes.feed_server import FeedServer, unused_port
from watchers.http import HttpClient
from watchers.rss import ParsedFeed, fetch, parse_feed, parse_max_age, parse_retry_after

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(body: bytes, headers: dict[str, str] | None = None, **kw: Any) -> ParsedFeed:
    return parse_feed(body, headers or {}, kw.get("name", "src"), kw.get("tags", ("t",)),
                      kw.get("base", "https://example.com/feed"))  # fmt: skip


def rss(*items: str, extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test feed</title>{extra}{''.join(items)}</channel></rss>"
    ).encode()


# --------------------------------------------------------------------------- real feeds


def test_windows_1251_russian_feed() -> None:
    parsed = parse(fixture("encoding_WINDOWS-1251.xml"), name="ibash", tags=("ru",))
    assert parsed.error is None
    assert parsed.title == "iBash.Org.Ru"
    assert len(parsed.items) == 50
    newest = parsed.items[-1]  # the document's first item
    assert newest.title == "Цитата #17703"
    assert newest.text.startswith("xxx: есть у кого жаба программер\nxxx: кот немного пхп знает?")
    assert newest.link == "http://ibash.org.ru/quote.php?id=17703"
    assert newest.key == "guid:http://ibash.org.ru/quote.php?id=17703"
    assert newest.published == datetime(2018, 3, 21, 7, 27, 32, tzinfo=UTC)  # +0300
    assert (newest.source, newest.tags) == ("ibash", ("ru",))
    dates = [item.published for item in parsed.items]
    assert dates == sorted(dates)  # type: ignore[type-var]


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/xml"},  # feedparser's RFC 3023 default would be us-ascii
        {"content-type": "application/rss+xml; charset=utf-8"},  # a wrong charset
        {"content-type": "text/html"},
    ],
)
def test_windows_1251_survives_wrong_http_headers(headers: dict[str, str]) -> None:
    parsed = parse(fixture("encoding_WINDOWS-1251.xml"), headers)
    assert parsed.items[-1].title == "Цитата #17703"


def test_koi8r_feed() -> None:
    parsed = parse(fixture("koi8r.xml"))
    assert parsed.title == "Пример RSS ленты"
    assert [item.title for item in parsed.items] == ["Первая новость", "Вторая новость"]
    assert "Привет мир! Ёжик, чай, Москва, Санкт-Петербург." in parsed.items[0].text


def test_feed_declared_utf16_but_sent_as_ascii() -> None:
    parsed = parse(fixture("utf16_encoded.xml"))
    assert parsed.error is None
    assert parsed.title == "UTF-16 Encoded Feed"
    assert [item.title for item in parsed.items] == ["UTF-16 Entry 1"]


def test_real_utf16_with_bom() -> None:
    text = rss("<item><title>Сирия</title><guid>1</guid></item>").decode()
    body = text.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    assert parse(body).items[0].title == "Сирия"


def test_utf8_body_with_a_wrong_declaration() -> None:
    parsed = parse(fixture("windows-1252-incorrect-prolog.xml"))
    assert parsed.title == "Euro €"  # not "Euro â‚¬"
    body = rss("<item><title>Дейр-эз-Зор</title></item>")
    for headers in ({"content-type": "text/xml; charset=windows-1251"}, {"x-other": "1"}):
        assert parse(body, headers).items[0].title == "Дейр-эз-Зор"


GUARDIAN_TITLES = {
    "Trump State of the Union address promised unity but emphasized discord",
    "Russia-backed Syrian peace talks agree deal on new constitution",
    "Trump-Russia investigation: the key questions answered",
}


def test_guardian_world_news() -> None:
    parsed = parse(
        fixture("guardian.rss"), name="Guardian", base="https://www.theguardian.com/world/rss"
    )
    assert parsed.error is None and parsed.title == "The Guardian"
    assert len(parsed.items) == 55
    titles = {item.title for item in parsed.items}
    assert GUARDIAN_TITLES <= titles
    assert len({item.key for item in parsed.items}) == 55
    assert all(item.key.startswith("guid:https://www.theguardian.com/") for item in parsed.items)
    assert parsed.items[0].title == "Trump-Russia investigation: the key questions answered"
    assert parsed.items[0].published == datetime(2017, 12, 8, 12, 0, 2, tzinfo=UTC)
    assert parsed.items[0].author == "Tom McCarthy and Sam Morris"
    assert all("<" not in item.text for item in parsed.items)
    dates = [item.published for item in parsed.items]
    assert dates == sorted(dates)  # type: ignore[type-var]


def test_rss10_without_guids_keys_by_link() -> None:
    parsed = parse(fixture("rdf_UTF8.xml"))
    assert parsed.title == "heise online News" and len(parsed.items) == 60
    assert all(item.key.startswith("link:https://www.") for item in parsed.items)
    assert len({item.key for item in parsed.items}) == 60
    assert all(item.published is None for item in parsed.items)
    # no dates: the document's order reversed, its first item last
    assert parsed.items[-1].title == "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen"
    assert parsed.items[-2].title == "Mega-Deal: IBM übernimmt Red Hat"


def test_atom_feed() -> None:
    parsed = parse(fixture("small_atom.xml"))
    assert parsed.format == "atom10" and len(parsed.items) == 20
    newest = parsed.items[-1]
    assert newest.key.startswith("guid:tag:github.com,2008:Grit::Commit/")
    assert newest.link is not None and newest.link.startswith(
        "https://github.com/miniflux/v2/commit/"
    )
    assert newest.published is not None and newest.published.tzinfo is UTC


def test_json_feed_matches_fastfeedparser_expectation() -> None:
    parsed = parse(fixture("json_feed_sample.json"), base="https://example.org/feed.json")
    expected = json.loads(fixture("json_feed_sample.expected.json"))
    assert parsed.error is None
    assert parsed.title == expected["feed"]["title"]
    assert parsed.format == "jsonfeed1.1"
    # expected lists the document order (newest first); ours is oldest first
    for item, entry in zip(parsed.items, reversed(expected["entries"]), strict=True):
        assert item.key == "guid:" + entry["id"]
        assert item.link == entry["link"]
        assert item.title == entry["title"]
        assert item.text == entry["content"][0]["value"].removeprefix("<p>").removesuffix("</p>")
        assert item.published == datetime.fromisoformat(entry["published"])
    # JSON Feed 1.1: an item without authors has the feed's (fastfeedparser leaves it out)
    assert [item.author for item in parsed.items] == ["John Doe", "Jane Smith"]


def test_json_feed_version_1_with_relative_links() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1",
            "title": "Лента",
            "author": {"name": "Редакция"},
            "items": [
                {"id": 2, "url": "/b", "content_html": "<p>Второй</p>",
                 "date_published": "2024-05-02T10:00:00+03:00"},
                {"id": "1", "url": "/a", "summary": "Первый",
                 "date_published": "2024-05-01T10:00:00Z"},
            ],
        }
    ).encode()  # fmt: skip
    parsed = parse(b"\xef\xbb\xbf  " + body, base="https://news.example/feed.json")
    assert parsed.format == "jsonfeed1" and parsed.title == "Лента"
    assert [(i.key, i.text, i.link) for i in parsed.items] == [
        ("guid:1", "Первый", "https://news.example/a"),
        ("guid:2", "Второй", "https://news.example/b"),
    ]
    assert parsed.items[1].published == datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    assert parsed.items[0].author == "Редакция"


# --------------------------------------------------------------------------- not feeds


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body/></html>",
            {"content-type": "text/html; charset=utf-8"},
            'not a feed: got an HTML page ("Just a moment...")',
        ),
        (
            b"<?xml version='1.0'?>\n<rss version='2.0'>\n<channel><title>x</item>",
            {},
            "not a feed: syntax error at line 3: mismatched tag",
        ),
        (b"", {}, "not a feed: the response was empty"),
        (b"  \n ", {}, "not a feed: the response was empty"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", {}, "not a feed: no RSS, Atom"),
        (b'{"hello": "world"}', {}, "not a feed: got JSON that is not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", ', {}, "not a feed: invalid JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {"content-type": "image/png"}, "not a feed"),
    ],
)
def test_not_a_feed(body: bytes, headers: dict[str, str], message: str) -> None:
    parsed = parse(body, headers)
    assert parsed.items == ()
    assert parsed.error is not None and parsed.error.startswith(message), parsed.error


def test_feed_cut_off_before_its_items_is_an_error() -> None:
    parsed = parse(fixture("rss_2.0_invalid_1.xml"))  # Reuters, server died mid-render
    assert parsed.items == ()
    assert parsed.error is not None
    assert parsed.error.startswith("not a feed: the document ends before it is complete")


def test_bozo_feed_with_entries_keeps_them() -> None:
    body = rss("<item><title>Caf&eacute; &amp; news&nbsp;today</title><guid>a</guid></item>")
    parsed = parse(body)
    assert parsed.error is None
    assert [item.title for item in parsed.items] == ["Café & news today"]


def test_empty_feed_with_a_title_is_not_an_error() -> None:
    parsed = parse(rss())
    assert (parsed.items, parsed.error, parsed.title) == ((), None, "Test feed")


# --------------------------------------------------------------------------- item fields


def test_item_fields_order_and_ttl() -> None:
    body = rss(
        "<item><title>Newest &lt;b&gt;bold&lt;/b&gt;</title><link>/news/2?utm_source=rss</link>"
        "<description>&lt;p&gt;Para one&lt;/p&gt;&lt;p&gt;Para two&lt;/p&gt;</description>"
        "<author>desk@example.com (Desk)</author></item>",
        "<item><title>Older</title><link>javascript:alert(1)</link><description>plain</description></item>",
        extra="<ttl>45</ttl>",
    )  # fmt: skip
    parsed = parse(body, base="https://example.com/rss/feed.xml")
    assert parsed.ttl_minutes == 45
    older, newest = parsed.items  # no dates: reverse document order
    assert newest.title == "Newest bold"
    assert newest.text == "Para one\n\nPara two"
    assert newest.link == "https://example.com/news/2?utm_source=rss"
    assert newest.key == newest.story_key == "link:https://example.com/news/2"
    assert newest.published is None
    assert newest.author == "desk@example.com (Desk)"
    assert older.link is None and older.key.startswith("hash:")


def test_content_encoded_wins_over_description() -> None:
    body = rss(
        '<item xmlns:content="http://purl.org/rss/1.0/modules/content/"><title>t</title>'
        "<description>short</description>"
        "<content:encoded><![CDATA[<p>Full <b>text</b></p>]]></content:encoded></item>"
    )
    assert parse(body).items[0].text == "Full text"


def test_sorted_by_date_when_every_item_has_one() -> None:
    body = rss(
        "<item><title>B</title><pubDate>Tue, 02 Jan 2024 00:00:00 GMT</pubDate></item>",
        "<item><title>C</title><pubDate>Wed, 03 Jan 2024 00:00:00 GMT</pubDate></item>",
        "<item><title>A</title><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>",
    )
    assert [item.title for item in parse(body).items] == ["A", "B", "C"]


def test_parsed_feed_pickles() -> None:
    parsed = parse(fixture("koi8r.xml"))
    assert pickle.loads(pickle.dumps(parsed)) == parsed


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: ("<rss>" + t).encode()))
def test_parse_feed_never_raises(body: bytes) -> None:
    parsed = parse(body)
    assert parsed.items or parsed.error or parsed.title or parsed.format


# --------------------------------------------------------------------------- headers


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after("Mon, 01 Jan 2024 12:05:00 GMT", now) == timedelta(minutes=5)
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == timedelta(0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_parse_max_age() -> None:
    assert parse_max_age("public, max-age=300, must-revalidate") == timedelta(seconds=300)
    assert parse_max_age("no-cache") is None and parse_max_age(None) is None


# --------------------------------------------------------------------------- fetch over HTTP


class CountingPool(ThreadPoolExecutor):
    """A real executor that counts the parses submitted to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.calls = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def pool() -> Any:
    with CountingPool() as executor:
        yield executor


def source(url: str, name: str = "Test source") -> Source:
    return Source(name=name, kind="rss", url=url, interval=timedelta(minutes=5), tags=("news",))


ITEM_1 = "<item><title>First</title><guid>1</guid></item>"
ITEM_2 = "<item><title>Second</title><guid>2</guid></item>"


async def test_fetch_then_not_modified_then_new_items(
    feed_server: FeedServer, pool: CountingPool
) -> None:
    feed_server.set("/feed", body=rss(ITEM_1), cache_control="max-age=300")
    src = source(feed_server.url("/feed"))
    async with HttpClient() as http:
        first = await fetch(src, FetchState(), http, pool)
        second = await fetch(src, first.state, http, pool)
        feed_server.set("/feed", body=rss(ITEM_2, ITEM_1))
        third = await fetch(src, second.state, http, pool)

    assert first.status is FetchStatus.OK and first.http_status == 200
    assert [i.title for i in first.items] == ["First"]
    assert first.items[0].source == "Test source" and first.items[0].tags == ("news",)
    assert first.state.etag and first.state.last_modified and first.state.body_hash
    assert first.state.url is None
    assert first.max_age == timedelta(seconds=300)

    assert second.status is FetchStatus.NOT_MODIFIED and second.items == ()
    assert second.state == first.state
    sent = feed_server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == first.state.etag
    assert sent["if-modified-since"] == first.state.last_modified

    assert third.status is FetchStatus.OK
    assert [i.title for i in third.items] == ["First", "Second"]
    assert third.state.etag != first.state.etag
    assert pool.calls == 2


async def test_identical_body_is_unchanged_and_not_parsed(
    feed_server: FeedServer, pool: CountingPool
) -> None:
    feed_server.set("/feed", body=rss(ITEM_1), conditional=False)  # ignores If-None-Match
    src = source(feed_server.url("/feed"))
    async with HttpClient() as http:
        first = await fetch(src, FetchState(), http, pool)
        second = await fetch(src, first.state, http, pool)
    assert first.status is FetchStatus.OK
    assert second.status is FetchStatus.UNCHANGED and second.items == ()
    assert second.state.body_hash == first.state.body_hash
    assert feed_server.requests_to("/feed")[1].headers["if-none-match"] == first.state.etag
    assert pool.calls == 1


async def test_permanent_redirect_moves_the_source(feed_server: FeedServer) -> None:
    feed_server.set("/old", redirect="/new", redirect_status=301)
    feed_server.set("/new", body=rss(ITEM_1))
    src = source(feed_server.url("/old"))
    async with HttpClient() as http:
        first = await fetch(src, FetchState(), http)
        second = await fetch(src, first.state, http)
    assert first.status is FetchStatus.OK
    assert first.state.url == feed_server.url("/new")
    assert second.status is FetchStatus.NOT_MODIFIED
    assert len(feed_server.requests_to("/old")) == 1  # the second poll went straight to /new


async def test_temporary_redirect_keeps_the_url(feed_server: FeedServer) -> None:
    feed_server.set("/old", redirect="/new", redirect_status=302)
    feed_server.set("/new", body=rss(ITEM_1))
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/old")), FetchState(), http)
    assert result.status is FetchStatus.OK and result.state.url is None


async def test_gone(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=b"gone", status=410)
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/feed"), "Meduza"), FetchState(), http)
    assert result.status is FetchStatus.GONE and result.http_status == 410
    url = feed_server.url("/feed")
    assert result.error == f"410 Gone: the feed was removed at {url} (source: Meduza)"


@pytest.mark.parametrize(("status", "reason"), [(429, "too many requests"), (503, "unavailable")])
async def test_rate_limited_with_retry_after(
    feed_server: FeedServer, status: int, reason: str
) -> None:
    feed_server.set("/feed", body=b"slow down", status=status, retry_after=120)
    old = FetchState(etag='"x"', body_hash="abc")
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/feed")), old, http)
    assert result.status is FetchStatus.ERROR and result.http_status == status
    assert result.retry_after == timedelta(seconds=120)
    assert (
        result.error is not None and reason in result.error and "retry after 120 s" in result.error
    )
    assert result.state == old


@pytest.mark.parametrize("status", [404, 500, 403])
async def test_http_errors(feed_server: FeedServer, status: int) -> None:
    feed_server.set("/feed", body=b"no", status=status)
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/feed"), "RIA"), FetchState(), http)
    assert result.status is FetchStatus.ERROR and result.retry_after is None
    assert result.error == f"HTTP {status} from {feed_server.url('/feed')} (source: RIA)"


async def test_fail_next_then_recover(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=rss(ITEM_1))
    feed_server.fail_next("/feed", 503, retry_after=30)
    src = source(feed_server.url("/feed"))
    async with HttpClient() as http:
        failed = await fetch(src, FetchState(), http)
        recovered = await fetch(src, failed.state, http)
    assert failed.status is FetchStatus.ERROR and failed.retry_after == timedelta(seconds=30)
    assert recovered.status is FetchStatus.OK


async def test_oversized_feed(feed_server: FeedServer) -> None:
    feed_server.set("/feed", oversized=11 * 1024 * 1024)
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/feed"), "Big"), FetchState(), http)
    assert result.status is FetchStatus.ERROR
    assert result.error is not None
    assert result.error.startswith("response larger than 10 MB cap: http://127.0.0.1")
    assert result.error.endswith("(source: Big)")


async def test_slow_feed_times_out(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=rss(ITEM_1), delay=3)
    async with HttpClient(read_timeout=0.2) as http:
        result = await fetch(source(feed_server.url("/feed"), "Slow"), FetchState(), http)
    assert result.status is FetchStatus.ERROR
    url = feed_server.url("/feed")
    assert result.error == f"timed out after 0.2 s reading {url} (source: Slow)"


async def test_html_page_is_an_error_every_time(feed_server: FeedServer) -> None:
    page = b"<!doctype html><html><head><title>Sign in</title></head><body>x</body></html>"
    feed_server.set("/feed", body=page, content_type="text/html")
    src = source(feed_server.url("/feed"), "Intranet")
    async with HttpClient() as http:
        first = await fetch(src, FetchState(), http)
        second = await fetch(src, first.state, http)
    for result in (first, second):  # no validators kept: not hidden behind a 304
        assert result.status is FetchStatus.ERROR
        assert result.error is not None
        assert result.error.startswith('not a feed: got an HTML page ("Sign in")')
        assert result.error.endswith(f", at {feed_server.url('/feed')} (source: Intranet)")
    assert first.state == FetchState()


async def test_truncated_body_keeps_items_but_not_validators(feed_server: FeedServer) -> None:
    body = rss(ITEM_2, ITEM_1)
    feed_server.set("/feed", body=body, truncate_at=body.index(b"</item>") + 7)
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/feed")), FetchState(), http)
    assert result.status is FetchStatus.OK
    assert [i.title for i in result.items] == ["Second"]
    assert result.state == FetchState()  # the next poll fetches the whole feed again


async def test_connection_refused_names_the_source() -> None:
    port = unused_port()
    async with HttpClient() as http:
        result = await fetch(source(f"http://127.0.0.1:{port}/rss", "TASS"), FetchState(), http)
    assert result.status is FetchStatus.ERROR
    assert result.error is not None and result.error.startswith("connection refused")
    assert result.error.endswith("(source: TASS)")


async def test_fetch_file_source_in_a_process_pool(tmp_path: Path) -> None:
    feed = tmp_path / "ibash.xml"
    feed.write_bytes(fixture("encoding_WINDOWS-1251.xml"))
    src = source(feed.as_uri(), "ibash")
    with ParsePool(1) as processes:  # the bot's own pool: spawned workers
        async with HttpClient() as http:
            first = await fetch(src, FetchState(), http, processes)
            second = await fetch(src, first.state, http, processes)
    assert first.status is FetchStatus.OK and len(first.items) == 50
    assert first.items[-1].title == "Цитата #17703"
    assert first.items[-1].link == "http://ibash.org.ru/quote.php?id=17703"
    assert second.status is FetchStatus.NOT_MODIFIED


async def test_missing_file_source() -> None:
    async with HttpClient() as http:
        result = await fetch(source("file:///nonexistent/feed.xml", "Sample"), FetchState(), http)
    assert result.status is FetchStatus.ERROR
    assert result.error == "file not found: /nonexistent/feed.xml (source: Sample)"


async def test_ttl_from_feed(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=rss(ITEM_1, extra="<ttl>60</ttl>"))
    async with HttpClient() as http:
        result = await fetch(source(feed_server.url("/feed")), FetchState(), http)
    assert result.ttl == timedelta(minutes=60) and result.max_age is None
