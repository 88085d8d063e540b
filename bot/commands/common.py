"""Helpers every command module shares: usage errors, name look-up with "did you
mean", and how times and spans are written in replies (always UTC, plain text)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.config import format_duration

MAX_ARGS = 500  # characters after the command; longer is refused with the reason
MAX_NUMBER = 2**63 - 1  # the largest id the store holds (SQLite's INTEGER)
LISTED = 8  # names listed when none is close to what the user typed


class UsageError(Exception):
    """The arguments do not fit the command; the registry replies with its usage line
    (and this message, if any, as the reason)."""


def parse_number(text: str) -> int | None:
    """``text`` as a whole number written in ASCII digits, at most ``MAX_NUMBER``, or
    None: button data comes from users and may be forged."""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_NUMBER)):
        return None
    number = int(text)
    return number if number <= MAX_NUMBER else None


def find_name(name: str, names: Iterable[str]) -> str | None:
    """``name`` as it is spelled in ``names``: exactly, else ignoring case if unique."""
    names = list(names)
    if name in names:
        return name
    folded = [n for n in names if n.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def close_names(name: str, names: Iterable[str], n: int = 3) -> list[str]:
    names = sorted(set(names))
    by_fold = {x.casefold(): x for x in names}
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=n, cutoff=0.6)
    return [by_fold[c] for c in close]


def no_such(kind: str, name: str, names: Iterable[str]) -> str:
    """ "no source named X; did you mean Y?", or a few of the names there are."""
    names = sorted(set(names))
    close = close_names(name, names)
    if close:
        return f"no {kind} named {name}; did you mean {' or '.join(close)}?"
    if not names:
        return f"no {kind} named {name}, and there are none yet"
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return f"no {kind} named {name}; there are {', '.join(names[:LISTED])}{more}"


def span(delta: timedelta) -> str:
    """A duration as "6h", "1d2h", "3m"; seconds only under a minute."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 60:
        seconds -= seconds % 60
    return format_duration(timedelta(seconds=seconds))


def ago(now: datetime, then: datetime | None) -> str:
    """ "3h5m ago"; past a week the moment itself ("2024-12-03 07:08 UTC", not "731d4h
    ago"); "never"."""
    if then is None:
        return "never"
    if now - then > timedelta(days=7):
        return f"{then:%Y-%m-%d %H:%M} UTC"
    return f"{span(now - then)} ago"


def moment(when: datetime, now: datetime) -> str:
    """ "18:00 UTC" within the next day, else "2024-12-05 18:00 UTC"."""
    if timedelta(0) <= when - now < timedelta(hours=24):
        return f"{when:%H:%M} UTC"
    return f"{when:%Y-%m-%d %H:%M} UTC"


def unique_name(base: str, taken: Iterable[str], key: Callable[[str], str] = str.casefold) -> str:
    """``base``, or ``base-2``, ``base-3``... : the first that ``taken`` lacks (names
    compared by ``key``: regardless of case by default)."""
    used = {key(t) for t in taken}
    name, n = base, 2
    while key(name) in used:
        name, n = f"{base}-{n}", n + 1
    return name


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def shorten(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
