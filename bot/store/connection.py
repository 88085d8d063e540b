"""The store's connection: one SQLite database (sqlite-utils, WAL), its migrations
(bot/migrations.py), transactions, and the waiting out of another program's write lock.

Every concern module of the store (sources, search, chats, stories, alerts,
deliveries) is a ``Concern`` over this one connection; they share its transactions, so
a poll's items, stories and alerts commit together.  Another program's write lock:
once the bot runs, a call waits at most ``LOOP_BUSY_MS`` inside SQLite, so the event
loop is never held; ``retry_locked`` (one write) and ``retry_locked_async`` (a command
or a button press) wait out the rest asynchronously.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from bot.migrations import MIGRATIONS, check_search_index, register_functions

START_BUSY_MS = 5000  # opening and migrating may wait for another program's write
LOOP_BUSY_MS = 20  # on the event loop: never block it longer; retry_locked waits instead

log = logging.getLogger("dozor.store")
T = TypeVar("T")
Self = TypeVar("Self", bound="Connection")


def is_locked(exc: BaseException) -> bool:
    """Another connection (another program: a backup, ``sqlite3`` in a shell) holds
    the write lock."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


async def retry_locked_async(
    store: Connection,
    run: Callable[[], Awaitable[T]],
    busy: Callable[[], T],
    *,
    give_up: float = 30,
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


class Concern:
    """One concern of the store: its methods read and write its tables over the shared
    connection."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def _tx(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]:
        """One transaction (sqlite-utils' ``atomic``: a savepoint inside an open one)."""
        return self.db.atomic()


class Connection(Concern):
    """The database itself: opening (WAL, migrations), transactions, closing."""

    def __init__(self, db: sqlite_utils.Database):
        super().__init__(db)
        register_functions(db.conn)  # the search index's triggers fold text (migrations)

    def atomic(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]:
        """Everything inside commits together or not at all (a crash in the middle of
        recording a poll must not leave items seen whose alerts were never enqueued)."""
        return self.db.atomic()

    @classmethod
    def open(cls: type[Self], path: Path | str) -> Self:
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

    @property
    def path(self) -> str | None:
        """The database file; None for a store in memory."""
        for row in self.db.execute("PRAGMA database_list").fetchall():
            if row[1] == "main":
                return row[2] or None
        return None

    @classmethod
    def open_reader(cls: type[Self], path: str) -> Self:
        """A read-only connection to the store at ``path`` (migrated already), for
        reading in a thread of its own: with WAL, the writer never blocks it."""
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA query_only = 1")
        conn.execute(f"PRAGMA busy_timeout = {START_BUSY_MS}")
        return cls(sqlite_utils.Database(conn))
