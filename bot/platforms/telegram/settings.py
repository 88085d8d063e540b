"""The ``[telegram]`` section and the Telegram keys of ``[[destinations]]``: config.toml
-> ``TelegramSettings`` and a destination's chat and topic, problems by key path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.configread import (
    Reader,
    base_url,
    boolean,
    choice,
    duration,
    host_port,
    positive_int,
)
from bot.platforms.base import Address

TELEGRAM_API = "https://api.telegram.org"
KEYS = (
    "api_base_url",
    "mode",
    "webhook_url",
    "webhook_listen",
    "admins",
    "chats",
    "members_can_watch",
    "per_chat_interval",
    "group_per_minute",
    "global_per_second",
)
DESTINATION_KEYS = ("chat_id", "thread_id")


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram adapter; the bot token comes from TELEGRAM_BOT_TOKEN, never from here."""

    api_base_url: str = TELEGRAM_API
    mode: str = "polling"  # or "webhook"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:8443"
    admins: tuple[int, ...] = ()  # user ids who may add and remove sources
    chats: tuple[int, ...] = ()  # chats served besides the destinations' chats
    members_can_watch: bool = True  # members of served chats may add rules and mutes
    per_chat_interval: timedelta = timedelta(seconds=1)
    group_per_minute: int = 20
    global_per_second: int = 30


def _chat_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        raise ValueError
    return value


def _ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError
    return tuple(value)


def parse(r: Reader, raw: Any) -> TelegramSettings:
    t = r.table(raw, "telegram", KEYS)
    d = TelegramSettings()
    w = "telegram"
    settings = TelegramSettings(
        api_base_url=r.get(t, w, "api_base_url", base_url, d.api_base_url, "an http(s) URL"),
        mode=r.get(t, w, "mode", choice(("polling", "webhook")), d.mode, "polling or webhook"),
        webhook_url=r.get(t, w, "webhook_url", base_url, None, "an https URL"),
        webhook_listen=r.get(
            t, w, "webhook_listen", host_port, d.webhook_listen, 'a "host:port" to listen on'
        ),
        admins=r.get(t, w, "admins", _ids, (), "a list of Telegram user ids"),
        chats=r.get(t, w, "chats", _ids, (), "a list of Telegram chat ids"),
        members_can_watch=r.get(t, w, "members_can_watch", boolean, True, "true or false"),
        per_chat_interval=r.get(
            t, w, "per_chat_interval", duration, d.per_chat_interval, 'a duration like "1s"'
        ),
        group_per_minute=r.get(
            t, w, "group_per_minute", positive_int, d.group_per_minute, "a positive integer"
        ),
        global_per_second=r.get(
            t, w, "global_per_second", positive_int, d.global_per_second, "a positive integer"
        ),
    )
    if settings.mode == "webhook" and not settings.webhook_url:
        r.error("telegram.webhook_url", 'missing (needed with mode = "webhook")')
    return settings


def parse_destination(r: Reader, t: Mapping[str, Any], where: str) -> Address:
    """A chat id (required) and a forum topic."""
    table = dict(t)
    chat_id = r.get(
        table,
        where,
        "chat_id",
        _chat_id,
        None,
        "a Telegram chat id like -1001234567890",
        required=True,
    )
    thread_id = r.get(table, where, "thread_id", positive_int, None, "a forum topic id")
    return Address(
        None if chat_id is None else str(chat_id),
        None if thread_id is None else str(thread_id),
        {"chat_id": chat_id, "thread_id": thread_id},
    )
