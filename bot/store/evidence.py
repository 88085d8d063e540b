"""Store, evidence: which alerted items had their pictures kept, and the files kept.

The bookkeeping of bot/evidence.py: ``evidence_items`` (one row per item taken care
of, whether or not a picture could be kept, so no item is tried twice) and
``evidence_files`` (one row per picture kept: its SHA-256, the file's name in the
item's folder, where it came from).  Files are named by content hash; one picture seen
in several items is one file on disk (hard links), counted once in ``evidence_usage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.connection import Concern
from bot.store.rows import StoredAlert, alert_from_row, from_iso, iso


@dataclass(frozen=True)
class EvidenceFile:
    source: str
    item_key: str
    folder: str  # the item's folder, relative to the evidence dir
    name: str  # "<sha256>.jpg"
    sha256: str
    original_url: str
    url: str  # after redirects
    mime: str
    size: int
    fetched_at: datetime


class Evidence(Concern):
    def evidence_pending(self, since: datetime, limit: int = 50) -> list[StoredAlert]:
        """Alerts enqueued since ``since`` (not suppressed) whose item was not taken care
        of yet, oldest first, one per item."""
        rows = self.db.query(
            "select a.* from alerts a left join evidence_items e"
            " on e.source = a.source and e.item_key = a.item_key"
            " where e.source is null and a.item_key is not null and a.state != 'suppressed'"
            " and a.created_at >= ? order by a.id limit ?",
            [iso(since), limit],
        )
        out: dict[tuple[str, str], StoredAlert] = {}
        for r in rows:
            out.setdefault((r["source"], r["item_key"]), alert_from_row(r))
        return list(out.values())

    def start_evidence(self, source: str, item_key: str, folder: str, now: datetime) -> bool:
        """Take an item in hand (False: already taken)."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into evidence_items (source, item_key, folder, started_at)"
                " values (?, ?, ?, ?)",
                [source, item_key, folder, iso(now)],
            )
            return bool(cursor.rowcount)

    def forget_unfinished(self) -> int:
        """Items taken in hand but never finished (the bot stopped meanwhile) become
        pending again; how many."""
        with self._tx():
            return self.db.execute("delete from evidence_items where done_at is null").rowcount

    def finish_evidence(self, source: str, item_key: str, kept: int, now: datetime) -> None:
        with self._tx():
            self.db.execute(
                "update evidence_items set kept = ?, done_at = ? where source = ? and item_key = ?",
                [kept, iso(now), source, item_key],
            )

    def add_evidence_file(self, f: EvidenceFile) -> bool:
        """Record a kept file; False when the item already has this picture."""
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into evidence_files (source, item_key, folder, name, sha256,"
                " original_url, url, mime, size, fetched_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f.source,
                    f.item_key,
                    f.folder,
                    f.name,
                    f.sha256,
                    f.original_url,
                    f.url,
                    f.mime,
                    f.size,
                    iso(f.fetched_at),
                ],
            )
            return bool(cursor.rowcount)

    def evidence_files(self, source: str, item_key: str) -> list[EvidenceFile]:
        return [
            _file(r)
            for r in self.db.query(
                "select * from evidence_files where source = ? and item_key = ? order by id",
                [source, item_key],
            )
        ]

    def evidence_file_like(
        self, *, sha256: str | None = None, url: str | None = None
    ) -> EvidenceFile | None:
        """A kept file with this content hash, or fetched from this address."""
        column, value = ("sha256", sha256) if sha256 else ("original_url", url)
        rows = list(
            self.db.query(f"select * from evidence_files where {column} = ? limit 1", [value])
        )
        return _file(rows[0]) if rows else None

    def evidence_usage(self) -> tuple[int, int]:
        """(pictures, bytes) on disk: a picture kept for several items counts once."""
        row = self.db.execute(
            "select count(*), coalesce(sum(size), 0) from"
            " (select sha256, max(size) as size from evidence_files group by sha256)"
        ).fetchone()
        return int(row[0]), int(row[1])

    def evidence_oldest(self, limit: int = 20) -> list[tuple[str, str, str]]:
        """(source, item key, folder) of the items with kept files, oldest first."""
        return [
            (r[0], r[1], r[2])
            for r in self.db.execute(
                "select source, item_key, folder from evidence_items where kept > 0"
                " order by done_at, rowid limit ?",
                [limit],
            )
        ]

    def forget_evidence_files(self, source: str, item_key: str) -> list[EvidenceFile]:
        """Drop an item's files from the books (its folder is being removed); returns
        them.  The item stays taken care of: it is not fetched again."""
        with self._tx():
            files = self.evidence_files(source, item_key)
            self.db.execute(
                "delete from evidence_files where source = ? and item_key = ?", [source, item_key]
            )
            self.db.execute(
                "update evidence_items set kept = 0 where source = ? and item_key = ?",
                [source, item_key],
            )
        return files


def _file(r: dict) -> EvidenceFile:  # type: ignore[type-arg]
    return EvidenceFile(
        source=r["source"],
        item_key=r["item_key"],
        folder=r["folder"],
        name=r["name"],
        sha256=r["sha256"],
        original_url=r["original_url"],
        url=r["url"],
        mime=r["mime"],
        size=int(r["size"]),
        fetched_at=from_iso(r["fetched_at"]) or datetime.min,
    )
