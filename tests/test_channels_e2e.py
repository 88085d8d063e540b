"""Public Telegram channels end to end: a fake t.me serves a channel's web preview,
the real watcher, pipeline, store and outbox run, and alerts print on the console."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules, status_command
from bot.config import load_config
from tests.fakes.tme_server import TmeServer
from tests.feeds import post

ROOT = Path(__file__).resolve().parents[1]
POOL = ThreadPoolExecutor(2)
FILLER = "Учения ОДКБ в 2025 году пройдут в Белоруссии, Казахстане и Киргизии."


@pytest.fixture
async def tme() -> AsyncIterator[TmeServer]:
    async with TmeServer() as server:
        yield server


def config(tmp_path: Path, tme: TmeServer, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
timeout = "5s"
[tme]
base_url = "{tme.base_url}"
page_jitter = "0s"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[[destinations]]
name = "console"
kind = "console"
[[sources]]
name = "osint"
kind = "telegram"
channel = "osint_news"
{extra}
[[sources]]
name = "ghost"
kind = "telegram"
channel = "not_existed_channel"
""",
        encoding="utf-8",
    )
    return path


async def poll(path: Path) -> str:
    settings = load_config(path)
    rules, problems = load_rules(settings)
    assert problems == []
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL, environ={}) as app:
        await app.run_once()
    return out.getvalue()


def links(console: str) -> list[str]:
    return [line.split()[-1] for line in console.splitlines() if line.startswith("Link:")]


async def test_channel_posts_alert_and_deletions_are_noted(tmp_path: Path, tme: TmeServer) -> None:
    chan = tme.channel("osint_news", title="OSINT News")
    for _ in range(5):
        chan.post(FILLER)
    path = config(tmp_path, tme)
    assert await poll(path) == ""  # first poll: a baseline
    deir = chan.post(post(271457)["text"])
    chan.post(FILLER)
    first = await poll(path)
    assert links(first) == [f"https://t.me/osint_news/{deir}"]
    assert "**Дейр-эз-Зор**" in first and "Source:  osint" in first

    chan.delete(deir)
    update = await poll(path)
    assert "── Dozor alert #1 updated ──" in update
    assert "🗑 Deleted from osint by" in update and "/show 1" in update
    assert await poll(path) == ""  # noted once

    out = io.StringIO()
    status_command(load_config(path), out)
    assert (
        "ghost: FAILING" in out.getvalue()
        and "t.me/not_existed_channel has no public web preview" in out.getvalue()
    )


async def test_an_edit_that_now_matches_alerts_once(tmp_path: Path, tme: TmeServer) -> None:
    chan = tme.channel("osint_news")
    chan.post(FILLER)
    path = config(tmp_path, tme)
    await poll(path)
    quiet = chan.post("Обстановка в провинции спокойная.")
    assert await poll(path) == ""
    chan.edit(quiet, "Обстановка в провинции Дейр-эз-Зор: атаки отражены.")
    edited = await poll(path)
    assert links(edited) == [f"https://t.me/osint_news/{quiet}"]
    chan.edit(quiet, "Обстановка в провинции Дейр-эз-Зор: атаки отражены, есть раненые.")
    assert await poll(path) == ""  # already alerted: an edit changes nothing by default


async def test_an_outage_of_45_posts_is_caught_up_oldest_first(
    tmp_path: Path, tme: TmeServer
) -> None:
    chan = tme.channel("osint_news")
    chan.post(FILLER)
    path = config(tmp_path, tme)
    await poll(path)
    ids = [chan.post(f"Сводка {n}: бои в провинции Дейр-эз-Зор продолжаются.") for n in range(45)]
    console = await poll(path)
    assert links(console) == [f"https://t.me/osint_news/{i}" for i in ids]
    assert len(tme.requests) >= 3  # several ?before= pages
