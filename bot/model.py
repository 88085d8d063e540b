"""Data passed between the pipeline's stages: a leaf module that imports nothing of ours.

    watchers -> Item -> matching -> Match -> routing -> Alert -> outbox -> adapters

Every type is a frozen dataclass; every time is timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.schedules import DigestSchedule, QuietHours


@dataclass(frozen=True)
class Source:
    """A place to poll, as the config or a chat command (/addsource, /import) defines it."""

    name: str
    kind: str  # a registered watcher's kind (watchers/__init__.py): "rss", "telegram", "vk"
    url: str
    interval: timedelta
    tags: tuple[str, ...] = ()
    backfill: int = 0  # alert on up to N items of the very first poll
    enabled: bool = True
    trusted: bool = True  # False for chat-added sources: no private/loopback addresses
    note_edits: bool = False  # note a later edit of an alerted post under its alert


@dataclass(frozen=True)
class FetchState:
    """What the fetcher remembers about one source between polls."""

    url: str | None = None  # a permanent redirect's target replaces the configured URL
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 of the last body, to skip parsing identical bodies
    cursor: str | None = None  # the watcher's own position, e.g. the last seen post id


@dataclass(frozen=True)
class Media:
    """A picture, video, document ... that an item carries, as its source describes it.

    ``url`` is the picture to show (a photo's image, a video's thumbnail); it comes from
    the post, so it is untrusted: it is fetched only through the SSRF-safe fetcher.
    """

    kind: str  # "photo", "video", "document", "audio", "poll", "link_preview", ...
    url: str | None = None  # the image (for a video: its thumbnail); None if not known
    width: int | None = None
    height: int | None = None
    size: int | None = None  # bytes, where the source says
    mime: str | None = None  # "image/jpeg", where the source says
    duration: float | None = None  # seconds, for a video or audio
    name: str | None = None  # a document's file name
    alt: str | None = None  # the picture's description, for alt text


@dataclass(frozen=True)
class Item:
    """One entry of a feed or one post of a channel, in plain text.

    ``key`` identifies the item within its source: guid, else canonical link, else
    content hash (``"guid:..."``, ``"link:..."``, ``"hash:..."``).  ``story_key``
    identifies it across sources: canonical link, else content hash.
    """

    source: str
    key: str
    story_key: str
    title: str
    text: str  # HTML stripped, whitespace collapsed
    link: str | None = None
    published: datetime | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()  # the source's tags
    revision: str = ""  # a content hash where posts can be edited: same key, new revision
    edited: bool = False  # the source marks the post as edited
    forwarded_from: str | None = None  # "channel/123", or the name shown when hidden
    media: tuple[Media, ...] = ()  # what the item carries, in the order the source shows it

    @property
    def media_kinds(self) -> tuple[str, ...]:
        """The kinds of its media, each once, in order: ("photo", "link_preview")."""
        return tuple(dict.fromkeys(m.kind for m in self.media))

    @property
    def images(self) -> tuple[Media, ...]:
        """Its media that have a picture to show (a photo, a video's thumbnail ...)."""
        return tuple(m for m in self.media if m.url)


class FetchStatus(enum.Enum):
    OK = "ok"  # parsed; items may be empty
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # body byte-identical to the last one: not parsed
    ERROR = "error"  # retry later with backoff
    GONE = "gone"  # 410: the source is disabled with a visible reason


@dataclass(frozen=True)
class FetchResult:
    status: FetchStatus
    items: tuple[Item, ...] = ()
    state: FetchState = field(default_factory=FetchState)  # the state to store for next time
    error: str | None = None  # for the user: what went wrong and where
    retry_after: timedelta | None = None  # from Retry-After
    max_age: timedelta | None = None  # from Cache-Control: max-age
    ttl: timedelta | None = None  # from the feed's <ttl>
    http_status: int | None = None
    # Deletion detection (channel watchers): the keys of every post on the pages read,
    # and the lowest and highest post id those pages covered.  See ``gone``.
    present_keys: tuple[str, ...] = ()
    covered: tuple[int, int] | None = None

    def gone(self, keys: Iterable[str]) -> tuple[str, ...]:
        """Which of ``keys`` (items of this source known from earlier polls, e.g. the
        alerted ones) these pages show as deleted: a key ``"<prefix>/<id>"`` whose id lies
        in ``covered`` but which is not in ``present_keys``.  Empty without ``covered``."""
        if self.covered is None:
            return ()
        low, high = self.covered
        present = set(self.present_keys)
        out = []
        for key in keys:
            number = key.rpartition("/")[2]
            if number.isdigit() and low <= int(number) <= high and key not in present:
                out.append(key)
        return tuple(out)


@dataclass(frozen=True)
class Rule:
    """A watch rule: an item matches when it has any of ``any`` (if given), all of
    ``all`` and none of ``none``, and matches ``query`` (if given; see
    ``bot.matching.query``).  Terms are words or phrases."""

    name: str
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # applies only to sources with one of these tags (empty: all)
    destinations: tuple[str, ...] = ()  # empty: the config's routes decide
    description: str = ""
    origin: str = ""  # "rules/wagner.toml" or "chat"
    query: str = ""  # the rule language: "(Wagner OR ЧВК) NEAR/5 погиб*"
    sources: tuple[str, ...] = ()  # applies only to these sources (empty: all)
    severity: str = "normal"  # "low" | "normal" | "high" | "urgent"
    digest: str | None = None  # collect alerts and send them every this long ("1h")
    silent: bool = False  # deliver this rule's alerts without a notification sound
    inflect: bool = True  # Russian/Ukrainian terms match their inflected forms
    translit: bool = False  # terms also match their Cyrillic <-> Latin spellings
    english_forms: bool = False  # English terms match plurals and verb forms
    derived: bool = False  # Russian names also match вагнеровцы, вагнеровский (Вагнер)
    languages: tuple[str, ...] = ("ru", "uk")  # whose paradigms Cyrillic words inflect in
    media: str | None = None  # its alerts' pictures: "none" | "preview" | "photo" | "album"
    fuzzy: bool = False  # "~" (typos allowed) on every name-like word of the rule


@dataclass(frozen=True)
class Span:
    """Where a term matched: ``field`` is "title" or "text", offsets into that field."""

    field: str
    start: int
    end: int
    term: str  # the rule's term that matched here


@dataclass(frozen=True)
class Match:
    rule: str
    terms: tuple[str, ...]  # the rule's terms that fired, in rule order
    spans: tuple[Span, ...]  # every occurrence, in text order


@dataclass(frozen=True)
class Destination:
    """Where alerts go: one chat (channel, room, ...) of one platform, optionally one
    topic or thread of it; ``options`` are the platform's own destination settings
    (``[[destinations]]`` keys only that platform takes), as its package read them;
    ``d.option(key)`` reads one (None when this destination's platform has no such option)."""

    name: str
    platform: str  # a registered platform's name: "console" | "telegram" | "slack" | ...
    address: str | None = None  # the chat/channel/room id as text; None: the console
    thread: str | None = None  # a topic or thread in that chat
    silent: bool = False  # deliver without a notification sound
    link_preview: bool = False  # let the platform preview the alert's link
    options: tuple[tuple[str, Any], ...] = ()  # (key, value) pairs, the platform's own
    quiet_hours: QuietHours | None = None  # alerts in this window are silent or held
    quiet: str = "silent"  # "silent" | "hold" (until the window ends)
    digest: DigestSchedule | None = None  # collect alerts into one message on a schedule
    also_seen: str = "edit"  # later sightings of a story: "edit" the alert | "thread" replies
    languages: tuple[str, ...] = ("ru", "uk")  # what rules added in its chat inflect in
    media: str | None = None  # pictures: "none" | "preview" | "photo" | "album"; None: default

    @property
    def kind(self) -> str:
        """The platform's name (the ``kind`` key of ``[[destinations]]``)."""
        return self.platform

    def option(self, key: str, default: Any = None) -> Any:
        return next((value for k, value in self.options if k == key), default)

    @property
    def chat_key(self) -> str:
        """The chat this destination posts into; mutes and permissions are per chat."""
        return chat_key(self.platform, self.address)


def chat_key(platform: str, chat_id: int | str | None) -> str:
    return platform if chat_id is None else f"{platform}:{chat_id}"


@dataclass(frozen=True)
class Mute:
    """No alerts from ``target`` (a source or a rule name) in one chat until ``until``."""

    id: int
    chat: str  # a chat key, e.g. "telegram:-1001234"
    kind: str  # "source" | "rule"
    target: str
    until: datetime
    by: str  # who muted, as the chat shows them


@dataclass(frozen=True)
class Alert:
    """One item, for one destination, with every rule that sent it there."""

    destination: str
    item: Item
    matches: tuple[Match, ...]
    story_key: str
    silent: bool = False  # every rule that sent it asks for no notification sound
    severity: str = "normal"  # the highest of its rules': "low" | "normal" | "high" | "urgent"
    media: str | None = None  # its first rule's ``media`` that names one; None: the destination's


SEVERITY_ORDER = ("low", "normal", "high", "urgent")
MEDIA_MODES = ("none", "preview", "photo", "album")  # how an alert shows pictures: bot.pictures


def story_root(story_key: str) -> str:
    """The story an alert belongs to: its story key without the "#rules" that marks an
    alert a later item of the story sent for rules the story had not fired."""
    return story_key.split("#", 1)[0]


@dataclass(frozen=True)
class OutgoingMessage:
    alert_id: int
    destination: str
    alert: Alert
    created_at: datetime | None = None  # when the alert entered the outbox
    note: str | None = None  # lines under the alert: "also seen in ...", who muted what
    remote_id: str | None = None  # the platform's message id, when editing a sent alert
    silent: bool = False  # deliver without a notification (quiet hours)


class SendStatus(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # try again later (rate limit, network, 5xx)
    BROKEN = "broken"  # the destination cannot take messages until someone fixes it


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    detail: str = ""
    retry_after: timedelta | None = None
    remote_id: str | None = None  # the platform's message id, for later edits
