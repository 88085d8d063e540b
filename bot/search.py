"""Archive search: a rule-language query over every stored item, newest first, paged.

Beside the pipeline, not in it: ``/search`` (bot/commands/search.py) and ``dozor
search`` (bot/cli.py) run it over what the store kept of each item (title, text up to
``ITEM_TEXT_KEPT`` characters, source, link, dates).  The real matcher decides, so a
search finds exactly what a rule with that query would have matched.  Two steps:

1. the prefilter (``bot.matching.prefilter``): the query's words in every form the
   matcher looks for become an FTS5 expression over the store's index of folded text,
   which reads only candidate items; it may let through items that do not match, never
   misses one that does;
2. the matcher runs over the candidates newest first (an item's date: published, but
   never after Dozor first saw it) until the page is full, then over the rest when
   they are few (``COUNT_LIMIT``), to give the exact number of matches.

Bounds: at most ``CANDIDATE_LIMIT`` of the newest candidates, ``EXAMINE_LIMIT`` items
matched for one page; a query with no word to look up (only a regex, or only
``source:``/``tag:``/``link:``) is matched against the newest ``SCAN_LIMIT`` items.
The result says when a bound cut it short.  Queries are parsed with the same limits as
``/watch`` (``MAX_ARGS`` characters, bounded nesting, RE2 regexes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot.matching import Matcher
from bot.matching.prefilter import TooManyForms, fts_expression
from bot.model import Item, Match, Rule
from bot.store import Store

__all__ = ["Hit", "Page", "TooManyForms", "in_thread", "search"]
T = TypeVar("T")

CANDIDATE_LIMIT = 200_000  # the newest stored candidates one search considers
EXAMINE_LIMIT = 50_000  # items the matcher reads for one page
SCAN_LIMIT = 20_000  # a query with no word to look up: the newest items it reads
COUNT_LIMIT = 2_000  # once the page is full: candidates still matched to count them all
CHUNK = 200  # items read from the store at a time


@dataclass(frozen=True)
class Hit:
    item: Item
    match: Match
    date: datetime  # published, but never after first seen


@dataclass(frozen=True)
class Page:
    hits: tuple[Hit, ...]
    number: int  # 1, 2, ...
    per_page: int
    more: bool  # the next page has hits
    total: int | None  # every match, when every candidate was matched
    candidates: int  # items the index let through, in scope and date range
    examined: int  # items the matcher read
    indexed: bool  # False: no word to look up, only the newest SCAN_LIMIT items read
    cut: bool  # a bound (CANDIDATE_LIMIT, EXAMINE_LIMIT) left candidates unread


def search(
    store: Store,
    rule: Rule,
    *,
    sources: Collection[str] | None = None,
    since: datetime | None = None,
    page: int = 1,
    per_page: int = 10,
) -> Page:
    """Page ``page`` of the stored items ``rule`` matches, of ``sources`` (all when
    None), dated since ``since``.  Raises ``TooManyForms`` and the matcher's
    ``QueryError``/``TermError``."""
    expression = fts_expression(rule)
    limit = SCAN_LIMIT if expression is None else CANDIDATE_LIMIT
    ids = store.search_candidates(expression, sources=sources, since=since, limit=limit)
    matcher = Matcher([rule])
    skip = (page - 1) * per_page
    need = skip + per_page + 1  # the page, and one more to know whether another follows
    hits: list[Hit] = []
    found = examined = read = 0
    while read < len(ids):
        if found >= need and len(ids) - read > COUNT_LIMIT:
            break
        if found < need and examined >= EXAMINE_LIMIT:
            break
        chunk = ids[read : read + CHUNK]
        read += len(chunk)
        rows = store.items_by_search_id(chunk)
        for search_id in chunk:
            row = rows.get(search_id)
            if row is None:  # deleted since
                continue
            item, date = row
            examined += 1
            matches = matcher.match(item)
            if not matches:
                continue
            found += 1
            if skip < found <= skip + per_page:
                hits.append(Hit(item, matches[0], date))
    complete = read >= len(ids)
    return Page(
        hits=tuple(hits),
        number=page,
        per_page=per_page,
        more=found > skip + per_page,
        total=found if complete else None,
        candidates=len(ids),
        examined=examined,
        indexed=expression is not None,
        cut=(found < need and not complete) or len(ids) >= limit,
    )


async def in_thread(store: Store, read: Callable[[Store], T]) -> T:
    """``read(store)`` (e.g. a ``search``) in a worker thread, on a read-only connection
    of its own, so the event loop goes on meanwhile (a store in memory: on the loop)."""
    path = store.path
    if path is None:
        return read(store)

    def run() -> T:
        reader = Store.open_reader(path)
        try:
            return read(reader)
        finally:
            reader.close()

    return await asyncio.to_thread(run)
