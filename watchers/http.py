"""The one HTTP client every watcher shares: limits, redirects, conditional GET.

    watchers/rss.fetch -> HttpClient.get(url, etag=..., last_modified=...) -> Response

Two ``aiohttp`` sessions (one for trusted sources, one guarded for user-added ones,
see below) sharing the same limits: a connect and a read timeout, a cap on the
(decoded) body size, at most ``per_host`` requests at a time to one host, and
redirects followed here (not by aiohttp) so that a chain of only permanent redirects
(301, 308) can be told apart: its target is ``Response.permanent_url``.  Redirects go
to http(s) only.  ``file://`` URLs (absolute paths) are read off the event loop with a
fake ETag (mtime and size), so the bundled offline samples get 304s too.

Every failure is a ``FetchError`` whose message is meant for a person ("timed out
after 30 s reading https://...") and never carries credentials: URLs in messages
lose their user:password part and the values of token-like query parameters
(``access_token``, ``api_key``...).  HTTP error statuses are not failures here: the
caller reads ``Response.status``; ``parse_retry_after`` and ``parse_max_age`` read
the ``Retry-After`` and ``Cache-Control`` headers the watchers honour.

User-added sources are fetched with ``trusted=False``: before every request (the
first and each redirect hop) the host is resolved and the request is refused if any
of its addresses is loopback, private, link-local (cloud metadata at 169.254.169.254),
unspecified, multicast, reserved or otherwise not globally routable, or an IPv6
address embedding such an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64), unless the
client's ``allow`` list (CIDRs or host names, from the config) permits it.  The
untrusted requests go through their own connector whose resolver checks the addresses
again at connect time, so a host that re-resolves to a private address between the
check and the connection (DNS rebinding) is refused too.  ``file:`` URLs are refused
for untrusted sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import re
import socket
import ssl
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.resolver import ThreadedResolver

__all__ = [
    "DEFAULT_USER_AGENT",
    "AddressGuard",
    "FetchError",
    "HttpClient",
    "Response",
    "address_problem",
    "canonical_host",
    "embedded_ipv4",
    "ip_literal",
    "parse_max_age",
    "parse_retry_after",
    "redact_url",
]

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


_SECRET_PARAMS = frozenset(
    {"access_token", "token", "api_key", "apikey", "key", "secret", "client_secret",
     "password", "sig", "signature"}
)  # fmt: skip


def redact_url(url: str) -> str:
    """The URL without its ``user:password@`` part and with the values of token-like
    query parameters (``access_token=***``), fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    if parts.query:
        params = []
        for param in parts.query.split("&"):
            name, eq, value = param.partition("=")
            secret = eq and value and name.lower() in _SECRET_PARAMS
            params.append(f"{name}=***" if secret else param)
        parts = parts._replace(query="&".join(params))
    return urlunsplit(parts)


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """``Retry-After`` as a delay: delta-seconds or an HTTP date (relative to ``now``)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = when - (now or datetime.now(UTC))
    return max(delay, timedelta(0))


def parse_max_age(cache_control: str | None) -> timedelta | None:
    """``max-age`` of a ``Cache-Control`` header, if any."""
    for directive in _split_directives(cache_control):
        name, _, value = directive.partition("=")
        if name.strip().lower() == "max-age":
            seconds = value.strip().strip('"')
            if seconds.isdigit():
                return timedelta(seconds=int(seconds))
    return None


def _split_directives(header: str | None) -> Iterable[str]:
    return (part for part in (header or "").split(",") if part.strip())


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
    """``async with HttpClient() as http: response = await http.get(url)``.

    ``allow``: CIDRs (``"127.0.0.1"``, ``"10.0.0.0/8"``, ``"fd00::/8"``) and host names
    (``"intranet.example"``) that untrusted requests may reach although they are private
    (the config's allowlist).  A bad entry raises ``ValueError`` naming it.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        per_host: int = 4,
        user_agent: str = DEFAULT_USER_AGENT,
        allow: Sequence[str] = (),
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.per_host = per_host
        self.user_agent = user_agent
        self.guard = AddressGuard(allow)
        self._session: aiohttp.ClientSession | None = None
        self._guarded_session: aiohttp.ClientSession | None = None  # for trusted=False
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> HttpClient:
        self._session = self._new_session(aiohttp.TCPConnector(limit=0, limit_per_host=0))
        self._guarded_session = self._new_session(
            aiohttp.TCPConnector(
                limit=0,
                limit_per_host=0,
                use_dns_cache=False,  # every connection asks the guarded resolver
                resolver=_GuardedResolver(self.guard),
            )
        )
        return self

    def _new_session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout, sock_read=self.read_timeout
        )
        return aiohttp.ClientSession(
            timeout=timeout,
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
            connector=connector,
            auto_decompress=True,
            raise_for_status=False,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for session in (self._session, self._guarded_session):
            if session is not None:
                await session.close()
        self._session = self._guarded_session = None

    def guarded_session(self) -> aiohttp.ClientSession:
        """The session for untrusted URLs (its resolver refuses private addresses at
        connect time), for fetches that read the body their own way (watchers/media.py)."""
        if self._guarded_session is None:
            raise RuntimeError("HttpClient used outside `async with HttpClient() as http`")
        return self._guarded_session

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        trusted: bool = True,
        user_agent: str | None = None,
    ) -> Response:
        """GET ``url`` (http, https or file), following up to ``max_redirects``.

        ``trusted=False`` (user-added sources): refuse private addresses at every hop and
        ``file:`` URLs (see the module docstring).  ``user_agent`` replaces the client's
        User-Agent for this request (some sites, e.g. reddit, want a descriptive one).
        """
        scheme = urlsplit(url).scheme.lower() if url else ""
        if scheme == "file":
            if not trusted:
                raise FetchError(
                    f"refusing to read a local file for a source added from chat: {url}"
                )
            return await self._get_file(url, etag=etag, last_modified=last_modified)
        if scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL (only http, https and file): {redact_url(url)}")
        session = self._session if trusted else self._guarded_session
        if session is None:
            raise RuntimeError("HttpClient.get() outside `async with HttpClient() as http`")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if user_agent:
            headers["User-Agent"] = user_agent

        current, all_permanent, hops = url, True, 0
        while True:
            if not trusted:
                refusal = await self.guard.check_url(current)
                if refusal:
                    where = redact_url(current)
                    if hops:
                        where = f"a redirect from {redact_url(url)} to {where}"
                    raise FetchError(f"refusing to fetch {where}: {refusal}")
            response, location = await self._request(session, current, headers)
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

    async def _request(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str]
    ) -> tuple[Response, str | None]:
        """One request, no redirects: the response, and the Location to follow if any."""
        shown = redact_url(url)
        slot = self._host_slots.setdefault(_host_of(url), asyncio.Semaphore(self.per_host))
        async with slot:
            try:
                async with session.get(url, headers=headers, allow_redirects=False) as resp:
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
            except aiohttp.ClientConnectorDNSError as exc:
                if isinstance(exc.os_error, _Refused):  # the guarded resolver, at connect time
                    raise FetchError(f"refusing to fetch {shown}: {exc.os_error}") from None
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


# --------------------------------------------------------------------------- private addresses

_ALLOW_HINT = "allow it in [polling] allow_private if you mean it"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 in the last 32 bits


def embedded_ipv4(address: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with its form: IPv4-mapped
    (``::ffff:a.b.c.d``), 6to4 (``2002::/16``), Teredo (``2001::/32``: server and
    client) and NAT64 (``64:ff9b::/96``)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:
        found.append(("an IPv4-mapped", address.ipv4_mapped))
    if address.sixtofour is not None:
        found.append(("a 6to4", address.sixtofour))
    if address.teredo is not None:
        found.extend(("a Teredo", v4) for v4 in address.teredo)
    if address in _NAT64:
        found.append(("a NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    return found


def address_problem(address: IPAddress) -> str | None:
    """Why an untrusted source may not reach ``address`` ("a private address"), or None.
    An IPv6 address embedding a refused IPv4 address is refused for it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for form, inner in embedded_ipv4(address):
        problem = address_problem(inner)
        if problem:
            return f"{form} address for {inner}, {problem}"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


_DOTS = re.compile("[\u3002\uff0e\uff61]")  # what IDNA reads as "." besides "."
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")


def canonical_host(host: str) -> str:
    """``host`` as the resolver will see it: IDNA-mapped to ASCII (full-width digits and
    dots become ASCII ones), lower case, without a trailing dot."""
    host = host.strip().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDNA name: NFKC is what IDNA would start with
        host = unicodedata.normalize("NFKC", _DOTS.sub(".", host))
    return host.lower().rstrip(".")


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL's host names without any lookup, or None for a name: IPv4 and
    IPv6 literals, and the forms resolvers also take for IPv4 (``inet_aton``): one to
    four parts, each decimal, octal (``0177``) or hex (``0x7f``), the last filling the
    rest (``2130706433``, ``127.1``, ``0x7f000001`` are all 127.0.0.1)."""
    host = canonical_host(host).strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.fullmatch(p) for p in parts):
        return None
    numbers = [
        int(p[2:] or "0", 16) if p[:2].lower() == "0x" else int(p, 8 if p[:1] == "0" else 10)
        for p in parts
    ]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(head):
        value |= n << (24 - 8 * i)
    return ipaddress.IPv4Address(value)


class AddressGuard:
    """Decides which hosts and addresses untrusted requests may reach (see ``HttpClient``)."""

    def __init__(self, allow: Sequence[str] = ()) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.hosts: set[str] = set()
        for entry in allow:
            text = str(entry).strip()
            try:
                self.networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
            except ValueError:
                host = text.lower().rstrip(".")
                if not host or any(c in host for c in "/:@ []"):
                    raise ValueError(
                        f"allow_private: {entry!r} is neither an address, a CIDR range "
                        "nor a host name"
                    ) from None
                self.hosts.add(host)

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def problem(self, address: str) -> str | None:
        """Why ``address`` (an IP literal) is refused, or None if it may be reached."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address} is not an IP address"
        if any(ip in net for net in self.networks):
            return None
        for _, inner in embedded_ipv4(ip):  # allowed in any spelling
            if any(inner in net for net in self.networks):
                return None
        return address_problem(ip)

    async def check_url(self, url: str) -> str | None:
        """Resolve the URL's host; why it is refused (for a message), or None."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return "not a valid URL"
        if not host:
            return "no host in the URL"
        if self.allows_host(host):
            return None
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            problem = self.problem(host)
            return f"{problem} ({_ALLOW_HINT})" if problem else None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host.rstrip("."), port or 443, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return f"host not found: {host}"
        return self.first_problem(host, [str(info[4][0]) for info in infos])

    def first_problem(self, host: str, addresses: Sequence[str]) -> str | None:
        """The first of ``host``'s resolved ``addresses`` that is refused, as a message."""
        for address in dict.fromkeys(addresses):
            problem = self.problem(address)
            if problem:
                return f"{host} resolves to {address}, {problem} ({_ALLOW_HINT})"
        return None


class _Refused(OSError):
    """Raised by the guarded resolver; aiohttp wraps it in ClientConnectorDNSError."""


class _GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default, then refuses forbidden addresses."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner: ThreadedResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        if not self._guard.allows_host(host):
            problem = self._guard.first_problem(host, [r["host"] for r in results])
            if problem:
                raise _Refused(problem)
        return results

    async def close(self) -> None:
        if self._inner is not None:
            with contextlib.suppress(Exception):
                await self._inner.close()


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
