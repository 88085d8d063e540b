"""A real HTTP server on 127.0.0.1 that plays the Telegram Bot API, for adapter and e2e tests.

The real python-telegram-bot client (or any HTTP client) talks to it over real sockets;
requests go to ``<api_root>/bot<token>/<method>``, files to ``<api_root>/file/bot<token>/<path>``.

    async with FakeTelegram(token="123:ABC", username="dozor_test_bot") as fake:
        app = (Application.builder().token("123:ABC")
               .base_url(fake.base_url)            # f"{fake.api_root}/bot"
               .base_file_url(fake.base_file_url)  # f"{fake.api_root}/file/bot"
               .build())                           # Dozor: [telegram] api_base_url = fake.api_root
        fake.fail_next("sendMessage", 429, retry_after=3)   # next send: RetryAfter(3)
        fake.push_command(-100123, "/help", chat_type="supergroup")
        await fake.wait_for("sendMessage", count=2)         # no sleeps
        assert fake.messages(-100123)[-1].text == "..."

Test-facing API:

- ``FakeTelegram(token=..., username="dozor_test_bot", *, clock=time.monotonic,
  strict_entities=True)``; ``api_root`` (alias ``url``), ``base_url``, ``base_file_url``.
- ``requests``: every ``RecordedRequest(method, params, files, time, encoding, token,
  http_method, status, response)``; ``time`` is ``clock()`` on arrival, ``status`` is None
  until answered (a long poll) or if the client went away. ``calls(method)`` filters by method.
  A request's effects (stored message, edit) are visible by the time any other task runs.
- ``messages(chat_id)``: the ``SentMessage`` records the bot sent to a chat, oldest first
  (message_id, text, parse_mode, reply_markup, message_thread_id, disable_notification,
  link_preview_options, disable_web_page_preview, reply_to_message_id, caption, file,
  ``edits``: one ``MessageEdit`` per successful edit; the fields hold the latest state).
- ``push_update(update)`` queues a raw Update (``update_id`` assigned when missing) for
  ``getUpdates``; ``push_command(chat_id, text, *, user_id, username, chat_type,
  message_thread_id, reply_to_message_id)`` and ``push_callback(chat_id, message_id, data,
  *, user_id, username)`` build real-shaped ones and return them. ``pending_updates()``:
  what no ``offset`` has confirmed yet.
- ``fail_next(method, status, *, description, retry_after, migrate_to_chat_id, times,
  chat_id)`` answers the next ``times`` matching calls with the real error shape (429 +
  ``parameters.retry_after``, 403 kicked, 400 chat not found, 400 + ``migrate_to_chat_id``,
  500 JSON, 502 an nginx HTML page unless a description is given). ``rate_limit(chat_id,
  retry_after)`` opens an honest flood window: every send/edit to that chat before
  ``clock() + retry_after`` gets 429 with the seconds still left.
- ``await wait_for(method, count=1, timeout=5.0)`` returns the calls once ``count`` have
  arrived; raises ``TimeoutError`` naming the methods seen otherwise.
- ``parse_html(text)`` (the checker, usable alone) returns the visible text or raises
  ``HtmlEntityError`` with Telegram's wording.

Methods: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo, set/get/
deleteMyCommands (per scope + language_code), sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery (ids pushed here only), sendDocument, sendPhoto,
sendMediaGroup (an album: URLs, file ids or multipart ``attach://`` uploads; one message per
item sharing ``media_group_id``), editMessageCaption, getFile (+ download), close, logOut.
``refuse_urls(prefix, description)`` makes photos sent by such URLs fail as Telegram does
when it cannot fetch them; ``RecordedRequest.size`` is the body's length in bytes.
Others: 404 "Not Found: method not found"; a wrong token: 401 "Unauthorized" (a malformed
one: 404), as Telegram answers.

Behaviour: JSON, form-encoded and multipart bodies and query strings are accepted (form
values are decoded like the real server: ``"123"`` -> 123, ``'{"a":1}'`` -> dict, except
text-like fields). ``getUpdates`` honours ``offset`` (confirms earlier updates; negative:
the last N), ``limit`` and ``timeout`` (a real long poll, woken by a push); a newer
``getUpdates`` ends a waiting one with 409 as Telegram does; with a webhook set it is 409.
``parse_mode="HTML"`` is checked like TDLib's parser (tags, attributes, nesting, byte
offsets in the messages) and the visible text must be 1..4096 UTF-16 units (captions 1024).
With ``strict_entities`` (default) an ``&`` that is not ``&lt; &gt; &amp; &quot; &#N; &#xN;``
is a 400 too: Telegram would show it literally, which is a renderer bug worth failing on;
that message is the fake's own. Sent messages echo the text as sent (no entity parsing);
only inline keyboards are echoed as ``reply_markup``; photos have width/height 0.
Markdown modes are not checked. Edits that change nothing get Telegram's "message is not
modified" 400; editMessageText without ``reply_markup`` drops the keyboard, as Telegram does.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer, Waiters

__all__ = [
    "FakeTelegram",
    "HtmlEntityError",
    "MessageEdit",
    "RecordedRequest",
    "SentMessage",
    "UploadedFile",
    "parse_html",
]

JsonDict = dict[str, Any]
ChatKey = int | str

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

_TOKEN_RE = re.compile(r"^\d+:[\w-]+$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# Form fields that stay strings even when they look like JSON (text "123" is text).
_STRING_PARAMS = frozenset(
    "text caption parse_mode callback_query_id inline_message_id url secret_token ip_address "
    "language_code description short_description name title business_connection_id "
    "message_effect_id file_id emoji first_name last_name username question explanation "
    "photo document".split()
)
_SENDING_METHODS = frozenset(
    "sendmessage senddocument sendphoto sendmediagroup editmessagetext editmessagecaption "
    "editmessagereplymarkup".split()
)
_URL_REFUSED = "Bad Request: wrong file identifier/HTTP URL specified"
_HTML_TAGS = frozenset(
    "a b strong i em u ins s strike del code pre span tg-spoiler tg-emoji blockquote".split()
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_DEFAULT_ERRORS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was kicked from the group chat",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    500: "Internal Server Error",
}
_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    method: str  # canonical Bot API name, e.g. "sendMessage" (as sent if unknown)
    params: JsonDict  # decoded parameters (query + body), file fields excluded
    files: dict[str, UploadedFile]
    time: float  # clock() when the request arrived
    encoding: str  # "json" | "form" | "multipart" | "query" | "none"
    token: str
    http_method: str
    status: int | None = None  # None while answering, or if the client went away
    response: JsonDict | None = None
    size: int = 0  # bytes of the request body


@dataclass(frozen=True)
class MessageEdit:
    time: float
    text: str | None
    parse_mode: str | None
    reply_markup: JsonDict | None


@dataclass
class SentMessage:
    chat_id: ChatKey
    message_id: int
    chat: JsonDict
    date: int
    time: float
    text: str | None = None
    parse_mode: str | None = None
    reply_markup: JsonDict | None = None
    message_thread_id: int | None = None
    disable_notification: bool | None = None
    link_preview_options: JsonDict | None = None
    disable_web_page_preview: bool | None = None
    reply_to_message_id: int | None = None
    caption: str | None = None
    file: UploadedFile | str | None = None  # the upload, or the file_id / URL sent
    media: JsonDict | None = None  # {"document": {...}} or {"photo": [...]}
    media_group_id: str | None = None  # the album a photo of sendMediaGroup belongs to
    edit_date: int | None = None
    edits: list[MessageEdit] = field(default_factory=list)

    def to_api(self, bot_user: JsonDict) -> JsonDict:
        """The Message object Telegram would return for this message."""
        message: JsonDict = {"message_id": self.message_id}
        if self.chat["type"] == "channel":
            message["sender_chat"] = self.chat
        else:
            message["from"] = bot_user
        message["chat"] = self.chat
        message["date"] = self.date
        if self.message_thread_id is not None:
            message["message_thread_id"] = self.message_thread_id
            if self.chat["type"] == "supergroup":
                message["is_topic_message"] = True
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.text is not None:
            message["text"] = self.text
        if self.media:
            message.update(self.media)
        if self.media_group_id is not None:
            message["media_group_id"] = self.media_group_id
        if self.caption is not None:
            message["caption"] = self.caption
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = self.reply_markup
        return message


@dataclass
class _Failure:
    method: str  # lower-case
    status: int
    description: str | None
    retry_after: int | None
    migrate_to_chat_id: int | None
    times: int
    chat_id: ChatKey | None


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JsonDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class HtmlEntityError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's (TDLib's) wording."""


# ---------------------------------------------------------------- HTML entity parsing


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """TDLib's lenient decoding of an entity at ``text[i] == "&"``: (char, next index)."""
    n, j = len(text), i + 1
    if j < n and text[j] == "#":
        j += 1
        hexadecimal = j < n and text[j] == "x"
        if hexadecimal:
            j += 1
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        start = j
        while j < n and text[j] in digits:
            j += 1
        value = int(text[start:j], 16 if hexadecimal else 10) if j > start else 0
        if value == 0 or value >= 0x10FFFF or j - i >= 10:
            return None
        char = chr(value)
    else:
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        named = _NAMED_ENTITIES.get(text[i + 1 : j])
        if named is None:
            return None
        char = named
    if j < n and text[j] == ";":
        return char, j + 1
    return char, j


def _entity(text: str, i: int, strict: bool) -> tuple[str, int] | None:
    decoded = _decode_entity(text, i)
    if strict and (decoded is None or text[decoded[1] - 1] != ";"):
        raise HtmlEntityError(
            f'Unescaped "&" at byte offset {_offset(text, i)} (fake strict mode: write &amp;)'
        )
    return decoded


def parse_html(text: str, *, strict_entities: bool = True) -> str:
    """The visible text of Telegram HTML ``text``, or ``HtmlEntityError`` as Telegram says it.

    Follows TDLib's ``parse_html`` (the server behind the Bot API): supported tags, attribute
    syntax, nesting and the byte offsets in its error messages.
    """
    out: list[str] = []
    stack: list[str] = []
    n, i = len(text), 0
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _entity(text, i, strict_entities)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            i = _end_tag(text, i + 1, begin, stack)
        else:
            i = _start_tag(text, i, begin, stack, strict_entities)
    if stack:
        raise HtmlEntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    visible = "".join(out)
    if any("\ud800" <= c <= "\udfff" for c in visible):
        raise HtmlEntityError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return visible


def _end_tag(text: str, i: int, begin: int, stack: list[str]) -> int:
    n = len(text)
    if not stack:
        raise HtmlEntityError(f"Unexpected end tag at byte offset {_offset(text, begin)}")
    start = i
    while i < n and not text[i].isspace() and text[i] != ">":
        i += 1
    name = text[start:i]
    while i < n and text[i].isspace():
        i += 1
    if i >= n or text[i] != ">":
        raise HtmlEntityError(f"Unclosed end tag at byte offset {_offset(text, begin)}")
    expected = stack.pop()
    if name and name != expected:
        raise HtmlEntityError(
            f"Unmatched end tag at byte offset {_offset(text, begin)}, "
            f'expected "</{expected}>", found "</{name}>"'
        )
    return i + 1


def _start_tag(text: str, i: int, begin: int, stack: list[str], strict: bool) -> int:
    n, at = len(text), _offset(text, begin)
    start = i
    while i < n and not text[i].isspace() and text[i] != ">":
        i += 1
    if i >= n:
        raise HtmlEntityError(f"Unclosed start tag at byte offset {at}")
    tag = text[start:i].lower()
    if tag not in _HTML_TAGS:
        raise HtmlEntityError(f'Unsupported start tag "{tag}" at byte offset {at}')
    unclosed = f'Unclosed start tag "{tag}" at byte offset {at}'
    css_class = ""
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise HtmlEntityError(unclosed)
        if text[i] == ">":
            break
        name_start = i
        while i < n and not text[i].isspace() and text[i] not in "=>":
            i += 1
        attribute = text[name_start:i]
        if not attribute:
            raise HtmlEntityError(f'Empty attribute name in the tag "{tag}" at byte offset {at}')
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise HtmlEntityError(unclosed)
        if text[i] != "=":
            continue  # an attribute without a value, e.g. <blockquote expandable>
        i += 1
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise HtmlEntityError(unclosed)
        value, i = _attribute_value(text, i, at, strict)
        if tag == "span" and attribute == "class":
            css_class = value
    if tag == "span" and css_class != "tg-spoiler":
        raise HtmlEntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    stack.append(tag)
    return i + 1


def _attribute_value(text: str, i: int, at: int, strict: bool) -> tuple[str, int]:
    n = len(text)
    if text[i] not in "'\"":  # a name token: letters, digits, periods, hyphens
        start = i
        while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
            i += 1
        if i >= n or (not text[i].isspace() and text[i] != ">"):
            raise HtmlEntityError(
                f"Unexpected end of name token at byte offset {_offset(text, start)}"
            )
        return text[start:i].lower(), i
    quote, i = text[i], i + 1
    value: list[str] = []
    while i < n and text[i] != quote:
        if text[i] == "&":
            decoded = _entity(text, i, strict)
            if decoded is not None:
                value.append(decoded[0])
                i = decoded[1]
                continue
        value.append(text[i])
        i += 1
    if i >= n:
        raise HtmlEntityError(f"Unclosed start tag at byte offset {at}")
    return "".join(value), i + 1


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---------------------------------------------------------------- helpers


def _chat_key(value: Any) -> ChatKey:
    if isinstance(value, bool):
        raise _ApiError(400, "Bad Request: chat not found")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if not text:
        raise _ApiError(400, "Bad Request: chat_id is empty")
    return text


def _decode_value(name: str, value: str) -> Any:
    """Form values arrive as strings; PTB JSON-encodes every non-string parameter."""
    if name in _STRING_PARAMS or not value:
        return value
    if value in ("true", "false") or value[0] in "-0123456789[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, "Bad Request: invalid parameter") from None


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _user(user_id: int, username: str | None) -> JsonDict:
    user: JsonDict = {
        "id": user_id,
        "is_bot": False,
        "first_name": (username or "Test").capitalize(),
    }
    if username:
        user["username"] = username
    user["language_code"] = "en"
    return user


# ---------------------------------------------------------------- the server


class FakeTelegram:
    """The Telegram Bot API on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        token: str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
        username: str = "dozor_test_bot",
        *,
        clock: Callable[[], float] = time.monotonic,
        strict_entities: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        if not _TOKEN_RE.match(token):
            raise ValueError(f"a bot token looks like '123:ABC', not {token!r}")
        self.token = token
        self.username = username
        self.clock = clock
        self.strict_entities = strict_entities
        self.host = host
        self._server = LocalServer("FakeTelegram", host)
        self.requests: list[RecordedRequest] = []
        self.webhook_url = ""
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.bot_user: JsonDict = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Dozor Test",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._updates: list[JsonDict] = []
        self._next_update_id = 100_000_001
        self._messages: dict[ChatKey, list[SentMessage]] = {}
        self._next_message_id: dict[ChatKey, int] = {}
        self._chats: dict[ChatKey, JsonDict] = {}
        self._callback_ids: set[str] = set()
        self._next_callback = 0
        self._files: dict[str, tuple[UploadedFile, str]] = {}  # file_id -> (file, path)
        self._failures: list[_Failure] = []
        self._flood_until: dict[ChatKey, float] = {}
        self._refused_urls: dict[str, str] = {}  # URL prefix -> Telegram's error
        self._next_group = 13_000_000_000_000_000
        self._delays: dict[ChatKey, float] = {}
        self._waiters = Waiters()
        self._poll_generation = 0
        self._closing = False
        self._handlers: dict[str, tuple[str, Callable[[RecordedRequest], Awaitable[Any]]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "sendMediaGroup": self._send_media_group,
                "editMessageCaption": self._edit_message_caption,
                "getFile": self._get_file,
                "close": self._true,
                "logOut": self._true,
            }.items()
        }

    # -------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeTelegram:
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
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a long poll whose client hung up stops waiting.
        await self._server.start(app, handler_cancellation=True)

    async def stop(self) -> None:
        self._closing = True
        self._waiters.notify()
        await self._server.stop()

    @property
    def port(self) -> int | None:
        return self._server.port

    @property
    def api_root(self) -> str:
        """What Dozor's ``[telegram] api_base_url`` should be: ``http://127.0.0.1:PORT``."""
        return self._server.root

    url = api_root

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url`` (it appends the token)."""
        return f"{self.api_root}/bot"

    @property
    def base_file_url(self) -> str:
        """python-telegram-bot's ``base_file_url`` (it appends the token)."""
        return f"{self.api_root}/file/bot"

    # -------------------------------------------------------- test-facing API

    def calls(self, method: str) -> list[RecordedRequest]:
        wanted = method.lower()
        return [r for r in self.requests if r.method.lower() == wanted]

    def messages(self, chat_id: int | str) -> list[SentMessage]:
        return list(self._messages.get(_chat_key(chat_id), []))

    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by an ``offset``."""
        return list(self._updates)

    def push_update(self, update: JsonDict) -> JsonDict:
        update = dict(update)
        if "update_id" in update:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        self._updates.append(update)
        self._waiters.notify()
        return update

    def push_command(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        username: str | None = "tester",
        chat_type: str = "group",
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JsonDict:
        """A user's message (a ``bot_command`` entity when ``text`` starts with "/")."""
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"chat_type must be private, group or supergroup, not {chat_type!r}")
        key = _chat_key(chat_id)
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 1001
        chat: JsonDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat.update(_user(user_id, username))
            chat = {k: chat[k] for k in ("id", "first_name", "username", "type") if k in chat}
        else:
            chat["title"] = "Dozor test group"
            if chat_type == "supergroup" and message_thread_id is not None:
                chat["is_forum"] = True
        self._chats[key] = chat
        message: JsonDict = {
            "message_id": self._allocate_message_id(key),
            "from": _user(user_id, username),
            "chat": chat,
            "date": int(time.time()),
        }
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        if reply_to_message_id is not None:
            message["reply_to_message"] = self._message_object(key, reply_to_message_id)
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_length(command)}
            ]
        return self.push_update({"message": message})

    def push_document(
        self,
        chat_id: int,
        data: bytes,
        filename: str,
        *,
        caption: str | None = None,
        user_id: int | None = None,
        username: str | None = "tester",
        chat_type: str = "group",
        mime_type: str = "application/octet-stream",
    ) -> JsonDict:
        """A user sends a file (``getFile`` and the download then serve ``data``), with
        ``caption`` (a ``bot_command`` caption entity when it starts with "/")."""
        update = self.push_command(
            chat_id, "", user_id=user_id, username=username, chat_type=chat_type
        )
        message = update["message"]
        del message["text"]
        message.pop("entities", None)
        number = len(self._files) + 1
        file_id = f"BQACAgIAAxkBAAI{number:08d}userdoc"
        suffix = "." + filename.rsplit(".", 1)[-1] if "." in filename else ""
        self._files[file_id] = (
            UploadedFile("document", filename, mime_type, data),
            f"documents/file_{number}{suffix}",
        )
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{zlib.crc32(file_id.encode()):x}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        if caption is not None:
            message["caption"] = caption
            if caption.startswith("/"):
                command = caption.split(maxsplit=1)[0]
                message["caption_entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_length(command)}
                ]
        return update

    def push_callback(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int = 1001,
        username: str | None = "tester",
    ) -> JsonDict:
        """A press on an inline button of message ``message_id`` in ``chat_id``."""
        key = _chat_key(chat_id)
        self._next_callback += 1
        query_id = str(4_382_000_000_000_000_000 + self._next_callback)
        self._callback_ids.add(query_id)
        query = {
            "id": query_id,
            "from": _user(user_id, username),
            "message": self._message_object(key, message_id),
            "chat_instance": str(-(zlib.crc32(str(key).encode()) * 1_000_003 + 7)),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def clear_failures(self) -> None:
        """Forget every failure still queued by ``fail_next``: the service is back."""
        self._failures.clear()

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id`` if given) with an error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.append(
            _Failure(
                method.lower(),
                status,
                description,
                retry_after,
                migrate_to_chat_id,
                times,
                None if chat_id is None else _chat_key(chat_id),
            )
        )

    def refuse_urls(self, prefix: str, description: str = _URL_REFUSED) -> None:
        """Photos sent by a URL starting with ``prefix`` get 400 ``description`` (Telegram
        could not fetch them: "wrong file identifier/HTTP URL specified", "failed to get
        HTTP URL content"); uploads are taken."""
        self._refused_urls[prefix] = description

    def slow(self, chat_id: int | str, seconds: float) -> None:
        """Answer every call naming ``chat_id`` only after ``seconds`` (a slow network
        path or an overloaded chat); 0 makes it fast again."""
        self._delays[_chat_key(chat_id)] = seconds

    def rate_limit(self, chat_id: int | str, retry_after: float) -> None:
        """Flood control: sends and edits to ``chat_id`` get 429 until ``retry_after`` passed."""
        self._flood_until[_chat_key(chat_id)] = self.clock() + retry_after

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        if not await self._waiters.until(lambda: len(self.calls(method)) >= count, timeout):
            seen = sorted({r.method for r in self.requests})
            raise TimeoutError(
                f"expected {count} {method} call(s) within {timeout}s, "
                f"got {len(self.calls(method))}; methods seen: {seen}"
            )
        return self.calls(method)

    # -------------------------------------------------------- plumbing

    def _allocate_message_id(self, key: ChatKey) -> int:
        message_id = self._next_message_id.get(key, 1)
        self._next_message_id[key] = message_id + 1
        return message_id

    def _chat(self, key: ChatKey) -> JsonDict:
        if key not in self._chats:
            if isinstance(key, str):
                name = key.lstrip("@")
                chat_id = -1_001_000_000_000 - zlib.crc32(name.encode()) % 1_000_000
                chat = {"id": chat_id, "title": name, "username": name, "type": "channel"}
            elif key > 0:
                chat = {"id": key, "first_name": f"User{key}", "type": "private"}
            elif str(key).startswith("-100"):
                chat = {"id": key, "title": f"Supergroup {key}", "type": "supergroup"}
            else:
                chat = {"id": key, "title": f"Group {key}", "type": "group"}
            self._chats[key] = chat
        return self._chats[key]

    def _find(self, key: ChatKey, message_id: int) -> SentMessage | None:
        for message in self._messages.get(key, []):
            if message.message_id == message_id:
                return message
        return None

    def _message_object(self, key: ChatKey, message_id: int) -> JsonDict:
        sent = self._find(key, message_id)
        if sent is not None:
            return sent.to_api(self.bot_user)
        return {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chat(key),
            "date": int(time.time()),
        }

    async def _read_params(
        self, request: web.Request
    ) -> tuple[JsonDict, dict[str, UploadedFile], str]:
        params: JsonDict = {k: _decode_value(k, v) for k, v in request.query.items()}
        files: dict[str, UploadedFile] = {}
        encoding = "query" if params else "none"
        content_type = request.content_type
        if content_type == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _ApiError(400, "Bad Request: can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _ApiError(400, "Bad Request: can't parse JSON object")
                params.update(body)
            encoding = "json"
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = UploadedFile(
                        name, value.filename, value.content_type, value.file.read()
                    )
                elif isinstance(value, bytes | bytearray):
                    params[name] = _decode_value(name, value.decode("utf-8", "replace"))
                else:
                    params[name] = _decode_value(name, value)
            encoding = "form" if content_type.startswith("application/") else "multipart"
        return params, files, encoding

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")
        if len(parts) >= 4 and parts[1] == "file" and parts[2].startswith("bot"):
            return self._download(parts[2][3:], "/".join(parts[3:]))
        if len(parts) != 3 or not parts[1].startswith("bot"):
            return _json(404, _error_body(404, "Not Found"))
        token, method_name = parts[1][3:], parts[2]
        canonical, handler = self._handlers.get(method_name.lower(), (method_name, None))
        try:
            params, files, encoding = await self._read_params(request)
        except _ApiError as error:
            return _json(error.status, _error_body(error.status, error.description))
        record = RecordedRequest(
            canonical,
            params,
            files,
            self.clock(),
            encoding,
            token,
            request.method,
            size=request.content_length or 0,
        )
        self.requests.append(record)
        self._waiters.notify()
        if delay := self._delay(params):  # (no await otherwise: waiters see it answered)
            await asyncio.sleep(delay)
        status, body = await self._answer(record, handler)
        record.status, record.response = status, body
        if status == 502 and body is None:
            return web.Response(status=502, text=_NGINX_502, content_type="text/html")
        return _json(status, body)

    async def _answer(
        self,
        record: RecordedRequest,
        handler: Callable[[RecordedRequest], Awaitable[Any]] | None,
    ) -> tuple[int, Any]:
        try:
            if not _TOKEN_RE.match(record.token):
                raise _ApiError(404, "Not Found")
            if record.token != self.token:
                raise _ApiError(401, "Unauthorized")
            self._injected_failure(record)
            self._flood_control(record)
            if handler is None:
                raise _ApiError(404, "Not Found: method not found")
            return 200, {"ok": True, "result": await handler(record)}
        except _ApiError as error:
            if error.status == 502 and error.description == "":
                return 502, None
            return error.status, _error_body(error.status, error.description, error.parameters)

    def _delay(self, params: JsonDict) -> float:
        try:
            return self._delays.get(_chat_key(params.get("chat_id", "")), 0.0)
        except _ApiError:
            return 0.0

    def _injected_failure(self, record: RecordedRequest) -> None:
        method = record.method.lower()
        for failure in self._failures:
            if failure.method != method:
                continue
            if failure.chat_id is not None:
                if "chat_id" not in record.params:
                    continue
                if _chat_key(record.params["chat_id"]) != failure.chat_id:
                    continue
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            raise _failure_error(failure)

    def _flood_control(self, record: RecordedRequest) -> None:
        if record.method.lower() not in _SENDING_METHODS or "chat_id" not in record.params:
            return
        until = self._flood_until.get(_chat_key(record.params["chat_id"]))
        if until is None:
            return
        left = until - self.clock()
        if left > 0:
            seconds = max(1, math.ceil(left))
            raise _ApiError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )

    def _download(self, token: str, path: str) -> web.Response:
        if token != self.token:
            return _json(401, _error_body(401, "Unauthorized"))
        for uploaded, file_path in self._files.values():
            if file_path == path:
                return web.Response(
                    body=uploaded.data,
                    content_type=uploaded.content_type or "application/octet-stream",
                )
        return _json(404, _error_body(404, "Not Found"))

    # -------------------------------------------------------- methods

    async def _true(self, record: RecordedRequest) -> bool:
        return True

    async def _get_me(self, record: RecordedRequest) -> JsonDict:
        return self.bot_user

    async def _get_updates(self, record: RecordedRequest) -> list[JsonDict]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        p = record.params
        offset = _as_int(p.get("offset"), 0)
        limit = min(max(_as_int(p.get("limit"), 100), 1), 100)
        try:
            timeout = max(0.0, float(p.get("timeout") or 0))
        except (TypeError, ValueError):
            raise _ApiError(400, "Bad Request: invalid parameter") from None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._waiters.notify()  # an older long poll ends with 409
        if not self._updates and timeout > 0 and not self._closing:
            await self._waiters.until(
                lambda: bool(self._updates) or self._poll_generation != generation or self._closing,
                timeout,
            )
            if self._poll_generation != generation:
                raise _ApiError(409, _DEFAULT_ERRORS[409])
        return self._updates[:limit]

    async def _set_webhook(self, record: RecordedRequest) -> bool:
        url = str(record.params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self.webhook_url = url
        if _as_bool(record.params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    async def _delete_webhook(self, record: RecordedRequest) -> bool:
        self.webhook_url = ""
        if _as_bool(record.params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, record: RecordedRequest) -> JsonDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: JsonDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, record: RecordedRequest) -> bool:
        commands = record.params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, 'Bad Request: parameter "commands" is required')
        if len(commands) > 100:
            raise _ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.match(
                str(command.get("command", ""))
            ):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(record.params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, record: RecordedRequest) -> list[JsonDict]:
        return self.commands.get(self._commands_key(record.params), [])

    async def _delete_my_commands(self, record: RecordedRequest) -> bool:
        self.commands.pop(self._commands_key(record.params), None)
        return True

    def _target_chat(self, params: JsonDict) -> ChatKey:
        if params.get("chat_id") in (None, ""):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        return _chat_key(params["chat_id"])

    def _check_text(self, text: Any, parse_mode: Any, *, caption: bool = False) -> None:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        mode = str(parse_mode or "").lower()
        if mode not in ("", "html", "markdown", "markdownv2"):
            raise _ApiError(400, "Bad Request: unsupported parse_mode")
        visible = text
        if mode == "html":
            try:
                visible = parse_html(text, strict_entities=self.strict_entities)
            except HtmlEntityError as error:
                raise _ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        visible = visible.strip()
        if caption:
            if _utf16_length(visible) > MAX_CAPTION_LENGTH:
                raise _ApiError(400, "Bad Request: message caption is too long")
            return
        if not visible:
            raise _ApiError(400, "Bad Request: message text is empty")
        if _utf16_length(visible) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")

    @staticmethod
    def _check_markup(markup: Any) -> JsonDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= (
                    MAX_CALLBACK_DATA_BYTES
                ):
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _store(self, key: ChatKey, record: RecordedRequest, **fields: Any) -> SentMessage:
        p = record.params
        reply_to = p.get("reply_to_message_id")
        if isinstance(p.get("reply_parameters"), dict):
            reply_to = p["reply_parameters"].get("message_id")
        thread = p.get("message_thread_id")
        message = SentMessage(
            chat_id=key,
            message_id=self._allocate_message_id(key),
            chat=self._chat(key),
            date=int(time.time()),
            time=record.time,
            parse_mode=p.get("parse_mode"),
            reply_markup=p.get("reply_markup"),  # checked by the caller
            message_thread_id=None if thread is None else _as_int(thread, 0),
            disable_notification=_as_bool(p.get("disable_notification")),
            link_preview_options=p.get("link_preview_options"),
            disable_web_page_preview=_as_bool(p.get("disable_web_page_preview")),
            reply_to_message_id=None if reply_to is None else _as_int(reply_to, 0),
            **fields,
        )
        self._messages.setdefault(key, []).append(message)
        return message

    async def _send_message(self, record: RecordedRequest) -> JsonDict:
        p = record.params
        key = self._target_chat(p)
        self._check_text(p.get("text"), p.get("parse_mode"))
        self._check_markup(p.get("reply_markup"))
        return self._store(key, record, text=str(p["text"])).to_api(self.bot_user)

    async def _send_document(self, record: RecordedRequest) -> JsonDict:
        return self._send_file(record, "document")

    async def _send_photo(self, record: RecordedRequest) -> JsonDict:
        return self._send_file(record, "photo")

    def _send_file(self, record: RecordedRequest, kind: str) -> JsonDict:
        p = record.params
        key = self._target_chat(p)
        source: UploadedFile | str | None = record.files.get(kind)
        if source is None and isinstance(p.get(kind), str) and p[kind].startswith("attach://"):
            source = record.files.get(p[kind].removeprefix("attach://"))
        if source is None and p.get(kind) not in (None, ""):
            source = str(p[kind])  # a file_id or URL
        if source is None:
            raise _ApiError(400, f"Bad Request: there is no {kind} in the request")
        self._check_url(source)
        if p.get("caption") is not None:
            self._check_text(p["caption"], p.get("parse_mode"), caption=True)
        self._check_markup(p.get("reply_markup"))
        media = self._media(kind, source)
        message = self._store(
            key,
            record,
            caption=None if p.get("caption") is None else str(p["caption"]),
            file=source,
            media=media,
        )
        return message.to_api(self.bot_user)

    def _check_url(self, source: UploadedFile | str) -> None:
        if isinstance(source, str):
            for prefix, description in self._refused_urls.items():
                if source.startswith(prefix):
                    raise _ApiError(400, description)

    async def _send_media_group(self, record: RecordedRequest) -> list[JsonDict]:
        """An album: 2-10 photos (or documents ...), each a URL, a file_id or an
        ``attach://name`` upload; one message each, sharing a ``media_group_id``."""
        p = record.params
        key = self._target_chat(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of messages in the media group")
        sources: list[tuple[JsonDict, UploadedFile | str]] = []
        for entry in media:
            if not isinstance(entry, dict) or entry.get("type") not in ("photo", "video"):
                raise _ApiError(400, "Bad Request: can't parse InputMedia")
            ref = str(entry.get("media") or "")
            source: UploadedFile | str | None = ref
            if ref.startswith("attach://"):
                source = record.files.get(ref.removeprefix("attach://"))
            if not source:
                raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            self._check_url(source)
            if entry.get("caption") is not None:
                self._check_text(entry["caption"], entry.get("parse_mode"), caption=True)
            sources.append((entry, source))
        self._next_group += 1
        group = str(self._next_group)
        out = []
        for entry, source in sources:
            message = self._store(
                key,
                record,
                caption=None if entry.get("caption") is None else str(entry["caption"]),
                file=source,
                media=self._media(str(entry["type"]), source),
                media_group_id=group,
            )
            out.append(message.to_api(self.bot_user))
        return out

    async def _edit_message_caption(self, record: RecordedRequest) -> JsonDict | bool:
        p = record.params
        self._check_text(p.get("caption"), p.get("parse_mode"), caption=True)
        markup = self._check_markup(p.get("reply_markup"))
        message = self._edit_target(record)
        if message is None:
            return True
        if message.media is None:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        if (p.get("caption"), markup) == (message.caption, message.reply_markup):
            raise _ApiError(400, _NOT_MODIFIED)
        message.caption, message.parse_mode, message.reply_markup = (
            str(p.get("caption") or ""),
            p.get("parse_mode"),
            markup,
        )
        message.edit_date = int(time.time())
        message.edits.append(MessageEdit(record.time, message.caption, p.get("parse_mode"), markup))
        return message.to_api(self.bot_user)

    def _media(self, kind: str, source: UploadedFile | str) -> JsonDict:
        if isinstance(source, str) and source in self._files:
            uploaded, _ = self._files[source]
            file_id = source
        elif isinstance(source, UploadedFile):
            uploaded = source
            number = len(self._files) + 1
            file_id = f"BQACAgIAAxkBAAI{number:08d}{kind}"
            folder = "documents" if kind == "document" else "photos"
            suffix = "." + (source.filename or "file.bin").rsplit(".", 1)[-1]
            self._files[file_id] = (source, f"{folder}/file_{number}{suffix}")
        else:  # a URL or an unknown file_id: Telegram would fetch it; keep a stub
            uploaded = UploadedFile(kind, None, None, b"")
            file_id = f"BQACAgIAAxkBAAI{zlib.crc32(source.encode()):08d}{kind}"
        info: JsonDict = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{zlib.crc32(file_id.encode()):x}",
            "file_size": len(uploaded.data),
        }
        if kind == "photo":
            return {"photo": [{**info, "width": 0, "height": 0}]}
        if uploaded.filename:
            info["file_name"] = uploaded.filename
        if uploaded.content_type:
            info["mime_type"] = uploaded.content_type
        return {"document": info}

    async def _get_file(self, record: RecordedRequest) -> JsonDict:
        file_id = str(record.params.get("file_id") or "")
        if file_id not in self._files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        uploaded, path = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{zlib.crc32(file_id.encode()):x}",
            "file_size": len(uploaded.data),
            "file_path": path,
        }

    def _edit_target(self, record: RecordedRequest) -> SentMessage | None:
        """The stored message an edit refers to; None for an inline message."""
        p = record.params
        if p.get("inline_message_id"):
            return None
        key = self._target_chat(p)
        if p.get("message_id") in (None, ""):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        message = self._find(key, _as_int(p["message_id"], 0))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return message

    def _apply_edit(
        self,
        message: SentMessage,
        record: RecordedRequest,
        text: str | None,
        parse_mode: str | None,
        markup: JsonDict | None,
    ) -> JsonDict:
        if (text, parse_mode, markup) == (message.text, message.parse_mode, message.reply_markup):
            raise _ApiError(400, _NOT_MODIFIED)
        message.text, message.parse_mode, message.reply_markup = text, parse_mode, markup
        message.edit_date = int(time.time())
        message.edits.append(MessageEdit(record.time, text, parse_mode, markup))
        return message.to_api(self.bot_user)

    async def _edit_message_text(self, record: RecordedRequest) -> JsonDict | bool:
        p = record.params
        self._check_text(p.get("text"), p.get("parse_mode"))
        markup = self._check_markup(p.get("reply_markup"))
        message = self._edit_target(record)
        if message is None:
            return True
        if message.text is None:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(message, record, str(p["text"]), p.get("parse_mode"), markup)

    async def _edit_message_reply_markup(self, record: RecordedRequest) -> JsonDict | bool:
        markup = self._check_markup(record.params.get("reply_markup"))
        message = self._edit_target(record)
        if message is None:
            return True
        return self._apply_edit(message, record, message.text, message.parse_mode, markup)

    async def _answer_callback_query(self, record: RecordedRequest) -> bool:
        if str(record.params.get("callback_query_id")) not in self._callback_ids:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return True


def _error_body(status: int, description: str, parameters: JsonDict | None = None) -> JsonDict:
    body: JsonDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _failure_error(failure: _Failure) -> _ApiError:
    if failure.migrate_to_chat_id is not None:
        description = failure.description or (
            "Bad Request: group chat was upgraded to a supergroup chat"
        )
        return _ApiError(
            failure.status, description, {"migrate_to_chat_id": failure.migrate_to_chat_id}
        )
    if failure.status == 429:
        seconds = failure.retry_after or 1
        description = failure.description or f"Too Many Requests: retry after {seconds}"
        return _ApiError(429, description, {"retry_after": seconds})
    if failure.status == 502 and failure.description is None:
        return _ApiError(502, "")  # answered with nginx's HTML page
    description = failure.description or _DEFAULT_ERRORS.get(
        failure.status, f"Error {failure.status}"
    )
    parameters = None if failure.retry_after is None else {"retry_after": failure.retry_after}
    return _ApiError(failure.status, description, parameters)


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)
