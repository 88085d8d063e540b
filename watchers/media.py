"""An item's picture, fetched by Dozor itself: for an alert's photo upload when the chat
platform cannot fetch it.

    adapter (Telegram refused the URL) -> fetch_image(url) -> Image -> upload

A media URL comes from a post's content, so it is untrusted even in a trusted source:
it is fetched only as a chat-added source is (``HttpClient(trusted=False)``: private,
loopback, link-local and metadata addresses refused unless ``[polling] allow_private``
names them, every redirect hop checked), with a size cap, a short time limit, and the
body must be an image by its Content-Type *and* its first bytes (JPEG, PNG, GIF, WebP).
Every failure is an ``ImageError`` whose message is one line for a person.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from watchers.http import FetchError, HttpClient, redact_url

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Telegram takes photo uploads up to 10 MB
IMAGE_TIMEOUT = 20.0  # seconds for the whole fetch, redirects included
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)


class ImageError(Exception):
    """The picture could not be fetched or is no image; ``str()`` is for a person."""


@dataclass(frozen=True)
class Image:
    data: bytes
    mime: str  # as its first bytes say: "image/jpeg", "image/png", "image/gif", "image/webp"
    url: str  # after redirects
    name: str  # a file name for the upload: "photo.jpg"


def sniff(data: bytes) -> tuple[str, str] | None:
    """The image type its first bytes say (MIME, extension), or None."""
    for magic, mime, ext in _MAGIC:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


async def fetch_image(
    url: str,
    *,
    allow: Sequence[str] = (),
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout: float = IMAGE_TIMEOUT,  # noqa: ASYNC109
) -> Image:
    """GET ``url`` as an untrusted image (see the module docstring)."""
    shown = redact_url(url)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImageError(f"not an http(s) image address: {shown}")
    try:
        async with HttpClient(
            allow=allow, max_bytes=max_bytes, connect_timeout=timeout, read_timeout=timeout
        ) as http:
            response = await asyncio.wait_for(http.get(url, trusted=False), timeout)
    except TimeoutError:
        raise ImageError(f"timed out after {timeout:.0f} s fetching {shown}") from None
    except (FetchError, ValueError) as exc:
        raise ImageError(f"could not fetch {shown}: {exc}") from None
    if response.status != 200:
        raise ImageError(f"HTTP {response.status} fetching {shown}")
    if response.truncated:
        raise ImageError(f"the image at {shown} was cut short")
    declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not declared.startswith("image/"):
        raise ImageError(f"{shown} is no image (Content-Type {declared or 'missing'})")
    kind = sniff(response.body)
    if kind is None:
        raise ImageError(f"{shown} says {declared} but its bytes are no JPEG, PNG, GIF or WebP")
    mime, ext = kind
    return Image(response.body, mime, response.url, f"photo.{ext}")
