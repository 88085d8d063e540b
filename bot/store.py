"""The SQLite store (sqlite-utils, WAL): the only module that writes SQL.

It keeps what must survive a restart: each source's fetch state and health, every
item seen (so nothing alerts twice), the outbox of alerts with their notes, edits and
thread replies, stories (sightings and the fingerprints of the dedup window), digests
waiting for their time, notices, mutes, and what chat added (rules, sources,
destinations by chat).  Migrations (bot/migrations.py) build it.  An alert is written
here before any send; ``(destination, story_key)`` is unique, so the same story never
reaches the same destination twice, across restarts and across sources.  Methods are
named for intent; times are stored as ISO 8601 UTC strings, which sort as times.
The archive search's FTS5 index of every item's words (``items_search``) is kept in
step by triggers (bot/migrations.py); ``search_candidates`` reads it.
Another program's write lock: once the bot runs, a call waits at most ``LOOP_BUSY_MS``
inside SQLite, so the event loop is never held; ``retry_locked`` (one write) and
``retry_locked_async`` (a command or a button press) wait out the rest asynchronously.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from bot.migrations import MIGRATIONS, check_search_index, register_functions
from bot.model import (
    Alert,
    Destination,
    FetchState,
    Item,
    Match,
    Mute,
    OutgoingMessage,
    Rule,
    Source,
    Span,
)

ITEM_TEXT_KEPT = 5000  # characters of each item's text kept for /test and /watch
START_BUSY_MS = 5000  # opening and migrating may wait for another program's write
LOOP_BUSY_MS = 20  # on the event loop: never block it longer; retry_locked waits instead

log = logging.getLogger("dozor.store")
T = TypeVar("T")


def is_locked(exc: BaseException) -> bool:
    """Another connection (another program: a backup, ``sqlite3`` in a shell) holds
    the write lock."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


async def retry_locked_async(
    store: Store, run: Callable[[], Awaitable[T]], busy: Callable[[], T], *, give_up: float = 30
) -> T:
    """Run ``run`` (a command, a button press: reads, then a write or two); when another
    program holds the write lock and nothing was written yet, wait asynchronously and
    run it again.  Past ``give_up`` seconds, or when part of it was written, ``busy()``
    says so instead."""
    started = time.monotonic()
    delay = 0.02
    while True:
        before = store.db.conn.total_changes
        try:
            return await run()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            if store.db.conn.total_changes != before or time.monotonic() - started > give_up:
                return busy()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


async def retry_locked(write: Callable[[], T], what: str, *, give_up: float | None = None) -> T:
    """Run ``write`` (one store call, its own transaction) until the write lock is free.

    The loop's connection waits at most ``LOOP_BUSY_MS`` inside SQLite; past that the
    wait happens here, asynchronously, so commands, buttons, other destinations and
    /healthz go on meanwhile.  ``give_up``: seconds after which the error is raised."""
    started = time.monotonic()
    delay, said = 0.01, started
    while True:
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            waited = time.monotonic() - started
            if give_up is not None and waited >= give_up:
                raise
            if time.monotonic() - said >= 5:
                said = time.monotonic()
                log.warning(
                    "%s: the database is locked by another program; waiting (%.0f s so far)",
                    what,
                    waited,
                )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class SourceHealth:
    """A source's state as ``dozor status`` and ``/sources`` show it."""

    name: str
    url: str | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None
    error_count: int
    next_check_at: datetime | None
    disabled_reason: str | None
    last_item_at: datetime | None
    items_seen: int

    @property
    def ok(self) -> bool:
        return not self.disabled_reason and not self.failing_since


@dataclass(frozen=True)
class ChatRule:
    """A rule added with /watch: stored here, not in a file."""

    rule: Rule
    query: str
    destination: str
    chat: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Sighting:
    """Another item that tells an alerted story."""

    source: str
    title: str
    link: str | None
    seen_at: datetime
    reason: str


@dataclass(frozen=True)
class StoredAlert:
    id: int
    alert: Alert
    state: str
    remote_id: str | None
    created_at: datetime


class Store:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        register_functions(db.conn)  # the search index's triggers fold text (migrations)

    def _tx(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]:
        """One transaction (sqlite-utils' ``atomic``: a savepoint inside an open one)."""
        return self.db.atomic()

    def atomic(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]:
        """Everything inside commits together or not at all (a crash in the middle of
        recording a poll must not leave items seen whose alerts were never enqueued)."""
        return self.db.atomic()

    @classmethod
    def open(cls, path: Path | str) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        db.execute(f"PRAGMA busy_timeout = {START_BUSY_MS}")
        if str(path) != ":memory:":
            db.enable_wal()
            # WAL + NORMAL: a commit is a write to the log, not an fsync; a crash of the
            # process loses nothing committed, a power cut at most the last commits
            # (their polls are polled again), and every commit stays all or nothing.
            db.execute("PRAGMA synchronous = NORMAL")
        store = cls(db)
        store.migrate()
        check_search_index(db)
        return store

    def close(self) -> None:
        self.db.conn.close()

    def wait_for_locks(self, milliseconds: int) -> None:
        """How long one call may wait inside SQLite for another program's write lock
        (the running bot: ``LOOP_BUSY_MS``, so the event loop is never held)."""
        self.db.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")

    def migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number > version:
                with self._tx():
                    migration(self.db)
                    self.db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    # -- sources -------------------------------------------------------------------

    def sync_sources(self, sources: tuple[Source, ...] | list[Source]) -> None:
        """Create state rows for new sources; reset the state of one whose URL changed."""
        table = self.db["source_state"]
        with self._tx():
            for source in sources:
                row = self._state_row(source.name)
                if row is None:
                    table.insert({"name": source.name, "configured_url": source.url})
                elif row["configured_url"] != source.url:
                    table.update(
                        source.name,
                        {
                            "configured_url": source.url,
                            "url": None,
                            "etag": None,
                            "last_modified": None,
                            "body_hash": None,
                            "disabled_reason": None,
                            "failing_since": None,
                            "error_count": 0,
                            "next_check_at": None,
                        },
                    )

    def _state_row(self, name: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from source_state where name = ?", [name]))
        return rows[0] if rows else None

    def due_sources(
        self, sources: list[Source] | tuple[Source, ...], now: datetime
    ) -> list[Source]:
        """Enabled sources whose next check has come, soonest first."""
        rows = {
            r["name"]: r
            for r in self.db.query("select name, next_check_at, disabled_reason from source_state")
        }
        due = []
        for source in sources:
            row = rows.get(source.name)
            if not source.enabled or (row and row["disabled_reason"]):
                continue
            if row is None or not row["next_check_at"] or row["next_check_at"] <= iso(now):
                due.append((row["next_check_at"] if row and row["next_check_at"] else "", source))
        return [s for _, s in sorted(due, key=lambda pair: pair[0])]

    def fetch_state(self, name: str) -> FetchState:
        row = self._state_row(name) or {}
        return FetchState(
            url=row.get("url"),
            etag=row.get("etag"),
            last_modified=row.get("last_modified"),
            body_hash=row.get("body_hash"),
            cursor=row.get("cursor"),
        )

    def baseline_done(self, name: str) -> bool:
        row = self._state_row(name)
        return bool(row and row["baseline_done"])

    def record_success(
        self,
        name: str,
        state: FetchState,
        now: datetime,
        next_check: datetime,
        *,
        new_items: int = 0,
        last_item_at: datetime | None = None,
    ) -> None:
        changes: dict[str, Any] = {
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "body_hash": state.body_hash,
            "cursor": state.cursor,
            "last_poll_at": iso(now),
            "last_success_at": iso(now),
            "failing_since": None,
            "error_count": 0,
            "next_check_at": iso(next_check),
            "baseline_done": 1,
        }
        if last_item_at is not None:
            changes["last_item_at"] = iso(last_item_at)
        with self._tx():
            self.db["source_state"].update(name, changes)
            if new_items:
                self.db.execute(
                    "update source_state set items_seen = items_seen + ? where name = ?",
                    [new_items, name],
                )

    def record_error(self, name: str, error: str, now: datetime, next_check: datetime) -> int:
        """Count a failed poll; returns how many polls in a row have failed."""
        row = self._state_row(name) or {}
        count = int(row.get("error_count") or 0) + 1
        with self._tx():
            self.db["source_state"].update(
                name,
                {
                    "last_poll_at": iso(now),
                    "last_error": error,
                    "last_error_at": iso(now),
                    "failing_since": row.get("failing_since") or iso(now),
                    "error_count": count,
                    "next_check_at": iso(next_check),
                },
            )
        return count

    def error_count(self, name: str) -> int:
        row = self._state_row(name)
        return int(row["error_count"] or 0) if row else 0

    def disable_source(self, name: str, reason: str, now: datetime) -> None:
        with self._tx():
            self.db["source_state"].update(
                name,
                {
                    "disabled_reason": reason,
                    "last_poll_at": iso(now),
                    "last_error": reason,
                    "last_error_at": iso(now),
                    "next_check_at": None,
                },
            )

    def next_check_at(self) -> datetime | None:
        """When the next source is due (disabled sources aside): one query, not a read
        of every source's health (the poll cycle's log line asks it at every tick)."""
        row = self.db.execute(
            "select min(next_check_at) from source_state"
            " where next_check_at is not null and next_check_at != ''"
            " and coalesce(disabled_reason, '') = ''"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def source_health(self) -> list[SourceHealth]:
        out = []
        for r in self.db.query("select * from source_state order by name"):
            out.append(
                SourceHealth(
                    name=r["name"],
                    url=r["url"] or r["configured_url"],
                    last_poll_at=from_iso(r["last_poll_at"]),
                    last_success_at=from_iso(r["last_success_at"]),
                    last_error=r["last_error"],
                    last_error_at=from_iso(r["last_error_at"]),
                    failing_since=from_iso(r["failing_since"]),
                    error_count=int(r["error_count"] or 0),
                    next_check_at=from_iso(r["next_check_at"]),
                    disabled_reason=r["disabled_reason"],
                    last_item_at=from_iso(r["last_item_at"]),
                    items_seen=int(r["items_seen"] or 0),
                )
            )
        return out

    # -- items ---------------------------------------------------------------------

    def mark_seen(self, items: list[Item] | tuple[Item, ...], now: datetime) -> list[Item]:
        """Record items; return those never seen before from their source, in order."""
        return self.record_items(items, now)[0]

    def record_items(
        self, items: list[Item] | tuple[Item, ...], now: datetime
    ) -> tuple[list[Item], list[Item]]:
        """Record items; return (never seen before, seen but edited since: a new
        ``revision``), each in order."""
        new: list[Item] = []
        revised: list[Item] = []
        with self._tx():
            for item in items:
                cursor = self.db.execute(
                    "insert or ignore into items (source, key, story_key, title, link,"
                    " published_at, first_seen_at, text, tags, revision)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        item.source,
                        item.key,
                        item.story_key,
                        item.title[:500],
                        item.link,
                        iso(item.published) if item.published else None,
                        iso(now),
                        item.text[:ITEM_TEXT_KEPT],
                        json.dumps(list(item.tags), ensure_ascii=False),
                        item.revision or None,
                    ],
                )
                if cursor.rowcount:
                    new.append(item)
                elif item.revision:
                    changed = self.db.execute(
                        "update items set revision = ?, title = ?, text = ? where source = ?"
                        " and key = ? and revision is not null and revision != ?",
                        [
                            item.revision,
                            item.title[:500],
                            item.text[:ITEM_TEXT_KEPT],
                            item.source,
                            item.key,
                            item.revision,
                        ],
                    )
                    if changed.rowcount:
                        revised.append(item)
        return new, revised

    def items_count(self) -> int:
        return self.db["items"].count

    def recent_items(self, since: datetime, limit: int = 2000) -> list[Item]:
        """Items first seen since ``since``, newest first (for /test and /watch)."""
        rows = self.db.query(
            "select * from items where first_seen_at >= ? order by first_seen_at desc limit ?",
            [iso(since), limit],
        )
        return [_item(r) for r in rows]

    # -- archive search (bot/search.py; the index: bot/migrations.py) ------------------

    @property
    def path(self) -> str | None:
        """The database file; None for a store in memory."""
        for row in self.db.execute("PRAGMA database_list").fetchall():
            if row[1] == "main":
                return row[2] or None
        return None

    @classmethod
    def open_reader(cls, path: str) -> Store:
        """A read-only connection to the store at ``path`` (migrated already), for
        reading in a thread of its own: with WAL, the writer never blocks it."""
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA query_only = 1")
        conn.execute(f"PRAGMA busy_timeout = {START_BUSY_MS}")
        return cls(sqlite_utils.Database(conn))

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
        where, args = _among("i.source", sources)
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
                out[r["search_id"]] = (_item(r), from_iso(r["searched_date"]) or datetime.now(UTC))
        return out

    # -- chat-added rules and sources ----------------------------------------------

    def add_chat_rule(self, rule: ChatRule) -> bool:
        """False when a rule of that name exists already."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into chat_rules (name, query, rule, destination, chat,"
                " created_by, created_at) values (?, ?, ?, ?, ?, ?, ?)",
                [
                    rule.rule.name,
                    rule.query,
                    json.dumps(
                        {
                            "any": rule.rule.any,
                            "all": rule.rule.all,
                            "none": rule.rule.none,
                            "query": rule.rule.query,
                            "options": {
                                "translit": rule.rule.translit,
                                "derived": rule.rule.derived,
                                "english_forms": rule.rule.english_forms,
                                "inflect": rule.rule.inflect,
                                "languages": rule.rule.languages,
                            },
                        },
                        ensure_ascii=False,
                    ),
                    rule.destination,
                    rule.chat,
                    rule.created_by,
                    iso(rule.created_at),
                ],
            )
            return bool(cursor.rowcount)

    def remove_chat_rule(self, name: str) -> bool:
        with self._tx():
            return bool(self.db.execute("delete from chat_rules where name = ?", [name]).rowcount)

    def chat_rules(self) -> list[ChatRule]:
        out = []
        for r in self.db.query("select * from chat_rules order by created_at"):
            terms = json.loads(r["rule"])
            rule = Rule(
                name=r["name"],
                any=tuple(terms["any"]),
                all=tuple(terms["all"]),
                none=tuple(terms["none"]),
                query=terms.get("query") or "",
                destinations=(r["destination"],),
                description=f"/watch {r['query']}",
                origin="chat",
                **{
                    k: tuple(v) if k == "languages" else bool(v)
                    for k, v in (terms.get("options") or {}).items()
                },
            )
            out.append(
                ChatRule(
                    rule,
                    r["query"],
                    r["destination"],
                    r["chat"],
                    r["created_by"],
                    from_iso(r["created_at"]) or datetime.now(UTC),
                )
            )
        return out

    def add_chat_source(self, source: Source, by: str, now: datetime) -> bool:
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into chat_sources (name, kind, url, tags, added_by, added_at)"
                " values (?, ?, ?, ?, ?, ?)",
                [source.name, source.kind, source.url, json.dumps(list(source.tags)), by, iso(now)],
            )
            return bool(cursor.rowcount)

    def remove_chat_source(self, name: str) -> bool:
        with self._tx():
            return bool(self.db.execute("delete from chat_sources where name = ?", [name]).rowcount)

    def chat_sources(self, interval: timedelta) -> list[Source]:
        return [
            Source(
                r["name"],
                r["kind"],
                r["url"],
                interval,
                tuple(json.loads(r["tags"] or "[]")),
                trusted=False,  # added from chat: never a private or loopback address
            )
            for r in self.db.query("select * from chat_sources order by added_at")
        ]

    # -- mutes -----------------------------------------------------------------------

    def add_mute(
        self, chat: str, kind: str, target: str, until: datetime, by: str, now: datetime
    ) -> Mute:
        with self._tx():
            cursor = self.db.execute(
                "insert into mutes (chat, kind, target, until, created_by, created_at, undone)"
                " values (?, ?, ?, ?, ?, ?, 0)",
                [chat, kind, target, iso(until), by, iso(now)],
            )
        return Mute(int(cursor.lastrowid or 0), chat, kind, target, until, by)

    def undo_mute(self, mute_id: int) -> Mute | None:
        rows = list(self.db.query("select * from mutes where id = ?", [mute_id]))
        with self._tx():
            self.db.execute("update mutes set undone = 1 where id = ?", [mute_id])
        return _mute(rows[0]) if rows else None

    def unmute(self, chat: str, target: str, now: datetime) -> int:
        """End every active mute of ``target`` in ``chat``; returns how many."""
        with self._tx():
            return self.db.execute(
                "update mutes set undone = 1 where chat = ? and target = ? and undone = 0"
                " and until > ?",
                [chat, target, iso(now)],
            ).rowcount

    def active_mutes(self, now: datetime, chat: str | None = None) -> list[Mute]:
        sql = "select * from mutes where undone = 0 and until > ?"
        args: list[Any] = [iso(now)]
        if chat is not None:
            sql += " and chat = ?"
            args.append(chat)
        return [_mute(r) for r in self.db.query(sql + " order by until", args)]

    # -- destinations made by chat commands; chat ids that changed -----------------

    def chat_destination(
        self, kind: str, chat_id: int | str, thread_id: int | None, now: datetime
    ) -> str:
        """The name of the destination for this chat (and topic), created on first use;
        a text ``chat_id`` is a Slack channel id."""
        name = f"{kind}:{chat_id}" + (f":{thread_id}" if thread_id else "")
        number, channel = (None, chat_id) if isinstance(chat_id, str) else (chat_id, None)
        with self._tx():
            self.db.execute(
                "insert or ignore into chat_destinations (name, kind, chat_id, thread_id,"
                " channel, created_at) values (?, ?, ?, ?, ?, ?)",
                [name, kind, number, thread_id, channel, iso(now)],
            )
        return name

    def chat_destinations(self) -> list[Destination]:
        return [
            Destination(r["name"], r["kind"], r["chat_id"], r["thread_id"], channel=r["channel"])
            for r in self.db.query("select * from chat_destinations order by name")
        ]

    def set_destination_chat(self, name: str, chat_id: int) -> None:
        """Remember a destination's new chat id (a group upgraded to a supergroup)."""
        with self._tx():
            self.db.execute(
                "insert into destination_state (name, chat_id) values (?, ?)"
                " on conflict(name) do update set chat_id = excluded.chat_id",
                [name, chat_id],
            )
            self.db.execute(
                "update chat_destinations set chat_id = ? where name = ?", [chat_id, name]
            )

    def destination_chat_ids(self) -> dict[str, int]:
        return {
            r["name"]: r["chat_id"]
            for r in self.db.query("select name, chat_id from destination_state where chat_id")
        }

    # -- outbox --------------------------------------------------------------------

    def enqueue_alert(
        self,
        alert: Alert,
        now: datetime,
        *,
        suppressed: bool = False,
        digest_at: datetime | None = None,
    ) -> int | None:
        """Put an alert in the outbox; None when this story already went to that destination.

        A ``suppressed`` alert (muted in that chat) is recorded but never sent, not even
        after the mute ends."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into alerts (destination, story_key, source, rules, payload,"
                " created_at, state, attempts, next_attempt_at, item_key)"
                " values (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [
                    alert.destination,
                    alert.story_key,
                    alert.item.source,
                    ", ".join(m.rule for m in alert.matches),
                    json.dumps(alert_to_json(alert), ensure_ascii=False),
                    iso(now),
                    "suppressed" if suppressed else "digest" if digest_at else "pending",
                    iso(digest_at or now),
                    alert.item.key,
                ],
            )
            return cursor.lastrowid if cursor.rowcount else None

    def alerts_of_items(self, source: str, keys: list[str]) -> list[StoredAlert]:
        """The sent alerts of these items of one source (to note edits and deletions)."""
        out: list[StoredAlert] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            out += [
                _stored(r)
                for r in self.db.query(
                    f"select * from alerts where source = ? and item_key in ({marks})"
                    " and state = 'sent' order by id",
                    [source, *chunk],
                )
            ]
        return out

    def alerted_keys(self, source: str, limit: int = 1000) -> list[str]:
        """Item keys of the newest alerts sent from ``source``."""
        return [
            r["item_key"]
            for r in self.db.query(
                "select distinct item_key from alerts where source = ? and state = 'sent'"
                " and item_key is not null order by id desc limit ?",
                [source, limit],
            )
        ]

    def has_note(self, alert_id: int, kind: str) -> bool:
        return bool(
            self.db.execute(
                "select 1 from alert_notes where alert_id = ? and kind = ? limit 1",
                [alert_id, kind],
            ).fetchone()
        )

    def alert(self, alert_id: int) -> StoredAlert | None:
        rows = list(self.db.query("select * from alerts where id = ?", [alert_id]))
        return _stored(rows[0]) if rows else None

    def alert_by_remote_id(self, destinations: list[str], remote_id: str) -> StoredAlert | None:
        """The alert a chat message is, e.g. the one a user replied to."""
        if not destinations:
            return None
        marks = ", ".join("?" for _ in destinations)
        rows = list(
            self.db.query(
                f"select * from alerts where remote_id = ? and destination in ({marks})",
                [remote_id, *destinations],
            )
        )
        return _stored(rows[0]) if rows else None

    def alerts_since(
        self, since: datetime, destinations: Collection[str] | None = None
    ) -> dict[str, int]:
        """{source: alerts created since ``since``}, suppressed ones not counted; only
        those of ``destinations`` when given."""
        where, args = _among("destination", destinations)
        return {
            r["source"]: r["n"]
            for r in self.db.query(
                "select source, count(*) as n from alerts where created_at >= ?"
                f" and state != 'suppressed'{where} group by source",
                [iso(since), *args],
            )
        }

    # -- stories: sightings, notes under alerts, edits that show them ----------------

    def alerts_for_story(self, story_key: str) -> list[StoredAlert]:
        """Alerts of a story: its first alert per destination and any later one that a
        new rule made (``<story_key>#<rules>``)."""
        rows = self.db.query(  # "#" < "$": the range is every "<story_key>#..." (indexed)
            "select * from alerts where story_key = ? or (story_key > ? and story_key < ?)"
            " order by id",
            [story_key, story_key + "#", story_key + "$"],
        )
        return [_stored(r) for r in rows]

    def add_sighting(self, story_key: str, item: Item, reason: str, now: datetime) -> bool:
        """Record that ``item`` (from another source, or later) tells an alerted story."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into sightings (story_key, source, item_key, title, link,"
                " seen_at, reason) values (?, ?, ?, ?, ?, ?, ?)",
                [story_key, item.source, item.key, item.title[:300], item.link, iso(now), reason],
            )
            return bool(cursor.rowcount)

    def sightings(self, story_key: str) -> list[Sighting]:
        return [
            Sighting(
                r["source"],
                r["title"],
                r["link"],
                from_iso(r["seen_at"]) or datetime.now(UTC),
                r["reason"],
            )
            for r in self.db.query(
                "select * from sightings where story_key = ? order by seen_at", [story_key]
            )
        ]

    def add_note(self, alert_id: int, kind: str, text: str, now: datetime) -> None:
        with self._tx():
            self.db.execute(
                "insert into alert_notes (alert_id, kind, text, created_at) values (?, ?, ?, ?)",
                [alert_id, kind, text, iso(now)],
            )

    def notes(self, alert_id: int) -> list[tuple[str, str]]:
        """(kind, text) of the notes under an alert, oldest first."""
        return [
            (r["kind"], r["text"])
            for r in self.db.query(
                "select kind, text from alert_notes where alert_id = ? order by id", [alert_id]
            )
        ]

    def told_counts(self, alert_id: int, story: str) -> tuple[int, int]:
        """How many sightings of ``story`` and notes of the alert there are now."""
        sightings = self.db.execute(
            "select count(*) from sightings where story_key = ?", [story]
        ).fetchone()[0]
        notes = self.db.execute(
            "select count(*) from alert_notes where alert_id = ?", [alert_id]
        ).fetchone()[0]
        return int(sightings), int(notes)

    def replied(self, alert_id: int) -> tuple[int, int]:
        """How many of the alert's sightings and notes its thread has been told of."""
        row = self.db.execute(
            "select replied_sightings, replied_notes from alerts where id = ?", [alert_id]
        ).fetchone()
        return (row[0] or 0, row[1] or 0) if row else (0, 0)

    def set_replied(self, alert_id: int, sightings: int, notes: int) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set replied_sightings = ?, replied_notes = ? where id = ?",
                [sightings, notes, alert_id],
            )

    def request_edit(self, alert_id: int, due: datetime) -> None:
        """Ask for the alert's message to be redrawn once it is sent (several requests:
        one edit)."""
        with self._tx():
            self.db.execute(
                "insert into alert_edits (alert_id, due_at, attempts) values (?, ?, 0)"
                " on conflict(alert_id) do nothing",
                [alert_id, iso(due)],
            )

    def due_edits(self, destination: str, now: datetime, limit: int = 20) -> list[StoredAlert]:
        rows = self.db.query(
            # CROSS JOIN: walk the few edit requests, not every sent alert
            "select alerts.* from alert_edits cross join alerts"
            " on alerts.id = alert_edits.alert_id"
            " where alerts.destination = ? and alerts.state = 'sent'"
            " and alerts.remote_id is not null and alert_edits.due_at <= ?"
            " order by alert_edits.due_at limit ?",
            [destination, iso(now), limit],
        )
        return [_stored(r) for r in rows]

    def edit_destinations(self, now: datetime) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct alerts.destination from alert_edits cross join alerts"
                " on alerts.id = alert_edits.alert_id where alert_edits.due_at <= ?"
                " and alerts.state = 'sent'",
                [iso(now)],
            )
        ]

    def edit_done(self, alert_id: int) -> None:
        with self._tx():
            self.db.execute("delete from alert_edits where alert_id = ?", [alert_id])

    def edit_retry(self, alert_id: int, error: str, due: datetime) -> None:
        with self._tx():
            self.db.execute(
                "update alert_edits set attempts = attempts + 1, last_error = ?, due_at = ?"
                " where alert_id = ?",
                [error, iso(due), alert_id],
            )

    def save_fingerprint(self, story_key: str, item_key: str, data: str, now: datetime) -> None:
        with self._tx():
            self.db.execute(
                "insert or replace into fingerprints (story_key, item_key, data, seen_at)"
                " values (?, ?, ?, ?)",
                [story_key, item_key, data, iso(now)],
            )

    def fingerprints_since(self, since: datetime) -> list[tuple[str, str, datetime]]:
        """(story_key, data, seen_at) of the fingerprints kept since ``since``."""
        return [
            (r["story_key"], r["data"], from_iso(r["seen_at"]) or since)
            for r in self.db.query(
                "select story_key, data, seen_at from fingerprints where seen_at >= ?"
                " order by seen_at",
                [iso(since)],
            )
        ]

    def forget_fingerprints(self, before: datetime) -> None:
        with self._tx():
            self.db.execute("delete from fingerprints where seen_at < ?", [iso(before)])

    def alerts_by_day(
        self, since: datetime, destinations: Collection[str] | None = None
    ) -> list[tuple[date, str, str, str]]:
        """(day, source, comma-separated rules, story) of every alert since ``since`` that
        a chat was meant to see (suppressed ones are left out), one per destination; only
        those of ``destinations`` when given."""
        where, args = _among("destination", destinations)
        return [
            (date.fromisoformat(r["day"]), r["source"], r["rules"] or "", r["story_key"])
            for r in self.db.query(
                "select substr(created_at, 1, 10) as day, source, rules, story_key from alerts"
                f" where created_at >= ? and state != 'suppressed'{where} order by id",
                [iso(since), *args],
            )
        ]

    def due_digest(self, destination: str, now: datetime) -> list[StoredAlert]:
        """The alerts collected for a digest of ``destination``, once the first of them
        is due (they all go out together), oldest first."""
        first = self.db.execute(
            "select min(next_attempt_at) from alerts where destination = ? and state = 'digest'",
            [destination],
        ).fetchone()[0]
        if not first or first > iso(now):
            return []
        rows = self.db.query(
            "select * from alerts where destination = ? and state = 'digest' order by id",
            [destination],
        )
        return [_stored(r) for r in rows]

    def digest_destinations(self, now: datetime) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select destination from alerts where state = 'digest' group by destination"
                " having min(next_attempt_at) <= ?",
                [iso(now)],
            )
        ]

    def mark_digest_sent(self, alert_ids: list[int], now: datetime) -> None:
        """Sent in a digest: no message of their own (remote_id stays empty), so nothing
        edits the digest as if it were one of them."""
        with self._tx():
            for alert_id in alert_ids:
                self.db.execute(
                    "update alerts set state = 'sent', sent_at = ?, remote_id = NULL,"
                    " attempts = attempts + 1 where id = ?",
                    [iso(now), alert_id],
                )

    def delay_digest(self, destination: str, until: datetime, error: str) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set next_attempt_at = ?, last_error = ?, attempts = attempts + 1"
                " where destination = ? and state = 'digest'",
                [iso(until), error, destination],
            )

    def hold(self, destination: str, until: datetime) -> None:
        """Quiet hours: nothing pending for ``destination`` is sent before ``until``."""
        with self._tx():
            self.db.execute(
                "update alerts set next_attempt_at = ? where destination = ?"
                " and state = 'pending' and next_attempt_at < ?",
                [iso(until), destination, iso(until)],
            )

    # -- notices: the bot's own messages -------------------------------------------------

    def count_alerts(self, destination: str, source: str, since: datetime) -> int:
        return int(
            self.db.execute(
                "select count(*) from alerts where destination = ? and source = ?"
                " and created_at >= ? and state != 'suppressed'",
                [destination, source, iso(since)],
            ).fetchone()[0]
        )

    def noticed_since(self, destination: str, kind: str, subject: str, since: datetime) -> bool:
        return bool(
            self.db.execute(
                "select 1 from notices where destination = ? and kind = ? and subject = ?"
                " and created_at >= ? limit 1",
                [destination, kind, subject, iso(since)],
            ).fetchone()
        )

    def enqueue_notice(
        self, destination: str, kind: str, subject: str, text: str, now: datetime
    ) -> int:
        with self._tx():
            cursor = self.db.execute(
                "insert into notices (destination, kind, subject, text, created_at, state)"
                " values (?, ?, ?, ?, ?, 'pending')",
                [destination, kind, subject, text, iso(now)],
            )
        return int(cursor.lastrowid or 0)

    def pending_notices(self, destination: str) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "select * from notices where destination = ? and state = 'pending' order by id",
                [destination],
            )
        )

    def notice_destinations(self) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct destination from notices where state = 'pending'"
            )
        ]

    def notice(self, notice_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from notices where id = ?", [notice_id]))
        return rows[0] if rows else None

    def mark_notice_sent(self, notice_id: int, remote_id: str | None) -> None:
        with self._tx():
            self.db.execute(
                "update notices set state = 'sent', remote_id = ? where id = ?",
                [remote_id, notice_id],
            )

    def oldest_pending_at(self) -> datetime | None:
        row = self.db.execute(
            "select min(created_at) from alerts where state = 'pending'"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def outbox_depth(self) -> int:
        return int(
            self.db.execute("select count(*) from alerts where state = 'pending'").fetchone()[0]
        )

    def claim_deliveries(
        self, destination: str, now: datetime, limit: int = 50
    ) -> list[OutgoingMessage]:
        """The oldest pending alerts of one destination, up to the first that is not due
        yet: an alert waiting for a retry holds back the later ones, so order holds."""
        rows = self.db.query(
            "select id, payload, next_attempt_at, created_at from alerts"
            " where destination = ? and state = 'pending' order by id limit ?",
            [destination, limit],
        )
        due = []
        for r in rows:
            if r["next_attempt_at"] > iso(now):
                break
            due.append(
                OutgoingMessage(
                    r["id"],
                    destination,
                    alert_from_json(json.loads(r["payload"])),
                    from_iso(r["created_at"]),
                )
            )
        return due

    def pending_destinations(self) -> list[str]:
        return [
            r["destination"]
            for r in self.db.query(
                "select distinct destination from alerts where state = 'pending'"
                " order by destination"
            )
        ]

    def next_attempt_at(self) -> datetime | None:
        """When the outbox next has something to do: a retry, a held alert, a digest."""
        row = self.db.execute(
            "select min(next_attempt_at) from alerts where state in ('pending', 'digest')"
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def next_due_at(self, destination: str) -> datetime | None:
        """When one destination next has something to do: a retry, a held alert, a
        digest, an edit or thread reply (its lane sleeps until then or a wake)."""
        row = self.db.execute(
            "select min(at) from ("
            " select min(next_attempt_at) as at from alerts"
            "  where destination = ? and state in ('pending', 'digest')"
            " union all"
            " select min(alert_edits.due_at) from alert_edits cross join alerts"
            "  on alerts.id = alert_edits.alert_id"
            "  where alerts.destination = ? and alerts.state = 'sent')",
            [destination, destination],
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def mark_sent(self, alert_id: int, now: datetime, remote_id: str | None = None) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set state = 'sent', sent_at = ?, remote_id = ?,"
                " attempts = attempts + 1, last_error = null where id = ?",
                [iso(now), remote_id, alert_id],
            )

    def mark_retry(self, alert_id: int, error: str, next_attempt: datetime) -> None:
        with self._tx():
            self.db.execute(
                "update alerts set attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " where id = ?",
                [error, iso(next_attempt), alert_id],
            )

    def attempts(self, alert_id: int) -> int:
        row = self.db.execute("select attempts from alerts where id = ?", [alert_id]).fetchone()
        return int(row[0]) if row else 0

    def mark_destination_broken(self, name: str, reason: str, now: datetime) -> None:
        with self._tx():
            self.db["destination_state"].upsert(
                {"name": name, "broken_reason": reason, "broken_since": iso(now)}, pk="name"
            )

    def clear_destination_broken(self, name: str) -> bool:
        """True when the destination was marked broken (and is not any more)."""
        with self._tx():
            cursor = self.db.execute(
                "update destination_state set broken_reason = null, broken_since = null"
                " where name = ? and broken_reason is not null",
                [name],
            )
            return bool(cursor.rowcount)

    def broken_destinations(self) -> dict[str, str]:
        return {
            r["name"]: r["broken_reason"]
            for r in self.db.query(
                "select * from destination_state where broken_reason is not null"
            )
        }

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        """{destination: {state: count}}."""
        out: dict[str, dict[str, int]] = {}
        for r in self.db.query(
            "select destination, state, count(*) as n from alerts group by destination, state"
        ):
            out.setdefault(r["destination"], {})[r["state"]] = r["n"]
        return out

    def sent_alerts(self, destination: str | None = None) -> list[tuple[int, Alert]]:
        sql = "select id, payload from alerts where state = 'sent'"
        args: list[Any] = []
        if destination:
            sql += " and destination = ?"
            args.append(destination)
        return [
            (r["id"], alert_from_json(json.loads(r["payload"])))
            for r in self.db.query(sql + " order by id", args)
        ]


# An item's date for search: when it was published, but never later than when it was
# first seen (a feed's clock may be wrong; a date to come is not a date yet).
def _item_date(table: str) -> str:
    return f"min(coalesce({table}.published_at, {table}.first_seen_at), {table}.first_seen_at)"


def _item(r: dict[str, Any]) -> Item:
    """An item as the store kept it (its text cut to ``ITEM_TEXT_KEPT``)."""
    return Item(
        source=r["source"],
        key=r["key"],
        story_key=r["story_key"],
        title=r["title"] or "",
        text=r["text"] or "",
        link=r["link"],
        published=from_iso(r["published_at"]),
        tags=tuple(json.loads(r["tags"] or "[]")),
    )


def _among(column: str, values: Collection[str] | None) -> tuple[str, list[str]]:
    """An ``and <column> in (...)`` clause and its arguments; none for ``values`` None."""
    if values is None:
        return "", []
    args = list(values)
    return f" and {column} in ({', '.join('?' for _ in args)})", args


def _mute(r: dict[str, Any]) -> Mute:
    return Mute(
        r["id"],
        r["chat"],
        r["kind"],
        r["target"],
        from_iso(r["until"]) or datetime.now(UTC),
        r["created_by"],
    )


def _stored(r: dict[str, Any]) -> StoredAlert:
    return StoredAlert(
        r["id"],
        alert_from_json(json.loads(r["payload"])),
        r["state"],
        r["remote_id"],
        from_iso(r["created_at"]) or datetime.now(UTC),
    )


# -- serialization of alerts (the outbox keeps everything needed to render them) ----


def alert_to_json(alert: Alert) -> dict[str, Any]:
    item = alert.item
    return {
        "destination": alert.destination,
        "story_key": alert.story_key,
        "silent": alert.silent,
        "severity": alert.severity,
        "item": {
            "source": item.source,
            "key": item.key,
            "story_key": item.story_key,
            "title": item.title,
            "text": item.text,
            "link": item.link,
            "published": iso(item.published) if item.published else None,
            "author": item.author,
            "tags": list(item.tags),
        },
        "matches": [
            {
                "rule": m.rule,
                "terms": list(m.terms),
                "spans": [[s.field, s.start, s.end, s.term] for s in m.spans],
            }
            for m in alert.matches
        ],
    }


def alert_from_json(data: dict[str, Any]) -> Alert:
    raw = data["item"]
    item = Item(
        source=raw["source"],
        key=raw["key"],
        story_key=raw["story_key"],
        title=raw["title"],
        text=raw["text"],
        link=raw["link"],
        published=from_iso(raw["published"]),
        author=raw["author"],
        tags=tuple(raw["tags"]),
    )
    matches = tuple(
        Match(
            rule=m["rule"],
            terms=tuple(m["terms"]),
            spans=tuple(Span(f, s, e, t) for f, s, e, t in m["spans"]),
        )
        for m in data["matches"]
    )
    return Alert(
        data["destination"],
        item,
        matches,
        data["story_key"],
        bool(data.get("silent")),
        str(data.get("severity") or "normal"),
    )
