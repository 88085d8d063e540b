"""A platform defined outside the repo's platform packages (here: in this test) plugs in
through the registry alone: its config section and destination keys are read by its
own parsers, an item that matches a rule reaches it end to end through the real
feed -> pipeline -> outbox path, and the permission layer asks it who is an admin.
No module of the bot knows its name."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from bot import platforms
from bot.app import App
from bot.commands import Invocation, dispatch
from bot.commands.permissions import is_admin, is_served
from bot.commands.types import Button
from bot.config import ConfigError, Settings, load_config
from bot.configread import Reader, string, strings
from bot.matching import RuleFiles
from bot.migrations import MIGRATIONS
from bot.model import OutgoingMessage, SendResult, SendStatus
from bot.platforms.base import Adapter, Address, Capabilities, Limits, Platform, Section, Wiring
from bot.store import Store
from tests.fakes.feed_server import FeedServer


@dataclass(frozen=True)
class PigeonSettings:
    keepers: tuple[str, ...] = ()


def parse_pigeon(r: Reader, raw: Any) -> PigeonSettings:
    t = r.table(raw, "pigeon", ("keepers",))
    return PigeonSettings(r.get(t, "pigeon", "keepers", strings, (), "a list of names"))


class Loft:
    """The adapter: every message lands in a list."""

    kind = "pigeon"

    def __init__(self, wiring: Wiring, landed: list[tuple[str, str]]):
        self.context = wiring.context
        self.landed = landed
        self.started = False
        self.listening = False

    async def start(self, *, listen: bool = True) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def send(self, message: OutgoingMessage) -> SendResult:
        d = self.context.destination(message.destination)
        assert d is not None and d.address is not None
        self.landed.append((d.address, message.alert.item.title))
        return SendResult(SendStatus.SENT, remote_id=str(len(self.landed)))

    async def edit(self, message: OutgoingMessage) -> SendResult:
        return SendResult(SendStatus.SENT, remote_id=message.remote_id)

    async def send_text(
        self,
        destination: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        self.landed.append((destination, text))
        return SendResult(SendStatus.SENT)


class Pigeon(Platform):
    name = "pigeon"
    title = "Pigeon post"
    limits = Limits(message=500)
    can = Capabilities()  # alerts only
    section = Section("pigeon", ("keepers",), parse_pigeon)
    default = PigeonSettings()
    destination_keys = ("loft",)

    def __init__(self) -> None:
        self.landed: list[tuple[str, str]] = []

    def parse_destination(self, r: Reader, table: Mapping[str, Any], where: str) -> Address:
        loft = r.get(dict(table), where, "loft", string, None, "a loft name", required=True)
        return Address(loft)

    def is_admin(self, settings: Settings, user_id: int | str) -> bool:
        return str(user_id) in self.own(settings).keepers

    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        return Loft(wiring, self.landed)


def invocation(platform: str, line: str) -> Invocation:
    head, _, args = line.partition(" ")
    return Invocation(platform, "north", "anna", "anna", head.lstrip("/"), args)


@pytest.fixture
def pigeon() -> Iterator[Pigeon]:
    platform = Pigeon()
    platforms.register(platform)
    try:
        yield platform
    finally:
        platforms.unregister(platform.name)


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Кот вернулся домой</title><link>https://example.org/1</link>
<guid>https://example.org/1</guid><description>Рыжий кот вернулся</description></item>
</channel></rss>"""


def write_config(tmp_path: Path, feed: str, destination: str, extra: str = "") -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "cats.toml").write_text('[[rule]]\nname = "cats"\nany = ["кот"]\n')
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[rules]
paths = ["rules/*.toml"]
[pigeon]
keepers = ["anna"]
{extra}
[[destinations]]
{destination}
[[sources]]
name = "cats"
url = "{feed}"
backfill = 5
""",
        encoding="utf-8",
    )
    return path


async def test_a_platform_defined_in_a_test_gets_an_alert_end_to_end(
    tmp_path: Path, pigeon: Pigeon
) -> None:
    async with FeedServer() as server:
        server.set("/cats.rss", body=RSS)
        settings = load_config(
            write_config(
                tmp_path, server.url("/cats.rss"), 'name = "roof"\nkind = "pigeon"\nloft = "north"'
            )
        )
        (roof,) = settings.destinations
        assert (roof.platform, roof.address, roof.chat_key) == ("pigeon", "north", "pigeon:north")
        assert settings.section("pigeon") == PigeonSettings(keepers=("anna",))
        files = RuleFiles(settings.rules.paths, settings.base_dir, frozenset({"roof"}))
        loaded = files.reload()
        assert loaded.errors == () and [r.name for r in loaded.rules] == ["cats"]
        async with App(settings, loaded.rules, stream=io.StringIO(), rule_files=files) as app:
            summary = await app.run_once()
            assert summary.sent == 1
            assert is_admin(app.context, "pigeon", "anna")
            assert not is_admin(app.context, "pigeon", "boris")
            assert is_served(app.context, "pigeon", "north")
            help_text = (await dispatch(app.context, invocation("pigeon", "/help"))).text
            assert help_text.endswith(
                "Here: Pigeon post has no commands, buttons, threads, files or edits; "
                "alerts arrive all the same."
            )
    assert pigeon.landed == [("north", "Кот вернулся домой")]


def test_its_config_problems_are_located_and_other_kinds_refuse_its_keys(
    tmp_path: Path, pigeon: Pigeon
) -> None:
    path = write_config(
        tmp_path,
        "https://example.org/feed",
        'name = "roof"\nkind = "pigeon"\n'
        '[[destinations]]\nname = "desk"\nkind = "console"\nloft = "south"',
        extra="flock = 3",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems == [
        "destinations[0].loft: missing (expected a loft name)",
        'destinations[1].loft: only for kind = "pigeon", not "console"',
        'pigeon.flock: unknown key "flock" (allowed: keepers)',
    ]


def test_chat_destinations_from_before_keep_their_platform_and_address(tmp_path: Path) -> None:
    """A store from before neutral addresses (schema 9): a Telegram topic and a Slack
    channel that /watch made, and a Telegram group that moved, read back as platform,
    address and thread; new ones record their platform, whatever their id looks like."""
    path = tmp_path / "old.db"
    before = [m.__name__ for m in MIGRATIONS].index("_m9_search") + 1
    with sqlite3.connect(path) as conn:
        db = sqlite_utils.Database(conn)
        for migration in MIGRATIONS[:before]:
            migration(db)
        conn.execute(f"PRAGMA user_version = {before}")
        conn.execute(
            "insert into chat_destinations (name, kind, chat_id, thread_id, channel, created_at)"
            " values ('telegram:-100123:7', 'telegram', -100123, 7, null, '2024-12-03'),"
            " ('slack:C0DESK', 'slack', null, null, 'C0DESK', '2024-12-03')"
        )
        conn.execute("insert into destination_state (name, chat_id) values ('desk', -100999)")
    store = Store.open(path)
    assert [(d.platform, d.address, d.thread) for d in store.chat_destinations()] == [
        ("slack", "C0DESK", None),
        ("telegram", "-100123", "7"),
    ]
    assert store.destination_addresses() == {"desk": "-100999"}
    now = datetime(2024, 12, 4, tzinfo=UTC)
    assert store.chat_destination("pigeon", "12345", None, now) == "pigeon:12345"
    assert store.chat_destination("pigeon", 67, "2", now) == "pigeon:67:2"
    made = {d.name: d for d in store.chat_destinations()}
    assert (made["pigeon:12345"].platform, made["pigeon:12345"].address) == ("pigeon", "12345")
    assert (made["pigeon:67:2"].address, made["pigeon:67:2"].thread) == ("67", "2")
    store.close()
