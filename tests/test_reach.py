"""Issue 15: a destination that cannot be used says why, in the log, `dozor status` and
/status: no token set, or cannot connect (the real clients against the fake servers).
A platform that could not connect is tried again while the bot runs, and heals."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import socket
import time
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules, status_command
from bot.config import load_config
from bot.platforms.console.chat import run_chat
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[1]
RIA = ROOT / "samples" / "ria-novosti-2024-12-03.json"
RIGHT, WRONG = "123456:RIGHT-token-abc", "123456:WRONG-token-xyz"
CHAT = -1001234567890


def config(tmp_path: Path, telegram_url: str, slack_url: str = "") -> Path:
    slack = (
        f'[slack]\napi_base_url = "{slack_url}"\n'
        '[[destinations]]\nname = "sl"\nkind = "slack"\nchannel = "C0DESK"\n'
        if slack_url
        else ""
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "dozor.db"\n[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
        f'[telegram]\napi_base_url = "{telegram_url}"\n'
        f'[[sources]]\nname = "ria"\nurl = "file:{RIA}"\nbackfill = 100\n'
        '[[destinations]]\nname = "desk"\nkind = "telegram"\nchat_id = -1001234567890\n'
        f"{slack}",
        "utf-8",
    )
    return path


async def run_once(path: Path, **environ: str) -> str:
    """`dozor run --once` with these variables, then `dozor status` and chat /status."""
    settings = load_config(path)
    rules, _ = load_rules(settings)
    chat = io.StringIO()
    async with App(settings, rules, stream=io.StringIO(), environ=environ) as app:
        await app.run_once()
        await run_chat(app.context, io.StringIO("/status\n"), chat, path.parent)
    out = io.StringIO()
    assert status_command(settings, out) == 0
    return out.getvalue() + chat.getvalue()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_rejected_token_shows_as_down_with_the_reason_and_a_good_one_as_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeTelegram(token=RIGHT) as tg:
        path = config(tmp_path, tg.api_root)
        shown = await run_once(path)
        assert "desk (telegram): down: no token set (TELEGRAM_BOT_TOKEN); " in shown

        shown = await run_once(path, TELEGRAM_BOT_TOKEN=WRONG)
        line = next(x for x in shown.splitlines() if x.startswith("  desk (telegram)"))
        assert re.fullmatch(
            r"  desk \(telegram\): down since \d\d:\d\d: cannot connect: "
            r"401 Unauthorized: the token was rejected; \d+ alerts wait",
            line,
        ), line
        waiting = int(line.rsplit("; ", 1)[1].split()[0])
        assert waiting > 0
        assert "Destinations down (1):\n- desk (telegram): down since" in shown  # /status
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("dozor")]
        errors = [m for m in ours if m.startswith("Telegram: cannot connect")]
        assert errors == [
            "Telegram: cannot connect: 401 Unauthorized: the token was rejected; alerts for "
            "it wait in the outbox (dozor status shows it)"
        ]
        assert WRONG not in shown and not any(WRONG in m for m in ours)
        assert len([r for r in tg.requests if r.method == "sendMessage"]) == 0

        shown = await run_once(path, TELEGRAM_BOT_TOKEN=RIGHT)  # fixed, restarted
        assert "  desk (telegram): up; 0 alerts wait" in shown
        assert "Destinations down" not in shown
        assert len([r for r in tg.requests if r.method == "sendMessage"]) == waiting


async def test_slack_rejected_and_telegram_refused_say_why(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        path = config(tmp_path, f"http://127.0.0.1:{closed_port()}", slack.api_url)
        env = {"TELEGRAM_BOT_TOKEN": RIGHT, "SLACK_APP_TOKEN": slack.app_token}
        shown = await run_once(path, SLACK_BOT_TOKEN="xoxb-wrong-token-1", **env)
        assert "desk (telegram): down since" in shown
        assert ": cannot connect: connection refused; " in shown
        assert "sl (slack): down since" in shown
        assert ": cannot connect: invalid_auth: the token was rejected; " in shown
        assert "xoxb-wrong-token-1" not in shown

        shown = await run_once(path, SLACK_BOT_TOKEN=slack.bot_token, **env)
        assert "  sl (slack): up; 0 alerts wait" in shown


async def test_help_says_status_shows_the_destinations_down(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = load_config(config(tmp_path, "http://127.0.0.1:9"))
    async with App(settings, [], stream=io.StringIO(), environ={}) as app:
        await run_chat(app.context, io.StringIO("/help status\n"), out, tmp_path)
    assert "destinations down (and why)" in out.getvalue()


async def test_a_platform_that_could_not_connect_is_tried_again_and_its_alerts_go_out_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A token rotation: the API rejects the bot's token (401) at start, alerts wait;
    once it takes the token the running bot connects, says up, and sends them, in order,
    once, without a restart; the failed tries do not flood the log."""
    caplog.set_level(logging.INFO)
    async with FakeTelegram(token=WRONG) as tg:  # not (yet) the token the bot has
        path = config(tmp_path, tg.api_root)
        settings = load_config(path)
        rules, _ = load_rules(settings)
        stop = asyncio.Event()
        environ = {"TELEGRAM_BOT_TOKEN": RIGHT}
        async with App(
            settings, rules, stream=io.StringIO(), environ=environ, reconnect_after=0.2
        ) as app:
            runner = asyncio.create_task(app.run_forever(stop))

            def waiting() -> int:
                return app.store.outbox_counts().get("desk", {}).get("pending", 0)

            def state() -> str | None:
                return app.store.platform_states().get("telegram", ("not yet",))[0]

            await until(
                lambda: waiting() > 0 and len(tg.calls("getMe")) >= 3,
                60,
                "alerts waiting while getMe is refused and tried again",
            )
            assert state() == "cannot connect: 401 Unauthorized: the token was rejected"
            assert not tg.calls("sendMessage")
            alerts = waiting()

            tg.token = RIGHT  # the API takes the token now
            await until(lambda: state() is None, 60, "Telegram recorded up")
            await until(lambda: len(tg.messages(CHAT)) >= alerts, 60, "the waiting alerts")
            await until(lambda: waiting() == 0, 60, "the outbox drained")
            stop.set()
            await asyncio.wait_for(runner, 30)
            sent = [
                app.store.alert_by_remote_id(["desk"], str(m.message_id)) for m in tg.messages(CHAT)
            ]
        assert len(sent) == alerts  # each once
        ids = [s.id for s in sent if s is not None]
        assert len(ids) == alerts and ids == sorted(set(ids))  # in order
    out = io.StringIO()
    assert status_command(settings, out) == 0
    assert "  desk (telegram): up; 0 alerts wait" in out.getvalue()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("dozor")]
    said = [m for m in ours if m.startswith("Telegram: ") and "cannot connect" in m]
    assert len(said) == 1, said  # the tries do not flood the log
    assert "Telegram: connected again; the alerts waiting for it go out" in ours
    assert not any(RIGHT in m for m in ours)


async def test_stop_while_a_platform_is_tried_again_returns_at_once(tmp_path: Path) -> None:
    """The API accepts connections and never answers: the bot keeps trying; stop (as
    on SIGTERM) in the middle of a try ends it at once and leaves no task behind."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = load_config(config(tmp_path, f"http://127.0.0.1:{port}"))
        stop = asyncio.Event()
        environ = {"TELEGRAM_BOT_TOKEN": RIGHT}
        async with App(
            settings, [], stream=io.StringIO(), environ=environ, reconnect_after=0.2
        ) as app:
            runner = asyncio.create_task(app.run_forever(stop))
            await until(lambda: len(held) >= 2, 60, "a second try (the first timed out)")
            started = time.monotonic()
            stop.set()
            await asyncio.wait_for(runner, 30)
        took = time.monotonic() - started
        left = [t for t in asyncio.all_tasks() if t.get_name().startswith("reconnect")]
        assert left == []
        assert took < 5, f"stopping took {took:.1f}s"
    finally:
        for writer in held:
            writer.close()
        server.close()
