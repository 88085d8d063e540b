"""watchers/identity.py: the same entry or story always gets the same key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchers.identity import canonical_link, content_hash, item_key, story_key


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/News/Story", "https://example.com/News/Story"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        (
            "https://example.com/a?utm_source=tw&id=7&UTM_Medium=x&fbclid=1&gclid=2",
            "https://example.com/a?id=7",
        ),
        (
            "https://example.com/a?yclid=1&mc_cid=2&mc_eid=3&ref=4&ref_src=5&igshid=6&_ga=7",
            "https://example.com/a",
        ),
        ("https://example.com/a?b=2&a=1&c", "https://example.com/a?a=1&b=2&c"),
        (
            "https://example.com/a?q=%D0%B6&reference=1",
            "https://example.com/a?q=%D0%B6&reference=1",
        ),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
    ],
)
def test_canonical_link(url: str, canonical: str) -> None:
    assert canonical_link(url) == canonical


@pytest.mark.parametrize(
    "url", [None, "", "   ", "ftp://example.com/a", "mailto:a@b.c", "javascript:x()", "/relative",
            "http://", "http://[::1"]
)  # fmt: skip
def test_canonical_link_none_for_non_http(url: str | None) -> None:
    assert canonical_link(url) is None


def test_canonical_link_merges_tracking_variants() -> None:
    a = canonical_link("https://www.bbc.com/news/world-123?at_medium=RSS&utm_campaign=x#top")
    b = canonical_link("HTTPS://WWW.BBC.COM:443/news/world-123?at_medium=RSS")
    assert a == b


def test_content_hash_ignores_case_and_spacing() -> None:
    h = content_hash("Взрыв в  Дейр-эз-Зоре", "Подробности\nпозже")
    assert h == content_hash("взрыв в дейр-эз-зоре", "  Подробности позже ")
    assert len(h) == 32 and int(h, 16) >= 0
    assert h != content_hash("Взрыв в Дейр-эз-Зоре", "Подробности потом")


def test_item_key_falls_back_from_guid_to_link_to_hash() -> None:
    assert item_key(" 42 ", "https://x.org/a", "t", "x") == "guid:42"
    assert item_key(None, "https://X.org/a?utm_source=rss", "t", "x") == "link:https://x.org/a"
    assert item_key("", "mailto:x@y", "t", "x") == "hash:" + content_hash("t", "x")


def test_story_key_ignores_guid_and_prefers_link() -> None:
    assert story_key("https://x.org/a#x", "t", "x") == "link:https://x.org/a"
    assert story_key(None, "Title", "text") == "hash:" + content_hash("title", "TEXT")


@given(st.text(), st.text())
def test_keys_are_total(title: str, text: str) -> None:
    assert item_key(None, title, title, text).startswith(("link:", "hash:"))
    assert canonical_link(canonical_link(title) or "") in (None, canonical_link(title))
