"""The compiled rules' file beside the store (``bot.matching.cache``): a start that
reads it matches exactly as a fresh compile does, and a stale or damaged file is never
used: it is ignored with a log line, the rules are compiled and the file is rewritten."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from bot.matching import Matcher, load_rule_files
from bot.matching.cache import cache_key, cache_path, cached_matcher
from bot.model import Rule
from tests.test_matching_reference import ITEMS, _rule

ROOT = Path(__file__).resolve().parents[1]


def _rules() -> list[Rule]:
    """The shipped rule files and random rules of every shape made of real posts' words."""
    shipped = load_rule_files(["rules/*.toml"], ROOT).rules
    rng = random.Random(13)
    return [*shipped, *(_rule(rng, n) for n in range(300))]


def _matches(matcher: Matcher) -> list[list[tuple[str, tuple[str, ...], tuple[object, ...]]]]:
    return [[(m.rule, m.terms, m.spans) for m in matcher.match(item)] for item in ITEMS]


def _records(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name == "dozor.matching"]
    caplog.clear()
    return found


def test_a_cached_start_matches_as_a_fresh_compile_on_real_posts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "dozor.matching")
    rules = _rules()
    path = cache_path(tmp_path / "dozor.db")
    assert path == tmp_path / "dozor.matcher"
    fresh = _matches(Matcher(rules))
    assert sum(map(len, fresh)) > 100  # the rules fire: the comparison means something

    first = cached_matcher(rules, path)  # nothing there yet: compiled and written
    assert any("none yet" in r for r in _records(caplog))
    written = path.stat().st_mtime_ns, path.read_bytes()
    second = cached_matcher(rules, path)  # read back
    assert _records(caplog) == []
    assert (path.stat().st_mtime_ns, path.read_bytes()) == written  # not compiled again
    assert second is not first
    assert _matches(first) == fresh
    assert _matches(second) == fresh
    assert second.rules == tuple(rules)
    assert cache_path(":memory:") is None


def test_a_changed_rule_file_or_option_is_compiled_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "dozor.matching")
    rules_file = tmp_path / "watch.toml"
    rules_file.write_text('[[rule]]\nname = "w"\nany = ["Вагнер"]\n', "utf-8")
    path = tmp_path / "dozor.matcher"
    item = next(i for i in ITEMS if "Пригожин" in i.text and "Вагнер" not in i.text)

    def start() -> Matcher:
        return cached_matcher(load_rule_files(["*.toml"], tmp_path).rules, path)

    assert start().match(item) == []
    rules_file.write_text('[[rule]]\nname = "w"\nany = ["Пригожин"]\n', "utf-8")
    _records(caplog)
    assert [m.rule for m in start().match(item)] == ["w"]
    assert any("other rules" in r for r in _records(caplog))
    assert [m.rule for m in start().match(item)] == ["w"]  # and now read back
    assert _records(caplog) == []

    rules_file.write_text('[[rule]]\nname = "w"\nany = ["Пригожин"]\ninflect = false\n', "utf-8")
    changed = start()
    assert any("other rules" in r for r in _records(caplog))
    assert changed.rules[0].inflect is False
    # the options a Matcher is built with are part of the key too
    rules = load_rule_files(["*.toml"], tmp_path).rules
    assert cache_key(rules) == cache_key(rules)
    assert cache_key(rules) != cache_key(rules, languages=("ru", "uk"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:],  # a flipped byte
        lambda data: b"",
        lambda data: b"not a compiled rules file at all\n" * 10,
    ],
    ids=["truncated", "flipped-byte", "empty", "garbage"],
)
def test_a_damaged_file_is_ignored_logged_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    caplog.set_level(logging.INFO, "dozor.matching")
    rules = _rules()[:60]
    path = tmp_path / "dozor.matcher"
    fresh = _matches(Matcher(rules))
    cached_matcher(rules, path)
    good = path.read_bytes()
    path.write_bytes(damage(good))  # type: ignore[operator]
    _records(caplog)

    rebuilt = cached_matcher(rules, path)
    assert any("compiling again" in r for r in _records(caplog))
    assert _matches(rebuilt) == fresh
    assert path.read_bytes().split(b"\n")[1] == good.split(b"\n")[1]  # rewritten, same key
    assert _matches(cached_matcher(rules, path)) == fresh
    assert _records(caplog) == []  # the rewritten file is good
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left nothing behind


def test_an_unwritable_place_still_gives_a_matcher(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "dozor.matching")
    rules = _rules()[:20]
    path = tmp_path / "no-such-dir" / "dozor.matcher"
    assert _matches(cached_matcher(rules, path)) == _matches(Matcher(rules))
    assert any("cannot write" in r for r in _records(caplog))


def test_an_edited_rule_makes_only_its_new_words_forms(tmp_path: Path) -> None:
    """The word forms of the last compile are kept beside the compiled rules: after one
    rule is edited, the compile makes only the forms of the words it has not seen, and
    matches exactly as a fresh compile does."""
    from bot.matching import inflect

    path = tmp_path / "dozor.matcher"
    rules = _rules()
    cached_matcher(rules, path)
    assert (tmp_path / "dozor.forms.matcher").exists()
    edited = [*rules[:-1], Rule("edited", any=("переговоры", "Пригожин"))]
    inflect.language_forms.cache_clear()
    from bot.matching import forms

    forms._union.cache_clear()
    forms.grouped_forms.cache_clear()
    matcher = cached_matcher(edited, path)
    made = inflect.language_forms.cache_info().misses
    assert 0 < made <= 4  # two new words, each in Russian and Ukrainian
    assert _matches(matcher) == _matches(Matcher(edited))
