"""The ``rss`` kind: web feeds (RSS 0.9x/1.0/2.0, Atom, JSON Feed), polled and parsed
by ``watchers/rss.py``, and the short forms that name a feed:

| input | url |
|---|---|
| ``@user@instance``, ``https://instance/@user`` | ``https://instance/@user.rss`` |
| ``bsky:handle``, ``https://bsky.app/profile/handle`` | ``https://bsky.app/profile/handle/rss`` |
| ``r/name``, ``https://www.reddit.com/r/name/...`` | ``https://www.reddit.com/r/name/.rss`` |
| ``https://www.youtube.com/channel/UC...`` | ``https://www.youtube.com/feeds/videos.xml?channel_id=UC...`` |
| ``news:<query>`` | Google News RSS search for the query |
| any other ``http(s)://`` URL (or ``host/path``) | the URL |

A chat-added feed's address is whatever the user typed (``open_address``): /addsource
checks it against private networks.  Pure, no network, but for ``rss.fetch``.
"""  # noqa: E501

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from watchers import rss
from watchers.base import Expanded, Fetcher, Link, Watcher, source_name

_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
_MASTODON_USER = re.compile(r"^[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*$")
_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_BSKY_HANDLE = re.compile(r"^(?:did:plc:[a-z2-7]{24}|" + _HOST.pattern[1:-1] + r")$")
_YT_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_REDDIT_HOSTS = frozenset(
    {"reddit.com", "www.reddit.com", "old.reddit.com", "new.reddit.com", "np.reddit.com"}
)
_YT_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com"})


class FeedWatcher(Watcher):
    kind = "rss"
    open_address = True

    def expand_name(self, text: str, options: Mapping[str, Any]) -> Expanded | None:
        lowered = text.lower()
        if lowered.startswith("news:"):
            return _news(
                text[5:],
                options.get("news_language", "en-US"),
                options.get("news_country", "US"),
            )
        if lowered.startswith("bsky:"):
            return _bluesky(text[5:])
        if re.match(r"^/?r/", text, re.IGNORECASE):
            return _reddit(text.lstrip("/")[2:].split("/")[0])
        if text.startswith("@") and text.count("@") == 2:
            user, _, instance = text[1:].partition("@")
            return _mastodon(user, instance)
        return None

    def expand_link(self, link: Link, options: Mapping[str, Any]) -> Expanded | None:
        segments = link.segments
        if link.host in _REDDIT_HOSTS:
            if len(segments) >= 2 and segments[0].lower() == "r":
                return _reddit(segments[1])
            raise ValueError("give a subreddit: r/<name> or https://www.reddit.com/r/<name>")
        if link.host == "bsky.app":
            if len(segments) >= 2 and segments[0] == "profile":
                return _bluesky(segments[1])
            raise ValueError("give a Bluesky profile: https://bsky.app/profile/<handle>")
        if link.host in _YT_HOSTS:
            return _youtube(segments, link.url)
        return None

    def expand_any(self, link: Link, options: Mapping[str, Any]) -> Expanded:
        segments = link.segments
        if len(segments) == 1 and segments[0].startswith("@") and len(segments[0]) > 1:
            return _mastodon(segments[0][1:], link.host)
        name = source_name("-".join([link.host.removeprefix("www."), *segments]))
        return Expanded("rss", link.url, name or "feed")

    def fetcher(self, own: Any, environ: Mapping[str, str]) -> Fetcher:
        return rss.fetch


WATCHER = FeedWatcher()


def _mastodon(user: str, instance: str) -> Expanded:
    instance = instance.lower().rstrip(".")
    if not _MASTODON_USER.match(user) or not _HOST.match(instance):
        raise ValueError(f"'@{user}@{instance}' is not a Mastodon account (@user@instance.social)")
    return Expanded(
        "rss",
        f"https://{instance}/@{user}.rss",
        source_name(f"mastodon-{user}-{instance}"),
        ("mastodon",),
    )


def _bluesky(handle: str) -> Expanded:
    handle = handle.strip().lstrip("@").lower()
    if not _BSKY_HANDLE.match(handle):
        raise ValueError(f"{handle!r} is not a Bluesky handle (name.bsky.social or a domain)")
    return Expanded(
        "rss", f"https://bsky.app/profile/{handle}/rss", source_name(f"bsky-{handle}"), ("bluesky",)
    )


def _reddit(subreddit: str) -> Expanded:
    if not _SUBREDDIT.match(subreddit):
        raise ValueError(f"{subreddit!r} is not a subreddit name (r/<name>)")
    name = subreddit.lower()
    return Expanded("rss", f"https://www.reddit.com/r/{name}/.rss", f"reddit-{name}", ("reddit",))


def _youtube(segments: tuple[str, ...], url: str) -> Expanded:
    if len(segments) >= 2 and segments[0] == "channel" and _YT_CHANNEL.match(segments[1]):
        channel = segments[1]
        return Expanded(
            "rss",
            f"https://www.youtube.com/feeds/videos.xml?channel_id={channel}",
            source_name(f"youtube-{channel}"),
            ("youtube",),
        )
    if segments[:2] == ("feeds", "videos.xml"):
        return Expanded("rss", url, "youtube-feed", ("youtube",))
    raise ValueError(
        "give the YouTube channel's id address, https://www.youtube.com/channel/UC... "
        "(a @handle or /c/ address does not name the channel's feed; the id is under "
        "the channel's About > Share > Copy channel ID)"
    )


def _news(query: str, language: str, country: str) -> Expanded:
    query = " ".join(query.split())
    if not query:
        raise ValueError('news: needs a query, e.g. news:"Deir ez-Zor"')
    ceid = f"{country}:{language.split('-')[0]}"
    url = (
        f"https://news.google.com/rss/search?q={quote_plus(query)}"
        f"&hl={quote(language)}&gl={quote(country)}&ceid={quote(ceid, safe=':')}"
    )
    slug = source_name(query)
    if len(slug) < 3:  # a query in another script: a short hash keeps names apart
        slug = hashlib.sha256(query.casefold().encode()).hexdigest()[:10]
    return Expanded("rss", url, source_name(f"news-{slug}"), ("news",))
