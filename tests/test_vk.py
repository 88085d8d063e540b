"""watchers/vk.py against a local fake of the VK API (tests/fakes/vk_api.py): posts,
reposts, attachments, paging back to the cursor, the API's errors, and the token never
showing in a message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import FetchResult, FetchState, FetchStatus, Source
from tests.fakes.feed_server import unused_port
from tests.fakes.vk_api import FakeVkApi, link, photo, poll
from watchers.http import HttpClient
from watchers.vk import NO_TOKEN, fetch, parse_wall, wall_owner

TOKEN = "vk1.a.SECRET-service-token"
RBC = -25232578


@pytest.fixture
async def vk() -> AsyncIterator[FakeVkApi]:
    async with FakeVkApi(token=TOKEN) as api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(allow=["127.0.0.1"]) as client:
        yield client


def source(url: str = "https://vk.com/rbc") -> Source:
    return Source("rbc-vk", "vk", url, timedelta(minutes=5), ("vk",))


async def poll_wall(
    vk: FakeVkApi, http: HttpClient, state: FetchState | None = None, **kw: object
) -> FetchResult:
    kw.setdefault("token", TOKEN)
    return await fetch(
        kw.pop("src", source()),  # type: ignore[arg-type]
        state or FetchState(),
        http,
        api_base=vk.base_url,
        **kw,  # type: ignore[arg-type]
    )


def ids(result: FetchResult) -> list[int]:
    return [int(item.key.rpartition("/")[2]) for item in result.items]


async def test_posts_become_items(vk: FakeVkApi, http: HttpClient) -> None:
    wall = vk.wall("rbc", RBC, "РБК")
    wall.post("Сирийская армия отразила атаки\nв провинции Дейр-эз-Зор", attachments=[photo()])
    wall.post(
        "Подробности",
        attachments=[link("https://www.rbc.ru/politics/03/12/2024/x", "Что происходит в Сирии")],
    )
    wall.post("", attachments=[poll("Следите за новостями?", "Да", "Нет")])
    result = await poll_wall(vk, http)
    assert result.status is FetchStatus.OK, result.error
    first, second, third = result.items
    assert first.key == f"post:wall{RBC}/1"
    assert first.link == f"https://vk.com/wall{RBC}_1"
    assert first.story_key == f"link:https://vk.com/wall{RBC}_1"
    assert first.title == "Сирийская армия отразила атаки"
    assert first.text == "Сирийская армия отразила атаки\nв провинции Дейр-эз-Зор"
    assert first.published == datetime(2024, 12, 3, 6, 1, tzinfo=UTC)
    assert (first.source, first.tags, first.media_kinds) == ("rbc-vk", ("vk",), ("photo",))
    assert second.text == (
        "Подробности\n\nЧто происходит в Сирии\n\nhttps://www.rbc.ru/politics/03/12/2024/x"
    )
    assert second.media_kinds == ("link_preview",)
    assert (third.title, third.text) == (
        "Следите за новостями?",
        "Следите за новостями?\n- Да\n- Нет",
    )
    assert result.state.cursor == "3"
    assert result.covered == (1, 3)
    sent = vk.requests[0].query
    assert "domain=rbc" in sent and "v=5.199" in sent and "extended=1" in sent


async def test_a_repost_carries_the_original(vk: FakeVkApi, http: HttpClient) -> None:
    vk.extra_groups[-15755094] = "РИА Новости"
    vk.wall("rbc", RBC, "РБК").post(
        "Смотрите", reposted=(-15755094, 4242, "Сирийская армия отразила атаки")
    )
    vk.wall("rbc", RBC, "РБК").post("", reposted=(-1, 7, "Только оригинал"))
    item, bare = (await poll_wall(vk, http)).items
    assert item.forwarded_from == "wall-15755094_4242"
    assert (item.title, bare.title) == ("Смотрите", "Только оригинал")
    assert bare.text == "repost of vk.com/club1 (https://vk.com/wall-1_7):\nТолько оригинал"
    assert item.text == (
        "Смотрите\n\nrepost of РИА Новости (https://vk.com/wall-15755094_4242):\n"
        "Сирийская армия отразила атаки"
    )


async def test_catch_up_pages_back_to_the_cursor(vk: FakeVkApi, http: HttpClient) -> None:
    wall = vk.wall("rbc", RBC, "РБК")
    wall.post("old")
    first = await poll_wall(vk, http, count=10)
    for n in range(25):
        wall.post(f"new {n}")
    second = await poll_wall(vk, http, first.state, count=10)
    assert [q.query.split("offset=")[1].split("&")[0] for q in vk.requests[1:]] == ["0", "10", "20"]
    assert ids(second) == list(range(1, 27))  # oldest first, each once
    assert second.state.cursor == "26"


async def test_the_pinned_post_does_not_stretch_the_range(vk: FakeVkApi, http: HttpClient) -> None:
    wall = vk.wall("rbc", RBC, "РБК")
    for n in range(30):
        wall.post(f"post {n}")
    wall.pin(2)
    result = await poll_wall(vk, http, count=10)
    assert ids(result) == [2, *range(22, 31)]
    assert result.covered == (22, 30)  # not (2, 30): posts 3..21 are not "deleted"
    assert result.state.cursor == "30"
    wall.delete(25)
    again = await poll_wall(vk, http, result.state, count=10)
    assert again.gone([f"post:wall{RBC}/25", f"post:wall{RBC}/5"]) == (f"post:wall{RBC}/25",)


async def test_without_a_token(vk: FakeVkApi, http: HttpClient) -> None:
    result = await poll_wall(vk, http, token=None)
    assert result.status is FetchStatus.ERROR
    assert result.error == f"{NO_TOKEN} (source: rbc-vk)"
    assert vk.requests == []


@pytest.mark.parametrize(
    ("code", "message", "retry_after"),
    [
        (6, "VK API: too many requests per second (error 6)", timedelta(seconds=1)),
        (29, "daily limit for wall.get is used up (error 29: Rate limit reached)",
         timedelta(hours=14, minutes=30)),  # 06:30 UTC = 09:30 Moscow -> midnight Moscow
        (5, "VK API rejected the token (error 5: User authorization failed: invalid "
            "access_token (4).): check VK_TOKEN", None),
        (15, "the VK wall https://vk.com/rbc is closed to outsiders (error 15", None),
        (18, "the VK page https://vk.com/rbc was deleted or banned (error 18", None),
        (30, "the VK profile https://vk.com/rbc is private (error 30", None),
        (100, "no such VK page: https://vk.com/rbc (error 100", None),
    ],
)  # fmt: skip
async def test_api_errors(
    vk: FakeVkApi,
    http: HttpClient,
    code: int,
    message: str,
    retry_after: timedelta | None,
) -> None:
    vk.wall("rbc", RBC, "РБК").post("x")
    vk.fail_next(code)
    state = FetchState(cursor="1")
    now = datetime(2024, 12, 3, 6, 30, tzinfo=UTC)
    result = await poll_wall(vk, http, state, clock=lambda: now)
    assert result.status is FetchStatus.ERROR
    assert message in (result.error or "")
    assert (result.retry_after, result.state) == (retry_after, state)
    assert TOKEN not in (result.error or "")


async def test_a_wrong_token_and_an_unknown_wall(vk: FakeVkApi, http: HttpClient) -> None:
    vk.wall("rbc", RBC, "РБК")
    wrong = await poll_wall(vk, http, token="not-the-token")
    assert "VK API rejected the token (error 5" in (wrong.error or "")
    unknown = await poll_wall(vk, http, src=source("https://vk.com/no_such_page"))
    assert "no such VK page: https://vk.com/no_such_page (error 100" in (unknown.error or "")


async def test_owner_ids_from_club_urls(vk: FakeVkApi, http: HttpClient) -> None:
    vk.wall("rbc", RBC, "РБК").post("x")
    result = await poll_wall(vk, http, src=source("https://vk.com/club25232578"))
    assert ids(result) == [1]
    assert f"owner_id={RBC}" in vk.requests[0].query


async def test_the_token_never_shows_in_network_errors(http: HttpClient) -> None:
    api = f"http://127.0.0.1:{unused_port()}"
    result = await fetch(source(), FetchState(), http, token=TOKEN, api_base=api)
    assert result.status is FetchStatus.ERROR
    assert "connection refused" in (result.error or "")
    assert TOKEN not in (result.error or "") and "access_token=***" in (result.error or "")


async def test_http_errors(vk: FakeVkApi, http: HttpClient) -> None:
    result = await fetch(source(), FetchState(), http, token=TOKEN, api_base=vk.base_url + "/x")
    assert result.status is FetchStatus.ERROR and result.http_status == 404
    assert TOKEN not in (result.error or "")


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("https://vk.com/rbc", {"domain": "rbc"}),
        ("https://vk.com/RBC/", {"domain": "rbc"}),
        ("https://vk.com/club123", {"owner_id": "-123"}),
        ("https://vk.com/public123", {"owner_id": "-123"}),
        ("https://vk.com/id42", {"owner_id": "42"}),
        ("https://vk.com/wall-123", {"owner_id": "-123"}),
    ],
)
def test_wall_owner(url: str, params: dict[str, str]) -> None:
    assert wall_owner(url) == params


def test_parse_wall_never_raises() -> None:
    for body in (b"", b"[]", b"{}", b'{"response": {"items": [1, {"id": "x"}, {"id": 3}]}}',
                 b"\xff\xfe", b'{"error": "odd"}'):  # fmt: skip
        page = parse_wall(body, "s")
        assert page.error is not None or [i.key for i in page.items] == ["post:wall0/3"]
