"""The SQLite store: the only package that writes SQL.

It keeps what must survive a restart, one module per concern, in pipeline order:

    connection.py  the database (sqlite-utils, WAL), migrations, transactions, locks
    sources.py     sources' fetch state and health, chat-added sources, items seen
    search.py      the archive search's reads of the items' FTS5 index
    stories.py     dedup's fingerprints, sightings and notes of an alerted story
    deliveries.py  the outbox's queue: alerts, digests, notices, edits, broken
                   destinations, and how each delivery moves from state to state
    alerts.py      reads of the alerts log (commands, status, stats)
    chats.py       what chat commands added: rules, mutes, destinations
    reach.py       why a chat platform is down, and since when
    evidence.py    the pictures of alerted items kept on disk (bot/evidence.py)
    rows.py        how rows become model values (times, alerts as JSON)

``Store`` is the facade: ``store.deliveries``, ``store.sources`` ... are the
concerns, and the flat names (``store.due_sources``) are theirs, kept for callers.
The concern modules import only ``connection`` and ``rows``, never each other (an
import-linter contract), and share one connection, so a poll's items, stories and
alerts commit together (``store.atomic()``).  Methods are named for intent; times are
stored as ISO 8601 UTC strings, which sort as times.
"""

from __future__ import annotations

import sqlite_utils

from bot.store.alerts import Alerts
from bot.store.chats import ChatRule, Chats
from bot.store.connection import (
    LOOP_BUSY_MS,
    START_BUSY_MS,
    Connection,
    is_locked,
    retry_locked,
    retry_locked_async,
)
from bot.store.deliveries import TRANSITIONS, Deliveries, IllegalTransition, Move, State, Verdict
from bot.store.evidence import Evidence, EvidenceFile
from bot.store.reach import Reach
from bot.store.rows import (
    ITEM_TEXT_KEPT,
    StoredAlert,
    alert_from_json,
    alert_to_json,
    from_iso,
    iso,
)
from bot.store.search import Search
from bot.store.sources import SourceHealth, Sources
from bot.store.stories import Sighting, Stories

__all__ = [
    "ITEM_TEXT_KEPT",
    "LOOP_BUSY_MS",
    "START_BUSY_MS",
    "TRANSITIONS",
    "ChatRule",
    "EvidenceFile",
    "IllegalTransition",
    "Move",
    "Sighting",
    "SourceHealth",
    "State",
    "Store",
    "StoredAlert",
    "Verdict",
    "alert_from_json",
    "alert_to_json",
    "from_iso",
    "is_locked",
    "iso",
    "retry_locked",
    "retry_locked_async",
]


class Store(Connection):
    """The facade: one connection, its concerns, and their methods under flat names."""

    def __init__(self, db: sqlite_utils.Database):
        super().__init__(db)
        self.sources = Sources(db)
        self.search = Search(db)
        self.chats = Chats(db)
        self.stories = Stories(db)
        self.alerts = Alerts(db)
        self.deliveries = Deliveries(db)
        self.reach = Reach(db)
        self.evidence = Evidence(db)
        # the flat names, each a concern's method
        # sources
        self.sync_sources = self.sources.sync_sources
        self.due_sources = self.sources.due_sources
        self.fetch_state = self.sources.fetch_state
        self.baseline_done = self.sources.baseline_done
        self.record_success = self.sources.record_success
        self.record_error = self.sources.record_error
        self.error_count = self.sources.error_count
        self.disable_source = self.sources.disable_source
        self.next_check_at = self.sources.next_check_at
        self.source_health = self.sources.source_health
        self.add_chat_source = self.sources.add_chat_source
        self.remove_chat_source = self.sources.remove_chat_source
        self.chat_sources = self.sources.chat_sources
        self.mark_seen = self.sources.mark_seen
        self.record_items = self.sources.record_items
        self.items_count = self.sources.items_count
        self.recent_items = self.sources.recent_items
        # search
        self.search_candidates = self.search.search_candidates
        self.items_by_search_id = self.search.items_by_search_id
        # chats
        self.add_chat_rule = self.chats.add_chat_rule
        self.remove_chat_rule = self.chats.remove_chat_rule
        self.chat_rules = self.chats.chat_rules
        self.add_mute = self.chats.add_mute
        self.undo_mute = self.chats.undo_mute
        self.unmute = self.chats.unmute
        self.active_mutes = self.chats.active_mutes
        self.chat_destination = self.chats.chat_destination
        self.chat_destinations = self.chats.chat_destinations
        self.set_destination_address = self.chats.set_destination_address
        self.destination_addresses = self.chats.destination_addresses
        # stories
        self.alerts_for_story = self.stories.alerts_for_story
        self.add_sighting = self.stories.add_sighting
        self.sightings = self.stories.sightings
        self.add_note = self.stories.add_note
        self.notes = self.stories.notes
        self.has_note = self.stories.has_note
        self.told_counts = self.stories.told_counts
        self.replied = self.stories.replied
        self.set_replied = self.stories.set_replied
        self.save_fingerprint = self.stories.save_fingerprint
        self.fingerprints_since = self.stories.fingerprints_since
        self.forget_fingerprints = self.stories.forget_fingerprints
        # alerts
        self.alert = self.alerts.alert
        self.alert_by_remote_id = self.alerts.alert_by_remote_id
        self.alerts_of_items = self.alerts.alerts_of_items
        self.alerted_keys = self.alerts.alerted_keys
        self.alerts_since = self.alerts.alerts_since
        self.alerts_by_day = self.alerts.alerts_by_day
        self.count_alerts = self.alerts.count_alerts
        self.sent_alerts = self.alerts.sent_alerts
        self.outbox_counts = self.alerts.outbox_counts
        self.oldest_pending_at = self.alerts.oldest_pending_at
        self.outbox_depth = self.alerts.outbox_depth
        # deliveries
        self.enqueue_alert = self.deliveries.enqueue_alert
        self.claim_deliveries = self.deliveries.claim_deliveries
        self.mark_sent = self.deliveries.mark_sent
        self.mark_retry = self.deliveries.mark_retry
        self.attempts = self.deliveries.attempts
        self.hold = self.deliveries.hold
        self.due_digest = self.deliveries.due_digest
        self.digest_destinations = self.deliveries.digest_destinations
        self.mark_digest_sent = self.deliveries.mark_digest_sent
        self.delay_digest = self.deliveries.delay_digest
        self.pending_destinations = self.deliveries.pending_destinations
        self.next_attempt_at = self.deliveries.next_attempt_at
        self.next_due_at = self.deliveries.next_due_at
        self.mark_destination_broken = self.deliveries.mark_destination_broken
        self.clear_destination_broken = self.deliveries.clear_destination_broken
        self.broken_destinations = self.deliveries.broken_destinations
        self.request_edit = self.deliveries.request_edit
        self.due_edits = self.deliveries.due_edits
        self.edit_destinations = self.deliveries.edit_destinations
        self.edit_done = self.deliveries.edit_done
        self.edit_retry = self.deliveries.edit_retry
        self.enqueue_notice = self.deliveries.enqueue_notice
        self.pending_notices = self.deliveries.pending_notices
        self.notice_destinations = self.deliveries.notice_destinations
        self.notice = self.deliveries.notice
        self.mark_notice_sent = self.deliveries.mark_notice_sent
        self.noticed_since = self.deliveries.noticed_since
        # reach
        self.mark_platform_down = self.reach.mark_platform_down
        self.mark_platform_up = self.reach.mark_platform_up
        self.platform_states = self.reach.platform_states
