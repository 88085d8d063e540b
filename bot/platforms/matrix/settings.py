"""The ``[matrix]`` settings section: the homeserver and who may run commands.

The access token comes from ``MATRIX_ACCESS_TOKEN``, never from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

TOKEN_VARIABLE = "MATRIX_ACCESS_TOKEN"


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str = ""  # the client-server API's base URL, e.g. "https://matrix.org"
    admins: tuple[str, ...] = ()  # Matrix user ids ("@anna:example.org") who are admins
    rooms: tuple[str, ...] = ()  # room ids served besides the destinations' rooms
    members_can_watch: bool = True
    per_room_interval: timedelta = timedelta(seconds=1)
