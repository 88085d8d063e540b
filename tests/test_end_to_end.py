"""End to end: config + rule files -> feeds on a real local HTTP server -> alerts on the
console destination; then again (nothing new), and after a restart (nothing repeated)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import Settings, load_config
from tests.fakes.feed_server import FeedServer, unused_port
from tests.feeds import post, real_posts, rss

ROOT = Path(__file__).resolve().parents[1]


def make_config(tmp_path: Path, sources: str, extra: str = "") -> Settings:
    text = f"""
[storage]
path = "state/dozor.db"
[polling]
interval = "1s"
min_interval = "1s"
tick = "1s"
jitter = 0
timeout = "5s"
[rules]
paths = ["{ROOT / "rules"}/*.toml"]
[[destinations]]
name = "console"
kind = "console"
{extra}
{sources}
"""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def source(name: str, url: str, backfill: int = 0, tags: str = '["ru"]') -> str:
    return f'[[sources]]\nname = "{name}"\nurl = "{url}"\ntags = {tags}\nbackfill = {backfill}\n'


async def run_once(settings: Settings) -> str:
    rules, problems = load_rules(settings)
    assert problems == []
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL) as app:
        await app.run_once()
    return out.getvalue()


def alerted_links(console: str) -> list[str]:
    return [line.split()[-1] for line in console.splitlines() if line.startswith("Link:")]


POOL = ThreadPoolExecutor(2)  # parsing off the loop; the process pool is tested via the CLI


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as s:
        yield s


async def test_backfill_alerts_once_then_nothing_new_and_nothing_after_restart(
    tmp_path: Path, server: FeedServer
) -> None:
    server.set("/channel.rss", body=rss(real_posts()))
    settings = make_config(tmp_path, source("channel", server.url("/channel.rss"), backfill=50))

    first = await run_once(settings)
    links = alerted_links(first)
    # the RIA post about Deir ez-Zor, with the place marked and the rule named
    assert "https://t.me/rian_ru/271457" in links
    assert "**Дейр-эз-Зор**" in first and "Rule:    deir-ez-zor" in first
    # ex-PMC fighters: the Wagner rule fires on ЧВК
    assert "https://t.me/bbbreaking/194289" in links
    # Germany's foreign ministry spokesman Christian Wagner is not the Wagner Group
    assert "https://t.me/bbbreaking/194586" not in links
    # a football stampede has casualties but nothing the desk watches
    assert "https://t.me/bbcrussian/73628" not in links
    assert len(links) == len(set(links))

    assert await run_once(settings) == ""  # same feed (304): nothing new
    assert server.requests_to("/channel.rss")[-1].headers.get("if-none-match")
    server.set("/channel.rss", body=rss(real_posts(), title="changed header"))
    assert await run_once(settings) == ""  # new body, same items: nothing new


async def test_first_poll_is_a_baseline_then_new_items_alert(
    tmp_path: Path, server: FeedServer
) -> None:
    posts = real_posts()
    deir = post(271457)
    older = [p for p in posts if p["message_id"] != 271457]
    server.set("/feed.rss", body=rss(older))
    settings = make_config(tmp_path, source("ria", server.url("/feed.rss")))
    assert await run_once(settings) == ""  # baseline: old items do not flood the chat
    server.set("/feed.rss", body=rss([*older, deir]))
    console = await run_once(settings)
    assert alerted_links(console) == ["https://t.me/rian_ru/271457"]
    assert "Source:  ria" in console
    assert "When:    2024-12-03 07:08 UTC" in console


async def test_two_sources_carrying_the_same_story_alert_once(
    tmp_path: Path, server: FeedServer
) -> None:
    deir = post(271457)
    server.set("/a.rss", body=rss([deir], title="RIA"))
    # a repost channel: other title, tracking parameters on the same link
    repost = dict(deir, link=deir["link"] + "?utm_source=telegram&utm_medium=repost#top")
    server.set("/b.rss", body=rss([repost], title="Раньше всех"))
    settings = make_config(
        tmp_path,
        source("ria", server.url("/a.rss"), backfill=5)
        + source("repost", server.url("/b.rss"), backfill=5),
    )
    console = await run_once(settings)
    assert console.count("Dozor alert") == 1


async def test_broken_gone_and_moved_feeds_are_recorded_and_others_still_alert(
    tmp_path: Path, server: FeedServer
) -> None:
    server.set("/good.rss", body=rss([post(271457)]))
    server.set(
        "/broken.rss",
        body=b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        content_type="text/html",
    )
    server.set("/gone.rss", body=b"gone", status=410)
    server.set("/new-home.rss", body=rss([post(194289)]))
    server.set("/old-home.rss", redirect="/new-home.rss", redirect_status=301)
    settings = make_config(
        tmp_path,
        source("good", server.url("/good.rss"), backfill=5)
        + source("broken", server.url("/broken.rss"))
        + source("gone", server.url("/gone.rss"))
        + source("moved", server.url("/old-home.rss"), backfill=5),
    )
    console = await run_once(settings)
    assert sorted(alerted_links(console)) == [
        "https://t.me/bbbreaking/194289",
        "https://t.me/rian_ru/271457",
    ]
    out = io.StringIO()
    from bot.cli import status_command

    status_command(settings, out)
    status = out.getvalue()
    assert "broken: FAILING since" in status and "not a feed" in status
    assert "gone: DISABLED: 410 Gone" in status
    assert "good: ok" in status and "moved: ok" in status

    before = len(server.requests_to("/gone.rss"))
    await run_once(settings)
    assert len(server.requests_to("/gone.rss")) == before  # a 410 is not polled again
    assert server.requests_to("/new-home.rss")[-1].path == "/new-home.rss"
    old_hits = len(server.requests_to("/old-home.rss"))
    await run_once(settings)
    assert len(server.requests_to("/old-home.rss")) == old_hits  # the permanent URL is used


async def test_run_forever_polls_on_schedule_and_delivers(
    tmp_path: Path, server: FeedServer
) -> None:
    older = [p for p in real_posts() if p["message_id"] != 271457]
    server.set("/feed.rss", body=rss(older))
    settings = make_config(tmp_path, source("ria", server.url("/feed.rss")))
    rules, _ = load_rules(settings)
    out = io.StringIO()
    stop = asyncio.Event()
    async with App(settings, rules, stream=out, pool=POOL) as app:
        runner = asyncio.create_task(app.run_forever(stop))
        for _ in range(100):  # the baseline poll happens at once
            if app.store.baseline_done("ria"):
                break
            await asyncio.sleep(0.05)
        server.set("/feed.rss", body=rss([*older, post(271457)]))
        for _ in range(100):  # the next scheduled poll (interval 1 s) alerts
            if "Dozor alert" in out.getvalue():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(runner, 10)
    assert alerted_links(out.getvalue()) == ["https://t.me/rian_ru/271457"]


def dozor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def shipped_config(folder: Path) -> None:
    """The shipped config.toml in ``folder``, its store there, its samples and rules here."""
    config = (ROOT / "config.toml").read_text("utf-8")
    config = config.replace('path = "dozor.db"', f'path = "{folder / "dozor.db"}"')
    config = config.replace('"file:samples/', f'"file:{ROOT}/samples/')
    config = config.replace('paths = ["rules/*.toml"]', f'paths = ["{ROOT}/rules/*.toml"]')
    (folder / "config.toml").write_text(config, "utf-8")


def test_cli_run_once_on_the_shipped_config_prints_sample_alerts(tmp_path: Path) -> None:
    """What a newcomer sees: `dozor run --once` on the shipped config, offline."""
    shipped_config(tmp_path)
    first = dozor("run", "--config", "config.toml", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "https://t.me/rian_ru/271457" in first.stdout
    assert "**Дейр-эз-Зор**" in first.stdout
    assert "polled 4 sources (0 failed)" in first.stderr
    readme = (ROOT / "README.md").read_text("utf-8")
    example = readme.split("```\n── Dozor alert", 1)[1].split("```", 1)[0]
    assert example.split("\n", 1)[1] in first.stdout  # the README shows real output
    again = dozor("run", "--config", "config.toml", "--once", cwd=tmp_path)
    assert again.returncode == 0 and "Dozor alert" not in again.stdout
    chart = dozor("stats", "--config", "config.toml", "-o", "week.png", cwd=tmp_path)
    assert chart.returncode == 0 and "Alerts in the last 7 days" in chart.stdout
    assert (tmp_path / "week.png").read_bytes()[:4] == b"\x89PNG"
    status = dozor("status", "--config", "config.toml", cwd=tmp_path)
    assert "ria-novosti-sample: ok" in status.stdout
    assert "console: " in status.stdout and " sent" in status.stdout


def test_cli_check_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.toml").write_text(
        '[[rule]]\nname = "x"\nanyy = ["Wagner"]\n', "utf-8"
    )
    (tmp_path / "config.toml").write_text(
        '[[sources]]\nname = "a"\nurl = "https://example.org/"\ninterval = "fast"\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        "utf-8",
    )
    bad_config = dozor("check", "--config", "config.toml", cwd=tmp_path)
    assert bad_config.returncode == 1
    assert 'sources[0].interval: expected a duration like "5m", got "fast"' in bad_config.stderr
    (tmp_path / "config.toml").write_text(
        '[[sources]]\nname = "a"\nurl = "https://example.org/"\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        "utf-8",
    )
    bad_rules = dozor("check", "--config", "config.toml", cwd=tmp_path)
    assert bad_rules.returncode == 1
    assert "rules/bad.toml:3" in bad_rules.stderr and "anyy" in bad_rules.stderr
    good = dozor("check", "--config", str(ROOT / "config.toml"), cwd=tmp_path)
    assert good.returncode == 0 and "OK" in good.stdout
    usage = dozor("frobnicate", cwd=tmp_path)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


async def test_metrics_and_health_while_running(tmp_path: Path, server: FeedServer) -> None:
    import aiohttp

    port = unused_port()
    server.set("/feed.rss", body=rss(real_posts()))
    settings = make_config(
        tmp_path,
        source("ria", server.url("/feed.rss"), backfill=50),
        extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n[log]\nformat = "json"\n',
    )
    rules, _ = load_rules(settings)
    stop = asyncio.Event()
    async with App(settings, rules, stream=io.StringIO(), pool=POOL) as app:
        runner = asyncio.create_task(app.run_forever(stop))
        for _ in range(100):
            if app.store.outbox_counts().get("console", {}).get("sent"):
                break
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                health = await response.json()
                status = response.status
        stop.set()
        await asyncio.wait_for(runner, 10)
        sent = app.store.outbox_counts()["console"]["sent"]
    assert f'dozor_alerts_sent_total{{destination="console"}} {float(sent)}' in text
    assert 'dozor_polls_total{source="ria",status="ok"}' in text
    assert 'dozor_matches_total{rule="deir-ez-zor"} 1.0' in text
    assert 'dozor_sources{state="ok"} 1.0' in text
    assert "dozor_delivery_latency_seconds_count" in text
    assert status == 200 and health["status"] == "ok" and health["last_poll_at"]


async def test_rule_files_reload_without_a_restart_and_a_broken_edit_keeps_the_old_rules(
    tmp_path: Path, server: FeedServer
) -> None:
    rules_dir = tmp_path / "myrules"
    rules_dir.mkdir()
    rule_file = rules_dir / "desk.toml"
    rule_file.write_text('[[rule]]\nname = "desk"\nany = ["Алтай*"]\n', "utf-8")
    older = [p for p in real_posts() if p["message_id"] not in (271457, 194289)]
    server.set("/feed.rss", body=rss(older))
    settings = make_config(tmp_path, source("ria", server.url("/feed.rss")))
    settings = replace(settings, rules=replace(settings.rules, paths=(f"{rules_dir}/*.toml",)))
    rules, _ = load_rules(settings)
    out = io.StringIO()
    async with App(settings, rules, stream=out, pool=POOL) as app:
        await app.run_once()
        rule_file.write_text('[[rule]]\nname = "desk"\nquery = "курдских OR ЧВК"\n', "utf-8")
        assert await app.reload_rules()
        server.set("/feed.rss", body=rss([*older, post(271457)]))
        await app.run_once()
        assert alerted_links(out.getvalue()) == ["https://t.me/rian_ru/271457"]
        rule_file.write_text('[[rule]]\nname = "desk"\nquery = "(unclosed"\n', "utf-8")
        assert not await app.reload_rules()  # broken: the previous rules stay
        server.set("/feed.rss", body=rss([*older, post(271457), post(194289)]))
        await app.run_once()
    assert alerted_links(out.getvalue()) == [
        "https://t.me/rian_ru/271457",
        "https://t.me/bbbreaking/194289",
    ]
