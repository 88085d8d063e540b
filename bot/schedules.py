"""Time windows for delivery: quiet hours, digest schedules, durations (pure, no I/O).

A destination in config.toml:

    quiet_hours = "22:00-07:00"     alerts in that window are sent silently, or held
                                    until it ends (a window may cross midnight)
    digest = "hourly"               collect alerts, send one message at the next full hour
    digest = "daily 08:00"          ...once a day at that time

Times are in the destination's ``timezone`` (an IANA name such as "Europe/Moscow";
UTC by default).  A rule's ``digest`` in a rule file (``rule_digest_due``) takes a
duration (``"30m"``, ``"1h30m"``: every that long, on the clock's multiples, UTC),
``"hourly"``, or ``"daily 08:00"`` with an optional zone (``"daily 08:00
Europe/Moscow"``; UTC by default).  ``parse_duration`` is the one duration parser:
config.py re-exports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DURATION = re.compile(
    r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?!s))?\s*(?:(\d+)\s*s)?"
    r"\s*(?:(\d+)\s*ms)?\s*$"
)


class DurationTooLong(ValueError):
    """A duration written right but longer than any timedelta ("99999999999d")."""


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, ``"250ms"`` -> timedelta;
    ValueError otherwise (``DurationTooLong`` past timedelta's 999,999,999 days).
    Units in that order, each at most once."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValueError(text)
    try:
        d, h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
        return timedelta(days=d, hours=h, minutes=mi, seconds=s, milliseconds=ms)
    except (OverflowError, ValueError):  # ValueError: past int()'s 4,300 digits
        raise DurationTooLong(text) from None


def parse_time(text: str) -> time:
    m = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(text)
    return time(int(m.group(1)), int(m.group(2)))


def parse_zone(name: str) -> tzinfo:
    if not isinstance(name, str) or not name:
        raise ValueError(name)
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a folder
        raise ValueError(name) from None


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: tzinfo = UTC

    @classmethod
    def parse(cls, text: str, zone: tzinfo = UTC) -> QuietHours:
        if not isinstance(text, str):
            raise ValueError(text)
        first, sep, second = text.partition("-")
        if not sep:
            raise ValueError(text)
        start, end = parse_time(first), parse_time(second)
        if start == end:
            raise ValueError(text)
        return cls(start, end, zone)

    def contains(self, moment: datetime) -> bool:
        now = moment.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def ends_after(self, moment: datetime) -> datetime:
        """The end of the window that ``moment`` is in (UTC)."""
        local = moment.astimezone(self.zone)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


@dataclass(frozen=True)
class DigestSchedule:
    every: str  # "hourly" | "daily"
    at: time | None = None
    zone: tzinfo = UTC

    @classmethod
    def parse(cls, text: str, zone: tzinfo = UTC) -> DigestSchedule:
        if not isinstance(text, str):
            raise ValueError(text)
        words = text.split()
        if words == ["hourly"]:
            return cls("hourly", None, zone)
        if len(words) == 2 and words[0] == "daily":
            return cls("daily", parse_time(words[1]), zone)
        raise ValueError(text)

    def next_due(self, moment: datetime) -> datetime:
        """When the digest that ``moment``'s alert joins is sent (UTC)."""
        local = moment.astimezone(self.zone)
        if self.every == "hourly":
            due = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        else:
            assert self.at is not None
            due = local.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
            if due <= local:
                due += timedelta(days=1)
        return due.astimezone(UTC)

    def __str__(self) -> str:
        return "hourly" if self.every == "hourly" else f"daily {self.at:%H:%M}"


def rule_digest_due(text: str, moment: datetime) -> datetime:
    """When an alert of a rule with ``digest = text`` goes out: a duration such as
    ``"1h"``/``"30m"`` (see ``parse_duration``; every that long, on the clock's
    multiples), ``"hourly"``, or ``"daily 08:00"`` with an optional time zone
    (``"daily 08:00 Europe/Moscow"``; UTC by default).  Raises ValueError on anything
    else."""
    try:
        every: timedelta | None = parse_duration(text)
    except ValueError:
        every = None  # not a duration: hourly or daily
    if every is not None:
        step = every.total_seconds()
        if step <= 0:
            raise ValueError(text)
        due = (moment.timestamp() // step + 1) * step
        return datetime.fromtimestamp(due, tz=UTC)
    words = text.split() if isinstance(text, str) else []
    zone: tzinfo = UTC
    if len(words) == 3 and words[0] == "daily":
        zone = parse_zone(words.pop())
    return DigestSchedule.parse(" ".join(words), zone).next_due(moment)
