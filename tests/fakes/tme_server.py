"""A real HTTP server on 127.0.0.1 that plays t.me's public channel web preview.

The watcher's ``HttpClient`` talks to it over real sockets; nothing of ours is mocked.
Pages are generated in the markup of the real pages in ``tests/fixtures/tme/`` (the
classes and nesting of ``t.me/s/<channel>`` as of 2023): up to ``page_size`` posts,
oldest first, and an ``a.tme_messages_more[data-before=N]`` link when older posts exist.

    async with TmeServer() as tme:
        chan = tme.channel("osint_news", title="OSINT News")
        first = chan.post("Hello <b>world</b>")          # -> its id (1, 2, ...)
        chan.post("Photo", media="photo", forwarded_from=("other", 7, "Other"))
        chan.edit(first, "Hello again")                  # shows "edited"
        chan.delete(first)
        url = tme.channel_url("osint_news")              # http://127.0.0.1:<port>/s/osint_news
        tme.fail_next(429, retry_after=30)                # the next request answers 429
        tme.fail_next(502, older_pages_only=True)         # the next ?before= request: 502
        tme.requests                                      # every request: path, query, headers

``GET /s/<name>`` answers the newest page, ``?before=N`` the posts older than N; a
channel nobody created answers 200 with the real "Telegram: Contact @<name>" page (no
preview), as t.me does.  ``serve_page(name, body)`` serves fixed bytes (e.g. a real
page from the corpus) at ``/s/<name>``.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from aiohttp import web

from tests.fakes.feed_server import RecordedRequest, record
from tests.fakes.local_server import LocalServer

__all__ = ["FakeChannel", "FakePost", "TmeServer"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tme"
_NO_PREVIEW_NAME = "not_existed_channel"
_CLOCK_START = datetime(2024, 12, 3, 6, 0, tzinfo=UTC)


@dataclass
class FakePost:
    id: int
    html: str  # the message text as t.me renders it (HTML: <br>, <a>, <b>...)
    when: datetime
    media: str | None = None  # "photo", "video", "document", "poll", "unsupported"
    image: str | None = None  # a photo's image URL (in its wrap's background-image style)
    forwarded_from: tuple[str | None, int | None, str] | None = None  # (channel, id, name)
    reply_to: tuple[str, str] | None = None  # (author, snippet)
    link_preview: tuple[str, str, str] | None = None  # (url, title, description)
    signature: str | None = None
    service: bool = False
    edited: bool = False
    views: str = "1.2K"


@dataclass
class FakeChannel:
    name: str
    title: str
    posts: dict[int, FakePost] = field(default_factory=dict)
    next_id: int = 1
    clock: datetime = _CLOCK_START

    def post(self, text: str, **options: object) -> int:
        """Publish a post (``text`` is HTML as t.me shows it); returns its id."""
        number = self.next_id
        self.next_id += 1
        self.clock += timedelta(minutes=1)
        self.posts[number] = FakePost(number, text, self.clock, **options)  # type: ignore[arg-type]
        return number

    def edit(self, number: int, text: str) -> None:
        self.posts[number].html = text
        self.posts[number].edited = True

    def delete(self, number: int) -> None:
        del self.posts[number]

    def skip_ids(self, count: int) -> None:
        """Ids used by something the preview does not show (e.g. the rest of an album)."""
        self.next_id += count


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    times: int
    older_pages_only: bool


class TmeServer:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", page_size: int = 20) -> None:
        self.host = host
        self.page_size = page_size
        self._server = LocalServer("TmeServer", host)
        self.channels: dict[str, FakeChannel] = {}
        self.fixed_pages: dict[str, bytes] = {}
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []

    async def __aenter__(self) -> TmeServer:
        app = web.Application()
        app.router.add_get("/s/{name}", self._preview)
        app.router.add_get("/{name}", self._card)
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

    def channel_url(self, name: str) -> str:
        return f"{self.base_url}/s/{name}"

    def channel(self, name: str, title: str | None = None) -> FakeChannel:
        if name not in self.channels:
            self.channels[name] = FakeChannel(name, title or name)
        return self.channels[name]

    def serve_page(self, name: str, body: bytes) -> None:
        self.fixed_pages[name] = body

    def fail_next(
        self,
        status: int = 500,
        *,
        retry_after: int | None = None,
        times: int = 1,
        older_pages_only: bool = False,
    ) -> None:
        """The next ``times`` requests (only ``?before=`` ones if ``older_pages_only``)
        answer ``status``, with ``Retry-After`` if given."""
        self._failures.append(_Failure(status, retry_after, times, older_pages_only))

    def requests_for(self, name: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == f"/s/{name}"]

    # ----------------------------------------------------------------------- handlers

    def _record(self, request: web.Request) -> web.Response | None:
        self.requests.append(record(request))
        if not self._failures:
            return None
        failure = self._failures[0]
        if failure.older_pages_only and "before" not in request.query:
            return None
        failure.times -= 1
        if failure.times <= 0:
            self._failures.pop(0)
        headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        return web.Response(
            status=failure.status, text=f"failure {failure.status}", headers=headers
        )

    async def _preview(self, request: web.Request) -> web.Response:
        failed = self._record(request)
        if failed is not None:
            return failed
        name = request.match_info["name"]
        if name in self.fixed_pages:
            return _html(self.fixed_pages[name])
        chan = self.channels.get(name)
        if chan is None:
            return _html(no_preview_page(name))
        before = request.query.get("before")
        ids = sorted(chan.posts)
        if before is not None and before.isdigit():
            ids = [n for n in ids if n < int(before)]
        shown = ids[-self.page_size :]
        older = bool(shown) and shown[0] > min(chan.posts)
        return _html(render_page(chan, [chan.posts[n] for n in shown], older).encode())

    async def _card(self, request: web.Request) -> web.Response:
        failed = self._record(request)
        return failed or _html(no_preview_page(request.match_info["name"]))


def _html(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/html", charset="utf-8")


def no_preview_page(name: str) -> bytes:
    """The real page t.me serves for a channel without a public preview, for ``name``."""
    real = (FIXTURES / f"{_NO_PREVIEW_NAME}.html").read_bytes()
    return real.replace(_NO_PREVIEW_NAME.encode(), name.encode())


# --------------------------------------------------------------------------- markup


def render_page(chan: FakeChannel, posts: list[FakePost], older: bool) -> str:
    e = html.escape
    more = ""
    if older and posts:
        first = posts[0].id
        more = (
            '<div class="tgme_widget_message_centered js-messages_more_wrap">'
            f'<a href="/s/{chan.name}?before={first}" class="tme_messages_more js-messages_more"'
            f' data-before="{first}"></a></div>'
        )
    messages = "".join(render_post(chan, p) for p in posts)
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{e(chan.title)} – Telegram</title>
<meta property="og:title" content="{e(chan.title)}">
  </head>
  <body class="widget_frame_base tgme_webpreview emoji_image thin_box_shadow tme_mode">
    <header class="tgme_header search_collapsed">
      <div class="tgme_channel_info_header">
        <div class="tgme_channel_info_header_title"><span dir="auto">{e(chan.title)}</span></div>
        <div class="tgme_channel_info_header_username"><a href="https://t.me/{chan.name}">@{chan.name}</a></div>
      </div>
    </header>
<main class="tgme_main" data-url="/{chan.name}">
  <div class="tgme_container">
    <section class="tgme_channel_history js-message_history">
      {more}{messages}
      </section>
  </div>
</main>
  </body>
</html>
"""


def render_post(chan: FakeChannel, post: FakePost) -> str:
    e = html.escape
    link = f"https://t.me/{chan.name}/{post.id}"
    view = (
        base64.urlsafe_b64encode(
            json.dumps({"c": -100, "p": post.id, "t": 1700000000, "h": "0"}).encode()
        )
        .decode()
        .rstrip("=")
    )
    classes = "tgme_widget_message text_not_supported_wrap js-widget_message"
    if post.service:
        classes = classes.replace("js-widget_message", "service_message js-widget_message")
    parts = [
        '<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_'
        f'name" href="https://t.me/{chan.name}"><span dir="auto">{e(chan.title)}</span></a></div>'
    ]
    if post.forwarded_from is not None:
        origin, number, shown = post.forwarded_from
        inner = f'<span dir="auto">{e(shown)}</span>'
        if origin:
            href = f"https://t.me/{origin}/{number}" if number else f"https://t.me/{origin}"
            name = f'<a class="tgme_widget_message_forwarded_from_name" href="{href}">{inner}</a>'
        else:
            name = f'<span class="tgme_widget_message_forwarded_from_name">{inner}</span>'
        parts.append(
            '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;'
            f"{name}</div>"
        )
    if post.reply_to is not None:
        author, snippet = post.reply_to
        parts.append(
            f'<a class="tgme_widget_message_reply" href="https://t.me/{chan.name}/1">'
            '<div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message'
            f'_author_name" dir="auto">{e(author)}</span></div>'
            f'<div class="tgme_widget_message_metatext js-message_reply_text" dir="auto">'
            f"{e(snippet)}</div></a>"
        )
    style = f"width:800px;background-image:url('{e(post.image)}')" if post.image else ""
    parts.append(_MEDIA.get(post.media or "", "").format(link=link, style=style))
    if post.html:
        parts.append(
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">{post.html}</div>'
        )
    if post.link_preview is not None:
        url, title, description = post.link_preview
        parts.append(
            f'<a class="tgme_widget_message_link_preview" href="{e(url)}">'
            '<div class="link_preview_site_name accent_color" dir="auto">site</div>'
            f'<div class="link_preview_title" dir="auto">{e(title)}</div>'
            f'<div class="link_preview_description" dir="auto">{e(description)}</div></a>'
        )
    views = (
        ""
        if post.service
        else (
            f'<span class="tgme_widget_message_views">{post.views}</span>'
            '<span class="copyonly"> views</span>'
        )
    )
    signature = (
        f'<span class="tgme_widget_message_from_author" dir="auto">{e(post.signature)}</span>'
        if post.signature
        else ""
    )
    edited = "edited &nbsp;" if post.edited else ""
    parts.append(
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        f'{views}{signature}<span class="tgme_widget_message_meta">{edited}'
        f'<a class="tgme_widget_message_date" href="{link}"><time datetime="'
        f'{post.when.isoformat()}" class="time">{post.when:%H:%M}</time></a></span></div></div>'
    )
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="{classes}" data-post="{chan.name}/{post.id}" data-view="{view}">'
        f'<div class="tgme_widget_message_user"><a href="https://t.me/{chan.name}">'
        '<i class="tgme_widget_message_user_photo bgcolor6" data-content="A"></i></a></div>'
        '<div class="tgme_widget_message_bubble">'
        '<i class="tgme_widget_message_bubble_tail"></i>'
        f"{''.join(parts)}</div></div></div>"
    )


_UNSUPPORTED = (
    '<div class="message_media_not_supported_wrap"><div class="message_media_not_supported">'
    '<div class="message_media_not_supported_label">This media is not supported in your '
    'browser</div><span class="message_media_view_in_telegram">VIEW IN TELEGRAM</span></div>'
    "</div>"
)
_MEDIA = {
    "photo": '<a class="tgme_widget_message_photo_wrap" href="{link}" style="{style}"><div '
    'class="tgme_widget_message_photo" style="padding-top:100%"></div></a>',
    "video": '<a class="tgme_widget_message_video_player js-message_video_player" href="{link}">'
    '<div class="tgme_widget_message_video_wrap"><video class="tgme_widget_message_video">'
    "</video></div>" + _UNSUPPORTED + "</a>",
    "document": '<a class="tgme_widget_message_document_wrap" href="{link}"><div class="tgme_'
    'widget_message_document"><div class="tgme_widget_message_document_title">report.pdf</div>'
    "</div></a>",
    "poll": '<div class="tgme_widget_message_poll js-poll"><div class="tgme_widget_message_poll'
    '_question">Which one?</div><div class="tgme_widget_message_poll_type">Anonymous Poll</div>'
    '<a class="tgme_widget_message_poll_options" href="{link}"><div class="tgme_widget_message'
    '_poll_option"><div class="tgme_widget_message_poll_option_text">Yes</div></div><div '
    'class="tgme_widget_message_poll_option"><div class="tgme_widget_message_poll_option_text">'
    "No</div></div></a></div>",
    "unsupported": _UNSUPPORTED,
}
