"""The one HTTP client every watcher shares: limits, redirects, conditional GET.

    watchers/rss.fetch -> HttpClient.get(url, etag=..., last_modified=...) -> Response

One ``aiohttp`` session with a connect and a read timeout, a cap on the (decoded)
body size, at most ``per_host`` requests at a time to one host, and redirects
followed here (not by aiohttp) so that a chain of only permanent redirects (301,
308) can be told apart: its target is ``Response.permanent_url``.  Redirects go to
http(s) only.  ``file://`` URLs (absolute paths) are read off the event loop with a
fake ETag (mtime and size), so the bundled offline samples get 304s too.

Every failure is a ``FetchError`` whose message is meant for a person ("timed out
after 30 s reading https://...") and never carries credentials: URLs in messages
lose their user:password part.  HTTP error statuses are not failures here: the
caller reads ``Response.status``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import ssl
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

__all__ = ["DEFAULT_USER_AGENT", "FetchError", "HttpClient", "Response", "redact_url"]

DEFAULT_USER_AGENT = "Dozor/0.1 (+https://github.com/dozor-osint/dozor; feed monitor)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch failed (network, timeout, size cap, bad URL); ``str()`` is for a person."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str] = field(hash=False)  # lower-case names
    body: bytes
    url: str  # after redirects
    permanent_url: str | None = None  # set when every redirect hop was 301/308
    truncated: bool = False  # the connection closed before the whole body arrived


def redact_url(url: str) -> str:
    """The URL without its ``user:password@`` part, fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _size(n: int) -> str:
    mib, kib = 1024 * 1024, 1024
    if n >= mib and n % mib == 0:
        return f"{n // mib} MB"
    if n >= kib and n % kib == 0:
        return f"{n // kib} KB"
    return f"{n} bytes"


def _host_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}:{parts.port or ''}"
    except ValueError:  # a port that is no number: aiohttp will refuse the URL
        return url


class HttpClient:
    """``async with HttpClient() as http: response = await http.get(url)``."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        per_host: int = 4,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.per_host = per_host
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> HttpClient:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout, sock_read=self.read_timeout
        )
        self._session = aiohttp.ClientSession(
            timeout=timeout,
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            auto_decompress=True,
            raise_for_status=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Response:
        """GET ``url`` (http, https or file), following up to ``max_redirects``."""
        scheme = urlsplit(url).scheme.lower() if url else ""
        if scheme == "file":
            return await self._get_file(url, etag=etag, last_modified=last_modified)
        if scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL (only http, https and file): {redact_url(url)}")
        if self._session is None:
            raise RuntimeError("HttpClient.get() outside `async with HttpClient() as http`")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        current, all_permanent, hops = url, True, 0
        while True:
            response, location = await self._request(current, headers)
            if location is None:
                permanent = current if hops and all_permanent else None
                return Response(
                    response.status,
                    response.headers,
                    response.body,
                    current,
                    permanent,
                    response.truncated,
                )
            if hops >= self.max_redirects:
                raise FetchError(
                    f"too many redirects (more than {self.max_redirects}) "
                    f"starting at {redact_url(url)}"
                )
            try:
                target = urljoin(current, location)
                scheme = urlsplit(target).scheme.lower()
            except ValueError:
                raise FetchError(f"bad redirect from {redact_url(current)}") from None
            if scheme not in ("http", "https"):
                raise FetchError(f"refused a redirect from {redact_url(current)} to a non-http URL")
            all_permanent = all_permanent and response.status in _PERMANENT
            current, hops = target, hops + 1

    async def _request(self, url: str, headers: dict[str, str]) -> tuple[Response, str | None]:
        """One request, no redirects: the response, and the Location to follow if any."""
        assert self._session is not None
        shown = redact_url(url)
        slot = self._host_slots.setdefault(_host_of(url), asyncio.Semaphore(self.per_host))
        async with slot:
            try:
                async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                    location = resp.headers.get("Location")
                    if resp.status in _REDIRECTS and location:
                        return Response(resp.status, resp_headers, b"", url), location
                    body, truncated = await self._read_body(resp, shown)
                    return Response(resp.status, resp_headers, body, url, None, truncated), None
            except FetchError:
                raise
            except aiohttp.ConnectionTimeoutError:
                raise FetchError(
                    f"timed out after {_seconds(self.connect_timeout)} connecting to {shown}"
                ) from None
            except (TimeoutError, aiohttp.ServerTimeoutError):
                raise FetchError(
                    f"timed out after {_seconds(self.read_timeout)} reading {shown}"
                ) from None
            except aiohttp.ClientConnectorDNSError:
                raise FetchError(f"host not found: {urlsplit(url).hostname} ({shown})") from None
            except aiohttp.ClientConnectorCertificateError as exc:
                raise FetchError(
                    f"TLS certificate not accepted for {shown}: {exc.certificate_error}"
                ) from None
            except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
                raise FetchError(f"TLS error talking to {shown}: {exc}") from None
            except aiohttp.ClientConnectorError as exc:
                raise FetchError(_connect_message(exc, shown)) from None
            except aiohttp.ServerDisconnectedError:
                raise FetchError(f"the server closed the connection: {shown}") from None
            except aiohttp.InvalidURL:
                raise FetchError(f"invalid URL: {shown}") from None
            except aiohttp.ClientResponseError as exc:  # malformed status line or headers
                raise FetchError(f"bad HTTP response from {shown}: {exc.message}") from None
            except aiohttp.ClientError as exc:
                raise FetchError(f"request failed ({type(exc).__name__}): {shown}") from None
            except (ValueError, OSError) as exc:  # odd URLs, socket errors aiohttp let through
                raise FetchError(f"request failed ({type(exc).__name__}): {shown}") from None

    async def _read_body(self, resp: aiohttp.ClientResponse, shown: str) -> tuple[bytes, bool]:
        cap = f"response larger than {_size(self.max_bytes)} cap: {shown}"
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise FetchError(cap)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(cap)
                chunks.append(chunk)
        except aiohttp.ClientPayloadError as exc:
            if _is_decoding_error(exc):  # a bad gzip/deflate stream, not a cut
                raise FetchError(f"could not decompress the response from {shown}") from None
            if not chunks:
                raise FetchError(
                    f"the connection closed before any body arrived: {shown}"
                ) from None
            return b"".join(chunks), True
        return b"".join(chunks), False

    async def _get_file(self, url: str, *, etag: str | None, last_modified: str | None) -> Response:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(f"file URL with a host is not supported: {url}")
        path = Path(url2pathname(parts.path))
        if not path.is_absolute():
            raise FetchError(f"file URL needs an absolute path: {url}")
        try:
            stat, body = await asyncio.to_thread(_read_file, path, self.max_bytes)
        except FileNotFoundError:
            raise FetchError(f"file not found: {path}") from None
        except IsADirectoryError:
            raise FetchError(f"not a file but a directory: {path}") from None
        except PermissionError:
            raise FetchError(f"no permission to read {path}") from None
        except _TooLarge:
            raise FetchError(f"response larger than {_size(self.max_bytes)} cap: {url}") from None
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
        mtime, size = stat
        file_etag = f'"{mtime:x}-{size:x}"'
        file_modified = formatdate(mtime / 1e9, usegmt=True)
        headers = {
            "etag": file_etag,
            "last-modified": file_modified,
            "content-length": str(size),
        }
        if _not_modified(etag, last_modified, file_etag, mtime // 10**9):
            return Response(304, headers, b"", url)
        return Response(200, headers, body, url)


class _TooLarge(Exception):
    pass


def _read_file(path: Path, max_bytes: int) -> tuple[tuple[int, int], bytes]:
    with path.open("rb") as f:
        st = os.fstat(f.fileno())
        if st.st_size > max_bytes:
            raise _TooLarge
        body = f.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise _TooLarge
    return (st.st_mtime_ns, len(body)), body


def _not_modified(
    etag: str | None, last_modified: str | None, current_etag: str, mtime_s: int
) -> bool:
    if etag:
        return etag.strip() == current_etag
    if last_modified:
        try:
            since = parsedate_to_datetime(last_modified).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return mtime_s <= since
    return False


def _is_decoding_error(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ContentEncodingError):
            return True
        cause = cause.__cause__
    return "content-encoding" in str(exc).lower()


def _connect_message(exc: aiohttp.ClientConnectorError, shown: str) -> str:
    where = f"{exc.host}:{exc.port}"
    code = getattr(exc.os_error, "errno", None)
    if code == errno.ECONNREFUSED:
        return f"connection refused: {where} ({shown})"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"network unreachable: {where} ({shown})"
    reason = getattr(exc.os_error, "strerror", None) or type(exc.os_error).__name__
    return f"cannot connect to {where}: {reason} ({shown})"
