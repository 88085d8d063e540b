"""Logging for the whole process: one line per event, text or JSON, secrets redacted.

Secrets (bot tokens, from the environment) must never reach a log line, including
the lines libraries write: httpx logs every request URL, and Telegram's URLs carry the
token.  ``setup_logging`` installs a filter on the handler that replaces every secret
value in the final message with ``[redacted]``.  Which variables hold secrets is each
platform's and each watcher's to say (``secret_variables``, and the variables a
destination's ``webhook_env``/``secret_env`` names in the loaded config):
``secret_variables`` asks both registries.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.config import Settings


def secret_variables(settings: Settings | None = None) -> tuple[str, ...]:
    """Every environment variable that holds a secret: each registered platform's and
    watcher's, and (with ``settings``) those its destinations name."""
    from bot.platforms import PLATFORMS  # the registries import every package: not at
    from watchers import WATCHERS  # import time, as platform packages log too

    names = [name for p in PLATFORMS for name in p.secrets(settings)]
    names += [name for w in WATCHERS for name in w.secret_variables]
    return tuple(dict.fromkeys(names))


def secret_values(
    environ: Mapping[str, str] | None = None, settings: Settings | None = None
) -> list[str]:
    """The secrets' values that are set, longest first (so a longer one is hidden whole)."""
    env = os.environ if environ is None else environ
    values = {env.get(name, "").strip() for name in secret_variables(settings)}
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = message
        for secret in self.secrets:
            clean = clean.replace(secret, "[redacted]")
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if any(secret in text for secret in self.secrets):
                for secret in self.secrets:
                    text = text.replace(secret, "[redacted]")
                record.exc_info = None
                clean = f"{clean}\n{text}"
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            event["error"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def setup_logging(
    level: str = "info",
    fmt: str = "text",
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactSecrets(secret_values(environ, settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per Bot API call is noise
    logging.getLogger("telegram.ext").setLevel(logging.WARNING)  # "Application started" ...
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)  # "Loading dictionaries ..."
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # font cache lines
