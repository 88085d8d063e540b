"""The first hour of a new user (issue 15): what the README promises, checked."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import stats
from bot.app import App
from bot.cli import load_rules, main, status_command
from bot.config import load_config
from bot.logs import setup_logging
from bot.matching.query import without_comments
from bot.platforms.console.chat import run_chat
from bot.store import Store
from tests.chatbot import ChatBot
from tests.waiting import until

CONSOLE = '[[destinations]]\nname = "console"\nkind = "console"\n'


def test_a_rule_naming_an_unknown_destination_skips_its_file_with_a_located_error(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "desk.toml").write_text(
        '[[rule]]\nname = "desk"\nany = ["Вагнер"]\n'
        '[[rule]]\nname = "night"\nany = ["БПЛА"]\ndestinations = ["console", "slack-desk"]\n',
        "utf-8",
    )
    (rules / "ok.toml").write_text('[[rule]]\nname = "ok"\nany = ["Сирия"]\n', "utf-8")
    (tmp_path / "config.toml").write_text(f'[rules]\npaths = ["rules/*.toml"]\n{CONSOLE}', "utf-8")
    loaded, problems = load_rules(load_config(tmp_path / "config.toml"))
    assert [r.name for r in loaded] == ["ok"]  # desk.toml is skipped as a whole
    assert problems == [
        'rules/desk.toml:7: rule "night": no destination named "slack-desk" in the config '
        "(known: console)"
    ]


def test_config_defaults_to_config_toml_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(
        f'[[sources]]\nname = "a"\nurl = "https://example.org/"\n{CONSOLE}', "utf-8"
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "ok.toml").write_text('[[rule]]\nname = "ok"\nany = ["Сирия"]\n')
    monkeypatch.chdir(tmp_path)
    for command in (["check"], ["status"], ["sources", "export"]):
        assert main(command) in (0, 1), command  # parsed: no "--config is required"
    assert "config.toml: OK" in capsys.readouterr().out


def test_run_once_fails_when_every_source_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(
        '[storage]\npath = "dozor.db"\n'
        '[[sources]]\nname = "gone"\nurl = "file:missing.xml"\n'
        '[[sources]]\nname = "also-gone"\nurl = "file:missing-too.xml"\n' + CONSOLE,
        "utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--once"]) == 1
    err = capsys.readouterr().err
    assert "polled 2 sources (2 failed)" in err
    assert "every source failed" in err


def test_make_run_says_what_each_set_up_step_does(tmp_path: Path) -> None:
    """75 s of silence looked dead: a line per step, pip's progress for the install."""
    plan = subprocess.run(  # the plan for a fresh venv, nothing run
        ["make", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    steps = [line for line in plan.splitlines() if "dozor set-up" in line]
    assert len(steps) == 3, plan
    install = next(line for line in plan.splitlines() if "pip install" in line and "-e" in line)
    assert "--quiet" not in install  # pip shows what it fetches
    assert ".venv/bin/dozor" in plan  # and where the dozor command is


ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "guardian-world-2018-01-31.rss"


def sample_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "dozor.db"\n[polling]\ntick = "1s"\njitter = 0\n'
        f'[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
        f'[[sources]]\nname = "guardian"\nurl = "file:{SAMPLE}"\n'
        f'[[sources]]\nname = "paused"\nurl = "https://example.org/feed"\nenabled = false\n'
        f"{extra}{CONSOLE}",
        "utf-8",
    )
    return path


async def test_run_says_where_its_store_is_and_a_line_per_poll_cycle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After the first poll `make run` looked dead for hours: now each cycle says so."""
    caplog.set_level(logging.INFO)
    settings = load_config(sample_config(tmp_path))
    rules, problems = load_rules(settings)
    assert problems == []
    stop = asyncio.Event()
    async with App(settings, rules, stream=io.StringIO()) as app:
        runner = asyncio.create_task(app.run_forever(stop))
        try:
            await until(lambda: "polled 1 source" in caplog.text, 60, "a poll cycle line")
        finally:
            stop.set()
            await asyncio.wait_for(runner, 30)
    start = next(r.getMessage() for r in caplog.records if "Dozor is watching" in r.getMessage())
    assert "1 sources (1 disabled)" in start and str(tmp_path / "dozor.db") in start
    assert start.endswith("; first poll now"), start
    cycle = next(r.getMessage() for r in caplog.records if "polled 1 source" in r.getMessage())
    assert re.fullmatch(r"polled 1 source, \d+ new, next \d\d:\d\d", cycle), cycle


def test_library_chatter_is_hidden() -> None:
    setup_logging("info", stream=io.StringIO())
    for name in ("pymorphy3", "matplotlib", "matplotlib.font_manager"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name


async def test_status_says_disabled_for_a_disabled_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_config(sample_config(tmp_path))
    rules, _ = load_rules(settings)
    async with App(settings, rules, stream=io.StringIO()) as app:
        await app.run_once()
    out = io.StringIO()
    assert status_command(settings, out) == 0
    lines = out.getvalue().splitlines()
    paused = next(line for line in lines if line.startswith("  paused:"))
    assert paused.startswith("  paused: disabled (enabled = false in the config)"), lines
    assert any(line.startswith("  guardian: ok") for line in lines), lines


async def test_stats_prints_alerts_per_day_with_whole_ticks_and_chat_files_stay_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ria = ROOT / "samples" / "ria-novosti-2024-12-03.json"
    extra = f'[[sources]]\nname = "ria"\nurl = "file:{ria}"\nbackfill = 100\n'
    settings = load_config(sample_config(tmp_path, extra))
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=io.StringIO()) as app:
        summary = await app.run_once()
        assert summary.sent > 0
        await run_chat(app.context, io.StringIO("/stats\n"), out, tmp_path / "files")
    assert f"(saved to {tmp_path / 'files' / 'dozor-stats.png'})" in out.getvalue()
    assert (tmp_path / "files" / "dozor-stats.png").read_bytes()[:4] == b"\x89PNG"

    monkeypatch.chdir(tmp_path)
    assert main(["stats", "-o", "week.png"]) == 0
    printed = capsys.readouterr().out.splitlines()
    total = int(printed[0].rsplit(" ", 1)[1])
    at = printed.index("Per day:")
    days = printed[at + 1 : at + 8]
    assert all(re.fullmatch(r"  \w{3} \d\d \w{3} +\d+", line) for line in days), printed
    assert sum(int(line.split()[-1]) for line in days) == total > 0

    store = Store.open(settings.storage.path)
    try:
        collected = stats.collect(store, datetime.now(UTC), 7)
    finally:
        store.close()
    for ax in stats.figure(collected).axes:
        assert all(tick == int(tick) for tick in ax.get_yticks()), ax.get_yticks()


async def test_the_waiting_alerts_warning_names_the_real_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ria = ROOT / "samples" / "ria-novosti-2024-12-03.json"
    extra = (
        f'[[sources]]\nname = "ria"\nurl = "file:{ria}"\nbackfill = 100\n'
        '[[destinations]]\nname = "tg-desk"\nkind = "telegram"\nchat_id = -1001234567890\n'
    )
    settings = load_config(sample_config(tmp_path, extra))
    rules, _ = load_rules(settings)
    async with App(settings, rules, stream=io.StringIO(), environ={}) as app:
        await app.run_once()
    assert (
        "alerts wait for destination 'tg-desk', as TELEGRAM_BOT_TOKEN is not set; "
        "they will be sent when it is"
    ) in caplog.text
    assert "not configured now" not in caplog.text


async def test_rules_shows_a_query_without_its_comments(testbot: ChatBot) -> None:
    """The first-hour walk: /rules showed "... OR KIA # c…", a comment of the rule file
    cut short, in the middle of the query."""
    text = (await testbot.command("/rules")).text  # the console: every rule
    line = next(x for x in text.splitlines() if x.startswith("- wagner-casualties-en "))
    assert "#" not in line and "case is ignored" not in line, line
    assert "OR wounded OR KIA OR" in line, line
    assert without_comments('a # one\nOR "b # c" # two') == 'a \nOR "b # c" '


async def test_a_restart_says_when_its_first_poll_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first-hour walk: after a restart the sources polled minutes ago are not due,
    and "Dozor is watching ..." was followed by minutes of silence."""
    caplog.set_level(logging.INFO)
    settings = load_config(sample_config(tmp_path))
    rules, _ = load_rules(settings)
    async with App(settings, rules, stream=io.StringIO()) as app:
        await app.run_once()  # every source polled: none is due for a while
    stop = asyncio.Event()
    stop.set()
    async with App(settings, rules, stream=io.StringIO()) as app:
        await app.run_forever(stop)  # says what it watches, then stops
    start = next(r.getMessage() for r in caplog.records if "Dozor is watching" in r.getMessage())
    assert re.search(r"; first poll at \d\d:\d\d UTC$", start), start


async def test_sources_says_when_an_old_last_item_was_not_how_many_days_ago(
    testbot: ChatBot,
) -> None:
    """The first-hour walk: the bundled samples' last items were "731d4h21m ago"."""
    from tests.test_commands import from_source

    testbot.poll("ria", from_source("ria"))
    testbot.clock.advance(timedelta(days=731, hours=4))
    sources = (await testbot.command("/sources", chat=testbot.DESK)).text
    ria = next(line for line in sources.splitlines() if line.startswith("- ria "))
    assert re.search(r"; last item 2024-12-0\d \d\d:\d\d UTC;", ria), ria
