"""watchers/telegram_channel.py: real t.me/s pages parse into the posts a reader sees,
and fetch() pages back through a channel on a real local server (tests/fakes/tme_server.py):
catch-up after an outage, edits, deletions, no-preview channels, 429/5xx."""

from __future__ import annotations

import pickle
import random
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from bot.model import FetchResult, FetchState, FetchStatus, Source
from tests.fakes.feed_server import FeedServer
from tests.fakes.tme_server import TmeServer
from watchers.http import HttpClient
from watchers.telegram_channel import (
    ChannelPage,
    ChannelPost,
    LinkPreview,
    channel_url,
    fetch,
    message_text,
    parse_channel_page,
    parse_channel_url,
    post_to_item,
)

FIXTURES = Path(__file__).parent / "fixtures" / "tme"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tme_statosphere_parser"
NO_PREVIEW = (
    "t.me/{} has no public web preview (the channel does not exist, is private, "
    "or disabled its preview)"
)


def page(name: str) -> ChannelPage:
    return parse_channel_page((FIXTURES / f"{name}.html").read_bytes(), name, "https://t.me")


def post(name: str, number: int) -> ChannelPost:
    return next(p for p in page(name).posts if p.id == number)


# --------------------------------------------------------------------------- real pages


def test_a_real_page_posts_ids_and_service_posts() -> None:
    parsed = page("antichristone")
    assert parsed.exists and parsed.error is None
    assert parsed.title == "Antichrist Blog | 反キリスト∸ブログ"
    assert parsed.before == 483
    # every message on the page, oldest first; 521 has no data-post (its id comes from
    # the permalink), 483/485/493/504 are service posts ("Live stream started", pins)
    assert parsed.ids == (
        483,
        485,
        486,
        489,
        490,
        492,
        493,
        495,
        497,
        499,
        500,
        502,
        503,
        504,
        506,
        509,
        515,
        516,
        517,
        521,
    )
    assert [p.id for p in parsed.posts] == [
        486,
        489,
        490,
        492,
        495,
        497,
        499,
        500,
        502,
        503,
        506,
        509,
        515,
        516,
        517,
        521,
    ]


def test_a_document_post_edited_with_links_kept() -> None:
    p = post("antichristone", 503)
    assert p.channel == "antichristone"
    assert p.permalink == "https://t.me/antichristone/503"
    assert p.published == datetime(2023, 3, 31, 15, 29, 7, tzinfo=UTC)
    assert p.media_kinds == ("document",)
    assert p.edited is True
    assert p.views == "51.0K"
    assert p.text == (
        "В понедельник выйдет патч с сервисами для UA, BY, UZ и доп.сервисами для RU.\n\n"
        "Не нужно убивать сервисы, используйте с умом, пожалуйста!\n\n"
        "Antichrist Blog (https://t.me/antichristone) & Andromeda (https://t.me/andromedaone), "
        "Stream (https://t.me/antichristone_stream), Music (https://t.me/antichristone_music), "
        "Chat (https://t.me/antichristone_chat), Archive (https://t.me/antichristone_archive)"
    )


def test_a_post_without_data_post_emoji_and_a_video() -> None:
    p = post("antichristone", 521)
    assert p.media_kinds == ("video",)  # its "not supported in your browser" fallback is no media
    assert p.published == datetime(2023, 5, 4, 17, 32, 31, tzinfo=UTC)
    assert p.text == (
        "Комп для чайника (https://t.me/+Npsfoq5kwvU2NDMy) - без лишних слов самый крупный "
        "канал по винде 🔥\n\nСекретные настройки, полезный софт, хоткеи, онлайн-сервисы, гайды, "
        "обзоры железа, новости по ОС Windows и другое\n\n"
        "Подписывайся - @windows (https://t.me/+Npsfoq5kwvU2NDMy)"
    )


def test_polls_and_round_videos() -> None:
    poll = post("antichristone", 500)
    assert (poll.media_kinds, poll.text) == (("poll",), "")
    assert poll.poll == (
        "Какой вариант выбираете?",
        "1: завтра, но 150+ сервисов",
        "2: сегодня, но 50 сервисов",
    )
    assert post("antichristone", 506).media_kinds == ("video",)  # a round video message


def test_a_hidden_forward_and_a_renamed_channel() -> None:
    # t.me/s/codecamp shows the posts of @campcode: permalinks follow data-post
    p = post("codecamp", 2370)
    assert p.channel == "campcode"
    assert p.permalink == "https://t.me/campcode/2370"
    assert p.forwarded_from == "Киллер-фича"  # the origin hides its link: the name shown
    assert p.media_kinds == ("video",)
    assert p.text.endswith("Пора создавать общество защиты прав роботов.\n\n@killerfeat")


def test_a_link_preview() -> None:
    p = post("codecamp", 2371)
    assert p.media_kinds == ("link_preview",)
    assert p.link_preview == LinkPreview(
        title="Как выигрывать соревнования по программированию",
        url="https://habr.com/ru/articles/729998/?utm_campaign=16005020"
        "&utm_source=telegram_flows&utm_medium=social",
        text="Всем привет, меня зовут Денис. В рабочее время я тимлид одной из команд отдела "
        "цифровизации в Росатоме, а в личное — фуллстек‑разработчик, у которого есть хобби:...",
    )
    assert p.text.startswith(
        "На Хабре вышла интересная статья (https://habr.com/ru/articles/729998/) «Как "
    )


def test_forwards_with_a_link_and_an_id_only_in_data_view() -> None:
    forwarded = post("prg_memes", 8586)
    assert forwarded.forwarded_from == "SecLabNews/13666"
    assert forwarded.media_kinds == ("photo",)
    assert forwarded.text.startswith("😎 Хотите бесплатно попасть на закрытую часть")
    assert forwarded.text.endswith(
        "🎫\n\nОни позволят вживую послушать доклады от признанных экспертов по "
        "кибербезопасности, принять участие в крутых соревнованиях и дискуссиях, а также своими "
        "глазами увидеть, как проходит кибербитва Standoff 11.\n\n👍 Принять участие в "
        "розыгрыше билетов (https://phdays.seclab.ru/?utm_source=tg-securitylab&amp;utm_medium="
        "post&amp;utm_campaign=phd&amp;erid=Pb3XmBtzssySTK5Wio5ngXSECDhv1HHoMQkyf1i)\n\n#PHD12"
    )  # a real double-escaped link, kept as the page has it
    # data-post="prg_memes/" and a permalink without id: the id is in data-view
    last = page("prg_memes").posts[-1]
    assert (last.id, last.permalink) == (8614, "https://t.me/prg_memes/8614")
    assert (
        last.text == "С таким подходом за день выучит\n\nIT Memes (https://t.me/+cuWz5UkUV5MxMzli)"
    )


def test_forwarded_channel_posts_and_line_breaks() -> None:
    parsed = page("vtosters")
    assert [p.forwarded_from for p in parsed.posts if p.forwarded_from] == ["vtmsg/77", "vtmsg/78"]
    first = parsed.posts[0]
    assert first.id == 1434 and first.edited
    assert first.text.startswith(
        "VTLite\n0.4.22\n\nСкачать обновление "
        "(https://github.com/vtosters/lite/releases/latest/download/VTLite.apk)\n\n"
        "Список изменений:\n[+] Добавлена поддержка архитектуры arm64-v8a\n"
    )
    via_bot = next(p for p in parsed.posts if p.id == 1443)
    assert via_bot.author is None  # "via @PostBot" is no signature
    assert via_bot.text.endswith("Рекомендуем подписаться👇")


@pytest.mark.parametrize("name", ["not_existed_channel", "not_valid_channel"])
def test_a_channel_without_preview(name: str) -> None:
    parsed = page(name)
    assert not parsed.exists and parsed.posts == ()
    assert parsed.title == f"Telegram: Contact @{name}"


def test_posts_become_items() -> None:
    item = post_to_item(post("codecamp", 2371), "codecamp", ("tech",))
    assert item.key == "post:campcode/2371"
    assert item.story_key == "link:https://t.me/campcode/2371"
    assert item.link == "https://t.me/campcode/2371"
    assert item.title == (
        "На Хабре вышла интересная статья (https://habr.com/ru/articles/729998/) «Как "
        "выигрывать соревнования по …"
    )
    assert item.text.endswith(
        "\n\nВсем привет, меня зовут Денис. В рабочее время я тимлид "
        "одной из команд отдела цифровизации в Росатоме, а в личное — фуллстек‑разработчик, у "
        "которого есть хобби:..."
    )
    assert "\n\nКак выигрывать соревнования по программированию\n" not in item.text  # in the text
    assert (item.source, item.tags, item.media_kinds) == ("codecamp", ("tech",), ("link_preview",))
    assert item.published == datetime(2023, 5, 4, 11, 51, 1, tzinfo=UTC)
    assert len(item.revision) == 32

    poll = post_to_item(post("antichristone", 500), "a")
    assert poll.title == "Какой вариант выбираете?"
    assert poll.text == (
        "Какой вариант выбираете?\n- 1: завтра, но 150+ сервисов\n- 2: сегодня, но 50 сервисов"
    )
    forwarded = post_to_item(post("prg_memes", 8586), "p")
    assert forwarded.forwarded_from == "SecLabNews/13666"
    assert forwarded.title == (
        "😎 Хотите бесплатно попасть на закрытую часть киберфестиваля "
        "Positive Hack Days 12, который продет 19 и 20 мая …"
    )


def test_an_edit_keeps_the_key_and_changes_the_revision() -> None:
    original = post("antichristone", 503)
    edited = ChannelPost(**{**original.__dict__, "text": original.text + " (upd)"})
    a, b = post_to_item(original, "s"), post_to_item(edited, "s")
    assert a.key == b.key and a.story_key == b.story_key
    assert a.revision != b.revision
    assert a.edited and b.edited


def test_pages_and_posts_pickle() -> None:  # they cross a process pool
    parsed = page("codecamp")
    assert pickle.loads(pickle.dumps(parsed)) == parsed


# --------------------------------------------------------------------------- the whole corpus


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
@pytest.mark.parametrize("path", sorted(CORPUS.glob("msgs/*.html")), ids=lambda p: p.stem)
def test_every_corpus_page(path: Path) -> None:
    body = path.read_bytes()
    parsed = parse_channel_page(body, path.stem, "https://t.me")
    assert parsed.error is None
    raw_ids = [int(n) for n in re.findall(rb'data-post="[A-Za-z0-9_]+/(\d+)"', body)]
    if not raw_ids:
        assert not parsed.exists and b"Telegram: Contact @" in body
        return
    assert parsed.exists and parsed.title is not None
    assert set(raw_ids) <= set(parsed.ids)
    assert parsed.before == min(parsed.ids)
    ids = [p.id for p in parsed.posts]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    services = len(re.findall(rb"service_message", body))
    assert len(parsed.posts) == len(parsed.ids) - services
    times = dict(
        re.findall(rb'href="https://t.me/[A-Za-z0-9_]+/(\d+)"><time datetime="([^"]+)"', body)
    )
    for p in parsed.posts:
        when = times.get(str(p.id).encode())
        if when:
            assert p.published == datetime.fromisoformat(when.decode())
        if p.published is None:  # one real post has <time datetime="">
            assert (path.stem, p.id) == ("habr_com", 56641)
        else:
            assert p.published.tzinfo is UTC
        assert "<" not in p.text.replace("<-", "") and "&nbsp;" not in p.text
        assert p.text or p.media_kinds  # nothing is lost: a post without text has media
        assert p.permalink == f"https://t.me/{p.channel}/{p.id}"


# --------------------------------------------------------------------------- text


def text_of(fragment: str) -> str:
    node = LexborHTMLParser(f'<div class="t">{fragment}</div>').css_first("div.t")
    assert node is not None
    return message_text(node, "https://t.me/s/chan")


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("one<br>two<br/><br/>three", "one\ntwo\n\nthree"),
        ('fire <i class="emoji" style="x"><b>🔥</b></i>!', "fire 🔥!"),
        ('<tg-emoji emoji-id="1"><i class="emoji"><b>😎</b></i></tg-emoji> hi', "😎 hi"),
        ('see <a href="https://example.com/a">the report</a>.', "see the report (https://example.com/a)."),
        ('<a href="https://example.com/a">https://example.com/a</a>', "https://example.com/a"),
        ('<a href="https://www.example.com/very/long/path">example.com/very/lo…</a>',
         "https://www.example.com/very/long/path"),
        ('<a href="?q=%23Syria">#Syria</a> news', "#Syria news"),
        ('by <a href="https://t.me/rian_ru">@rian_ru</a>', "by @rian_ru"),
        ('<a href="https://t.me/+abc">@windows</a>', "@windows (https://t.me/+abc)"),
        ('<a href="https://x.org/"><b>Bold</b></a><a href="https://x.org/"> part</a> end',
         "Bold part (https://x.org/) end"),
        ('<a href="https://x.org/">Get it<br><br></a>Next', "Get it (https://x.org/)\n\nNext"),
        ('<a href="mailto:a@b.c">write</a>', "write"),
        ('<a href="https://telegra.ph/file/x.jpg">\u200b</a><b>Title</b>', "Title"),
        ("<b>a</b>\n<i>b</i>  &amp; c", "a b & c"),
        ('<div class="t">nested</div>', "nested"),
        ("<pre>x = 1\ny = 2</pre>", "x = 1\ny = 2"),
        ("<blockquote>quoted</blockquote>after", "quoted\nafter"),
        ("", ""),
    ],
)  # fmt: skip
def test_message_text(fragment: str, expected: str) -> None:
    assert text_of(fragment) == expected


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_parse_never_raises(body: bytes) -> None:
    parsed = parse_channel_page(body, "chan", "https://t.me")
    assert isinstance(parsed, ChannelPage)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(['<a href="https://a.b/">', "</a>", "<br>", "<b>", "</b>",
       '<i class="emoji"><b>🔥</b></i>', "word", " ", "\n", "&amp;", "<div>", "</div>"]),
       max_size=30))  # fmt: skip
def test_message_text_is_tidy(parts: list[str]) -> None:
    text = text_of("".join(parts))
    assert text == text.strip() and "  " not in text and "\n\n\n" not in text and "<" not in text


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://t.me/s/rian_ru", ("https://t.me", "rian_ru")),
        ("https://t.me/s/rian_ru/", ("https://t.me", "rian_ru")),
        ("http://127.0.0.1:8080/s/chan_1", ("http://127.0.0.1:8080", "chan_1")),
        ("https://t.me/rian_ru", ("https://t.me", "rian_ru")),
    ],
)
def test_parse_channel_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_channel_url(url) == expected
    assert channel_url(expected[1], expected[0]) == f"{expected[0]}/s/{expected[1]}"


@pytest.mark.parametrize(
    "url", ["https://t.me/s/", "ftp://t.me/s/x", "t.me/s/x", "https://t.me/s/a-b"]
)
def test_parse_channel_url_refuses(url: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_channel_url(url)


# --------------------------------------------------------------------------- fetch


@pytest.fixture
async def tme() -> AsyncIterator[TmeServer]:
    async with TmeServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(allow=["127.0.0.1"]) as client:
        yield client


def source(
    tme: TmeServer, name: str = "osint", *, backfill: int = 0, trusted: bool = True
) -> Source:
    return Source(
        "src",
        "telegram",
        tme.channel_url(name),
        timedelta(minutes=5),
        ("tg",),
        backfill=backfill,
        trusted=trusted,
    )


async def poll(src: Source, state: FetchState, http: HttpClient, **kw: object) -> FetchResult:
    return await fetch(src, state, http, None, jitter=0, **kw)  # type: ignore[arg-type]


def numbers(result: FetchResult) -> list[int]:
    return [int(item.key.rpartition("/")[2]) for item in result.items]


async def test_first_poll_reads_one_page(tme: TmeServer, http: HttpClient) -> None:
    chan = tme.channel("osint", "OSINT")
    for n in range(30):
        chan.post(f"post {n}")
    result = await poll(source(tme), FetchState(), http)
    assert result.status is FetchStatus.OK, result.error
    assert numbers(result) == list(range(11, 31))  # the newest page, oldest first
    assert result.state.cursor == "30"
    assert [r.query for r in tme.requests] == [""]
    first = result.items[0]
    assert (first.source, first.key, first.title, first.tags) == (
        "src",
        "post:osint/11",
        "post 10",
        ("tg",),
    )
    assert first.link == "https://t.me/osint/11"
    assert result.covered == (11, 30)


async def test_first_poll_reads_enough_pages_for_the_backfill(
    tme: TmeServer, http: HttpClient
) -> None:
    chan = tme.channel("osint")
    for n in range(50):
        chan.post(f"post {n}")
    result = await poll(source(tme, backfill=30), FetchState(), http)
    assert numbers(result) == list(range(11, 51))
    assert [r.query for r in tme.requests] == ["", "before=31"]


async def test_an_outage_of_45_posts_comes_back_once_oldest_first(
    tme: TmeServer, http: HttpClient
) -> None:
    chan = tme.channel("osint")
    for n in range(30):
        chan.post(f"before the outage {n}")
    src = source(tme)
    first = await poll(src, FetchState(), http)
    for n in range(45):
        chan.post(f"during the outage {n}")
    second = await poll(src, first.state, http)
    assert second.status is FetchStatus.OK
    assert [r.query for r in tme.requests[1:]] == ["", "before=56", "before=36"]
    new = [item for item in second.items if int(item.key.rpartition("/")[2]) > 30]
    assert [item.title for item in new] == [f"during the outage {n}" for n in range(45)]
    ids = numbers(second)
    assert ids == sorted(ids) and len(ids) == len(set(ids))  # each post once, oldest first
    assert second.state.cursor == "75"
    third = await poll(src, second.state, http)  # nothing new: one page
    assert [r.query for r in tme.requests[4:]] == [""]
    assert numbers(third) == list(range(56, 76))


async def test_catch_up_is_bounded_by_max_pages(tme: TmeServer, http: HttpClient) -> None:
    chan = tme.channel("osint")
    chan.post("seen")
    src = source(tme)
    first = await poll(src, FetchState(), http)
    for n in range(100):
        chan.post(f"new {n}")
    second = await poll(src, first.state, http, max_pages=3)
    assert len(tme.requests) == 1 + 3
    assert numbers(second) == list(range(42, 102))  # the newest 60; the rest is skipped
    assert second.state.cursor == "101"


async def test_service_posts_are_skipped_but_count(tme: TmeServer, http: HttpClient) -> None:
    chan = tme.channel("osint")
    chan.post("hello")
    chan.post("Channel photo updated", service=True)
    result = await poll(source(tme), FetchState(), http)
    assert numbers(result) == [1]
    assert (result.state.cursor, result.covered) == ("2", (1, 2))


async def test_an_edited_post_keeps_its_key_with_a_new_revision(
    tme: TmeServer, http: HttpClient
) -> None:
    chan = tme.channel("osint")
    number = chan.post("Shelling reported near the bridge")
    src = source(tme)
    before = await poll(src, FetchState(), http)
    chan.edit(number, "Shelling reported near the bridge; <b>3 killed</b>")
    after = await poll(src, before.state, http)
    old, new = before.items[0], after.items[0]
    assert old.key == new.key == "post:osint/1"
    assert (old.edited, new.edited) == (False, True)
    assert old.revision != new.revision
    assert new.text == "Shelling reported near the bridge; 3 killed"


async def test_a_deleted_post_is_reported_gone(tme: TmeServer, http: HttpClient) -> None:
    chan = tme.channel("osint")
    for n in range(25):
        chan.post(f"post {n}")
    src = source(tme)
    first = await poll(src, FetchState(), http)
    chan.delete(10)
    second = await poll(src, first.state, http)
    assert "post:osint/10" in first.present_keys
    assert "post:osint/10" not in second.present_keys
    alerted = ["post:osint/10", "post:osint/12", "post:osint/2"]  # 2 is on no page read
    assert second.gone(alerted) == ("post:osint/10",)
    assert first.gone(alerted) == ()


async def test_forwards_replies_signatures_media(tme: TmeServer, http: HttpClient) -> None:
    chan = tme.channel("osint")
    chan.post(
        "Look", media="photo", forwarded_from=("rian_ru", 271457, "РИА Новости"), signature="Ivan"
    )
    chan.post("Reply", reply_to=("OSINT", "the earlier post"))
    chan.post("", media="poll")
    chan.post("doc", media="document", link_preview=("https://ex.org/a", "A title", "Desc"))
    chan.post("", media="unsupported")
    result = await poll(source(tme), FetchState(), http)
    fwd, reply, poll_item, doc, unsupported = result.items
    assert (fwd.forwarded_from, fwd.author, fwd.media_kinds) == (
        "rian_ru/271457",
        "Ivan",
        ("photo",),
    )
    assert reply.text == "Reply"  # the quoted post is not this post's text
    assert (poll_item.title, poll_item.text) == ("Which one?", "Which one?\n- Yes\n- No")
    assert doc.media_kinds == ("document", "link_preview")
    assert doc.text == "doc\n\nA title\n\nDesc"
    assert unsupported.media_kinds == ("unsupported",)
    body = (await http.get(tme.channel_url("osint"))).body
    parsed = parse_channel_page(body, "osint", tme.base_url)
    assert parsed.posts[1].reply_to == "OSINT: the earlier post"


async def test_a_channel_without_preview_is_an_error(tme: TmeServer, http: HttpClient) -> None:
    state = FetchState(cursor="17")
    result = await poll(source(tme, "no_such_channel"), state, http)
    assert result.status is FetchStatus.ERROR
    assert result.error == NO_PREVIEW.format("no_such_channel") + " (source: src)"
    assert result.state == state and result.items == ()


@pytest.mark.parametrize("name", ["not_existed_channel", "not_valid_channel"])
async def test_the_real_no_preview_pages(tme: TmeServer, http: HttpClient, name: str) -> None:
    tme.serve_page(name, (FIXTURES / f"{name}.html").read_bytes())
    result = await poll(source(tme, name), FetchState(), http)
    assert result.error == NO_PREVIEW.format(name) + " (source: src)"


async def test_a_page_that_is_not_telegram(tme: TmeServer, http: HttpClient) -> None:
    tme.serve_page("portal", b"<html><head><title>Hotel WiFi login</title></head></html>")
    result = await poll(source(tme, "portal"), FetchState(), http)
    assert result.status is FetchStatus.ERROR
    assert "not a Telegram channel page: got an HTML page titled 'Hotel WiFi login'" in (
        result.error or ""
    )


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, 30, timedelta(seconds=30)), (429, None, timedelta(seconds=60)),
     (503, 120, timedelta(seconds=120)), (500, None, None)],
)  # fmt: skip
async def test_rate_limits_and_server_errors(
    tme: TmeServer,
    http: HttpClient,
    status: int,
    retry_after: int | None,
    expected: timedelta | None,
) -> None:
    tme.channel("osint").post("x")
    tme.fail_next(status, retry_after=retry_after)
    state = FetchState(cursor="1")
    result = await poll(source(tme), state, http)
    assert result.status is FetchStatus.ERROR
    assert (result.retry_after, result.http_status, result.state) == (expected, status, state)
    assert f"HTTP {status}" in (result.error or "")


async def test_a_failure_on_an_older_page_keeps_the_cursor(
    tme: TmeServer, http: HttpClient
) -> None:
    chan = tme.channel("osint")
    chan.post("seen")
    src = source(tme)
    first = await poll(src, FetchState(), http)
    for n in range(30):
        chan.post(f"new {n}")
    tme.fail_next(502, older_pages_only=True)
    failed = await poll(src, first.state, http)  # nothing is taken from a half-read catch-up
    assert failed.status is FetchStatus.ERROR and "HTTP 502" in (failed.error or "")
    assert failed.state == first.state and failed.items == ()
    retried = await poll(src, failed.state, http)
    assert numbers(retried) == list(range(1, 32))


async def test_jitter_pauses_between_pages(
    tme: TmeServer, http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    chan = tme.channel("osint")
    for n in range(45):
        chan.post(f"p{n}")
    pauses: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr("watchers.telegram_channel.asyncio.sleep", fake_sleep)
    await fetch(source(tme, backfill=45), FetchState(), http, jitter=2.0, rng=random.Random(1))
    assert len(pauses) == 2 and all(0 <= p <= 2.0 for p in pauses)


async def test_untrusted_sources_need_the_allowlist(tme: TmeServer) -> None:
    tme.channel("osint").post("x")
    async with HttpClient() as strict:
        refused = await poll(source(tme, trusted=False), FetchState(), strict)
        trusted = await poll(source(tme), FetchState(), strict)
    assert refused.status is FetchStatus.ERROR
    assert (refused.error or "").startswith(f"refusing to fetch {tme.channel_url('osint')}")
    assert trusted.status is FetchStatus.OK
    assert len(tme.requests) == 1  # the refused poll never connected


async def test_parses_in_the_given_pool(tme: TmeServer, http: HttpClient) -> None:
    tme.channel("osint").post("x")
    with ThreadPoolExecutor(1) as pool:
        result = await fetch(source(tme), FetchState(), http, pool, jitter=0)
    assert numbers(result) == [1]


async def test_a_bad_source_url(http: HttpClient) -> None:
    src = Source("s", "telegram", "https://t.me/s/", timedelta(minutes=5))
    result = await fetch(src, FetchState(), http)
    assert result.status is FetchStatus.ERROR and "not a t.me/s/<channel> URL" in (
        result.error or ""
    )


async def test_a_cut_off_page_is_an_error_not_deletions(
    feed_server: FeedServer, http: HttpClient
) -> None:
    body = (FIXTURES / "vtosters.html").read_bytes()
    feed_server.set("/s/vtosters", body=body, content_type="text/html", truncate_at=40_000)
    src = Source("vt", "telegram", feed_server.url("/s/vtosters"), timedelta(minutes=5))
    state = FetchState(cursor="1460")
    result = await fetch(src, state, http, jitter=0)
    assert result.status is FetchStatus.ERROR and result.state == state
    assert "the connection closed before the whole page arrived" in (result.error or "")
    feed_server.set("/s/vtosters", truncate_at=None)
    whole = await fetch(src, state, http, jitter=0)
    assert whole.status is FetchStatus.OK and len(whole.items) == 16
    assert whole.items[-1].link == "https://t.me/vtosters/1460"


async def test_an_emptied_channel_keeps_the_cursor(tme: TmeServer, http: HttpClient) -> None:
    chan = tme.channel("osint")
    number = chan.post("only post")
    first = await poll(source(tme), FetchState(), http)
    chan.delete(number)
    second = await poll(source(tme), first.state, http)
    assert second.status is FetchStatus.OK and second.items == ()
    assert (second.state.cursor, second.covered) == ("1", None)
