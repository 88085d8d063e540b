"""Quiet hours and digest schedules, and what the outbox does with them."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.model import Alert, Destination, Item, Match, Span
from bot.outbox import Outbox
from bot.platforms.console.adapter import ConsoleAdapter
from bot.schedules import DigestSchedule, QuietHours, parse_duration, rule_digest_due
from bot.store import Store
from tests.clock import Clock
from tests.feeds import real_posts

T = datetime(2024, 12, 3, 21, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "moment", "inside"),
    [
        ("22:00-07:00", "21:59", False),
        ("22:00-07:00", "22:00", True),
        ("22:00-07:00", "03:00", True),
        ("22:00-07:00", "07:00", False),
        ("09:00-17:30", "12:00", True),
        ("09:00-17:30", "17:30", False),
    ],
)
def test_quiet_hours_contain(window: str, moment: str, inside: bool) -> None:
    hh, mm = map(int, moment.split(":"))
    assert QuietHours.parse(window).contains(T.replace(hour=hh, minute=mm)) is inside


def test_quiet_hours_end_and_time_zones() -> None:
    moscow = QuietHours.parse("22:00-07:00", ZoneInfo("Europe/Moscow"))  # UTC+3
    assert moscow.contains(datetime(2024, 12, 3, 19, 30, tzinfo=UTC))  # 22:30 in Moscow
    assert moscow.ends_after(datetime(2024, 12, 3, 19, 30, tzinfo=UTC)) == datetime(
        2024, 12, 4, 4, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("bad", ["22-07", "25:00-07:00", "22:00", "08:00-08:00", 5])
def test_bad_windows(bad: object) -> None:
    with pytest.raises(ValueError):
        QuietHours.parse(bad)  # type: ignore[arg-type]


def test_digest_due_times() -> None:
    assert DigestSchedule.parse("hourly").next_due(T) == T.replace(hour=22, minute=0)
    daily = DigestSchedule.parse("daily 08:00")
    assert daily.next_due(T) == datetime(2024, 12, 4, 8, 0, tzinfo=UTC)
    assert daily.next_due(T.replace(hour=7)) == datetime(2024, 12, 3, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        DigestSchedule.parse("weekly")


def test_rule_digest_due_times() -> None:
    """A rule's ``digest``: a period on the clock's multiples, hourly, or daily at a time
    (UTC, or in the zone written after it)."""
    assert rule_digest_due("1h", T) == T.replace(hour=22, minute=0)
    assert rule_digest_due("30m", T) == T.replace(hour=22, minute=0)
    assert rule_digest_due("1h30m", T) == datetime(2024, 12, 3, 22, 30, tzinfo=UTC)
    assert rule_digest_due("hourly", T) == T.replace(hour=22, minute=0)
    assert rule_digest_due("daily 08:00", T) == datetime(2024, 12, 4, 8, 0, tzinfo=UTC)
    moscow = rule_digest_due("daily 08:00 Europe/Moscow", T)  # 05:00 UTC
    assert moscow == datetime(2024, 12, 4, 5, 0, tzinfo=UTC)
    for bad in ("weekly", "daily 25:00", "daily 08:00 Mars/Olympus", "0h", "", "daily"):
        with pytest.raises(ValueError):
            rule_digest_due(bad, T)


def test_rule_digest_periods_are_config_durations() -> None:
    """A rule's digest period is read by config.toml's duration parser (one grammar:
    units in the order d h m s ms, each at most once, spaces allowed)."""
    import bot.config

    assert bot.config.parse_duration is parse_duration
    assert rule_digest_due("90s", T) == T.replace(minute=31, second=30)
    assert rule_digest_due("250ms", T) == T.replace(microsecond=250_000)
    assert rule_digest_due("1d", T) == datetime(2024, 12, 4, tzinfo=UTC)
    assert rule_digest_due("1h 30m", T) == rule_digest_due("1h30m", T)
    for bad in ("30m1h", "1h1h", "0m", "0s0ms", "1H", "hourly UTC"):
        with pytest.raises(ValueError):
            rule_digest_due(bad, T)


def alerts(destination: str) -> list[Alert]:
    out = []
    for p in real_posts()[:4]:
        link = f"https://t.me/x/{p['message_id']}"
        item = Item("ria", link, f"link:{link}", p["text"][:60], p["text"], link)
        out.append(
            Alert(
                destination,
                item,
                (Match("wagner", ("ЧВК",), (Span("text", 0, 3, "ЧВК"),)),),
                item.story_key,
            )
        )
    return out


async def test_digest_collects_then_sends_one_message(tmp_path: Path) -> None:
    clock = Clock(T)
    store = Store.open(tmp_path / "d.db")
    schedule = DigestSchedule.parse("hourly")
    for alert in alerts("console"):
        store.enqueue_alert(alert, clock(), digest_at=schedule.next_due(clock()))
    out = io.StringIO()
    desk = Destination("console", "console", digest=schedule)
    outbox = Outbox(
        store, {"console": ConsoleAdapter(out)}.get, clock, destination_of=lambda n: desk
    )
    assert await outbox.deliver_due() == 0 and out.getvalue() == ""  # collected, not sent
    clock.now = T.replace(hour=22, minute=0)
    assert await outbox.deliver_due() == 4
    text = out.getvalue()
    assert text.count("── Dozor → console ──") == 1
    assert "Dozor digest (hourly), 2024-12-03 22:00 UTC: 4 alerts" in text
    assert "■ wagner (4)" in text and text.count("https://t.me/x/") == 4
    assert store.outbox_counts() == {"console": {"sent": 4}}


async def test_quiet_hours_hold_until_the_window_ends(tmp_path: Path) -> None:
    clock = Clock(T.replace(hour=23))
    store = Store.open(tmp_path / "d.db")
    for alert in alerts("console")[:2]:
        store.enqueue_alert(alert, clock())
    out = io.StringIO()
    desk = Destination(
        "console", "console", quiet_hours=QuietHours.parse("22:00-07:00"), quiet="hold"
    )
    outbox = Outbox(
        store, {"console": ConsoleAdapter(out)}.get, clock, destination_of=lambda n: desk
    )
    assert await outbox.deliver_due() == 0 and out.getvalue() == ""
    assert store.next_attempt_at() == datetime(2024, 12, 4, 7, 0, tzinfo=UTC)
    clock.now = datetime(2024, 12, 4, 7, 0, tzinfo=UTC)
    assert await outbox.deliver_due() == 2
    assert out.getvalue().count("Dozor alert #") == 2
    assert store.outbox_counts() == {"console": {"sent": 2}}


async def test_a_rule_file_digest_and_silent_option(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.app import App
    from bot.cli import load_rules
    from bot.config import load_config
    from tests.fakes.feed_server import FeedServer
    from tests.feeds import rss

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rule]]\nname = "syria-hourly"\nquery = "Сири*"\ndigest = "1h"\n'
        '[[rule]]\nname = "zelensky-quiet"\nquery = "Зеленск*"\nsilent = true\n',
        encoding="utf-8",
    )
    clock = Clock(T)
    async with FeedServer() as feeds:
        feeds.set("/f.rss", body=rss([]))
        (tmp_path / "config.toml").write_text(
            '[[destinations]]\nname = "console"\nkind = "console"\n'
            f'[[sources]]\nname = "ria"\nurl = "{feeds.url("/f.rss")}"\n',
            encoding="utf-8",
        )
        settings = load_config(tmp_path / "config.toml")
        rules, problems = load_rules(settings)
        assert problems == []
        out = io.StringIO()
        app = App(settings, rules, stream=out, pool=ThreadPoolExecutor(1), clock=clock, environ={})
        async with app:
            await app.run_once()
            feeds.set("/f.rss", body=rss(real_posts()))
            await app.run_once()
            assert "Dozor digest" not in out.getvalue()  # collected until the hour
            sent = app.store.sent_alerts()
            assert sent and all(a.silent for _, a in sent)
            assert all(m.rule == "zelensky-quiet" for _, a in sent for m in a.matches)
            clock.now = T.replace(hour=22, minute=0)
            await app.run_once()
    assert "Dozor digest (digest), 2024-12-03 22:00 UTC" in out.getvalue()
    assert "■ syria-hourly" in out.getvalue()


def test_a_zone_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    """ "Europe" is a folder of zones, not a zone: a ValueError (a problem listed by
    ``dozor check``), not a crash."""
    from bot.config import ConfigError, load_config
    from bot.matching import load_rule_files

    with pytest.raises(ValueError):
        rule_digest_due("daily 08:00 Europe", T)
    (tmp_path / "r.toml").write_text(
        '[[rule]]\nname = "a"\nany = ["x"]\ndigest = "daily 08:00 Europe"\n', "utf-8"
    )
    loaded = load_rule_files(["r.toml"], tmp_path)
    assert loaded.rules == () and '"digest" must be' in loaded.errors[0]
    (tmp_path / "config.toml").write_text(
        '[[destinations]]\nname = "c"\nkind = "console"\ntimezone = "Europe"\n', "utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.toml")
    assert info.value.problems[0].startswith("destinations[0].timezone: expected a time zone")
