"""The delivery state machine (bot/store/deliveries.py): each move is allowed only where
the transition table says, an illegal one raises and writes nothing, and a crash in the
middle of a send delivers the alert again exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.model import Alert, Item, Match, OutgoingMessage, SendResult, SendStatus, Span
from bot.outbox import Outbox
from bot.store import IllegalTransition, Store

T0 = datetime(2024, 12, 3, 7, 0, tzinfo=UTC)


def alert(key: str, destination: str = "desk") -> Alert:
    item = Item("ria", key, f"link:{key}", f"Пост {key}", "ЧВК Вагнер", f"https://x.org/{key}")
    match = Match("wagner", ("ЧВК",), (Span("text", 0, 3, "ЧВК"),))
    return Alert(destination, item, (match,), item.story_key)


def in_state(store: Store, state: str, key: str = "a") -> int:
    """An alert in ``state``, reached by allowed moves only."""
    if state == "digest":
        alert_id = store.enqueue_alert(alert(key), T0, digest_at=T0)
    else:
        alert_id = store.enqueue_alert(alert(key), T0, suppressed=state == "suppressed")
    assert alert_id is not None
    if state == "sent":
        store.mark_sent(alert_id, T0, "m-1")
    return alert_id


def row(store: Store, alert_id: int) -> tuple[str, int, str | None]:
    return store.db.execute(
        "select state, attempts, remote_id from alerts where id = ?", [alert_id]
    ).fetchone()


MOVES: dict[str, Callable[[Store, int], None]] = {
    "mark_sent": lambda store, i: store.mark_sent(i, T0, "m-2"),
    "mark_retry": lambda store, i: store.mark_retry(i, "429", T0 + timedelta(seconds=30)),
    "mark_digest_sent": lambda store, i: store.mark_digest_sent([i], T0),
}
# (move, state it starts from) -> the state it ends in; every pair not here is illegal
LEGAL = {
    ("mark_sent", "pending"): "sent",
    ("mark_retry", "pending"): "pending",
    ("mark_digest_sent", "digest"): "sent",
}


@pytest.mark.parametrize("start", ["pending", "digest", "suppressed", "sent"])
@pytest.mark.parametrize("move", sorted(MOVES))
def test_a_move_is_made_only_where_the_table_allows_it(
    tmp_path: Path, move: str, start: str
) -> None:
    store = Store.open(tmp_path / "d.db")
    alert_id = in_state(store, start)
    before = row(store, alert_id)
    if (move, start) in LEGAL:
        MOVES[move](store, alert_id)
        assert row(store, alert_id)[0] == LEGAL[move, start]
        assert row(store, alert_id)[1] == before[1] + 1  # each try is counted
    else:
        with pytest.raises(IllegalTransition):
            MOVES[move](store, alert_id)
        assert row(store, alert_id) == before  # nothing written


def test_an_alert_is_never_marked_sent_twice_nor_a_digest_half_sent(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    sent = in_state(store, "pending", "a")
    store.mark_sent(sent, T0, "m-1")
    with pytest.raises(IllegalTransition, match="from sent to sent"):
        store.mark_sent(sent, T0, "m-2")
    assert row(store, sent) == ("sent", 1, "m-1")  # the first message id stays

    digest = in_state(store, "digest", "b")
    pending = in_state(store, "pending", "c")
    with pytest.raises(IllegalTransition):
        store.mark_digest_sent([digest, pending], T0)
    assert row(store, digest)[0] == "digest"  # all or nothing: still waiting for its digest
    assert row(store, pending)[0] == "pending"

    notice = store.enqueue_notice("desk", "noisy", "ria", "ria is noisy", T0)
    store.mark_notice_sent(notice, "n-1")
    with pytest.raises(IllegalTransition):
        store.mark_notice_sent(notice, "n-2")


class Crash(BaseException):
    """The process dies: nothing after it runs."""


class CrashingDestination:
    """Crashes in the middle of its first send (the message may have left), then sends."""

    kind = "scripted"

    def __init__(self) -> None:
        self.received: list[int] = []
        self.crash = True

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.received.append(message.alert_id)
        if self.crash:
            self.crash = False
            raise Crash
        return SendResult(SendStatus.SENT, remote_id=f"m-{message.alert_id}")


async def test_a_crash_mid_send_delivers_the_alert_again_exactly_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    first = store.enqueue_alert(alert("a"), T0)
    second = store.enqueue_alert(alert("b"), T0)
    desk = CrashingDestination()
    with pytest.raises(Crash):
        await Outbox(store, {"desk": desk}.get, lambda: T0).deliver_due()
    assert desk.received == [first]
    store.close()  # the process is gone; what it committed stays

    again = Store.open(tmp_path / "d.db")
    outbox = Outbox(again, {"desk": desk}.get, lambda: T0)
    assert await outbox.deliver_due() == 2
    assert await outbox.deliver_due() == 0
    assert desk.received == [first, first, second]  # the one in hand once more, in order
    assert row(again, first) == ("sent", 1, f"m-{first}")
    assert again.deliveries.due_destinations(T0 + timedelta(days=1)) == set()
