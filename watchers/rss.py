"""The feed watcher: RSS 0.9x/1.0/2.0, Atom and JSON Feed sources -> ``Item``s.

    Source + FetchState -> fetch() -> HttpClient.get -> parse_feed() -> FetchResult

``fetch`` does the HTTP side: conditional GET with the stored ETag/Last-Modified
(``trusted=source.trusted``: chat-added sources cannot reach private addresses; a
descriptive User-Agent for sites that ask for one, see ``SITE_USER_AGENTS``),
the stored URL of a permanent redirect, status mapping (304 NOT_MODIFIED, 410 GONE,
429/503 with Retry-After, other errors ERROR), and skipping the parse when the body
is byte-identical to the last one (UNCHANGED).  Error messages read
"<what went wrong, with the URL> (source: <name>)".  The parse runs in the given executor
(a process pool in production), never on the event loop.  After a failed parse the
stored validators and body hash stay the old ones, so the same broken body is
parsed again (and reported again) instead of passing as unchanged.

``parse_feed`` is pure and picklable and never raises: a body that is no feed comes
back with ``error`` set.  Items come out oldest first, in plain text, with their media
as records (enclosures, Media RSS, the content's first images: watchers/media.py).  Encodings:
feedparser's rules (HTTP charset, XML declaration, BOM, chardet), except that a body
that is valid UTF-8 is read as UTF-8 whatever it declares (as Miniflux does), and a
missing Content-Type means "XML", not ISO-8859-1.  Blank lines before the XML
declaration are dropped (``_declaration_first``).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import time
import xml.sax
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.mixin
import feedparser.urls

from bot.model import FetchResult, FetchState, FetchStatus, Item, Source
from watchers.common import about, failed, retry_note, run_off_loop
from watchers.http import FetchError, HttpClient, parse_max_age, parse_retry_after, redact_url
from watchers.identity import item_key, story_key
from watchers.media import feed_media, json_media
from watchers.text import collapse_whitespace, html_to_text

# parse_max_age and parse_retry_after live in watchers.http; re-exported for old callers.
__all__ = ["ParsedFeed", "fetch", "parse_feed", "parse_max_age", "parse_retry_after"]


MAX_ITEMS = 2000  # items kept from one feed body (the newest): parsing stays bounded

# feedparser resolves every element's base URL against its parent's (a urljoin, a
# urlparse and a regex per element: a quarter of its time on a podcast feed), and the
# answer depends on the two strings alone: remember the recent ones.
feedparser.mixin.make_safe_absolute_uri = lru_cache(maxsize=1024)(  # type: ignore[attr-defined]
    feedparser.urls.make_safe_absolute_uri
)


@dataclass(frozen=True)
class ParsedFeed:
    items: tuple[Item, ...] = ()
    ttl_minutes: int | None = None  # the feed's <ttl>
    error: str | None = None  # set when the body is no feed; items are then empty
    title: str | None = None  # the feed's own title
    format: str | None = None  # "rss20", "atom10", "rss10", "jsonfeed1.1"...: a feed was recognised


# --------------------------------------------------------------------------- parse


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    source_name: str,
    tags: tuple[str, ...],
    base_url: str,
) -> ParsedFeed:
    """Parse a feed body into items, oldest first.  Never raises."""
    try:
        headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        if not body or not body.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
            return ParsedFeed(error="not a feed: the response was empty")
        if _looks_like_json(body):
            return _parse_json_feed(body, source_name, tags, base_url)
        return _parse_xml_feed(body, headers, source_name, tags, base_url)
    except Exception as exc:  # a bug or a feed nobody foresaw: report it, never raise
        return ParsedFeed(error=f"could not parse the feed ({type(exc).__name__}: {exc})")


def _parse_xml_feed(
    body: bytes, headers: dict[str, str], source_name: str, tags: tuple[str, ...], base_url: str
) -> ParsedFeed:
    body, headers = _prefer_utf8(_cut_items(_declaration_first(body)), headers)
    headers.setdefault("content-location", base_url)
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        resolve_relative_uris=False,  # the text is stripped of markup anyway
        sanitize_html=False,
    )
    feed = parsed.get("feed", {})
    title = _detail_text(feed.get("title"), feed.get("title_detail")) or None
    entries = parsed.get("entries", [])
    version = parsed.get("version") or None
    if not entries and (
        (not title and (parsed.get("bozo") or not version))
        or (not version and _looks_like_html(body, headers))
        or _cut_off(parsed)  # a title but the items never came: not "an empty feed"
    ):
        return ParsedFeed(error=_not_a_feed(parsed, body, headers))

    items = [
        _item_from_entry(entry, source_name, tags, base_url)
        for entry in entries
        if isinstance(entry, Mapping)
    ]
    return ParsedFeed(
        items=_oldest_first(items),
        ttl_minutes=_positive_int(feed.get("ttl")),
        title=title,
        format=version,
    )


def _item_from_entry(
    entry: Mapping[str, Any], source_name: str, tags: tuple[str, ...], base_url: str
) -> Item:
    title = _detail_text(entry.get("title"), entry.get("title_detail"))
    text = ""
    for content in entry.get("content") or ():
        if isinstance(content, Mapping) and content.get("value"):
            text = _detail_text(content.get("value"), content)
            if text:
                break
    if not text:
        text = _detail_text(entry.get("summary"), entry.get("summary_detail"))
    link = _http_link(entry.get("link"), base_url)
    published = _struct_to_utc(entry.get("published_parsed")) or _struct_to_utc(
        entry.get("updated_parsed")
    )
    author = collapse_whitespace(str(entry.get("author") or "")) or None
    guid = entry.get("id")
    guid = guid if isinstance(guid, str) else None
    return Item(
        source=source_name,
        key=item_key(guid, link, title, text),
        story_key=story_key(link, title, text),
        title=title,
        text=text,
        link=link,
        published=published,
        author=author,
        tags=tuple(tags),
        media=feed_media(entry, link or base_url),
    )


def _detail_text(value: Any, detail: Any) -> str:
    """Plain text of a feedparser value, by its declared type (text/plain or HTML)."""
    if not isinstance(value, str) or not value:
        return ""
    kind = detail.get("type", "") if isinstance(detail, Mapping) else ""
    if kind == "text/plain":
        return collapse_whitespace(value)
    return html_to_text(value)


def _not_a_feed(parsed: Mapping[str, Any], body: bytes, headers: Mapping[str, str]) -> str:
    if _looks_like_html(body, headers):
        page_title = _html_title(body)
        shown = f' ("{page_title}")' if page_title else ""
        return f"not a feed: got an HTML page{shown}, not RSS, Atom or JSON Feed"
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(exc, xml.sax.SAXParseException) and _cut_off(parsed):
        return (
            f"not a feed: the document ends before it is complete "
            f"(syntax error at line {exc.getLineNumber()}: {exc.getMessage()})"
        )
    if isinstance(exc, xml.sax.SAXParseException):
        return f"not a feed: syntax error at line {exc.getLineNumber()}: {exc.getMessage()}"
    if not parsed.get("version"):
        also = f" ({exc})" if exc is not None else ""
        return f"not a feed: no RSS, Atom or JSON Feed elements found{also}"
    return f"not a feed: an empty {parsed['version']} document ({exc})"


def _cut_off(parsed: Mapping[str, Any]) -> bool:
    """The XML ended before the root element closed (a server that died mid-render)."""
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    return isinstance(exc, xml.sax.SAXParseException) and exc.getMessage() == "no element found"


_HTML_START = re.compile(
    rb"^(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def _looks_like_html(body: bytes, headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("text/html", "application/xhtml+xml") or bool(
        _HTML_START.match(body[:4096].removeprefix(codecs.BOM_UTF8))
    )


def _html_title(body: bytes) -> str:
    match = _HTML_TITLE.search(body[:65536])
    if not match:
        return ""
    raw = match.group(1)
    try:
        title = html_to_text(raw.decode("utf-8"))
    except UnicodeDecodeError:
        title = html_to_text(raw.decode("windows-1252", "replace"))
    return title if len(title) <= 80 else title[:79] + "…"


# --------------------------------------------------------------------------- encodings

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32 BOMs start so too
_XML_DECL_ENCODING = re.compile(rb"""^(<\?xml[^>]*?encoding\s*=\s*["'])([^"']*)(["'])""")
_WIDE = ("utf-16", "utf16", "utf_16", "utf-32", "utf32", "utf_32", "ucs-2", "ucs2", "ucs-4",
         "ucs4", "iso-10646", "csunicode", "unicode")  # fmt: skip


def _prefer_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """Read valid UTF-8 as UTF-8 whatever the HTTP charset or XML declaration claims.

    Servers and feed generators mislabel UTF-8 as windows-1252, ISO-8859-1 or even
    UTF-16 far more often than a legacy-encoded text happens to be valid UTF-8.  A
    pure-ASCII body is left alone (the declaration may be a 7-bit encoding such as
    ISO-2022-JP) unless it claims a 16/32-bit encoding, which it cannot be.
    """
    headers = dict(headers)
    content_type = headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip()
    if not content_type:
        # No Content-Type: feedparser would fall back to ISO-8859-1; XML says UTF-8 or
        # whatever the declaration and BOM say, and chardet beats a fixed guess.
        headers["content-type"] = media_type = "application/xml"
    if body.startswith(_BOMS) or b"\x00" in body[:4]:
        return body, headers  # a BOM or UTF-16/32 without one: feedparser knows these
    declared = [_charset(content_type)]
    match = _XML_DECL_ENCODING.match(body[:1024])
    if match:
        declared.append(match.group(2).decode("ascii", "replace").strip().lower())
    declared = [d for d in declared if d]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        if not declared or any(d.replace("_", "-") not in ("utf-8", "utf8") for d in declared):
            return body, headers
        # Declared UTF-8 with a few broken bytes: keep the text, mark the bad bytes (U+FFFD)
        # rather than let a guess re-read the whole feed in another encoding.
        body = body.decode("utf-8", "replace").encode("utf-8")
    if body.isascii() and not any(d.startswith(_WIDE) for d in declared):
        return body, headers
    if match and match.group(2).strip().lower() not in (b"utf-8", b"utf8"):
        body = body[: match.start(2)] + b"utf-8" + body[match.end(2) :]
    headers["content-type"] = f"{media_type}; charset=utf-8"
    return body, headers


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").lower()
    return ""


# --------------------------------------------------------------------------- JSON Feed


def _looks_like_json(body: bytes) -> bool:
    head = body[:1024]
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            head = head[len(bom) :].decode(codec, "ignore").encode("utf-8")
            break
    head = head.lstrip()
    return head.startswith(b"{") or (b"jsonfeed.org" in head and b'"version"' in head)


def _parse_json_feed(
    body: bytes, source_name: str, tags: tuple[str, ...], base_url: str
) -> ParsedFeed:
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        return ParsedFeed(error=f"not a feed: invalid JSON{where}: {message}")
    if not isinstance(data, dict):
        return ParsedFeed(error="not a feed: got JSON that is not a JSON Feed")
    version = data.get("version")
    version = version if isinstance(version, str) else ""
    raw_items = data.get("items")
    if "jsonfeed.org" not in version and not isinstance(raw_items, list):
        return ParsedFeed(error="not a feed: got JSON that is not a JSON Feed")
    feed_base = _http_link(data.get("feed_url"), base_url) or base_url
    feed_authors = _json_authors(data)
    items = [
        _item_from_json(raw, source_name, tags, feed_base, feed_authors)
        for raw in (raw_items if isinstance(raw_items, list) else ())
        if isinstance(raw, dict)
    ]
    title = _plain(data.get("title")) or None
    number = version.rstrip("/").rpartition("/")[2] if "jsonfeed.org" in version else ""
    return ParsedFeed(items=_oldest_first(items), title=title, format=f"jsonfeed{number or '1'}")


def _item_from_json(
    raw: dict[str, Any],
    source_name: str,
    tags: tuple[str, ...],
    base_url: str,
    feed_authors: str | None,
) -> Item:
    title = _plain(raw.get("title"))
    text = _plain(raw.get("content_text"), keep_lines=True)
    if not text and isinstance(raw.get("content_html"), str):
        text = html_to_text(raw["content_html"])
    if not text:
        text = _plain(raw.get("summary"), keep_lines=True)
    link = _http_link(raw.get("url"), base_url) or _http_link(raw.get("external_url"), base_url)
    published = _iso_to_utc(raw.get("date_published")) or _iso_to_utc(raw.get("date_modified"))
    raw_id = raw.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    return Item(
        source=source_name,
        key=item_key(guid, link, title, text),
        story_key=story_key(link, title, text),
        title=title,
        text=text,
        link=link,
        published=published,
        author=_json_authors(raw) or feed_authors,
        tags=tuple(tags),
        media=json_media(raw, base_url),
    )


def _json_authors(obj: Mapping[str, Any]) -> str | None:
    """JSON Feed 1.1 ``authors`` (list) or 1.0 ``author`` (object): names, comma-joined."""
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")]
    names = [_plain(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def _plain(value: Any, *, keep_lines: bool = False) -> str:
    if not isinstance(value, str):
        return ""
    return collapse_whitespace(value if keep_lines else value.replace("\n", " "))


# --------------------------------------------------------------------------- common


def _oldest_first(items: list[Item]) -> tuple[Item, ...]:
    """Feeds list newest first: reverse, then order by date if every item has one; at
    most the newest ``MAX_ITEMS``."""
    items = items[::-1]
    if items and all(item.published is not None for item in items):
        items.sort(key=lambda item: item.published or datetime.min.replace(tzinfo=UTC))
    return tuple(items[-MAX_ITEMS:])


def _declaration_first(body: bytes) -> bytes:
    """The body without the blank lines some publishers put before ``<?xml ...?>``: XML
    allows nothing there, so the XML parser gives up on such a feed and feedparser
    reads it again with its loose parser, ten times slower (the items come out the
    same)."""
    stripped = body.lstrip(b" \t\r\n")
    return stripped if stripped is not body and stripped.startswith(b"<?xml") else body


def _cut_items(body: bytes) -> bytes:
    """A body with far more than ``MAX_ITEMS`` entries is cut after the first
    ``MAX_ITEMS`` of them (feeds list the newest first), so parsing time stays bounded;
    feedparser recovers the entries before the cut."""
    items, entries = body.count(b"</item>"), body.count(b"</entry>")
    if items + entries <= MAX_ITEMS:
        return body
    closing = b"</item>" if items >= entries else b"</entry>"
    end = 0
    for _ in range(MAX_ITEMS):
        found = body.find(closing, end)
        if found < 0:
            return body
        end = found + len(closing)
    return body[:end]


def _http_link(value: Any, base_url: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        link = urljoin(base_url, value.strip())
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link if scheme in ("http", "https") else None


def _struct_to_utc(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _iso_to_utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)  # RFC 822, as some generators write
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


# --------------------------------------------------------------------------- fetch


async def fetch(
    source: Source,
    state: FetchState,
    http: HttpClient,
    pool: Executor | None = None,
) -> FetchResult:
    """Poll one feed source once.  Never raises for network or feed trouble."""
    url = state.url or source.url
    try:
        response = await http.get(
            url,
            etag=state.etag,
            last_modified=state.last_modified,
            trusted=source.trusted,
            user_agent=user_agent_for(url),
        )
    except FetchError as exc:
        return failed(source, state, str(exc))

    kept = replace(state, url=response.permanent_url or state.url)
    status = response.status
    where = redact_url(response.url)
    max_age = parse_max_age(response.headers.get("cache-control"))
    fail = partial(failed, source, kept, max_age=max_age, http_status=status)

    if status == 304:
        new_state = replace(
            kept,
            etag=response.headers.get("etag") or state.etag,
            last_modified=response.headers.get("last-modified") or state.last_modified,
        )
        return FetchResult(
            FetchStatus.NOT_MODIFIED, state=new_state, max_age=max_age, http_status=status
        )
    if status == 410:
        return FetchResult(
            FetchStatus.GONE,
            state=kept,
            error=about(source, f"410 Gone: the feed was removed at {where}"),
            http_status=status,
        )
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        reason = "too many requests" if status == 429 else "service unavailable"
        message = f"HTTP {status} ({reason}) from {where}{retry_note(retry_after)}"
        return fail(message, retry_after=retry_after)
    if status >= 400:
        return fail(f"HTTP {status} from {where}")
    if not 200 <= status < 300:
        return fail(f"HTTP {status} from {where} (not a feed response)")

    body_hash = hashlib.sha256(response.body).hexdigest()
    new_state = replace(
        kept,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        body_hash=body_hash,
    )
    if response.truncated:
        new_state = kept  # validators of a cut-off body must not make it stick
    elif body_hash == state.body_hash:
        return FetchResult(
            FetchStatus.UNCHANGED, state=new_state, max_age=max_age, http_status=status
        )

    try:
        args = (response.body, response.headers, source.name, tuple(source.tags), response.url)
        parsed = await run_off_loop(pool, parse_feed, *args)
    except Exception as exc:  # a broken process pool, mostly
        return fail(f"could not parse the feed ({type(exc).__name__}: {exc})")
    if parsed.error:
        cut = " (the connection closed before the whole feed arrived)" if response.truncated else ""
        return fail(f"{parsed.error}{cut}, at {where}")
    return FetchResult(
        FetchStatus.OK,
        items=parsed.items,
        state=new_state,
        max_age=max_age,
        ttl=timedelta(minutes=parsed.ttl_minutes) if parsed.ttl_minutes else None,
        http_status=status,
    )


# Sites that refuse or throttle generic clients and ask for a descriptive User-Agent
# (reddit: "<platform>:<app id>:<version> (by ...)"), by host suffix.
SITE_USER_AGENTS = {
    "reddit.com": "python:dozor:0.1 (feed monitor; +https://github.com/dozor-osint/dozor)",
}


def user_agent_for(url: str) -> str | None:
    """The User-Agent a site asks for, or None for the client's default."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    for suffix, agent in SITE_USER_AGENTS.items():
        if host == suffix or host.endswith("." + suffix):
            return agent
    return None
