"""`make bench`, part two: Dozor at scale, against local servers on 127.0.0.1 only.

    python -m tests.bench_scale                 # 10,000 sources, 1,000,000 stored items
    python -m tests.bench_scale --quick         # 1,000 sources, 100,000 stored items
    python -m tests.bench_scale --json out.json # where the results go (bench-results.json)

A "world" subprocess (``--world``) serves N distinct feeds made of real posts (the
shared corpus if present, ``samples/``, ``tests/fixtures/*.rss|xml``): RSS 2.0 and JSON
Feed of 20 items each (each item a real post plus the first sentence of another, so
items differ but read like news; unique guids), ETag/304 on ~90% of them, ~1% slow
(2 s), ~1% failing (500); ~10% of the sources are public Telegram channels served in
the real ``t.me/s`` markup (message blocks cut from the real pages in
``tests/fixtures/tme``).  It listens on 50 ports, so that per-host limits apply per
port as they would per publisher (all t.me channels share one port, as they share
t.me), and it runs the fake Telegram Bot API (``tests/fakes/telegram_api``).

Measured, with the real App (store, process pool, pipeline, outbox, Telegram adapter):

1. a full poll cycle (``Poller.poll_all``) of 1,000 and of 10,000 sources: cold (every
   source new; ``backfill = 20`` so every item is matched against 1,000 keyword rules,
   deduplicated and enqueued) and warm (conditional GET: 304s, unchanged bodies, t.me
   pages parsed again).  items/s = new items / cold cycle time.  The outbox delivers
   as the cold cycle runs, and its rule alerts are awaited at the fake Telegram (a
   private chat: Telegram's 30 messages a second pace them): how many arrived of those
   enqueued, and their latency from the moment the world first served the feed;
2. alert latency: ``App.run_forever`` with every source on a 60 s interval; at random
   moments an item that a rule matches is added to a random healthy feed or channel;
   latency = its alert's arrival at the fake Telegram - the moment the world first
   served it: the bot's own share, without the wait for the next poll;
3. start-up and memory, in a clean subprocess (``--memory-child``) that starts as
   ``dozor run`` does (config, rule file, App, scheduler) on a copy of a store holding
   1,000,000 items (built once through sqlite-utils, cached in the temp dir), with
   10,000 sources and 10,000 rules; start-up = process start -> first scheduler tick,
   cold (a first start: the rules are compiled and written beside the store) and warm
   (every later start: read back);
   peak RSS (``VmHWM``) after one full poll cycle in which every served item is new
   (its rule alerts held for a digest, as before: the memory is the matching's).

Rules are keyword rules of 3 real words: mostly words of real news that none of the
posts contains in any form the matcher knows (as most watch terms are absent from any
one day's news), and in 3% (1% of 10,000) of the rules one word that 1-3 posts contain.
The script stops by itself: every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import html
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
TG_CORPUS = SHARED / "tg_news_posts_nktkln"
TME_PAGES = (ROOT / "tests" / "fixtures" / "tme", SHARED / "tme_statosphere_parser" / "msgs")
EXTRA_TEXTS = (SHARED / "ru_news_corus_samples", SHARED / "feeds_rss_parser" / "input")
TMP = Path(tempfile.gettempdir())
VERSION = "v1"  # of the cached store and vocabulary: bump when their content changes
TOKEN = "424242:BENCH-scale-token"
DESK = 7000001  # a private chat: Telegram's 20-a-minute limit for groups does not apply
BULK = 7000002  # the watch rules' chat: private too, so only the 30-a-second limit paces it
MARKER = "Дозорметка"  # the latency rule's term: only injected items carry it
PER_FEED = 20  # items per feed, posts per t.me page
HOSTS = 50
SLOW = 2.0  # seconds a slow feed takes to answer
WORLD_LIFETIME = 1800.0  # the world process exits by itself after this long

TARGETS = {  # (key in the results, limit, unit)
    "cycle_warm_s": 60.0,
    "latency_p99_s": 1.0,
    "peak_rss_mb": 300.0,
    "startup_s": 5.0,
}


@dataclass(frozen=True)
class Scale:
    sources: int
    stored_items: int
    samples: int  # latency samples
    window: float  # seconds over which they are injected
    rules: int = 1_000  # throughput run
    memory_rules: int = 10_000


FULL = Scale(10_000, 1_000_000, 150, 120.0)
QUICK = Scale(1_000, 100_000, 40, 40.0)


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Post:
    title: str
    text: str


WORD = re.compile(r"[^\W\d_]{5,}")
SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def first_line(text: str, width: int = 120) -> str:
    line = next((ln.strip() for ln in text.split("\n") if ln.strip()), "")
    if len(line) <= width:
        return line
    return line[: line.rfind(" ", 0, width)].rstrip(",;:—- ") + " …"


def load_posts() -> list[Post]:
    """Real posts: the shared Telegram corpus (if present), then every item of the
    sample feeds and of the RSS/XML test fixtures."""
    from watchers.rss import parse_feed

    found: list[tuple[str, str]] = []
    for path in sorted(TG_CORPUS.glob("*_messages.json")):
        for raw in json.loads(path.read_text("utf-8")):
            found.append(("", (raw.get("text") or "").replace("**", "")))
    fixtures = ROOT / "tests" / "fixtures"
    feeds = [
        *sorted((ROOT / "samples").glob("*.json")),
        *sorted((ROOT / "samples").glob("*.rss")),
        *sorted(fixtures.glob("*.rss")),
        *sorted(fixtures.glob("*.xml")),
    ]
    for path in feeds:
        parsed = parse_feed(path.read_bytes(), {}, "corpus", (), "https://example.org/")
        found += [(item.title, item.text) for item in parsed.items]
    posts, seen = [], set()
    for title, text in found:
        text = text.strip()
        if len(text) >= 60 and text not in seen:
            seen.add(text)
            posts.append(Post(title or first_line(text), text))
    return posts


def other_texts() -> list[str]:
    """Real news text that is not among the posts (other corpora, if present)."""
    out = []
    for folder in EXTRA_TEXTS:
        for path in sorted(folder.glob("*")):
            raw = path.read_text("utf-8", errors="replace")
            out.append(html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    return out


def rule_vocabulary(posts: list[Post]) -> tuple[list[str], list[str]]:
    """(absent, rare): real words that no post contains in any form the matcher knows,
    and real words that 1 to 3 posts contain.  Found with the matcher itself (one
    single-term rule per word) and cached in the temp dir."""
    from bot.matching import Matcher
    from bot.model import Item, Rule

    texts = [p.text for p in posts] + other_texts()
    words = sorted({w for t in texts for w in WORD.findall(t)})
    digest = hashlib.sha256("\n".join(words + [p.text for p in posts]).encode())
    for path in sorted((ROOT / "bot" / "matching").glob("*.py")):
        digest.update(path.read_bytes())  # the matcher decides which forms match
    cache = TMP / f"dozor-bench-vocabulary-{VERSION}-{digest.hexdigest()[:16]}.json"
    if cache.exists():
        data = json.loads(cache.read_text("utf-8"))
        return data["absent"], data["rare"]
    items = [Item("v", str(n), str(n), p.title, p.text) for n, p in enumerate(posts)]
    df: Counter[int] = Counter()
    for start in range(0, len(words), 5000):
        chunk = words[start : start + 5000]
        matcher = Matcher([Rule(str(start + k), any=(w,)) for k, w in enumerate(chunk)])
        for item in items:
            df.update(int(m.rule) for m in matcher.match(item))
    absent = [w for n, w in enumerate(words) if not df[n]]
    rare = [w for n, w in enumerate(words) if 1 <= df[n] <= 3]
    cache.write_text(json.dumps({"absent": absent, "rare": rare}, ensure_ascii=False), "utf-8")
    return absent, rare


def watch_rules(count: int, absent: list[str], rare: list[str], hit_share: float) -> list[Any]:
    """``count`` rules of 3 words each, routed to the digest destination ``bulk``."""
    from bot.model import Rule

    rng = random.Random(count)
    pool = list(absent) or list(rare)  # no other corpus: every word is in some post
    rng.shuffle(pool)
    hits = set(rng.sample(range(count), int(count * hit_share))) if rare else set()
    rules = []
    for k in range(count):
        terms = [pool[(3 * k + j) % len(pool)] for j in range(3)]
        if k in hits:
            terms[0] = rng.choice(rare)
        rules.append(Rule(f"watch-{k}", any=tuple(terms), destinations=("bulk",)))
    return rules


def latency_rule() -> Any:
    from bot.model import Rule

    return Rule("latency", any=(MARKER,), destinations=("desk",))


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Plan:
    """What one source is in the world: its format and its troubles."""

    index: int
    kind: str  # "rss" | "json" | "tme"
    conditional: bool  # answers If-None-Match with 304
    slow: bool
    failing: bool

    @property
    def healthy(self) -> bool:
        return not (self.slow or self.failing)


def plans(count: int, with_tme: bool, seed: int = 20241203) -> list[Plan]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        r, trouble, cond = rng.random(), rng.random(), rng.random()
        kind = "tme" if with_tme and r < 0.10 else "json" if r < 0.40 else "rss"
        out.append(
            Plan(i, kind, kind != "tme" and cond < 0.9, trouble < 0.01, 0.01 <= trouble < 0.02)
        )
    return out


def feed_path(plan: Plan) -> str:
    return f"/s/ch{plan.index:05d}" if plan.kind == "tme" else f"/f/{plan.index}.{plan.kind}"


_POST, _HREF, _DATE, _TEXT, _CHANNEL, _BEFORE = (f"\x00{n}\x00" for n in range(6))
_WRAP = '<div class="tgme_widget_message_wrap'
_TEXT_DIV = '<div class="tgme_widget_message_text js-message_text"'
_DATE_LINK = re.compile(r'<a class="tgme_widget_message_date" href="[^"]*"><time datetime="[^"]*"')


def tme_templates() -> tuple[str, str, list[str]]:
    """(head, tail, message blocks) cut from real t.me/s pages, with placeholders for
    the channel, post id, permalink, time and text."""
    head = tail = ""
    blocks: list[str] = []
    for folder in TME_PAGES:
        for path in sorted(folder.glob("*.html")):
            page = path.read_text("utf-8")
            parts = page.split(_WRAP)
            if path.stem.startswith("not_") or len(parts) < 2 or "</section>" not in parts[-1]:
                continue
            end = parts[-1].index("</section>")
            if not head:
                head = parts[0].replace(path.stem, _CHANNEL)
                head = re.sub(r'data-before="\d+"', f'data-before="{_BEFORE}"', head)
                head = re.sub(r"\?before=\d+", f"?before={_BEFORE}", head)
                tail = parts[-1][end:]
            for raw in [*parts[1:-1], parts[-1][:end]]:
                block = _WRAP + raw
                if any(
                    bad in block
                    for bad in ("forwarded_from", "link_preview", "service_message", "_reply")
                ) or (_TEXT_DIV not in block or not _DATE_LINK.search(block)):
                    continue
                start = block.index(">", block.index(_TEXT_DIV)) + 1
                stop = block.index("</div>", start)
                if "<div" in block[start:stop]:
                    continue
                block = block[:start] + _TEXT + block[stop:]
                block = re.sub(r'data-post="[^"]*"', f'data-post="{_POST}"', block, count=1)
                block = re.sub(r' data-view="[^"]*"', "", block)
                block = _DATE_LINK.sub(
                    f'<a class="tgme_widget_message_date" href="{_HREF}"><time datetime="{_DATE}"',
                    block,
                )
                blocks.append(block)
    return head, tail, blocks


@dataclass
class Feed:
    plan: Plan
    injected: dict[int, tuple[Post, datetime, int]] = field(default_factory=dict)  # slot ->
    last: int = PER_FEED - 1  # the newest slot
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    pending: list[int] = field(default_factory=list)  # latency samples not served yet


class World:
    """The feeds, channels and Telegram Bot API the bot talks to (see the module doc)."""

    def __init__(self, count: int, with_tme: bool) -> None:
        self.posts = load_posts()
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.head, self.tail, self.blocks = tme_templates() if with_tme else ("", "", [])
        self.feeds = [Feed(p) for p in plans(count, with_tme and bool(self.blocks))]
        self.served: dict[int, float] = {}
        self.first_served: dict[int, float] = {}  # feed index -> first time it was served
        self.counts: Counter[str] = Counter()
        for feed in self.feeds:
            self.render(feed)

    def post(self, feed: Feed, slot: int) -> tuple[Post, datetime, str]:
        """(post, time, marker-free link) of one slot of a feed (slot = post id - 1000)."""
        i = feed.plan.index
        if slot in feed.injected:
            post, when, n = feed.injected[slot]
            link = f"https://lat.example/f{i}/{n}"
        else:
            rng = random.Random(i * 1_000_003 + slot)
            a, b = rng.choice(self.posts), rng.choice(self.posts)
            extra = SENTENCE.split(b.text.strip(), maxsplit=1)[0][:300]
            post = Post(a.title, f"{a.text}\n\n{extra}")
            when = self.start - timedelta(minutes=15 * (PER_FEED - slot))
            link = f"https://news{i % 97}.example/f{i}/{slot}"
        if feed.plan.kind == "tme":
            link = f"https://t.me/ch{i:05d}/{1000 + slot}"
        return post, when, link

    def render(self, feed: Feed) -> None:
        slots = range(max(0, feed.last - PER_FEED + 1), feed.last + 1)
        kind = feed.plan.kind
        if kind == "tme":
            feed.body = self.page(feed, slots)
        elif kind == "json":
            items = []
            for slot in reversed(slots):
                post, when, link = self.post(feed, slot)
                items.append(
                    {
                        "id": f"f{feed.plan.index}-{slot}",
                        "url": link,
                        "title": post.title,
                        "content_html": html.escape(post.text).replace("\n", "<br>"),
                        "date_published": when.isoformat(),
                    }
                )
            feed.body = json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": f"Feed {feed.plan.index}",
                    "home_page_url": f"https://news{feed.plan.index % 97}.example/",
                    "items": items,
                },
                ensure_ascii=False,
            ).encode()
        else:
            parts = []
            for slot in reversed(slots):
                post, when, link = self.post(feed, slot)
                body = html.escape(post.text).replace("\n", "<br>")
                parts.append(
                    f"<item><title>{escape(post.title)}</title><link>{escape(link)}</link>"
                    f'<guid isPermaLink="false">f{feed.plan.index}-{slot}</guid>'
                    f"<pubDate>{format_datetime(when)}</pubDate>"
                    f"<description>{escape(body)}</description></item>"
                )
            feed.body = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Feed {feed.plan.index}</title>"
                f"<link>https://news{feed.plan.index % 97}.example/</link>"
                f"<description>bench</description>{''.join(parts)}</channel></rss>"
            ).encode()
        feed.etag = '"' + hashlib.sha1(feed.body).hexdigest()[:16] + '"'
        feed.last_modified = format_datetime(self.start + timedelta(seconds=feed.last), usegmt=True)

    def page(self, feed: Feed, slots: range) -> bytes:
        channel = f"ch{feed.plan.index:05d}"
        oldest = 1000 + (slots[0] if slots else 0)
        out = [self.head.replace(_CHANNEL, channel).replace(_BEFORE, str(oldest))]
        for slot in slots:
            post, when, link = self.post(feed, slot)
            block = self.blocks[(feed.plan.index * 31 + slot) % len(self.blocks)]
            text = html.escape(post.text).replace("\n", "<br/>")
            out.append(
                block.replace(_POST, f"{channel}/{1000 + slot}")
                .replace(_HREF, link)
                .replace(_DATE, when.isoformat())
                .replace(_TEXT, text)
            )
        out.append(self.tail)
        return "".join(out).encode()

    def inject(self, index: int, n: int, post_index: int) -> str:
        feed = self.feeds[index]
        source = self.posts[post_index % len(self.posts)]
        if feed.plan.kind == "tme":
            post = Post("", f"{MARKER} {n}. {source.text}")
        else:
            post = Post(f"{MARKER} {n}: {source.title}", source.text)
        feed.last += 1
        feed.injected[feed.last] = (post, datetime.now(UTC), n)
        feed.pending.append(n)
        self.render(feed)
        return self.post(feed, feed.last)[2]

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        path = request.path
        if path.startswith("/_ctl/"):
            return self.control(request)
        try:
            if path.startswith("/s/ch"):
                feed = self.feeds[int(path[5:])]
            else:
                feed = self.feeds[int(path[3:].partition(".")[0])]
        except (ValueError, IndexError):
            return web.Response(status=404, text="not found")
        if feed.plan.slow:
            await asyncio.sleep(SLOW)
        if feed.plan.failing:
            self.counts["500"] += 1
            return web.Response(status=500, text="internal error")
        if feed.plan.kind == "tme":
            before = request.query.get("before", "")
            if before.isdigit():  # an older page: the 20 posts before that id
                end = min(int(before) - 1000, feed.last + 1)
                body = self.page(feed, range(max(0, end - PER_FEED), max(0, end)))
            else:
                body = feed.body
                self.mark_served(feed)
            self.counts["200 t.me"] += 1
            return web.Response(body=body, content_type="text/html", charset="utf-8")
        headers = {}
        if feed.plan.conditional:
            headers = {"ETag": feed.etag, "Last-Modified": feed.last_modified}
            if request.headers.get("If-None-Match") == feed.etag:
                self.counts["304"] += 1
                return web.Response(status=304, headers=headers)
        self.counts["200"] += 1
        self.mark_served(feed)
        headers["Content-Type"] = (
            "application/feed+json" if feed.plan.kind == "json" else "application/rss+xml"
        )
        return web.Response(body=feed.body, headers=headers)

    def mark_served(self, feed: Feed) -> None:
        now = time.time()
        self.first_served.setdefault(feed.plan.index, now)
        for n in feed.pending:
            self.served.setdefault(n, now)
        feed.pending.clear()

    def control(self, request: Any) -> Any:
        from aiohttp import web

        q = request.query
        if request.path == "/_ctl/inject":
            link = self.inject(int(q["feed"]), int(q["n"]), int(q["post"]))
            return web.json_response({"link": link})
        if request.path == "/_ctl/sent":
            return web.json_response({"bulk": len(self.telegram.messages(BULK))})
        messages = [{"text": m.text or "", "time": m.time} for m in self.telegram.messages(DESK)]
        answer = {"served": self.served, "messages": messages, "counts": dict(self.counts)}
        if request.path == "/_ctl/bulk":
            answer["bulk"] = [
                {"text": m.text or "", "time": m.time} for m in self.telegram.messages(BULK)
            ]
            answer["first_served"] = self.first_served
        return web.json_response(answer)

    async def serve(self) -> None:
        from aiohttp import web

        from tests.fakes.telegram_api import FakeTelegram

        self.telegram = FakeTelegram(token=TOKEN, clock=time.time)
        await self.telegram.start()
        server = web.Server(self.handle, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await runner.setup()
        ports = []
        for _ in range(HOSTS):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        counts = Counter(f.plan.kind for f in self.feeds)
        print(
            json.dumps(
                {
                    "ports": ports,
                    "telegram": self.telegram.api_root,
                    "posts": len(self.posts),
                    "kinds": counts,
                    "conditional": sum(f.plan.conditional for f in self.feeds),
                    "slow": sum(f.plan.slow for f in self.feeds),
                    "failing": sum(f.plan.failing for f in self.feeds),
                    "tme_templates": len(self.blocks),
                }
            ),
            flush=True,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WORLD_LIFETIME)
        await runner.cleanup()
        await self.telegram.stop()


@dataclass
class WorldHandle:
    process: asyncio.subprocess.Process
    ports: list[int]
    telegram: str
    info: dict[str, Any]

    @property
    def control(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}/_ctl"

    def url(self, plan: Plan) -> str:
        port = self.ports[0] if plan.kind == "tme" else self.ports[1 + plan.index % (HOSTS - 1)]
        return f"http://127.0.0.1:{port}{feed_path(plan)}"

    async def results(self, what: str = "results") -> dict[str, Any]:
        """``results``: the desk's messages and serve times; ``bulk``: also the watch
        rules' messages and when each feed was first served; ``sent``: counts only."""
        import aiohttp

        async with aiohttp.ClientSession() as http, http.get(f"{self.control}/{what}") as r:
            return dict(await r.json())

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_world(count: int, with_tme: bool, log: Path) -> WorldHandle:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench_scale",
        "--world",
        json.dumps({"count": count, "tme": with_tme}),
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 300)
        info = json.loads(line)
    except (TimeoutError, ValueError):
        process.kill()
        await process.wait()
        raise RuntimeError(f"the world did not start; see {log}") from None
    return WorldHandle(process, info.pop("ports"), info.pop("telegram"), info)


# --------------------------------------------------------------------------- the bot


def write_config(
    folder: Path,
    world: WorldHandle,
    sources: list[Plan],
    *,
    backfill: int,
    rules_file: str | None = None,
    hold_bulk: bool = False,
) -> Path:
    """A config as a newsroom would write it: defaults, 60 s polls, two Telegram chats;
    ``hold_bulk``: the watch rules' alerts wait for a daily digest not due in the run."""
    folder.mkdir(parents=True, exist_ok=True)
    digest_at = datetime.now(UTC) + timedelta(hours=12)
    held = f'\ndigest = "daily {digest_at:%H:%M}"' if hold_bulk else ""
    lines = [
        '[storage]\npath = "dozor.db"',
        '[polling]\ninterval = "60s"',
        f"[rules]\npaths = [{json.dumps(rules_file) if rules_file else ''}]",
        "[routes]\ndefault = []",
        f'[telegram]\napi_base_url = "{world.telegram}"\nper_chat_interval = "10ms"',
        f'[tme]\nbase_url = "http://127.0.0.1:{world.ports[0]}"',
        f'[[destinations]]\nname = "desk"\nkind = "telegram"\nchat_id = {DESK}',
        f'[[destinations]]\nname = "bulk"\nkind = "telegram"\nchat_id = {BULK}{held}',
    ]
    for plan in sources:
        where = (
            f'kind = "telegram"\nchannel = "ch{plan.index:05d}"'
            if plan.kind == "tme"
            else f'url = "{world.url(plan)}"'
        )
        lines.append(f'[[sources]]\nname = "s{plan.index:05d}"\n{where}\nbackfill = {backfill}')
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def make_app(config: Path, rules: list[Any]) -> Any:
    """The App as the tests build it, with its own process pool (as ``dozor run`` has)."""
    from bot.app import App
    from bot.config import load_config

    return App(
        load_config(config), rules, stream=io.StringIO(), environ={"TELEGRAM_BOT_TOKEN": TOKEN}
    )


def summarize(reports: list[Any], seconds: float) -> dict[str, Any]:
    statuses = Counter(r.status.value for r in reports)
    ingests = [r.ingest for r in reports if r.ingest is not None]
    new = sum(i.new for i in ingests)
    return {
        "sources": len(reports),
        "seconds": round(seconds, 2),
        "statuses": dict(statuses),
        "items": sum(i.items for i in ingests),
        "new_items": new,
        "matched_items": sum(i.matched for i in ingests),
        "alerts": sum(len(i.alerts) for i in ingests),
        "items_per_s": round(new / seconds) if seconds else 0,
    }


async def poll_cycles(
    app: Any, world: WorldHandle, limit: float
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A cold then a warm ``poll_all``, timed.  The outbox delivers while the cold one
    runs, as in ``dozor run``; its rule alerts are awaited at the fake Telegram before
    the warm one starts: (cold, warm, sends)."""
    await app.connect(listen=False)
    stop = asyncio.Event()
    delivery = asyncio.create_task(app.outbox.run(stop), name="outbox")
    out = []
    try:
        for cycle in ("cold", "warm"):
            start = time.perf_counter()
            async with asyncio.timeout(limit):
                reports = await app.poller.poll_all()
            out.append(summarize(reports, time.perf_counter() - start))
            if cycle == "cold":
                sends = await await_sends(app, world, out[0]["alerts"])
    finally:
        stop.set()
        await delivery
    return out[0], out[1], sends


_FEED_OF_LINK = re.compile(r'href="https://(?:news\d+\.example/f(\d+)/|t\.me/ch(\d+)/)')


async def await_sends(app: Any, world: WorldHandle, expected: int) -> dict[str, Any]:
    """Wait until the cold cycle's ``expected`` rule alerts are messages at the fake
    Telegram (or none came for 30 s); how many, and their latency: arrival - the moment
    the world first served the feed (the cycle's own wait for its turn included)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    deadline = began + 120 + expected / 20  # Telegram's 30 a second, and slack
    count, moved = -1, began
    while loop.time() < deadline and loop.time() - moved < 30:
        now = (await world.results("sent"))["bulk"]
        if now >= expected:
            break
        if now != count:
            count, moved = now, loop.time()
        await asyncio.sleep(0.5)
    waited = loop.time() - began
    data = await world.results("bulk")
    served = {int(k): v for k, v in data["first_served"].items()}
    latencies = []
    for message in data["bulk"]:
        found = _FEED_OF_LINK.search(message["text"])
        if found and int(found.group(1) or found.group(2)) in served:
            latencies.append(message["time"] - served[int(found.group(1) or found.group(2))])
    latencies.sort()
    outbox = app.store.outbox_counts().get("bulk", {})
    result: dict[str, Any] = {
        "expected": expected,
        "sent": outbox.get("sent", 0),
        "received": len(data["bulk"]),
        "outbox": outbox,
        "waited_after_cycle_s": round(waited, 1),
    }
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        result |= {
            "latency_p50_s": round(statistics.median(latencies), 2),
            "latency_p99_s": round(cuts[98], 2),
            "latency_max_s": round(latencies[-1], 2),
        }
    return result


async def measure_latency(
    app: Any, world: WorldHandle, sources: list[Plan], scale: Scale, posts: int
) -> dict[str, Any]:
    """Run the bot as ``dozor run`` does; inject items at random moments; pair each
    alert's arrival at the fake Telegram with the moment its item was first served."""
    import aiohttp

    rng = random.Random(7)
    stop = asyncio.Event()
    bot = asyncio.create_task(app.run_forever(stop), name="bot")
    eligible = [p.index for p in sources if p.healthy]
    count = min(scale.samples, len(eligible))
    feeds = rng.sample(eligible, count)
    texts = rng.sample(range(posts), min(count, posts))
    moments = sorted(rng.uniform(2.0, scale.window) for _ in range(count))
    links: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with aiohttp.ClientSession() as http:
        for n, (feed, moment) in enumerate(zip(feeds, moments, strict=True)):
            await asyncio.sleep(max(0.0, began + moment - loop.time()))
            query = f"feed={feed}&n={n}&post={texts[n % len(texts)]}"
            async with http.post(f"{world.control}/inject?{query}") as response:
                links[(await response.json())["link"]] = n
    # every source is polled within 60 s + 10% jitter + a 5 s tick; then some slack
    deadline = loop.time() + 66 + 5 + 30
    arrived: dict[int, float] = {}
    data: dict[str, Any] = {}
    while loop.time() < deadline:
        await asyncio.sleep(2.0)
        data = await world.results()
        for message in data["messages"]:
            for href in re.findall(r'href="([^"]+)"', message["text"]):
                if href in links:
                    arrived.setdefault(links[href], message["time"])
        if len(arrived) >= count:
            break
    stop.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(bot, 60)
    served = {int(k): v for k, v in data.get("served", {}).items()}
    latencies = sorted(arrived[n] - served[n] for n in arrived if n in served)
    result: dict[str, Any] = {
        "injected": count,
        "alerted": len(arrived),
        "samples": len(latencies),
        "window_s": scale.window,
    }
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        result |= {
            "median_s": round(statistics.median(latencies), 3),
            "p90_s": round(cuts[89], 3),
            "p99_s": round(cuts[98], 3),
            "max_s": round(latencies[-1], 3),
        }
    return result


# --------------------------------------------------------------------------- memory


def stored_items_db(items: int, sources: int, posts: list[Post]) -> Path:
    """A store as months of running leave it: ``items`` items over ``sources`` sources
    (real posts as text), 1% of them alerted and sent, the fingerprints of the newest
    alerts.  Built once through sqlite-utils and cached in the temp dir."""
    from bot.dedup import fingerprint
    from bot.migrations import MIGRATIONS
    from bot.model import Alert, Item, Match, Span
    from bot.store import Store, alert_to_json, iso
    from watchers.identity import story_key

    schema = len(MIGRATIONS)  # a store of an older schema would be migrated at start-up
    path = TMP / f"dozor-bench-store-{VERSION}-s{schema}-{items}-{sources}.db"
    if path.exists():
        return path
    part = path.with_name(path.name + ".part")
    for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
        leftover.unlink(missing_ok=True)
    print(f"building a store of {items:,} items (once; cached as {path}) ...", flush=True)
    store = Store.open(part)
    db = store.db
    now = datetime.now(UTC)
    rng = random.Random(1)
    per_source = items // sources
    db["source_state"].insert_all(
        (
            {
                "name": f"s{i:05d}",
                "configured_url": "",
                "baseline_done": 1,
                "items_seen": per_source,
                "last_success_at": iso(now - timedelta(minutes=5)),
            }
            for i in range(sources)
        ),
        batch_size=5000,
    )

    def item(k: int) -> Item:
        post = posts[k % len(posts)]
        link = f"https://old{k % 97}.example/{k}"
        when = now - timedelta(seconds=(items - k) * 31_536_000 / items)  # a year of items
        return Item(
            f"s{k % sources:05d}", f"guid:old-{k}", story_key(link, "", ""), post.title,
            post.text, link, when, tags=("bench",),
        )  # fmt: skip

    def rows() -> Any:
        for k in range(items):
            it = item(k)
            stamp = iso(it.published) if it.published else None
            yield {
                "source": it.source, "key": it.key, "story_key": it.story_key,
                "title": it.title[:500], "link": it.link, "published_at": stamp,
                "first_seen_at": stamp, "text": it.text[:5000], "tags": '["bench"]',
            }  # fmt: skip

    db["items"].insert_all(rows(), batch_size=10_000)
    alerted = sorted(rng.sample(range(items), items // 100))
    alerts = []
    for k in alerted:
        it = item(k)
        word = WORD.search(it.text)
        term = word.group() if word else "news"
        span = Span("text", word.start(), word.end(), term) if word else Span("title", 0, 1, term)
        alert = Alert("desk", it, (Match(f"watch-{k % 1000}", (term,), (span,)),), it.story_key)
        stamp = iso(it.published or now)
        alerts.append(
            {
                "destination": "desk",
                "story_key": it.story_key,
                "source": it.source,
                "rules": alert.matches[0].rule,
                "created_at": stamp,
                "state": "sent",
                "attempts": 1,
                "next_attempt_at": stamp,
                "sent_at": stamp,
                "remote_id": str(k),
                "item_key": it.key,
                "payload": json.dumps(alert_to_json(alert), ensure_ascii=False),
            }
        )
    db["alerts"].insert_all(alerts, batch_size=5000)
    recent = alerted[-max(200, len(alerted) // 5) :]
    db["fingerprints"].insert_all(
        (
            {
                "story_key": item(k).story_key,
                "item_key": item(k).key,
                "data": json.dumps(fingerprint(item(k)).to_json()),
                "seen_at": iso(now),
            }
            for k in recent
        ),
        batch_size=1000,
    )
    store.close()
    os.replace(part, path)
    return path


def prepare_store(cached: Path, target: Path, urls: dict[str, str]) -> None:
    """A copy of the cached store, as if the bot had been running on this config until a
    moment ago (sources' URLs as configured, fingerprints within the dedup window)."""
    from bot.store import iso

    shutil.copyfile(cached, target)
    now = datetime.now(UTC)
    with contextlib.closing(sqlite3.connect(target)) as db, db:
        db.executemany(
            "update source_state set configured_url = ? where name = ?",
            [(url, name) for name, url in urls.items()],
        )
        rows = db.execute("select rowid from fingerprints").fetchall()
        db.executemany(
            "update fingerprints set seen_at = ? where rowid = ?",
            [
                (iso(now - timedelta(hours=47 * k / max(1, len(rows)))), rowid)
                for k, (rowid,) in enumerate(rows)
            ],
        )


def rss_of_tree(pids: list[int]) -> int:
    """Resident set, in KiB, of these processes together (Linux /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def peak_rss_kib() -> int:
    """This process's peak resident set (``VmHWM``), in KiB.  Not ``ru_maxrss``: Linux
    carries that over an exec from the process that forked (it read as the bench's own
    ~340 MB, not the bot's), while ``VmHWM`` belongs to the program now running."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
    return out


async def memory_child(args: dict[str, Any]) -> dict[str, Any]:
    """``dozor run`` on the prepared store, timed from process start; peak memory after
    one full poll cycle."""
    from bot.app import App
    from bot.cli import load_rules
    from bot.config import load_config
    from bot.logs import setup_logging
    from bot.matching import RuleFiles

    marks = {"imports": time.time()}
    folder = Path(args["folder"])
    log = (folder / "bot.log").open("w", encoding="utf-8")
    setup_logging("info", "text", stream=log, environ={"TELEGRAM_BOT_TOKEN": TOKEN})
    settings = load_config(folder / "config.toml")
    files = RuleFiles(settings.rules.paths, settings.base_dir)
    rules, problems = load_rules(settings, files)
    marks["config_and_rules"] = time.time()
    app = App(settings, rules, environ={"TELEGRAM_BOT_TOKEN": TOKEN}, rule_files=files)
    done: set[str] = set()
    peak_tree = 0
    stop = asyncio.Event()

    worker_peak: dict[int, int] = {}  # child pid -> its largest sampled VmRSS (KiB)
    timeline: list[tuple[float, int]] = []  # (seconds since start, the bot's RSS in MB)

    async def sample() -> None:
        nonlocal peak_tree
        while not stop.is_set():
            me = os.getpid()
            children = children_of(me)
            peak_tree = max(peak_tree, rss_of_tree([me, *children]))
            timeline.append((round(time.time() - args["t0"], 1), rss_of_tree([me]) // 1024))
            for child in children:
                worker_peak[child] = max(worker_peak.get(child, 0), rss_of_tree([child]))
            await asyncio.sleep(0.25)

    async with app:
        marks["app_entered"] = time.time()
        due, poll = app.poller.poll_due, app.poller.poll

        async def first_tick() -> int:
            marks.setdefault("first_tick", time.time())
            if args.get("startup_only"):
                stop.set()
                return 0
            return int(await due())

        async def counted(source: Any) -> Any:
            report = await poll(source)
            done.add(source.name)
            return report

        app.poller.poll_due, app.poller.poll = first_tick, counted
        sampler = asyncio.create_task(sample())
        bot = asyncio.create_task(app.run_forever(stop))
        deadline = time.monotonic() + args["limit"]
        # (stop is set at the first tick when only the start-up is measured)
        while not stop.is_set() and len(done) < args["sources"] and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a set filled by callbacks
            await asyncio.sleep(0.2)
        marks["cycle_done"] = time.time()
        peak_self = peak_rss_kib()
        items = app.store.items_count()
        stop.set()
        await asyncio.wait_for(bot, 60)
        await sampler
    log.close()
    t0 = args["t0"]
    return {
        "rule_problems": len(problems),
        "rules": len(rules),
        "sources": len(settings.sources),
        "polled": len(done),
        "items_after": items,
        "startup_s": round(marks["first_tick"] - t0, 2),
        "startup_breakdown_s": {k: round(v - t0, 2) for k, v in marks.items()},
        "cycle_s": round(marks["cycle_done"] - marks["first_tick"], 2),
        "peak_rss_mb": round(peak_self / 1024, 1),
        # sampled VmRSS: ru_maxrss of a child would count the parent's pages it
        # shared between fork and exec
        "largest_child_rss_mb": round(max(worker_peak.values(), default=0) / 1024, 1),
        "workers": len(worker_peak),
        "rss_timeline_mb": timeline[:: max(1, len(timeline) // 60)],
        "peak_rss_with_pool_mb": round(peak_tree / 1024, 1),
    }


async def measure_memory(
    world: WorldHandle, sources: list[Plan], scale: Scale, posts: list[Post], vocab: Any, work: Path
) -> dict[str, Any]:
    cached = stored_items_db(scale.stored_items, len(sources), posts)
    folder = work / "memory"
    rules = watch_rules(scale.memory_rules, *vocab, hit_share=0.01)
    config = write_config(
        folder, world, sources, backfill=0, rules_file="rules.toml", hold_bulk=True
    )
    (folder / "rules.toml").write_text(
        "".join(
            f'[[rule]]\nname = "{r.name}"\nany = {json.dumps(list(r.any), ensure_ascii=False)}\n'
            'destinations = ["bulk"]\n\n'
            for r in rules
        ),
        "utf-8",
    )
    from bot.config import load_config

    settings = load_config(config)
    prepare_store(cached, folder / "dozor.db", {s.name: s.url for s in settings.sources})
    # a cold start first (the rules compiled and written beside the store), then the
    # measured run starts warm, as every start after the first does
    cold = await _run_child(folder, len(sources), startup_only=True)
    result = await _run_child(folder, len(sources), startup_only=False)
    result["startup_cold_s"] = cold["startup_s"]
    result["startup_cold_breakdown_s"] = cold["startup_breakdown_s"]
    result["stored_items"] = scale.stored_items
    result["store_mb"] = round(cached.stat().st_size / 2**20)
    return result


async def _run_child(folder: Path, sources: int, *, startup_only: bool) -> dict[str, Any]:
    args = {
        "folder": str(folder),
        "sources": sources,
        "limit": 420.0,
        "t0": time.time(),
        "startup_only": startup_only,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench_scale",
        "--memory-child",
        json.dumps(args),
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=(folder / "stderr.txt").open("wb"),
    )
    try:
        out, _ = await asyncio.wait_for(child.communicate(), 600)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise RuntimeError(f"the memory run did not finish; see {folder}") from None
    lines = out.decode().strip().splitlines()
    if child.returncode or not lines:
        raise RuntimeError(f"the memory run failed ({child.returncode}); see {folder}")
    return dict(json.loads(lines[-1]))


# --------------------------------------------------------------------------- report


def verdict(value: float | None, limit: float) -> str:
    return "n/a" if value is None else "PASS" if value < limit else "MISS"


def report(results: dict[str, Any]) -> str:
    def num(value: Any, unit: str, digits: int = 2) -> str:
        return "not measured" if value is None else f"{value:,.{digits}f} {unit}"

    cycles = results["cycles"]
    lat = results.get("latency", {})
    mem = results.get("memory", {})
    big = cycles.get(str(FULL.sources))
    small = cycles.get("1000")

    sends = (big or small or {}).get("sends", {})

    def cold(cycle: dict[str, Any] | None) -> float | None:
        return cycle["cold"]["seconds"] if cycle else None

    def warm(cycle: dict[str, Any] | None) -> float | None:
        return cycle["warm"]["seconds"] if cycle else None

    rows = [
        ("poll cycle, 1,000 sources, cold (all new)", num(cold(small), "s"), "", ""),
        ("poll cycle, 1,000 sources, warm (cond. GET)", num(warm(small), "s"), "", ""),
        ("poll cycle, 10,000 sources, cold (all new)", num(cold(big), "s"), "", ""),
        (
            "poll cycle, 10,000 sources, warm (cond. GET)",
            num(big and big["warm"]["seconds"], "s"),
            "< 60 s",
            verdict(big and big["warm"]["seconds"], TARGETS["cycle_warm_s"]),
        ),
        (
            "items/s, fetch > match 1,000 rules > outbox",
            num((big or small or {}).get("cold", {}).get("items_per_s"), "/s", 0),
            "", "",
        ),
        (
            "rule alerts of the all-new cycle at Telegram / expected",
            "not measured" if not sends else f"{sends['received']:,} / {sends['expected']:,}",
            "", "",
        ),
        (
            "  their latency (feed served -> at Telegram), p50 / p99",
            "not measured" if "latency_p50_s" not in sends
            else f"{sends['latency_p50_s']:.1f} / {sends['latency_p99_s']:.1f} s",
            "", "",
        ),
        (
            f"alert latency, bot's share, median (n={lat.get('samples', 0)})",
            num(lat.get("median_s"), "s"),
            "",
            "",
        ),
        (
            "alert latency, bot's share, p99",
            num(lat.get("p99_s"), "s"),
            "< 1 s",
            verdict(lat.get("p99_s"), TARGETS["latency_p99_s"]),
        ),
        (
            f"peak RSS, {mem.get('sources', 0):,} src/{mem.get('rules', 0):,} rules/"
            f"{mem.get('stored_items', 0):,} items",
            num(mem.get("peak_rss_mb"), "MB", 0),
            "< 300 MB",
            verdict(mem.get("peak_rss_mb"), TARGETS["peak_rss_mb"]),
        ),
        (
            f"  with its {mem.get('workers', 0)} child processes (sum; largest)",
            f"{mem.get('peak_rss_with_pool_mb', 0):,.0f} MB; "
            f"{mem.get('largest_child_rss_mb', 0):,.0f} MB",
            "",
            "",
        ),
        (
            "start-up with that store (to first tick), warm",
            num(mem.get("startup_s"), "s"),
            "< 5 s",
            verdict(mem.get("startup_s"), TARGETS["startup_s"]),
        ),
        (
            "  cold (no compiled rules beside the store)",
            num(mem.get("startup_cold_s"), "s"),
            "",
            "",
        ),
    ]  # fmt: skip
    lines = [
        f"Dozor scale benchmark, {results['mode']} mode, {results['date']}, "
        f"{results['cpus']} cores, Python {results['python']}",
        f"{'':<52}{'measured':>16}{'target':>11}{'':>6}",
    ]
    lines += [f"{name:<52}{value:>16}{target:>11}{ok:>6}" for name, value, target, ok in rows]
    return "\n".join(lines)


def targets_met(results: dict[str, Any]) -> dict[str, str]:
    big = results["cycles"].get(str(FULL.sources))
    values = {
        "cycle_warm_s": big and big["warm"]["seconds"],
        "latency_p99_s": results.get("latency", {}).get("p99_s"),
        "peak_rss_mb": results.get("memory", {}).get("peak_rss_mb"),
        "startup_s": results.get("memory", {}).get("startup_s"),
    }
    return {key: verdict(values[key], limit) for key, limit in TARGETS.items()}


async def main(scale: Scale, out: Path) -> dict[str, Any]:
    began = time.perf_counter()
    with_tme = (ROOT / "watchers" / "telegram_channel.py").exists()
    posts = load_posts()
    vocab = rule_vocabulary(posts)
    rules = [*watch_rules(scale.rules, *vocab, hit_share=0.03), latency_rule()]
    results: dict[str, Any] = {
        "mode": "quick" if scale is QUICK else "full",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "posts": len(posts),
        "vocabulary": {"absent": len(vocab[0]), "rare": len(vocab[1])},
        "cycles": {},
    }
    work = Path(tempfile.mkdtemp(prefix="dozor-bench-scale-"))
    from bot.logs import setup_logging

    log = (work / "bot.log").open("w", encoding="utf-8")
    setup_logging("info", "text", stream=log, environ={"TELEGRAM_BOT_TOKEN": TOKEN})
    world = await start_world(scale.sources, with_tme, work / "world.txt")
    try:
        everything = plans(scale.sources, with_tme and world.info["tme_templates"] > 0)
        results["world"] = world.info
        results["tme_measured"] = any(p.kind == "tme" for p in everything)
        for count in sorted({1000, scale.sources}):
            sources = everything[:count]
            print(f"poll cycles over {count:,} sources ...", flush=True)
            app = make_app(
                write_config(work / f"bot{count}", world, sources, backfill=PER_FEED), rules
            )
            async with app:
                cold, warm, sends = await poll_cycles(app, world, 900.0)
                results["cycles"][str(count)] = {"cold": cold, "warm": warm, "sends": sends}
                if count == scale.sources:
                    print(f"alert latency over {count:,} sources ...", flush=True)
                    results["latency"] = await measure_latency(
                        app, world, sources, scale, len(posts)
                    )
        print("start-up and memory ...", flush=True)
        results["memory"] = await measure_memory(world, everything, scale, posts, vocab, work)
        results["world_answers"] = (await world.results())["counts"]
    finally:
        await world.close()
        log.close()
    results["runtime_s"] = round(time.perf_counter() - began, 1)
    results["targets"] = targets_met(results)
    results["work_dir"] = str(work)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        previous = await asyncio.to_thread(out.read_text, "utf-8")
        results["matching"] = json.loads(previous)["matching"]  # tests.bench wrote it
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    await asyncio.to_thread(out.write_text, text, "utf-8")
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sources, 100k stored items")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--world", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.world:
        spec = json.loads(args.world)
        asyncio.run(World(spec["count"], spec["tme"]).serve())
        return
    if args.memory_child:
        print(json.dumps(asyncio.run(memory_child(json.loads(args.memory_child)))), flush=True)
        return
    scale = QUICK if args.quick else FULL
    results = asyncio.run(main(scale, args.json))
    print()
    print(report(results))
    if not results["tme_measured"]:
        print("t.me/s channels: not measured (watchers/telegram_channel.py is missing)")
    print(f"\n{results['runtime_s']:.0f} s in all; results in {args.json}")


if __name__ == "__main__":
    cli()
