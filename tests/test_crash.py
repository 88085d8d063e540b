"""Delivery guarantees, proven at the process level: the bot is killed with SIGKILL at
random moments while it delivers about two hundred alerts to a fake Telegram, then
restarted; in the end every alert has arrived, and duplicates are no more than kills."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

from bot.matching import Matcher, load_rule_files
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from watchers.rss import parse_feed

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "654321:CRASH-test-token"
CHATS = (-1002000000001, -1002000000002)
SAMPLES = ("ria-novosti-2024-12-03.json", "ranshe-vseh-2024-12-03.json")
# A deliberately broad rule over real posts: most of them mention one of these words.
RULE = '[[rule]]\nname = "broad"\nany = ["в", "на", "и"]\n'


def expected_links(tmp_path: Path) -> set[str]:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "broad.toml").write_text(RULE, encoding="utf-8")
    rules = load_rule_files(["rules/*.toml"], tmp_path).rules
    matcher = Matcher(list(rules))
    links = set()
    for name in SAMPLES:
        body = (ROOT / "samples" / name).read_bytes()
        for item in parse_feed(body, {}, name, (), "https://t.me/").items:
            if matcher.match(item):
                links.add(item.link)
    return links


def write_config(tmp_path: Path, tg: FakeTelegram, feeds: FeedServer) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "s{n}"\nurl = "{feeds.url("/" + name)}"\nbackfill = 500\n'
        for n, name in enumerate(SAMPLES)
    )
    destinations = "".join(
        f'[[destinations]]\nname = "chat{n}"\nkind = "telegram"\nchat_id = {chat}\n'
        for n, chat in enumerate(CHATS)
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "dozor.db"\n[polling]\ninterval = "1h"\ntick = "1s"\n'
        f'[rules]\npaths = ["rules/*.toml"]\n[telegram]\napi_base_url = "{tg.api_root}"\n'
        f'per_chat_interval = "10ms"\n[dedup]\nenabled = false  # every item its own alert\n'
        f"{destinations}{sources}",
        encoding="utf-8",
    )
    return path


async def start_bot(config: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--config",
        str(config),
        env=env,
        cwd=config.parent,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def delivered(tg: FakeTelegram) -> Counter[tuple[int, str]]:
    count: Counter[tuple[int, str]] = Counter()
    for chat in CHATS:
        for message in tg.messages(chat):
            if 'href="' not in message.text:
                continue  # the bot's own notices ("source X is noisy here")
            link = message.text.split('href="')[1].split('"')[0]
            count[(chat, link)] += 1
    return count


async def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20180207)
    want = expected_links(tmp_path)
    assert len(want) >= 60
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as feeds:
        for name in SAMPLES:
            feeds.set(
                "/" + name,
                body=(ROOT / "samples" / name).read_bytes(),
                content_type="application/feed+json",
            )
        config = write_config(tmp_path, tg, feeds)
        kills = 0
        for _ in range(6):
            bot = await start_bot(config)
            before = sum(delivered(tg).values())
            # kill once it has started sending, at a random moment of the run
            for _ in range(400):
                if sum(delivered(tg).values()) > before or bot.returncode is not None:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
            kills += 1
        bot = await start_bot(config)
        total = len(want) * len(CHATS)
        for _ in range(3000):  # up to 30 s for the rest
            if len(delivered(tg)) >= total:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # anything still in flight arrives too
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), 15) == 0
    got = delivered(tg)
    assert {link for _, link in got} == want  # every alert, nothing else
    assert len(got) == total  # in both chats
    duplicates = sum(n - 1 for n in got.values())
    assert duplicates <= kills, f"{duplicates} duplicates after {kills} kills"
