"""The rule language's parser (bot/matching/query.py): the tree each query becomes, and
errors that point at the position of the problem."""

from __future__ import annotations

import pytest

from bot.matching import QueryError, TermError, parse_query, rule_from_query
from bot.matching.query import And, Meta, Near, Node, Not, Or, Regex, Term


def show(node: Node) -> str:
    """A compact rendering of a tree, for table-driven expectations."""
    if isinstance(node, Term):
        scope = f"{node.field}:" if node.field else ""
        star = "".join("*" if w.prefix else "" for w in node.words[-1:])
        return f"{scope}{'!' if node.exact else ''}[{' '.join(node.tokens)}{star}]"
    if isinstance(node, Regex):
        return f"{node.field + ':' if node.field else ''}/{node.pattern}/"
    if isinstance(node, Meta):
        return node.text
    if isinstance(node, And):
        return "(" + " AND ".join(show(i) for i in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(show(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"NOT {show(node.item)}"
    assert isinstance(node, Near)
    return f"({show(node.left)} NEAR/{node.distance} {show(node.right)})"


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("Wagner", "[wagner]"),
        ("Wagner Вагнер", "([wagner] AND [вагнер])"),
        ("Wagner AND Вагнер", "([wagner] AND [вагнер])"),
        ("Wagner OR Вагнер", "([wagner] OR [вагнер])"),
        ("a OR b c", "([a] OR ([b] AND [c]))"),  # AND binds tighter than OR
        ("(a OR b) c", "(([a] OR [b]) AND [c])"),
        ("a or b", "([a] AND [or] AND [b])"),  # operators are capitals only
        ("Wagner NOT opera", "([wagner] AND NOT [opera])"),
        ("Wagner -opera -Рихард", "([wagner] AND NOT [opera] AND NOT [рихард])"),
        ("Дейр-эз-Зор", "[дейр эз зор]"),  # a hyphen inside a word is not NOT
        ('"private military company"', "[private military company]"),
        ('«ЧВК „Вагнер“»', "[чвк вагнер]"),
        ("погиб*", "[погиб*]"),
        ('"частн* военн* компани*"', "[частн военн компани*]"),
        ("!Вагнер", "![вагнер]"),
        ('!"Дейр-эз-Зор"', "![дейр эз зор]"),
        ("Wagner NEAR/5 killed", "([wagner] NEAR/5 [killed])"),
        ("Wagner NEAR killed", "([wagner] NEAR/5 [killed])"),
        ("a NEAR/2 b NEAR/3 c", "(([a] NEAR/2 [b]) NEAR/3 [c])"),
        ("(Wagner OR Вагнер) NEAR/3 (погиб* OR killed)",
         "(([wagner] OR [вагнер]) NEAR/3 ([погиб*] OR [killed]))"),
        ("a NEAR/1 b c", "(([a] NEAR/1 [b]) AND [c])"),  # NEAR binds tighter than AND
        ("c NOT a NEAR b", "([c] AND NOT ([a] NEAR/5 [b]))"),  # ...and tighter than NOT
        ("c -a NEAR/2 b", "([c] AND NOT ([a] NEAR/2 [b]))"),
        ("title:Wagner killed", "(title:[wagner] AND [killed])"),
        ("title:(Wagner OR Вагнер)", "(title:[wagner] OR title:[вагнер])"),
        ('text:"meat grinder"', "text:[meat grinder]"),
        ("title:Wagner NEAR/2 group", "(title:[wagner] NEAR/2 title:[group])"),
        ("source:ria-novosti Сирия", "(source:ria-novosti AND [сирия])"),
        ("tag:Conflict", "tag:conflict"),
        ("link:t.me Wagner", "(link:t.me AND [wagner])"),
        ("/груз[ -]?200/", "/груз[ -]?200/"),
        (r"/a\/b/ x", "(/a/b/ AND [x])"),
        ("title:/^Wagner/", "title:/^Wagner/"),
        ("#Вагнер", "[вагнер]"),  # a hashtag is a word
        ("“ЧВК Вагнер” OR „Вагнер“", "([чвк вагнер] OR [вагнер])"),
        ("Wagner # a comment\nOR Вагнер", "([wagner] OR [вагнер])"),
        ("10:30", "[10 30]"),  # not a field: digits before the colon
    ],
)  # fmt: skip
def test_query_trees(query: str, tree: str) -> None:
    assert show(parse_query(query).root) == tree


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("(Wagner OR Вагнер", 0, 'missing ")"'),
        ("Wagner)", 6, 'unmatched ")"'),
        ("Wagner OR", 9, "expected a word"),
        ("OR Wagner", 0, "expected a word"),
        ("Wagner AND AND x", 11, "expected a word"),
        ('"Wagner', 0, "missing closing quote"),
        ("/Wagner", 0, "missing closing /"),
        ("//", 0, "empty regex"),
        ("/(a/", 0, "bad regex"),
        ("/(?<=a)b/", 0, "bad regex"),  # RE2: no look-behind, so no catastrophic cases
        ("NOT opera", 0, "nothing to look for"),
        ("-opera -Рихард", 0, "nothing to look for"),
        ("Wagner NEAR/x killed", 7, "NEAR/"),
        ("Wagner NEAR/500 killed", 7, "too far"),
        ("(a AND b) NEAR/3 c", 0, "NEAR/3 needs words or phrases"),
        ("a NEAR/3 -b", 9, "expected a word"),
        ("a NEAR/3 source:x", 9, "NEAR/3 needs words"),
        ("titel:Wagner", 0, 'unknown field "titel:"'),
        ("title: Wagner", 0, 'right after "title:"'),
        ("title:text:x", 6, "can never match"),
        ("source:", 0, 'right after "source:"'),
        ("Ваг*нер", 0, '"*" must end a word'),
        ("* Wagner", 0, "has no words"),
        ("Wagner OR --", 11, "has no words"),
        ("«Wagner", 0, "missing closing quote »"),
    ],
)
def test_query_errors_point_at_the_problem(query: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    error = caught.value
    assert words in error.message
    assert error.position == position, error
    assert f"at character {position + 1}" in str(error)
    assert isinstance(error, TermError)  # callers that catch TermError catch these too


def test_a_negated_side_of_near_is_named_not() -> None:
    """NEAR takes words on both sides: "-b" and "NOT b" there are both reported as NOT."""
    for query in ("a NEAR -b", "a NEAR NOT b"):
        with pytest.raises(QueryError) as caught:
            parse_query(query)
        assert caught.value.message == 'expected a word, "phrase", ( or /regex/ here, not NOT'
        assert caught.value.position == 7


def test_pointer_draws_a_caret_under_the_problem() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("Wagner OR\n  (Вагнер погиб")
    assert caught.value.pointer() == '  (Вагнер погиб\n  ^ missing ")" for this "("'


def test_leaves_in_query_order() -> None:
    query = parse_query('(Wagner OR "ЧВК Вагнер") NEAR/4 погиб* -opera source:x /re/')
    assert [leaf.text for leaf in query.terms()] == [
        "Wagner", "ЧВК Вагнер", "погиб*", "opera", "source:x", "/re/",
    ]  # fmt: skip


def test_rule_from_query_makes_a_rule_or_points_at_the_error() -> None:
    rule = rule_from_query(
        "watch-vagner", "Вагнер NEAR/5 погиб", destinations=("telegram:-100",), translit=True
    )
    assert rule.query == "Вагнер NEAR/5 погиб"
    assert rule.destinations == ("telegram:-100",)
    assert rule.origin == "chat" and rule.translit and rule.description
    with pytest.raises(QueryError) as caught:
        rule_from_query("x", "Вагнер AND (погиб")
    assert caught.value.position == 11
    assert caught.value.pointer().splitlines()[1] == '           ^ missing ")" for this "("'


def _readme_near_lines() -> list[tuple[str, str]]:
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    start = readme.find("**How `NEAR` binds.**")
    if start < 0:
        return []
    part = readme[start : readme.index("\n\n", readme.index("\n- ", start))]
    return re.findall(r"^- `([^`]+)` is `([^`]+)`$", part, re.M)


def test_readme_states_how_near_binds_with_examples() -> None:
    assert len(_readme_near_lines()) >= 5


@pytest.mark.parametrize(("query", "reading"), _readme_near_lines() or [("", "")])
def test_each_readme_near_example_reads_as_it_says(query: str, reading: str) -> None:
    assert show(parse_query(query).root) == show(parse_query(reading).root)


def test_readme_near_needs_brackets_around_or() -> None:
    grouped = parse_query("(Wagner OR Вагнер) NEAR/5 (погиб* OR убит)").root
    assert show(grouped) == "(([wagner] OR [вагнер]) NEAR/5 ([погиб*] OR [убит]))"
    with pytest.raises(QueryError, match="NOT"):
        parse_query("Вагнер NEAR -погиб*")
