"""What a user types -> a source: ``/addsource @channel`` and friends.

    "/addsource <text>" -> expand_source(text) -> Expanded(kind, url, name, tags) -> Source

Pure, no network.  Every kind of source is one of the watchers' kinds: ``telegram``
(``watchers/telegram_channel.py``, ``url`` = ``<t.me base>/s/<channel>``), ``vk``
(``watchers/vk.py``, ``url`` = ``https://vk.com/<domain>``) or ``rss``
(``watchers/rss.py``): Mastodon, Bluesky, subreddits, YouTube channels and news
searches are ordinary feeds underneath.  Channel names come out in lower case, so
``@Rian_RU``, ``t.me/rian_ru`` and ``https://t.me/s/rian_ru`` are one source.
Anything unusable raises ``ValueError`` with a message that says what would work.

| input | kind | url |
|---|---|---|
| ``@chan``, ``t.me/chan``, ``https://t.me/s/chan``, ``t.me/chan/123`` | telegram | ``<base>/s/chan`` |
| ``@user@instance``, ``https://instance/@user`` | rss | ``https://instance/@user.rss`` |
| ``bsky:handle``, ``https://bsky.app/profile/handle`` | rss | ``https://bsky.app/profile/handle/rss`` |
| ``r/name``, ``https://www.reddit.com/r/name/...`` | rss | ``https://www.reddit.com/r/name/.rss`` |
| ``https://www.youtube.com/channel/UC...`` | rss | ``https://www.youtube.com/feeds/videos.xml?channel_id=UC...`` |
| ``news:<query>`` | rss | Google News RSS search for the query |
| ``vk.com/domain`` | vk | ``https://vk.com/domain`` |
| any other ``http(s)://`` URL (or ``host/path``) | rss | the URL |

Other schemes (``file:``, ``ftp://``, ``javascript:``...) are refused, with or without
``//``.
"""  # noqa: E501

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, urlsplit

from watchers.telegram_channel import channel_url

__all__ = ["Expanded", "expand_source"]


@dataclass(frozen=True)
class Expanded:
    kind: str  # "rss" | "telegram" | "vk"
    url: str
    name: str  # a suggested source name: letters, digits, "-", "_", "."
    tags: tuple[str, ...] = ()  # e.g. ("telegram",), ("reddit",)


_TELEGRAM_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me", "telegram.dog"})
_TG_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
_TG_RESERVED = frozenset({"s", "c", "joinchat", "addstickers", "share", "proxy", "socks", "iv"})
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
_MASTODON_USER = re.compile(r"^[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*$")
_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_BSKY_HANDLE = re.compile(r"^(?:did:plc:[a-z2-7]{24}|" + _HOST.pattern[1:-1] + r")$")
_YT_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_VK_DOMAIN = re.compile(r"^[A-Za-z0-9_.]{2,32}$")
_VK_HOSTS = frozenset({"vk.com", "www.vk.com", "m.vk.com", "vk.ru", "www.vk.ru", "m.vk.ru"})
_REDDIT_HOSTS = frozenset(
    {"reddit.com", "www.reddit.com", "old.reddit.com", "new.reddit.com", "np.reddit.com"}
)
_YT_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com"})
_NAME_JUNK = re.compile(r"[^A-Za-z0-9._-]+")
# A scheme: "file:", "javascript:", "ftp://"; not "host:8080" (a port) nor "host:"
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):(?![0-9]|$)")


def expand_source(
    text: str,
    *,
    tme_base: str = "https://t.me",
    news_language: str = "en-US",
    news_country: str = "US",
) -> Expanded:
    """The source ``text`` names (see the module docstring); ``ValueError`` otherwise.

    ``tme_base``: the t.me web base URL (the config's; tests point it at 127.0.0.1).
    ``news_language`` / ``news_country``: Google News ``hl`` and ``gl`` (``ceid`` is
    ``<country>:<language without region>``), e.g. ``"ru"`` and ``"RU"``.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError(
            "say what to watch: @channel, t.me/channel, a feed URL, r/subreddit, "
            "@user@mastodon.instance, bsky:handle, news:<query> or vk.com/page"
        )
    lowered = text.lower()
    if lowered.startswith("news:"):
        return _news(text[5:], news_language, news_country)
    if lowered.startswith("bsky:"):
        return _bluesky(text[5:])
    if re.match(r"^/?r/", text, re.IGNORECASE):
        return _reddit(text.lstrip("/")[2:].split("/")[0])
    if text.startswith("@"):
        if text.count("@") == 2:
            user, _, instance = text[1:].partition("@")
            return _mastodon(user, instance)
        return _telegram(text[1:], tme_base)
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
    segments = [s for s in parts.path.split("/") if s]

    if host in _TELEGRAM_HOSTS:
        if segments[:1] == ["s"]:
            segments = segments[1:]
        if not segments:
            raise ValueError("which channel? e.g. t.me/rian_ru")
        if segments[0].startswith("+") or segments[0] in ("joinchat", "c"):
            raise ValueError(
                "that is a private channel or group (an invite or a private link): only "
                "public channels with a t.me/<name> address can be watched"
            )
        return _telegram(segments[0], tme_base)
    if host in _VK_HOSTS:
        if not segments:
            raise ValueError("which VK page? e.g. vk.com/rbc")
        return _vk(segments[0])
    if host in _REDDIT_HOSTS:
        if len(segments) >= 2 and segments[0].lower() == "r":
            return _reddit(segments[1])
        raise ValueError("give a subreddit: r/<name> or https://www.reddit.com/r/<name>")
    if host == "bsky.app":
        if len(segments) >= 2 and segments[0] == "profile":
            return _bluesky(segments[1])
        raise ValueError("give a Bluesky profile: https://bsky.app/profile/<handle>")
    if host in _YT_HOSTS:
        return _youtube(segments, url)
    if len(segments) == 1 and segments[0].startswith("@") and len(segments[0]) > 1:
        return _mastodon(segments[0][1:], host)
    return Expanded("rss", url, _name("-".join([host.removeprefix("www."), *segments])) or "feed")


def _telegram(channel: str, base: str) -> Expanded:
    if channel.lower() in _TG_RESERVED or not _TG_CHANNEL.match(channel):
        raise ValueError(
            f"{channel!r} is not a public Telegram channel name (5-32 letters, digits or "
            "underscores, starting with a letter)"
        )
    name = channel.lower()
    return Expanded("telegram", channel_url(name, base), f"tg-{name}", ("telegram",))


def _vk(domain: str) -> Expanded:
    if domain.startswith("wall") or not _VK_DOMAIN.match(domain):
        raise ValueError(
            f"{domain!r} is not a VK page name: give the page (vk.com/<name>), not a post"
        )
    name = domain.lower()
    return Expanded("vk", f"https://vk.com/{name}", f"vk-{name}", ("vk",))


def _mastodon(user: str, instance: str) -> Expanded:
    instance = instance.lower().rstrip(".")
    if not _MASTODON_USER.match(user) or not _HOST.match(instance):
        raise ValueError(f"'@{user}@{instance}' is not a Mastodon account (@user@instance.social)")
    return Expanded(
        "rss",
        f"https://{instance}/@{user}.rss",
        _name(f"mastodon-{user}-{instance}"),
        ("mastodon",),
    )


def _bluesky(handle: str) -> Expanded:
    handle = handle.strip().lstrip("@").lower()
    if not _BSKY_HANDLE.match(handle):
        raise ValueError(f"{handle!r} is not a Bluesky handle (name.bsky.social or a domain)")
    return Expanded(
        "rss", f"https://bsky.app/profile/{handle}/rss", _name(f"bsky-{handle}"), ("bluesky",)
    )


def _reddit(subreddit: str) -> Expanded:
    if not _SUBREDDIT.match(subreddit):
        raise ValueError(f"{subreddit!r} is not a subreddit name (r/<name>)")
    name = subreddit.lower()
    return Expanded("rss", f"https://www.reddit.com/r/{name}/.rss", f"reddit-{name}", ("reddit",))


def _youtube(segments: list[str], url: str) -> Expanded:
    if len(segments) >= 2 and segments[0] == "channel" and _YT_CHANNEL.match(segments[1]):
        channel = segments[1]
        return Expanded(
            "rss",
            f"https://www.youtube.com/feeds/videos.xml?channel_id={channel}",
            _name(f"youtube-{channel}"),
            ("youtube",),
        )
    if segments[:2] == ["feeds", "videos.xml"]:
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
    slug = _name(query)
    if len(slug) < 3:  # a query in another script: a short hash keeps names apart
        slug = hashlib.sha256(query.casefold().encode()).hexdigest()[:10]
    return Expanded("rss", url, _name(f"news-{slug}"), ("news",))


def _name(raw: str) -> str:
    """A config-safe source name: ASCII letters, digits, "-", "_", "."; at most 64."""
    return _NAME_JUNK.sub("-", raw).strip("-._").lower()[:64].rstrip("-._")
