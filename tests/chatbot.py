"""A whole Dozor bot for chat-command tests, in the spirit of errbot's ``testbot``.

``ChatBot`` builds the real ``App`` (store on a temp SQLite file, the repo's real
rules, a temp config with two Telegram desks) with an injected clock, then lets a test
type commands as a user in a chat and read the ``Reply``:

    reply = await bot.command("/watch Вагнер* погиб*", chat=bot.DESK, user=bot.MEMBER)

Nothing is mocked: stored items come from the real posts of tests/fixtures through
the RSS parser, and ``poll`` hands them to the poller exactly as a fetch would.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import App
from bot.cli import load_rules
from bot.commands import Invocation, Press, PressOutcome, Reply, dispatch, press
from bot.config import load_config
from bot.model import FetchResult, FetchStatus, Item, OutgoingMessage, Source
from bot.runtime import Runtime
from bot.scheduler import PollReport
from bot.store import Store
from tests import clock
from tests.feeds import USERNAMES, rss
from watchers.rss import parse_feed

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 12, 3, 9, 0, tzinfo=UTC)  # the morning of the fixture's posts
POOL = ThreadPoolExecutor(2)
SOURCE_OF = {"rian_ru": "ria", "bbcrussian": "bbc", "bbbreaking": "breaking"}

TELEGRAM = """
[telegram]
admins = [1]
chats = [-100777]
"""


class Clock(clock.Clock):
    """``tests.clock.Clock`` starting at ``START``, moved with ``advance``."""

    def __init__(self, now: datetime = START) -> None:
        super().__init__(now)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class ChatBot:
    ADMIN, MEMBER = 1, 42
    DESK, OSINT = -100123, -100456  # chats of the two telegram destinations
    EXTRA = -100777  # served through [telegram] chats only
    UNSERVED = -100999

    def __init__(self, tmp_path: Path, telegram: str = TELEGRAM):
        self.tmp_path = tmp_path
        self.clock = Clock()
        self.console = io.StringIO()
        self.configure(telegram)
        self.app: App | None = None

    def configure(self, telegram: str = TELEGRAM) -> None:
        path = self.tmp_path / "config.toml"
        path.write_text(
            f"""
[storage]
path = "dozor.db"
[rules]
paths = ["{ROOT}/rules/*.toml"]
[[destinations]]
name = "console"
kind = "console"
[[destinations]]
name = "desk"
kind = "telegram"
chat_id = {self.DESK}
[[destinations]]
name = "osint"
kind = "telegram"
chat_id = {self.OSINT}
[routes]
default = ["console"]
# two file rules also alert the desk: they are its rules (see bot.commands.permissions)
rules = {{ wagner = ["console", "desk"], "deir-ez-zor" = ["console", "desk"] }}
[[sources]]
name = "ria"
url = "https://ria.example/rian_ru.rss"
tags = ["ru", "telegram"]
[[sources]]
name = "bbc"
url = "https://bbc.example/russian.rss"
tags = ["ru"]
[[sources]]
name = "breaking"
url = "https://breaking.example/bbbreaking.rss"
tags = ["ru", "telegram"]
[[sources]]
name = "guardian"
url = "https://guardian.example/world.rss"
tags = ["en"]
{telegram}
""",
            "utf-8",
        )
        self.settings = load_config(path)
        self.rules, problems = load_rules(self.settings)
        assert problems == []

    async def start(self) -> ChatBot:
        self.app = App(
            self.settings, self.rules, stream=self.console, clock=self.clock, pool=POOL, environ={}
        )
        await self.app.__aenter__()
        return self

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.__aexit__(None, None, None)
            self.app = None

    async def restart(self, telegram: str | None = None) -> None:
        """A new App on the same store (and, given ``telegram``, a changed config)."""
        await self.stop()
        if telegram is not None:
            self.configure(telegram)
        await self.start()

    @property
    def ctx(self) -> Runtime:
        assert self.app is not None
        return self.app.context

    @property
    def store(self) -> Store:
        return self.ctx.store

    async def command(
        self,
        line: str,
        *,
        chat: int | None = None,
        user: int | None = None,
        reply_to: str | None = None,
        thread: int | None = None,
        chat_type: str | None = None,
    ) -> Reply:
        """Type ``line`` as ``user`` in ``chat`` (no chat: the console, as its admin)."""
        head, _, args = line.partition(" ")
        uid = self.MEMBER if user is None else user
        kind = chat_type or ("private" if chat is None or chat > 0 else "supergroup")
        return await dispatch(
            self.ctx,
            Invocation(
                platform="console" if chat is None else "telegram",
                chat_id=chat,
                user_id="console" if chat is None else uid,
                user_name="console" if chat is None else f"@u{uid}",
                command=head.lstrip("/"),
                args=args.strip(),
                chat_type=kind,
                thread_id=thread,
                reply_to_message_id=reply_to,
            ),
        )

    async def press(self, data: str, *, chat: int | None, user: int | None = None) -> PressOutcome:
        uid = self.MEMBER if user is None else user
        return await press(
            self.ctx,
            Press(
                platform="console" if chat is None else "telegram",
                chat_id=chat,
                user_id="console" if chat is None else uid,
                user_name="console" if chat is None else f"@u{uid}",
                message_id="1",
                data=data,
            ),
        )

    # -- stored items and alerts from real posts ---------------------------------------

    def source(self, name: str) -> Source:
        return next(s for s in self.ctx.sources() if s.name == name)

    def items(self, posts: list[dict], source: str | None = None) -> list[Item]:
        """The posts as the RSS watcher parses them, from their own channel's source
        unless ``source`` is given."""
        sources = {s.name: s for s in self.ctx.sources()}
        out: list[Item] = []
        for post in posts:
            s = sources[source or SOURCE_OF[USERNAMES[post["sender_id"]]]]
            parsed = parse_feed(rss([post]), {}, s.name, s.tags, s.url)
            assert parsed.error is None, parsed.error
            out.extend(parsed.items)
        return out

    def seed(self, posts: list[dict]) -> None:
        """Store items as polls would have (seen, not alerted)."""
        self.store.mark_seen(self.items(posts), self.clock())

    def poll(self, source: str, posts: list[dict]) -> PollReport:
        """One successful poll of ``source`` bringing ``posts``: the first is a baseline."""
        assert self.app is not None
        items = self.items(posts, source)
        result = FetchResult(FetchStatus.OK, items=tuple(items))
        return self.app.poller.record(self.source(source), result)

    def pending(self, destination: str) -> list[OutgoingMessage]:
        return self.store.claim_deliveries(destination, self.clock())
