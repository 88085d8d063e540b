"""The ``[matrix]`` section and the Matrix keys of ``[[destinations]]``: config.toml ->
``MatrixSettings`` and a destination's room and thread, problems by key path.

The access token comes from ``MATRIX_ACCESS_TOKEN``, never from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.configread import Reader, base_url, boolean, duration, list_of, matching
from bot.platforms.base import Address

TOKEN_VARIABLE = "MATRIX_ACCESS_TOKEN"
MATRIX_ORG = "https://matrix.org"
_room = matching(r"![^:\s]+:\S+")
_rooms = list_of(_room)
_users = list_of(matching(r"@[^:\s]+:\S+"))
_event = matching(r"\$\S+")
KEYS = ("homeserver", "admins", "rooms", "members_can_watch", "per_room_interval")
DESTINATION_KEYS = ("room", "thread_root")
ROOM_ID = 'a room id like "!AbCdEf:example.org" (not an #alias: see the room\'s settings)'


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str = MATRIX_ORG  # the client-server API's base URL
    admins: tuple[str, ...] = ()  # Matrix user ids ("@anna:example.org") who are admins
    rooms: tuple[str, ...] = ()  # room ids served besides the destinations' rooms
    members_can_watch: bool = True
    per_room_interval: timedelta = timedelta(seconds=1)


def parse(r: Reader, raw: Any) -> MatrixSettings:
    t = r.table(raw, "matrix", KEYS)
    d = MatrixSettings()
    w = "matrix"
    return MatrixSettings(
        homeserver=r.get(t, w, "homeserver", base_url, d.homeserver, "an http(s) URL"),
        admins=r.get(t, w, "admins", _users, (), 'a list of user ids like "@anna:example.org"'),
        rooms=r.get(t, w, "rooms", _rooms, (), f"a list of {ROOM_ID.split(' (')[0]}s"),
        members_can_watch=r.get(t, w, "members_can_watch", boolean, True, "true or false"),
        per_room_interval=r.get(
            t, w, "per_room_interval", duration, d.per_room_interval, 'a duration like "1s"'
        ),
    )


def parse_destination(r: Reader, t: Mapping[str, Any], where: str) -> Address:
    """A room id (required) and a thread in it (its root event's id)."""
    table = dict(t)
    room = r.get(table, where, "room", _room, None, ROOM_ID, required=True)
    thread = r.get(
        table, where, "thread_root", _event, None, 'the id of a thread\'s first event, like "$abc"'
    )
    return Address(room, thread, {"room": room, "thread_root": thread})
