"""Recall and precision on hand labels: mission rules on real Russian Telegram posts,
and rule terms on a hand-made list of word forms and look-alikes.

- tests/fixtures/mission_labels.json: which posts of tg_news_posts_nktkln (2,905 posts)
  the shipped "wagner" rule and the "syria-casualties" rule
  (tests/fixtures/mission_rules.toml) must fire on, with the reason for every post
  that was a close call.  The posts that mention Syria or a PMC are copied in
  tests/fixtures/tg_mission_posts.json; the whole corpus is read from ../shared/corpus
  when it is there, to show that nothing else fires.
- tests/fixtures/inflection_cases.json: forms a term must match, words it must not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.matching import Matcher, load_rule_files, match_rule
from bot.model import Item, Rule

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tg_news_posts_nktkln"
LABELS = json.loads((FIXTURES / "mission_labels.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mission() -> Matcher:
    load = load_rule_files(["rules/wagner.toml", "tests/fixtures/mission_rules.toml"], ROOT)
    assert load.errors == ()
    assert {r.name for r in load.rules} == set(LABELS["rules"])
    return Matcher(load.rules)


def fired(matcher: Matcher, posts: list[dict]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {name: set() for name in LABELS["rules"]}
    for post in posts:
        key = str(post["message_id"])
        it = Item(source=str(post["sender_id"]), key=key, story_key=key, title="",
                  text=post["text"] or "")  # fmt: skip
        for found in matcher.match(it):
            out[found.rule].add(post["message_id"])
    return out


def check(got: dict[str, set[int]], ids: set[int]) -> None:
    for name, spec in LABELS["rules"].items():
        labelled = set(spec["hits"]) & ids
        missed, extra = labelled - got[name], got[name] - labelled
        assert not missed and not extra, f"{name}: missed {sorted(missed)}, extra {sorted(extra)}"


def test_labels_cover_every_post_they_name() -> None:
    posts = json.loads((FIXTURES / "tg_mission_posts.json").read_text(encoding="utf-8"))
    ids = {p["message_id"] for p in posts}
    named = {int(k) for k in LABELS["notes"]} | {
        i for spec in LABELS["rules"].values() for i in spec["hits"]
    }
    assert named <= ids


def test_mission_rules_hit_every_labelled_post_and_nothing_else(mission: Matcher) -> None:
    posts = json.loads((FIXTURES / "tg_mission_posts.json").read_text(encoding="utf-8"))
    check(fired(mission, posts), {p["message_id"] for p in posts})


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")
def test_nothing_else_fires_in_the_whole_corpus(mission: Matcher) -> None:
    posts = [
        post
        for path in sorted(CORPUS.glob("*_messages.json"))
        for post in json.loads(path.read_text(encoding="utf-8"))
    ]
    assert len(posts) == 2905
    check(fired(mission, posts), {p["message_id"] for p in posts})


# --- inflection: recall and precision on a hand-made list ---------------------------------

CASES = json.loads((FIXTURES / "inflection_cases.json").read_text(encoding="utf-8"))["cases"]


def hits(term: str, word: str) -> bool:
    found = match_rule(Rule("r", any=(term,)), Item("s", "k", "k", "", f"… {word} …"))
    return found is not None


@pytest.mark.parametrize("case", CASES, ids=[c["term"] for c in CASES])
def test_a_term_matches_its_forms_and_not_its_look_alikes(case: dict) -> None:
    assert [f for f in case["forms"] if not hits(case["term"], f)] == []
    assert [w for w in case["not"] if hits(case["term"], w)] == []


def test_inflection_totals() -> None:
    forms = sum(len(c["forms"]) for c in CASES)
    look_alikes = sum(len(c["not"]) for c in CASES)
    assert forms >= 100 and look_alikes >= 60  # the size of the list the numbers are on
