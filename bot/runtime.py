"""The bot's live state: what it watches, where it posts, which rules are in force.

    settings + store -> Directory: sources(), destinations(), destination(name), rules()
    Directory + pipeline + clock -> Runtime: what chat commands and platforms work with

Config sources and destinations come from config.toml, file rules from their files;
chat-added rules, sources and destinations live in the store and survive restarts.
``Directory`` keeps the merged lists and rebuilds them only when the store's chat state
changed (``Store.chat_state``: a count its writes of chat rules, sources, destinations
and moved addresses bump), so a /watch, /addsource or a chat's first command is in
force for the next poll and command, and an alert costs no store read to find its
destination.  The pipeline and the outbox get the ``Directory`` (its lookups), never
the ``Runtime``: only commands and chat platforms see the whole.

Changing rules takes effect on the next poll: ``Runtime.refresh_rules`` hands the
pipeline the new rule set as soon as it is compiled (in a thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot import __version__, platforms
from bot.config import Settings
from bot.model import Destination, Rule, Source
from bot.pipeline import Pipeline
from bot.schedules import DigestSchedule
from bot.store import Store

if TYPE_CHECKING:
    from bot.commands.limits import CommandLimiter


class Directory:
    """Sources, destinations and rules in force: config's and chat's, cached until the
    store's chat state changes."""

    def __init__(self, settings: Settings, store: Store, file_rules: Sequence[Rule]):
        self.settings = settings
        self.store = store
        self._file_rules = list(file_rules)
        self._built = -1  # the store's chat_state the lists below were built at
        self._sources: list[Source] = []
        self._destinations: dict[str, Destination] = {}
        self._rules: list[Rule] = []

    @property
    def file_rules(self) -> list[Rule]:
        return self._file_rules

    def set_file_rules(self, rules: Sequence[Rule]) -> None:
        """The rule files were read again (``App.reload_rules``)."""
        self._file_rules = list(rules)
        self._built = -1

    def _fresh(self) -> None:
        state = self.store.chat_state()
        if state == self._built:
            return
        s = self.settings
        self._sources = [*s.sources, *self.store.chat_sources(s.polling.interval)]
        moved = self.store.destination_addresses()
        destinations = {}
        for d in [*s.destinations, *self.store.chat_destinations()]:
            if d.name in moved and d.address != moved[d.name]:
                d = replace(d, address=moved[d.name])
            platform = platforms.find(d.platform)
            destinations[d.name] = platform.complete(d) if platform is not None else d
        self._destinations = destinations
        self._rules = [*self._file_rules, *(c.rule for c in self.store.chat_rules())]
        self._built = state

    def sources(self) -> list[Source]:
        """Config sources, then chat-added ones (polled at the default interval)."""
        self._fresh()
        return list(self._sources)

    def destinations(self) -> list[Destination]:
        """Config destinations (at the address the platform last told us, e.g. a
        Telegram group that became a supergroup), then those that chat commands created."""
        self._fresh()
        return list(self._destinations.values())

    def destination(self, name: str) -> Destination | None:
        self._fresh()
        return self._destinations.get(name)

    def rules(self) -> list[Rule]:
        """File rules first, then chat rules, in the order they were added."""
        self._fresh()
        return list(self._rules)

    def chat_of(self, destination: str) -> str:
        """The chat a destination posts into (mutes are per chat)."""
        found = self.destination(destination)
        return found.chat_key if found else destination

    def digest_of(self, destination: str) -> DigestSchedule | None:
        found = self.destination(destination)
        return found.digest if found else None


class Runtime:
    """What chat commands and platforms work with: settings, store, clock, the
    ``Directory``'s lists, the pipeline (for its rules and routes), the command limiter."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        directory: Directory,
        pipeline: Pipeline,
        clock: Callable[[], datetime],
        started_at: datetime,
        *,
        limiter: CommandLimiter,
        version: str = __version__,
    ):
        """``limiter``: how often a user may run commands (bot/commands/limits.py)."""
        self.settings = settings
        self.store = store
        self.directory = directory
        self.pipeline = pipeline
        self.clock = clock
        self.started_at = started_at
        self.version = version
        self.limiter = limiter
        self._rules_lock = asyncio.Lock()

    @property
    def file_rules(self) -> list[Rule]:
        return self.directory.file_rules

    def rules(self) -> list[Rule]:
        return self.directory.rules()

    def sources(self) -> list[Source]:
        return self.directory.sources()

    def destinations(self) -> list[Destination]:
        return self.directory.destinations()

    def destination(self, name: str) -> Destination | None:
        return self.directory.destination(name)

    async def refresh_rules(self) -> None:
        """Hand the pipeline the current rules (files and chat), compiled in a thread:
        thousands of rules take seconds, and chat commands must not wait on that.  One
        refresh at a time, so the last change is the one in force."""
        async with self._rules_lock:
            every = self.rules()
            self.pipeline.set_rules(
                every, await asyncio.to_thread(self.pipeline.compile_rules, every)
            )

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
