"""The ``[slack]`` section and the Slack keys of ``[[destinations]]``: config.toml ->
``SlackSettings`` and a destination's channel and thread, problems by key path."""

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
    list_of,
    matching,
)
from bot.platforms.base import Address

SLACK_API = "https://slack.com/api/"
_channel = matching(r"[CGD][A-Z0-9]{2,}")
_channels = list_of(_channel)
_users = list_of(matching(r"[UW][A-Z0-9]{2,}"))
_ts = matching(r"\d+\.\d+")
KEYS = (
    "api_base_url",
    "mode",
    "http_listen",
    "admins",
    "channels",
    "members_can_watch",
    "per_channel_interval",
)
DESTINATION_KEYS = ("channel", "thread_ts", "unfurl")


@dataclass(frozen=True)
class SlackSettings:
    """The Slack app; tokens come from SLACK_BOT_TOKEN, SLACK_APP_TOKEN (Socket Mode) and
    SLACK_SIGNING_SECRET (HTTP mode), never from here."""

    api_base_url: str = SLACK_API  # always ends with "/": slack_sdk appends the method
    mode: str = "socket"  # or "http"
    http_listen: str = "127.0.0.1:3000"
    admins: tuple[str, ...] = ()  # Slack user ids who may add and remove sources
    channels: tuple[str, ...] = ()  # channel ids served besides the destinations' channels
    members_can_watch: bool = True
    per_channel_interval: timedelta = timedelta(seconds=1)


def _slack_api(value: Any) -> str:
    return base_url(value) + "/"


def parse(r: Reader, raw: Any) -> SlackSettings:
    t = r.table(raw, "slack", KEYS)
    d = SlackSettings()
    w = "slack"
    return SlackSettings(
        api_base_url=r.get(t, w, "api_base_url", _slack_api, d.api_base_url, "an http(s) URL"),
        mode=r.get(t, w, "mode", choice(("socket", "http")), d.mode, "socket or http"),
        http_listen=r.get(
            t, w, "http_listen", host_port, d.http_listen, 'a "host:port" to listen on'
        ),
        admins=r.get(t, w, "admins", _users, (), 'a list of Slack user ids like "U0123ABC"'),
        channels=r.get(
            t, w, "channels", _channels, (), 'a list of Slack channel ids like "C0123ABC"'
        ),
        members_can_watch=r.get(t, w, "members_can_watch", boolean, True, "true or false"),
        per_channel_interval=r.get(
            t, w, "per_channel_interval", duration, d.per_channel_interval, 'a duration like "1s"'
        ),
    )


def parse_destination(r: Reader, t: Mapping[str, Any], where: str) -> Address:
    """A channel id (required), a thread in it, and whether Slack may unfurl links."""
    table = dict(t)
    channel = r.get(
        table, where, "channel", _channel, None, 'a Slack channel id like "C0123ABC"', required=True
    )
    thread_ts = r.get(
        table, where, "thread_ts", _ts, None, 'the ts of a thread like "1700000000.000100"'
    )
    unfurl = r.get(table, where, "unfurl", boolean, False, "true or false")
    return Address(
        channel, thread_ts, {"channel": channel, "thread_ts": thread_ts, "unfurl": unfurl}
    )
