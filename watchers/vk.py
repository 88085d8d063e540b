"""VKontakte public walls through the official API (``wall.get``) -> ``Item``s.

    Source(url="https://vk.com/<domain>") + token
      -> fetch() -> HttpClient.get("<api_base>/method/wall.get?domain=...&extended=1")
      -> parse_wall() -> FetchResult

Needs a token (a VK app's service token; the caller reads it from ``VK_TOKEN``): without
one every poll is an ERROR that says so.  The token travels in the query string, as the
API wants, and never appears in a message: ``redact_url`` masks ``access_token`` and
messages are scrubbed of the token once more.

A poll reads the newest ``count`` posts; with a cursor (the highest post id seen, in
``FetchState.cursor``) it pages back with ``offset`` until it reaches the cursor or
``max_pages`` pages.  Items come oldest first; a repost carries the original's text
after the reposter's ("repost of <name> (https://vk.com/wall-1_2)") and
``forwarded_from="wall-1_2"``.  ``present_keys``/``covered`` allow deletion checks as for
Telegram (the pinned post counts as present but not for the range).

API errors (HTTP 200 with ``{"error": {"error_code": N, ...}}``): 6 "too many requests
per second" -> ERROR, retry after 1 s; 9/29 (flood control, the daily limit) -> ERROR,
retry at the next midnight Moscow time (VK's day), at most 24 h; 5 (the token is
invalid) and 15/18/30/100/113 (closed, deleted, private, unknown wall) -> ERROR with a
plain message.  HTTP 429/5xx -> ERROR with Retry-After.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from bot.configread import Reader, base_url
from bot.model import FetchResult, FetchState, FetchStatus, Item, Media, Source
from watchers.base import Expanded, Fetcher, Link, Section, Watcher
from watchers.common import failed, retry_note
from watchers.http import FetchError, HttpClient, parse_retry_after, redact_url
from watchers.identity import content_hash, story_key
from watchers.media import vk_media
from watchers.text import collapse_whitespace, first_line

__all__ = ["API_VERSION", "NO_TOKEN", "WATCHER", "WallPage", "fetch", "parse_wall", "wall_owner"]

API_VERSION = "5.199"
NO_TOKEN = "VK sources need a VK_TOKEN environment variable (a service token of a VK app)"
_MOSCOW = timezone(timedelta(hours=3))


@dataclass(frozen=True)
class WallPage:
    items: tuple[Item, ...] = ()  # oldest first
    ids: tuple[int, ...] = ()  # every post id on the page, oldest first
    pinned: int | None = None  # the pinned post's id (old, listed first)
    total: int = 0  # the wall's post count ("count")
    error_code: int | None = None
    error: str | None = None  # VK's error_msg, or why the body is unreadable


def wall_owner(url: str) -> dict[str, str]:
    """The ``wall.get`` parameters naming the wall of ``https://vk.com/<domain>``:
    ``{"domain": name}``, or ``{"owner_id": "-123"}`` for club123/public123/wall-123."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError(f"not a VK page URL: {url!r}") from None
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise ValueError(f"not a VK page URL: {url!r}")
    name = segments[0].lower()
    for prefix, sign in (("club", "-"), ("public", "-"), ("event", "-"), ("wall-", "-")):
        rest = name.removeprefix(prefix)
        if rest != name and rest.isdigit():
            return {"owner_id": f"{sign}{rest}"}
    if name.startswith("id") and name[2:].isdigit():
        return {"owner_id": name[2:]}
    return {"domain": name}


# --------------------------------------------------------------------------- parse


def parse_wall(body: bytes, source_name: str, tags: tuple[str, ...] = ()) -> WallPage:
    """A ``wall.get`` (``extended=1``) answer -> items.  Pure, never raises."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return WallPage(error=f"not a VK API answer ({type(exc).__name__})")
    if not isinstance(data, dict):
        return WallPage(error="not a VK API answer")
    error = data.get("error")
    if isinstance(error, dict):
        code = error.get("error_code")
        return WallPage(
            error_code=code if isinstance(code, int) else None,
            error=str(error.get("error_msg") or "unknown error"),
        )
    response = data.get("response")
    if not isinstance(response, dict) or not isinstance(response.get("items"), list):
        return WallPage(error="not a VK API answer: no response.items")
    names = _names(response)
    items: list[Item] = []
    ids: list[int] = []
    pinned = None
    for raw in response["items"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
            continue
        ids.append(raw["id"])
        if raw.get("is_pinned"):
            pinned = raw["id"]
        try:
            items.append(_item(raw, names, source_name, tags))
        except (TypeError, ValueError, KeyError, AttributeError):
            continue  # one odd post must not cost the others
    items.sort(key=lambda i: _number(i.key))
    total = response.get("count")
    return WallPage(
        items=tuple(items),
        ids=tuple(sorted(ids)),
        pinned=pinned,
        total=total if isinstance(total, int) else len(ids),
    )


def _names(response: Mapping[str, Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for group in response.get("groups") or ():
        if isinstance(group, dict) and isinstance(group.get("id"), int):
            names[-group["id"]] = str(group.get("name") or group.get("screen_name") or "")
    for profile in response.get("profiles") or ():
        if isinstance(profile, dict) and isinstance(profile.get("id"), int):
            full = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
            names[profile["id"]] = full
    return names


def _item(raw: dict[str, Any], names: dict[int, str], source: str, tags: tuple[str, ...]) -> Item:
    owner, number = int(raw.get("owner_id", raw.get("from_id", 0))), int(raw["id"])
    link = f"https://vk.com/wall{owner}_{number}"
    text, media = _post_text(raw)
    title = first_line(text)
    forwarded = None
    history = raw.get("copy_history")
    if isinstance(history, list) and history and isinstance(history[0], dict):
        original = history[0]
        o_owner, o_id = int(original.get("owner_id", 0)), int(original.get("id", 0))
        forwarded = f"wall{o_owner}_{o_id}"
        who = names.get(o_owner) or f"vk.com/{'club' if o_owner < 0 else 'id'}{abs(o_owner)}"
        o_text, o_media = _post_text(original)
        header = f"repost of {who} (https://vk.com/{forwarded})"
        text = "\n\n".join(p for p in (text, header + (":\n" + o_text if o_text else "")) if p)
        media = tuple(dict.fromkeys((*media, *o_media)))
        title = title or first_line(o_text) or header
    published = _timestamp(raw.get("date"))
    signer = raw.get("signer_id")
    return Item(
        source=source,
        key=f"post:wall{owner}/{number}",
        story_key=story_key(link, title, text),
        title=title,
        text=text,
        link=link,
        published=published,
        author=names.get(signer) if isinstance(signer, int) else None,
        tags=tuple(tags),
        revision=content_hash(title, text),
        edited=bool(raw.get("edited")),  # the time of the last edit, if any
        forwarded_from=forwarded,
        media=media,
    )


def _post_text(raw: Mapping[str, Any]) -> tuple[str, tuple[Media, ...]]:
    """A post's own text, with its link and poll attachments, and its media."""
    parts = [collapse_whitespace(str(raw.get("text") or ""))]
    for attachment in raw.get("attachments") or ():
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("type") or "")
        body = attachment.get(kind)
        if not isinstance(body, dict):
            continue
        if kind == "link":
            for field in ("title", "description"):
                value = collapse_whitespace(str(body.get(field) or ""))
                if value and value not in parts[0]:
                    parts.append(value)
            url = str(body.get("url") or "")
            if url and url not in parts[0]:
                parts.append(url)
        elif kind == "poll":
            answers = [
                str(a.get("text", "")) for a in body.get("answers") or () if isinstance(a, dict)
            ]
            parts.append("\n".join([str(body.get("question") or ""), *(f"- {a}" for a in answers)]))
    return "\n\n".join(p for p in parts if p), vk_media(raw.get("attachments"))


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _number(key: str) -> int:
    tail = key.rpartition("/")[2]
    return int(tail) if tail.isdigit() else 0


# --------------------------------------------------------------------------- fetch


async def fetch(
    source: Source,
    state: FetchState,
    http: HttpClient,
    pool: Executor | None = None,
    *,
    token: str | None,
    api_base: str = "https://api.vk.com",
    count: int = 50,
    max_pages: int = 4,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FetchResult:
    """Poll one VK wall once (see the module docstring).  Never raises for network or
    API trouble; ``pool`` is unused (JSON parsing is cheap) and there for the
    fetchers' common signature."""
    if not token:
        return failed(source, state, NO_TOKEN)
    try:
        owner = wall_owner(source.url)
    except ValueError as exc:
        return failed(source, state, str(exc))
    cursor = int(state.cursor) if (state.cursor or "").isdigit() else None
    items: dict[str, Item] = {}
    ids: set[int] = set()
    pinned: set[int] = set()
    offset = 0
    status = None

    for _page in range(max(1, max_pages)):
        query = {**owner, "count": str(count), "offset": str(offset), "extended": "1",
                 "v": API_VERSION, "access_token": token}  # fmt: skip
        url = f"{api_base.rstrip('/')}/method/wall.get?{urlencode(query)}"
        try:
            response = await http.get(url, trusted=source.trusted)
        except FetchError as exc:
            return failed(source, state, _scrub(str(exc), token))
        status = response.status
        where = _scrub(redact_url(url), token)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            message = f"HTTP {status} from {where}{retry_note(retry_after)}"
            return failed(source, state, message, retry_after=retry_after, http_status=status)
        if status != 200:
            return failed(source, state, f"HTTP {status} from {where}", http_status=status)
        page = parse_wall(response.body, source.name, source.tags)
        if page.error is not None:
            message, retry_after = _api_error(page, source, clock())
            message = _scrub(message, token)
            return failed(source, state, message, retry_after=retry_after, http_status=status)
        items.update((item.key, item) for item in page.items)
        ids.update(page.ids)
        if page.pinned is not None:
            pinned.add(page.pinned)
        unpinned = [n for n in page.ids if n != page.pinned]
        offset += len(page.ids)
        if cursor is None or not unpinned or min(unpinned) <= cursor + 1:
            break
        if offset >= page.total:
            break

    ordered = tuple(sorted(items.values(), key=lambda i: _number(i.key)))
    ranged = sorted(ids - pinned)
    newest = max(ranged, default=None)
    if newest is not None and cursor is not None:
        newest = max(newest, cursor)
    return FetchResult(
        FetchStatus.OK,
        items=ordered,
        state=replace(state, cursor=str(newest) if newest is not None else state.cursor),
        http_status=status,
        present_keys=tuple(item.key for item in ordered),
        covered=(ranged[0], ranged[-1]) if ranged else None,
    )


def _api_error(page: WallPage, source: Source, now: datetime) -> tuple[str, timedelta | None]:
    code, detail = page.error_code, page.error or ""
    if code is None:
        return f"{detail} (from the VK API)", None
    wall = source.url
    if code == 6:
        return "VK API: too many requests per second (error 6); retrying shortly", timedelta(
            seconds=1
        )
    if code in (9, 29):
        return (
            f"VK API: the token's daily limit for wall.get is used up (error {code}: "
            f"{detail}); retrying tomorrow",
            _until_next_vk_day(now),
        )
    if code == 5:
        return (
            f"VK API rejected the token (error 5: {detail}): check VK_TOKEN, a service "
            "token of a VK app",
            None,
        )
    if code == 15:
        return f"the VK wall {wall} is closed to outsiders (error 15: {detail})", None
    if code == 18:
        return f"the VK page {wall} was deleted or banned (error 18: {detail})", None
    if code == 30:
        return f"the VK profile {wall} is private (error 30: {detail})", None
    if code in (100, 113):
        return f"no such VK page: {wall} (error {code}: {detail})", None
    return f"VK API error {code}: {detail}", None


def _until_next_vk_day(now: datetime) -> timedelta:
    local = now.astimezone(_MOSCOW)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return min(max(midnight - local, timedelta(minutes=1)), timedelta(hours=24))


def _scrub(message: str, token: str) -> str:
    return message.replace(token, "***") if token else message


# --------------------------------------------------------------------------- the kind

VK_API = "https://api.vk.com"
VK_KEYS = ("api_base_url",)
_HOSTS = frozenset({"vk.com", "www.vk.com", "m.vk.com", "vk.ru", "www.vk.ru", "m.vk.ru"})
_DOMAIN = re.compile(r"^[A-Za-z0-9_.]{2,32}$")


@dataclass(frozen=True)
class VkSettings:
    """``[vk]``: the API's address; the token comes from VK_TOKEN, never from config."""

    api_base_url: str = VK_API


def parse_settings(r: Reader, raw: Any) -> VkSettings:
    t = r.table(raw, "vk", VK_KEYS)
    return VkSettings(r.get(t, "vk", "api_base_url", base_url, VK_API, "an http(s) URL"))


class VkWatcher(Watcher):
    """``vk``: ``vk.com/domain`` (and m.vk.com, vk.ru) -> ``https://vk.com/domain``;
    ``channel = "rbc"`` in ``[[sources]]``."""

    kind = "vk"
    about = "a VK wall, read through the VK API"
    section = Section("vk", VK_KEYS, parse_settings)
    default = VkSettings()
    channels = True
    secret_variables = ("VK_TOKEN",)

    def channel_url(self, channel: str, own: VkSettings) -> str:
        return f"https://vk.com/{channel}"

    def expand_link(self, link: Link, options: Mapping[str, Any]) -> Expanded | None:
        if link.host not in _HOSTS:
            return None
        if not link.segments:
            raise ValueError("which VK page? e.g. vk.com/rbc")
        domain = link.segments[0]
        if domain.startswith("wall") or not _DOMAIN.match(domain):
            raise ValueError(
                f"{domain!r} is not a VK page name: give the page (vk.com/<name>), not a post"
            )
        name = domain.lower()
        return Expanded("vk", f"https://vk.com/{name}", f"vk-{name}", ("vk",))

    def needs(self, environ: Mapping[str, str]) -> str | None:
        if environ.get("VK_TOKEN"):
            return None
        return "VK walls need a VK_TOKEN in the bot's environment"

    def fetcher(self, own: VkSettings, environ: Mapping[str, str]) -> Fetcher:
        token = environ.get("VK_TOKEN") or None
        return partial(fetch, token=token, api_base=own.api_base_url)


WATCHER = VkWatcher()
