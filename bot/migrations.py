"""Schema of the SQLite store, as an ordered list of migrations.

The store applies, in one transaction each, every migration whose number is above
the database's ``PRAGMA user_version``.  Append new migrations; never edit one that
has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m1_initial,
    _m2_chat,
    _m3_stories,
    _m4_channels,
    _m5_slack,
    _m6_notices,
    _m7_replies,
    _m8_story_index,
]
