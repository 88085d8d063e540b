"""The shipped rules (rules/*.toml) are safe to copy: no term of theirs falls into a
known trap, and on the real posts of ../shared/corpus they fire where they did.

- ``TRAPS``: words and real posts that a rule's term must not match (the look-alikes a
  prefix or a participle once caught: Сири* took the «Сириус» centre's post).
- tests/fixtures/shipped_rules_corpus.json: which of the 2,905 real Telegram posts each
  shipped rule fires on, reviewed by hand (its notes say why posts left); the real
  Wagner and Deir ez-Zor posts of tests/test_matching.py are among them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.matching import Matcher, load_rule_files
from bot.matching.matcher import rule_tree
from bot.matching.query import Term, leaves
from bot.model import Item, Rule

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus" / "tg_news_posts_nktkln"
EXPECTED = json.loads((FIXTURES / "shipped_rules_corpus.json").read_text(encoding="utf-8"))
TRAP_POSTS = {
    p["message_id"]: p["text"]
    for p in json.loads((FIXTURES / "tg_trap_posts.json").read_text(encoding="utf-8"))
}

# (text, why no shipped term may match it)
TRAPS = [
    (TRAP_POSTS[194921], "the «Сириус» education centre: Сири* took it for Syria"),
    ("Сириус", "a star, a school, a satellite radio"),
    ("Сириуса", "the same, inflected"),
    ("Syriac Orthodox Church", "Syria* took the language and the church for Syria"),
    ("пустыня Атакама", "атак* took the Chilean desert for an attack"),
    ("Атакан", "атак* took a name for an attack"),
    ("погибель", "погиб* took 'perdition' for a death"),
    ("суд приговорил его за то, что он убил соседа", "убит is a participle, not the verb"),
    ("призывы убить", "the same: a participle does not bring the infinitive"),
    ("бойцы ранили медведя", "ранен is a participle, not the verb"),
    ("БП", "БПЛА once gave бп, бпли from a guessed verb"),
]


def shipped() -> list[Rule]:
    load = load_rule_files(["rules/*.toml"], ROOT)
    assert load.errors == ()
    return list(load.rules)


def term_rules() -> list[Rule]:
    """One rule per term of every shipped rule, with that rule's options."""
    out = []
    for rule in shipped():
        root = rule_tree(rule)
        assert root is not None
        for n, leaf in enumerate(leaves(root)):
            if isinstance(leaf, Term):
                out.append(
                    Rule(
                        f"{rule.name} #{n}: {leaf.text}",
                        any=(leaf.text,),
                        inflect=rule.inflect,
                        translit=rule.translit,
                        derived=rule.derived,
                        english_forms=rule.english_forms,
                    )
                )
    return out


@pytest.fixture(scope="module")
def terms() -> Matcher:
    return Matcher(term_rules())


@pytest.mark.parametrize(("text", "why"), TRAPS, ids=[why for _, why in TRAPS])
def test_no_shipped_term_falls_into_a_known_trap(terms: Matcher, text: str, why: str) -> None:
    it = Item(source="s", key="k", story_key="k", title="", text=text)
    assert [m.rule for m in terms.match(it)] == [], why


def test_the_shipped_rules_have_the_terms_the_traps_are_about() -> None:
    """The trap list guards real terms: Syria and the casualty participles are there."""
    written = {r.any[0] for r in term_rules()}
    assert {"Сирия", "сирийский", "Syria", "атака", "погиб", "убит", "ранен"} <= written


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")
def test_shipped_rules_fire_on_the_reviewed_real_posts_and_nothing_else() -> None:
    posts = [
        post
        for path in sorted(CORPUS.glob("*_messages.json"))
        for post in json.loads(path.read_text(encoding="utf-8"))
    ]
    assert len(posts) == 2905
    matcher = Matcher(shipped())
    for key, tags in (("untagged", ()), ("conflict", ("conflict",))):
        got: dict[str, list[int]] = {}
        for post in posts:
            it = Item(str(post["sender_id"]), "k", "k", "", post["text"] or "", tags=tags)
            for found in matcher.match(it):
                got.setdefault(found.rule, []).append(post["message_id"])
        for rule in sorted(set(got) | set(EXPECTED[key])):
            fired, expected = set(got.get(rule, ())), set(EXPECTED[key].get(rule, ()))
            assert fired == expected, (
                f"{key} {rule}: now also {sorted(fired - expected)}, "
                f"no longer {sorted(expected - fired)}"
            )
    # the real Wagner and Deir ez-Zor posts of tests/test_matching.py are among them
    assert {73307, 73508, 194289}.issubset(EXPECTED["untagged"]["wagner"])
    assert EXPECTED["untagged"]["deir-ez-zor"] == [271457]
