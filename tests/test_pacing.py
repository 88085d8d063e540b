"""bot/pacing.py: flood limits as waits, with an injected clock."""

from __future__ import annotations

from bot.pacing import Pacer


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_message_per_interval_per_chat_and_chats_are_independent() -> None:
    ticks = Ticks()
    pacer = Pacer(1.0, clock=ticks)
    assert pacer.wait_for("C1") == 0
    pacer.sent("C1")
    assert pacer.wait_for("C1") == 1.0 and pacer.wait_for("C2") == 0
    ticks.now += 0.4
    assert abs(pacer.wait_for("C1") - 0.6) < 1e-9


def test_group_and_global_limits() -> None:
    ticks = Ticks()
    pacer = Pacer(0.0, per_minute=2, grouped=lambda k: k < 0, per_second=3, clock=ticks)
    pacer.sent(-1)
    pacer.sent(-1)
    assert pacer.wait_for(-1) == 60.0 and pacer.wait_for(5) == 0
    pacer.sent(5)
    assert pacer.wait_for(6) == 1.0  # three sends in this second, in all
    ticks.now += 1.0
    assert pacer.wait_for(6) == 0 and pacer.wait_for(-1) == 59.0
