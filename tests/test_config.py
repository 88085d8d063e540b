"""config.toml -> Settings: good configs load, bad ones name every problem by key path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot import platforms
from bot.config import ConfigError, format_duration, load_config, parse_duration

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["fast", "", "5", "m5", "-5m", "5 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_shipped_config_loads() -> None:
    settings = load_config(ROOT / "config.toml")
    names = [s.name for s in settings.sources]
    assert "ria-novosti-sample" in names and "guardian-world" in names
    sample = next(s for s in settings.sources if s.name == "ria-novosti-sample")
    assert sample.url.startswith("file:///") and sample.url.endswith(".json")
    assert Path(sample.url.removeprefix("file://")).exists()
    assert sample.backfill > 0 and sample.interval == timedelta(minutes=5)
    assert not next(s for s in settings.sources if s.name == "guardian-world").enabled
    assert settings.routes.default == ("console",)
    assert settings.storage.path == ROOT / "dozor.db"


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    settings = load_config(
        write(
            tmp_path,
            '[[sources]]\nname = "a"\nurl = "https://example.org/feed"\n'
            '[[destinations]]\nname = "console"\nkind = "console"\n',
        )
    )
    assert settings.sources[0].kind == "rss"
    assert settings.sources[0].interval == timedelta(minutes=5)
    assert settings.routes.default == ("console",)  # no [routes]: every destination
    assert settings.storage.path == tmp_path / "dozor.db"
    assert settings.rules.paths == ("rules/*.toml",)


def test_the_example_error_from_the_issue(tmp_path: Path) -> None:
    text = (
        "".join(f'[[sources]]\nname = "s{i}"\nurl = "https://example.org/{i}"\n' for i in range(3))
        + '[[sources]]\nname = "s3"\nurl = "https://example.org/3"\ninterval = "fast"\n'
    )
    assert problems(tmp_path, text) == [
        'sources[3].interval: expected a duration like "5m", got "fast"'
    ]


def test_every_problem_is_listed_with_its_key_path(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
colour = "red"
[storage]
pth = "x.db"
[polling]
interval = 5
jitter = 2
[[sources]]
name = "a b"
kind = "gopher"
url = "ftp://example.org/"
tags = "news"
[[sources]]
url = "https://example.org/"
backfill = -1
[[destinations]]
name = "desk"
kind = "fax"
[routes]
default = ["consle"]
""",
    )
    joined = "\n".join(found)
    for expected in [
        'colour: unknown key "colour"',
        'storage.pth: unknown key "pth" (did you mean "path"?)',
        'polling.interval: expected a duration like "5m", got 5',
        "polling.jitter: expected a fraction from 0 to 0.5, got 2",
        'sources[0].name: expected a name of letters, digits, - _ ., got "a b"',
        'sources[0].kind: expected one of rss, telegram, vk, got "gopher"',
        'sources[0].url: expected an http(s) URL or "file:path", got "ftp://example.org/"',
        'sources[0].tags: expected a list of strings, got "news"',
        "sources[1].name: missing",
        "sources[1].backfill: expected a whole number of items, got -1",
        f'destinations[0].kind: expected one of {", ".join(platforms.names())}, got "fax"',
        'routes.default: no destination named "consle"',
    ]:
        assert expected in joined, f"{expected!r} not in:\n{joined}"


def test_duplicate_names(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[[sources]]\nname = "a"\nurl = "https://x.org/1"\n'
        '[[sources]]\nname = "a"\nurl = "https://x.org/2"\n',
    )
    assert found == ['sources[1].name: "a" is already the name of sources[0]']


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    found = problems(tmp_path, '[storage]\npath = "x.db\n')
    assert len(found) == 1 and "TOML syntax error" in found[0] and "line 2" in found[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "cannot read the file" in info.value.problems[0]


def test_route_to_unknown_destination_names_the_rule(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[[destinations]]\nname = "console"\nkind = "console"\n'
        '[routes.rules]\n"wagner" = ["desk"]\n',
    )
    assert found == ['routes.rules."wagner": no destination named "desk" (known: console)']


def test_telegram_destinations_and_settings(tmp_path: Path) -> None:
    settings = load_config(
        write(
            tmp_path,
            """
[telegram]
api_base_url = "http://127.0.0.1:8081/"
admins = [42]
[[destinations]]
name = "desk"
kind = "telegram"
chat_id = -1001234567890
thread_id = 7
silent = true
""",
        )
    )
    (desk,) = settings.destinations
    assert (desk.option("chat_id"), desk.option("thread_id"), desk.silent, desk.link_preview) == (
        -1001234567890,
        7,
        True,
        False,
    )
    assert desk.chat_key == "telegram:-1001234567890"
    telegram = settings.section("telegram")
    assert telegram.api_base_url == "http://127.0.0.1:8081"
    assert telegram.admins == (42,) and telegram.members_can_watch


def test_telegram_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
[telegram]
mode = "webhook"
admins = ["@boss"]
[[destinations]]
name = "desk"
kind = "telegram"
[[destinations]]
name = "console"
kind = "console"
chat_id = 5
""",
    )
    assert found == [
        "destinations[0].chat_id: missing (expected a Telegram chat id like -1001234567890)",
        'destinations[1].chat_id: only for kind = "telegram", not "console"',
        "telegram.admins: expected a list of Telegram user ids, got a list",
        'telegram.webhook_url: missing (needed with mode = "webhook")',
    ]


def test_slack_destinations_and_settings(tmp_path: Path) -> None:
    settings = load_config(
        write(
            tmp_path,
            """
[slack]
api_base_url = "http://127.0.0.1:8082/api"
admins = ["U0123ABC"]
channels = ["C0EXTRA1"]
mode = "http"
per_channel_interval = "2s"
[[destinations]]
name = "desk"
kind = "slack"
channel = "C0123ABC"
thread_ts = "1700000000.000100"
unfurl = true
[[destinations]]
name = "plain"
kind = "slack"
channel = "G0PRIVATE"
""",
        )
    )
    desk, plain = settings.destinations
    assert tuple(map(desk.option, ("channel", "thread_ts", "unfurl", "chat_id"))) == (
        "C0123ABC",
        "1700000000.000100",
        True,
        None,
    )
    assert desk.chat_key == "slack:C0123ABC" and desk.address == "C0123ABC"
    assert (plain.option("thread_ts"), plain.option("unfurl")) == (None, False)
    slack = settings.section("slack")
    assert slack.api_base_url == "http://127.0.0.1:8082/api/"  # slack_sdk appends the method
    assert (slack.admins, slack.channels, slack.mode) == (("U0123ABC",), ("C0EXTRA1",), "http")
    assert slack.per_channel_interval == timedelta(seconds=2) and slack.members_can_watch
    assert slack.http_listen == "127.0.0.1:3000"


def test_slack_defaults(tmp_path: Path) -> None:
    slack = load_config(write(tmp_path, "")).section("slack")
    assert (slack.api_base_url, slack.mode) == ("https://slack.com/api/", "socket")
    assert slack.per_channel_interval == timedelta(seconds=1)


def test_slack_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
[slack]
mode = "webhook"
admins = ["@boss"]
channels = ["#general"]
http_listen = "3000"
[[destinations]]
name = "desk"
kind = "slack"
[[destinations]]
name = "named"
kind = "slack"
channel = "#osint"
thread_ts = 1700000000.0001
[[destinations]]
name = "tg"
kind = "telegram"
chat_id = -100123
channel = "C0123ABC"
unfurl = true
""",
    )
    assert found == [
        'destinations[0].channel: missing (expected a Slack channel id like "C0123ABC")',
        'destinations[1].channel: expected a Slack channel id like "C0123ABC", got "#osint"',
        'destinations[1].thread_ts: expected the ts of a thread like "1700000000.000100", '
        "got 1700000000.0001",
        'destinations[2].channel: only for kind = "slack", not "telegram"',
        'destinations[2].unfurl: only for kind = "slack", not "telegram"',
        'slack.mode: expected socket or http, got "webhook"',
        'slack.http_listen: expected a "host:port" to listen on, got "3000"',
        'slack.admins: expected a list of Slack user ids like "U0123ABC", got a list',
        'slack.channels: expected a list of Slack channel ids like "C0123ABC", got a list',
    ]


def test_sources_named_the_way_addsource_takes_them(tmp_path: Path) -> None:
    """``watch``: a Mastodon account, a subreddit, a news search or a channel, written as
    in chat, becomes its feed (the name and the kind follow unless given)."""
    path = write(
        tmp_path,
        """
[[sources]]
watch = "r/syriancivilwar"
[[sources]]
watch = "@osint@mastodon.social"
tags = ["osint"]
[[sources]]
name = "news-wagner"
watch = "news:Wagner Deir ez-Zor"
[[sources]]
watch = "@rian_ru"
""",
    )
    sources = {s.name: s for s in load_config(path).sources}
    reddit = sources["reddit-syriancivilwar"]
    assert (reddit.kind, reddit.url) == ("rss", "https://www.reddit.com/r/syriancivilwar/.rss")
    mastodon = sources["mastodon-osint-mastodon.social"]
    assert mastodon.url == "https://mastodon.social/@osint.rss"
    assert mastodon.tags == ("osint", "mastodon")
    assert sources["news-wagner"].url.startswith("https://news.google.com/rss/search?q=Wagner+")
    channel = sources["tg-rian_ru"]
    assert (channel.kind, channel.url) == ("telegram", "https://t.me/s/rian_ru")


def test_watch_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
[[sources]]
watch = "bogus thing"
[[sources]]
watch = "r/syria"
url = "https://example.org/feed"
[[sources]]
watch = "@rian_ru"
kind = "rss"
""",
    )
    assert found[0].startswith("sources[0].watch: expected what to watch, as /addsource")
    assert found[0].endswith('got "bogus thing"')
    assert found[1] == "sources[1].watch: give one of url, channel or watch, not several"
    assert found[2] == 'sources[2].kind: "@rian_ru" is a telegram source, not rss'
    assert len(found) == 3
