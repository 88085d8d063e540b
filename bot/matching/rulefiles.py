"""Rule files -> Rules: the team's ``rules/*.toml``, validated, every problem located,
and reloaded when they change.

Feeds the "Item -> Match" stage (``Matcher``).  A rule file holds ``[[rule]]`` tables
(see ``rules/wagner.toml``); ``RULE_KEYS`` are the keys a rule may have.

Invariants: every problem becomes one error string starting ``file:line:`` (line of
the key when known, else of the rule's ``[[rule]]`` header; tomllib gives no line for
values, so lines are found by scanning the text; a query error points at the query's
line and character); a file with any error contributes no rules of its new version,
other files still load; with ``destinations`` given, a rule naming a destination the
config does not define is such an error (its alerts would have nowhere to go);
rule names are unique across all files.  Nothing raises: the caller decides whether
errors are fatal.

Reload: ``RuleFiles(patterns, base_dir).reload()`` re-reads only files whose mtime or
size changed (and re-parses only when their content hash changed); a file that is now
broken is reported and its previous good rules stay active; a deleted file's rules go.
Call it on a timer and rebuild the ``Matcher`` when ``RuleLoad.changed``.
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.matching.inflect import LANGUAGES
from bot.matching.query import QueryError, Regex, Term, TermError, parse_list_entry, parse_query
from bot.model import MEDIA_MODES, SEVERITY_ORDER, Rule
from bot.schedules import rule_digest_due

RULE_KEYS = (
    "all",
    "any",
    "derived",
    "description",
    "destinations",
    "digest",
    "english_forms",
    "fuzzy",
    "inflect",
    "languages",
    "media",
    "name",
    "none",
    "query",
    "severity",
    "silent",
    "sources",
    "tags",
    "translit",
)
_TERM_KEYS = ("any", "all", "none")
_LIST_KEYS = ("tags", "sources", "destinations")
_BOOL_KEYS = ("silent", "inflect", "translit", "english_forms", "derived", "fuzzy")
_NAME = re.compile(r"^[\w-]+(?: [\w-]+)*$")
_RULE_HEADER = re.compile(r"""^\s*\[\[\s*(?:rule|"rule"|'rule')\s*\]\]""")
_TABLE_HEADER = re.compile(r"^\s*\[")
_ANY_KEY = re.compile(r"""^\s*(?:[\w-]+|"[^"]*"|'[^']*')\s*=""")
_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True)
class RuleLoad:
    """What a load found: the rules in force, every error, every file read (absolute
    paths, in load order), and whether the rules differ from the previous load."""

    rules: tuple[Rule, ...] = ()
    errors: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    changed: bool = True


def load_rule_files(
    patterns: Sequence[str], base_dir: Path, destinations: frozenset[str] | None = None
) -> RuleLoad:
    """Load the rule files that ``patterns`` (globs, relative to ``base_dir`` unless
    absolute; ``**`` recurses) match, in pattern order, each file once; with
    ``destinations``, a rule naming any other destination is an error of its file."""
    return RuleFiles(patterns, base_dir, destinations).reload()


@dataclass
class _FileState:
    stamp: tuple[int, int]
    digest: str
    rules: list[tuple[Rule, int | None]]  # this version's rules and their header lines
    errors: list[str]
    good: list[tuple[Rule, int | None]] | None = None  # the last version without errors
    shown: str = ""


@dataclass
class RuleFiles:
    """The rule files of ``patterns``, reloadable without a restart (see module doc)."""

    patterns: Sequence[str]
    base_dir: Path
    destinations: frozenset[str] | None = None  # the configured names; None: not checked
    _states: dict[str, _FileState] = field(default_factory=dict, repr=False)
    _last: tuple[Rule, ...] | None = field(default=None, repr=False)

    def reload(self) -> RuleLoad:
        errors: list[str] = []
        files = _expand(self.patterns, self.base_dir, errors)
        states: dict[str, _FileState] = {}
        for path in files:
            state = self._read(path, self._states.get(str(path)))
            states[str(path)] = state
        self._states = states

        first_seen: dict[str, str] = {}  # rule name -> "file:line" of its first definition
        rules: list[Rule] = []
        for path in files:
            state = states[str(path)]
            problems = list(state.errors)
            if not problems:
                problems += _duplicates(state.rules, state.shown, first_seen)
            if not problems:
                state.good = state.rules
                _claim(state.rules, state.shown, first_seen)
                rules.extend(rule for rule, _ in state.rules)
                continue
            errors.extend(problems)
            if state.good and state.good is not state.rules:
                if not _duplicates(state.good, state.shown, first_seen):
                    _claim(state.good, state.shown, first_seen)
                    rules.extend(rule for rule, _ in state.good)
                    errors.append(
                        f"{state.shown}: keeping the previous version of its "
                        f"{len(state.good)} rule(s) until the problems above are fixed"
                    )
        result = tuple(rules)
        changed = result != self._last
        self._last = result
        return RuleLoad(rules=result, errors=tuple(errors), files=tuple(files), changed=changed)

    def _read(self, path: Path, state: _FileState | None) -> _FileState:
        shown = _display(path, self.base_dir)
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if state is not None and state.stamp == stamp:
                return state
            data = path.read_bytes()
        except OSError as e:
            return _FileState((0, 0), "", [], [f"{shown}: cannot read: {e.strerror or e}"],
                              good=state.good if state else None, shown=shown)  # fmt: skip
        digest = hashlib.sha256(data).hexdigest()
        if state is not None and state.digest == digest:
            state.stamp = stamp
            return state
        parsed, problems = _RuleFile(shown, data, self.destinations).load()
        return _FileState(stamp, digest, parsed, problems,
                          good=state.good if state else None, shown=shown)  # fmt: skip


def _duplicates(
    rules: list[tuple[Rule, int | None]], shown: str, first_seen: dict[str, str]
) -> list[str]:
    return [
        f'{_where(shown, line)}: rule "{rule.name}": duplicate name, first defined at '
        f"{first_seen[rule.name]} (rule names must be unique across all rule files)"
        for rule, line in rules
        if rule.name in first_seen
    ]


def _claim(rules: list[tuple[Rule, int | None]], shown: str, first_seen: dict[str, str]) -> None:
    for rule, line in rules:
        first_seen[rule.name] = _where(shown, line)


def _where(shown: str, line: int | None) -> str:
    """``file:line``, or just ``file`` when the line is unknown."""
    return f"{shown}:{line}" if line else shown


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


def _same(a: Term | Regex, b: Term | Regex) -> bool:
    if isinstance(a, Regex) or isinstance(b, Regex):
        return isinstance(a, Regex) and isinstance(b, Regex) and a.pattern == b.pattern
    return a.tokens == b.tokens and [w.prefix for w in a.words] == [w.prefix for w in b.words]


class _RuleFile:
    """One file being loaded: its text for line lookups, and the errors found so far."""

    def __init__(self, shown: str, data: bytes, destinations: frozenset[str] | None = None):
        self.shown = shown
        self.data = data
        self.destinations = destinations
        self.lines: list[str] = []
        self.headers: list[int] = []  # 1-based line of each [[rule]] header
        self.errors: list[str] = []
        self.names: dict[str, int | None] = {}  # within this file

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(f"{_where(self.shown, line)}: {message}")

    def load(self) -> tuple[list[tuple[Rule, int | None]], list[str]]:
        try:
            text = self.data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as e:
            self.error(None, f"not UTF-8 text ({e.reason} at byte {e.start})")
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
        except RecursionError:  # tomllib recurses into nested arrays and tables
            self.error(None, "TOML nested too deeply (arrays or tables one inside another)")
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
        rules = []
        for n, entry in enumerate(entries):
            rule = self._rule(n, entry)
            if rule is not None:
                rules.append((rule, self._rule_line(n)))
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

        description = self._string(n, label, entry, "description", "")
        query = self._string(n, label, entry, "query", "")
        severity = self._string(n, label, entry, "severity", "normal")
        if isinstance(severity, str) and severity not in SEVERITY_ORDER:
            self.error(
                self._key_line(n, "severity"),
                f'{label}: "severity" must be one of {", ".join(SEVERITY_ORDER)}, '
                f"got {_show(severity)}",
            )
        digest = self._string(n, label, entry, "digest", None)
        if isinstance(digest, str) and not _digest_ok(digest):
            self.error(
                self._key_line(n, "digest"),
                f'{label}: "digest" must be a duration like "1h" or "30m", "hourly", or '
                f'"daily 08:00" (optionally with a time zone: "daily 08:00 Europe/Moscow"), '
                f"got {_show(digest)}",
            )
        media = self._string(n, label, entry, "media", None)
        if isinstance(media, str) and media not in MEDIA_MODES:
            self.error(
                self._key_line(n, "media"),
                f'{label}: "media" must be one of {", ".join(MEDIA_MODES)}, got {_show(media)}',
            )
        flags = {key: self._bool(n, label, entry, key) for key in _BOOL_KEYS}
        languages = self._languages(n, label, entry)

        lists: dict[str, tuple[str, ...]] = {}
        for key in (*_TERM_KEYS, *_LIST_KEYS):
            got = self._strings(n, label, entry, key)
            if got is not None:
                lists[key] = got

        terms: dict[str, list[tuple[str, Term | Regex]]] = {}
        for key in _TERM_KEYS:
            terms[key] = []
            for term in lists.get(key, ()):
                try:
                    terms[key].append((term, parse_list_entry(term)))
                except TermError as e:
                    message = e.message if isinstance(e, QueryError) else str(e)
                    self.error(self._value_line(n, key, term), f'{label}: "{key}": {message}')

        has_lists = any(k in entry for k in _TERM_KEYS)
        if isinstance(query, str) and query.strip():
            if has_lists:
                self.error(
                    self._key_line(n, "query"),
                    f'{label}: give either "query" or "any"/"all"/"none", not both '
                    '(in a query, NOT excludes: "Wagner NOT opera")',
                )
            try:
                parse_query(query)
            except QueryError as e:
                snippet = query[e.position : e.position + 20].split("\n")[0]
                self.error(
                    self._query_line(n, query, e.position),
                    f'{label}: "query": {e.message} (at character {e.position + 1}'
                    + (f': "{snippet}")' if snippet else ")"),
                )
        elif isinstance(query, str) and "query" in entry:
            self.error(self._key_line(n, "query"), f'{label}: "query" is empty')
        elif "any" in lists and "all" in lists and not lists["any"] and not lists["all"]:
            self.error(
                self._rule_line(n),
                f'{label}: no "query", "any" or "all" terms, so it can never match '
                '(a rule needs something to look for; "none" only excludes)',
            )

        positive = [(key, term, p) for key in ("any", "all") for term, p in terms[key]]
        for term, p in terms["none"]:
            for key, other, q in positive:
                if _same(p, q):
                    self.error(
                        self._value_line(n, "none", term),
                        f'{label}: "none" term "{term}" is also in "{key}" (as "{other}"), '
                        "so the rule can never match",
                    )
                    break

        line = self._rule_line(n)
        if isinstance(name, str) and _NAME.match(name):
            if name in self.names:
                self.error(
                    line,
                    f"{label}: duplicate name, first defined at "
                    f"{_where(self.shown, self.names[name])} "
                    "(rule names must be unique across all rule files)",
                )
            else:
                self.names[name] = line

        known_names = self.destinations
        unknown = [] if known_names is None else [
            d for d in lists.get("destinations", ()) if d not in known_names
        ]  # fmt: skip
        for destination in unknown:
            known = ", ".join(sorted(self.destinations or ())) or "none"
            self.error(
                self._value_line(n, "destinations", destination)
                or self._key_line(n, "destinations"),
                f'{label}: no destination named "{destination}" in the config (known: {known})',
            )

        if len(self.errors) > before:
            return None
        assert isinstance(name, str) and isinstance(description, str)
        assert isinstance(query, str) and isinstance(severity, str)
        assert digest is None or isinstance(digest, str)
        return Rule(
            name=name,
            any=lists["any"],
            all=lists["all"],
            none=lists["none"],
            tags=lists["tags"],
            destinations=lists["destinations"],
            description=description.strip(),
            origin=self.shown,
            query=query.strip(),
            sources=lists["sources"],
            severity=severity,
            digest=digest,
            silent=flags["silent"] is True,
            inflect=flags["inflect"] is not False,
            translit=flags["translit"] is True,
            english_forms=flags["english_forms"] is True,
            derived=flags["derived"] is True,
            languages=languages,
            media=media if isinstance(media, str) else None,
            fuzzy=flags["fuzzy"] is True,
        )

    def _string(
        self, n: int, label: str, entry: dict[str, Any], key: str, default: str | None
    ) -> str | None:
        value = entry.get(key, default)
        if value is not default and not isinstance(value, str):
            self.error(
                self._key_line(n, key), f'{label}: "{key}" must be a string, got {_show(value)}'
            )
            return default
        return value

    def _bool(self, n: int, label: str, entry: dict[str, Any], key: str) -> bool | None:
        value = entry.get(key)
        if value is not None and not isinstance(value, bool):
            self.error(
                self._key_line(n, key),
                f'{label}: "{key}" must be true or false, got {_show(value)}',
            )
            return None
        return value

    # --- languages: whose paradigms the rule's Cyrillic words inflect in (issue 18) -----
    def _languages(self, n: int, label: str, entry: dict[str, Any]) -> tuple[str, ...]:
        if "languages" not in entry:
            return LANGUAGES
        got = self._strings(n, label, entry, "languages")
        if got is None:
            return LANGUAGES
        wrong = [v for v in got if v not in LANGUAGES] or ([] if got else ["[]"])
        for value in wrong:
            self.error(
                self._value_line(n, "languages", value) or self._key_line(n, "languages"),
                f'{label}: "languages" takes "ru", "uk" or both (["ru", "uk"]), '
                f"got {_show(value) if value != '[]' else 'an empty list'}",
            )
        return tuple(lang for lang in LANGUAGES if lang in got) if not wrong else LANGUAGES

    # ------------------------------------------------------------------------------------

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

    def _query_line(self, n: int, query: str, position: int) -> int | None:
        """The line of character ``position`` of a (possibly multi-line) query."""
        line = self._key_line(n, "query")
        if line is None or line == self._rule_line(n):
            return line
        opening = self.lines[line - 1].split("=", 1)[1].strip()
        first = line + 1 if opening in ('"""', "'''") else line
        return first + query.count("\n", 0, position)

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


def _digest_ok(text: str) -> bool:
    try:
        rule_digest_due(text, datetime.now(UTC))
    except ValueError:
        return False
    return True
