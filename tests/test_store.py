"""The SQLite store: migrations, seen items, the outbox's uniqueness and ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.migrations import MIGRATIONS
from bot.model import Alert, FetchState, Item, Match, Source, Span
from bot.store import Store

T0 = datetime(2024, 12, 3, 7, 0, tzinfo=UTC)


def item(key: str, story: str | None = None, source: str = "ria") -> Item:
    return Item(
        source=source,
        key=key,
        story_key=story or f"link:https://t.me/rian_ru/{key}",
        title=f"Заголовок {key}",
        text="Сирийская армия отразила атаки в провинции Дейр-эз-Зор",
        link=f"https://t.me/rian_ru/{key}",
        published=T0,
        tags=("ru",),
    )


def alert(i: Item, destination: str = "console") -> Alert:
    match = Match("deir-ez-zor", ("Дейр-эз-Зор",), (Span("text", 41, 52, "Дейр-эз-Зор"),))
    return Alert(destination, i, (match,), i.story_key)


def test_migrations_set_the_version_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "dozor.db"
    store = Store.open(path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = Store.open(path)  # no migration runs twice
    assert again.schema_version == len(MIGRATIONS)
    again.close()


def test_mark_seen_returns_only_new_items(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    assert [i.key for i in store.mark_seen([item("1"), item("2")], T0)] == ["1", "2"]
    assert [i.key for i in store.mark_seen([item("2"), item("3")], T0)] == ["3"]
    # the same key from another source is new for that source
    assert len(store.mark_seen([item("1", source="other")], T0)) == 1


def test_one_alert_per_story_and_destination_and_it_survives_restart(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    first = store.enqueue_alert(alert(item("1")), T0)
    assert first is not None
    assert store.enqueue_alert(alert(item("1")), T0) is None
    # another source carrying the same canonical link: same story, no second alert
    assert (
        store.enqueue_alert(alert(item("x", story="link:https://t.me/rian_ru/1", source="b")), T0)
        is None
    )
    assert store.enqueue_alert(alert(item("1"), destination="desk"), T0) is not None
    store.close()
    store = Store.open(tmp_path / "d.db")
    assert store.enqueue_alert(alert(item("1")), T0) is None
    messages = store.claim_deliveries("console", T0)
    assert [m.alert_id for m in messages] == [first]
    restored = messages[0].alert
    assert restored == alert(item("1"))  # everything needed to render survives the round trip


def test_claim_order_retry_and_sent(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    ids = [store.enqueue_alert(alert(item(str(n))), T0) for n in range(3)]
    assert [m.alert_id for m in store.claim_deliveries("console", T0)] == ids
    store.mark_retry(ids[0], "429", T0 + timedelta(seconds=30))
    assert store.claim_deliveries("console", T0) == []  # the first holds back the rest
    assert [
        m.alert_id for m in store.claim_deliveries("console", T0 + timedelta(seconds=31))
    ] == ids
    store.mark_sent(ids[0], T0, "m-1")
    assert store.outbox_counts() == {"console": {"pending": 2, "sent": 1}}
    assert store.next_attempt_at() == T0


def test_source_health_and_url_change_resets_state(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    src = Source("ria", "rss", "https://example.org/a", timedelta(minutes=5))
    store.sync_sources([src])
    assert store.due_sources([src], T0) == [src]
    store.record_success("ria", FetchState(etag='"1"'), T0, T0 + timedelta(minutes=5), new_items=3)
    assert store.due_sources([src], T0 + timedelta(minutes=1)) == []
    assert store.baseline_done("ria")
    assert store.record_error("ria", "HTTP 500", T0, T0 + timedelta(minutes=10)) == 1
    assert store.record_error("ria", "HTTP 500", T0 + timedelta(minutes=10), T0) == 2
    health = store.source_health()[0]
    assert not health.ok and health.failing_since == T0 and health.error_count == 2
    assert health.items_seen == 3 and health.last_error == "HTTP 500"
    store.disable_source("ria", "410 Gone", T0)
    assert store.due_sources([src], T0 + timedelta(days=1)) == []
    moved = Source("ria", "rss", "https://example.org/b", timedelta(minutes=5))
    store.sync_sources([moved])  # the user fixed the URL in the config
    assert store.due_sources([moved], T0) == [moved]
    assert store.fetch_state("ria") == FetchState()


def test_atomic_rolls_back_seen_items_when_enqueueing_fails(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    try:
        with store.atomic():
            assert store.mark_seen([item("1")], T0)
            store.enqueue_alert(alert(item("1")), T0)
            raise OSError("disk full")
    except OSError:
        pass
    assert store.items_count() == 0 and store.outbox_counts() == {}
    assert store.mark_seen([item("1")], T0)  # still new: it will alert on the next poll
