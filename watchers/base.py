"""The ``Watcher`` interface: what Dozor needs of one kind of source, and what it offers.

    [[sources]] / "/addsource <text>" -> expand (short forms) -> Source(kind, url)
    poll:  Source + FetchState -> fetcher(source, state, http, pool) -> FetchResult
    push:  stream(sources, sink) -> sink(source, FetchResult)
    FetchResult -> the pipeline (bot/pipeline.py: baseline, deletions, rules, alerts)

Each kind is one module under ``watchers/`` that defines one ``Watcher`` subclass and
is named on one line of the registry, ``watchers/__init__.py``.  Nothing outside the
module knows the kind:

- its config section (``section``: a table like ``[tme]``, its keys, a parser that
  reports located problems through ``bot.configread.Reader``), and whether a
  ``[[sources]]`` table's ``channel`` names one of its sources (``channels``,
  ``channel_url``);
- the short forms that name one of its sources: a name (``@rian_ru``, ``r/syria``:
  ``expand_name``) or an address (``t.me/rian_ru``: ``expand_link``);
- what it needs from the environment (``needs``), which variables hold its secrets
  (``secret_variables``: the logs hide them), and whether a chat-added source's
  address is whatever the user typed (``open_address``: checked for private networks);
- how to read it: ``fetcher`` for a polled kind (the scheduler calls it when a source
  is due), or ``stream`` for a push kind (it runs while the bot runs and hands what
  arrives to ``sink``, straight into the pipeline).

``Watcher`` objects are stateless descriptions (one instance in the registry); a
kind's settings (``own``: its section as parsed, or ``default``) are handed in.
Pure data and small functions: no I/O here.
"""

from __future__ import annotations

import re
from abc import ABC
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.model import FetchResult, FetchState, Source

if TYPE_CHECKING:
    from bot.configread import Reader
    from watchers.http import HttpClient

__all__ = ["Expanded", "Fetcher", "Link", "Section", "Sink", "Watcher", "source_name"]

Fetcher = Callable[[Source, FetchState, "HttpClient", Executor | None], Awaitable[FetchResult]]
Sink = Callable[[Source, FetchResult], object]  # the pipeline's intake, for push sources


@dataclass(frozen=True)
class Expanded:
    """A source as a short form names it: its kind, URL, a suggested name and tags."""

    kind: str  # a registered kind: "rss" | "telegram" | "vk" | ...
    url: str
    name: str  # a suggested source name: letters, digits, "-", "_", "."
    tags: tuple[str, ...] = ()  # e.g. ("telegram",), ("reddit",)


@dataclass(frozen=True)
class Link:
    """An http(s) address a user typed, taken apart for ``Watcher.expand_link``."""

    url: str  # with its scheme ("t.me/x" -> "https://t.me/x")
    host: str  # lower case, without a trailing dot
    segments: tuple[str, ...]  # the path's non-empty parts


@dataclass(frozen=True)
class Section:
    """A kind's ``[name]`` table of config.toml: its keys (README documents each one;
    an unknown key is an error) and the parser that reads it into settings.
    ``parse(reader, raw_table)`` reports problems through ``reader`` with their key path
    (``tme.max_pages: expected a positive integer, got 0``)."""

    name: str
    keys: tuple[str, ...]
    parse: Callable[[Reader, Any], Any]


class Watcher(ABC):
    """One kind of source, described as data plus a few small methods.  Subclass it,
    set the class attributes, and implement ``fetcher`` (polled) or ``stream`` (push)."""

    kind: str  # "rss": ``Source.kind``, ``[[sources]] kind``
    about: str = ""  # "a public Telegram channel, read from its web preview" (/addsource)
    section: Section | None = None  # its config table; None: it has none
    default: Any = None  # its settings when the table is absent
    channels: bool = False  # a [[sources]] table's ``channel`` names a source (channel_url)
    open_address: bool = False  # a chat-added source's URL is what the user typed
    push: bool = False  # items arrive by themselves (``stream``), nothing is polled
    baseline: bool = True  # a source's first batch is only recorded (what was there)
    secret_variables: tuple[str, ...] = ()  # environment variables holding its secrets

    # -- naming a source -------------------------------------------------------------

    def channel_url(self, channel: str, own: Any) -> str:
        """The URL of the source a ``[[sources]]`` table's ``channel`` names (for a
        kind with ``channels``)."""
        raise NotImplementedError(f"{self.kind} sources have no channels")

    def expand_name(self, text: str, options: Mapping[str, Any]) -> Expanded | None:
        """The source a short name names (``@rian_ru``, ``r/syria``): None if the text is
        no form of this kind; ``ValueError`` (saying what would work) if it is one but
        unusable.  ``options``: every kind's ``expand_options``, by name."""
        return None

    def expand_link(self, link: Link, options: Mapping[str, Any]) -> Expanded | None:
        """The source an address on one of this kind's hosts names (``t.me/rian_ru``);
        None if the host is not this kind's; ``ValueError`` as for ``expand_name``."""
        return None

    def expand_any(self, link: Link, options: Mapping[str, Any]) -> Expanded | None:
        """The source any other address names, when no kind claimed its host (the
        feed kind takes every URL); None: this kind takes no other addresses."""
        return None

    def expand_options(self, own: Any) -> Mapping[str, Any]:
        """What ``expand_*`` needs of this kind's settings, by name (``tme_base``)."""
        return {}

    # -- running ----------------------------------------------------------------------

    def needs(self, environ: Mapping[str, str]) -> str | None:
        """What this kind lacks to work, said for /addsource ("VK walls need a
        VK_TOKEN in the bot's environment"); None: nothing."""
        return None

    def fetcher(self, own: Any, environ: Mapping[str, str]) -> Fetcher | None:
        """The function that polls one source of this kind, bound to its settings;
        None for a push kind."""
        return None

    async def stream(
        self,
        sources: Callable[[], Sequence[Source]],
        own: Any,
        environ: Mapping[str, str],
        sink: Sink,
    ) -> None:
        """A push kind: run until cancelled, handing what arrives for one of
        ``sources()`` (this kind's enabled sources, read again when needed) to
        ``sink(source, FetchResult)``.  Polled kinds never stream."""
        raise NotImplementedError(f"the {self.kind} watcher is polled, it does not stream")


_NAME_JUNK = re.compile(r"[^A-Za-z0-9._-]+")


def source_name(raw: str) -> str:
    """A config-safe source name: ASCII letters, digits, "-", "_", "."; at most 64."""
    return _NAME_JUNK.sub("-", raw).strip("-._").lower()[:64].rstrip("-._")
