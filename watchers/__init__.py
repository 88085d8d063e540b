"""Watchers: the first stage of the pipeline.  Each kind of source is one module behind
the ``Watcher`` interface (``watchers/base.py``) that reads its sources into
``bot.model.FetchResult``s of ``Item``s; this is the registry the config, the app, the
scheduler and the commands loop over.  Adding a kind: its module, and one line below.
Watchers import nothing of ours but the model and the config reader (``bot.configread``)."""

from __future__ import annotations

from importlib import import_module

from watchers.base import Watcher

MODULES = (  # one line per kind; the order is the order /addsource tries short forms in
    "watchers.feeds",
    "watchers.telegram_channel",
    "watchers.vk",
)

WATCHERS: list[Watcher] = [import_module(name).WATCHER for name in MODULES]
FEED = "rss"  # the kind of plain web feeds (what OPML lists hold)


def register(watcher: Watcher) -> None:
    """Add a kind defined elsewhere (a plug-in, a test); its kind must be new."""
    if find(watcher.kind) is not None:
        raise ValueError(f"a watcher of kind {watcher.kind!r} is already registered")
    WATCHERS.append(watcher)


def unregister(kind: str) -> None:
    WATCHERS[:] = [w for w in WATCHERS if w.kind != kind]


def find(kind: str) -> Watcher | None:
    return next((w for w in WATCHERS if w.kind == kind), None)


def kinds() -> tuple[str, ...]:
    return tuple(w.kind for w in WATCHERS)
