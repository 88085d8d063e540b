"""The bot's live state as chat commands see it: rules and sources from the files and
from chat, destinations, the store, the clock.

Chat-added rules and sources live in the store and survive restarts; file rules stay
in their files (chat can mute them, not delete them).  Changing rules or sources here
takes effect on the next poll: the pipeline is handed the new rule set as soon as it is
compiled (in a thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import __version__, platforms
from bot.commands.limits import CommandLimiter
from bot.config import Settings
from bot.model import Destination, Rule, Source
from bot.pipeline import Pipeline
from bot.store import Store


@dataclass
class BotContext:
    settings: Settings
    store: Store
    pipeline: Pipeline
    clock: Callable[[], datetime]
    file_rules: list[Rule]
    started_at: datetime
    version: str = __version__
    limiter: CommandLimiter = field(default_factory=CommandLimiter)
    _rules_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def rules(self) -> list[Rule]:
        """File rules first, then chat rules, in the order they were added."""
        return [*self.file_rules, *(c.rule for c in self.store.chat_rules())]

    async def refresh_rules(self) -> None:
        """Hand the pipeline the current rules (files and chat), compiled in a thread:
        thousands of rules take seconds, and chat commands must not wait on that.  One
        refresh at a time, so the last change is the one in force."""
        async with self._rules_lock:
            every = self.rules()
            self.pipeline.set_rules(
                every, await asyncio.to_thread(self.pipeline.compile_rules, every)
            )

    def sources(self) -> list[Source]:
        """Config sources, then chat-added ones (polled at the default interval)."""
        return [*self.settings.sources, *self.store.chat_sources(self.settings.polling.interval)]

    def add_source(self, source: Source, by: str) -> bool:
        """Store a chat-added source and start polling it; False if the name is taken."""
        if any(s.name == source.name for s in self.sources()):
            return False
        if not self.store.add_chat_source(source, by, self.clock()):
            return False
        self.store.sync_sources([source])
        return True

    def remove_source(self, name: str) -> bool:
        """Remove a chat-added source (config sources stay: edit config.toml for those)."""
        return self.store.remove_chat_source(name)

    def destinations(self) -> list[Destination]:
        """Config destinations (at the address the platform last told us, e.g. a
        Telegram group that became a supergroup), then those that chat commands created."""
        moved = self.store.destination_addresses()
        out = []
        for d in [*self.settings.destinations, *self.store.chat_destinations()]:
            if d.name in moved and d.address != moved[d.name]:
                d = replace(d, address=moved[d.name])
            platform = platforms.find(d.platform)
            out.append(platform.complete(d) if platform is not None else d)
        return out

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations() if d.name == name), None)

    def destination_for(
        self, platform: str, chat_id: int | str | None, thread_id: int | str | None
    ) -> str:
        """The destination that posts into this chat (and topic); made on first use.
        Without a ``chat_id`` (the console): the platform's first destination, else
        one named for the platform."""
        if chat_id is None:
            found = next((d for d in self.destinations() if d.platform == platform), None)
            return found.name if found else platform
        thread = None if thread_id is None else str(thread_id)
        for d in self.destinations():
            if d.platform == platform and d.address == str(chat_id) and d.thread == thread:
                return d.name
        return self.store.chat_destination(platform, chat_id, thread_id, self.clock())
