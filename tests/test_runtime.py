"""The runtime's lists (bot/runtime.py): sources, destinations and rules are read from
the store once and again only after a store write changed them, so an alert costs no
store read to find its destination, and a chat's /addsource or /watch is in force for
the very next poll and command.  Reads are counted with SQLite's own trace of the
statements the store runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.chatbot import ChatBot
from tests.feeds import real_posts

CHAT_TABLES = ("chat_destinations", "destination_state", "chat_sources", "chat_rules")


@contextmanager
def reads(bot: ChatBot) -> Iterator[list[str]]:
    """The statements that read the chat-state tables while the block runs."""
    seen: list[str] = []

    def trace(sql: str) -> None:
        if sql.lstrip().lower().startswith("select") and any(t in sql for t in CHAT_TABLES):
            seen.append(sql)

    conn = bot.store.db.conn
    conn.set_trace_callback(trace)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def of(source: str, *exclude: int) -> list[dict]:
    channel = {"ria": -1001101170442, "bbc": -1001003921752, "breaking": -1001394050290}
    return [
        p
        for p in real_posts()
        if p["sender_id"] == channel[source] and p["message_id"] not in exclude
    ]


async def test_alerts_find_their_destinations_without_reading_the_store(
    testbot: ChatBot,
) -> None:
    assert testbot.app is not None
    await testbot.app.connect(listen=False)
    posts = of("breaking")
    testbot.poll("breaking", posts[:1])  # the baseline
    with reads(testbot) as seen:
        report = testbot.poll("breaking", posts)
        sent = await testbot.app.outbox.deliver_due()
    assert report.ingest is not None and len(report.ingest.alerts) >= 2
    assert sent >= 1
    print(f"{len(report.ingest.alerts)} alerts, {sent} sent, {len(seen)} chat-state reads")
    assert seen == []


async def test_a_chat_change_is_in_force_for_the_next_poll_and_command(
    testbot: ChatBot,
) -> None:
    assert testbot.app is not None
    with reads(testbot) as seen:
        for _ in range(5):
            testbot.app.poller.polled()
            testbot.ctx.destination("desk")
    assert seen == []  # nothing changed: nothing read again

    added = await testbot.command("/addsource https://new.example/world.rss")
    assert "added source" in added.text
    assert "new.example-world.rss" in [s.name for s in testbot.app.poller.polled()]
    assert "new.example-world.rss" in (await testbot.command("/sources")).text

    await testbot.command("/watch погиб*", chat=testbot.DESK)
    assert "watch-pogib" in testbot.ctx.pipeline.rules
    assert "watch-pogib" in (await testbot.command("/rules", chat=testbot.DESK)).text

    await testbot.command("/removesource new.example-world.rss")
    assert "new.example-world.rss" not in [s.name for s in testbot.app.poller.polled()]
