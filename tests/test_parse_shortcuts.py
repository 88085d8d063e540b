"""The parse workers' shortcuts change no output: the one-regex reading of well-formed
markup gives exactly html.parser's text, the faster whitespace tidying exactly the
line-by-line one, and a feed with blank lines before its XML declaration is read by the
XML parser (not feedparser's loose fallback) into the same items."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchers import text
from watchers.rss import _declaration_first, parse_feed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"


def _by_html_parser(html: str) -> str:
    parser = text._TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _fragments() -> list[str]:
    """Titles, summaries and contents of every feed in the corpus (or the fixtures)."""
    files = [p for p in sorted(CORPUS.glob("feeds_*/**/*")) if p.is_file()]
    files += sorted(FIXTURES.glob("*.rss")) + sorted(FIXTURES.glob("*.xml"))
    out = []
    for path in files:
        parsed = feedparser.parse(path.read_bytes(), sanitize_html=False)
        for entry in parsed.get("entries", []):
            out += [entry[k] for k in ("title", "summary") if isinstance(entry.get(k), str)]
            out += [
                c["value"] for c in entry.get("content") or () if isinstance(c.get("value"), str)
            ]
    return out


def test_well_formed_markup_reads_as_html_parser_reads_it() -> None:
    fragments = _fragments()
    quick = [f for f in fragments if text._simple_markup_text(f) is not None]
    assert len(quick) > 0.9 * len(fragments)  # most feed markup takes the short way
    for fragment in quick:
        assert text._simple_markup_text(fragment) == _by_html_parser(fragment), fragment


TOKENS = [
    *"<>/&;#!-=\"' \n\r\tabcpr", "\x00", "\u2028", "Ж", "\xa0",
    "<p>", "</p>", "<br>", "<br/>", "<br />", "<script>", "</script>", "<style>", "<li>",
    "<pre>", "</pre>", "<td>", "<noscript>", "</noscript>", "<P CLASS='x'>",
    '<a href="?a=1&amp;b">', "<a href=x/>", "</a foo>", "&amp;", "&nbsp;", "&#1055;", "&#",
    "&#x", "<!--", "-->", "<!-- c -->", "<![CDATA[", "]]>", "<!DOCTYPE html>", "<?", "<b", "</",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_markup_soup_is_read_as_html_parser_reads_it_or_left_to_it(html: str) -> None:
    found = text._simple_markup_text(html)
    if found is not None:
        assert found == _by_html_parser(html)


_RUNS = re.compile(r"[^\S\n]+")


def _line_by_line(value: str) -> str:  # collapse_whitespace as it was
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\u2028", "\n").replace("\u2029", "\n\n")
    value = text._CONTROL.sub("", value)
    lines = [_RUNS.sub(" ", line).strip() for line in value.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


SPACES = [" ", "\n", "\r", "\t", "\xa0", "\u2028", "\u2029", "\x0b", "\x1c", "\x85", "\u3000"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([*SPACES, "a", "Ж", "\x00", "\u200b", "bc d"]), max_size=30))
def test_whitespace_is_tidied_as_line_by_line(parts: list[str]) -> None:
    value = "".join(parts)
    assert text.collapse_whitespace(value) == _line_by_line(value)


@pytest.mark.parametrize("blank", [b"\n", b"\r\n\r\n", b"  \t\n"])
def test_blank_lines_before_the_xml_declaration(blank: bytes) -> None:
    body = (FIXTURES / "guardian.rss").read_bytes()
    assert body.startswith(b"<?xml")
    late = blank + body
    assert feedparser.parse(late).bozo  # the XML parser refuses it: the slow loose parser
    assert not feedparser.parse(_declaration_first(late)).bozo
    assert parse_feed(late, {}, "g", (), "https://x.org/") == parse_feed(
        body, {}, "g", (), "https://x.org/"
    )
    assert _declaration_first(b"\n<rss/>") == b"\n<rss/>"  # only before a declaration
