"""Hostile rules, commands, button data, request headers and post text (issue 12): each
gets a short answer or a located error, never an exception, and the bot keeps running.

- rule queries nested beyond ``MAX_DEPTH`` (rule files, ``dozor check``/``run``, /watch);
- forged numbers in button data and command arguments (Telegram and Slack presses);
- a Slack HTTP request whose timestamp is not a number;
- bidi controls in a post (Telegram and Slack alerts);
- /addsource of private addresses in odd spellings, and the poll-time guard.
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.matching import Matcher, load_rule_files, rule_from_query
from bot.matching.query import MAX_DEPTH, NestingError, parse_query
from bot.model import Item
from bot.render import digest_text
from tests import e2e
from tests import test_slack_e2e as slack_e2e
from tests import test_telegram_e2e as telegram_e2e
from tests.chatbot import TELEGRAM, ChatBot
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack, sign
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post
from watchers.http import AddressGuard, FetchError, HttpClient

ROOT = Path(__file__).resolve().parents[1]
RIA_SAMPLE = ROOT / "samples" / "ria-novosti-2024-12-03.json"


def nested(depth: int, inner: str = "Дейр-эз-Зор") -> str:
    return "(" * depth + inner + ")" * depth


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text[:2000]


# -- 1. nesting: bounded in the parser and in every walk of the tree ------------------------


@pytest.mark.parametrize(
    "query",
    [
        nested(300),
        nested(MAX_DEPTH + 1),
        "NOT " * 100 + "a b",
        "-" * 60 + "a b",
        " NEAR ".join(["a"] * 400),  # the parser loops, the tree nests: Near(Near(...))
        "title:" * 100 + "a",
        "((((" * 10 + "a" + " NEAR b)" * 40,  # ((a NEAR b) NEAR b)...: the tree is 40 deep
    ],
)
def test_a_query_nested_too_deeply_is_one_located_error(query: str) -> None:
    with pytest.raises(NestingError) as caught:
        parse_query(query)
    message = str(caught.value)
    assert "nested too deeply" in message and f"at most {MAX_DEPTH}" in message
    assert "\n" not in caught.value.pointer()  # one line, even for a 5,000-character query


def test_queries_at_the_bound_parse_compile_and_match() -> None:
    item = Item(
        source="ria",
        key="guid:1",
        story_key="hash:1",
        title="Бои в провинции Дейр-эз-Зор",
        text="Сирийская армия отразила атаки",
    )
    for query in (
        nested(MAX_DEPTH),
        " NEAR ".join(["Дейр-эз-Зор"] * MAX_DEPTH),
        "NOT " * (MAX_DEPTH - 3) + "опера Дейр-эз-Зор",  # an odd count: NOT опера
    ):
        rule = rule_from_query("deep", query)
        assert [m.rule for m in Matcher([rule]).match(item)] == ["deep"], query


def test_a_deep_rule_skips_its_file_and_the_other_files_load(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('[[rule]]\nname = "good"\nany = ["Wagner"]\n', "utf-8")
    (tmp_path / "bad.toml").write_text(
        '[[rule]]\nname = "fine"\nany = ["x"]\n\n'
        f'[[rule]]\nname = "deep"\nquery = "{nested(300)}"\n',
        "utf-8",
    )
    (tmp_path / "toml.toml").write_text(
        '[[rule]]\nname = "lists"\nany = ' + "[" * 2000 + "]" * 2000 + "\n", "utf-8"
    )
    loaded = load_rule_files(["*.toml"], tmp_path)
    assert [r.name for r in loaded.rules] == ["good"]
    deep, toml = sorted(loaded.errors)
    assert deep.startswith('bad.toml:7: rule "deep": "query": nested too deeply: at most 32 ')
    assert toml == "toml.toml: TOML nested too deeply (arrays or tables one inside another)"


def dozor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dozor_check_and_run_report_a_deep_rule_in_one_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.toml").write_text('[[rule]]\nname = "good"\nany = ["Дейр-эз-Зор"]\n', "utf-8")
    (rules / "bad.toml").write_text(f'[[rule]]\nname = "deep"\nquery = "{nested(300)}"\n', "utf-8")
    (tmp_path / "config.toml").write_text(
        '[rules]\npaths = ["rules/*.toml"]\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n'
        f'[[sources]]\nname = "ria"\nurl = "file:{RIA_SAMPLE}"\nbackfill = 100\n',
        "utf-8",
    )
    located = 'rules/bad.toml:3: rule "deep": "query": nested too deeply'
    check = dozor("check", "--config", "config.toml", cwd=tmp_path)
    assert check.returncode == 1
    assert len(check.stderr.splitlines()) == 2, check.stderr[-3000:]  # header + the problem
    assert located in check.stderr
    run = dozor("run", "--config", "config.toml", "--once", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) < 20
    assert located in run.stderr
    assert "Rule:    good (Дейр-эз-Зор)" in run.stdout  # the good file's rule runs


async def test_watch_with_200_nested_parentheses_answers_in_one_line(
    testbot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    query = nested(200, "a")
    assert len(query) == 401
    caplog.set_level(logging.DEBUG)
    for command in ("/watch", "/test"):
        reply = await testbot.command(f"{command} {query}", chat=testbot.DESK)
        usage, reason = reply.text.split("\n")
        assert usage == f"usage: {command} <terms>"
        assert reason.startswith("nested too deeply: at most 32 levels") and len(reason) < 200
    assert testbot.store.chat_rules() == []
    no_traceback(caplog)


# -- 2. forged numbers in button data and command arguments ---------------------------------

FORGED = [
    "ms:99999999999999999999",
    "mr:1:99999999999999999999",
    "un:99999999999999999999:1",
    "un:1:99999999999999999999",
    "nm:99999999999999999999:6",
    "nm:1:99999999999999999999",
    "ms:²",  # a digit to str.isdigit, not to int()
    "ms:١",  # an Arabic-Indic one
    "ms:",
    "ms:1:2:3",
    "zz:1",
]
NOT_OURS = "this is not a button Dozor made (its data is not valid)"


@pytest.mark.parametrize("data", FORGED)
async def test_forged_button_data_is_answered(
    testbot: ChatBot, data: str, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = await testbot.press(data, chat=testbot.DESK)
    assert outcome.notice == NOT_OURS and outcome.note is None
    assert testbot.store.active_mutes(testbot.clock(), "telegram:-100123") == []
    no_traceback(caplog)


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/mute ria 99999999999d", "a mute lasts at most 30d"),
        ("/mute ria for 99999999999999999999h", "a mute lasts at most 30d"),
        ("/mute ria for " + "9" * 400 + "m", "a mute lasts at most 30d"),
        ("/mute ria for 1000000000d", "a mute lasts at most 30d"),
    ],
)
async def test_huge_numbers_in_commands_get_a_clear_answer(
    testbot: ChatBot, line: str, answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    reply = await testbot.command(line, chat=testbot.DESK)
    assert answer in reply.text and "bug" not in reply.text
    assert testbot.store.active_mutes(testbot.clock(), "telegram:-100123") == []
    no_traceback(caplog)


def test_a_config_duration_past_any_timedelta_is_a_named_error(tmp_path: Path) -> None:
    from bot.config import ConfigError, load_config

    (tmp_path / "config.toml").write_text(
        '[polling]\ninterval = "99999999999d"\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        "utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.toml")
    assert caught.value.problems == [
        'polling.interval: expected a duration like "5m", got "99999999999d"'
    ]


@pytest.fixture
async def tg_servers() -> AsyncIterator[tuple[FakeTelegram, FeedServer]]:
    async with FakeTelegram(token=telegram_e2e.TOKEN) as tg, FeedServer() as feeds:
        yield tg, feeds


@pytest.fixture
async def slack_servers() -> AsyncIterator[tuple[FakeSlack, FeedServer]]:
    async with (
        FakeSlack(bot_token=slack_e2e.BOT_TOKEN, app_token=slack_e2e.APP_TOKEN) as slack,
        FeedServer() as feeds,
    ):
        yield slack, feeds


async def test_forged_presses_through_telegram_are_answered(
    tmp_path: Path,
    tg_servers: tuple[FakeTelegram, FeedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg, feeds = tg_servers
    desk = telegram_e2e.DESK
    async with telegram_e2e.app_for(telegram_e2e.write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=True)
        await telegram_e2e.first_poll_then(app, feeds, post(271457))
        await app.outbox.deliver_due()
        (alert,) = tg.messages(desk)
        for n, data in enumerate(FORGED, 1):
            tg.push_callback(desk, alert.message_id, data, user_id=7, username="eve")
            await tg.wait_for("answerCallbackQuery", n, timeout=10)
        answers = [c.params.get("text") for c in tg.calls("answerCallbackQuery")]
        assert answers == [NOT_OURS] * len(FORGED)
        assert tg.messages(desk)[0].edits == []  # nothing muted, nothing redrawn
        assert app.store.active_mutes(app.clock(), f"telegram:{desk}") == []
    no_traceback(caplog)
    assert "handling an update failed" not in caplog.text


async def test_forged_presses_through_slack_are_answered(
    tmp_path: Path,
    slack_servers: tuple[FakeSlack, FeedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack, feeds = slack_servers
    desk = slack_e2e.DESK
    async with slack_e2e.app_for(slack_e2e.write_config(tmp_path, slack, feeds)) as app:
        await app.connect(listen=True)
        await slack_e2e.first_poll_then(app, feeds, post(271457))
        await app.outbox.deliver_due()
        (alert,) = slack.messages(desk)
        forged = [d for d in FORGED if not d.startswith("zz:")]  # others never reach us
        for n, data in enumerate(forged, 1):
            envelope = await slack.push_block_action(
                data, data, user_id="U0EVE", channel_id=desk, message_ts=alert.ts
            )
            await slack.wait_ack(envelope, timeout=10)
            await slack.wait_for("response_url", n, timeout=10)
        answers = [e.text for e in slack.ephemeral(desk)]
        assert answers == [NOT_OURS] * len(forged)
        assert slack.messages(desk)[0].edits == []
    no_traceback(caplog)
    assert "handling a" not in caplog.text


# -- 3. Slack HTTP mode: a timestamp that is not a number -----------------------------------


async def test_slack_http_refuses_a_timestamp_that_is_not_a_number(
    tmp_path: Path,
    slack_servers: tuple[FakeSlack, FeedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack, feeds = slack_servers
    port = slack_e2e.free_port()
    extra = f'mode = "http"\nhttp_listen = "127.0.0.1:{port}"'
    path = slack_e2e.write_config(tmp_path, slack, feeds, extra)
    env = {"SLACK_BOT_TOKEN": slack_e2e.BOT_TOKEN, "SLACK_SIGNING_SECRET": slack_e2e.SECRET}
    form = "application/x-www-form-urlencoded"
    url = f"http://127.0.0.1:{port}/slack/events"
    body = urlencode(slack.slash_command_payload(text="help", user_id="U1", channel_id="CDESK01"))
    async with slack_e2e.app_for(path, **env) as app, aiohttp.ClientSession() as http:
        await app.connect(listen=True)
        statuses = []
        for stamp in ("abc", "1e9", "", " ", "12.5", "-1", "9" * 5000, "١٧٠٠٠٠٠٠٠٠"):
            headers = sign(body, slack_e2e.SECRET, stamp, content_type=form)
            async with http.post(url, data=body.encode(), headers=headers) as response:
                statuses.append(response.status)
        assert statuses == [401] * len(statuses)
        fresh = sign(body, slack_e2e.SECRET, int(time.time()), content_type=form)
        async with http.post(url, data=body.encode(), headers=fresh) as response:
            assert response.status == 200  # a signed request still gets through
    assert slack.responses or await slack.wait_for("response_url")
    no_traceback(caplog)


# -- 4. bidi controls cannot reorder an alert ----------------------------------------------

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
BIDI_CONTROLS = re.compile(f"[{BIDI}]")


def bidi_post() -> dict:
    """The Deir ez-Zor post with every bidi control in its first line (the RSS title) and
    a right-to-left override before the place name in the text."""
    hostile = dict(post(271457))
    hostile["text"] = (
        "\u202eСирийская\u202c армия " + BIDI + "при поддержке союзных сил отразила атаки "
        "курдских формирований в провинции \u2067Дейр-эз-Зор\u2069, сообщило "
        "\u202dсирийское\u200f госагентство\u061c CAHA"
    )
    return hostile


WORDS = ("Сирийская", "армия", "при поддержке", "Дейр-эз-Зор", "госагентство", "CAHA")


async def test_telegram_alerts_carry_no_bidi_controls(
    tmp_path: Path, tg_servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, feeds = tg_servers
    async with telegram_e2e.app_for(telegram_e2e.write_config(tmp_path, tg, feeds)) as app:
        await app.connect(listen=False)
        await telegram_e2e.first_poll_then(app, feeds, bidi_post())
        assert await app.outbox.deliver_due() == 2
    (msg,) = tg.messages(telegram_e2e.DESK)
    assert not BIDI_CONTROLS.search(msg.text), ascii(msg.text)
    assert all(word in msg.text for word in WORDS), msg.text
    assert "<b>Дейр-эз-Зор</b>" in msg.text  # still marked where it matched


async def test_slack_alerts_carry_no_bidi_controls(
    tmp_path: Path, slack_servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = slack_servers
    async with slack_e2e.app_for(slack_e2e.write_config(tmp_path, slack, feeds)) as app:
        await app.connect(listen=False)
        await slack_e2e.first_poll_then(app, feeds, bidi_post())
        assert await app.outbox.deliver_due() == 2
    (msg,) = slack.messages(slack_e2e.DESK)
    shown = slack_e2e.texts(msg)
    assert not BIDI_CONTROLS.search(f"{shown}\n{msg.text}"), ascii(shown)
    assert all(word in shown for word in WORDS), shown
    assert "*Дейр-эз-Зор*" in shown
    assert "Сирийская" in (msg.text or "")  # the notification text too


async def test_console_alerts_and_digests_carry_no_bidi_controls(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from bot.model import OutgoingMessage
    from bot.platforms.console.adapter import ConsoleAdapter

    (tmp_path / "config.toml").write_text(
        f'[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n'
        f'[[sources]]\nname = "ria"\nurl = "{feed_server.url("/ria.rss")}"\n',
        "utf-8",
    )
    from bot.app import App
    from bot.cli import load_rules
    from bot.config import load_config

    settings = load_config(tmp_path / "config.toml")
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=e2e.POOL, environ={}) as app:
        await telegram_e2e.first_poll_then(app, feed_server, bidi_post())
        await app.outbox.deliver_due()
        (alert,) = [a for _, a in app.store.sent_alerts("console")]
    printed = out.getvalue()
    assert "**Дейр-эз-Зор**" in printed and not BIDI_CONTROLS.search(printed)
    again = ConsoleAdapter(io.StringIO()).format(OutgoingMessage(1, "console", alert))
    digest = digest_text([alert], "hourly", alert.item.published)  # type: ignore[arg-type]
    assert not BIDI_CONTROLS.search(again + digest) and "Сирийская" in digest


# -- 5. /addsource: private addresses in any spelling, refused at once and at poll time -----

REFUSED = [
    ("2130706433", "2130706433, that is 127.0.0.1, is a loopback address"),
    ("http://2130706433/feed", "2130706433, that is 127.0.0.1, is a loopback address"),
    ("0x7f000001", "0x7f000001, that is 127.0.0.1, is a loopback address"),
    ("http://0x7F.1/rss", "0x7f.1, that is 127.0.0.1, is a loopback address"),
    ("127.1", "127.1, that is 127.0.0.1, is a loopback address"),
    ("0177.0.0.1", "0177.0.0.1, that is 127.0.0.1, is a loopback address"),
    ("http://0/feed", "0, that is 0.0.0.0, is an unspecified address"),
    ("http://10.1/feed", "10.1, that is 10.0.0.1, is a private address"),
    ("http://0xa9.254.169.254/", "that is 169.254.169.254, is a link-local address"),
    ("１２７.０.０.１", "that is 127.0.0.1, is a loopback address"),
    ("http://１２７。０。０。１/feed", "that is 127.0.0.1, is a loopback address"),
    ("https://ｌｏｃａｌｈｏｓｔ/feed", "addresses on local networks"),
    ("file:/etc/passwd", "only http(s) URLs can be watched, not file:"),
    ("FILE:/etc/passwd", "only http(s) URLs can be watched, not file:"),
    ("file:///etc/passwd", "only http(s) URLs can be watched, not file:"),
    ("javascript:alert(1)", "only http(s) URLs can be watched, not javascript:"),
    ("gopher://example.org/", "only http(s) URLs can be watched, not gopher:"),
    ("data:text/xml,<rss/>", "only http(s) URLs can be watched, not data:"),
    ("http://[2002:7f00:1::]/feed", "a 6to4 address for 127.0.0.1, a loopback address"),
    ("http://[2002:a9fe:a9fe::1]/", "a 6to4 address for 169.254.169.254, a link-local"),
    ("http://[2002:c0a8:101::]/", "a 6to4 address for 192.168.1.1, a private address"),
    (
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "a Teredo address for 127.0.0.1, a loopback address",
    ),
    ("http://[64:ff9b::7f00:1]/feed", "a NAT64 address for 127.0.0.1, a loopback address"),
    ("http://[64:ff9b::a00:1]/feed", "a NAT64 address for 10.0.0.1, a private address"),
    ("http://[::ffff:7f00:1]/feed", "is a loopback address"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
async def test_addsource_refuses_private_addresses_in_any_spelling(
    testbot: ChatBot, text: str, reason: str
) -> None:
    before = [s.name for s in testbot.ctx.sources()]
    reply = await testbot.command(f"/addsource {text}", chat=None)
    assert reply.text.startswith("cannot add ") and reason in reply.text, reply.text
    assert [s.name for s in testbot.ctx.sources()] == before
    assert testbot.store.chat_sources(timedelta(minutes=5)) == []


@pytest.mark.parametrize(
    "text", ["http://8.8.8.8/feed", "http://[2002:808:808::]/feed", "example.org:8080/feed"]
)
async def test_addsource_still_takes_public_addresses(testbot: ChatBot, text: str) -> None:
    reply = await testbot.command(f"/addsource {text}", chat=None)
    assert reply.text.startswith("added source"), reply.text


async def test_allow_private_covers_every_spelling_of_what_it_names(tmp_path: Path) -> None:
    allow = '\n[polling]\nallow_private = ["127.0.0.1", "10.0.0.0/8"]\n'
    bot = await ChatBot(tmp_path, TELEGRAM + allow).start()
    try:
        replies = [
            (await bot.command(f"/addsource {text}", chat=None)).text
            for text in (
                "http://2130706433/a",
                "http://127.1/b",
                "http://[2002:7f00:1::]/c",
                "http://[64:ff9b::a00:1]/d",
                "http://127.0.0.2/e",
                "http://[2002:7f00:2::]/f",
            )
        ]
    finally:
        await bot.stop()
    assert [r.split(" ", 2)[:2] for r in replies[:4]] == [["added", "source"]] * 4, replies
    assert all(r.startswith("cannot add ") for r in replies[4:]), replies


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request that gets past the guard fails the test instead of connecting."""

    async def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the guard let a request through: {args[1:2]}")

    monkeypatch.setattr(HttpClient, "_request", refuse)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[2002:7f00:1::]/feed", "a 6to4 address for 127.0.0.1, a loopback address"),
        ("http://[2002:a00:1::]:8080/", "a 6to4 address for 10.0.0.1, a private address"),
        ("http://[2002:a9fe:a9fe::]/", "a 6to4 address for 169.254.169.254, a link-local"),
        (
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "a Teredo address for 127.0.0.1, a loopback address",
        ),
        ("http://[64:ff9b::7f00:1]/", "a NAT64 address for 127.0.0.1, a loopback address"),
    ],
)
async def test_the_poll_time_guard_refuses_ipv6_forms_of_private_ipv4(
    no_network: None, url: str, reason: str
) -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError) as caught:
            await http.get(url, trusted=False)
    assert str(caught.value).startswith(f"refusing to fetch {url}: {reason}")


async def test_a_name_resolving_to_a_6to4_loopback_is_refused_at_poll_time(
    no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def resolve(host: str, port: object, *args: object, **kwargs: object) -> list:
        assert host == "sixtofour.example"  # no real DNS query
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2002:7f00:1::", 80, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    async with HttpClient() as http:
        with pytest.raises(FetchError, match=r"resolves to 2002:7f00:1::, a 6to4 address for"):
            await http.get("http://sixtofour.example/feed", trusted=False)
    assert AddressGuard(["127.0.0.0/8"]).problem("2002:7f00:1::") is None
