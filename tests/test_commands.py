"""Chat commands through the whole bot (tests/chatbot.py): the real App, store,
matcher and pipeline on a temp SQLite file, the repo's rules, real posts."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import COMMANDS, alert_buttons
from bot.commands.rules import QueryError, parse_query, rule_name
from bot.platforms.console.chat import run_chat
from tests.chatbot import START, TELEGRAM, ChatBot
from tests.feeds import post, real_posts

ROOT = Path(__file__).resolve().parents[1]
DESK_CHAT = f"telegram:{ChatBot.DESK}"
OSINT_CHAT = f"telegram:{ChatBot.OSINT}"


def without(*ids: int) -> list[dict]:
    return [p for p in real_posts() if p["message_id"] not in ids]


def from_source(source: str, *exclude: int) -> list[dict]:
    """The fixture's posts of one channel (ria, bbc, breaking), minus ``exclude``."""
    channel = {"ria": -1001101170442, "bbc": -1001003921752, "breaking": -1001394050290}
    return [p for p in without(*exclude) if p["sender_id"] == channel[source]]


# -- /help, unknown commands, usage ------------------------------------------------------


async def test_help_lists_every_command_with_its_usage(testbot: ChatBot) -> None:
    for chat in (None, testbot.DESK, testbot.UNSERVED):  # /help works anywhere
        text = (await testbot.command("/help", chat=chat)).text
        for command in COMMANDS:
            assert command.usage in text and command.summary in text
    one = await testbot.command("/help mute", chat=testbot.DESK)
    assert one.text.startswith("/mute <source|rule> [for 6h|2d|until 18:00]")


async def test_help_platforms_says_what_each_configured_platform_cannot_do(
    tmp_path: Path,
) -> None:
    """An admin in Telegram learns that the email destination takes no commands."""
    mail = '[[destinations]]\nname = "mail"\nkind = "email"\nto = "desk@example.org"\n'
    bot = await ChatBot(tmp_path, telegram=TELEGRAM + mail).start()
    try:
        help_text = (await bot.command("/help", chat=bot.DESK, user=bot.ADMIN)).text
        assert "/help platforms" in help_text
        reply = await bot.command("/help platforms", chat=bot.DESK, user=bot.ADMIN)
    finally:
        await bot.stop()
    lines = reply.text.splitlines()
    assert lines[0] == "What each platform Dozor posts to cannot do:"
    assert "Email takes no commands, has no buttons and cannot change a sent mail; " in (reply.text)
    assert [line for line in lines if line.startswith("Email")] == [
        "Email takes no commands, has no buttons and cannot change a sent mail; alerts and "
        "digests arrive all the same (destinations: mail)."
    ]
    assert "Telegram can do everything Dozor offers (destinations: desk, osint; you are here)." in (
        lines
    )
    assert any(line.startswith("Console has no") for line in lines)  # the console destination
    assert not any(line.startswith(("Slack", "Discord", "Matrix")) for line in lines)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/wach Вагнер", "unknown command /wach. Did you mean /watch"),
        ("/mutes_all", "Did you mean /mutes"),
        ("/frobnicate", "unknown command /frobnicate"),
    ],
)
async def test_unknown_command_names_the_close_ones_and_help(
    testbot: ChatBot, line: str, expected: str
) -> None:
    text = (await testbot.command(line, chat=testbot.DESK)).text
    assert expected in text and "/help" in text


@pytest.mark.parametrize(
    ("line", "usage", "reason"),
    [
        ("/watch", "/watch <terms>", ""),
        ("/watch -Рихард", "/watch <terms>", "at least one term without '-'"),
        ("/watch a OR b c OR d", "/watch <terms>", "only one OR group"),
        ('/watch "груз 200', "/watch <terms>", "^ missing closing quote"),
        ("/watch OR Вагнер", "/watch <terms>", "OR goes between two terms"),
        ("/watch погиб*ли", "/watch <terms>", '"*" must end a word'),
        ("/test", "/test <terms>", ""),
        ("/unwatch", "/unwatch <rule>", ""),
        ("/mute", "/mute <source|rule>", ""),
        ("/mute bbc for soon", "/mute <source|rule>", "give a duration like 6h"),
        ("/mute bbc for 45d", "/mute <source|rule>", "at most 30d"),
        ("/mute bbc until 25:00", "/mute <source|rule>", "a UTC time like 18:00"),
        ("/unmute", "/unmute <source|rule>", ""),
        ("/addsource", "/addsource <what>", ""),
        ("/addsource https://a.example/x https://b.example/y", "/addsource <what>", ""),
        ("/removesource", "/removesource <source>", ""),
    ],
)
async def test_wrong_usage_gets_the_usage_line(
    testbot: ChatBot, line: str, usage: str, reason: str
) -> None:
    text = (await testbot.command(line, chat=testbot.DESK, user=testbot.ADMIN)).text
    assert text.startswith(f"usage: {usage}")
    assert reason in text
    assert testbot.store.chat_rules() == [] and testbot.store.active_mutes(START) == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/mute rai", "no source or rule named rai; did you mean ria?"),
        ("/mute source wagner", "no source named wagner"),
        ("/removesource rai", "no source named rai; did you mean ria?"),
        ("/unwatch wagner-casualtes-ru", "did you mean wagner-casualties-ru"),
        ("/unwatch zzzzzzzz", "no rule named zzzzzzzz; there are "),
        ("/unmute bcc", "no source or rule named bcc; did you mean bbc?"),
    ],
)
async def test_unknown_names_suggest_close_ones(testbot: ChatBot, line: str, expected: str) -> None:
    text = (await testbot.command(line, chat=testbot.DESK, user=testbot.ADMIN)).text
    assert expected in text


async def test_over_long_arguments_are_refused_with_the_reason(testbot: ChatBot) -> None:
    text = (await testbot.command("/test " + "Вагнер " * 100, chat=testbot.DESK)).text
    assert "at most 500" in text
    assert (await testbot.command("/test " + "a" * 499, chat=testbot.DESK)).text.startswith(
        "Terms:"
    )


# -- /watch, /test, /unwatch, /rules -------------------------------------------------------


async def test_watch_makes_a_rule_that_survives_a_restart_and_alerts_this_chat(
    testbot: ChatBot,
) -> None:
    stampede = post(73628)  # a football stampede in Guinea: no file rule catches it
    testbot.poll("bbc", from_source("bbc", 73628))  # first poll: the baseline
    reply = await testbot.command("/watch Гвине* давк*", chat=testbot.DESK)
    assert reply.text.startswith("Watching as watch-gvine-davk: alerts come to this chat.")
    assert "Terms: all of: Гвине*, давк*" in reply.text

    await testbot.restart()  # a new App on the same SQLite file
    rules = (await testbot.command("/rules", chat=testbot.DESK)).text
    assert "watch-gvine-davk (this chat, by @u42): all of: Гвине*, давк*" in rules

    report = testbot.poll("bbc", from_source("bbc"))
    assert report.ingest is not None and len(report.ingest.alerts) == 1
    [alert] = testbot.pending("desk")
    assert alert.alert.item.link == stampede["link"]
    assert [m.rule for m in alert.alert.matches] == ["watch-gvine-davk"]
    assert testbot.pending("osint") == [] and testbot.pending("console") == []


async def test_watch_previews_what_it_would_have_matched_in_the_last_7_days(
    testbot: ChatBot,
) -> None:
    posts = real_posts()
    testbot.seed(posts)
    # counted independently of the matcher: a word starting with "погиб"
    expected = [p for p in posts if re.search(r"(?<!\w)погиб", p["text"], re.I)]
    reply = await testbot.command("/watch погиб*", chat=testbot.DESK)
    assert f"would have matched {len(expected)} of 12 stored items, e.g.:" in reply.text
    shown = re.findall(r"https://t\.me/\S+", reply.text)
    assert len(shown) == 3 and set(shown) <= {p["link"] for p in expected}

    testbot.clock.advance(timedelta(days=8))  # the stored items are now older than 7 days
    later = await testbot.command("/watch погиб* Алтай*", chat=testbot.DESK)
    assert "would have matched 0 of 0 stored items." in later.text


@pytest.mark.parametrize(
    ("query", "name", "terms"),
    [
        ("Вагнер* погиб*", "watch-vagner-pogib", "all of: Вагнер*, погиб*"),
        ('"груз 200" Вагнер*', "watch-gruz-200-vagner", 'all of: "груз 200", Вагнер*'),
        # the rule language's lexer reads the line: an exact phrase is one term
        ('!"груз 200" Вагнер*', "watch-gruz-200-vagner", 'all of: "!груз 200", Вагнер*'),
        (
            "Wagner OR Вагнер погиб*",
            "watch-wagner-vagner-pogib",
            "all of: погиб*; any of: Wagner, Вагнер",
        ),
        ("«Дейр-эз-Зор» -Рихард", "watch-deyr-ez-zor", "all of: Дейр-эз-Зор; none of: Рихард"),
        (
            "“Christian Wagner” OR Кристиан*",
            "watch-christian-wagner",
            'any of: "Christian Wagner", Кристиан*',
        ),
    ],
)
async def test_watch_query_syntax_and_names(
    testbot: ChatBot, query: str, name: str, terms: str
) -> None:
    reply = await testbot.command(f"/watch {query}", chat=testbot.DESK)
    assert reply.text.startswith(f"Watching as {name}:")
    assert f"Terms: {terms}\n" in reply.text


async def test_watch_names_are_unique_and_a_repeat_in_the_same_chat_is_recognised(
    testbot: ChatBot,
) -> None:
    first = await testbot.command("/watch Вагнер* погиб*", chat=testbot.DESK)
    again = await testbot.command("/watch Вагнер* погиб*", chat=testbot.DESK)
    other = await testbot.command("/watch Вагнер* погиб*", chat=testbot.OSINT)
    assert first.text.startswith("Watching as watch-vagner-pogib:")
    assert again.text == "this chat already watches that, as watch-vagner-pogib"
    assert other.text.startswith("Watching as watch-vagner-pogib-2:")
    assert [c.destination for c in testbot.store.chat_rules()] == ["desk", "osint"]


async def test_watch_in_a_forum_topic_alerts_that_topic(testbot: ChatBot) -> None:
    await testbot.command("/watch Сири*", chat=testbot.DESK, thread=7)
    [rule] = testbot.store.chat_rules()
    assert rule.destination == f"telegram:{testbot.DESK}:7"
    assert testbot.ctx.destination(rule.destination).option("thread_id") == 7  # type: ignore[union-attr]


async def test_test_shows_matches_with_the_matched_words_and_creates_nothing(
    testbot: ChatBot,
) -> None:
    testbot.seed(real_posts())
    rules_before = [r.name for r in testbot.ctx.rules()]
    text = (await testbot.command("/test Дейр-эз-Зор OR Deir-ez-Zor", chat=testbot.DESK)).text
    assert "1 of 12 stored items of the last 7 days match (nothing was created" in text
    assert "- ria: Сирийская армия" in text
    assert "  matched: Дейр-эз-Зор\n" in text and "https://t.me/rian_ru/271457" in text
    casualties = (await testbot.command('/test ЧВК -"Le Monde"', chat=testbot.DESK)).text
    assert "https://t.me/bbbreaking/194289" in casualties  # ex-PMC veterans
    assert "https://t.me/bbbreaking/194658" not in casualties  # the Le Monde report
    assert testbot.store.chat_rules() == []
    assert [r.name for r in testbot.ctx.rules()] == rules_before


async def test_unwatch_removes_a_chat_rule_and_refuses_file_rules(testbot: ChatBot) -> None:
    await testbot.command("/watch погиб*", chat=testbot.DESK)
    assert "watch-pogib" in testbot.ctx.pipeline.rules

    file_rule = (await testbot.command("/unwatch wagner", chat=testbot.DESK)).text
    assert re.fullmatch(
        r"rule wagner comes from \S*rules/wagner\.toml: edit that file or /mute wagner", file_rule
    )
    elsewhere = await testbot.command("/unwatch watch-pogib", chat=testbot.OSINT)
    assert elsewhere.text.startswith("no rule named watch-pogib")  # not this chat's

    done = await testbot.command("/unwatch WATCH-POGIB", chat=testbot.DESK)
    assert done.text == "stopped watching watch-pogib (all of: погиб*)"
    assert testbot.store.chat_rules() == []
    assert "watch-pogib" not in testbot.ctx.pipeline.rules  # the pipeline has the new set
    testbot.poll("bbc", from_source("bbc", 73628))
    testbot.poll("bbc", from_source("bbc"))
    assert testbot.pending("desk") == []


async def test_an_admin_may_unwatch_another_chats_rule(testbot: ChatBot) -> None:
    await testbot.command("/watch погиб*", chat=testbot.DESK)
    done = await testbot.command("/unwatch watch-pogib", chat=testbot.OSINT, user=testbot.ADMIN)
    assert done.text.startswith("stopped watching watch-pogib")


async def test_rules_marks_this_chats_rules_and_mutes_here(testbot: ChatBot) -> None:
    await testbot.command("/watch погиб*", chat=testbot.DESK)
    await testbot.command("/watch Сири*", chat=testbot.OSINT)
    await testbot.command("/mute wagner for 2h", chat=testbot.DESK)
    text = (await testbot.command("/rules", chat=testbot.DESK)).text
    assert "Rules from files (2):" in text  # the file rules routed to the desk
    assert re.search(
        r"^- wagner \(\S+wagner\.toml\): any of: .*\[muted here until 11:00 UTC\]$", text, re.M
    )
    assert "- watch-pogib (this chat, by @u42): all of: погиб*" in text
    assert "watch-siri" not in text  # another chat's rule: tests/test_privacy.py
    other = (await testbot.command("/rules", chat=testbot.OSINT)).text
    assert "muted here" not in other


# -- /mute, /unmute, /mutes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "until", "shown"),
    [
        ("bbc", START + timedelta(hours=6), "until 15:00 UTC (for 6h)"),
        ("bbc for 2d", START + timedelta(days=2), "until 2024-12-05 09:00 UTC (for 2d)"),
        ("bbc 90m", START + timedelta(minutes=90), "until 10:30 UTC (for 1h30m)"),
        ("bbc until 18:00", START.replace(hour=18), "until 18:00 UTC (for 9h)"),
        ("bbc until 8:30", START + timedelta(hours=23, minutes=30), "until 08:30 UTC (for 23h30m)"),
        ("source bbc for 1h", START + timedelta(hours=1), "until 10:00 UTC (for 1h)"),
    ],
)
async def test_mute_durations(testbot: ChatBot, args: str, until: object, shown: str) -> None:
    reply = await testbot.command(f"/mute {args}", chat=testbot.DESK)
    assert reply.text == f"🔇 muted source bbc in this chat {shown}; /unmute bbc ends it sooner"
    [mute] = testbot.store.active_mutes(START)
    assert (mute.chat, mute.kind, mute.target, mute.until, mute.by) == (
        DESK_CHAT,
        "source",
        "bbc",
        until,
        "@u42",
    )


async def test_mute_a_rule(testbot: ChatBot) -> None:
    reply = await testbot.command("/mute Deir-Ez-Zor for 3h", chat=testbot.DESK)
    assert reply.text.startswith("🔇 muted rule deir-ez-zor in this chat until 12:00 UTC")


async def test_mute_suppresses_that_source_in_that_chat_only_and_expires(
    testbot: ChatBot,
) -> None:
    await testbot.command("/watch погиб*", chat=testbot.DESK)
    await testbot.command("/watch погиб*", chat=testbot.OSINT)
    testbot.poll("bbc", from_source("bbc", 73628, 73654))  # baseline
    await testbot.command("/mute bbc for 2d", chat=testbot.DESK)

    testbot.poll("bbc", from_source("bbc", 73654))  # the stampede post arrives
    assert testbot.pending("desk") == []  # muted here: recorded as suppressed, never sent
    [osint] = testbot.pending("osint")  # the other chat still gets it
    assert osint.alert.item.link == post(73628)["link"]

    testbot.clock.advance(timedelta(days=2, minutes=1))
    assert (await testbot.command("/mutes", chat=testbot.DESK)).text == (
        "nothing is muted in this chat"
    )
    testbot.poll("bbc", from_source("bbc"))  # the next post, after the mute ended
    [desk] = testbot.pending("desk")
    assert desk.alert.item.link == post(73654)["link"]


async def test_mute_as_a_reply_to_an_alert_mutes_its_source(testbot: ChatBot) -> None:
    await testbot.command("/watch Гвине*", chat=testbot.DESK)
    await testbot.command("/watch Гвине*", chat=testbot.OSINT)
    testbot.poll("bbc", from_source("bbc", 73628))
    testbot.poll("bbc", from_source("bbc"))
    [desk], [osint] = testbot.pending("desk"), testbot.pending("osint")
    testbot.store.mark_sent(desk.alert_id, START, remote_id="5001")  # as the outbox does
    testbot.store.mark_sent(osint.alert_id, START, remote_id="6001")

    reply = await testbot.command("/mute for 2d", chat=testbot.DESK, reply_to="5001")
    assert reply.text.startswith("🔇 muted source bbc in this chat until 2024-12-05 09:00 UTC")
    bare = await testbot.command("/mute", chat=testbot.OSINT, reply_to="6001")
    assert bare.text.startswith("🔇 muted source bbc in this chat until 15:00 UTC")
    # a message that is not this chat's alert: another chat's alert id, or any message
    for remote_id in ("6001", "777"):
        refused = await testbot.command("/mute", chat=testbot.DESK, reply_to=remote_id)
        assert refused.text.startswith("usage: /mute") and "not one of this chat's alerts" in (
            refused.text
        )
    assert {(m.chat, m.target) for m in testbot.store.active_mutes(START)} == {
        (DESK_CHAT, "bbc"),
        (OSINT_CHAT, "bbc"),
    }
    unmuted = await testbot.command("/unmute", chat=testbot.DESK, reply_to="5001")
    assert unmuted.text == "🔊 bbc is no longer muted in this chat"


async def test_unmute_and_mutes(testbot: ChatBot) -> None:
    await testbot.command("/mute wagner until 18:00", chat=testbot.DESK)
    await testbot.command("/mute ria", chat=testbot.DESK, user=7)
    await testbot.command("/mute ria", chat=testbot.OSINT)
    mutes = (await testbot.command("/mutes", chat=testbot.DESK)).text
    assert mutes == (
        "Muted in this chat (2):\n"
        "- source ria until 15:00 UTC (6h left), by @u7\n"
        "- rule wagner until 18:00 UTC (9h left), by @u42"
    )
    assert (await testbot.command("/unmute wagner", chat=testbot.DESK)).text == (
        "🔊 wagner is no longer muted in this chat"
    )
    assert (await testbot.command("/unmute wagner", chat=testbot.DESK)).text == (
        "wagner is not muted in this chat"
    )
    assert [m.target for m in testbot.store.active_mutes(START, DESK_CHAT)] == ["ria"]
    assert [m.target for m in testbot.store.active_mutes(START, OSINT_CHAT)] == ["ria"]
    status = (await testbot.command("/status", chat=testbot.DESK)).text
    assert "Muted in this chat: 1 (/mutes)" in status


# -- /sources, /status, /addsource, /removesource --------------------------------------------


async def test_sources_and_status_show_a_failing_source(testbot: ChatBot) -> None:
    await testbot.command("/watch погиб*", chat=testbot.DESK)
    testbot.poll("bbc", from_source("bbc", 73628))
    testbot.clock.advance(timedelta(hours=1))
    testbot.poll("bbc", from_source("bbc"))
    testbot.poll("ria", from_source("ria"))
    store, now = testbot.store, testbot.clock()
    store.record_error(
        "guardian",
        "HTTP 503 Service Unavailable from guardian.example",
        now - timedelta(hours=2),
        now,
    )
    store.record_error("guardian", "HTTP 503 Service Unavailable from guardian.example", now, now)
    store.disable_source("breaking", "410 Gone: the feed was removed", now)
    store.mark_destination_broken("osint", "Telegram: bot was kicked from the group chat", now)
    await testbot.command("/mute ria", chat=testbot.DESK)

    sources = (await testbot.command("/sources", chat=testbot.DESK)).text
    lines = sources.splitlines()
    assert lines[0] == "Sources (4):"
    assert lines[1].startswith("- ria (config): ok; last item ")
    assert lines[1].endswith("; 0 alerts in 24h; muted here until 16:00 UTC")
    assert lines[2].startswith("- bbc (config): ok; last item ")
    assert lines[2].endswith("; 1 alert in 24h")
    assert (
        lines[3] == "- breaking (config): DISABLED: 410 Gone: the feed was removed; 0 alerts in 24h"
    )
    assert lines[4] == (
        "- guardian (config): FAILING since 2h ago (2 failed polls in a row): "
        "HTTP 503 Service Unavailable from guardian.example; 0 alerts in 24h"
    )

    testbot.clock.advance(timedelta(minutes=5))
    status = (await testbot.command("/status", chat=testbot.OSINT)).text.splitlines()
    assert status[0] == "Dozor 0.1.0, up 1h5m"
    assert status[1] == "Sources: 2 ok, 1 failing, 1 disabled (of 4); /sources for details"
    assert status[2] == "Rules: 10 from files, 1 made in chat"
    assert status[3] == "Last poll: 5m ago"  # from the store, not this process (issue 15)
    assert status[4] == "Outbox: 1 alert waiting to be sent"
    assert status[5:] == [
        "Destinations down (1):",  # the testbot runs without a token (issue 15)
        "- osint (telegram): down: no token set (TELEGRAM_BOT_TOKEN); 0 alerts wait",
        "Broken destinations (1):",
        "- osint: Telegram: bot was kicked from the group chat",
    ]


async def test_addsource_of_a_feed_then_sources_lists_it_then_removesource(
    testbot: ChatBot,
) -> None:
    reply = await testbot.command(
        "/addsource https://meduza.io/rss/all", chat=testbot.DESK, user=testbot.ADMIN
    )
    assert reply.text.startswith(
        "added source meduza.io-rss-all (https://meduza.io/rss/all), polled every 5m."
    )
    await testbot.restart()  # chat-added sources live in the store
    added = testbot.source("meduza.io-rss-all")
    assert (added.kind, added.url, added.tags) == ("rss", "https://meduza.io/rss/all", ("chat",))
    assert testbot.store.due_sources([added], START) == [added]  # the poller will take it
    sources = (await testbot.command("/sources", chat=testbot.DESK)).text
    assert "- meduza.io-rss-all (added in chat): not polled yet; 0 alerts in 24h" in sources

    again = await testbot.command("/addsource https://meduza.io/rss/all", chat=None)
    assert again.text == "that is already a source: meduza.io-rss-all"
    second = await testbot.command("/addsource https://www.meduza.io/rss/all?lang=en", chat=None)
    assert second.text.startswith("added source meduza.io-rss-all-2 ")

    config = await testbot.command("/removesource ria", chat=None)
    assert (
        config.text == "source ria comes from config.toml: edit that file to remove it "
        "(or /mute ria here)"
    )
    removed = await testbot.command(
        "/removesource meduza.io-rss-all", chat=testbot.DESK, user=testbot.ADMIN
    )
    assert removed.text == "removed source meduza.io-rss-all; it is no longer polled"
    assert [s.name for s in testbot.ctx.sources()] == [
        "ria",
        "bbc",
        "breaking",
        "guardian",
        "meduza.io-rss-all-2",
    ]


@pytest.mark.parametrize(
    "channel", ["@rian_ru", "t.me/rian_ru", "https://t.me/s/rian_ru", "https://t.me/rian_ru/271457"]
)
async def test_addsource_of_a_telegram_channel_in_any_form_adds_the_same_source(
    testbot: ChatBot, channel: str
) -> None:
    reply = await testbot.command(f"/addsource {channel}", chat=None)
    assert reply.text.startswith("added source tg-rian_ru (https://t.me/s/rian_ru)")
    assert "public Telegram channel" in reply.text
    added = testbot.source("tg-rian_ru")
    assert (added.kind, added.url, added.trusted) == ("telegram", "https://t.me/s/rian_ru", False)
    for again in ("@rian_ru", "https://t.me/s/rian_ru"):
        repeat = await testbot.command(f"/addsource {again}", chat=None)
        assert repeat.text == "that is already a source: tg-rian_ru"
    assert len(testbot.ctx.sources()) == 5


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.org/feed.xml", "only http(s) URLs can be watched"),
        ("file:///etc/passwd", "only http(s) URLs can be watched"),
        ("http://127.0.0.1:8080/feed", "private networks"),
        ("http://[::1]/feed", "private networks"),
        ("http://192.168.1.10/rss", "private networks"),
        ("http://localhost/rss", "local networks"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://10.0.0.1/rss", "a private address"),
        ("https://user:secret@example.org/feed", "user name or password"),
    ],
)
async def test_addsource_refuses_what_chat_may_not_add(
    testbot: ChatBot, url: str, why: str
) -> None:
    reply = await testbot.command(f"/addsource {url}", chat=None)
    assert reply.text.startswith("cannot add ") and why in reply.text
    assert len(testbot.ctx.sources()) == 4


async def test_addsource_takes_a_private_address_that_allow_private_names(
    tmp_path: Path,
) -> None:
    from tests.chatbot import TELEGRAM

    bot = await ChatBot(
        tmp_path, TELEGRAM + '\n[polling]\nallow_private = ["127.0.0.1", "intranet.lan"]\n'
    ).start()
    try:
        ok = await bot.command("/addsource http://127.0.0.1:8080/feed", chat=None)
        named = await bot.command("/addsource http://intranet.lan/rss", chat=None)
        refused = await bot.command("/addsource http://127.0.0.2:8080/feed", chat=None)
    finally:
        await bot.stop()
    assert ok.text.startswith("added source"), ok.text
    assert named.text.startswith("added source"), named.text
    assert refused.text.startswith("cannot add ") and "allow_private" in refused.text


# -- permissions -------------------------------------------------------------------------------

SERVED = "this chat is not one Dozor serves; ask an admin to add its id to [telegram] chats"
ALLOWED = ""


@pytest.mark.parametrize(
    ("line", "chat", "user", "refusal"),
    [
        ("/status", ChatBot.DESK, ChatBot.MEMBER, ALLOWED),
        ("/sources", ChatBot.EXTRA, ChatBot.MEMBER, ALLOWED),  # [telegram] chats
        ("/watch Сири*", ChatBot.DESK, ChatBot.MEMBER, ALLOWED),
        ("/mute bbc", ChatBot.OSINT, ChatBot.MEMBER, ALLOWED),
        (
            "/addsource https://e.example/f",
            ChatBot.DESK,
            ChatBot.MEMBER,
            "only admins may add sources",
        ),
        ("/removesource ria", ChatBot.DESK, ChatBot.MEMBER, "only admins may remove sources"),
        ("/addsource https://e.example/f", ChatBot.DESK, ChatBot.ADMIN, ALLOWED),
        ("/status", ChatBot.UNSERVED, ChatBot.MEMBER, SERVED + " (this chat's id is -100999)"),
        ("/watch Сири*", ChatBot.UNSERVED, ChatBot.MEMBER, SERVED),
        ("/help", ChatBot.UNSERVED, ChatBot.MEMBER, ALLOWED),
        ("/status", ChatBot.UNSERVED, ChatBot.ADMIN, ALLOWED),
        ("/status", ChatBot.MEMBER, ChatBot.MEMBER, "only to its admins"),  # private chat
        ("/help", ChatBot.MEMBER, ChatBot.MEMBER, ALLOWED),
        ("/addsource https://e.example/f", ChatBot.ADMIN, ChatBot.ADMIN, ALLOWED),
        ("/mutes", ChatBot.ADMIN, ChatBot.ADMIN, ALLOWED),
    ],
)
async def test_permissions(testbot: ChatBot, line: str, chat: int, user: int, refusal: str) -> None:
    reply = await testbot.command(line, chat=chat, user=user)
    if refusal:
        assert refusal in reply.text and reply.ephemeral
    else:
        assert not re.search(r"only admins|not one Dozor serves|only to its admins", reply.text)


async def test_members_cannot_watch_when_the_config_says_so(testbot: ChatBot) -> None:
    await testbot.restart(telegram="[telegram]\nadmins = [1]\nmembers_can_watch = false\n")
    for line in ("/watch Сири*", "/unwatch watch-siri", "/mute bbc", "/unmute bbc"):
        reply = await testbot.command(line, chat=testbot.DESK)
        assert "here ([telegram] members_can_watch is false)" in reply.text
    assert (await testbot.command("/rules", chat=testbot.DESK)).text.startswith("Rules from")
    ok = await testbot.command("/watch Сири*", chat=testbot.DESK, user=testbot.ADMIN)
    assert ok.text.startswith("Watching as watch-siri")


async def test_a_chat_that_got_a_rule_with_watch_stays_served(testbot: ChatBot) -> None:
    await testbot.command("/watch Сири*", chat=testbot.EXTRA)
    await testbot.restart(telegram="[telegram]\nadmins = [1]\n")  # no longer in chats
    reply = await testbot.command("/status", chat=testbot.EXTRA)
    assert reply.text.startswith("Dozor 0.1.0")
    other = await testbot.command("/status", chat=-100555)
    assert other.text.startswith(SERVED)


# -- alert buttons -----------------------------------------------------------------------------


async def test_buttons_mute_the_source_in_that_chat_and_undo_ends_it(testbot: ChatBot) -> None:
    await testbot.command("/watch Гвине*", chat=testbot.DESK)
    testbot.poll("bbc", from_source("bbc", 73628))
    testbot.poll("bbc", from_source("bbc"))
    [message] = testbot.pending("desk")
    buttons = alert_buttons(message.alert_id, message.alert)
    assert [b.label for b in buttons] == ["Mute source 6h", "Mute rule 6h"]
    assert all(len(b.data.encode()) <= 64 for b in buttons)

    elsewhere = await testbot.press(buttons[0].data, chat=testbot.OSINT)  # not its chat
    assert elsewhere.note is None and testbot.store.active_mutes(START) == []
    unserved = await testbot.press(buttons[0].data, chat=testbot.UNSERVED)
    assert unserved.note is None and "not one Dozor serves" in unserved.notice

    muted = await testbot.press(buttons[0].data, chat=testbot.DESK)
    assert muted.note == "🔇 @u42 muted source bbc until 15:00 UTC"
    [mute] = testbot.store.active_mutes(START)
    assert (mute.chat, mute.kind, mute.target) == (DESK_CHAT, "source", "bbc")
    [undo] = muted.buttons
    assert undo.label == "Undo" and len(undo.data.encode()) <= 64

    undone = await testbot.press(undo.data, chat=testbot.DESK, user=7)
    assert undone.note == "🔊 @u7 undid the mute"
    assert undone.buttons == buttons
    assert testbot.store.active_mutes(START) == []

    rule = await testbot.press(buttons[1].data, chat=testbot.DESK)
    assert rule.note == "🔇 @u42 muted rule watch-gvine until 15:00 UTC"
    assert (await testbot.press("ms:999999", chat=testbot.DESK)).note is None
    assert (await testbot.press("garbage", chat=testbot.DESK)).note is None


async def test_an_alert_of_several_rules_gets_a_button_per_rule(testbot: ChatBot) -> None:
    testbot.poll("ria", from_source("ria", 271457))
    testbot.poll("ria", from_source("ria"))  # Deir ez-Zor: fires two file rules
    [message] = testbot.pending("console")
    rules = [m.rule for m in message.alert.matches]
    assert rules == ["deir-ez-zor", "syria-fighting-ru"]
    buttons = alert_buttons(message.alert_id, message.alert)
    assert [b.label for b in buttons] == [
        "Mute source 6h",
        "Mute rule deir-ez-zor 6h",
        "Mute rule syria-fighting-ru 6h",
    ]
    outcome = await testbot.press(buttons[2].data, chat=None)  # on the console
    assert outcome.note == "🔇 console muted rule syria-fighting-ru until 15:00 UTC"
    [mute] = testbot.store.active_mutes(START, "console")
    assert (mute.kind, mute.target) == ("rule", "syria-fighting-ru")


# -- the query language, property-based ----------------------------------------------------

WORDS = st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщыэюяabcxyz0129", min_size=1, max_size=12)


@given(st.lists(WORDS, min_size=1, max_size=8), st.lists(st.text(max_size=30), max_size=5))
def test_plain_words_are_all_required_and_names_are_typeable_and_unique(
    words: list[str], taken: list[str]
) -> None:
    query = parse_query(" ".join(words))
    assert query.all == tuple(dict.fromkeys(words)) and query.any == query.none == ()
    name = rule_name(query, taken)
    assert re.fullmatch(r"watch(-[a-z0-9]+)*", name) and len(name) <= 40
    assert name.casefold() not in {t.casefold() for t in taken}


@given(st.text(max_size=80))
def test_any_text_parses_or_says_why(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as e:
        assert str(e)
    else:  # terms to look for, or a rule-language expression (it compiled: it has one)
        assert query.all or query.any or query.expression


# -- the console adapter and `dozor chat` ----------------------------------------------------


async def test_run_chat_answers_each_line(testbot: ChatBot) -> None:
    out = io.StringIO()
    await run_chat(testbot.ctx, io.StringIO("/watch погиб*\n\nmutes\n/mute bbc 1h\n"), out)
    replies = out.getvalue().split("\n\n")
    assert replies[0].startswith("Watching as watch-pogib")
    assert replies[1] == "nothing is muted in this chat"
    assert replies[2].startswith("🔇 muted source bbc in this chat until 10:00 UTC")
    assert [c.destination for c in testbot.store.chat_rules()] == ["console"]


async def test_unknown_command_and_plain_text(testbot: ChatBot) -> None:
    """Issue 15: the exact answer to /foo; a line without "/" naming no command is none."""
    foo = await testbot.command("/foo", chat=testbot.DESK)
    assert foo.text == "unknown command /foo. /help lists every command."
    out = io.StringIO()
    await run_chat(testbot.ctx, io.StringIO("thanks, that was quick\n/foo\nhelp mute\n"), out)
    replies = out.getvalue().split("\n\n")
    assert replies[0] == 'that is not a command: commands start with "/"; /help lists them'
    assert replies[1] == "unknown command /foo. /help lists every command."
    assert replies[2].startswith("/mute <source|rule>")  # a command's name still works bare


def test_dozor_chat_reads_commands_from_stdin_until_eof(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        f'[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n'
        '[[sources]]\nname = "ria"\nurl = "https://ria.example/feed.rss"\n',
        "utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--config", "config.toml"],
        input="/help\n/watch Вагнер* погиб*\n/rules\n",
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "/watch <terms>" in done.stdout and "/removesource <source>" in done.stdout
    assert "Watching as watch-vagner-pogib" in done.stdout
    assert "- wagner (" in done.stdout
    assert "- watch-vagner-pogib (this chat, by console): all of: Вагнер*, погиб*" in done.stdout
    assert (tmp_path / "dozor.db").exists()


def sample_items(testbot: ChatBot) -> list:
    """The 60 real RIA posts of the bundled sample feed, as stored items."""
    from watchers.rss import parse_feed

    body = (
        Path(__file__).resolve().parents[1] / "samples/ria-novosti-2024-12-03.json"
    ).read_bytes()
    return list(parse_feed(body, {}, "ria", (), "https://t.me/").items)


async def test_a_rule_that_would_match_nearly_everything_needs_anyway(testbot: ChatBot) -> None:
    testbot.store.mark_seen(sample_items(testbot), testbot.clock())
    refused = await testbot.command("/watch в", chat=testbot.DESK)
    assert refused.text.startswith("not added: it would match")
    assert "--anyway" in refused.text
    assert not testbot.store.chat_rules()
    narrow = await testbot.command("/watch Сири*", chat=testbot.DESK)
    assert narrow.text.startswith("Watching as")
    forced = await testbot.command("/watch в --anyway", chat=testbot.DESK)
    assert forced.text.startswith("Watching as watch-v")
    assert [c.query for c in testbot.store.chat_rules()] == ["Сири*", "в"]


async def test_a_command_flood_is_limited_and_told_once(testbot: ChatBot) -> None:
    replies = [await testbot.command(f"/watch Вагнер{n}", chat=testbot.DESK) for n in range(40)]
    told = [r.text for r in replies if r.text.startswith("slow down")]
    assert len(told) == 1 and "at most 20 commands a minute" in told[0]
    assert sum(1 for r in replies if r.text == "") == 19  # silence after being told
    assert len(testbot.store.chat_rules()) == 20
    testbot.clock.advance(timedelta(minutes=1, seconds=1))
    again = await testbot.command("/watch Вагнер-final", chat=testbot.DESK)
    assert again.text.startswith("Watching as")


async def test_watch_takes_the_rule_language_and_points_at_mistakes(testbot: ChatBot) -> None:
    testbot.seed(real_posts())
    reply = await testbot.command("/watch (Вагнер OR ЧВК) NEAR/8 погиб*", chat=testbot.DESK)
    assert reply.text.startswith("Watching as watch-vagner-chvk")
    assert "Terms: query: (Вагнер OR ЧВК) NEAR/8 погиб*" in reply.text
    await testbot.restart()  # the query survives, as a query
    (stored,) = testbot.store.chat_rules()
    assert stored.rule.query == "(Вагнер OR ЧВК) NEAR/8 погиб*"
    bad = await testbot.command("/watch (Вагнер OR ЧВК", chat=testbot.DESK)
    assert bad.text.startswith("usage: /watch <terms>")
    assert "^" in bad.text  # a caret under the problem
    found = await testbot.command('/test title:Дейр* OR "Дейр-эз-Зор"', chat=testbot.DESK)
    assert "https://t.me/rian_ru/271457" in found.text


async def test_watch_and_test_take_rule_options(testbot: ChatBot) -> None:
    """--translit, --derived, --english, --exact: the rule-file options, from chat; they
    stay with the rule after a restart."""
    testbot.seed(real_posts())
    # 194289: "... сообщила Цивилева" (Cyrillic); the query is in Latin letters
    plain = await testbot.command("/test Tsivileva", chat=testbot.DESK)
    assert "0 of 12 stored items" in plain.text
    translit = await testbot.command("/test Tsivileva --translit", chat=testbot.DESK)
    assert "1 of 12 stored items" in translit.text and "options: translit" in translit.text
    assert "matched: Цивилева" in translit.text

    reply = await testbot.command("/watch Tsivileva --translit --derived", chat=testbot.DESK)
    assert "Terms: all of: Tsivileva; options: translit, derived" in reply.text
    assert "would have matched 1 of 12" in reply.text
    await testbot.restart()
    (rule,) = [r for r in testbot.ctx.rules() if r.origin == "chat"]
    assert (rule.translit, rule.derived, rule.english_forms, rule.inflect) == (
        True,
        True,
        False,
        True,
    )
    wrong = await testbot.command("/watch Вагнер --fuzy", chat=testbot.DESK)
    known = "--translit, --derived, --english, --exact, --fuzzy, --ru, --uk"
    assert f"unknown option --fuzy (known: {known})" in wrong.text


async def test_rules_made_of_queries_are_shown_and_kept_apart(testbot: ChatBot) -> None:
    """Rules in the rule language show their query (in /rules, /watch, /unwatch), and
    two different queries in one chat are two rules, not "already watched"."""
    first = await testbot.command("/watch (Вагнер OR ЧВК) NEAR/8 погиб*", chat=testbot.DESK)
    second = await testbot.command("/watch title:Сирия", chat=testbot.DESK)
    again = await testbot.command("/watch title:Сирия --translit", chat=testbot.DESK)
    same = await testbot.command("/watch title:Сирия", chat=testbot.DESK)
    assert first.text.startswith("Watching as ") and second.text.startswith("Watching as ")
    assert "Terms: query: title:Сирия" in second.text
    assert again.text.startswith("Watching as ")  # another option: another rule
    assert same.text.startswith("this chat already watches that, as ")
    listing = (await testbot.command("/rules", chat=testbot.DESK)).text
    assert "query: (Вагнер OR ЧВК) NEAR/8 погиб*" in listing
    # a file rule written as a query shows it too
    routes = testbot.ctx.pipeline.rule_routes  # a file rule that alerts the desk
    syria = next(r for r in testbot.ctx.file_rules if r.query and "desk" in routes.get(r.name, ()))
    assert f"- {syria.name} (" in listing and "query: " in listing.split(f"- {syria.name} (")[1]
    name = first.text.split()[2].rstrip(":")
    gone = await testbot.command(f"/unwatch {name}", chat=testbot.DESK)
    assert gone.text == f"stopped watching {name} (query: (Вагнер OR ЧВК) NEAR/8 погиб*)"


async def test_the_console_alert_quotes_the_posts_words_grouped_by_term(testbot: ChatBot) -> None:
    """The console adapter's "Rule:" line: per term of the rule, the post's own words
    (a Latin rule with --translit on a Russian post: Дейр-эз-Зоре, not "Deir ez-Zor")."""
    from bot.platforms.console.adapter import ConsoleAdapter
    from tests.test_telegram_e2e import DEIR_RU

    ria = [p for p in from_source("ria") if p["message_id"] != 271457]
    testbot.poll("ria", ria)  # the baseline
    await testbot.command('/watch "Deir ez-Zor" погиб* --translit', chat=testbot.DESK)
    testbot.poll("ria", [*ria, {**post(271457), "text": DEIR_RU + " Погибших похоронят."}])
    [alert] = testbot.pending("desk")
    shown = ConsoleAdapter(io.StringIO(), color=False).format(alert)
    rule_line = next(line for line in shown.splitlines() if line.startswith("Rule:"))
    assert rule_line == (
        "Rule:    deir-ez-zor (Дейр-эз-Зоре); "
        "watch-deir-ez-zor-pogib (Дейр-эз-Зоре, погибли/Погибших)"
    )
