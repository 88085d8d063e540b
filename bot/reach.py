"""Whether each chat platform can be reached, and why not: beside the outbox.

A destination can be used only when its platform's adapter is connected.  When it is
not (its token is not set, or connecting failed: a 401, a refused connection), the
app records the reason here, with the time, in the store (``platform_state``); a
connection that succeeds records "up".  ``dozor status`` and chat ``/status`` read it
back per destination: "up", "down: no token set (TELEGRAM_BOT_TOKEN)" or "down since
HH:MM: cannot connect: 401 Unauthorized: the token was rejected", with how many alerts
wait for it.  Reasons are stored and shown with every secret from the environment
replaced by ``[redacted]``; this module imports no chat library (reasons are read
from the exception chain by duck typing).
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING

from bot.logs import secret_values
from bot.model import Destination
from bot.store import Store, is_locked

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("dozor")

NO_TOKEN = "no token set"
CANNOT_CONNECT = "cannot connect"
REJECTED = ": the token was rejected"
TOKEN_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "account_inactive"}  # Slack's
PHRASES = {status.phrase: status for status in HTTPStatus}


def no_token(store: Store, platform: str, variables: Sequence[str], now: datetime) -> str:
    """Record that ``platform`` cannot be used as ``variables`` are not set; the reason."""
    reason = f"{NO_TOKEN} ({', '.join(variables)})"
    _record(store.mark_platform_down, platform, reason, now)
    return reason


def cannot_connect(
    store: Store,
    platform: str,
    error: BaseException,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> str:
    """Record that connecting to ``platform`` failed with ``error``; the reason (redacted)."""
    reason = redact(f"{CANNOT_CONNECT}: {connect_error(error)}", environ, settings)
    _record(store.mark_platform_down, platform, reason, now)
    return reason


def connected(store: Store, platform: str, now: datetime) -> None:
    _record(store.mark_platform_up, platform, now)


def connect_error(error: BaseException) -> str:
    """What went wrong, as short as a person needs it: "connection refused", "401
    Unauthorized: the token was rejected", "invalid_auth: the token was rejected"."""
    chain = _chain(error)
    for exc in chain:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, socket.gaierror):
            return f"the host name is not known ({exc.strerror})"
        if isinstance(exc, TimeoutError):
            return "timed out"
    for exc in chain:  # Slack: the Web API's answer rides on the error
        response = getattr(exc, "response", None)
        data = getattr(response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            code = str(data["error"])
            return code + (REJECTED if code in TOKEN_ERRORS else "")
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status in HTTPStatus._value2member_map_:
            return _status(HTTPStatus(status))
    innermost = chain[-1]
    text = str(innermost).strip() or type(innermost).__name__
    if text in PHRASES:  # Telegram answers a wrong token "Unauthorized" (401)
        return _status(PHRASES[text])
    return text


def redact(
    text: str, environ: Mapping[str, str] | None = None, settings: Settings | None = None
) -> str:
    for secret in secret_values(environ, settings):
        text = text.replace(secret, "[redacted]")
    return text


@dataclass(frozen=True)
class Reach:
    """One destination as ``dozor status`` shows it."""

    destination: Destination
    down: str | None  # None: up; "not connected yet" or "down...: why"
    waiting: int  # alerts pending for it

    @property
    def is_down(self) -> bool:
        """Known to be down (not merely not connected yet)."""
        return self.down is not None and self.down.startswith("down")

    def line(self) -> str:
        state = "up" if self.down is None else self.down
        waits = "alert waits" if self.waiting == 1 else "alerts wait"
        return f"{self.destination.name} ({self.destination.kind}): {state}; {self.waiting} {waits}"


def destinations(store: Store, targets: Iterable[Destination], now: datetime) -> list[Reach]:
    """Each destination's state from its platform's (the console is always up)."""
    states = store.platform_states()
    counts = store.outbox_counts()
    out = []
    for target in targets:
        down = None
        state = states.get(target.kind)
        if target.kind != "console":
            if state is None:
                down = "not connected yet"
            elif state[0] is not None:
                down = describe(state[0], state[1], now)
        out.append(Reach(target, down, counts.get(target.name, {}).get("pending", 0)))
    return out


def describe(reason: str, since: datetime, now: datetime) -> str:
    """ "down: no token set (X)" (nothing to wait for: it is down until set), else
    "down since HH:MM: <reason>" (UTC; with the date when longer than a day ago)."""
    if reason.startswith(NO_TOKEN):
        return f"down: {reason}"
    when = f"{since:%H:%M}" if now - since < timedelta(hours=24) else f"{since:%Y-%m-%d %H:%M}"
    return f"down since {when}: {reason}"


def _record(write: Callable[..., None], *args: object) -> None:
    """What the status shows is worth a write, not a stop: another program holding the
    write lock (bot/store/connection.py) skips it."""
    try:
        write(*args)
    except sqlite3.OperationalError as exc:
        if not is_locked(exc):
            raise
        log.warning("could not record a platform's state (%s): the database is locked", args[0])


def _status(status: HTTPStatus) -> str:
    rejected = REJECTED if status is HTTPStatus.UNAUTHORIZED else ""
    return f"{status.value} {status.phrase}{rejected}"


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    exc: BaseException | None = error
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain
