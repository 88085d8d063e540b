"""Rule files -> Rules: the shipped files load cleanly, and every problem in a bad file
is reported with the file, the line and the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.matching import RULE_KEYS, RuleFiles, load_rule_files
from bot.model import Rule

ROOT = Path(__file__).resolve().parent.parent


def write(base: Path, name: str, text: str) -> Path:
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_rule_files_load_without_errors() -> None:
    load = load_rule_files(["rules/*.toml"], ROOT)
    assert load.errors == ()
    assert [p.name for p in load.files] == [
        "casualties.toml",
        "deir-ez-zor.toml",
        "syria.toml",
        "wagner.toml",
    ]
    by_name = {r.name: r for r in load.rules}
    assert set(by_name) == {
        "wagner",
        "deir-ez-zor",
        "euphrates-syria-en",
        "euphrates-syria-ru",
        "wagner-casualties-en",
        "wagner-casualties-ru",
        "pmc-casualties-ru",
        "casualties-conflict-sources",
        "syria-fighting-en",
        "syria-fighting-ru",
    }
    assert by_name["wagner"].origin == "rules/wagner.toml"
    assert by_name["casualties-conflict-sources"].tags == ("conflict",)
    assert all(r.description for r in load.rules)


def test_a_good_file_becomes_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rules/a.toml",
        """
# comment
[[rule]]
name = "wagner casualties_1"
description = "  both  "
any = ["killed", " dead "]
all = ["Wagner"]
none = ["opera"]
tags = ["conflict"]
destinations = ["desk"]

[[rule]]
name = "b"
all = ["x"]
""",
    )
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert load.errors == ()
    assert load.files == (tmp_path / "rules" / "a.toml",)
    assert load.rules == (
        Rule(
            name="wagner casualties_1",
            any=("killed", "dead"),
            all=("Wagner",),
            none=("opera",),
            tags=("conflict",),
            destinations=("desk",),
            description="both",
            origin="rules/a.toml",
        ),
        Rule(name="b", all=("x",), origin="rules/a.toml"),
    )


GOOD = '[[rule]]\nname = "ok"\nany = ["Wagner"]\n'

# (case, file text, line, words the message must contain besides file and line)
ERRORS = [
    (
        "unknown key",
        '# Wagner\n\n\n[[rule]]\nname = "wagner"\ndescription = "x"\nanyy = ["Wagner"]\n'
        'any = ["Wagner"]\n',
        7,
        [
            'rule "wagner": unknown key "anyy" (expected one of: all, any, derived, description, '
            "destinations, digest, english_forms, fuzzy, inflect, languages, media, name, none, "
            "query, severity, silent, sources, tags, translit)",
            'did you mean "any"?',
        ],
    ),
    (
        "TOML syntax",
        '[[rule]]\nname = "a"\nany = ["Wagner"\nall = 5\n',
        4,
        ["TOML syntax error", "line 4"],
    ),
    (
        "any not a list",
        GOOD + '\n[[rule]]\nname = "a"\n\n# note\nany = 5\n',
        9,
        ['rule "a"', '"any" must be a list of strings, got 5'],
    ),
    (
        "any a bare string",
        '[[rule]]\nname = "a"\nany = "Wagner"\n',
        3,
        ['"any" must be a list of strings, got "Wagner"', 'any = ["Wagner"]'],
    ),
    (
        "all element not a string",
        '[[rule]]\nname = "a"\nall = ["Wagner", 7]\n',
        3,
        ['rule "a"', '"all"[1] must be a string, got 7'],
    ),
    (
        "empty term",
        '[[rule]]\nname = "a"\nany = [\n  "Wagner",\n  "  ",\n]\n',
        5,
        ['rule "a"', '"any"[1] is an empty string'],
    ),
    (
        "term without words",
        '[[rule]]\nname = "a"\nany = [\n  "Wagner",\n  "--",\n]\n',
        5,
        ['rule "a"', '"any"', 'term "--" has no words'],
    ),
    (
        "stray star",
        '[[rule]]\nname = "a"\nnone = ["Ваг*нер"]\nany = ["x"]\n',
        3,
        ['rule "a"', '"none"', '"Ваг*нер"', '"*" must end a word'],
    ),
    (
        "no positive terms",
        GOOD + '\n[[rule]]\nname = "only-none"\nnone = ["opera"]\n',
        5,
        ['rule "only-none"', 'no "query", "any" or "all" terms'],
    ),
    (
        "none cancels any",
        '[[rule]]\nname = "a"\nany = ["Wagner", "x"]\nnone = ["WAGNER"]\n',
        4,
        ['rule "a"', '"none" term "WAGNER" is also in "any"'],
    ),
    (
        "missing name",
        GOOD + '[[rule]]\nany = ["x"]\n',
        4,
        ["rule #2", 'missing required key "name"'],
    ),
    (
        "bad name",
        '[[rule]]\nname = "wagner!"\nany = ["x"]\n',
        2,
        ['rule "wagner!"', '"name" must be letters, digits'],
    ),
    (
        "name not a string",
        '[[rule]]\nany = ["x"]\nname = 3\n',
        3,
        ["rule #1", '"name"', "got 3"],
    ),
    (
        "description not a string",
        '[[rule]]\nname = "a"\nany = ["x"]\ndescription = ["x"]\n',
        4,
        ['rule "a"', '"description" must be a string, got a list'],
    ),
    (
        "tags not strings",
        '[[rule]]\nname = "a"\nany = ["x"]\ntags = [true]\n',
        4,
        ['rule "a"', '"tags"[0] must be a string, got true'],
    ),
    (
        "destinations a table",
        '[[rule]]\nname = "a"\nany = ["x"]\ndestinations = { x = 1 }\n',
        4,
        ['rule "a"', '"destinations" must be a list of strings, got a table'],
    ),
    (
        "duplicate name in one file",
        GOOD + '\n[[rule]]\nname = "ok"\nall = ["y"]\n',
        5,
        ['rule "ok": duplicate name, first defined at rules/x.toml:1'],
    ),
    (
        "unknown top-level key",
        'version = 2\n[[rule]]\nname = "a"\nany = ["x"]\n',
        1,
        ['unknown top-level key "version"'],
    ),
    (
        "rule is not an array of tables",
        '[rule]\nname = "a"\nany = ["x"]\n',
        1,
        ['"rule" must be [[rule]] tables'],
    ),
    (
        "query syntax",
        '[[rule]]\nname = "a"\nquery = "Wagner OR (ЧВК"\n',
        3,
        ['rule "a": "query": missing ")" for this "(" (at character 11: "(ЧВК")'],
    ),
    (
        "query syntax on its line of a multi-line query",
        "[[rule]]\nname = \"a\"\nquery = '''\nWagner\nOR Вагнер\nAND NEAR/x погиб\n'''\n",
        6,
        ['"query": write NEAR/ and a number of words', "at character 22"],
    ),
    (
        "bad regex in a query",
        '[[rule]]\nname = "a"\nquery = "/(a/"\n',
        3,
        ['"query": bad regex /(a/: missing )'],
    ),
    (
        "query only negative",
        '[[rule]]\nname = "a"\nquery = "NOT opera"\n',
        3,
        ["nothing to look for"],
    ),
    (
        "query and lists",
        '[[rule]]\nname = "a"\nquery = "Wagner"\nnone = ["opera"]\n',
        3,
        ['give either "query" or "any"/"all"/"none", not both'],
    ),
    (
        "empty query",
        '[[rule]]\nname = "a"\nquery = " "\n',
        3,
        ['"query" is empty'],
    ),
    (
        "regex in a list",
        '[[rule]]\nname = "a"\nany = ["/[/"]\n',
        3,
        ['"any": bad regex'],
    ),
    (
        "severity",
        '[[rule]]\nname = "a"\nany = ["x"]\nseverity = "critical"\n',
        4,
        ['"severity" must be one of low, normal, high, urgent, got "critical"'],
    ),
    (
        "digest",
        '[[rule]]\nname = "a"\nany = ["x"]\ndigest = "weekly"\n',
        4,
        ['"digest" must be a duration like "1h" or "30m", "hourly", or "daily 08:00"'],
    ),
    (
        "boolean option",
        '[[rule]]\nname = "a"\nany = ["x"]\ntranslit = "yes"\n',
        4,
        ['"translit" must be true or false, got "yes"'],
    ),
    (
        "sources not strings",
        '[[rule]]\nname = "a"\nany = ["x"]\nsources = "ria"\n',
        4,
        ['"sources" must be a list of strings'],
    ),
]

OPTIONS = """
[[rule]]
name = "q"
description = "all options"
query = '''
(Wagner OR Вагнер)   # the group
NEAR/5 погиб
'''
sources = ["ria-*"]
severity = "urgent"
digest = "30m"
silent = true
inflect = false
translit = true
english_forms = true
"""


def test_every_option_becomes_a_rule_field(tmp_path: Path) -> None:
    write(tmp_path, "rules/a.toml", OPTIONS)
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert load.errors == ()
    assert load.rules == (
        Rule(
            name="q",
            description="all options",
            query="(Wagner OR Вагнер)   # the group\nNEAR/5 погиб",
            sources=("ria-*",),
            severity="urgent",
            digest="30m",
            silent=True,
            inflect=False,
            translit=True,
            english_forms=True,
            origin="rules/a.toml",
        ),
    )


# --- reload without restart --------------------------------------------------------------


def touch(path: Path, text: str) -> None:
    """Write ``text`` and move the mtime on, as an editor saving a second later would."""
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_reload_picks_up_changes_and_keeps_a_broken_files_last_good_rules(
    tmp_path: Path,
) -> None:
    a = write(tmp_path, "rules/a.toml", GOOD)
    write(tmp_path, "rules/b.toml", '[[rule]]\nname = "b"\nany = ["b"]\n')
    files = RuleFiles(["rules/*.toml"], tmp_path)
    first = files.reload()
    assert first.errors == () and first.changed
    assert [r.name for r in first.rules] == ["ok", "b"]

    again = files.reload()  # nothing changed on disk: nothing re-read, nothing changed
    assert again.rules == first.rules and not again.changed

    touch(a, '[[rule]]\nname = "ok"\nany = ["Wagner", "Вагнер"]\n')
    edited = files.reload()
    assert edited.changed and edited.errors == ()
    assert edited.rules[0].any == ("Wagner", "Вагнер")

    touch(a, '[[rule]]\nname = "ok"\nanyy = ["x"]\n')  # broken: the last good version stays
    broken = files.reload()
    assert not broken.changed
    assert [r.name for r in broken.rules] == ["ok", "b"]
    assert broken.rules[0].any == ("Wagner", "Вагнер")
    assert broken.errors[0].startswith('rules/a.toml:3: rule "ok": unknown key "anyy"')
    assert broken.errors[-1].startswith("rules/a.toml: keeping the previous version of its 1")

    touch(a, '[[rule]]\nname = "ok2"\nany = ["y"]\n')  # fixed
    fixed = files.reload()
    assert fixed.changed and fixed.errors == ()
    assert [r.name for r in fixed.rules] == ["ok2", "b"]

    a.unlink()  # deleted: its rules go
    gone = files.reload()
    assert [r.name for r in gone.rules] == ["b"] and gone.changed


def test_reload_ignores_a_touch_that_does_not_change_the_content(tmp_path: Path) -> None:
    a = write(tmp_path, "rules/a.toml", GOOD)
    files = RuleFiles(["rules/*.toml"], tmp_path)
    first = files.reload()
    touch(a, GOOD)
    assert files.reload().rules == first.rules


def test_a_broken_file_that_never_loaded_contributes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "rules/a.toml", '[[rule]]\nname = "a"\nquery = "(x"\n')
    write(tmp_path, "rules/b.toml", '[[rule]]\nname = "b"\nany = ["b"]\n')
    load = RuleFiles(["rules/*.toml"], tmp_path).reload()
    assert [r.name for r in load.rules] == ["b"]
    assert len(load.errors) == 1 and load.errors[0].startswith("rules/a.toml:3:")


@pytest.mark.parametrize(
    ("text", "line", "words"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, words: list[str]
) -> None:
    write(tmp_path, "rules/x.toml", text)
    write(tmp_path, "rules/y.toml", '[[rule]]\nname = "other"\nany = ["y"]\n')
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert len(load.errors) == 1, load.errors
    (error,) = load.errors
    assert error.startswith(f"rules/x.toml:{line}: "), error
    for word in words:
        assert word in error
    # the bad file contributes nothing, the good one still loads
    assert [r.name for r in load.rules] == ["other"]
    assert len(load.files) == 2


def test_all_problems_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rules/x.toml",
        '[[rule]]\nname = "a"\nanyy = ["x"]\n\n[[rule]]\nname = "b"\nall = 5\n',
    )
    load = load_rule_files(["rules/x.toml"], tmp_path)
    assert [e.split(": ")[0] for e in load.errors] == [
        "rules/x.toml:3",  # unknown key in rule a
        "rules/x.toml:1",  # ...which then has no positive terms (its [[rule]] line)
        "rules/x.toml:7",  # "all" = 5 in rule b
    ]
    assert load.rules == ()


def test_duplicate_name_across_files_names_both_locations(tmp_path: Path) -> None:
    write(tmp_path, "rules/a.toml", '# first\n[[rule]]\nname = "wagner"\nany = ["Wagner"]\n')
    write(tmp_path, "rules/b.toml", '[[rule]]\nname = "x"\nany = ["x"]\n\n[[rule]]\n'
          'name = "wagner"\nany = ["Вагнер*"]\n')  # fmt: skip
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert load.errors == (
        'rules/b.toml:5: rule "wagner": duplicate name, first defined at rules/a.toml:2 '
        "(rule names must be unique across all rule files)",
    )
    assert [(r.name, r.origin) for r in load.rules] == [("wagner", "rules/a.toml")]


def test_duplicates_without_a_header_line_name_just_the_file(tmp_path: Path) -> None:
    """Rules written as inline tables (``rule = [{...}]``) have no [[rule]] line: their
    errors and "first defined at" name the file alone."""
    write(tmp_path, "rules/a.toml", 'rule = [{ name = "w", any = ["Wagner"] }]\n')
    write(
        tmp_path,
        "rules/b.toml",
        'rule = [{ name = "w", any = ["x"] }, { name = "w", any = ["y"] }]\n',
    )
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert load.errors == (
        'rules/b.toml: rule "w": duplicate name, first defined at rules/b.toml '
        "(rule names must be unique across all rule files)",
    )
    write(tmp_path, "rules/b.toml", 'rule = [{ name = "w", any = ["x"] }]\n')
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert load.errors == (
        'rules/b.toml: rule "w": duplicate name, first defined at rules/a.toml '
        "(rule names must be unique across all rule files)",
    )
    assert [(r.name, r.origin) for r in load.rules] == [("w", "rules/a.toml")]


def test_a_pattern_that_matches_no_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "rules/a.toml", GOOD)
    load = load_rule_files(["rules/*.toml", "rules/*.tml", "extra/**/*.toml"], tmp_path)
    assert [r.name for r in load.rules] == ["ok"]
    assert len(load.errors) == 2
    assert load.errors[0].startswith("rules/*.tml: no rule file matches")
    assert load.errors[1].startswith("extra/**/*.toml: no rule file matches")
    assert str(tmp_path) in load.errors[0]


def test_patterns_recurse_dedupe_and_allow_absolute_paths(tmp_path: Path) -> None:
    write(tmp_path, "rules/a.toml", GOOD)
    write(tmp_path, "rules/team/b.toml", '[[rule]]\nname = "b"\nany = ["b"]\n')
    elsewhere = write(tmp_path / "elsewhere", "c.toml", '[[rule]]\nname = "c"\nany = ["c"]\n')
    load = load_rule_files(
        ["rules/**/*.toml", "rules/a.toml", str(elsewhere), str(tmp_path / "rules/a.toml")],
        tmp_path,
    )
    assert load.errors == ()
    assert [(r.name, r.origin) for r in load.rules] == [
        ("ok", "rules/a.toml"),
        ("b", "rules/team/b.toml"),
        ("c", "elsewhere/c.toml"),  # absolute pattern, still shown relative to base_dir
    ]
    # outside base_dir: shown absolute
    load = load_rule_files(["../rules/a.toml", str(elsewhere)], tmp_path / "elsewhere")
    assert [(r.name, r.origin) for r in load.rules] == [
        ("ok", (tmp_path / "rules" / "a.toml").as_posix()),
        ("c", "c.toml"),
    ]


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "latin1.toml").write_bytes(b'[[rule]]\nname = "caf\xe9"\n')
    write(tmp_path, "rules/empty.toml", "# nothing yet\n")
    write(tmp_path, "rules/bom.toml", '\ufeff[[rule]]\nname = "bom"\nany = ["x"]\n')
    load = load_rule_files(["rules/*.toml"], tmp_path)
    assert [r.name for r in load.rules] == ["bom"]
    assert load.errors[0].startswith("rules/empty.toml: no [[rule]] tables")
    assert load.errors[1].startswith("rules/latin1.toml: not UTF-8 text")


def test_rule_keys_are_the_documented_ones() -> None:
    assert RULE_KEYS == (
        "all", "any", "derived", "description", "destinations", "digest", "english_forms",
        "fuzzy", "inflect", "languages", "media", "name", "none", "query", "severity",
        "silent", "sources", "tags", "translit",
    )  # fmt: skip
    text = (ROOT / "rules" / "wagner.toml").read_text(encoding="utf-8")
    for key in RULE_KEYS:
        assert f"#   {key}" in text  # the newcomer's reference lists every key
