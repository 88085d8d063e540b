"""Identity of items: the ``key`` and ``story_key`` every watcher gives an ``Item``.

``key`` says "this entry of this source": for a feed entry (``item_key``) the feed's
guid, else its canonical link, else a hash of its content; the Telegram and VK
watchers key a post by its own id instead (``post:<channel>/<id>``,
``post:wall<owner>/<id>``).  ``story_key`` says "this story, whoever carries it": the
canonical link, else the content hash; dedup uses it to notice the same story in
two sources.  Canonical links ignore case of scheme and host, default ports,
fragments, tracking parameters and the order of query parameters.  Pure functions.
"""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["canonical_link", "content_hash", "item_key", "story_key"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "yclid", "mc_cid", "mc_eid", "ref", "ref_src", "igshid", "_ga"}
)


def _is_tracking(param: str) -> bool:
    name = unquote(param.split("=", 1)[0]).strip().lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def canonical_link(url: str | None) -> str | None:
    """The link in a canonical form, or None if it is empty or not http(s)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        host, _, rest = hostport.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    host = host.lower().rstrip(".")
    if not host:
        return None
    netloc = host if port in ("", _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    params = [p for p in parts.query.split("&") if p and not _is_tracking(p)]
    query = "&".join(sorted(params))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def content_hash(title: str, text: str) -> str:
    """First 32 hex digits of the sha256 of title and text, casefolded, whitespace
    collapsed: the same words give the same hash whatever the markup did to spacing."""
    normal = unicodedata.normalize("NFC", f"{title or ''}\n{text or ''}").casefold()
    normal = " ".join(normal.split())
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def item_key(guid: str | None, link: str | None, title: str, text: str) -> str:
    """``guid:<guid>``, else ``link:<canonical link>``, else ``hash:<content hash>``."""
    if guid and guid.strip():
        return f"guid:{guid.strip()}"
    return story_key(link, title, text)


def story_key(link: str | None, title: str, text: str) -> str:
    """``link:<canonical link>``, else ``hash:<content hash>``."""
    canonical = canonical_link(link)
    if canonical:
        return f"link:{canonical}"
    return f"hash:{content_hash(title, text)}"
