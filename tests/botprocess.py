"""``dozor run`` as a child process, for the tests that stop or kill it (test_crash,
test_shutdown): start it, find its parse workers in /proc, read its store.

    bot = await start_bot(config, {"TELEGRAM_BOT_TOKEN": TOKEN}, log=tmp_path / "bot.log")
    await until(lambda: outbox_idle(tmp_path / "dozor.db"), 60, "all sent")  # tests/waiting
    workers = parse_workers(bot.pid)
    bot.send_signal(signal.SIGKILL)
    await until(lambda: not alive(workers), 20, "the workers exit")
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def start_bot(
    config: Path,
    tokens: dict[str, str],
    log: Path | None = None,
    *,
    own_group: bool = False,
) -> asyncio.subprocess.Process:
    """``dozor run`` in a child process; ``log``: a file its stderr is appended to;
    ``own_group``: in a process group of its own, as a shell starts a foreground job
    (``os.killpg(bot.pid, signal.SIGINT)`` is then what Ctrl-C at its terminal does)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **tokens}
    stderr = log.open("ab") if log is not None else None
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",  # as the Makefile and the systemd unit start it
            "run",
            "--config",
            str(config),
            env=env,
            cwd=config.parent,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL if stderr is None else stderr,
            process_group=0 if own_group else None,
        )
    finally:
        if stderr is not None:
            stderr.close()  # the child has its own copy


async def stopped_within(bot: asyncio.subprocess.Process, seconds: float) -> float | None:
    """How long ``bot`` took to exit (None: still running after ``seconds``, then killed)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await asyncio.wait_for(bot.wait(), seconds)
    except TimeoutError:
        bot.kill()
        await bot.wait()
        return None
    return loop.time() - started


def parse_workers(pid: int) -> set[int]:
    """The multiprocessing children of ``pid`` (parse workers, their resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"multiprocessing" in cmdline:
            found.add(int(entry.name))
    return found


def alive(pids: Iterable[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie nobody reaped yet counts as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


async def stop_when_idle(bot: asyncio.subprocess.Process, db: Path, log: Path) -> None:
    """Once every send is recorded, SIGTERM: the bot must exit 0 (in 60 s at most)."""
    from tests.waiting import until

    await until(lambda: outbox_idle(db), 60, "all sends recorded")
    bot.send_signal(signal.SIGTERM)
    assert await stopped_within(bot, 60) is not None
    assert bot.returncode == 0, log.read_text()[-3000:]  # noqa: ASYNC240 (a failure report)


async def reap(bot: asyncio.subprocess.Process | None) -> None:
    """Kill ``bot`` if it still runs (a test that failed half-way)."""
    if bot is not None and bot.returncode is None:
        bot.kill()
        await bot.wait()


def outbox_idle(db: Path) -> bool:
    """Whether the store of a running bot has no alert left to send or edit (what was
    sent was answered and recorded).  The bot's own notices ("source X is noisy") are
    not alerts and are not counted."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "select (select count(*) from alerts where state = 'pending')"
            " + (select count(*) from alert_edits)"
        ).fetchone()
    finally:
        conn.close()
    return bool(row[0] == 0)
