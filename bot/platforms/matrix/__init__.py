"""Matrix: alerts as HTML room messages, edited in place (``m.replace``), into rooms and
threads of any homeserver; ``!dozor <command>`` read by a ``/sync`` long poll
(``adapter.py`` over the plain-aiohttp ``client.py``), the ``[matrix]`` section and the
``room``/``thread_root`` destination keys (``settings.py``), HTML markup
(``render.py``).  No buttons and no files: /help and README say so."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from bot.platforms.base import Adapter, Capabilities, Platform, Section, Unavailable, Wiring
from bot.platforms.matrix import settings as conf
from bot.platforms.matrix.render import LIMITS

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("dozor")


class MatrixPlatform(Platform):
    name = "matrix"
    title = "Matrix"
    limits = LIMITS
    can = Capabilities(commands=True, threads=True, edits=True)
    section = Section("matrix", conf.KEYS, conf.parse)
    default = conf.MatrixSettings()
    destination_keys = conf.DESTINATION_KEYS
    chats_key = served_key = "rooms"
    admins_key = "admins"
    chat_noun = "room"
    secret_variables = (conf.TOKEN_VARIABLE,)

    parse_destination = staticmethod(conf.parse_destination)

    def cannot(self) -> str | None:
        return (
            "Matrix has no buttons (mute with !dozor mute <source> 6h) and sends no files "
            "(/stats charts, /export: use the dozor command); alerts arrive all the same"
        )

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        token = wiring.environ.get(conf.TOKEN_VARIABLE, "").strip()
        if not token:
            log.error(
                "Matrix destinations are configured but %s is not set: their alerts wait "
                "in the outbox until it is",
                conf.TOKEN_VARIABLE,
            )
            raise Unavailable(f"as {conf.TOKEN_VARIABLE} is not set", [conf.TOKEN_VARIABLE])
        from bot.commands import dispatch
        from bot.platforms.matrix.adapter import MatrixAdapter

        context = wiring.context
        return MatrixAdapter(token, self.own(settings), context, handle=partial(dispatch, context))


PLATFORM = MatrixPlatform()
