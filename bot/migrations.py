"""Schema of the SQLite store, as an ordered list of migrations.

The store applies, in one transaction each, every migration whose number is above
the database's ``PRAGMA user_version``.  Append new migrations; never edit one that
has shipped.  Also here: the SQL function the search index's triggers call
(``register_functions``) and the index's rebuild when text folding changes
(``check_search_index``); see the comment above ``_m9_search``.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable
from functools import cache

import sqlite_utils

from bot.matching.normalize import fold

log = logging.getLogger("dozor.store")


def _m1_initial(db: sqlite_utils.Database) -> None:
    db["source_state"].create(
        {
            "name": str,
            "configured_url": str,  # a change in the config resets the fetch state
            "url": str,  # where we fetch now (a permanent redirect's target)
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "baseline_done": int,
            "last_poll_at": str,
            "last_success_at": str,
            "last_error": str,
            "last_error_at": str,
            "failing_since": str,
            "error_count": int,
            "next_check_at": str,
            "disabled_reason": str,
            "last_item_at": str,
            "items_seen": int,
        },
        pk="name",
        not_null={"name"},
        defaults={"baseline_done": 0, "error_count": 0, "items_seen": 0},
    )
    db["items"].create(
        {
            "source": str,
            "key": str,
            "story_key": str,
            "title": str,
            "link": str,
            "published_at": str,
            "first_seen_at": str,
        },
        pk=("source", "key"),
    )
    db["items"].create_index(["story_key"])
    db["alerts"].create(
        {
            "id": int,
            "destination": str,
            "story_key": str,
            "source": str,
            "rules": str,  # comma-separated rule names, for humans and /status
            "payload": str,  # JSON of the Alert: item and matches
            "created_at": str,
            "state": str,  # pending | sent | suppressed | digest (waiting for its digest)
            "attempts": int,
            "next_attempt_at": str,
            "sent_at": str,
            "last_error": str,
            "remote_id": str,
        },
        pk="id",
        not_null={"destination", "story_key", "state"},
        defaults={"attempts": 0, "state": "pending"},
    )
    db["alerts"].create_index(["destination", "story_key"], unique=True)
    db["alerts"].create_index(["state", "next_attempt_at"])
    db["destination_state"].create(
        {"name": str, "broken_reason": str, "broken_since": str},
        pk="name",
    )


def _m2_chat(db: sqlite_utils.Database) -> None:
    """What chat commands add: rules, sources, mutes, per-chat destinations."""
    db["items"].add_column("text", str)  # kept so /test and /watch can look back
    db["items"].add_column("tags", str)  # JSON list: the source's tags
    db["items"].create_index(["first_seen_at"])
    db["chat_rules"].create(
        {
            "name": str,
            "query": str,  # what the user typed after /watch
            "rule": str,  # JSON: any, all, none
            "destination": str,
            "chat": str,
            "created_by": str,
            "created_at": str,
        },
        pk="name",
    )
    db["chat_sources"].create(
        {
            "name": str,
            "kind": str,
            "url": str,
            "tags": str,  # JSON list
            "added_by": str,
            "added_at": str,
        },
        pk="name",
    )
    db["mutes"].create(
        {
            "id": int,
            "chat": str,
            "kind": str,  # source | rule
            "target": str,
            "until": str,
            "created_by": str,
            "created_at": str,
            "undone": int,
        },
        pk="id",
        defaults={"undone": 0},
    )
    db["mutes"].create_index(["chat", "until"])
    db["chat_destinations"].create(
        {"name": str, "kind": str, "chat_id": int, "thread_id": int, "created_at": str},
        pk="name",
    )
    db["destination_state"].add_column("chat_id", int)  # after a group became a supergroup


def _m3_stories(db: sqlite_utils.Database) -> None:
    """Stories across sources, notes under sent alerts, and the edits that show them."""
    db["sightings"].create(
        {
            "story_key": str,  # the story's first item's story_key
            "source": str,
            "item_key": str,
            "title": str,
            "link": str,
            "seen_at": str,
            "reason": str,  # why it is the same story
        },
        pk=("story_key", "source", "item_key"),
    )
    db["alert_notes"].create(
        {"id": int, "alert_id": int, "kind": str, "text": str, "created_at": str},
        pk="id",
    )
    db["alert_notes"].create_index(["alert_id"])
    db["alert_edits"].create(
        {"alert_id": int, "due_at": str, "attempts": int, "last_error": str},
        pk="alert_id",
        defaults={"attempts": 0},
    )
    db["fingerprints"].create(
        {"story_key": str, "item_key": str, "data": str, "seen_at": str},
        pk=("story_key", "item_key"),
    )
    db["fingerprints"].create_index(["seen_at"])


def _m4_channels(db: sqlite_utils.Database) -> None:
    """Channel watchers: a cursor per source, a revision per item (edits), the key of
    each alert's item (deletions)."""
    db["source_state"].add_column("cursor", str)
    db["items"].add_column("revision", str)
    db["alerts"].add_column("item_key", str)
    db["alerts"].create_index(["source", "item_key"])


def _m5_slack(db: sqlite_utils.Database) -> None:
    """Slack: destinations that /watch made in a channel are kept by channel id (text)."""
    db["chat_destinations"].add_column("channel", str)


def _m6_notices(db: sqlite_utils.Database) -> None:
    """Messages from the bot itself, e.g. "source X is noisy here: mute it?"."""
    db["notices"].create(
        {
            "id": int,
            "destination": str,
            "kind": str,
            "subject": str,  # e.g. the noisy source's name
            "text": str,
            "created_at": str,
            "state": str,  # pending | sent
            "remote_id": str,
        },
        pk="id",
        defaults={"state": "pending"},
    )
    db["notices"].create_index(["destination", "kind", "subject", "created_at"])


def _m7_replies(db: sqlite_utils.Database) -> None:
    """``also_seen = "thread"``: how many sightings and notes an alert's thread has had."""
    db["alerts"].add_column("replied_sightings", int)
    db["alerts"].add_column("replied_notes", int)


def _m8_story_index(db: sqlite_utils.Database) -> None:
    """Alerts by story, across destinations (each item that retells a story looks them up)."""
    db["alerts"].create_index(["story_key"])


# -- the search index (bot/search.py) ------------------------------------------------
#
# ``items_search``: an FTS5 index of every item's folded title and text (the words the
# matcher sees, ``bot.matching.normalize.fold``), tokenized at spaces (the "ascii"
# tokenizer: folded text has no other ASCII separator, and every non-ASCII character is
# part of a word).  Contentless (``content=''``): it holds the index only, not a second
# copy of the text.  Its rowid is the item's ``search_id``, a column of its own, which
# VACUUM never renumbers (an implicit rowid it may).  Triggers keep it in step with
# ``items`` whatever writes them: a new item gets the next ``search_id`` and its index
# entry; an item whose title or text changes (an edit) gets a new ``search_id`` and a
# new entry; the entry of a deleted or edited item stays in the index but names no item
# any more, so searches, which join the index to ``items`` on ``search_id``, never see
# it (deleting an entry of a contentless index needs the exact text it was built from).
# The triggers call ``dozor_fold`` (``register_functions``; the store registers it on
# each connection it opens).  When folding changes (an upgrade), the index is rebuilt
# (``check_search_index``, at start-up).


def search_fold(text: str | None) -> str:
    """An item field as the search index holds it: folded, words between spaces."""
    return fold(text or "").text


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("dozor_fold", 1, search_fold, deterministic=True)


# Characters of every script and kind that folding treats in its own way: a change to
# folding changes the fold of this text, and so the index is rebuilt.
_PROBE = (
    "".join(chr(c) for c in range(0x20, 0x530))
    + " ßﬁ²½Ⅻ ёЁйЙїЇўЎ Вагнeр Wagnеr а́ ́x so\u00adft zero\u200bwidth Zōr Ωμέγα"
    + " <b>тег</b> https://t.me/x www.site.ru &amp;&#1078; :fire: قصف שלום हिन्दी 東京 ❤️"
)


@cache
def fold_signature() -> str:
    """What folding does today, in 16 hex digits."""
    return hashlib.sha256(search_fold(_PROBE).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def build_search_index(db: sqlite_utils.Database) -> int:
    """(Re)build the whole search index from ``items``, oldest first; returns how many
    items it holds.  Run inside a transaction."""
    register_functions(db.conn)
    db.execute("insert into items_search(items_search) values ('delete-all')")
    last = int(db.execute("select next_id from search_state").fetchone()[0])
    db.execute(  # numbered after every id given so far: no clash with those not renumbered yet
        "update items set search_id = ? + numbered.n from (select rowid as id, row_number()"
        " over (order by first_seen_at, rowid) as n from items) as numbered"
        " where items.rowid = numbered.id",
        [last],
    )
    db.execute(
        "insert into items_search(rowid, title, text)"
        " select search_id, dozor_fold(title), dozor_fold(text) from items"
    )
    count = int(db.execute("select count(*) from items").fetchone()[0])
    db.execute("update search_state set next_id = ?, fold = ?", [last + count, fold_signature()])
    return count


def check_search_index(db: sqlite_utils.Database) -> None:
    """Rebuild the search index when folding changed since it was built."""
    row = db.execute("select fold from search_state").fetchone()
    if row is None or row[0] == fold_signature():
        return
    log.warning("text folding changed since the search index was built: rebuilding it (once)")
    with db.atomic():
        count = build_search_index(db)
    log.warning("search index rebuilt: %d items", count)


def _m9_search(db: sqlite_utils.Database) -> None:
    """The search index over every stored item (see the comment above), built here for
    the items already stored."""
    db["items"].add_column("search_id", int)
    db.execute(
        "create virtual table items_search using fts5(title, text, tokenize = 'ascii',"
        " content = '', columnsize = 0, detail = full)"
    )
    # the last search_id given, and the folding the index was built with
    db.execute("create table search_state (next_id integer not null, fold text)")
    db.execute("insert into search_state (next_id, fold) values (0, '')")
    count = db.execute("select count(*) from items").fetchone()[0]
    if count:
        log.warning("building the search index of %d stored items (once)", count)
    build_search_index(db)
    db.execute("create unique index items_search_id on items (search_id)")
    # a new item, and an item whose title or text changed: the next search_id, indexed
    index_it = """begin
          update search_state set next_id = next_id + 1;
          update items set search_id = (select next_id from search_state)
            where rowid = new.rowid;
          insert into items_search(rowid, title, text) values
            ((select next_id from search_state), dozor_fold(new.title), dozor_fold(new.text));
        end"""
    db.execute(f"create trigger items_search_insert after insert on items {index_it}")
    db.execute(
        "create trigger items_search_edit after update of title, text on items"
        f" when old.title is not new.title or old.text is not new.text {index_it}"
    )


def _m10_platform_state(db: sqlite_utils.Database) -> None:
    """Why a chat platform cannot be used (no token set, cannot connect: reason), since
    when; ``reason`` null: it connected (bot/reach.py)."""
    db["platform_state"].create({"platform": str, "reason": str, "since": str}, pk="platform")


def _m11_addresses(db: sqlite_utils.Database) -> None:
    """Destinations as platform-neutral addresses: the chat (channel, room) id and its
    topic or thread as text, whatever the platform; the platform is the row's ``kind``,
    recorded, never guessed from the id's type.  Older rows keep their chat_id and
    channel and get their address from them."""
    db["chat_destinations"].add_column("address", str)
    db["chat_destinations"].add_column("thread", str)
    db.execute(
        "update chat_destinations set address = coalesce(channel, cast(chat_id as text)),"
        " thread = cast(thread_id as text)"
    )
    db["destination_state"].add_column("address", str)
    db.execute("update destination_state set address = cast(chat_id as text) where chat_id")


def _m12_item_media(db: sqlite_utils.Database) -> None:
    """Items keep their media records (a JSON list, watchers/media.py); older rows have
    none (null), which reads as no media."""
    db["items"].add_column("media", str)


def _m13_evidence(db: sqlite_utils.Database) -> None:
    """Evidence keeping (bot/evidence.py): the items taken care of, the pictures kept."""
    db["evidence_items"].create(
        {
            "source": str,
            "item_key": str,
            "folder": str,  # the item's folder under the evidence dir
            "started_at": str,
            "done_at": str,
            "kept": int,  # pictures kept (0: none could be, or removed for the disk cap)
        },
        pk=("source", "item_key"),
        defaults={"kept": 0},
    )
    db["evidence_items"].create_index(["done_at"])
    db["evidence_files"].create(
        {
            "id": int,
            "source": str,
            "item_key": str,
            "folder": str,
            "name": str,  # "<sha256>.<ext>" in the folder
            "sha256": str,
            "original_url": str,  # as the post gave it
            "url": str,  # after redirects
            "mime": str,
            "size": int,
            "fetched_at": str,
        },
        pk="id",
    )
    db["evidence_files"].create_index(["source", "item_key", "sha256"], unique=True)
    db["evidence_files"].create_index(["sha256"])
    db["evidence_files"].create_index(["original_url"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m1_initial,
    _m2_chat,
    _m3_stories,
    _m4_channels,
    _m5_slack,
    _m6_notices,
    _m7_replies,
    _m8_story_index,
    _m9_search,
    _m10_platform_state,
    _m11_addresses,
    _m12_item_media,
    _m13_evidence,
]
