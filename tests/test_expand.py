"""watchers/expand.py: what users type in /addsource -> the source it means (table-driven)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchers.expand import Expanded, expand_source

CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")  # bot/config.py's rule

RIAN = Expanded("telegram", "https://t.me/s/rian_ru", "tg-rian_ru", ("telegram",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # one Telegram channel, however it is written
        ("@rian_ru", RIAN),
        ("@Rian_RU", RIAN),
        ("t.me/rian_ru", RIAN),
        ("https://t.me/rian_ru", RIAN),
        ("http://t.me/rian_ru/", RIAN),
        ("https://t.me/s/rian_ru", RIAN),
        ("t.me/s/rian_ru", RIAN),
        ("https://t.me/s/rian_ru?before=271000", RIAN),
        ("https://t.me/rian_ru/271457", RIAN),  # a post link: its channel
        ("  https://telegram.me/rian_ru  ", RIAN),
        ("https://www.t.me/rian_ru", RIAN),
        # Mastodon
        ("@Gargron@mastodon.social",
         Expanded("rss", "https://mastodon.social/@Gargron.rss", "mastodon-gargron-mastodon.social",
                  ("mastodon",))),
        ("https://infosec.exchange/@briankrebs",
         Expanded("rss", "https://infosec.exchange/@briankrebs.rss",
                  "mastodon-briankrebs-infosec.exchange", ("mastodon",))),
        # Bluesky
        ("https://bsky.app/profile/bellingcat.com",
         Expanded("rss", "https://bsky.app/profile/bellingcat.com/rss", "bsky-bellingcat.com",
                  ("bluesky",))),
        ("bsky:Bellingcat.bsky.social",
         Expanded("rss", "https://bsky.app/profile/bellingcat.bsky.social/rss",
                  "bsky-bellingcat.bsky.social", ("bluesky",))),
        # reddit
        ("r/syriancivilwar",
         Expanded("rss", "https://www.reddit.com/r/syriancivilwar/.rss", "reddit-syriancivilwar",
                  ("reddit",))),
        ("/r/UkraineWarVideoReport",
         Expanded("rss", "https://www.reddit.com/r/ukrainewarvideoreport/.rss",
                  "reddit-ukrainewarvideoreport", ("reddit",))),
        ("https://old.reddit.com/r/syriancivilwar/comments/abc/x/",
         Expanded("rss", "https://www.reddit.com/r/syriancivilwar/.rss", "reddit-syriancivilwar",
                  ("reddit",))),
        # YouTube
        ("https://www.youtube.com/channel/UCvJJ_dzjViJCoLf5uKUTwoA",
         Expanded("rss",
                  "https://www.youtube.com/feeds/videos.xml?channel_id=UCvJJ_dzjViJCoLf5uKUTwoA",
                  "youtube-ucvjj_dzjvijcolf5ukutwoa", ("youtube",))),
        # news search
        ('news:"Deir ez-Zor" Wagner',
         Expanded("rss", "https://news.google.com/rss/search?q=%22Deir+ez-Zor%22+Wagner"
                  "&hl=en-US&gl=US&ceid=US:en", "news-deir-ez-zor-wagner", ("news",))),
        # VK
        ("vk.com/rbc", Expanded("vk", "https://vk.com/rbc", "vk-rbc", ("vk",))),
        ("https://m.vk.com/Club1", Expanded("vk", "https://vk.com/club1", "vk-club1", ("vk",))),
        # plain feeds
        ("https://www.theguardian.com/world/rss",
         Expanded("rss", "https://www.theguardian.com/world/rss", "theguardian.com-world-rss")),
        ("feeds.bbci.co.uk/news/world/rss.xml",
         Expanded("rss", "https://feeds.bbci.co.uk/news/world/rss.xml",
                  "feeds.bbci.co.uk-news-world-rss.xml")),
        ("http://example.com",
         Expanded("rss", "http://example.com", "example.com")),
    ],
)  # fmt: skip
def test_expand(text: str, expected: Expanded) -> None:
    assert expand_source(text) == expected
    assert CONFIG_NAME.match(expected.name)


def test_the_t_me_base_is_a_parameter() -> None:
    got = expand_source("@rian_ru", tme_base="http://127.0.0.1:8081/")
    assert got.url == "http://127.0.0.1:8081/s/rian_ru"


def test_news_language_and_country() -> None:
    got = expand_source("news:Дейр-эз-Зор", news_language="ru", news_country="RU")
    assert got.url == (
        "https://news.google.com/rss/search?q=%D0%94%D0%B5%D0%B9%D1%80-%D1%8D%D0%B7-%D0%97%D0%BE%D1%80"
        "&hl=ru&gl=RU&ceid=RU:ru"
    )
    assert re.fullmatch(r"news-[0-9a-f]{10}", got.name)  # the query has no Latin letters
    other = expand_source("news:Ракка", news_language="ru", news_country="RU")
    assert other.name != got.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "say what to watch"),
        ("@abc", "not a public Telegram channel name"),  # too short
        ("@" + "a" * 33, "not a public Telegram channel name"),
        ("@1channel", "not a public Telegram channel name"),
        ("t.me/bad-name", "not a public Telegram channel name"),
        ("https://t.me/+AbCdEf123", "private channel or group"),
        ("https://t.me/joinchat/AbCdEf", "private channel or group"),
        ("https://t.me/c/1234567/89", "private channel or group"),
        ("https://t.me/", "which channel"),
        ("https://t.me/s/", "which channel"),
        ("https://www.youtube.com/@bellingcat", "channel's id address"),
        ("https://www.reddit.com/user/someone", "give a subreddit"),
        ("r/a", "not a subreddit name"),
        ("https://bsky.app/", "give a Bluesky profile"),
        ("bsky:not a handle", "not a Bluesky handle"),
        ("@user@not_a_host", "not a Mastodon account"),
        ("news:   ", "needs a query"),
        ("vk.com/", "which VK page"),
        ("vk.com/wall-1_2", "not a post"),
        ("ftp://example.com/feed", "only http(s) URLs"),
        ("Deir ez-Zor", "news:Deir ez-Zor"),
        ("http://exa mple.com", "not a URL"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_refusals_say_what_would_work(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        expand_source(text)
    assert message in str(caught.value)


@given(st.text(max_size=80))
def test_anything_typed_expands_or_explains(text: str) -> None:
    try:
        got = expand_source(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert got.kind in ("rss", "telegram", "vk")
    assert got.url.startswith(("http://", "https://"))
    assert CONFIG_NAME.match(got.name), got
