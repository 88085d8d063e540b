"""Evidence keeping: the pictures of alerted items, saved on disk before the post is gone.

    pipeline -> alerts (outbox) ... EvidenceKeeper.run (beside the outbox, never in its
    way) -> store.evidence.evidence_pending -> fetch_image (watchers/media.py) -> disk

Off unless ``[evidence] enabled = true``.  For each item that fired an alert (not a
suppressed one; alerts of the last day when the bot starts), once: its first
``max_files_per_item`` pictures (``Item.images``: photos, video thumbnails, link
preview pictures) are fetched through the SSRF-safe ``fetch_image`` (private
addresses refused unless ``[polling] allow_private`` names them, every redirect hop
checked, ``max_file_mb`` cap while streaming, image/* with an image's magic number,
``timeout`` for the whole download) into ``<dir>/<item folder>/<sha256>.<ext>`` with a
JSON sidecar ``<sha256>.json`` (source, item, post URL, alert, fetched at, SHA-256,
original URL, URL after redirects, MIME type, size).  A picture already kept (same
address, or same content) is hard-linked, not fetched or stored again.  A picture
that fails a check gets one warning line in the log and nothing on disk.  Disk use is
capped by ``max_mb``: the oldest items' pictures are removed first.

The keeper runs as its own task: an alert is never delayed by a download.  Hashing
and file writes run in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import EvidenceSettings
from bot.model import Item
from bot.store import EvidenceFile, Store, StoredAlert
from watchers.http import HttpClient
from watchers.media import FetchedImage, ImageError, fetch_image

log = logging.getLogger("dozor.evidence")

MB = 1024 * 1024
LOOK_BACK = timedelta(days=1)  # alerts not yet taken care of when the bot starts
IDLE = 60.0  # seconds between looks for alerts when nothing wakes the keeper


def item_folder(item: Item) -> str:
    """The item's folder name: readable, filesystem-safe, unique per (source, key)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{item.source}-{item.key}").strip("._")[:80]
    digest = hashlib.sha1(f"{item.source}\0{item.key}".encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


class EvidenceKeeper:
    def __init__(
        self,
        store: Store,
        http: HttpClient,
        settings: EvidenceSettings,
        folder: Path,
        clock: Callable[[], datetime],
        allow_private: tuple[str, ...] = (),
    ):
        self.store = store
        self.http = http
        self.settings = settings
        self.folder = folder
        self.clock = clock
        self.allow_private = allow_private
        self.since = clock() - LOOK_BACK
        self._wake = asyncio.Event()
        store.evidence.forget_unfinished()  # cut short by a stop: taken in hand again

    def wake(self) -> None:
        """New alerts were enqueued: look for pictures to keep."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep evidence until ``stop``; a download in hand is abandoned at stop (the
        item is tried again at the next start)."""
        while not stop.is_set():
            self._wake.clear()
            work = asyncio.create_task(self.keep_pending())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE):
                    waiter = asyncio.create_task(self._wake.wait())
                    stopped = asyncio.create_task(stop.wait())
                    try:
                        await asyncio.wait({waiter, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
                        stopped.cancel()

    async def keep_pending(self) -> int:
        """Keep the pictures of every alerted item not yet taken care of; how many kept."""
        kept = 0
        while True:
            pending = self.store.evidence.evidence_pending(self.since)
            if not pending:
                return kept
            for stored in pending:
                kept += await self.keep(stored)

    async def keep(self, stored: StoredAlert) -> int:
        item = stored.alert.item
        folder = item_folder(item)
        if not self.store.evidence.start_evidence(item.source, item.key, folder, self.clock()):
            return 0
        kept = 0
        seen: set[str] = set()
        for media in item.images[: self.settings.max_files_per_item]:
            if media.url is None or media.url in seen:
                continue
            seen.add(media.url)
            try:
                kept += await self._keep_one(stored, folder, media.url)
            except ImageError as exc:
                log.warning("evidence of alert #%d (%s): %s", stored.id, item.source, exc)
            except OSError as exc:
                log.warning(
                    "evidence of alert #%d (%s): cannot write under %s: %s",
                    stored.id,
                    item.source,
                    self.folder,
                    exc.strerror or exc,
                )
            except Exception as exc:  # a bug must not stop the keeper, nor run --once
                log.warning(
                    "evidence of alert #%d (%s): internal error: %r", stored.id, item.source, exc
                )
        self.store.evidence.finish_evidence(item.source, item.key, kept, self.clock())
        if kept:
            await self._cap(keep=(item.source, item.key))
        return kept

    async def _keep_one(self, stored: StoredAlert, folder: str, url: str) -> int:
        item = stored.alert.item
        known = self.store.evidence.evidence_file_like(url=url)
        source_path = self._path(known) if known is not None else None
        fetched: FetchedImage | None = None
        if known is None or source_path is None or not source_path.exists():
            fetched = await fetch_image(
                self.http,
                url,
                max_bytes=self.settings.max_file_mb * MB,
                allow_private=self.allow_private,
                timeout=self.settings.timeout.total_seconds(),
            )
            known = self.store.evidence.evidence_file_like(sha256=fetched.sha256)
            source_path = self._path(known) if known is not None else None
        if fetched is not None:
            record = EvidenceFile(
                item.source,
                item.key,
                folder,
                fetched.sha256 + fetched.extension,
                fetched.sha256,
                url,
                fetched.url,
                fetched.mime,
                fetched.size,
                self.clock(),
            )
        else:
            assert known is not None
            record = replace(known, source=item.source, item_key=item.key, folder=folder)
        sha, mime, name = record.sha256, record.mime, record.name
        sidecar = {
            "source": item.source,
            "item": item.key,
            "post_url": item.link,
            "alert": stored.id,
            "fetched_at": record.fetched_at.isoformat(),
            "sha256": sha,
            "original_url": record.original_url,
            "url": record.url,
            "mime": mime,
            "size": record.size,
        }
        target = self.folder / folder / name
        body = fetched.body if fetched else None
        await asyncio.to_thread(_write, target, body, source_path, sidecar)
        return int(self.store.evidence.add_evidence_file(record))

    def _path(self, f: EvidenceFile | None) -> Path | None:
        return self.folder / f.folder / f.name if f is not None else None

    async def _cap(self, keep: tuple[str, str]) -> None:
        """Remove the oldest items' pictures until the disk use is under ``max_mb``."""
        limit = self.settings.max_mb * MB
        while self.store.evidence.evidence_usage()[1] > limit:
            oldest = [o for o in self.store.evidence.evidence_oldest() if o[:2] != keep]
            if not oldest:
                return
            source, key, folder = oldest[0]
            files = self.store.evidence.forget_evidence_files(source, key)
            await asyncio.to_thread(shutil.rmtree, self.folder / folder, True)
            log.info(
                "evidence: over the %d MB cap, removed the %d pictures of %s %s (the oldest)",
                self.settings.max_mb,
                len(files),
                source,
                key,
            )


def _write(target: Path, body: bytes | None, same: Path | None, sidecar: dict[str, object]) -> None:
    """Put a picture at ``target``: a hard link to ``same`` (the same picture kept for
    another item) where it exists, else ``body`` written whole (a temporary file renamed);
    then its sidecar."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        temporary = target.with_suffix(target.suffix + ".part")
        if same is not None and same.exists():
            try:
                os.link(same, temporary)
            except OSError:
                shutil.copyfile(same, temporary)
        elif body is not None:
            temporary.write_bytes(body)
        else:
            raise OSError(f"the kept copy {same} is gone")
        os.replace(temporary, target)
    target.with_suffix(".json").write_text(
        json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def export_zip(store: Store, stored: StoredAlert, folder: Path) -> bytes:
    """A zip of one alert's evidence: ``alert-N.txt`` (the text as stored), the pictures
    and their sidecars, and ``SHA256SUMS`` (``sha256sum -c`` reads it) over all of them."""
    item = stored.alert.item
    lines = [
        f"Dozor alert #{stored.id}, rules: " + ", ".join(m.rule for m in stored.alert.matches),
        f"Source: {item.source}",
        f"Item: {item.key}",
    ]
    if item.published:
        lines.append(f"Published: {item.published.isoformat()}")
    lines.append(f"Alerted: {stored.created_at.isoformat()}")
    if item.link:
        lines.append(f"Link: {item.link}")
    if item.title:
        lines.append(f"Title: {item.title}")
    lines += ["", item.text, ""]
    text = "\n".join(lines).encode("utf-8")
    buffer = io.BytesIO()
    sums: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        name = f"alert-{stored.id}.txt"
        zf.writestr(name, text)
        sums.append(f"{hashlib.sha256(text).hexdigest()}  {name}")
        for f in store.evidence.evidence_files(item.source, item.key):
            path = folder / f.folder / f.name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            zf.writestr(f.name, data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {f.name}")
            sidecar = path.with_suffix(".json")
            if sidecar.exists():
                zf.writestr(sidecar.name, sidecar.read_bytes())
        zf.writestr("SHA256SUMS", "\n".join(sums) + "\n")
    return buffer.getvalue()
