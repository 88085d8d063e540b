"""A source kind plugged in from outside the bot: one ``Watcher`` subclass defined here
and one ``watchers.register`` line.  Its config section and ``channel`` are read by it
(with located problems), its short forms work in ``watch =`` and ``/addsource``, the
scheduler polls its sources through its fetcher, and their items alert."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import watchers
from bot.app import App
from bot.cli import load_rules
from bot.commands import Invocation, dispatch
from bot.config import config_keys, load_config
from bot.configread import Reader, base_url
from bot.model import FetchResult, FetchState, FetchStatus, Item, Source
from tests.feeds import post, rss
from tests.test_config import problems, write
from watchers.base import Expanded, Fetcher, Link, Section, Watcher
from watchers.expand import expand_source
from watchers.http import HttpClient
from watchers.rss import parse_feed

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class WireSettings:
    base_url: str = "https://wire.example/api"


def parse_wire(r: Reader, raw: Any) -> WireSettings:
    t = r.table(raw, "wire", ("base_url",))
    default = WireSettings().base_url
    return WireSettings(r.get(t, "wire", "base_url", base_url, default, "an http(s) URL"))


class WireWatcher(Watcher):
    """``kind = "wire"``: a news wire's desks, ``wire:<desk>`` or ``wire.example/<desk>``."""

    kind = "wire"
    about = "a news wire desk, read from the wire's API"
    section = Section("wire", ("base_url",), parse_wire)
    default = WireSettings()
    channels = True

    def __init__(self) -> None:
        self.items: dict[str, list[Item]] = {}  # what each source's next poll brings

    def channel_url(self, channel: str, own: WireSettings) -> str:
        return f"{own.base_url}/{channel}"

    def expand_options(self, own: WireSettings) -> Mapping[str, Any]:
        return {"wire_base": own.base_url}

    def expand_name(self, text: str, options: Mapping[str, Any]) -> Expanded | None:
        if not text.startswith("wire:"):
            return None
        desk = text[5:]
        if not desk.isalnum():
            raise ValueError(f"{desk!r} is not a wire desk (letters and digits)")
        return Expanded("wire", f"{options['wire_base']}/{desk}", f"wire-{desk}", ("wire",))

    def expand_link(self, link: Link, options: Mapping[str, Any]) -> Expanded | None:
        if link.host != "wire.example" or not link.segments:
            return None
        return self.expand_name(f"wire:{link.segments[-1]}", options)

    def fetcher(self, own: WireSettings, environ: Mapping[str, str]) -> Fetcher:
        async def fetch(
            source: Source, state: FetchState, http: HttpClient, pool: Executor | None
        ) -> FetchResult:
            assert source.url.startswith(own.base_url)
            return FetchResult(FetchStatus.OK, items=tuple(self.items.get(source.name, ())))

        return fetch


@pytest.fixture
def wire() -> Iterator[WireWatcher]:
    watcher = WireWatcher()
    watchers.register(watcher)  # the one line that adds the kind
    yield watcher
    watchers.unregister(watcher.kind)


def test_the_kind_reads_its_section_and_channel(tmp_path: Path, wire: WireWatcher) -> None:
    settings = load_config(
        write(
            tmp_path,
            '[wire]\nbase_url = "https://api.wire.example/v2/"\n'
            '[[sources]]\nname = "desk"\nkind = "wire"\nchannel = "syria"\n'
            '[[sources]]\nwatch = "wire:iraq"\n',
        )
    )
    desk, iraq = settings.sources
    assert (desk.kind, desk.url) == ("wire", "https://api.wire.example/v2/syria")
    assert (iraq.name, iraq.kind, iraq.url) == (
        "wire-iraq",
        "wire",
        "https://api.wire.example/v2/iraq",
    )
    assert settings.source_settings("wire") == WireSettings("https://api.wire.example/v2")
    assert config_keys()["wire"] == ("base_url",)  # README must document it, as any section


def test_its_problems_are_located_as_any_others(tmp_path: Path, wire: WireWatcher) -> None:
    found = problems(
        tmp_path,
        '[wire]\nbase_url = "gopher://x"\ncolour = 1\n'
        '[[sources]]\nname = "a"\nkind = "fax"\nurl = "https://x.org/"\n'
        '[[sources]]\nname = "b"\nchannel = "syria"\n'
        '[[sources]]\nwatch = "wire:no-such-desk"\n',
    )
    assert found == [
        'wire.colour: unknown key "colour" (allowed: base_url)',
        'wire.base_url: expected an http(s) URL, got "gopher://x"',
        'sources[0].kind: expected one of rss, telegram, vk, wire, got "fax"',
        'sources[1].channel: only for kind = "telegram" or "vk" or "wire", not "rss"',
        found[4],
    ]
    assert found[4].startswith("sources[2].watch: expected what to watch, as /addsource")


def test_its_short_forms_and_no_others(wire: WireWatcher) -> None:
    options = {"wire_base": "https://wire.example/api"}
    assert expand_source("wire:gaza", **options).url == "https://wire.example/api/gaza"
    assert expand_source("https://wire.example/desks/gaza", **options).kind == "wire"
    assert expand_source("https://example.org/wire.rss", **options).kind == "rss"
    with pytest.raises(ValueError, match="not a wire desk"):
        expand_source("wire:g/aza", **options)


async def test_its_sources_are_polled_and_alert_and_chat_adds_them(
    tmp_path: Path, wire: WireWatcher
) -> None:
    settings = load_config(
        write(
            tmp_path,
            f'[storage]\npath = "dozor.db"\n[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
            '[[destinations]]\nname = "console"\nkind = "console"\n'
            '[[sources]]\nname = "desk"\nkind = "wire"\nchannel = "syria"\n',
        )
    )
    rules, bad = load_rules(settings)
    assert bad == []
    (item,) = parse_feed(rss([post(271457)]), {}, "desk", (), "https://wire.example/").items
    out = io.StringIO()
    async with App(settings, rules, stream=out, environ={}) as app:
        (baseline,) = (await app.run_once()).polls
        assert baseline.ingest is not None and baseline.ingest.baseline
        wire.items["desk"] = [item]
        summary = await app.run_once()
        assert [p.ingest.new for p in summary.polls if p.ingest] == [1]
        assert summary.sent == 1 and "Дейр-эз-Зор" in out.getvalue()

        reply = await dispatch(
            app.context,
            Invocation(
                platform="console",
                chat_id=None,
                user_id="console",
                user_name="console",
                command="addsource",
                args="wire:iraq",
                chat_type="private",
            ),
        )
        assert "It is a news wire desk, read from the wire's API." in reply.text
        added = {s.name: s for s in app.context.sources()}["wire-iraq"]
        assert (added.kind, added.url) == ("wire", "https://wire.example/api/iraq")
