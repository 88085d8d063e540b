"""The console: alerts printed to a text stream (``make run`` without chat tokens, and
the tests), commands typed at ``dozor chat``.  No section, no address, no buttons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.platforms.base import Adapter, Address, Capabilities, Limits, Platform, Wiring

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.configread import Reader
    from bot.model import Destination


class ConsolePlatform(Platform):
    name = "console"
    title = "Console"
    limits = Limits(message=1_000_000)
    can = Capabilities(commands=True)

    def parse_destination(self, r: Reader, table: Mapping[str, Any], where: str) -> Address:
        return Address(None)

    def is_admin(self, settings: Settings, user_id: int | str) -> bool:
        return True  # whoever types at the console runs the bot

    def serves(self, settings: Settings, chat_id: int | str | None) -> bool:
        return True

    def is_private(self, chat_type: str | None) -> bool:
        return True

    def wanted(self, settings: Settings, destinations: Sequence[Destination]) -> bool:
        return True  # always there: digests and notices for console destinations

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        from bot.platforms.console.adapter import ConsoleAdapter

        return ConsoleAdapter(wiring.stream)


PLATFORM = ConsolePlatform()
