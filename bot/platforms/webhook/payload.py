"""Outbox message -> the webhook's JSON body (schema version 1) and its signature.  Pure.

Every POST is one JSON object (UTF-8), ``"version": 1``, one of three events:

    {"version": 1, "event": "alert", "id": "alert-42", "sent_at": "...Z",
     "destination": "siem",
     "alert": {"id": 42, "rule": "wagner", "rules": [{"name": "wagner",
               "terms": ["Вагнер*"]}], "matched_words": ["Вагнера"],
               "severity": "high", "source": "ria", "title": "...", "link": "https://...",
               "text": "...", "published": "2026-12-04T12:30:00+00:00" | null,
               "story_id": "link:https://...", "silent": false, "note": null}}
    "alert.updated": the same alert again with a new ``note`` ("also seen in", deleted)
    "message": {"message": {"text": "...", "in_reply_to": "alert-42" | null}} (digests,
               notices)

``id`` is the same on every retry of one delivery, so a receiver can drop duplicates.
Fields are only ever added within a version; a change that removes or retypes one
raises ``version``.

Signing: ``X-Dozor-Timestamp`` is the Unix time of the attempt in seconds and
``X-Dozor-Signature`` is ``sha256=`` + hex HMAC-SHA256 over ``<timestamp>.<raw body>``
with the shared secret.  The timestamp is inside the signed bytes so that a captured
request cannot be replayed later with a fresh timestamp: a receiver recomputes the
HMAC, compares in constant time and refuses timestamps older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from bot.model import Alert, OutgoingMessage
from bot.render import unbidi

VERSION = 1
TEXT_LIMIT = 100_000  # characters of an item's text in one payload
SIGNATURE_HEADER = "X-Dozor-Signature"
TIMESTAMP_HEADER = "X-Dozor-Timestamp"
EVENT_HEADER = "X-Dozor-Event"
DELIVERY_HEADER = "X-Dozor-Delivery"


def alert_fields(alert_id: int, alert: Alert, note: str | None, silent: bool) -> dict[str, Any]:
    item = alert.item
    fields = {"title": item.title, "text": item.text}
    words = list(
        dict.fromkeys(
            unbidi(fields.get(s.field, "")[s.start : s.end]) for m in alert.matches for s in m.spans
        )
    )
    return {
        "id": alert_id,
        "rule": alert.matches[0].rule if alert.matches else None,
        "rules": [{"name": m.rule, "terms": list(m.terms)} for m in alert.matches],
        "matched_words": words,
        "severity": alert.severity,
        "source": item.source,
        "title": unbidi(item.title),
        "link": item.link,
        "text": unbidi(item.text[:TEXT_LIMIT]),
        "published": item.published.isoformat() if item.published else None,
        "story_id": alert.story_key,
        "silent": silent,
        "note": note,
    }


def alert_event(
    message: OutgoingMessage, sent_at: datetime, *, updated: bool = False
) -> dict[str, Any]:
    """The body of an ``alert`` (or, redrawn with a new note, ``alert.updated``) event."""
    delivery = f"alert-{message.alert_id}"
    if updated:
        delivery += "-" + _digest(message.note or "")
    return {
        "version": VERSION,
        "event": "alert.updated" if updated else "alert",
        "id": delivery,
        "sent_at": sent_at.isoformat(),
        "destination": message.destination,
        "alert": alert_fields(message.alert_id, message.alert, message.note, message.silent),
    }


def message_event(
    destination: str, text: str, sent_at: datetime, reply_to: str | None = None
) -> dict[str, Any]:
    """The body of a ``message`` event: a digest or a notice, as plain text."""
    return {
        "version": VERSION,
        "event": "message",
        "id": "message-" + _digest(f"{destination}\n{reply_to}\n{text}"),
        "sent_at": sent_at.isoformat(),
        "destination": destination,
        "message": {"text": unbidi(text), "in_reply_to": reply_to},
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(event: dict[str, Any], body: bytes, secret: str, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_HEADER: str(event["event"]),
        DELIVERY_HEADER: str(event["id"]),
    }
