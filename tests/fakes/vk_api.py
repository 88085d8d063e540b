"""A real HTTP server on 127.0.0.1 that plays the VK API's ``wall.get``, for watcher tests.

Answers have the shapes of API version 5.199: ``{"response": {"count", "items",
"profiles", "groups"}}`` with ``extended=1``, newest post first (a pinned post before
all), ``offset``/``count`` paging, and errors as HTTP 200 with
``{"error": {"error_code", "error_msg", "request_params"}}`` (``access_token`` is never
among the echoed parameters, as with VK).

    async with FakeVkApi(token="vk-secret") as vk:
        wall = vk.wall("rbc", owner_id=-25232578, name="РБК")
        wall.post("Текст", attachments=[photo()], reposted=(-1, 77, "Оригинал"))
        vk.fail_next(6)                        # the next call answers error 6
        api_base = vk.base_url                 # "http://127.0.0.1:<port>"
        vk.requests                            # RecordedRequest(method, path, query, headers)

A wrong token answers error 5; an unknown wall error 100 (like a wrong screen name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.feed_server import RecordedRequest, record
from tests.fakes.local_server import LocalServer

__all__ = ["ERRORS", "FakeVkApi", "FakeWall", "link", "photo", "poll"]

ERRORS = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    15: "Access denied: this wall available only for community members",
    18: "User was deleted or banned",
    29: "Rate limit reached",
    30: "This profile is private",
    100: "One of the parameters specified was missing or invalid: owner_id is undefined",
}
_START = 1733205600  # 2024-12-03 06:00 UTC


def photo(owner_id: int = -25232578) -> dict[str, Any]:
    return {
        "type": "photo",
        "photo": {
            "album_id": -7, "date": _START, "id": 457250001, "owner_id": owner_id,
            "access_key": "0a1b2c3d4e5f", "has_tags": False, "text": "",
            "sizes": [{"height": 97, "type": "s", "width": 130,
                       "url": "https://sun9-1.userapi.com/impg/x.jpg?size=130x97"}],
        },
    }  # fmt: skip


def link(url: str, title: str, description: str = "") -> dict[str, Any]:
    return {
        "type": "link",
        "link": {"url": url, "title": title, "caption": "rbc.ru", "description": description,
                 "is_favorite": False},
    }  # fmt: skip


def poll(question: str, *answers: str) -> dict[str, Any]:
    return {
        "type": "poll",
        "poll": {
            "id": 1, "owner_id": -25232578, "created": _START, "question": question,
            "votes": 10, "anonymous": True, "multiple": False, "end_date": 0, "closed": False,
            "answers": [{"id": n, "rate": 0.0, "text": a, "votes": 0}
                        for n, a in enumerate(answers, 1)],
        },
    }  # fmt: skip


@dataclass
class FakeWall:
    domain: str
    owner_id: int
    name: str
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1
    pinned: int | None = None
    clock: int = _START

    def post(
        self,
        text: str,
        *,
        attachments: list[dict[str, Any]] | None = None,
        reposted: tuple[int, int, str] | None = None,  # (owner_id, id, text) of the original
        edited: bool = False,
    ) -> int:
        number = self.next_id
        self.next_id += 1
        self.clock += 60
        raw: dict[str, Any] = {
            "inner_type": "wall_wallpost", "can_delete": 0, "can_pin": 0, "can_archive": False,
            "is_archived": False, "comments": {"can_post": 1, "count": 0, "groups_can_post": True},
            "marked_as_ads": 0, "hash": f"h{number}", "type": "post",
            "attachments": attachments or [], "date": self.clock, "from_id": self.owner_id,
            "id": number, "is_favorite": False,
            "likes": {"can_like": 1, "count": 5, "user_likes": 0, "can_publish": 1},
            "owner_id": self.owner_id, "post_source": {"type": "api"}, "post_type": "post",
            "reposts": {"count": 0, "user_reposted": 0}, "text": text, "views": {"count": 100},
        }  # fmt: skip
        if edited:
            raw["edited"] = self.clock + 30
        if reposted is not None:
            owner, original, original_text = reposted
            raw["copy_history"] = [
                {"type": "post", "attachments": [], "date": self.clock - 3600, "from_id": owner,
                 "id": original, "owner_id": owner, "post_source": {"type": "vk"},
                 "post_type": "post", "text": original_text}
            ]  # fmt: skip
        self.posts[number] = raw
        return number

    def delete(self, number: int) -> None:
        del self.posts[number]

    def pin(self, number: int) -> None:
        self.pinned = number
        self.posts[number]["is_pinned"] = 1


@dataclass
class _Failure:
    code: int
    times: int


class FakeVkApi:
    """See the module docstring."""

    def __init__(self, token: str = "vk-test-token", host: str = "127.0.0.1") -> None:
        self.token = token
        self.host = host
        self._server = LocalServer("FakeVkApi", host)
        self.walls: dict[str, FakeWall] = {}
        self.extra_groups: dict[int, str] = {}  # owner_id -> name, for reposted walls
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []

    async def __aenter__(self) -> FakeVkApi:
        app = web.Application()
        app.router.add_route("*", "/method/wall.get", self._wall_get)
        await self._server.start(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()

    @property
    def port(self) -> int | None:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.root

    def wall(self, domain: str, owner_id: int, name: str) -> FakeWall:
        if domain not in self.walls:
            self.walls[domain] = FakeWall(domain, owner_id, name)
        return self.walls[domain]

    def fail_next(self, code: int, *, times: int = 1) -> None:
        self._failures.append(_Failure(code, times))

    async def _wall_get(self, request: web.Request) -> web.Response:
        self.requests.append(record(request))
        query = dict(request.query)
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            return self._error(failure.code, query)
        if query.get("access_token") != self.token:
            return self._error(5, query)
        wall = self._find(query)
        if wall is None:
            return self._error(100, query)
        count = min(int(query.get("count", "20")), 100)
        offset = int(query.get("offset", "0"))
        newest_first = sorted(wall.posts, reverse=True)
        if wall.pinned in wall.posts:
            newest_first.remove(wall.pinned)  # type: ignore[arg-type]
            newest_first.insert(0, wall.pinned)  # type: ignore[arg-type]
        chosen = [wall.posts[n] for n in newest_first[offset : offset + count]]
        response: dict[str, Any] = {"count": len(wall.posts), "items": chosen}
        if query.get("extended") == "1":
            groups = {-wall.owner_id: wall.name} if wall.owner_id < 0 else {}
            groups.update({-k: v for k, v in self.extra_groups.items()})
            response["groups"] = [
                {"id": gid, "name": name, "screen_name": f"club{gid}", "is_closed": 0,
                 "type": "page", "photo_50": "https://sun9-1.userapi.com/x.jpg"}
                for gid, name in groups.items()
            ]  # fmt: skip
            response["profiles"] = []
        return web.json_response({"response": response})

    def _find(self, query: dict[str, str]) -> FakeWall | None:
        if "domain" in query:
            return self.walls.get(query["domain"])
        owner = query.get("owner_id")
        return next((w for w in self.walls.values() if str(w.owner_id) == owner), None)

    def _error(self, code: int, query: dict[str, str]) -> web.Response:
        params = [{"key": "method", "value": "wall.get"}, {"key": "oauth", "value": "1"}]
        params += [{"key": k, "value": v} for k, v in query.items() if k != "access_token"]
        body = {"error": {"error_code": code, "error_msg": ERRORS.get(code, "Unknown error"),
                          "request_params": params}}  # fmt: skip
        return web.Response(text=json.dumps(body), content_type="application/json")
