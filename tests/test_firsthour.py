"""The first hour of a new user (issue 15): what the README promises, checked."""

from __future__ import annotations

from pathlib import Path

from bot.cli import load_rules
from bot.config import load_config

CONSOLE = '[[destinations]]\nname = "console"\nkind = "console"\n'


def test_a_rule_naming_an_unknown_destination_skips_its_file_with_a_located_error(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "desk.toml").write_text(
        '[[rule]]\nname = "desk"\nany = ["Вагнер"]\n'
        '[[rule]]\nname = "night"\nany = ["БПЛА"]\ndestinations = ["console", "slack-desk"]\n',
        "utf-8",
    )
    (rules / "ok.toml").write_text('[[rule]]\nname = "ok"\nany = ["Сирия"]\n', "utf-8")
    (tmp_path / "config.toml").write_text(f'[rules]\npaths = ["rules/*.toml"]\n{CONSOLE}', "utf-8")
    loaded, problems = load_rules(load_config(tmp_path / "config.toml"))
    assert [r.name for r in loaded] == ["ok"]  # desk.toml is skipped as a whole
    assert problems == [
        'rules/desk.toml:7: rule "night": no destination named "slack-desk" in the config '
        "(known: console)"
    ]
