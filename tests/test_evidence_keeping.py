"""Evidence keeping (bot/evidence.py): the pictures of an alerted post saved on disk,
still there after the post is deleted, listed by /show and exported with their hashes;
and every bad picture refused with one warning line, nothing kept, the alert delivered.

A fake t.me serves the channel, a fake image server on 127.0.0.1 serves the pictures
(and the bad ones), the fake Bot API plays the desk's chat; the real watcher, pipeline,
store, outbox, evidence keeper and python-telegram-bot run against them."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import zipfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from bot.app import App
from bot.cli import load_rules, main, status_command
from bot.config import ConfigError, load_config
from tests.clock import Clock
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.fakes.tme_server import FakeChannel, TmeServer
from tests.feeds import post

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:EVIDENCE-token"
DESK = -1005000000002
MEMBER = 7
POOL = ThreadPoolExecutor(2)
FILLER = "Учения ОДКБ в 2025 году пройдут в Белоруссии, Казахстане и Киргизии."
DEIR = post(271457)["text"]  # RIA: the Syrian army repelled attacks in Deir ez-Zor


def jpeg(seed: int, side: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (seed % 256, 80, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


class ImageServer:
    """Pictures and bad pictures on 127.0.0.1: ``/p/<n>.jpg`` a JPEG; ``/huge.jpg`` an
    endless JPEG-looking stream (2 GB if read to the end); ``/page.jpg`` HTML served as
    image/jpeg; ``/loop`` a redirect to itself; ``/slow.jpg`` headers, then nothing;
    ``/to-metadata`` a redirect to 169.254.169.254."""

    def __init__(self) -> None:
        self.sent_huge = 0  # bytes /huge.jpg sent before the client hung up
        self.slow_asked = asyncio.Event()
        self.release = asyncio.Event()
        self.images: dict[str, bytes] = {}
        app = web.Application()
        app.router.add_get("/p/{name}", self._picture)
        app.router.add_get("/huge.jpg", self._huge)
        app.router.add_get("/page.jpg", self._page)
        app.router.add_get("/loop", self._loop)
        app.router.add_get("/slow.jpg", self._slow)
        app.router.add_get("/to-metadata", self._metadata)
        self.runner = web.AppRunner(app)

    async def __aenter__(self) -> ImageServer:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await self.runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _picture(self, request: web.Request) -> web.Response:
        body = self.images.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="image/jpeg")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        chunk = b"\xff\xd8\xff\xe0" + b"\0" * (64 * 1024 - 4)
        try:
            while self.sent_huge < 2 * 1024**3:
                await response.write(chunk)
                self.sent_huge += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(body=b"<!doctype html><html><body>gotcha</body></html>",
                            content_type="image/jpeg")  # fmt: skip

    async def _loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def _metadata(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/x.jpg")

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        await response.write(b"\xff\xd8\xff\xe0")
        self.slow_asked.set()
        await self.release.wait()
        return response


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, TmeServer, ImageServer]]:
    async with FakeTelegram(token=TOKEN) as tg, TmeServer() as tme, ImageServer() as images:
        yield tg, tme, images


def make_app(
    tmp_path: Path,
    tg: FakeTelegram,
    tme: TmeServer,
    clock: Clock,
    *,
    allow: str = '["127.0.0.1"]',
    timeout: str = "2s",
    evidence: str = "",
) -> App:
    (tmp_path / "config.toml").write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
jitter = 0
timeout = "5s"
allow_private = {allow}
[dedup]
enabled = false  # the posts here tell one story on purpose
[tme]
base_url = "{tme.base_url}"
page_jitter = "0s"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[telegram]
api_base_url = "{tg.api_root}"
per_chat_interval = "10ms"
[evidence]
enabled = true
max_file_mb = 1
timeout = "{timeout}"
{evidence}
[[destinations]]
name = "desk"
kind = "telegram"
chat_id = {DESK}
[[sources]]
name = "osint"
kind = "telegram"
channel = "osint_news"
""",
        encoding="utf-8",
    )
    settings = load_config(tmp_path / "config.toml")
    rules, problems = load_rules(settings)
    assert problems == []
    return App(
        settings,
        rules,
        stream=io.StringIO(),
        pool=POOL,
        clock=clock,
        environ={"TELEGRAM_BOT_TOKEN": TOKEN},
    )


def shown(message: SentMessage) -> str:
    return message.text or message.caption or ""


async def alert_posts(
    app: App, chan: FakeChannel, tg: FakeTelegram, *images: str
) -> list[tuple[int, SentMessage]]:
    """A baseline, then one Deir ez-Zor post per image URL: each alerts the desk (the
    alerts are delivered before any picture is fetched)."""
    if not app.store.baseline_done("osint"):
        chan.post(FILLER)
        await app.poller.poll_all()
    before = len(tg.messages(DESK))
    numbers = [
        chan.post(f"{DEIR} ({n})", media="photo", image=image) for n, image in enumerate(images)
    ]
    await app.poller.poll_all()
    assert await app.outbox.deliver_due() == len(images)
    sent = tg.messages(DESK)[before:]
    for number, message in zip(numbers, sent, strict=True):
        assert f"https://t.me/osint_news/{number}" in shown(message)
    return list(zip(numbers, sent, strict=True))


def kept_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def reply_to(tg: FakeTelegram, command: str) -> SentMessage:
    before = len(tg.messages(DESK))
    tg.push_command(DESK, command, user_id=MEMBER, username="anna")
    for _ in range(250):
        if len(tg.messages(DESK)) > before:
            return tg.messages(DESK)[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no answer to {command!r}")


async def test_a_deleted_posts_photo_is_kept_listed_and_exported(
    tmp_path: Path, servers: tuple[FakeTelegram, TmeServer, ImageServer]
) -> None:
    tg, tme, images = servers
    photo = images.images["1.jpg"] = jpeg(1)
    digest = hashlib.sha256(photo).hexdigest()
    clock = Clock()
    chan = tme.channel("osint_news", title="OSINT News")
    async with make_app(tmp_path, tg, tme, clock) as app:
        await app.connect(listen=True)
        ((number, alert),) = await alert_posts(app, chan, tg, images.url("/p/1.jpg"))
        assert app.evidence is not None
        assert await app.evidence.keep_pending() == 1
        files = kept_files(tmp_path / "evidence")
        assert [f.name for f in files] == [f"{digest}.jpg", f"{digest}.json"]
        assert files[0].read_bytes() == photo
        sidecar = json.loads(files[1].read_text())
        assert sidecar["sha256"] == digest and sidecar["size"] == len(photo)
        assert sidecar["original_url"] == images.url("/p/1.jpg")
        assert sidecar["post_url"] == f"https://t.me/osint_news/{number}"
        assert (sidecar["source"], sidecar["mime"], sidecar["alert"]) == ("osint", "image/jpeg", 1)
        assert sidecar["fetched_at"].startswith("2024-12-03T07:00")

        chan.delete(number)  # the channel deletes the post, and its photo with it
        del images.images["1.jpg"]
        clock.now += timedelta(minutes=10)
        await app.poller.poll_all()
        await app.outbox.deliver_due()
        listed = await reply_to(tg, "/show 1")

    (edit,) = alert.edits
    assert "🗑 Deleted from osint by 2024-12-03 07:10 UTC" in (edit.text or edit.caption or "")
    assert "the text and 1 picture are kept (evidence): /show 1" in (
        edit.text or edit.caption or ""
    )
    assert "📎 Evidence kept: 1 picture" in shown(listed)
    assert f"{digest}.jpg" in shown(listed) and f"sha256 {digest}" in shown(listed)

    out = tmp_path / "alert1.zip"
    assert (
        main(["evidence", "export", "1", "-o", str(out), "--config", str(tmp_path / "config.toml")])
        == 0
    )
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert names == {"alert-1.txt", f"{digest}.jpg", f"{digest}.json", "SHA256SUMS"}
        text = zf.read("alert-1.txt").decode()
        assert " ".join(DEIR.split()) in " ".join(text.split())
        assert zf.read(f"{digest}.jpg") == photo
        sums = dict(
            reversed(line.split("  "))
            for line in zf.read("SHA256SUMS").decode().split("\n")
            if line
        )
        assert sums[f"{digest}.jpg"] == digest
        assert sums["alert-1.txt"] == hashlib.sha256(zf.read("alert-1.txt")).hexdigest()


BAD = {
    "refused": ("/p/1.jpg", "[]", "loopback address"),  # allow_private does not name it
    "redirect to metadata": ("/to-metadata", '["127.0.0.1"]', "169.254.169.254"),
    "2 GB image": ("/huge.jpg", '["127.0.0.1"]', "larger than the 1 MB cap"),
    "HTML as image/jpeg": ("/page.jpg", '["127.0.0.1"]', "are not a picture"),
    "redirect loop": ("/loop", '["127.0.0.1"]', "too many redirects"),
    "slow server": ("/slow.jpg", '["127.0.0.1"]', "timed out after 2 s"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_picture_is_one_warning_nothing_kept_and_the_alert_delivered(
    case: str,
    tmp_path: Path,
    servers: tuple[FakeTelegram, TmeServer, ImageServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg, tme, images = servers
    images.images["1.jpg"] = jpeg(1)
    path, allow, reason = BAD[case]
    chan = tme.channel("osint_news", title="OSINT News")
    async with make_app(tmp_path, tg, tme, Clock(), allow=allow) as app:
        await app.connect(listen=False)
        await alert_posts(app, chan, tg, images.url(path))  # delivered, picture or not
        assert app.evidence is not None
        with caplog.at_level(logging.WARNING, logger="dozor.evidence"):
            assert await app.evidence.keep_pending() == 0
        assert app.store.evidence.evidence_usage() == (0, 0)
    warnings = [r.getMessage() for r in caplog.records if r.name == "dozor.evidence"]
    assert len(warnings) == 1, warnings
    assert reason in warnings[0] and "\n" not in warnings[0]
    assert warnings[0].startswith("evidence of alert #1 (osint): ")
    assert kept_files(tmp_path / "evidence") == []
    if case == "2 GB image":  # it stopped reading at the cap, far from 2 GB
        assert images.sent_huge < 64 * 1024 * 1024


async def test_a_slow_picture_never_delays_an_alert(
    tmp_path: Path, servers: tuple[FakeTelegram, TmeServer, ImageServer]
) -> None:
    """The keeper runs beside the outbox: while it waits on a server that never answers,
    the next alert goes out."""
    tg, tme, images = servers
    clock = Clock()
    chan = tme.channel("osint_news", title="OSINT News")
    async with make_app(tmp_path, tg, tme, clock, timeout="60s") as app:
        await app.connect(listen=False)
        assert app.evidence is not None
        await alert_posts(app, chan, tg, images.url("/slow.jpg"))
        stop = asyncio.Event()
        keeper = asyncio.create_task(app.evidence.run(stop))
        await asyncio.wait_for(images.slow_asked.wait(), 30)  # the keeper is stuck on it
        await alert_posts(app, chan, tg, images.url("/slow.jpg"))  # delivered meanwhile
        assert not keeper.done()
        stop.set()
        await asyncio.wait_for(keeper, 30)  # and it stops at once when the bot stops


async def test_reposts_are_stored_once_and_the_disk_cap_removes_the_oldest(
    tmp_path: Path, servers: tuple[FakeTelegram, TmeServer, ImageServer]
) -> None:
    tg, tme, images = servers
    big = [jpeg(n, side=900) for n in range(3)]  # ~20 KB each, distinct
    for n, body in enumerate(big):
        images.images[f"{n}.jpg"] = body
    clock = Clock()
    chan = tme.channel("osint_news", title="OSINT News")
    async with make_app(tmp_path, tg, tme, clock, evidence="max_mb = 1") as app:
        await app.connect(listen=False)
        assert app.evidence is not None
        # two posts with the same picture: one file on disk, linked into both folders
        await alert_posts(app, chan, tg, images.url("/p/0.jpg"), images.url("/p/0.jpg"))
        assert await app.evidence.keep_pending() == 2
        first, second = [p for p in kept_files(tmp_path / "evidence") if p.suffix == ".jpg"]
        assert first.parent != second.parent and first.name == second.name
        assert first.stat().st_ino == second.stat().st_ino and first.stat().st_nlink == 2
        assert app.store.evidence.evidence_usage() == (1, len(big[0]))

        # over the cap (made tiny here): the oldest items' pictures go first
        limit = len(big[0]) + len(big[1]) + len(big[2]) - 1
        app.evidence.settings = _with_cap(app.evidence.settings, limit)
        clock.now += timedelta(minutes=1)
        await alert_posts(app, chan, tg, images.url("/p/1.jpg"))
        await app.evidence.keep_pending()
        clock.now += timedelta(minutes=1)
        await alert_posts(app, chan, tg, images.url("/p/2.jpg"))
        await app.evidence.keep_pending()
        kept = {p.name for p in kept_files(tmp_path / "evidence") if p.suffix == ".jpg"}
        digests = [hashlib.sha256(b).hexdigest() + ".jpg" for b in big]
        assert kept == {digests[1], digests[2]}  # the two posts of picture 0 were the oldest
        out = io.StringIO()
        status_command(app.settings, out)
    assert "Evidence (on): 2 pictures" in out.getvalue()


def _with_cap(settings: object, limit_bytes: int) -> object:
    """The settings with ``max_mb`` such that ``limit_bytes`` is the cap (a fraction of
    a MB, to keep the test small)."""
    from dataclasses import replace

    return replace(settings, max_mb=limit_bytes / 1024 / 1024)  # type: ignore[type-var]


def test_evidence_is_off_by_default_and_kept_beside_the_store(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\npath = "data/dozor.db"\n', encoding="utf-8")
    settings = load_config(config)
    assert not settings.evidence.enabled
    assert settings.evidence_dir == tmp_path / "data" / "evidence"
    config.write_text('[evidence]\nenabled = true\ndir = "kept"\nmax_mb = "lots"\n')
    with pytest.raises(ConfigError, match=r"evidence\.max_mb"):
        load_config(config)
