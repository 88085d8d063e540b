"""Flood control for chat commands: per user, a sliding window of commands a minute and
of new rules an hour.  A user over the limit is told once per window, then ignored
until the window has room again (so a flood of commands does not become a flood of
replies)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class CommandLimiter:
    per_minute: int = 20
    rules_per_hour: int = 30
    _commands: dict[str, deque[datetime]] = field(default_factory=dict)
    _rules: dict[str, deque[datetime]] = field(default_factory=dict)
    _told: dict[str, datetime] = field(default_factory=dict)

    def check(self, user: str, command: str, now: datetime) -> str | None:
        """None when the command may run (and it is counted); else the reason, or ""
        when the user was already told in this window."""
        for table, limit, window, what in (
            (self._commands, self.per_minute, timedelta(minutes=1), "commands a minute"),
            (self._rules, self.rules_per_hour, timedelta(hours=1), "new rules an hour"),
        ):
            if table is self._rules and command != "watch":
                continue
            times = table.setdefault(user, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= limit:
                wait = int((times[0] + window - now).total_seconds()) + 1
                told = self._told.get(user)
                if told is not None and told > now - window:
                    return ""
                self._told[user] = now
                return f"slow down: at most {limit} {what}; try again in {wait} s"
        self._commands.setdefault(user, deque()).append(now)
        if command == "watch":
            self._rules.setdefault(user, deque()).append(now)
        return None
