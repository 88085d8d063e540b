"""Public Telegram channels through their web preview (``t.me/s/<channel>``) -> ``Item``s.

    Source(url="<base>/s/<channel>") + FetchState(cursor="<last seen post id>")
      -> fetch() -> HttpClient.get: the newest page, then "?before=N" pages back
      -> parse_channel_page() (pure, off the event loop) -> post_to_item() -> FetchResult

What a poll reads: the newest page (about 20 posts).  With a cursor (the highest post
id seen before, kept in ``FetchState.cursor``) it follows ``?before=N`` pages back until
a page reaches the cursor or ``max_pages`` pages were read; posts beyond that bound
are skipped (the next poll starts from the newest post again).  The first poll (no
cursor) reads one page, or more until ``source.backfill`` posts are in hand; the
pipeline's first-poll baseline decides what alerts.  Items come oldest first, one per
post, service posts ("pinned ...", "live stream started") left out; posts already
seen come back too, so that edits can be noticed.

Edits: an edited post keeps its ``Item.key`` (``post:<channel>/<id>``) but gets
``edited=True`` and a ``revision`` (a hash of title and text): a known key with a new
revision is an edit.  Deletions: ``FetchResult.present_keys`` lists every post on the
pages read and ``covered`` the id range they span; ``FetchResult.gone(keys)`` names
known posts that are no longer there.

Errors (``FetchStatus.ERROR``, the cursor kept, nothing of a half-read catch-up
used): a channel without a public preview (t.me answers 200 with a "Telegram: Contact
@name" page), 429/5xx (with Retry-After, 429 defaults to 60 s), network trouble or a
cut-off page on any page read (a cut page would make its newest posts look deleted).
Politeness: the shared ``HttpClient``'s per-host limit, and a random pause of up to
``jitter`` seconds before each ``?before=`` page.

``parse_channel_page`` never raises; the markup it reads (from real pages):
``div.tgme_widget_message[data-post="<channel>/<id>"]`` in page order (oldest first);
text in ``.tgme_widget_message_text`` (``<br>`` -> newline, emoji ``<i class="emoji">``
-> the emoji, links -> "text (url)"); time and permalink in
``a.tgme_widget_message_date > time[datetime]``; "edited" in
``.tgme_widget_message_meta``; ``a.tme_messages_more[data-before]`` for older posts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.model import FetchResult, FetchState, FetchStatus, Item, Media, Source
from watchers.common import failed, retry_note, run_off_loop
from watchers.http import FetchError, HttpClient, parse_retry_after, redact_url
from watchers.identity import content_hash, story_key
from watchers.text import collapse_whitespace, first_line

__all__ = [
    "PUBLIC_BASE",
    "ChannelPage",
    "ChannelPost",
    "LinkPreview",
    "channel_url",
    "fetch",
    "message_text",
    "parse_channel_page",
    "parse_channel_url",
    "post_key",
    "post_to_item",
]

PUBLIC_BASE = "https://t.me"  # where permalinks point, whatever base URL the pages came from
DEFAULT_429_WAIT = timedelta(seconds=60)
_CHANNEL = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class LinkPreview(NamedTuple):
    title: str
    url: str | None
    text: str  # the preview's description


@dataclass(frozen=True)
class ChannelPost:
    id: int
    channel: str  # as the page writes it in data-post (may differ in case from the URL)
    permalink: str  # https://t.me/<channel>/<id>
    published: datetime | None  # UTC
    text: str  # plain text: "\n" for <br>, links as "text (url)", emoji as characters
    author: str | None = None  # the post's signature, if the channel signs posts
    forwarded_from: str | None = None  # "channel/123", or the name shown when hidden
    reply_to: str | None = None  # "<author>: <quoted snippet>" of the post replied to
    media: tuple[Media, ...] = ()  # photo, video, document, poll, link_preview, voice, ...
    link_preview: LinkPreview | None = None
    views: str | None = None  # as shown: "36.1K"
    edited: bool = False
    poll: tuple[str, ...] = ()  # the question, then the options

    @property
    def media_kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.kind for m in self.media))


@dataclass(frozen=True)
class ChannelPage:
    channel: str
    title: str  # the channel's title; for a page without a preview, the page's <title>
    exists: bool  # the page has a message history: the channel has a public preview
    posts: tuple[ChannelPost, ...] = ()  # oldest first, service posts left out
    before: int | None = None  # ?before=N shows the posts older than this page
    ids: tuple[int, ...] = ()  # every post id on the page, service posts included
    error: str | None = None  # the page could not be read (a bug or very odd markup)


# --------------------------------------------------------------------------- URLs


def channel_url(channel: str, base_url: str = PUBLIC_BASE) -> str:
    """The web preview's URL, the form ``Source.url`` takes: ``<base>/s/<channel>``."""
    return f"{base_url.rstrip('/')}/s/{channel}"


def parse_channel_url(url: str) -> tuple[str, str]:
    """``(base_url, channel)`` of ``<base>/s/<channel>`` (or ``<base>/<channel>``);
    ``ValueError`` if the URL names no channel."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError(f"not a URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a t.me/s/<channel> URL: {url!r}")
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if not segments or not _CHANNEL.match(segments[0]):
        raise ValueError(f"not a t.me/s/<channel> URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}", segments[0]


# --------------------------------------------------------------------------- parse


def parse_channel_page(body: bytes, channel: str, base_url: str = PUBLIC_BASE) -> ChannelPage:
    """Parse one ``t.me/s/<channel>`` page.  Pure, picklable, never raises."""
    try:
        return _parse_page(body, channel, base_url)
    except Exception as exc:  # a bug or markup nobody foresaw: report it, never raise
        return ChannelPage(
            channel,
            "",
            exists=False,
            error=f"could not read the page ({type(exc).__name__}: {exc})",
        )


def _parse_page(body: bytes, channel: str, base_url: str) -> ChannelPage:
    tree = LexborHTMLParser(body.decode("utf-8", "replace"))
    history = tree.css_first(".tgme_channel_history")
    if history is None:
        title_node = tree.css_first("title")
        return ChannelPage(channel, _text(title_node), exists=False)
    title = _text(tree.css_first(".tgme_channel_info_header_title"))
    if not title:
        meta = tree.css_first('meta[property="og:title"]')
        title = collapse_whitespace((meta.attributes.get("content") or "") if meta else "")
    page_base = channel_url(channel, base_url)
    nodes = history.css("div.tgme_widget_message")
    # the name posts go by (t.me/s/codecamp shows @campcode's posts), for posts without it
    shown_as = next(
        (n for n in ((m.attributes.get("data-post") or "").partition("/")[0] for m in nodes) if n),
        channel,
    )
    posts: list[ChannelPost] = []
    ids: list[int] = []
    for node in nodes:
        post_channel, number = _post_id(node, shown_as)
        if number is None:
            continue
        ids.append(number)
        if "service_message" in (node.attributes.get("class") or "").split():
            continue
        posts.append(_parse_post(node, post_channel, number, page_base))
    more = tree.css_first("a.tme_messages_more[data-before]")
    before = _int(more.attributes.get("data-before")) if more is not None else None
    return ChannelPage(
        channel,
        title,
        exists=True,
        posts=tuple(sorted(posts, key=lambda p: p.id)),
        before=before,
        ids=tuple(sorted(set(ids))),
    )


def _post_id(node: LexborNode, channel: str) -> tuple[str, int | None]:
    """``(channel, id)`` from ``data-post``, else the permalink, else ``data-view``:
    real pages carry posts with ``data-post="name/"`` or no ``data-post`` at all."""
    post_channel, _, number = (node.attributes.get("data-post") or "").partition("/")
    post_channel = post_channel or channel
    if number.isdigit():
        return post_channel, int(number)
    date = node.css_first("a.tgme_widget_message_date")
    href = (date.attributes.get("href") or "") if date is not None else ""
    tail = href.rstrip("/").rpartition("/")[2]
    if tail.isdigit():
        return post_channel, int(tail)
    view = node.attributes.get("data-view") or ""
    try:
        data = json.loads(base64.urlsafe_b64decode(view + "=" * (-len(view) % 4)))
        digits = re.match(r"\d+", str(data.get("p", "")))
    except (ValueError, TypeError, AttributeError):
        return post_channel, None
    return post_channel, int(digits.group()) if digits else None


def _parse_post(node: LexborNode, channel: str, number: int, page_base: str) -> ChannelPost:
    date = node.css_first("a.tgme_widget_message_date")
    href = (date.attributes.get("href") or "") if date is not None else ""
    permalink = href if re.match(rf"https?://[^/]+/{re.escape(channel)}/{number}$", href) else ""
    time_node = date.css_first("time[datetime]") if date is not None else None
    published = _utc(time_node.attributes.get("datetime")) if time_node is not None else None

    text_node = next(
        (t for t in node.css(".tgme_widget_message_text") if not _inside(t, _NOT_OWN)),
        None,
    )
    meta = node.css_first(".tgme_widget_message_meta")
    views = node.css_first(".tgme_widget_message_views")
    signature = node.css_first(".tgme_widget_message_from_author")
    return ChannelPost(
        id=number,
        channel=channel,
        permalink=permalink or f"{PUBLIC_BASE}/{channel}/{number}",
        published=published,
        text=message_text(text_node, page_base) if text_node is not None else "",
        author=_text(signature) or None,
        forwarded_from=_forwarded_from(node),
        reply_to=_reply_to(node),
        media=_media(node, page_base),
        link_preview=_link_preview(node, page_base),
        views=_text(views) or None,
        edited=meta is not None and "edited" in _text(meta).lower(),
        poll=_poll(node),
    )


# Parts of a message that quote something else: their text, media and links are not
# the post's own.
_NOT_OWN = ("tgme_widget_message_reply", "tgme_widget_message_link_preview")

_MEDIA = (  # (kind, selector), in the order kinds are listed
    ("photo", ".tgme_widget_message_photo_wrap"),
    ("video", ".tgme_widget_message_video_player, .tgme_widget_message_roundvideo_player"),
    ("document", ".tgme_widget_message_document_wrap"),
    ("voice", ".tgme_widget_message_voice_player"),
    ("sticker", ".tgme_widget_message_sticker_wrap"),
    ("location", ".tgme_widget_message_location_wrap"),
    ("poll", ".tgme_widget_message_poll"),
    ("link_preview", ".tgme_widget_message_link_preview"),
)
_ANY_MEDIA = ", ".join(selector for _, selector in _MEDIA)
_MEDIA_CLASSES = tuple(
    (kind, tuple(part.strip().lstrip(".") for part in selector.split(",")))
    for kind, selector in _MEDIA
)
# Where a medium's picture is: the element whose style holds "background-image:url(...)"
_PICTURE = {
    "video": ".tgme_widget_message_video_thumb, .tgme_widget_message_roundvideo_thumb",
    "sticker": ".tgme_widget_message_sticker",
    "location": ".tgme_widget_message_location",
    "link_preview": ".link_preview_image, .link_preview_right_image",
}
_DURATION = (
    ".message_video_duration, .tgme_widget_message_roundvideo_duration,"
    " .tgme_widget_message_voice_duration"
)


def _media(node: LexborNode, page_base: str = PUBLIC_BASE) -> tuple[Media, ...]:
    """The post's own media in page order by kind (see ``_MEDIA``): a photo's image URL
    (from its wrap's ``background-image:url(...)`` style, size from the style's width and
    the ratio the inner ``padding-top`` gives), a video's thumbnail and duration, a
    document's file name, a link preview's picture."""
    found: list[Media] = []
    for element in node.css(_ANY_MEDIA):  # in page order: an album's photos and videos
        if _inside(element, _NOT_OWN):
            continue
        classes = (element.attributes.get("class") or "").split()
        kind = next(k for k, names in _MEDIA_CLASSES if any(c in classes for c in names))
        found.append(_medium(kind, element, page_base))
    # "This media is not supported in your browser" also sits inside video players as
    # a fallback: only a media the page cannot show at all is "unsupported".
    if not found and node.css_first(".message_media_not_supported_wrap") is not None:
        found.append(Media("unsupported"))
    return tuple(found)


def _medium(kind: str, element: LexborNode, page_base: str) -> Media:
    style = element.attributes.get("style") or ""
    if kind in _PICTURE:
        picture = element.css_first(_PICTURE[kind])
        style = (picture.attributes.get("style") or "") if picture is not None else ""
        if kind == "sticker" and picture is not None and not _style_url(style):
            style = f"background-image:url('{picture.attributes.get('data-webp') or ''}')"
    url = _style_url(style)
    width = _style_px(style, "width")
    height = _style_px(style, "height")
    if "grouped_media_wrap" in (element.attributes.get("class") or ""):
        width = height = None  # an album's tile: the layout's size, not the picture's
    elif kind == "photo" and height is None and width is not None:
        inner = element.css_first(".tgme_widget_message_photo")
        ratio = _style_percent((inner.attributes.get("style") or "") if inner else "")
        height = round(width * ratio / 100) if ratio is not None else None
    if kind not in ("photo",):
        width = height = None  # the sizes on a player or preview are the layout's
    name = None
    if kind == "document":
        name = _text(element.css_first(".tgme_widget_message_document_title")) or None
    duration = None
    if kind in ("video", "voice"):
        duration = _clock_seconds(_text(element.css_first(_DURATION)))
    return Media(
        kind,
        url=_absolute(url, page_base) if url else None,
        width=width,
        height=height,
        duration=duration,
        name=name,
    )


_STYLE_URL = re.compile(r"background-image\s*:\s*url\(\s*(['\"]?)(.*?)\1\s*\)", re.I)


def _style_url(style: str) -> str | None:
    m = _STYLE_URL.search(style)
    url = m.group(2).strip() if m else ""
    return url if url.lower().startswith(("http://", "https://", "//", "/")) else None


def _style_px(style: str, prop: str) -> int | None:
    m = re.search(rf"(?:^|;)\s*{prop}\s*:\s*(\d+(?:\.\d+)?)px", style)
    return round(float(m.group(1))) if m else None


def _style_percent(style: str) -> float | None:
    m = re.search(r"padding-top\s*:\s*(\d+(?:\.\d+)?)%", style)
    return float(m.group(1)) if m else None


def _clock_seconds(shown: str) -> float | None:
    """ "1:02:03" or "0:18" -> seconds."""
    parts = shown.strip().split(":")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(seconds)


def _forwarded_from(node: LexborNode) -> str | None:
    name = node.css_first(".tgme_widget_message_forwarded_from_name")
    if name is None:
        return None
    href = name.attributes.get("href") if name.tag == "a" else None
    if href:
        try:
            path = urlsplit(href).path.strip("/")
        except ValueError:
            path = ""
        if path and not path.startswith(("s/", "+", "joinchat")):
            return path
    return _text(name) or None


def _reply_to(node: LexborNode) -> str | None:
    reply = node.css_first(".tgme_widget_message_reply")
    if reply is None:
        return None
    author = _text(reply.css_first(".tgme_widget_message_author_name"))
    snippet = _text(reply.css_first(".tgme_widget_message_metatext"))
    if author and snippet:
        return f"{author}: {snippet}"
    return author or snippet or None


def _link_preview(node: LexborNode, page_base: str) -> LinkPreview | None:
    preview = node.css_first(".tgme_widget_message_link_preview")
    if preview is None:
        return None
    href = preview.attributes.get("href")
    return LinkPreview(
        title=_text(preview.css_first(".link_preview_title"))
        or _text(preview.css_first(".link_preview_site_name")),
        url=_absolute(href, page_base) if href else None,
        text=_text(preview.css_first(".link_preview_description")),
    )


def _poll(node: LexborNode) -> tuple[str, ...]:
    poll = node.css_first(".tgme_widget_message_poll")
    if poll is None:
        return ()
    question = _text(poll.css_first(".tgme_widget_message_poll_question"))
    options = [_text(o) for o in poll.css(".tgme_widget_message_poll_option_text")]
    return tuple(t for t in (question, *options) if t)


# --------------------------------------------------------------------------- text


_BLOCKS = frozenset({"div", "p", "blockquote", "pre", "li", "ul", "ol", "h1", "h2", "h3"})
_SKIP = frozenset({"script", "style", "template", "-comment"})


class _Piece(NamedTuple):
    text: str
    href: str | None = None  # set for a link's text


def message_text(node: LexborNode, page_base: str) -> str:
    """A message's text as plain text (see the module docstring)."""
    pieces: list[_Piece] = []
    _collect(node, pieces, page_base, pre=False)
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if piece.href is None:
            out.append(piece.text)
            i += 1
            continue
        label = [piece.text]  # adjacent links to one target (split by formatting) are one
        i += 1
        while i < len(pieces) and pieces[i].href == piece.href:
            label.append(pieces[i].text)
            i += 1
        out.append(_show_link("".join(label), piece.href))
    return collapse_whitespace("".join(out))


def _collect(node: LexborNode, pieces: list[_Piece], page_base: str, *, pre: bool) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            data = child.text(deep=False) or ""
            pieces.append(_Piece(data if pre else data.replace("\r", " ").replace("\n", " ")))
        elif tag == "br":
            pieces.append(_Piece("\n"))
        elif tag in _SKIP:
            continue
        elif tag == "a" and child.attributes.get("href"):
            label: list[_Piece] = []
            _collect(child, label, page_base, pre=pre)
            href = _absolute(child.attributes.get("href") or "", page_base)
            pieces.append(_Piece("".join(p.text for p in label), href))
        elif tag in _BLOCKS:
            pieces.append(_Piece("\n"))
            _collect(child, pieces, page_base, pre=pre or tag == "pre")
            pieces.append(_Piece("\n"))
        else:
            _collect(child, pieces, page_base, pre=pre)


def _show_link(label: str, href: str | None) -> str:
    """ "label (url)", or just the label (hashtags, mentions, search links), or just
    the URL when the label is that URL (perhaps shortened with "…").  Whitespace and
    line breaks around the label stay outside."""
    shown = label.strip()
    lead, trail = label[: len(label) - len(label.lstrip())], label[len(label.rstrip()) :]
    if not href or not href.lower().startswith(("http://", "https://")):
        return label
    if not shown.strip(_INVISIBLE):
        return lead + trail  # an invisible link: it only summons the link preview
    try:
        parts = urlsplit(href)
    except ValueError:
        return label
    if shown.startswith(("#", "$")) or parts.query.startswith("q="):
        return label  # a hashtag or cashtag: a search link on the preview page
    if shown.startswith("@") and parts.path.strip("/").lower() == shown[1:].lower():
        return label  # @mention -> t.me/mention
    bare = _bare(shown).rstrip("…").rstrip(".")
    if len(bare) > 3 and _bare(href).startswith(bare):
        return f"{lead}{href}{trail}"  # the label is the URL, perhaps shortened
    return f"{lead}{shown} ({href}){trail}"


_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters


def _bare(url: str) -> str:
    url = re.sub(r"^[a-z]+://", "", url.strip(), flags=re.IGNORECASE)
    return url.removeprefix("www.").rstrip("/").lower()


def _text(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return collapse_whitespace((node.text(deep=True) or "").replace("\n", " "))


def _inside(node: LexborNode, classes: Sequence[str]) -> bool:
    """Whether ``node`` sits inside an element of one of ``classes`` within its message."""
    parent = node.parent
    while parent is not None:
        names = (parent.attributes.get("class") or "").split()
        if any(c in names for c in classes):
            return True
        if "tgme_widget_message" in names:
            return False
        parent = parent.parent
    return False


def _absolute(href: str, base: str) -> str:
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return href


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


# --------------------------------------------------------------------------- items


def post_to_item(post: ChannelPost, source_name: str, tags: tuple[str, ...] = ()) -> Item:
    """The pipeline's view of a post.  ``title``: the first line of the text (cut near
    110 characters), else the link preview's title, else the poll's question; ``text``:
    the post's text, then the link preview's title and description and the poll, where
    the text does not already carry them."""
    text = post.text
    extra: list[str] = []
    if post.link_preview is not None:
        for part in (post.link_preview.title, post.link_preview.text):
            if part and part not in text:
                extra.append(part)
    if post.poll:
        extra.append("\n".join([post.poll[0], *(f"- {o}" for o in post.poll[1:])]))
    full = "\n\n".join(p for p in (text, *extra) if p)
    title = first_line(text)
    if not title and post.link_preview is not None:
        title = post.link_preview.title
    if not title and post.poll:
        title = post.poll[0]
    return Item(
        source=source_name,
        key=post_key(post.channel, post.id),
        story_key=story_key(post.permalink, title, full),
        title=title,
        text=full,
        link=post.permalink,
        published=post.published,
        author=post.author,
        tags=tuple(tags),
        revision=content_hash(title, full),
        edited=post.edited,
        forwarded_from=post.forwarded_from,
        media=post.media,
    )


def post_key(channel: str, number: int) -> str:
    """``Item.key`` of a post: ``post:<channel, lower case>/<id>``."""
    return f"post:{channel.lower()}/{number}"


# --------------------------------------------------------------------------- fetch


async def fetch(
    source: Source,
    state: FetchState,
    http: HttpClient,
    pool: Executor | None = None,
    *,
    max_pages: int = 10,
    jitter: float = 1.0,
    rng: random.Random | None = None,
) -> FetchResult:
    """Poll one channel once (see the module docstring).  Never raises for network or
    page trouble.  ``jitter``: the most seconds to pause before each older page."""
    try:
        base_url, channel = parse_channel_url(source.url)
    except ValueError as exc:
        return failed(source, state, str(exc))
    url = channel_url(channel, base_url)
    cursor = _int(state.cursor)
    rng = rng or random.Random()
    posts: dict[int, ChannelPost] = {}
    ids: set[int] = set()
    before: int | None = None
    pages = 0
    status: int | None = None

    while True:
        page_url = url if before is None else f"{url}?before={before}"
        if pages and jitter > 0:
            await asyncio.sleep(rng.uniform(0, jitter))
        try:
            response = await http.get(page_url, trusted=source.trusted)
        except FetchError as exc:
            return failed(source, state, str(exc))
        status = response.status
        where = redact_url(response.url)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is None and status == 429:
                retry_after = DEFAULT_429_WAIT
            reason = "too many requests" if status == 429 else "server error"
            message = f"HTTP {status} ({reason}) from {where}{retry_note(retry_after)}"
            return failed(source, state, message, retry_after=retry_after, http_status=status)
        if not 200 <= status < 300 or response.truncated:
            cut = " (the connection closed before the whole page arrived)"
            message = f"HTTP {status} from {where}{cut if response.truncated else ''}"
            return failed(source, state, message, http_status=status)
        try:
            page = await run_off_loop(pool, parse_channel_page, response.body, channel, base_url)
        except Exception as exc:  # a broken process pool, mostly
            message = f"could not parse {where} ({type(exc).__name__}: {exc})"
            return failed(source, state, message)
        pages += 1
        if page.error:
            return failed(source, state, f"{page.error}, at {where}", http_status=status)
        if not page.exists:
            message = _no_preview(channel, page.title, where)
            return failed(source, state, message, http_status=status)
        posts.update((p.id, p) for p in page.posts)
        ids.update(page.ids)
        if not page.ids or page.before is None or pages >= max_pages:
            break
        if cursor is None and len(posts) >= source.backfill:
            break  # first poll: one page, or enough for the backfill
        if cursor is not None and min(page.ids) <= cursor + 1:
            break  # reached the last post seen before
        if before is not None and page.before >= before:
            break  # no progress: a page that points at itself
        before = page.before

    items = tuple(post_to_item(posts[n], source.name, source.tags) for n in sorted(posts))
    newest = max([*ids, *([cursor] if cursor is not None else [])], default=None)
    return FetchResult(
        FetchStatus.OK,
        items=items,
        state=replace(state, cursor=str(newest) if newest is not None else None),
        http_status=status,
        present_keys=tuple(item.key for item in items),
        # The newest page shows everything after its oldest post: up to the newest post
        # seen before too, so a deleted newest post is seen as gone.
        covered=(min(ids), max(ids) if newest is None else newest) if ids else None,
    )


def _no_preview(channel: str, page_title: str, where: str) -> str:
    if page_title.startswith("Telegram") or not page_title:
        return (
            f"t.me/{channel} has no public web preview (the channel does not exist, "
            "is private, or disabled its preview)"
        )
    return f"not a Telegram channel page: got an HTML page titled {page_title!r} from {where}"
