"""What a user types -> a source: ``/addsource @channel`` and ``watch = "..."`` in config.

    "/addsource <text>" -> expand_source(text) -> Expanded(kind, url, name, tags) -> Source

Pure, no network.  Every kind of source is a registered watcher's (``watchers/__init__``)
and each kind knows its own short forms (its module's docstring has the table):
``watchers/feeds.py`` (``rss``: any feed URL, Mastodon, Bluesky, subreddits, YouTube
channels, news searches), ``watchers/telegram_channel.py`` (``@chan``, ``t.me/chan``)
and ``watchers/vk.py`` (``vk.com/page``).  Names are tried first, in registry order
(``Watcher.expand_name``); then the text must be an http(s) address (``host/path`` gets
``https://``), offered to the kind that owns its host (``expand_link``), else to any
kind that takes every address (``expand_any``: feeds).  Anything unusable raises
``ValueError`` with a message that says what would work.  Other schemes (``file:``,
``ftp://``, ``javascript:``...) are refused, with or without ``//``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import watchers
from watchers.base import Expanded, Link

__all__ = ["Expanded", "expand_source"]

# A scheme: "file:", "javascript:", "ftp://"; not "host:8080" (a port) nor "host:"
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):(?![0-9]|$)")


def expand_source(text: str, **options: Any) -> Expanded:
    """The source ``text`` names (see the module docstring); ``ValueError`` otherwise.

    ``options``: what the kinds' forms need, by name (``Watcher.expand_options``):
    ``tme_base``, the t.me web base URL (the config's; tests point it at 127.0.0.1);
    ``news_language`` / ``news_country``, Google News ``hl`` and ``gl`` (``ceid`` is
    ``<country>:<language without region>``), e.g. ``"ru"`` and ``"RU"``.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError(
            "say what to watch: @channel, t.me/channel, a feed URL, r/subreddit, "
            "@user@mastodon.instance, bsky:handle, news:<query> or vk.com/page"
        )
    for watcher in watchers.WATCHERS:
        found = watcher.expand_name(text, options)
        if found is not None:
            return found
    link = _link(text)
    for watcher in watchers.WATCHERS:
        found = watcher.expand_link(link, options)
        if found is not None:
            return found
    for watcher in watchers.WATCHERS:
        found = watcher.expand_any(link, options)
        if found is not None:
            return found
    raise ValueError(f"{text!r} names no kind of source Dozor can watch")


def _link(text: str) -> Link:
    """``text`` as an http(s) address; ``ValueError`` saying why it is none."""
    lowered = text.lower()
    if any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not a URL; for a news search write news:{text}")
    scheme = _SCHEME.match(lowered)  # "file:/etc/passwd" is not the host "file"
    if scheme and scheme.group(1) not in ("http", "https"):
        raise ValueError(f"only http(s) URLs can be watched, not {scheme.group(1)}: ({text!r})")
    url = text if re.match(r"^[a-z][a-z0-9+.-]*://", lowered) else f"https://{text}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http(s) URLs can be watched, not {parts.scheme}: ({text!r})")
    if not host:
        raise ValueError(f"{text!r} is not a valid URL: no host")
    return Link(url, host, tuple(s for s in parts.path.split("/") if s))
