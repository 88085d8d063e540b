"""A real server on 127.0.0.1 that plays Slack: the Web API, Socket Mode and response_url.

The real slack_sdk / slack-bolt clients talk to it over real sockets. One aiohttp server
(port 0) serves ``/api/<method>`` (Web API), ``/socket?ticket=...`` (the Socket Mode
websocket that ``apps.connections.open`` hands out), ``/hooks/...`` (the ``response_url``
of every payload it builds) and ``/upload/...`` (the ``files.uploadV2`` upload URL).

    async with FakeSlack(bot_token="xoxb-1-dozor", app_token="xapp-1-A0DOZOR-1-x") as fake:
        client = AsyncWebClient("xoxb-1-dozor", base_url=fake.api_url)   # ends with "/"
        app = AsyncApp(client=client)            # token from the client (token= too: a warning)
        handler = AsyncSocketModeHandler(app, "xapp-1-A0DOZOR-1-x")  # uses app.client
        await handler.connect_async()            # not start_async(): that sleeps forever
        await fake.wait_connected()
        envelope = await fake.push_slash_command(command="/dozor", text="watch Вагнер")
        ack = await fake.wait_ack(envelope)      # ack.payload: what ack(...) returned
        await fake.wait_for("response_url")      # respond(...) posted to the fake
        fake.fail_next("chat.postMessage", status=429, retry_after=1)
        await handler.close_async()              # before the fake stops (auto-reconnect)

Test-facing API:

- ``FakeSlack(bot_token, app_token, *, team_id, team_domain, team_name, bot_user_id,
  bot_id, app_id, bot_name, channels=None, clock=time.monotonic)``; ``api_url``
  (``http://127.0.0.1:PORT/api/``: slack_sdk's ``base_url``), ``url`` (the root).
- ``requests``: every ``RecordedRequest(method, params, headers, time, http_method,
  encoding, token, path, status, response)``; ``time`` is ``clock()`` on arrival, ``status``
  None until answered. ``calls(method)`` filters. Posts to a response_url are recorded with
  method ``"response_url"``, uploads to the upload URL with ``"files.upload"``.
- ``messages(channel)``: ``SentMessage`` records (ts, text, blocks, thread_ts,
  unfurl_links, unfurl_media, mrkdwn, attachments, edits, deleted, time, via), oldest first;
  the fields hold the latest state, ``edits`` one ``MessageEdit`` per chat.update or
  ``replace_original``. ``ephemeral(channel)``: ``EphemeralMessage`` records (with ``user``).
  ``responses``: ``ResponsePost`` records (every post to a response_url). ``files``.
- ``add_channel(id, name=None, *, archived=False, member=True, private=None)``,
  ``remove_channel(id)``, ``add_user(id, name, *, real_name=None, is_bot=False)``. Known
  channels: with ``channels=None`` any id starting with C, G or D unless removed; with a
  list, only those (and ones added later). Users: any id starting with U or W, or added.
- ``fail_next(method, *, error=None, status=200, retry_after=None, times=1, channel=None)``:
  the next ``times`` matching calls get Slack's shape: 429 + ``Retry-After`` +
  ``{"ok": false, "error": "ratelimited"}``; 200 + ``{"ok": false, "error": error}``
  (channel_not_found, not_in_channel, is_archived, ...); 500 ``fatal_error`` JSON; 502/503/504
  an HTML gateway page unless an error is given. ``rate_limit(channel, seconds)``: every
  chat.* call for that channel before ``clock() + seconds`` gets 429 with the seconds left.
- Socket Mode: ``await wait_connected(timeout=5)``; ``push_slash_command(...)``,
  ``push_app_mention(...)``, ``push_block_action(...)``, ``push_event(event)``,
  ``push_envelope(type, payload)`` send real envelopes to the newest connection (waiting for
  one) and return the envelope id; ``await wait_ack(envelope_id, timeout=5)`` -> ``Ack``
  (``payload`` is None for a bare ack); ``envelopes``, ``acks``; ``await disconnect(reason)``
  sends Slack's ``disconnect`` message (the client reconnects via apps.connections.open).
- Payload builders (for HTTP mode too): ``slash_command_payload(...)`` (a flat dict: form
  encode it), ``block_action_payload(...)`` (send as ``payload=<json>``),
  ``event_callback(event)`` / ``app_mention_event(...)`` (JSON). ``sign(body, secret,
  timestamp)`` (module level) gives the ``X-Slack-Signature`` headers.
- ``await wait_for(method, count=1, timeout=5)`` returns the answered calls once ``count``
  have been answered; ``TimeoutError`` naming the methods seen otherwise.

Web API methods: auth.test, apps.connections.open (app token only), chat.postMessage,
chat.update, chat.delete, chat.postEphemeral, chat.getPermalink, conversations.info,
users.info, files.getUploadURLExternal + upload + files.completeUploadExternal. Others:
``unknown_method``. Tokens: ``Authorization: Bearer`` or a ``token`` parameter; none:
``not_authed``; a wrong one: ``invalid_auth``; the app token on a bot method (or the bot
token on apps.connections.open): ``not_allowed_token_type``; all HTTP 200 like Slack, and
checked before injected failures.
JSON, form and multipart bodies and query strings are accepted; ``blocks``/``attachments``
may be JSON strings (form). Checked like Slack: more than 50 blocks, a section text over
3000 characters (or empty), more than 10 section fields, a field over 2000, a header over
150 -> ``invalid_blocks`` with Slack-style ``errors``; no text, blocks nor attachments
-> ``no_text``; text over 40,000 -> ``msg_too_long``; unknown channel ->
``channel_not_found``, archived -> ``is_archived``, not a member -> ``not_in_channel``.
A user id as channel posts to that user's DM (``D`` + id[1:]). ``ts`` values look like
``1700000000.000100`` and increase across the workspace. chat.update keeps text/blocks
that are not sent (as Slack does). A response_url post: ``delete_original`` deletes,
``replace_original`` edits the message the action came from, ``response_type: in_channel``
posts to the channel, otherwise it is an ephemeral message to the invoking user; it answers
``ok`` (text) or 400 ``no_text`` / ``invalid_blocks``. The fake's own choices: 500/503
bodies, the response_url and upload URL paths, ids it invents.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.local_server import LocalServer, Waiters

__all__ = [
    "Ack",
    "EphemeralMessage",
    "FakeSlack",
    "MessageEdit",
    "RecordedRequest",
    "ResponsePost",
    "SentMessage",
    "UploadedFile",
    "block_errors",
    "sign",
]

JsonDict = dict[str, Any]

MAX_BLOCKS = 50
MAX_IMAGE_URL = 3000
MAX_ALT_TEXT = 2000
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BLOCK_ID = 255
MAX_MESSAGE_TEXT = 40_000

_TS_BASE = 1_700_000_000
_USER_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_METHODS = frozenset(
    "chat.postMessage chat.update chat.delete chat.postEphemeral chat.getPermalink".split()
)
_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)


# ---------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    method: str  # "chat.postMessage"; "response_url" and "files.upload" for the hooks
    params: JsonDict  # query + body, decoded; the token is removed
    headers: dict[str, str]
    time: float  # clock() on arrival
    http_method: str
    encoding: str  # "json" | "form" | "multipart" | "query" | "none" | "bytes"
    token: str | None
    path: str
    status: int | None = None  # None while answering
    response: JsonDict | str | None = None


@dataclass(frozen=True)
class MessageEdit:
    time: float
    text: str | None
    blocks: list[JsonDict] | None
    via: str  # "chat.update" | "response_url"


@dataclass
class SentMessage:
    channel: str
    ts: str
    time: float
    text: str | None
    blocks: list[JsonDict] | None = None
    attachments: list[JsonDict] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool | None = None
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    mrkdwn: bool | None = None
    metadata: JsonDict | None = None
    via: str = "chat.postMessage"  # or "response_url"
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False


@dataclass(frozen=True)
class EphemeralMessage:
    channel: str
    user: str
    ts: str
    time: float
    text: str | None
    blocks: list[JsonDict] | None
    thread_ts: str | None
    via: str  # "chat.postEphemeral" | "response_url"


@dataclass(frozen=True)
class ResponsePost:
    url: str
    kind: str  # "commands" | "actions"
    envelope_id: str | None  # None for payloads built for HTTP mode
    payload: JsonDict
    time: float
    status: int


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: JsonDict | None  # None for a bare {"envelope_id": ...}
    time: float
    raw: str


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    data: bytes | None = None  # None until uploaded
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool
    is_im: bool
    archived: bool = False
    member: bool = True
    user: str | None = None  # the other party of a DM


@dataclass
class _Hook:
    kind: str
    channel: str
    user: str
    message_ts: str | None
    envelope_id: str | None = None


@dataclass
class _Failure:
    method: str
    error: str
    status: int
    retry_after: int | None
    times: int
    channel: str | None


class _ApiError(Exception):
    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        extra: JsonDict | None = None,
        html: str | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra or {}
        self.html = html


# ---------------------------------------------------------------- helpers


def sign(
    body: bytes | str,
    secret: str,
    timestamp: int | str,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """Slack's request-signing headers for an HTTP-mode request body.

    ``X-Slack-Signature`` = ``v0=`` + hex HMAC-SHA256(secret, ``v0:{timestamp}:{body}``).
    """
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def _text_errors(obj: Any, pointer: str, limit: int) -> list[str]:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return [f"must be a text object [json-pointer:{pointer}]"]
    if obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"must be either plain_text or mrkdwn [json-pointer:{pointer}/type]"]
    length = len(obj["text"])
    if length == 0:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if length > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return []


def block_errors(blocks: Any) -> list[str]:
    """Slack's ``invalid_blocks`` messages for ``blocks`` (empty when Slack would accept it).

    Checks the limits a renderer can hit: count, section text/fields, header text, block_id,
    an image's http(s) ``image_url`` (at most 3,000 characters) and required ``alt_text``
    (at most 2,000).
    """
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    if len(blocks) > MAX_BLOCKS:
        return [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    errors: list[str] = []
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{pointer}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID:
            errors.append(
                f"must be less than {MAX_BLOCK_ID + 1} characters [json-pointer:{pointer}/block_id]"
            )
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide either text or fields [json-pointer:{pointer}]")
            if "text" in block:
                errors += _text_errors(block["text"], f"{pointer}/text", MAX_SECTION_TEXT)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
                    errors.append(
                        f"no more than {MAX_SECTION_FIELDS} items allowed "
                        f"[json-pointer:{pointer}/fields]"
                    )
                else:
                    for i, item in enumerate(fields):
                        errors += _text_errors(item, f"{pointer}/fields/{i}", MAX_FIELD_TEXT)
        elif kind == "image":
            url = block.get("image_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                errors.append(f"must be a valid URL [json-pointer:{pointer}/image_url]")
            elif len(url) > MAX_IMAGE_URL:
                errors.append(
                    f"must be less than {MAX_IMAGE_URL + 1} characters "
                    f"[json-pointer:{pointer}/image_url]"
                )
            alt = block.get("alt_text")
            if not isinstance(alt, str) or not alt:
                errors.append(f"missing required field: alt_text [json-pointer:{pointer}]")
            elif len(alt) > MAX_ALT_TEXT:
                errors.append(
                    f"must be less than {MAX_ALT_TEXT + 1} characters "
                    f"[json-pointer:{pointer}/alt_text]"
                )
        elif kind == "header":
            text = block.get("text")
            if isinstance(text, dict) and text.get("type") != "plain_text":
                errors.append(f"must be plain_text [json-pointer:{pointer}/text/type]")
            else:
                errors += _text_errors(text, f"{pointer}/text", MAX_HEADER_TEXT)
    return errors


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _json_param(params: JsonDict, name: str, error: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(error) from None
    return value


def _rich_text(text: str) -> list[JsonDict]:
    elements: list[JsonDict] = []
    position = 0
    for match in _USER_MENTION_RE.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": uuid.uuid4().hex[:4], "elements": [section]}]


# ---------------------------------------------------------------- the server


class FakeSlack:
    """Slack's Web API, Socket Mode and response_url on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        bot_token: str = "xoxb-1111-2222-dozortest",
        app_token: str = "xapp-1-A0DOZOR-3333-dozortest",
        *,
        team_id: str = "T0DOZOR",
        team_domain: str = "dozor-test",
        team_name: str = "Dozor Test",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0DOZOR",
        app_id: str = "A0DOZOR",
        bot_name: str = "dozor",
        channels: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.clock = clock
        self.host = host
        self._server = LocalServer("FakeSlack", host)
        self.requests: list[RecordedRequest] = []
        self.responses: list[ResponsePost] = []
        self.envelopes: list[JsonDict] = []
        self.acks: dict[str, Ack] = {}
        self.socket_messages: list[JsonDict] = []  # everything the client sent
        self.files: dict[str, UploadedFile] = {}
        self._strict_channels = channels is not None
        self._channels: dict[str, _Channel] = {}
        self._removed_channels: set[str] = set()
        self._users: dict[str, JsonDict] = {}
        self._messages: dict[str, list[SentMessage]] = {}
        self._ephemeral: dict[str, list[EphemeralMessage]] = {}
        self._user_messages: dict[tuple[str, str], JsonDict] = {}
        self._hooks: dict[str, _Hook] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._failures: list[_Failure] = []
        self._flood_until: dict[str, float] = {}
        self._waiters = Waiters()
        self._counter = itertools.count(1)
        self._ts_counter = itertools.count(1)
        self._handlers: dict[str, Callable[[RecordedRequest], JsonDict]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._get_permalink,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        for channel in channels or ():
            self.add_channel(channel)
        self.add_user(bot_user_id, bot_name, is_bot=True)

    # -------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/hooks/{kind}/{team}/{number}/{secret}", self._handle_hook)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        await self._server.start(app)

    async def stop(self) -> None:
        """Close the websockets (a connected client will try to reconnect: close it first)."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutdown")
        await self._server.stop()
        self._waiters.cancel()

    @property
    def port(self) -> int | None:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.root

    @property
    def api_url(self) -> str:
        """slack_sdk's ``base_url`` (it joins the method name to it)."""
        return f"{self.url}/api/"

    # -------------------------------------------------------- state the test controls

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        archived: bool = False,
        member: bool = True,
        private: bool | None = None,
    ) -> None:
        self._removed_channels.discard(channel_id)
        self._channels[channel_id] = _Channel(
            id=channel_id,
            name=name or channel_id.lower(),
            is_private=channel_id.startswith("G") if private is None else private,
            is_im=channel_id.startswith("D"),
            archived=archived,
            member=member,
        )

    def remove_channel(self, channel_id: str) -> None:
        """From now on ``channel_id`` is ``channel_not_found``."""
        self._channels.pop(channel_id, None)
        self._removed_channels.add(channel_id)

    def add_user(
        self, user_id: str, name: str, *, real_name: str | None = None, is_bot: bool = False
    ) -> JsonDict:
        real = real_name or name.capitalize()
        user: JsonDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real,
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": {
                "real_name": real,
                "display_name": name,
                "real_name_normalized": real,
                "display_name_normalized": name,
                "team": self.team_id,
            },
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }
        if is_bot:
            user["profile"]["bot_id"] = self.bot_id
        self._users[user_id] = user
        return user

    def clear_failures(self) -> None:
        """Forget every failure still queued by ``fail_next``: the service is back."""
        self._failures.clear()

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (for ``channel`` only, if given)
        with an error in Slack's shape (see the module docstring)."""
        if status == 429:
            error = error or "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        elif status == 500:
            error = error or "fatal_error"
        elif status not in (502, 503, 504) and not error:
            raise ValueError(
                f"fail_next with status {status} needs an error, e.g. 'not_in_channel'"
            )
        self._failures.append(_Failure(method, error or "", status, retry_after, times, channel))

    def rate_limit(self, channel: str, seconds: float) -> None:
        """Every chat.* call for ``channel`` before ``clock() + seconds`` gets a 429."""
        self._flood_until[channel] = self.clock() + seconds

    # -------------------------------------------------------- what the test reads

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    def messages(self, channel: str) -> list[SentMessage]:
        return list(self._messages.get(channel, []))

    def ephemeral(self, channel: str) -> list[EphemeralMessage]:
        return list(self._ephemeral.get(channel, []))

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        def answered() -> list[RecordedRequest]:
            return [r for r in self.calls(method) if r.status is not None]

        if not await self._waiters.until(lambda: len(answered()) >= count, timeout):
            seen = sorted({r.method for r in self.requests})
            raise TimeoutError(
                f"{len(answered())} of {count} {method} calls answered in {timeout}s; "
                f"methods seen: {seen}"
            )
        return answered()

    async def wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        if not await self._waiters.until(lambda: bool(self._open_sockets()), timeout):
            raise TimeoutError(
                f"no Socket Mode connection in {timeout}s "
                f"(apps.connections.open calls: {len(self.calls('apps.connections.open'))})"
            )

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:  # noqa: ASYNC109
        if not await self._waiters.until(lambda: envelope_id in self.acks, timeout):
            raise TimeoutError(
                f"envelope {envelope_id} not acknowledged in {timeout}s; acked: {sorted(self.acks)}"
            )
        return self.acks[envelope_id]

    # -------------------------------------------------------- payload builders

    def _next_ts(self) -> str:
        micros = next(self._ts_counter) * 100
        return f"{_TS_BASE + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _trigger_id(self) -> str:
        return f"{next(self._counter)}.{zlib.crc32(self.team_id.encode())}.{uuid.uuid4().hex}"

    def _response_url(self, kind: str, hook: _Hook) -> str:
        number = next(self._counter)
        url = f"{self.url}/hooks/{kind}/{self.team_id}/{number}/{uuid.uuid4().hex[:24]}"
        self._hooks[url] = hook
        return url

    def _remember_user(self, user_id: str, user_name: str) -> None:
        if user_id not in self._users:
            self.add_user(user_id, user_name)

    def slash_command_payload(
        self,
        command: str = "/dozor",
        text: str = "",
        *,
        user_id: str = "U1",
        user_name: str = "anna",
        channel_id: str = "C1",
        channel_name: str = "general",
    ) -> dict[str, str]:
        """A slash command as Slack sends it (all strings: form-encode it for HTTP mode)."""
        self._remember_user(user_id, user_name)
        hook = _Hook("commands", channel_id, user_id, None)
        return {
            "token": "fake-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url("commands", hook),
            "trigger_id": self._trigger_id(),
        }

    def app_mention_event(
        self,
        text: str,
        *,
        user: str = "U1",
        channel: str = "C1",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> JsonDict:
        ts = ts or self._next_ts()
        event: JsonDict = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "app_mention",
            "text": text,
            "user": user,
            "ts": ts,
            "blocks": _rich_text(text),
            "team": self.team_id,
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        event.update({"channel": channel, "event_ts": ts})
        self._user_messages[(channel, ts)] = event
        return event

    def event_callback(self, event: JsonDict) -> JsonDict:
        """The Events API wrapper around ``event`` (the HTTP body / the envelope payload)."""
        return {
            "token": "fake-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._counter):010d}",
            "event_time": int(float(event.get("event_ts") or event.get("ts") or _TS_BASE)),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-eyJldCI6ImFwcF9tZW50aW9uIiwidGlkIjoi{uuid.uuid4().hex[:16]}",
        }

    def block_action_payload(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user_id: str = "U1",
        user_name: str = "anna",
        channel_id: str = "C1",
        channel_name: str = "general",
        message_ts: str | None = None,
        block_id: str = "b",
        action_type: str = "button",
        text: str = "Button",
    ) -> JsonDict:
        """A ``block_actions`` payload: a press on a button of the bot's message ``message_ts``
        (default: the last message in ``channel_id``)."""
        self._remember_user(user_id, user_name)
        stored = self._find(channel_id, message_ts) if message_ts else None
        if message_ts is None and self._messages.get(channel_id):
            stored = self._messages[channel_id][-1]
            message_ts = stored.ts
        message_ts = message_ts or self._next_ts()
        action: JsonDict = {"action_id": action_id, "block_id": block_id}
        if action_type == "button":
            action["text"] = {"type": "plain_text", "text": text, "emoji": True}
        if value is not None:
            action["value"] = value
        action.update({"type": action_type, "action_ts": self._next_ts()})
        hook = _Hook("actions", channel_id, user_id, message_ts)
        payload: JsonDict = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user_name,
                "name": user_name,
                "team_id": self.team_id,
            },
            "api_app_id": self.app_id,
            "token": "fake-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel_name},
        }
        if stored is not None:
            payload["message"] = self._message_object(stored)
        payload["state"] = {"values": {}}
        payload["response_url"] = self._response_url("actions", hook)
        payload["actions"] = [action]
        return payload

    # -------------------------------------------------------- Socket Mode

    def _open_sockets(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self._sockets if not ws.closed]

    async def push_envelope(
        self,
        type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = False,
        **extra: Any,
    ) -> str:
        """Send an envelope to the newest connection (waiting for one); its envelope id."""
        await self.wait_connected()
        envelope_id = str(uuid.uuid4())
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
            **extra,
        }
        hook = self._hooks.get(str(payload.get("response_url")))
        if hook is not None:
            hook.envelope_id = envelope_id
        self.envelopes.append(envelope)
        await self._open_sockets()[-1].send_str(json.dumps(envelope, ensure_ascii=False))
        return envelope_id

    async def push_slash_command(
        self,
        command: str = "/dozor",
        text: str = "",
        *,
        user_id: str = "U1",
        user_name: str = "anna",
        channel_id: str = "C1",
        channel_name: str = "general",
    ) -> str:
        payload = self.slash_command_payload(
            command,
            text,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
        )
        return await self.push_envelope("slash_commands", payload, accepts_response_payload=True)

    async def push_event(self, event: JsonDict) -> str:
        return await self.push_envelope(
            "events_api", self.event_callback(event), retry_attempt=0, retry_reason=""
        )

    async def push_app_mention(
        self,
        text: str,
        *,
        user: str = "U1",
        channel: str = "C1",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        event = self.app_mention_event(text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
        return await self.push_event(event)

    async def push_block_action(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user_id: str = "U1",
        user_name: str = "anna",
        channel_id: str = "C1",
        message_ts: str | None = None,
        block_id: str = "b",
    ) -> str:
        payload = self.block_action_payload(
            action_id,
            value,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            message_ts=message_ts,
            block_id=block_id,
        )
        return await self.push_envelope("interactive", payload)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's ``disconnect`` message on every open connection."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        for ws in self._open_sockets():
            await ws.send_json(message)

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._open_sockets()),
                "debug_info": {
                    "host": "applink-fake-1",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._waiters.notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(message.data)
        finally:
            self._sockets.remove(ws)
            self._waiters.notify()
        return ws

    def _on_socket_text(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = {"raw": raw}
        self.socket_messages.append(message)
        if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
            envelope_id = message["envelope_id"]
            self.acks[envelope_id] = Ack(envelope_id, message.get("payload"), self.clock(), raw)
        self._waiters.notify()

    # -------------------------------------------------------- HTTP plumbing

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[JsonDict, str]:
        params: JsonDict = dict(request.query)
        encoding = "query" if params else "none"
        if not request.can_read_body:
            return params, encoding
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise _ApiError("invalid_json") from None
            if not isinstance(body, dict):
                raise _ApiError("json_not_object")
            return {**params, **body}, "json"
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else getattr(value, "filename", "")
            return params, "form" if content_type.startswith("application") else "multipart"
        await request.read()
        return params, "bytes"

    def _record(
        self, request: web.Request, method: str, params: JsonDict, encoding: str
    ) -> RecordedRequest:
        record = RecordedRequest(
            method=method,
            params=params,
            headers=dict(request.headers),
            time=self.clock(),
            http_method=request.method,
            encoding=encoding,
            token=None,
            path=request.path_qs,
        )
        self.requests.append(record)
        return record

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params, encoding = await self._read_params(request)
        except _ApiError as error:
            params, encoding = {}, "invalid"
            record = self._record(request, method, params, encoding)
            return self._error_response(record, error)
        record = self._record(request, method, params, encoding)
        authorization = request.headers.get("Authorization", "")
        token = params.pop("token", None)
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        record.token = token
        try:
            self._check_token(method, token)
            self._check_failures(record)
            handler = self._handlers.get(method)
            if handler is None:
                raise _ApiError("unknown_method", extra={"req_method": method})
            body = {"ok": True, **handler(record)}
        except _ApiError as error:
            return self._error_response(record, error)
        record.status, record.response = 200, body
        self._waiters.notify()
        return web.json_response(body, dumps=_dumps)

    def _error_response(self, record: RecordedRequest, error: _ApiError) -> web.Response:
        record.status = error.status
        if error.html is not None:
            record.response = error.html
            response = web.Response(
                status=error.status,
                text=error.html,
                content_type="text/html",
                headers=error.headers,
            )
        else:
            body: JsonDict = {"ok": False, "error": error.error, **error.extra}
            record.response = body
            response = web.json_response(
                body, status=error.status, headers=error.headers, dumps=_dumps
            )
        self._waiters.notify()
        return response

    def _check_token(self, method: str, token: str | None) -> None:
        if not token:
            raise _ApiError("not_authed")
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token == wanted:
            return
        if token in (self.app_token, self.bot_token):
            raise _ApiError("not_allowed_token_type")
        raise _ApiError("invalid_auth")

    def _check_failures(self, record: RecordedRequest) -> None:
        channel = record.params.get("channel") or record.params.get("channel_id")
        for failure in self._failures:
            if failure.method != record.method or failure.times <= 0:
                continue
            if failure.channel is not None and failure.channel != channel:
                continue
            failure.times -= 1
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            if failure.status in (502, 503, 504) and not failure.error:
                text = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
                page = _GATEWAY_PAGE.format(status=failure.status, reason=text[failure.status])
                raise _ApiError("", status=failure.status, headers=headers, html=page)
            raise _ApiError(failure.error, status=failure.status, headers=headers)
        if record.method in _CHANNEL_METHODS and isinstance(channel, str):
            left = self._flood_until.get(channel, 0.0) - self.clock()
            if left > 0:
                raise _ApiError(
                    "ratelimited", status=429, headers={"Retry-After": str(math.ceil(left))}
                )

    # -------------------------------------------------------- Web API methods

    def _auth_test(self, record: RecordedRequest) -> JsonDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _connections_open(self, record: RecordedRequest) -> JsonDict:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        host = f"{self.host}:{self.port}"
        return {"url": f"ws://{host}/socket?ticket={ticket}&app_id={self.app_id}"}

    def _channel(self, channel_id: str) -> _Channel | None:
        if channel_id in self._channels:
            return self._channels[channel_id]
        if channel_id.startswith("#"):
            for channel in self._channels.values():
                if channel.name == channel_id[1:]:
                    return channel
            return None
        if channel_id[:1] in ("U", "W") and len(channel_id) > 1:
            if channel_id not in self._users:
                self.add_user(channel_id, channel_id.lower())
            dm = "D" + channel_id[1:]
            if dm not in self._channels:
                self.add_channel(dm, dm.lower())
                self._channels[dm].user = channel_id
            return self._channels[dm]
        if self._strict_channels or channel_id in self._removed_channels:
            return None
        if channel_id[:1] in ("C", "G", "D"):
            self.add_channel(channel_id)
            return self._channels[channel_id]
        return None

    def _writable_channel(self, params: JsonDict, key: str = "channel") -> _Channel:
        value = params.get(key)
        channel = self._channel(value) if isinstance(value, str) and value else None
        if channel is None:
            raise _ApiError("channel_not_found")
        if channel.archived:
            raise _ApiError("is_archived")
        if not channel.member:
            raise _ApiError("not_in_channel")
        return channel

    def _content(self, params: JsonDict, *, required: bool = True) -> JsonDict:
        """text / blocks / attachments of a message, checked; only the keys that were sent."""
        content: JsonDict = {}
        if "blocks" in params:
            blocks = _json_param(params, "blocks", "invalid_blocks_format")
            if blocks is not None:
                errors = block_errors(blocks)
                if errors:
                    raise _ApiError(
                        "invalid_blocks",
                        extra={
                            "errors": errors,
                            "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
                        },
                    )
            content["blocks"] = blocks
        if "attachments" in params:
            attachments = _json_param(params, "attachments", "invalid_attachments")
            if attachments is not None and not isinstance(attachments, list):
                raise _ApiError("invalid_attachments")
            content["attachments"] = attachments
        if "text" in params:
            text = params["text"]
            content["text"] = None if text is None else str(text)
        if required and not (
            content.get("text") or content.get("blocks") or content.get("attachments")
        ):
            raise _ApiError("no_text")
        if len(content.get("text") or "") > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        return content

    def _find(self, channel: str, ts: str | None) -> SentMessage | None:
        for message in self._messages.get(channel, []):
            if message.ts == ts and not message.deleted:
                return message
        return None

    def _message_object(self, message: SentMessage) -> JsonDict:
        """The message object Slack returns for a message the bot posted."""
        obj: JsonDict = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": message.ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": message.text or "",
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "icons": {"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
                "deleted": False,
                "updated": 1_700_000_000,
                "team_id": self.team_id,
            },
        }
        if message.blocks:
            obj["blocks"] = message.blocks
        if message.attachments:
            obj["attachments"] = message.attachments
        if message.thread_ts is not None:
            obj["thread_ts"] = message.thread_ts
            obj["parent_user_id"] = self._thread_parent_user(message.channel, message.thread_ts)
        if message.edits:
            obj["edited"] = {"user": self.bot_user_id, "ts": message.ts}
        return obj

    def _thread_parent_user(self, channel: str, thread_ts: str) -> str:
        user_message = self._user_messages.get((channel, thread_ts))
        if user_message is not None:
            return str(user_message.get("user", ""))
        return self.bot_user_id

    def _post_message(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        channel = self._writable_channel(p)
        content = self._content(p)
        message = self._store_message(channel.id, record.time, content, p, "chat.postMessage")
        return {"channel": channel.id, "ts": message.ts, "message": self._message_object(message)}

    def _store_message(
        self, channel: str, at: float, content: JsonDict, p: JsonDict, via: str
    ) -> SentMessage:
        thread_ts = p.get("thread_ts")
        message = SentMessage(
            channel=channel,
            ts=self._next_ts(),
            time=at,
            text=content.get("text"),
            blocks=content.get("blocks"),
            attachments=content.get("attachments"),
            thread_ts=str(thread_ts) if thread_ts else None,
            reply_broadcast=_as_bool(p.get("reply_broadcast")),
            unfurl_links=_as_bool(p.get("unfurl_links")),
            unfurl_media=_as_bool(p.get("unfurl_media")),
            mrkdwn=_as_bool(p.get("mrkdwn")),
            metadata=_json_param(p, "metadata", "invalid_metadata_format"),
            via=via,
        )
        self._messages.setdefault(channel, []).append(message)
        return message

    def _edit(self, message: SentMessage, content: JsonDict, at: float, via: str) -> None:
        if "text" in content:
            message.text = content["text"]
        if "blocks" in content:
            message.blocks = content["blocks"] or None
        if "attachments" in content:
            message.attachments = content["attachments"] or None
        message.edits.append(MessageEdit(at, message.text, message.blocks, via))

    def _update(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        channel = self._writable_channel(p)
        message = self._find(channel.id, p.get("ts"))
        if message is None:
            if (channel.id, p.get("ts")) in self._user_messages:
                raise _ApiError("cant_update_message")
            raise _ApiError("message_not_found")
        content = self._content(p)
        self._edit(message, content, record.time, "chat.update")
        return {
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text or "",
            "message": self._message_object(message),
        }

    def _delete(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        channel = self._writable_channel(p)
        message = self._find(channel.id, p.get("ts"))
        if message is None:
            raise _ApiError("message_not_found")
        message.deleted = True
        return {"channel": channel.id, "ts": message.ts}

    def _post_ephemeral(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        channel = self._writable_channel(p)
        user = p.get("user")
        if not isinstance(user, str) or (user not in self._users and user[:1] not in "UW"):
            raise _ApiError("user_not_in_channel")
        content = self._content(p)
        ts = self._next_ts()
        thread_ts = p.get("thread_ts")
        self._ephemeral.setdefault(channel.id, []).append(
            EphemeralMessage(
                channel=channel.id,
                user=user,
                ts=ts,
                time=record.time,
                text=content.get("text"),
                blocks=content.get("blocks"),
                thread_ts=str(thread_ts) if thread_ts else None,
                via="chat.postEphemeral",
            )
        )
        return {"message_ts": ts}

    def _get_permalink(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        channel = self._channel(str(p.get("channel") or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        ts = str(p.get("message_ts") or "")
        message = self._find(channel.id, ts)
        if message is None and (channel.id, ts) not in self._user_messages:
            raise _ApiError("message_not_found")
        permalink = (
            f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        )
        if message is not None and message.thread_ts:
            permalink += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": permalink}

    def _conversations_info(self, record: RecordedRequest) -> JsonDict:
        channel = self._channel(str(record.params.get("channel") or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        info: JsonDict = {"id": channel.id, "created": 1_700_000_000}
        if channel.is_im:
            info.update({"is_im": True, "user": channel.user or "", "is_user_deleted": False})
        else:
            info.update(
                {
                    "name": channel.name,
                    "is_channel": not channel.is_private,
                    "is_group": channel.is_private,
                    "is_im": False,
                    "is_mpim": False,
                    "is_private": channel.is_private,
                    "is_archived": channel.archived,
                    "is_general": channel.name == "general",
                    "is_shared": False,
                    "is_ext_shared": False,
                    "is_org_shared": False,
                    "is_member": channel.member,
                    "name_normalized": channel.name,
                    "creator": "U0CREATOR",
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": "", "creator": "", "last_set": 0},
                    "previous_names": [],
                }
            )
        return {"channel": info}

    def _users_info(self, record: RecordedRequest) -> JsonDict:
        user_id = str(record.params.get("user") or "")
        user = self._users.get(user_id)
        if user is None:
            if user_id[:1] not in ("U", "W") or len(user_id) < 2:
                raise _ApiError("user_not_found")
            user = self.add_user(user_id, user_id.lower())
        return {"user": user}

    def _get_upload_url(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        filename = p.get("filename")
        try:
            length = int(p.get("length"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _ApiError("invalid_arguments") from None
        if not filename:
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._counter):010d}"
        self.files[file_id] = UploadedFile(file_id, str(filename), length)
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        items = _json_param(p, "files", "invalid_arguments")
        if not isinstance(items, list) or not items:
            raise _ApiError("invalid_arguments")
        channel_id = p.get("channel_id") or p.get("channels")
        channel = self._writable_channel({"channel": channel_id}) if channel_id else None
        result: list[JsonDict] = []
        for item in items:
            uploaded = self.files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if uploaded is None or uploaded.data is None:
                raise _ApiError("file_not_found")
            uploaded.title = item.get("title") or uploaded.filename
            uploaded.channel = channel.id if channel else None
            uploaded.initial_comment = p.get("initial_comment")
            uploaded.thread_ts = p.get("thread_ts")
            uploaded.completed = True
            result.append(
                {
                    "id": uploaded.id,
                    "created": 1_700_000_000,
                    "name": uploaded.filename,
                    "title": uploaded.title,
                    "mimetype": "application/octet-stream",
                    "size": len(uploaded.data),
                    "user": self.bot_user_id,
                    "url_private": f"https://files.slack.com/files-pri/{self.team_id}-"
                    f"{uploaded.id}/{uploaded.filename}",
                }
            )
        return {"files": result}

    # -------------------------------------------------------- upload URL and response_url

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        record = self._record(request, "files.upload", {}, "bytes")
        uploaded = self.files.get(request.match_info["file_id"])
        if uploaded is None:
            record.status, record.response = 404, "file not found"
            self._waiters.notify()
            return web.Response(status=404, text="file not found")
        uploaded.data = data
        text = f"OK - {len(data)}"
        record.status, record.response = 200, text
        self._waiters.notify()
        return web.Response(text=text, content_type="text/plain")

    async def _handle_hook(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        url = f"{self.url}{request.path}"
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        record = self._record(
            request, "response_url", payload if isinstance(payload, dict) else {}, "json"
        )
        hook = self._hooks.get(url)
        status, text = 200, "ok"
        if hook is None:
            status, text = 404, "no_service"
        elif not isinstance(payload, dict):
            status, text = 400, "invalid_payload"
        else:
            try:
                self._apply_response(hook, payload, record.time)
            except _ApiError as error:
                status, text = 400, error.error
        if isinstance(payload, dict) and hook is not None:
            self.responses.append(
                ResponsePost(url, hook.kind, hook.envelope_id, payload, record.time, status)
            )
        record.status, record.response = status, text
        self._waiters.notify()
        return web.Response(status=status, text=text, content_type="text/html")

    def _apply_response(self, hook: _Hook, payload: JsonDict, at: float) -> None:
        original = self._find(hook.channel, hook.message_ts) if hook.message_ts else None
        if _as_bool(payload.get("delete_original")):
            if original is not None:
                original.deleted = True
            return
        content = self._content(payload)
        if _as_bool(payload.get("replace_original")) and original is not None:
            self._edit(original, content, at, "response_url")
        elif payload.get("response_type") == "in_channel":
            self._store_message(hook.channel, at, content, payload, "response_url")
        else:
            thread_ts = payload.get("thread_ts")
            self._ephemeral.setdefault(hook.channel, []).append(
                EphemeralMessage(
                    channel=hook.channel,
                    user=hook.user,
                    ts=self._next_ts(),
                    time=at,
                    text=content.get("text"),
                    blocks=content.get("blocks"),
                    thread_ts=str(thread_ts) if thread_ts else None,
                    via="response_url",
                )
            )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
