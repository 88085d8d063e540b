"""One alert per story, end to end: a retelling of an alerted story in another source
becomes "also seen in" under the first alert; a retelling that fires a new rule alerts,
linked to the story; the same link in two feeds is one story too."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.commands import dispatch
from bot.commands.types import Invocation
from bot.config import load_config
from tests.fakes.feed_server import FeedServer
from tests.feeds import labelled_pair as pair
from tests.feeds import rss

FIXTURES = Path(__file__).resolve().parent / "fixtures"
POOL = ThreadPoolExecutor(2)
RULES = """
[[rule]]
name = "kursk"
any = ["Курск*"]

[[rule]]
name = "investigators"
any = ["СК РФ"]
"""


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


def settings_for(tmp_path: Path, feeds: FeedServer):  # type: ignore[no-untyped-def]
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
[[destinations]]
name = "console"
kind = "console"
[[sources]]
name = "ria"
url = "{feeds.url("/ria.rss")}"
[[sources]]
name = "breaking"
url = "{feeds.url("/breaking.rss")}"
""",
        encoding="utf-8",
    )
    return load_config(path)


async def test_a_retelling_is_also_seen_in_and_a_new_rule_alerts_linked(
    tmp_path: Path, feeds: FeedServer
) -> None:
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    settings = settings_for(tmp_path, feeds)
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()  # baselines
        feeds.set("/ria.rss", body=rss([ria]))
        await app.run_once()
        first = out.getvalue()
        assert first.count("Dozor alert #") == 1 and "Rule:    kursk" in first
        feeds.set("/breaking.rss", body=rss([retold]))
        await app.run_once()
        later = out.getvalue()[len(first) :]
        story = await dispatch(
            app.context,
            Invocation("console", None, "console", "console", "story", "1"),
        )
    # the retelling fires "kursk" again: no second alert, a line under the first
    assert "── Dozor alert #1 updated ──" in later
    assert "👥 Also seen in 1 source: breaking (" in later
    # it also names "СК РФ", a rule the story had not fired: that alerts, linked
    assert "Rule:    investigators (СК РФ)" in later
    assert "Note:    🔗 Part of the story of alert #1" in later
    assert later.count("Dozor alert #") == 2  # the update and the new rule's alert
    assert "https://t.me/bbbreaking/194796" in story.text
    assert "near-duplicate text" in story.text


async def test_the_same_link_in_two_feeds_is_one_story(tmp_path: Path, feeds: FeedServer) -> None:
    ria, _ = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    settings = settings_for(tmp_path, feeds)
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()
        feeds.set("/ria.rss", body=rss([ria]))
        await app.run_once()
        repost = dict(ria, text="Репост: " + ria["text"])
        feeds.set("/breaking.rss", body=rss([repost], title="another header"))
        await app.run_once()
    console = out.getvalue()
    assert console.count("── Dozor alert #") == 2  # the alert and its update
    assert "👥 Also seen in 1 source: breaking" in console


async def test_stories_survive_a_restart(tmp_path: Path, feeds: FeedServer) -> None:
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    settings = settings_for(tmp_path, feeds)
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()
        feeds.set("/ria.rss", body=rss([ria]))
        await app.run_once()
    retold = dict(retold, text=retold["text"].replace("СК РФ", "Следователи"))
    feeds.set("/breaking.rss", body=rss([retold]))
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()  # the story index was rebuilt from the store
    assert out.getvalue().count("Dozor alert #2") == 0
    assert "👥 Also seen in 1 source: breaking" in out.getvalue()


async def test_a_retelling_that_arrives_while_its_alert_is_being_sent_still_shows(
    tmp_path: Path, feeds: FeedServer
) -> None:
    """The race: the first alert's send is under way when the retelling is stored.  The
    message went out without the line, so it is edited once the send is done."""
    import asyncio

    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    settings = settings_for(tmp_path, feeds)
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()  # baselines
        feeds.set("/ria.rss", body=rss([ria]))
        await app.poller.poll_all()
        console, started, go = app.adapters["console"], asyncio.Event(), asyncio.Event()
        send = console.send

        async def slow_send(message):  # type: ignore[no-untyped-def]
            started.set()
            await go.wait()  # the platform takes its time
            return await send(message)

        console.send = slow_send  # type: ignore[method-assign]
        delivery = asyncio.create_task(app.outbox.deliver_due())
        await started.wait()
        feeds.set("/breaking.rss", body=rss([retold]))
        await app.poller.poll_all()  # the retelling is stored during the send
        go.set()
        await delivery
        await app.outbox.deliver_due()
        await app.outbox.deliver_due()  # and nothing more
    text = out.getvalue()
    first = text.split("── Dozor alert #1 → ", 1)[1].split("── Dozor", 1)[0]
    assert "Also seen in" not in first  # sent before the retelling was known
    update = text.split("── Dozor alert #1 updated ──", 1)[1].split("── Dozor", 1)[0]
    assert "👥 Also seen in 1 source: breaking (" in update
    assert text.count("updated ──") == 1


async def test_a_retelling_stored_before_the_send_is_in_the_alert_without_an_edit(
    tmp_path: Path, feeds: FeedServer
) -> None:
    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    settings = settings_for(tmp_path, feeds)
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()
        feeds.set("/ria.rss", body=rss([ria]))
        await app.poller.poll_all()
        feeds.set("/breaking.rss", body=rss([retold]))
        await app.poller.poll_all()  # both stored, nothing sent yet
        await app.outbox.deliver_due()
        await app.outbox.deliver_due()
    text = out.getvalue()
    assert "👥 Also seen in 1 source: breaking (" in text
    assert "updated ──" not in text


async def test_the_story_window_moves_on_while_the_bot_runs(
    tmp_path: Path, feeds: FeedServer
) -> None:
    """Stories older than the window (48 h) leave the index and the store as new items
    come: memory and the rare-term statistics stay those of the window."""
    from datetime import timedelta

    from tests.clock import Clock

    ria, retold = pair("1001101170442/270683", "1001394050290/194796")
    feeds.set("/ria.rss", body=rss([]))
    feeds.set("/breaking.rss", body=rss([]))
    settings = settings_for(tmp_path, feeds)
    rules, _ = load_rules(settings)
    clock = Clock()
    async with App(
        settings, rules, stream=io.StringIO(), pool=POOL, clock=clock, environ={}
    ) as app:
        await app.run_once()
        feeds.set("/ria.rss", body=rss([ria]))
        await app.run_once()
        stories = app.pipeline.stories
        assert stories is not None and len(stories) == 1
        clock.now += timedelta(hours=49)
        feeds.set("/breaking.rss", body=rss([retold]))
        await app.run_once()  # a retelling two days on: a new story, the old one gone
        count = app.store.db.execute("select count(*) from fingerprints").fetchone()[0]
        assert len(stories) == 1 and count == 1
