"""The "Item -> Match" stage: tokenizer, the any/all/none semantics, and the shipped
rules on the seed article and on real Telegram posts (tests/fixtures/tg_posts_sample.json).

The rule language's operators, folding and inflection: test_matching_language.py;
the parser: test_query.py; hand-labelled real posts: test_matching_labels.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import (
    Matcher,
    TermError,
    check_term,
    load_rule_files,
    match_rule,
    normalize_term,
    tokenize,
)
from bot.model import Item, Match, Rule

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed-article.txt"
POSTS = ROOT / "tests" / "fixtures" / "tg_posts_sample.json"


def item(title: str = "", text: str = "", tags: tuple[str, ...] = ()) -> Item:
    return Item(source="s", key="k", story_key="k", title=title, text=text, tags=tags)


def snippets(found: Match, it: Item) -> list[str]:
    """The original text under each span: what a renderer would highlight."""
    fields = {"title": it.title, "text": it.text}
    return [fields[s.field][s.start : s.end] for s in found.spans]


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    load = load_rule_files(["rules/*.toml"], ROOT)
    assert load.errors == ()
    return Matcher(load.rules)


def fired(matcher: Matcher, it: Item) -> set[str]:
    return {m.rule for m in matcher.match(it)}


# --- normalize ---------------------------------------------------------------------


def test_tokenize_offsets_point_at_the_original_words() -> None:
    text = "«ЧВК „Вагнер“» — в Дейр-эз-Зоре; O’Neil_2 Ёж"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == [
        "чвк", "вагнер", "в", "дейр", "эз", "зоре", "o", "neil", "2", "еж",
    ]  # fmt: skip
    assert [text[t.start : t.end] for t in tokens] == [
        "ЧВК", "Вагнер", "в", "Дейр", "эз", "Зоре", "O", "Neil", "2", "Ёж",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Deir ez-Zor", "Deir-ez-Zor"),
        ("Deir ez-Zor", "Deir ez Zor"),
        ("Deir ez-Zor", "DEIR EZ\u2013ZOR"),  # en dash
        ("Deir ez-Zor", "deir  ez\u2014zor"),  # em dash, two spaces
        ("Deir ez-Zor", "Deir\u00a0ez\u2011Zor"),  # no-break space, non-breaking hyphen
        ("Дейр-эз-Зор", "Дейр эз Зор"),
        ("Дейр-эз-Зор", "ДЕЙР-ЭЗ-ЗОР"),
        ("Дейр-эз-Зор", "Дейр-эз-Зо\u0301р"),  # stress mark
        ("Вагнер", "Ваг\u00adнер"),  # soft hyphen from HTML
        ("Ёлка", "елка"),
        ("ЁЛКА", "ёлка"),
        ("Prigozhin", "ＰＲＩＧＯＺＨＩＮ"),  # fullwidth, NFKC
        ("Straße", "STRASSE"),  # casefold, not lower
        ("груз 200", "груз-200"),
        ("Wagner's", "Wagner s"),  # apostrophes split
    ],
)
def test_normalize_term_equivalences(a: str, b: str) -> None:
    assert normalize_term(a) == normalize_term(b)


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("Deir ez-Zor", ("deir", "ez", "zor")),
        ("погиб*", ("погиб",)),
        ("  private   military company ", ("private", "military", "company")),
        ("snake_case", ("snake", "case")),
        ("--", ()),
        ("", ()),
    ],
)
def test_normalize_term(term: str, words: tuple[str, ...]) -> None:
    assert normalize_term(term) == words


@pytest.mark.parametrize(
    ("term", "problem"),
    [
        ("--", "has no words"),
        ("*", "has no words"),
        ("Ваг*нер", '"*" must end a word'),
        ("* Wagner", '"*" must come right after a word'),
        ("Wagner **", '"*" must come right after a word'),
        ("Wagner *", '"*" must come right after a word'),
        ("Wagner", None),
        ("погиб*", None),
        ("частн* военн* компани*", None),
        ("груз-200*", None),
    ],
)
def test_check_term(term: str, problem: str | None) -> None:
    got = check_term(term)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got and term in got


def test_matcher_rejects_an_unusable_term_naming_the_rule() -> None:
    with pytest.raises(TermError, match=r'rule "bad".*"--"'):
        Matcher([Rule(name="bad", any=("--",))])


# --- matcher semantics -------------------------------------------------------------

W = Rule(name="w", any=("Wagner",))
CASES: list[tuple[str, Rule, Item, list[str] | None]] = [
    # (case, rule, item, highlighted original text of every span; None: does not fire)
    ("case", W, item(text="WAGNER and wagner"), ["WAGNER", "wagner"]),
    ("title and text", W, item("Wagner", "Wagner"), ["Wagner", "Wagner"]),
    ("whole word", Rule("w", any=("war",)), item(text="warning: war-torn, wars"), ["war"]),
    ("whole word ru", Rule("w", any=("ЧВК",)), item(text="ЧВКашка и ЧВК"), ["ЧВК"]),
    ("not inside", Rule("w", any=("зор",)), item(text="Зорро и дозор"), None),
    ("ё in text", Rule("w", any=("елка",)), item(text="Ёлка"), ["Ёлка"]),
    ("ё in term", Rule("w", any=("ёлка",)), item(text="ЕЛКА"), ["ЕЛКА"]),
    (
        "phrase spellings",
        Rule("d", any=("Deir ez-Zor",)),
        item(text="Deir ez Zor, Deir-ez-Zor, DEIR EZ–ZOR; Deir Ezzor"),
        ["Deir ez Zor", "Deir-ez-Zor", "DEIR EZ–ZOR"],
    ),
    (
        "phrase ru, inflected",
        Rule("d", any=("Дейр-эз-Зор",)),
        item(text="в провинции Дейр эз Зор и Дейр-эз-Зоре"),
        ["Дейр эз Зор", "Дейр-эз-Зоре"],
    ),
    (
        "phrase ru, inflection off",
        Rule("d", any=("Дейр-эз-Зор",), inflect=False),
        item(text="в провинции Дейр эз Зор и Дейр-эз-Зоре"),
        ["Дейр эз Зор"],
    ),
    ("phrase words apart", Rule("p", any=("meat grinder",)), item(text="meat, a grinder"), None),
    (
        "phrase not across fields",
        Rule("p", any=("meat grinder",)),
        item(title="A meat", text="grinder"),
        None,
    ),
    (
        "phrase punctuation between",
        Rule("p", any=("meat grinder",)),
        item(text="this “meat grinder”. Meat-grinder!"),
        ["meat grinder", "Meat-grinder"],
    ),
    (
        "prefix",
        Rule("c", any=("погиб*",)),
        item(text="погиб, Погибли, погибших; непогибший"),
        ["погиб", "Погибли", "погибших"],
    ),
    (
        "prefix in a phrase",
        Rule("c", any=("частн* военн* компани*",)),
        item(text="бойцов частной военной компании; частная военная компания"),
        ["частной военной компании", "частная военная компания"],
    ),
    ("prefix is the word itself", Rule("c", any=("Вагнер*",)), item(text="вагнер"), ["вагнер"]),
    ("inflection", Rule("c", any=("Вагнер",)), item(text="Вагнера"), ["Вагнера"]),
    ("exact form", Rule("c", any=("!Вагнер",)), item(text="Вагнера"), None),
    ("inflection off", Rule("c", any=("Вагнер",), inflect=False), item(text="Вагнера"), None),
    (
        "any: one is enough",
        Rule("a", any=("Wagner", "Prigozhin")),
        item(text="Prigozhin said"),
        ["Prigozhin"],
    ),
    (
        "all: every one",
        Rule("a", all=("Wagner", "killed")),
        item("Wagner", "three killed"),
        ["Wagner", "killed"],
    ),
    ("all: one missing", Rule("a", all=("Wagner", "killed")), item(text="Wagner"), None),
    (
        "any and all",
        Rule("a", any=("killed", "dead"), all=("Wagner",)),
        item(text="Wagner: 3 dead"),
        ["Wagner", "dead"],
    ),
    ("any missing", Rule("a", any=("killed",), all=("Wagner",)), item(text="Wagner"), None),
    ("none vetoes", Rule("n", any=("Wagner",), none=("opera",)), item("Opera", "Wagner"), None),
    (
        "none absent",
        Rule("n", any=("Wagner",), none=("opera",)),
        item(text="Wagner operatives"),
        ["Wagner"],
    ),
    ("no positive terms", Rule("n", none=("opera",)), item(text="Wagner"), None),
    ("no terms at all", Rule("n"), item(text="Wagner"), None),
    ("tags: none on rule", W, item(text="Wagner", tags=("x",)), ["Wagner"]),
    (
        "tags: shared",
        Rule("t", any=("Wagner",), tags=("conflict",)),
        item(text="Wagner", tags=("news", "Conflict")),
        ["Wagner"],
    ),
    (
        "tags: not shared",
        Rule("t", any=("Wagner",), tags=("conflict",)),
        item(text="Wagner", tags=("sport",)),
        None,
    ),
    (
        "tags: item has none",
        Rule("t", any=("Wagner",), tags=("conflict",)),
        item(text="Wagner"),
        None,
    ),
    (
        "overlapping terms",
        Rule("o", any=("Wagner", "Wagner Group")),
        item(text="the Wagner Group"),
        ["Wagner", "Wagner Group"],
    ),
    ("repeated phrase", Rule("r", any=("no no",)), item(text="no no no"), ["no no", "no no"]),
    ("empty item", W, item(), None),
]


@pytest.mark.parametrize(
    ("rule", "it", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_match_rule(rule: Rule, it: Item, expected: list[str] | None) -> None:
    found = match_rule(rule, it)
    if expected is None:
        assert found is None
        return
    assert found is not None and found.rule == rule.name
    assert snippets(found, it) == expected
    for span in found.spans:
        assert span.term in (*rule.any, *rule.all)


def test_spans_are_sorted_title_first_then_by_offset() -> None:
    rule = Rule("r", any=("b", "a"))
    it = item(title="x b a", text="b a b")
    found = match_rule(rule, it)
    assert found is not None
    assert [(s.field, s.start, s.term) for s in found.spans] == [
        ("title", 2, "b"),
        ("title", 4, "a"),
        ("text", 0, "b"),
        ("text", 2, "a"),
        ("text", 4, "b"),
    ]


def test_terms_in_rule_order_deduplicated_and_only_those_that_fired() -> None:
    rule = Rule("r", any=("dead", "killed", "Wagner", "wounded"), all=("Wagner", "Syria"))
    found = match_rule(rule, item(text="Syria: Wagner fighters killed, others dead"))
    assert found is not None
    assert found.terms == ("dead", "killed", "Wagner", "Syria")


def test_two_spellings_of_one_term_share_a_span() -> None:
    rule = Rule("r", any=("Deir ez-Zor", "Deir ez Zor"))
    found = match_rule(rule, item(text="Deir-ez-Zor"))
    assert found is not None
    assert found.terms == ("Deir ez-Zor", "Deir ez Zor")
    assert [(s.start, s.end, s.term) for s in found.spans] == [(0, 11, "Deir ez-Zor")]


def test_one_match_per_fired_rule_in_rule_order() -> None:
    rules = [
        Rule("c", any=("killed",)),
        Rule("a", any=("Wagner",)),
        Rule("quiet", any=("opera",)),
        Rule("b", any=("wagner",), all=("Syria",)),
    ]
    found = Matcher(rules).match(item("Wagner in Syria", "two killed"))
    assert [m.rule for m in found] == ["c", "a", "b"]
    assert Matcher(rules).rules == tuple(rules)
    assert Matcher([]).match(item(text="Wagner")) == []


def test_many_rules_share_the_index() -> None:
    rules = [Rule(f"r{i}", any=(f"word{i}", f"pre{i}x*", f"two word{i}")) for i in range(500)]
    found = Matcher(rules).match(item(text="word7 pre42xes two word499 word"))
    assert [(m.rule, m.terms) for m in found] == [
        ("r7", ("word7",)),
        ("r42", ("pre42x*",)),
        ("r499", ("word499", "two word499")),
    ]


# --- property: case and ё/е do not change the result -------------------------------

VOCAB = [
    "Wagner", "ЧВК", "Вагнер", "вагнеровцы", "погибли", "Погиб", "ёлка", "Ежик", "Дейр",
    "эз", "Зор", "Deir", "ez", "Zor", "meat", "grinder", "war", "warning", "ранены",
    "Пригожиным", "груз", "200", "Syria", "Euphrates", "Евфрат", "Сирии", "opera",
    "Deir ez-Zor", "ДЕЙР-ЭЗ-ЗОРЕ", "дейр эз зор", "meat grinder", "груз-200",
]  # fmt: skip
SEPARATORS = [" ", "-", "–", ", ", ". ", "\n", "«", "»", "'"]
PROPERTY_RULES = [
    Rule("wagner", any=("Wagner", "ЧВК", "Вагнер*")),
    Rule("place", any=("Deir ez-Zor", "Дейр-эз-Зор*")),
    Rule("cas", any=("погиб*", "ранен*", "груз 200", "meat grinder"), all=("Вагнер*",)),
    Rule("elka", any=("ёлка", "ежик"), none=("opera",)),
    Rule("war", all=("war", "Euphrates", "Сири*")),
]

texts = st.lists(st.tuples(st.sampled_from(VOCAB), st.sampled_from(SEPARATORS)), max_size=25).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


def swap(text: str, flips: list[bool]) -> str:
    """Flip the case of some letters and turn some е into ё and ё into е."""
    out = []
    for i, ch in enumerate(text):
        flip = flips[i % len(flips)] if flips else False
        if ch in "её" and flip:
            ch = {"е": "ё", "ё": "е"}[ch]
        elif ch in "ЕЁ" and flip:
            ch = {"Е": "Ё", "Ё": "Е"}[ch]
        out.append(ch.swapcase() if flip and ch.isalpha() and i % 2 else ch)
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(title=texts, text=texts, flips=st.lists(st.booleans(), min_size=1, max_size=13))
def test_case_and_yo_do_not_change_matches(title: str, text: str, flips: list[bool]) -> None:
    matcher = Matcher(PROPERTY_RULES)
    before = matcher.match(item(title, text))
    after = matcher.match(item(swap(title, flips), swap(text, flips)))
    assert after == before  # same rules, terms and spans (the swaps keep every length)


# --- the shipped rules -------------------------------------------------------------


def test_seed_article_hits_wagner_place_and_casualties(shipped: Matcher) -> None:
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    it = item(title, body)
    found = {m.rule: m for m in shipped.match(it)}
    assert {"wagner", "deir-ez-zor", "wagner-casualties-en", "euphrates-syria-en"} <= set(found)
    assert "casualties-conflict-sources" not in found  # the seed source has no tags
    assert found["deir-ez-zor"].spans[0].field == "title"
    assert set(snippets(found["deir-ez-zor"], it)) == {"Deir ez-Zor", "Deir ez Zor"}
    assert {"Wagner", "PMC", "private military company"} <= set(snippets(found["wagner"], it))
    assert {"killed", "losses", "meat grinder", "Wagner"} <= set(
        snippets(found["wagner-casualties-en"], it)
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "Deir ez-Zor", "Deir ez Zor", "Deir-ez-Zor", "Deir Ezzor", "Deir-Ezzor", "Deir al-Zour",
        "Deir el-Zor", "Dayr az-Zawr", "Дейр-эз-Зор", "Дейр-эз-Зоре", "Дейр-эз-Зором",
        "Дейр эз-Зор", "Дейр эз Зор", "Дэйр-эз-Зор", "дейр-эз-зорской",
    ],
)  # fmt: skip
def test_every_spelling_hits_deir_ez_zor(shipped: Matcher, spelling: str) -> None:
    it = item(text=f"Удар по {spelling}, сообщают.")
    found = {m.rule: m for m in shipped.match(it)}
    assert "deir-ez-zor" in found
    assert snippets(found["deir-ez-zor"], it) == [spelling]


@pytest.mark.parametrize(
    ("title", "text", "tags", "expected"),
    [
        ("Rasual Butler, 13-year NBA veteran, killed in car crash", "", (), set()),
        ("Rasual Butler, 13-year NBA veteran, killed in car crash", "", ("sport",), set()),
        ("Wagner mercenaries killed near the Euphrates", "", (),
         {"wagner", "wagner-casualties-en"}),
        ("Три бойца ЧВК погибли", "Их тела доставлены «грузом 200».", (),
         {"wagner", "pmc-casualties-ru"}),
        ("Вагнеровцы понесли потери", "", (), {"wagner", "wagner-casualties-ru"}),
        ("Погибли двое военных", "", ("conflict",), {"casualties-conflict-sources"}),
        ("Tristan und Isolde", "Richard Wagner's opera, dead lovers", (), set()),
        ("Кристиан Вагнер: погибли мирные жители", "", (), set()),
        ("Euphrates dam in Iraq", "Water level falls", (), set()),
        ("Евфрат мелеет", "Сирия и Ирак спорят о воде", (), {"euphrates-syria-ru"}),
        ("Warning: Wagnerian wardrobe", "", (), set()),
    ],
)  # fmt: skip
def test_shipped_rules_on_headlines(
    shipped: Matcher, title: str, text: str, tags: tuple[str, ...], expected: set[str]
) -> None:
    assert fired(shipped, item(title, text, tags)) == expected


def load_posts() -> dict[int, dict[str, str]]:
    return {p["message_id"]: p for p in json.loads(POSTS.read_text(encoding="utf-8"))}


# message_id -> (rules on an untagged source, rules when the source is tagged "conflict")
POST_EXPECTATIONS = {
    # RIA: "...атаки курдских формирований в провинции Дейр-эз-Зор"
    # (and rules/syria.toml: Сирийская ... атаки)
    271457: ({"deir-ez-zor", "syria-fighting-ru"}, {"deir-ez-zor", "syria-fighting-ru"}),
    # BBC: Russian mercenaries of ЧВК «Вагнер» killed in Mali
    73307: (
        {"wagner", "wagner-casualties-ru", "pmc-casualties-ru"},
        {"wagner", "wagner-casualties-ru", "pmc-casualties-ru", "casualties-conflict-sources"},
    ),
    # BBC: Chad and France; "связаны с Евгением Пригожиным" (instrumental case: Пригожин*)
    73508: ({"wagner"}, {"wagner"}),
    # bbbreaking: ex-ЧВК fighters may get veteran status
    194289: ({"wagner"}, {"wagner"}),
    # bbbreaking: European PMC (бойцов ЧВК) to Ukraine: ЧВК is deliberately any PMC
    194658: ({"wagner"}, {"wagner"}),
    # BBC: France/UK discuss "бойцов частных военных компаний" for Ukraine
    73353: ({"wagner"}, {"wagner"}),
    # bbbreaking: German MFA spokesman Кристиан Вагнер: vetoed by "none"
    194586: (set(), set()),
    # BBC: 56 killed in a football stampede in Guinea: no Wagner, no conflict tag
    73628: (set(), {"casualties-conflict-sources"}),
    # RIA: deaths at a care home in Altai
    271450: (set(), {"casualties-conflict-sources"}),
    # BBC: Zelensky on Ukrainian war dead
    73654: (set(), {"casualties-conflict-sources"}),
    # BBC: Waltz calls the war "абсолютная мясорубка людей и техники"
    73317: (set(), {"casualties-conflict-sources"}),
    # RIA: Syria strikes, no Deir ez-Zor, no casualty word from the list: only the
    # broad rules/syria.toml rule (В Сирии ... удары ... боевиков ... террористов)
    271568: ({"syria-fighting-ru"}, {"syria-fighting-ru"}),
}


def test_fixture_holds_exactly_the_expected_posts() -> None:
    assert set(load_posts()) == set(POST_EXPECTATIONS)


@pytest.mark.parametrize("message_id", sorted(POST_EXPECTATIONS))
def test_shipped_rules_on_real_posts(shipped: Matcher, message_id: int) -> None:
    post = load_posts()[message_id]
    untagged, conflict = POST_EXPECTATIONS[message_id]
    assert fired(shipped, item(text=post["text"])) == untagged
    assert fired(shipped, item(text=post["text"], tags=("conflict",))) == conflict
    for found in shipped.match(item(text=post["text"])):
        for text in snippets(found, item(text=post["text"])):
            assert text.strip() == text and text  # spans cover words, never padding


def test_ria_deir_ez_zor_span_is_the_original_text(shipped: Matcher) -> None:
    it = item(text=load_posts()[271457]["text"])
    (found,) = [m for m in shipped.match(it) if m.rule == "deir-ez-zor"]
    assert snippets(found, it) == ["Дейр-эз-Зор"]
    assert it.text[found.spans[0].start - len("провинции ") : found.spans[0].end] == (
        "провинции Дейр-эз-Зор"
    )
