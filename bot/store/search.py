"""Store, archive search (bot/search.py): reads the FTS5 index of every item's words.

``items_search`` is kept in step with ``items`` by triggers (bot/migrations.py); this
module only reads it: the candidates an expression lets through, then the items.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from bot.model import Item
from bot.store.connection import Concern
from bot.store.rows import among, from_iso, iso, item_from_row


# An item's date for search: when it was published, but never later than when it was
# first seen (a feed's clock may be wrong; a date to come is not a date yet).
def _item_date(table: str) -> str:
    return f"min(coalesce({table}.published_at, {table}.first_seen_at), {table}.first_seen_at)"


class Search(Concern):
    def search_candidates(
        self,
        expression: str | None,
        *,
        sources: Collection[str] | None,
        since: datetime | None,
        limit: int,
    ) -> list[int]:
        """The ``search_id`` of every item that the search index's ``expression`` lets
        through, newest first (by its date: published, but never after it was first
        seen): among the ``limit`` newest stored that the index lets through (every item
        when ``expression`` is None), of ``sources`` (all when None), dated since
        ``since``."""
        where, args = among("i.source", sources)
        if since is not None:
            where += f" and {_item_date('i')} >= ?"
            args.append(iso(since))
        if expression is None:
            inner = "select search_id as id from items order by first_seen_at desc limit ?"
            inner_args: list[Any] = [limit]
        else:
            inner = (
                "select rowid as id from items_search where items_search match ?"
                " order by rowid desc limit ?"
            )
            inner_args = [expression, limit]
        return [
            row[0]
            for row in self.db.execute(
                f"select i.search_id from ({inner}) as f cross join items as i"
                f" on i.search_id = f.id where 1{where}"
                f" order by {_item_date('i')} desc, i.search_id desc",
                [*inner_args, *args],
            )
        ]

    def items_by_search_id(self, ids: Collection[int]) -> dict[int, tuple[Item, datetime]]:
        """{search_id: (item, its date)} of those of ``ids`` still stored."""
        out: dict[int, tuple[Item, datetime]] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for r in self.db.query(
                f"select *, {_item_date('items')} as searched_date from items"
                f" where search_id in ({marks})",
                chunk,
            ):
                out[r["search_id"]] = (
                    item_from_row(r),
                    from_iso(r["searched_date"]) or datetime.now(UTC),
                )
        return out
