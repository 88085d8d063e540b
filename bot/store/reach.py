"""Store, reach: why a chat platform cannot be used (bot/reach.py -> here -> status).

One row per platform: the reason it is down (no secrets in it) and since when, or no
reason and since when it is up.  ``dozor status`` and chat ``/status`` read it.
"""

from __future__ import annotations

from datetime import datetime

from bot.store.connection import Concern
from bot.store.rows import iso


class Reach(Concern):
    def mark_platform_down(self, platform: str, reason: str, now: datetime) -> None:
        """``platform`` cannot be used, for ``reason`` (no secrets in it); ``since`` is
        kept while the reason stays the same (across restarts)."""
        with self._tx():
            self.db.execute(
                "insert into platform_state (platform, reason, since) values (?, ?, ?)"
                " on conflict (platform) do update set reason = excluded.reason,"
                " since = excluded.since where reason is not excluded.reason",
                [platform, reason, iso(now)],
            )

    def mark_platform_up(self, platform: str, now: datetime) -> None:
        with self._tx():
            self.db.execute(
                "insert into platform_state (platform, reason, since) values (?, null, ?)"
                " on conflict (platform) do update set reason = null, since = excluded.since"
                " where reason is not null",
                [platform, iso(now)],
            )

    def platform_states(self) -> dict[str, tuple[str | None, datetime]]:
        """{platform: (why it is down, or None when up; since when)}."""
        return {
            r["platform"]: (r["reason"], datetime.fromisoformat(r["since"]))
            for r in self.db.query("select * from platform_state")
        }
