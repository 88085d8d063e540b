"""The outbox: order per destination, retries that wait, broken destinations keep alerts,
and one failing destination never holds up another."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.model import Alert, Item, Match, OutgoingMessage, SendResult, SendStatus, Span
from bot.outbox import Outbox
from bot.platforms.console.adapter import ConsoleAdapter
from bot.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 12, 3, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class ScriptedDestination:
    """A destination that answers from a script of outcomes, then accepts everything."""

    kind = "scripted"

    def __init__(self, *script: SendResult):
        self.script = list(script)
        self.received: list[int] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        if self.script:
            return self.script.pop(0)
        self.received.append(message.alert_id)
        return SendResult(SendStatus.SENT, remote_id=str(message.alert_id))


def enqueue(store: Store, n: int, destination: str, clock: Clock) -> list[int]:
    ids = []
    for k in range(n):
        text = f"Бойцы ЧВК Вагнер погибли под Дейр-эз-Зором, сообщение {k}"
        item = Item(
            "src",
            f"guid:{k}",
            f"link:https://example.org/{k}",
            f"Пост {k}",
            text,
            f"https://example.org/{k}",
        )
        match = Match("wagner", ("ЧВК",), (Span("text", 6, 9, "ЧВК"),))
        alert_id = store.enqueue_alert(Alert(destination, item, (match,), item.story_key), clock())
        assert alert_id is not None
        ids.append(alert_id)
    return ids


async def test_rate_limited_destination_waits_keeps_order_and_does_not_block_others(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = Store.open(tmp_path / "d.db")
    limited = ScriptedDestination(
        SendResult(SendStatus.RETRY, "429 Too Many Requests", retry_after=timedelta(seconds=30))
    )
    healthy = ScriptedDestination()
    slow_ids = enqueue(store, 3, "limited", clock)
    fast_ids = enqueue(store, 3, "healthy", clock)
    outbox = Outbox(store, {"limited": limited, "healthy": healthy}.get, clock)

    assert await outbox.deliver_due() == 3
    assert healthy.received == fast_ids
    assert limited.received == []
    clock.advance(seconds=29)
    assert await outbox.deliver_due() == 0  # not before retry_after
    clock.advance(seconds=2)
    assert await outbox.deliver_due() == 3
    assert limited.received == slow_ids  # in order, none lost
    assert store.outbox_counts() == {"healthy": {"sent": 3}, "limited": {"sent": 3}}


async def test_broken_destination_keeps_its_alerts_and_recovers(tmp_path: Path) -> None:
    clock = Clock()
    store = Store.open(tmp_path / "d.db")
    dest = ScriptedDestination(SendResult(SendStatus.BROKEN, "403 Forbidden: bot was kicked"))
    ids = enqueue(store, 2, "desk", clock)
    outbox = Outbox(store, {"desk": dest}.get, clock)
    assert await outbox.deliver_due() == 0
    assert store.broken_destinations() == {"desk": "403 Forbidden: bot was kicked"}
    assert store.outbox_counts() == {"desk": {"pending": 2}}
    clock.advance(minutes=16)
    assert await outbox.deliver_due() == 2
    assert dest.received == ids and store.broken_destinations() == {}


async def test_errors_back_off_and_an_adapter_exception_loses_nothing(tmp_path: Path) -> None:
    clock = Clock()
    store = Store.open(tmp_path / "d.db")

    class Exploding(ScriptedDestination):
        async def send(self, message: OutgoingMessage) -> SendResult:
            if not self.received and self.script:
                self.script.pop(0)
                raise RuntimeError("boom")
            return await super().send(message)

    dest = Exploding(SendResult(SendStatus.RETRY))
    ids = enqueue(store, 1, "desk", clock)
    outbox = Outbox(store, {"desk": dest}.get, clock)
    assert await outbox.deliver_due() == 0
    clock.advance(seconds=3)
    assert await outbox.deliver_due() == 1 and dest.received == ids


async def test_console_prints_the_alert_with_marked_words(tmp_path: Path) -> None:
    clock = Clock()
    store = Store.open(tmp_path / "d.db")
    enqueue(store, 1, "console", clock)
    out = io.StringIO()
    outbox = Outbox(store, {"console": ConsoleAdapter(out)}.get, clock)
    assert await outbox.deliver_due() == 1
    text = out.getvalue()
    assert "Rule:    wagner (ЧВК)" in text
    assert "Snippet: Бойцы **ЧВК** Вагнер погибли под Дейр-эз-Зором, сообщение 0" in text
    assert "Link:    https://example.org/0" in text
    assert "Source:  src" in text
