"""Media of items: the records watchers make (``Media``), and the one guarded image fetch.

    watchers/rss, vk, telegram_channel (parse) -> feed_media(), json_media(),
    html_images(), vk_media() -> Item.media -> alerts (pictures) and evidence keeping
    -> fetch_image() (an SSRF-safe GET of one picture)

Records are pure data read from what the source says, never fetched while parsing:

- feeds: RSS/Atom enclosures, Media RSS ``media:content`` and ``media:thumbnail``
  (width, height, type, fileSize where given), then the first ``HTML_IMAGES`` images of
  the entry's HTML content, skipping tracking pixels (a side of 1 or 2 px, known
  tracker hosts) and icons (emoji, smileys, favicons, ``.ico``/``.svg``); the same
  picture twice (same address, or the same path at another ``?w=`` size) is recorded
  once, the largest kept.  JSON Feed: ``image``, ``banner_image``, ``attachments``.
- a picture's ``url`` is the image; a video's is its thumbnail where the source gives
  one; audio and documents carry their file name, MIME type and size, no ``url``.

``fetch_image`` is what alerts and evidence use to download a picture the post named
(untrusted even in a trusted source): the client's guarded session (private, loopback,
link-local and metadata addresses refused unless ``[polling] allow_private`` names
them; every redirect hop checked again; DNS rebinding refused at connect time), a size
cap while streaming, a total time limit, ``Content-Type: image/*`` and bytes that look
like an image (magic numbers), else ``ImageError`` with a one-line reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.model import Media
from watchers.http import AddressGuard, FetchError, HttpClient, redact_url

__all__ = [
    "HTML_IMAGES",
    "FetchedImage",
    "ImageError",
    "feed_media",
    "fetch_image",
    "html_images",
    "image_type",
    "json_media",
    "merge_media",
    "vk_media",
]

HTML_IMAGES = 4  # images of an entry's HTML content recorded, at most

# Hosts (and host suffixes) that serve tracking pixels and feed furniture, not pictures.
TRACKER_HOSTS = (
    "feeds.feedburner.com", "feedproxy.google.com", "feeds.feedblitz.com", "feedblitz.com",
    "pixel.wp.com", "stats.wordpress.com", "google-analytics.com", "doubleclick.net",
    "scorecardresearch.com", "quantserve.com", "pixel.quantserve.com", "pi.feedsportal.com",
    "feedsportal.com", "counter.yadro.ru", "mc.yandex.ru", "top-fwz1.mail.ru",
    "tns-counter.ru", "www.facebook.com", "pixel.facebook.com", "bat.bing.com",
    "rss.feedsportal.com", "feeds.wordpress.com", "www.assoc-amazon.com", "tracker.",
    "analytics.",
)  # fmt: skip
_ICON_HINTS = ("emoji", "smiley", "smilies", "favicon", "/icons/", "gravatar.com/avatar", "/~ff/")
_ICON_EXTENSIONS = (".ico", ".svg")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".heic", ".jfif")


# --------------------------------------------------------------------------- records


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _float(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _http(url: Any, base: str | None) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        full = urljoin(base or "", html.unescape(url.strip()))
        scheme = urlsplit(full).scheme.lower()
    except ValueError:
        return None
    return full if scheme in ("http", "https") else None


def _file_name(url: str) -> str | None:
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    name = path.rstrip("/").rpartition("/")[2]
    return name or None


def _kind(mime: str | None, medium: str | None, url: str | None) -> str:
    medium = (medium or "").lower()
    mime = (mime or "").lower()
    if medium == "image" or mime.startswith("image/"):
        return "photo"
    if medium == "video" or mime.startswith("video/") or "flash" in mime:
        return "video"
    if medium == "audio" or mime.startswith("audio/"):
        return "audio"
    if not mime and not medium and url:
        path = (urlsplit(url).path or "").lower()
        if path.endswith(_IMAGE_EXTENSIONS):
            return "photo"
    return "document"


def _record(
    kind: str,
    address: str,
    *,
    width: int | None = None,
    height: int | None = None,
    size: int | None = None,
    mime: str | None = None,
    duration: float | None = None,
    alt: str | None = None,
) -> Media:
    """A record for a file at ``address``: a photo's ``url`` is the address; other kinds
    keep the file name (their picture, if any, is added by the caller)."""
    if kind == "photo":
        return Media(kind, address, width, height, size, mime, duration, alt=alt)
    return Media(kind, None, None, None, size, mime, duration, _file_name(address), alt)


def feed_media(entry: Mapping[str, Any], base_url: str | None) -> tuple[Media, ...]:
    """The media of one feedparser entry (see the module docstring), in feed order:
    enclosures, ``media:content``, ``media:thumbnail``, then the content's images."""
    found: list[tuple[str, Media]] = []  # (the file's address, its record)
    thumbs: list[tuple[str, Media]] = []
    for enclosure in _dicts(entry.get("enclosures")):
        address = _http(enclosure.get("href") or enclosure.get("url"), base_url)
        if address:
            mime = str(enclosure.get("type") or "") or None
            kind = _kind(mime, None, address)
            found.append(
                (address, _record(kind, address, size=_int(enclosure.get("length")), mime=mime))
            )
    for content in _dicts(entry.get("media_content")):
        address = _http(content.get("url"), base_url)
        if address:
            mime = str(content.get("type") or "") or None
            kind = _kind(mime, str(content.get("medium") or ""), address)
            record = _record(
                kind,
                address,
                width=_int(content.get("width")),
                height=_int(content.get("height")),
                size=_int(content.get("filesize") or content.get("fileSize")),
                mime=mime,
                duration=_float(content.get("duration")),
            )
            found.append((address, record))
    for thumb in _dicts(entry.get("media_thumbnail")):
        address = _http(thumb.get("url"), base_url)
        if address:
            width, height = _int(thumb.get("width")), _int(thumb.get("height"))
            thumbs.append((address, Media("photo", address, width, height)))
    # a video without a picture of its own shows the entry's first thumbnail
    for n, (address, record) in enumerate(found):
        if record.kind == "video" and record.url is None and thumbs:
            _, thumb = thumbs.pop(0)
            found[n] = (address, _with_picture(record, thumb))
    found.extend(thumbs)
    for content in _dicts(entry.get("content")):
        value = content.get("value")
        if isinstance(value, str) and "<img" in value.lower():
            found.extend((m.url or "", m) for m in html_images(value, base_url))
            break
    else:
        summary = entry.get("summary")
        if isinstance(summary, str) and "<img" in summary.lower():
            found.extend((m.url or "", m) for m in html_images(summary, base_url))
    return merge_media(found)


def _with_picture(record: Media, picture: Media) -> Media:
    return Media(
        record.kind,
        picture.url,
        picture.width,
        picture.height,
        record.size,
        record.mime,
        record.duration,
        record.name,
        record.alt,
    )


def json_media(raw: Mapping[str, Any], base_url: str | None) -> tuple[Media, ...]:
    """The media of one JSON Feed item: ``image``, ``banner_image``, ``attachments``, then
    the images of ``content_html``."""
    found: list[tuple[str, Media]] = []
    for key in ("image", "banner_image"):
        address = _http(raw.get(key), base_url)
        if address:
            found.append((address, Media("photo", address)))
    for attachment in _dicts(raw.get("attachments")):
        address = _http(attachment.get("url"), base_url)
        if address:
            mime = str(attachment.get("mime_type") or "") or None
            record = _record(
                _kind(mime, None, address),
                address,
                size=_int(attachment.get("size_in_bytes")),
                mime=mime,
                duration=_float(attachment.get("duration_in_seconds")),
                alt=str(attachment.get("title") or "") or None,
            )
            found.append((address, record))
    content = raw.get("content_html")
    if isinstance(content, str) and "<img" in content.lower():
        found.extend((m.url or "", m) for m in html_images(content, base_url))
    return merge_media(found)


_IMG = re.compile(r"<img\b([^>]*)>", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")


def html_images(fragment: str, base_url: str | None, limit: int = HTML_IMAGES) -> tuple[Media, ...]:
    """The first ``limit`` pictures of an HTML fragment's ``<img>`` tags, tracking pixels
    and icons left out (see the module docstring)."""
    out: list[Media] = []
    for tag in _IMG.finditer(fragment):
        attrs = {
            name.lower(): html.unescape(value.strip("\"'"))
            for name, value in _ATTR.findall(tag.group(1))
        }
        address = _http(attrs.get("src") or attrs.get("data-src"), base_url)
        if address is None:
            continue  # data: URIs, javascript:, nothing
        width, height = _int(attrs.get("width")), _int(attrs.get("height"))
        if _tracker_or_icon(address, width, height, attrs.get("class") or ""):
            continue
        out.append(Media("photo", address, width, height, alt=attrs.get("alt") or None))
        if len(out) >= limit:
            break
    return tuple(out)


def _tracker_or_icon(address: str, width: int | None, height: int | None, classes: str) -> bool:
    if (width is not None and width <= 2) or (height is not None and height <= 2):
        return True  # a tracking pixel
    if (width is not None and width < 32) and (height is None or height < 32):
        return True  # an icon
    try:
        parts = urlsplit(address)
    except ValueError:
        return True
    host = (parts.hostname or "").lower()
    if any(host == t or host.endswith("." + t) or (t.endswith(".") and host.startswith(t))
           for t in TRACKER_HOSTS):  # fmt: skip
        return True
    lowered = (parts.path + " " + classes).lower()
    if any(hint in lowered for hint in _ICON_HINTS):
        return True
    return parts.path.lower().endswith(_ICON_EXTENSIONS)


def merge_media(found: Iterable[tuple[str, Media]]) -> tuple[Media, ...]:
    """One record per file, in order: the same address twice, or the same picture at
    another size (the same host and path, another query), is kept once, the widest
    (and the first record's kind and place)."""
    out: list[Media] = []
    seen: dict[str, int] = {}
    for address, record in found:
        try:
            parts = urlsplit(address)
            same = f"{parts.netloc.lower()}{parts.path}" if record.kind == "photo" else address
        except ValueError:
            same = address
        at = seen.get(same)
        if at is None:
            seen[same] = len(out)
            out.append(record)
        elif (record.width or 0) > (out[at].width or 0) and record.kind == out[at].kind:
            out[at] = record
    return tuple(out)


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, Mapping)]
    return []


# VK: the attachment types that carry a picture, and where.
_VK_KINDS = {
    "photo": "photo", "posted_photo": "photo", "album": "photo", "graffiti": "photo",
    "video": "video", "clip": "video", "doc": "document", "note": "document",
    "poll": "poll", "link": "link_preview", "page": "link_preview", "audio": "audio",
    "podcast": "audio",
}  # fmt: skip


def vk_media(attachments: Any) -> tuple[Media, ...]:
    """The media of a VK post's ``attachments`` (wall.get): photos at their largest size,
    a video's largest preview image and duration, a document's title, size and preview,
    a link's picture; other attachments by kind only."""
    out: list[Media] = []
    for attachment in _dicts(attachments):
        kind_name = str(attachment.get("type") or "")
        kind = _VK_KINDS.get(kind_name, "unsupported")
        body = attachment.get(kind_name)
        body = body if isinstance(body, Mapping) else {}
        if kind_name == "album":
            body = body.get("thumb") if isinstance(body.get("thumb"), Mapping) else {}
        if kind_name == "link":
            body_photo = body.get("photo")
            picture = _vk_picture(body_photo if isinstance(body_photo, Mapping) else {})
        elif kind_name == "doc":
            preview = body.get("preview")
            photo = preview.get("photo") if isinstance(preview, Mapping) else None
            picture = _vk_picture(photo if isinstance(photo, Mapping) else {})
        else:
            picture = _vk_picture(body)
        url, width, height = picture if picture else (None, None, None)
        name = str(body.get("title") or "") or None if kind in ("document", "audio") else None
        if kind == "document" and name and body.get("ext") and "." not in name:
            name = f"{name}.{body['ext']}"
        duration = _float(body.get("duration")) if kind in ("video", "audio") else None
        size = _int(body.get("size")) if kind == "document" else None
        alt = str(body.get("text") or "") or None if kind == "photo" else None
        out.append(Media(kind, url, width, height, size, None, duration, name, alt))
    return tuple(out)


def _vk_picture(body: Mapping[str, Any]) -> tuple[str, int | None, int | None] | None:
    """The largest of a VK photo's ``sizes`` (``url`` or ``src``), a video's ``image``
    list, or the old ``photo_604``-style keys."""
    candidates: list[tuple[int, str, int | None, int | None]] = []
    for group in ("sizes", "image", "first_frame"):
        for size in _dicts(body.get(group)):
            url = _http(size.get("url") or size.get("src"), None)
            if url:
                width, height = _int(size.get("width")), _int(size.get("height"))
                candidates.append(((width or 0) * (height or 0), url, width, height))
        if candidates:
            break
    if not candidates:
        for key, value in body.items():
            if isinstance(key, str) and key.startswith("photo_") and key[6:].isdigit():
                url = _http(value, None)
                if url:
                    candidates.append((int(key[6:]), url, None, None))
    if not candidates:
        return None
    _, url, width, height = max(candidates, key=lambda c: c[0])
    return url, width, height


# --------------------------------------------------------------------------- fetch


class ImageError(FetchError):
    """A picture could not be fetched or is not a picture; ``str()`` is one line for a
    person, the URL redacted."""


@dataclass(frozen=True)
class FetchedImage:
    url: str  # where it was fetched from, after redirects
    original_url: str  # the address the post gave
    body: bytes
    mime: str  # what the bytes are ("image/jpeg"), from their magic number
    sha256: str  # hex

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def extension(self) -> str:
        return _EXTENSIONS.get(self.mime, ".img")


_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/bmp": ".bmp", "image/tiff": ".tif", "image/avif": ".avif", "image/heic": ".heic",
    "image/x-icon": ".ico",
}  # fmt: skip


def image_type(head: bytes) -> str | None:
    """The image type the first bytes show (magic numbers), or None: not an image we
    keep (SVG is text that can carry scripts: never)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    return None


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


async def fetch_image(
    http: HttpClient,
    url: str,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    allow_private: Sequence[str] | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 (the seconds for the whole fetch)
    max_redirects: int = 5,
) -> FetchedImage:
    """GET one picture under the rules for untrusted URLs (see the module docstring).

    ``http``: the watchers' shared client (its guarded session; its ``[polling]
    allow_private`` list checks every connection).  ``allow_private``: the list each
    hop's address is checked against (None: the client's own list; a list the client's
    does not allow still cannot connect).  ``timeout``: seconds for the whole fetch,
    redirects included.  Raises ``ImageError`` (one line) on any failure."""
    guard = http.guard if allow_private is None else AddressGuard(allow_private)
    session = http.guarded_session()
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(session, guard, url, max_bytes, max_redirects)
    except TimeoutError:
        raise ImageError(f"image timed out after {timeout:g} s: {redact_url(url)}") from None
    except ImageError:
        raise
    except FetchError as exc:
        raise ImageError(str(exc)) from None
    except (aiohttp.ClientError, ValueError, OSError) as exc:
        raise ImageError(f"image fetch failed ({type(exc).__name__}): {redact_url(url)}") from None


async def _fetch(
    session: aiohttp.ClientSession,
    guard: AddressGuard,
    url: str,
    max_bytes: int,
    max_redirects: int,
) -> FetchedImage:
    current = url
    for hop in range(max_redirects + 1):
        if urlsplit(current).scheme.lower() not in ("http", "https"):
            raise ImageError(f"image refused: not an http(s) URL: {redact_url(current)}")
        refusal = await guard.check_url(current)
        if refusal:
            where = redact_url(current)
            if hop:
                where = f"a redirect from {redact_url(url)} to {where}"
            raise ImageError(f"image refused: {where}: {refusal}")
        shown = redact_url(current)
        try:
            async with session.get(
                current, allow_redirects=False, headers={"Accept": "image/*"}
            ) as resp:
                location = resp.headers.get("Location")
                if resp.status in _REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if resp.status != 200:
                    raise ImageError(f"image not fetched: HTTP {resp.status} from {shown}")
                declared = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not declared.startswith("image/"):
                    raise ImageError(
                        f"not an image: {shown} is served as {declared or 'no content type'}"
                    )
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise ImageError(f"image larger than the {_mb(max_bytes)} cap: {shown}")
                body = await _read_capped(resp, max_bytes, shown)
        except aiohttp.ClientConnectorDNSError as exc:
            raise ImageError(f"image refused or host not found: {shown} ({exc.os_error})") from None
        except aiohttp.ClientError as exc:
            raise ImageError(f"image fetch failed ({type(exc).__name__}): {shown}") from None
        kind = image_type(body[:32])
        if kind is None:
            raise ImageError(
                f"not an image: the bytes of {shown} (served as {declared}) are not a picture"
            )
        digest = await asyncio.to_thread(_sha256, body)  # up to max_bytes: off the loop
        return FetchedImage(current, url, body, kind, digest)
    raise ImageError(
        f"image not fetched: too many redirects (more than {max_redirects}) from {redact_url(url)}"
    )


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int, shown: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ImageError(f"image larger than the {_mb(max_bytes)} cap: {shown}")
        chunks.append(chunk)
    return b"".join(chunks)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"
