"""The compact matcher (issue 13: phrase keys, checked anchors, int groups, spans when
first read) gives the same Matches as the matcher it replaced (``reference_matcher``):
the same rules, terms and spans, in the same order, for random rule sets of every shape
(words, phrases, prefixes, exact terms, AND/OR/NOT/NEAR, title:/text:, lists, options)
over real posts, with every phrase spelled as keys and with every phrase checked
around an anchor."""

from __future__ import annotations

import dataclasses
import json
import pickle
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import Matcher, TermError
from bot.matching import matcher as compact
from bot.model import Item, Match, Rule, Span
from tests import reference_matcher as reference

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tg_news_posts_nktkln"
WORD = re.compile(r"[^\W_]+")


def _items() -> list[Item]:
    texts = [p["text"] for p in json.loads((FIXTURES / "tg_posts_sample.json").read_text())]
    texts += [p["text"] for p in json.loads((FIXTURES / "tg_mission_posts.json").read_text())]
    pairs = json.loads((FIXTURES / "dedup_pairs.json").read_text())["posts"]
    texts += [p["text"] for p in pairs.values()]
    for path in sorted(CORPUS.glob("*_messages.json")):  # the shared corpus, if present
        texts += [p.get("text") or "" for p in json.loads(path.read_text("utf-8"))[::15]]
    from watchers.rss import parse_feed

    feed = parse_feed((FIXTURES / "guardian.rss").read_bytes(), {}, "g", (), "https://x.org/")
    items = [
        Item("tg" if n % 3 else "ria-novosti", f"k{n}", f"k{n}", *t.partition("\n")[::2])
        for n, t in enumerate(texts)
    ]
    return items + [dataclasses.replace(i, tags=("world",)) for i in feed.items]


ITEMS = _items()
TEXTS = [f"{i.title}\n{i.text}" for i in ITEMS]


def _term(rng: random.Random) -> str:
    """A word or a run of 2-3 words of a real item, sometimes a prefix or exact."""
    words = WORD.findall(rng.choice(TEXTS)) or ["пусто"]
    start = rng.randrange(len(words))
    shape = rng.random()
    if shape < 0.55:
        term = words[start]
    else:
        term = " ".join(words[start : start + rng.choice((2, 2, 3))])
    if shape > 0.9 and len(term) > 4:  # "Сирии" -> "Сир*", "бойцы ЧВК" -> "бойцы ЧВ*"
        term = re.sub(r"[\W_]+$", "", term[: max(3, len(term) - 2)]) + "*"
    elif rng.random() < 0.1:
        term = "!" + term
    return term


def _quoted(term: str) -> str:
    exact = term.startswith("!")
    return ("!" if exact else "") + '"' + term.lstrip("!") + '"'


def _rule(rng: random.Random, n: int) -> Rule:
    a, b, c = (_term(rng) for _ in range(3))
    qa, qb, qc = _quoted(a), _quoted(b), _quoted(c)
    kind = rng.random()
    options = {
        "inflect": rng.random() < 0.85,
        "translit": rng.random() < 0.1,
        "english_forms": rng.random() < 0.1,
        "derived": rng.random() < 0.1,
    }
    if rng.random() < 0.05:
        options["sources"] = ("ria-*",)  # type: ignore[assignment]
    if rng.random() < 0.05:
        options["tags"] = ("World",)  # type: ignore[assignment]
    if kind < 0.5:
        terms = (a, b, c)[: rng.choice((1, 2, 3, 3))]
        return Rule(f"r{n}", any=terms, **options)  # type: ignore[arg-type]
    if kind < 0.6:
        return Rule(f"r{n}", any=(a, b), all=(c,), none=(_term(rng),), **options)  # type: ignore[arg-type]
    query = rng.choice(
        (
            f"{qa} AND {qb}",
            f"{qa} OR {qb} OR {qc}",
            f"{qa} -{qb}",
            f"{qa} NEAR/{rng.randrange(0, 6)} {qb}",
            f"({qa} OR {qb}) NEAR/3 {qc}",
            f"title:{qa} OR text:{qb}",
            f"title:({qa} OR {qb})",
            f"({qa} OR {qb}) {qc}",
            f"{qa} OR /{re.escape(b.strip('!*').split()[0])}/",
        )
    )
    rule = Rule(f"r{n}", query=query, **options)  # type: ignore[arg-type]
    try:
        compact.rule_tree(rule)
    except TermError:  # e.g. text:!"a b" (write !"a b" as text:"!a b"): a plain list
        return Rule(f"r{n}", any=(a, b, c), **options)  # type: ignore[arg-type]
    return rule


def _same(rules: list[Rule], items: list[Item]) -> None:
    ours, theirs = Matcher(rules), reference.Matcher(rules)
    for item in items:
        got = [(m.rule, m.terms, m.spans) for m in ours.match(item)]
        want = [(m.rule, m.terms, m.spans) for m in theirs.match(item)]
        assert got == want, (item.key, [r for r in rules if r.name in {g[0] for g in got}])


@pytest.mark.parametrize("combos", [1, compact.COMBOS, 10**6], ids=["anchored", "default", "keys"])
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_rule_sets_match_as_before(combos: int, seed: int) -> None:
    """``combos``: phrases all checked around an anchor word, as usual, or all keys."""
    rng = random.Random(seed)
    rules = [_rule(rng, n) for n in range(40)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compact, "COMBOS", combos)
        _same(rules, ITEMS)


def test_a_large_rule_set_matches_as_before() -> None:
    """1,500 rules share keys, groups and anchors: the same Matches on every item."""
    rng = random.Random(13)
    _same([_rule(rng, n) for n in range(1500)], ITEMS)


def test_lazy_matches_are_plain_matches() -> None:
    """An "any of these terms" Match finds its terms and spans when first read, and is
    otherwise the Match it stands for: equal, hashed, printed, pickled and replaced."""
    item = Item("s", "k", "k", "Бои в Сирии", "Сирия, Вагнер и снова Сирия")
    found = Matcher([Rule("r", any=("Сирия", "Вагнер"))]).match(item)
    plain = Match(
        "r",
        ("Сирия", "Вагнер"),
        (
            Span("title", 6, 11, "Сирия"),
            Span("text", 0, 5, "Сирия"),
            Span("text", 7, 13, "Вагнер"),
            Span("text", 22, 27, "Сирия"),
        ),
    )
    assert found == [plain] and plain == found[0] and not found[0] != plain
    other = dataclasses.replace(plain, spans=plain.spans[:1])
    assert found[0] != other and other != found[0] and not found[0] == other
    assert hash(found[0]) == hash(plain) and repr(found[0]) == repr(plain)
    again = pickle.loads(pickle.dumps(found[0]))
    assert type(again) is Match and again == plain
    assert dataclasses.replace(found[0], rule="x") == dataclasses.replace(plain, rule="x")
    assert dataclasses.asdict(found[0]) == dataclasses.asdict(plain)
    assert {found[0], plain} == {plain}
