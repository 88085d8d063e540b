"""parse_feed over the whole shared corpus: ~2,360 real and test feeds, none may break it.

Every file under ``feedparser/tests`` (with the ``Header:`` lines of its leading
comment sent as response headers) and every file under ``feeds_*`` (including the
upstream projects' expected-output JSON, which must come back as "not a feed") goes
through ``parse_feed`` in a pool of two processes, the way the bot runs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path

import pytest

from bot.workers import ParsePool
from watchers.rss import ParsedFeed, parse_feed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CORPUS / "feedparser" / "tests").is_dir(),
        reason=f"the shared corpus is not at {CORPUS} (clone shared/ beside the repo)",
    ),
]

# Files that are no feed at all or too broken to yield one: each must say so.
KNOWN_BROKEN = {
    "feeds_fastfeedparser/malformed_rss_namespaced.xml": "syntax error at line 4",
    "feeds_feed_rs/rss_2.0_invalid_1.xml": "ends before it is complete",
    "feeds_miniflux/encoding/utf8.html": 'got an HTML page ("Café")',
    "feeds_miniflux/encoding/iso-8859-1.html": 'got an HTML page ("Frédéric")',
    "feeds_miniflux/xml/iso88591.xml": "no RSS, Atom or JSON Feed elements",
    "feeds_rss_parser/input/unrecognized.rss": 'got an HTML page ("Document Moved")',
    "feeds_fastfeedparser/json_feed_sample.expected.json": "not a JSON Feed",
    "feedparser/tests/illformed/rss_empty_document.xml": "ends before it is complete",
    "feedparser/tests/illformed/aaa_illformed.xml": "syntax error at line 7: unclosed token",
    "feedparser/tests/illformed/undeclared_namespace.xml": "unbound prefix",
    "feedparser/tests/entities/query_variable_feed.xml": "syntax error",
}

# Double-decoded UTF-8 ("Ã©", "â€™", "Ð¾"): a wrong charset guess.
MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Ð[\u00b0-\u00bf]|Ñ[\u0080-\u008f]")

_HEADER = re.compile(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)


def corpus_files() -> list[Path]:
    roots = [CORPUS / "feedparser" / "tests", *sorted(CORPUS.glob("feeds_*"))]
    return [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()]


def declared_headers(body: bytes) -> dict[str, str]:
    """feedparser's tests name the HTTP headers a server would send, in a comment."""
    head = body[:2048].decode("latin-1")
    if not head.lstrip().startswith("<!--"):
        return {}
    comment = head.split("-->", 1)[0]
    return {
        name.lower(): value
        for name, value in _HEADER.findall(comment)
        if name.lower() not in ("status", "location")
    }


def parse_all(files: list[Path]) -> Iterator[tuple[str, ParsedFeed]]:
    bodies = [p.read_bytes() for p in files]
    names = [str(p.relative_to(CORPUS)) for p in files]
    with ParsePool(2) as pool:
        results = pool.map(
            parse_feed,
            bodies,
            map(declared_headers, bodies),
            names,
            repeat(("corpus",)),
            repeat("http://example.com/feed"),
            chunksize=32,
        )
        yield from zip(names, results, strict=True)


@pytest.fixture(scope="module")
def results() -> dict[str, ParsedFeed]:
    return dict(parse_all(corpus_files()))


def test_the_whole_corpus_was_read(results: dict[str, ParsedFeed]) -> None:
    assert sum(name.startswith("feedparser/tests/") for name in results) >= 2200
    assert sum(name.startswith("feeds_") for name in results) >= 100


def test_every_file_gives_items_an_error_or_an_empty_feed(results: dict[str, ParsedFeed]) -> None:
    bad = [
        name
        for name, parsed in results.items()
        if not (parsed.items or parsed.error or parsed.title or parsed.format)
    ]
    assert bad == []


def test_no_unexpected_exception_inside_parse_feed(results: dict[str, ParsedFeed]) -> None:
    crashed = {n: p.error for n, p in results.items() if (p.error or "").startswith("could not")}
    assert crashed == {}


def test_errors_and_items_exclude_each_other(results: dict[str, ParsedFeed]) -> None:
    assert [name for name, parsed in results.items() if parsed.error and parsed.items] == []


def test_items_are_well_formed(results: dict[str, ParsedFeed]) -> None:
    for name, parsed in results.items():
        for item in parsed.items:
            assert item.source == name and item.tags == ("corpus",)
            assert item.key.startswith(("guid:", "link:", "hash:")), name
            assert item.story_key.startswith(("link:", "hash:")), name
            assert item.published is None or item.published.utcoffset() is not None, name
            assert item.link is None or item.link.startswith(("http://", "https://")), name
            assert item.text == item.text.strip() and "\n\n\n" not in item.text, name


def test_items_oldest_first_when_dated(results: dict[str, ParsedFeed]) -> None:
    for name, parsed in results.items():
        dates = [item.published for item in parsed.items]
        if dates and None not in dates:
            assert dates == sorted(dates), name  # type: ignore[type-var]


@pytest.mark.parametrize(("name", "message"), sorted(KNOWN_BROKEN.items()))
def test_known_broken_files_say_why(
    results: dict[str, ParsedFeed], name: str, message: str
) -> None:
    parsed = results[name]
    assert parsed.items == ()
    assert parsed.error is not None and parsed.error.startswith("not a feed: ")
    assert message in parsed.error


def test_expected_output_json_is_not_taken_for_a_feed(results: dict[str, ParsedFeed]) -> None:
    for name, parsed in results.items():
        if (
            name.startswith("feeds_")
            and name.endswith(".json")
            and "json_feed_sample.json" not in name
        ):
            assert parsed.error == "not a feed: got JSON that is not a JSON Feed", name


def test_real_feeds_decode_without_mojibake(results: dict[str, ParsedFeed]) -> None:
    for name, parsed in results.items():
        if name.startswith("feeds_"):
            for text in [parsed.title or ""] + [i.title + " " + i.text for i in parsed.items]:
                assert not MOJIBAKE.search(text), (name, MOJIBAKE.search(text))


@pytest.mark.parametrize(
    ("name", "title", "first_item"),
    [
        ("feeds_miniflux/parser/encoding_WINDOWS-1251.xml", "iBash.Org.Ru", "Цитата #17703"),
        ("feeds_miniflux/xml/koi8r.xml", "Пример RSS ленты", "Первая новость"),
        ("feeds_miniflux/encoding/koi8r.xml", "Пример RSS ленты", "Первая новость"),
        ("feeds_miniflux/encoding/utf8-incorrect-prolog.xml", "테스트 피드", "Café"),
        ("feeds_miniflux/encoding/invalid-prolog.xml", "테스트 피드", "Café"),
        ("feeds_miniflux/encoding/windows-1252-incorrect-prolog.xml", "Euro €", None),
        ("feeds_miniflux/encoding/windows-1252.xml", "Euro €", None),
        ("feeds_miniflux/encoding/iso-8859-1.xml", "Café", None),
        ("feeds_miniflux/parser/urdu_UTF8.xml", None,
         "’پاکستان نے اپنے رویے کو تبدیل نہ کیا تو امریکی مراعات کھو سکتا ہے‘"),
        ("feeds_fastfeedparser/utf16_encoded.xml", "UTF-16 Encoded Feed", "UTF-16 Entry 1"),
        ("feeds_feed_rs/rss_2.0_encoding_1.xml", "RSS Feed do Site Inovação Tecnológica", None),
        ("feeds_rss_parser/input/encoding.rss", "Jornal de Notícias - Últimas Notícias", None),
    ],
)  # fmt: skip
def test_encodings(
    results: dict[str, ParsedFeed], name: str, title: str | None, first_item: str | None
) -> None:
    """The feed title and one item title come out as the publisher wrote them."""
    parsed = results[name]
    assert parsed.error is None
    if title is not None:
        assert parsed.title == title
    if first_item is not None:
        assert any(item.title == first_item for item in parsed.items)
