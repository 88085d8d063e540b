"""Stopping ``dozor run``, proven on the real process: SIGTERM or SIGINT ends it within
5 s even while a feed hangs and Telegram's long poll waits (what was committed stays,
what was not is polled again at the next start); Ctrl-C at its terminal (SIGINT to the
whole process group, parse workers included) prints one line, no tracebacks; and when
the bot is SIGKILLed its parse workers do not outlive it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.botprocess import alive, parse_workers, start_bot, stopped_within
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import post, rss
from tests.waiting import until

TOKEN = "777000:SHUTDOWN-test-token"
CHAT = -1002000000077
FAST, SLOW = post(271457), post(271568)  # real RIA posts: the broad rule fires on both
RULE = '[[rule]]\nname = "broad"\nany = ["в", "на", "и"]\n'
PROMISE = 5.0  # seconds from the signal to the exit, as the README promises


@dataclass
class Setup:
    tg: FakeTelegram
    feeds: FeedServer
    config: Path
    log: Path
    bots: list[asyncio.subprocess.Process]

    async def start(self, *, own_group: bool = False) -> asyncio.subprocess.Process:
        bot = await start_bot(
            self.config, {"TELEGRAM_BOT_TOKEN": TOKEN}, self.log, own_group=own_group
        )
        self.bots.append(bot)
        return bot

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def alerts(self) -> list[str]:
        return [m.text or "" for m in self.tg.messages(CHAT) if "Open the post" in (m.text or "")]

    def alerted(self, message: dict) -> int:
        return sum(message["link"] in text for text in self.alerts())

    def long_poll_waiting(self) -> bool:
        return any(
            r.status is None and float(r.params.get("timeout") or 0) > 0
            for r in self.tg.calls("getUpdates")
        )

    def slow_asked(self) -> bool:
        return bool(self.feeds.requests_to("/slow.rss"))


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as feeds:
        feeds.set("/fast.rss", body=rss([FAST]))
        feeds.set("/slow.rss", body=rss([SLOW]), delay=3600)  # answers nothing, for an hour
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "broad.toml").write_text(RULE, encoding="utf-8")
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\npath = "dozor.db"\n'
            f'[polling]\ninterval = "1h"\ntick = "1s"\ntimeout = "60s"\n'
            f'[rules]\npaths = ["rules/*.toml"]\n'
            f'[telegram]\napi_base_url = "{tg.api_root}"\nper_chat_interval = "10ms"\n'
            f'[[destinations]]\nname = "desk"\nkind = "telegram"\nchat_id = {CHAT}\n'
            f'[[sources]]\nname = "fast"\nurl = "{feeds.url("/fast.rss")}"\nbackfill = 10\n'
            f'[[sources]]\nname = "slow"\nurl = "{feeds.url("/slow.rss")}"\nbackfill = 10\n',
            encoding="utf-8",
        )
        log = tmp_path / "bot.log"
        log.touch()
        setup = Setup(tg, feeds, config, log, [])
        try:
            yield setup
        finally:
            for bot in setup.bots:
                if bot.returncode is None:
                    bot.kill()
                    await bot.wait()


async def running_bot(s: Setup, *, own_group: bool = False) -> asyncio.subprocess.Process:
    """The bot, once it has committed the fast feed's poll and sent its alert, while the
    slow feed's request hangs and a getUpdates long poll waits at the fake Telegram."""
    bot = await s.start(own_group=own_group)
    await until(
        lambda: (
            bot.returncode is not None
            or (s.slow_asked() and s.long_poll_waiting() and s.alerted(FAST) == 1)
        ),
        60,
        "the bot gets going",
    )
    assert bot.returncode is None, s.tail()
    return bot


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_ends_a_hanging_poll_and_a_long_poll_within_5_s(
    setup: Setup, signum: signal.Signals
) -> None:
    bot = await running_bot(setup)
    bot.send_signal(signum)
    took = await stopped_within(bot, 60)
    assert took is not None, "still running 60 s after the signal"
    assert took < PROMISE, f"took {took:.1f} s to stop"
    print(f"{signum.name}: stopped in {took:.2f} s")
    assert bot.returncode == 0
    assert b"Traceback" not in setup.log.read_bytes()

    # the hung poll was never committed: the next start polls the slow feed at once
    setup.feeds.set("/slow.rss", delay=0)
    asked = len(setup.feeds.requests_to("/slow.rss"))
    bot = await setup.start()
    await until(lambda: setup.alerted(SLOW) == 1, 60, "the slow feed's alert")
    assert len(setup.feeds.requests_to("/slow.rss")) > asked
    assert len(setup.feeds.requests_to("/fast.rss")) == 1  # committed: not due again
    bot.send_signal(signal.SIGTERM)
    took = await stopped_within(bot, 60)
    assert took is not None and took < PROMISE
    assert bot.returncode == 0
    assert setup.alerted(FAST) == 1 and setup.alerted(SLOW) == 1  # each alert once


async def test_ctrl_c_at_the_terminal_prints_one_line_and_no_worker_tracebacks(
    setup: Setup,
) -> None:
    bot = await running_bot(setup, own_group=True)
    workers = parse_workers(bot.pid)
    assert workers, "the fast feed was parsed: a parse worker runs"
    before = setup.log.stat().st_size
    os.killpg(bot.pid, signal.SIGINT)  # the terminal sends it to every process of the job
    took = await stopped_within(bot, 60)
    said = setup.log.read_bytes()[before:].decode()
    assert took is not None, "still running 60 s after Ctrl-C"
    assert took < PROMISE, f"took {took:.1f} s to stop"
    print(f"Ctrl-C: stopped in {took:.2f} s, said {said!r}")
    assert bot.returncode == 0
    assert "Traceback" not in said and "SpawnProcess" not in said, said
    assert len(said.splitlines()) == 1 and "stopped" in said, said
    await until(lambda: not alive(workers), 10, "the workers stop with the bot")


async def test_a_killed_bot_leaves_no_parse_workers_behind(setup: Setup) -> None:
    bot = await running_bot(setup)
    workers = parse_workers(bot.pid)
    assert workers, "the fast feed was parsed: a parse worker runs"
    bot.send_signal(signal.SIGKILL)
    await bot.wait()
    await until(lambda: not alive(workers), 20, f"the workers {workers} exit on their own")
