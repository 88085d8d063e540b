"""Reading config.toml tables: the ``Reader`` that collects located problems, and the
value converters every section uses (``bot.config`` and each platform's settings).

A converter takes the raw TOML value and returns the typed one or raises ValueError
(or TypeError); ``Reader.get`` turns that into ``<key path>: expected <what>, got
<value>``, so every section reports its problems the same way.  Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.schedules import parse_duration

T = TypeVar("T")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


class Reader:
    """Walks the parsed TOML, converting values and collecting problems by key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, data: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.error(path, f"expected a table, got {show(data)}")
            return {}
        for key in data:
            if key not in allowed:
                hint = close(key, allowed)
                self.error(
                    f"{path}.{key}" if path else key,
                    f"unknown key{hint} (allowed: {', '.join(allowed)})",
                )
        return data

    def get(
        self,
        data: dict[str, Any],
        path: str,
        key: str,
        convert: Callable[[Any], Any],
        default: Any,
        expected: str,
        *,
        required: bool = False,
    ) -> Any:
        where = f"{path}.{key}" if path else key
        if key not in data:
            if required:
                self.error(where, f"missing (expected {expected})")
            return default
        try:
            return convert(data[key])
        except (TypeError, ValueError):
            self.error(where, f"expected {expected}, got {show(data[key])}")
            return default


def show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def close(key: str, allowed: tuple[str, ...]) -> str:
    near = difflib.get_close_matches(key, allowed, n=1)
    return f' "{key}" (did you mean "{near[0]}"?)' if near else f' "{key}"'


def string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value.strip()


def strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError
    return tuple(v.strip() for v in value)


def duration(value: Any) -> timedelta:
    result = parse_duration(value)
    if result <= timedelta(0):
        raise ValueError
    return result


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def base_url(value: Any) -> str:
    text = string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError
    return text.rstrip("/")


def host_port(value: Any) -> str:
    text = string(value)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError
    return text


def matching(pattern: str) -> Callable[[Any], str]:
    """Text that matches ``pattern`` (a regex, anchored at both ends) once stripped:
    an id of a platform's own form ("C0123ABC", "!room:example.org")."""
    compiled = re.compile(pattern)

    def convert(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value.strip()):
            raise ValueError
        return value.strip()

    return convert


def list_of(item: Callable[[Any], T]) -> Callable[[Any], tuple[T, ...]]:
    """A list whose every value ``item`` converts."""

    def convert(value: Any) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise ValueError
        return tuple(item(v) for v in value)

    return convert


def env_name(value: Any) -> str:
    """The name of an environment variable (a secret's, which config never holds)."""
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ValueError
    return value


def choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError
        return str(value)

    return convert
