"""watchers/text.py: HTML from feeds becomes the plain text the matcher and renderers see."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchers.text import collapse_whitespace, html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello&nbsp;<b>world</b></p><p>second</p>", "Hello world\n\nsecond"),
        ("one<br>two<br/>three", "one\ntwo\nthree"),
        ("one<br><br><br><br>two", "one\n\ntwo"),  # at most one blank line
        ("<ul><li>first</li><li>second</li></ul>after", "first\nsecond\n\nafter"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("<script>alert('x')</script>kept<style>p { color: red }</style>", "kept"),
        ("&lt;b&gt; is escaped &amp;amp; &#1055;&#x440;&#1080;", "<b> is escaped &amp; При"),
        ("a   lot\tof \n\n spaces", "a lot of spaces"),  # source newlines are spaces
        ("<pre>line 1\nline 2</pre>", "line 1\nline 2"),
        ("<table><tr><td>1</td><td>2</td></tr></table>", "1 2"),
        ('<a href="https://x">link</a>, tail', "link, tail"),
        ("a < b and c > d", "a < b and c > d"),
        ("  \n  ", ""),
        ("", ""),
        ("unclosed <b>bold", "unclosed bold"),
        ("ВОЗ: есть <br />у кого", "ВОЗ: есть\nу кого"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_collapse_whitespace_keeps_lines() -> None:
    assert collapse_whitespace(" a \r\n\r\n\r\n b\x00c  d ") == "a\n\nbc d"


TOKENS = [
    *"<>/&;#!-=\"' \n\tabcpr", "\x00", "\u2028", "Ж",
    "<p>", "</p>", "<br>", "<br/>", "<script>", "</script>", "<style>", "<li>", "<pre>",
    "&amp;", "&#", "&#x", "<!--", "-->", "<![CDATA[", "]]>", "<![if", "<!DOCTYPE", "<?",
]  # fmt: skip
HTMLISH = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


def _check_shape(out: str) -> None:
    assert isinstance(out, str)
    assert out == out.strip()
    assert "\n\n\n" not in out
    assert "  " not in out
    assert all(line == line.strip() for line in out.split("\n"))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_to_text_never_raises_on_any_text(html: str) -> None:
    _check_shape(html_to_text(html))


@settings(max_examples=300, deadline=None)
@given(HTMLISH)
def test_html_to_text_never_raises_on_markup_soup(html: str) -> None:
    _check_shape(html_to_text(html))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<&", blacklist_categories=["Cc"])))
def test_plain_text_keeps_its_words(text: str) -> None:
    assert html_to_text(text).split() == text.split()
