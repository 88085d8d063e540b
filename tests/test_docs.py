"""The README stays true: every config key and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import CONFIG_KEYS, TOP_KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README text under a ``### `[title]` `` heading, up to the next heading."""
    match = re.search(rf"^### `\[+{re.escape(title)}\]+`\n(.*?)(?=^#)", README, re.S | re.M)
    assert match, f"README has no config section for [{title}]"
    return match.group(1)


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:800]
    assert "make run" in head and "make test" in head


@pytest.mark.parametrize("table", sorted(CONFIG_KEYS))
def test_every_config_key_is_documented(table: str) -> None:
    assert table in TOP_KEYS
    text = section(table)
    for key in CONFIG_KEYS[table]:
        assert re.search(rf"^\| `{key}` \|", text, re.M), f"[{table}] {key} is not in the README"


def test_no_documented_key_is_unknown_to_the_config() -> None:
    for table, keys in CONFIG_KEYS.items():
        documented = re.findall(r"^\| `([a-z_]+)` \|", section(table), re.M)
        assert set(documented) <= set(keys), f"README documents keys [{table}] does not have"


def cli_commands() -> list[str]:
    """Every `dozor ...` command line the parser knows, e.g. "dozor sources import"."""
    import argparse

    from bot.cli import build_parser

    found = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append(prefix)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, f"{prefix} {name}")

    walk(build_parser(), "dozor")
    return found


@pytest.mark.parametrize("command", cli_commands())
def test_every_cli_command_is_documented(command: str) -> None:
    table = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    assert f"| `{command} " in table, f"{command} is not in the README's command table"


def test_every_rule_key_is_documented() -> None:
    from bot.matching.rulefiles import RULE_KEYS

    text = README.split("## Rule files", 1)[1].split("## Config reference", 1)[0]
    for key in RULE_KEYS:
        assert f"| `{key}` |" in text, f"rule key {key} is not in the README"


def test_every_chat_command_is_documented() -> None:
    from bot.commands import COMMANDS

    text = README.split("### Chat commands", 1)[1].split("\n## ", 1)[0]
    for command in COMMANDS:
        assert re.search(rf"`/{command.name}\b", text), f"/{command.name} is not in the README"
