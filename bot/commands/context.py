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

from bot import __version__
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
        """Config destinations (with chat ids as Telegram last told us), then those that
        chat commands created."""
        moved = self.store.destination_chat_ids()
        out = []
        for d in [*self.settings.destinations, *self.store.chat_destinations()]:
            if d.name in moved and d.chat_id != moved[d.name]:
                d = replace(d, chat_id=moved[d.name])
            out.append(d)
        return out

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations() if d.name == name), None)

    def destination_for(
        self, platform: str, chat_id: int | str | None, thread_id: int | None
    ) -> str:
        """The destination that posts into this chat (and topic); made on first use.
        ``chat_id`` is a Telegram chat id or a Slack channel id (Slack: no thread)."""
        if platform == "console":
            console = next((d for d in self.destinations() if d.kind == "console"), None)
            return console.name if console else "console"
        for d in self.destinations():
            if (
                d.kind == platform
                and d.address == chat_id
                and d.thread_id == thread_id
                and d.thread_ts is None
            ):
                return d.name
        assert chat_id is not None
        return self.store.chat_destination(platform, chat_id, thread_id, self.clock())
