"""Rule files -> Rules: the team's ``rules/*.toml``, validated, every problem located.

Feeds the "Item -> Match" stage (``Matcher``).  A rule file holds ``[[rule]]``
tables (see ``rules/wagner.toml``); ``RULE_KEYS`` are the keys a rule may have.

Invariants: every problem becomes one error string starting ``file:line:`` (line of
the key when known, else of the rule's ``[[rule]]`` header; tomllib gives no line for
values, so lines are found by scanning the text); a file with any error contributes
no rules, other files still load; rule names are unique across all files.  Nothing
raises: the caller decides whether errors are fatal.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.matching.matcher import Pattern, TermError, compile_term
from bot.model import Rule

RULE_KEYS = ("all", "any", "description", "destinations", "name", "none", "tags")
_TERM_KEYS = ("any", "all", "none")
_LIST_KEYS = ("tags", "destinations")
_NAME = re.compile(r"^[\w-]+(?: [\w-]+)*$")
_RULE_HEADER = re.compile(r"""^\s*\[\[\s*(?:rule|"rule"|'rule')\s*\]\]""")
_TABLE_HEADER = re.compile(r"^\s*\[")
_ANY_KEY = re.compile(r"""^\s*(?:[\w-]+|"[^"]*"|'[^']*')\s*=""")
_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True)
class RuleLoad:
    """What ``load_rule_files`` found: the rules of error-free files, every error, and
    every file it read (absolute paths, in load order)."""

    rules: tuple[Rule, ...] = ()
    errors: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()


def load_rule_files(patterns: Sequence[str], base_dir: Path) -> RuleLoad:
    """Load the rule files that ``patterns`` (globs, relative to ``base_dir`` unless
    absolute; ``**`` recurses) match, in pattern order, each file once."""
    errors: list[str] = []
    files = _expand(patterns, base_dir, errors)
    first_seen: dict[str, str] = {}  # rule name -> "file:line" of its first definition
    rules: list[Rule] = []
    for path in files:
        file_rules, file_errors = _RuleFile(path, base_dir, first_seen).load()
        errors.extend(file_errors)
        if not file_errors:
            rules.extend(file_rules)
    return RuleLoad(rules=tuple(rules), errors=tuple(errors), files=tuple(files))


def _expand(patterns: Sequence[str], base_dir: Path, errors: list[str]) -> list[Path]:
    files: dict[str, Path] = {}
    for pattern in patterns:
        found = [
            Path(os.path.abspath(base_dir / m))
            for m in sorted(glob.glob(pattern, root_dir=base_dir, recursive=True))
        ]
        found = [p for p in found if p.is_file()]
        if not found:
            errors.append(f"{pattern}: no rule file matches this pattern (looked in {base_dir})")
        for path in found:
            files.setdefault(str(path), path)
    return list(files.values())


def _display(path: Path, base_dir: Path) -> str:
    try:
        return path.relative_to(os.path.abspath(base_dir)).as_posix()
    except ValueError:
        return path.as_posix()


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


class _RuleFile:
    """One file being loaded: its text for line lookups, and the errors found so far."""

    def __init__(self, path: Path, base_dir: Path, first_seen: dict[str, str]):
        self.path = path
        self.shown = _display(path, base_dir)
        self.first_seen = first_seen
        self.lines: list[str] = []
        self.headers: list[int] = []  # 1-based line of each [[rule]] header
        self.errors: list[str] = []

    def error(self, line: int | None, message: str) -> None:
        where = f"{self.shown}:{line}" if line else self.shown
        self.errors.append(f"{where}: {message}")

    def load(self) -> tuple[list[Rule], list[str]]:
        try:
            text = self.path.read_text(encoding="utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as e:
            self.error(None, f"not UTF-8 text ({e.reason} at byte {e.start})")
            return [], self.errors
        except OSError as e:
            self.error(None, f"cannot read: {e.strerror or e}")
            return [], self.errors
        self.lines = text.split("\n")
        self.headers = [n for n, line in enumerate(self.lines, 1) if _RULE_HEADER.match(line)]
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = _TOML_LINE.search(str(e))
            line = int(m.group(1)) if m else len(self.lines)
            self.error(line, f"TOML syntax error: {e}")
            return [], self.errors

        for key in data:
            if key != "rule":
                self.error(
                    self._top_key_line(key),
                    f'unknown top-level key "{key}" (a rule file holds only [[rule]] tables)',
                )
        entries = data.get("rule")
        if entries is None:
            self.error(None, "no [[rule]] tables: nothing to load (see rules/wagner.toml)")
            return [], self.errors
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.error(self._top_key_line("rule"), '"rule" must be [[rule]] tables')
            return [], self.errors
        rules = [r for n, entry in enumerate(entries) if (r := self._rule(n, entry)) is not None]
        return rules, self.errors

    # --- one [[rule]] table -------------------------------------------------------

    def _rule(self, n: int, entry: dict[str, Any]) -> Rule | None:
        before = len(self.errors)
        name = entry.get("name")
        label = f'rule "{name}"' if isinstance(name, str) and name.strip() else f"rule #{n + 1}"

        for key in entry:
            if key not in RULE_KEYS:
                near = difflib.get_close_matches(key, RULE_KEYS, n=1)
                hint = f'; did you mean "{near[0]}"?' if near else ""
                self.error(
                    self._key_line(n, key),
                    f'{label}: unknown key "{key}" (expected one of: {", ".join(RULE_KEYS)}){hint}',
                )

        if name is None:
            self.error(self._rule_line(n), f'{label}: missing required key "name"')
        elif not isinstance(name, str) or not _NAME.match(name):
            self.error(
                self._key_line(n, "name"),
                f'{label}: "name" must be letters, digits, "-", "_" and single spaces, '
                f"got {_show(name)}",
            )

        description = entry.get("description", "")
        if not isinstance(description, str):
            self.error(
                self._key_line(n, "description"),
                f'{label}: "description" must be a string, got {_show(description)}',
            )

        lists: dict[str, tuple[str, ...]] = {}
        for key in (*_TERM_KEYS, *_LIST_KEYS):
            got = self._strings(n, label, entry, key)
            if got is not None:
                lists[key] = got

        patterns: dict[str, list[tuple[str, Pattern]]] = {}
        for key in _TERM_KEYS:
            patterns[key] = []
            for term in lists.get(key, ()):
                try:
                    patterns[key].append((term, compile_term(term)))
                except TermError as e:
                    self.error(self._value_line(n, key, term), f'{label}: "{key}": {e}')

        if "any" in lists and "all" in lists and not lists["any"] and not lists["all"]:
            self.error(
                self._rule_line(n),
                f'{label}: no "any" or "all" terms, so it can never match '
                '(a rule needs something to look for; "none" only excludes)',
            )
        positive = {p: (key, term) for key in ("any", "all") for term, p in patterns[key]}
        for term, p in patterns["none"]:
            if p in positive:
                key, other = positive[p]
                self.error(
                    self._value_line(n, "none", term),
                    f'{label}: "none" term "{term}" is also in "{key}" (as "{other}"), '
                    "so the rule can never match",
                )

        line = self._rule_line(n)
        if isinstance(name, str) and _NAME.match(name):
            if name in self.first_seen:
                self.error(
                    line,
                    f"{label}: duplicate name, first defined at {self.first_seen[name]} "
                    "(rule names must be unique across all rule files)",
                )
            else:
                self.first_seen[name] = f"{self.shown}:{line}" if line else self.shown

        if len(self.errors) > before:
            return None
        assert isinstance(name, str) and isinstance(description, str)
        return Rule(
            name=name,
            any=lists["any"],
            all=lists["all"],
            none=lists["none"],
            tags=lists["tags"],
            destinations=lists["destinations"],
            description=description.strip(),
            origin=self.shown,
        )

    def _strings(
        self, n: int, label: str, entry: dict[str, Any], key: str
    ) -> tuple[str, ...] | None:
        """``entry[key]`` as stripped non-empty strings (``()`` when absent), or None
        after reporting why it is not."""
        value = entry.get(key, [])
        if isinstance(value, str):
            self.error(
                self._key_line(n, key),
                f'{label}: "{key}" must be a list of strings, got {_show(value)} '
                f"(write {key} = [{_show(value)}])",
            )
            return None
        if not isinstance(value, list):
            self.error(
                self._key_line(n, key),
                f'{label}: "{key}" must be a list of strings, got {_show(value)}',
            )
            return None
        ok = True
        for i, element in enumerate(value):
            if not isinstance(element, str):
                self.error(
                    self._key_line(n, key),
                    f'{label}: "{key}"[{i}] must be a string, got {_show(element)}',
                )
                ok = False
            elif not element.strip():
                self.error(
                    self._value_line(n, key, element),
                    f'{label}: "{key}"[{i}] is an empty string',
                )
                ok = False
        return tuple(v.strip() for v in value) if ok else None

    # --- line numbers, found by scanning the text ---------------------------------

    def _rule_line(self, n: int) -> int | None:
        return self.headers[n] if n < len(self.headers) else None

    def _table_end(self, start: int) -> int:
        """The 1-based line where the table whose header is at ``start`` ends (exclusive)."""
        for number in range(start + 1, len(self.lines) + 1):
            if _TABLE_HEADER.match(self.lines[number - 1]):
                return number
        return len(self.lines) + 1

    def _key_line(self, n: int, key: str) -> int | None:
        start = self._rule_line(n)
        if start is None:
            return None
        pattern = re.compile(
            rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*="""
        )
        for number in range(start + 1, self._table_end(start)):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def _value_line(self, n: int, key: str, value: str) -> int | None:
        """The line of ``value`` in a (possibly multi-line) list under ``key``."""
        start = self._key_line(n, key)
        header = self._rule_line(n)
        if start is None or header is None or start == header:
            return start
        needles = (f'"{value}"', f"'{value}'")
        for number in range(start, self._table_end(header)):
            line = self.lines[number - 1]
            if number > start and _ANY_KEY.match(line):
                break
            if any(needle in line for needle in needles):
                return number
        return start

    def _top_key_line(self, key: str) -> int | None:
        k = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:\[\[?\s*)?(?:{k}|"{k}"|'{k}')\s*(?:=|\]|\.)""")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return number
        return None
