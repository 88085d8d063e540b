"""The rule language end to end (query -> Match): every operator, every folding rule and
the inflection, in Russian and English, with the false hits each must avoid; property
tests for folding; spans always point into the ORIGINAL text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import Matcher, fold, match_rule, normalize, tokenize
from bot.matching.normalize import fold_exact
from bot.model import Item, Match, Rule


def item(title: str = "", text: str = "", **kw: object) -> Item:
    return Item(source=str(kw.get("source", "s")), key="k", story_key="k", title=title,
                text=text, link=kw.get("link"), tags=tuple(kw.get("tags", ())))  # type: ignore[arg-type]  # fmt: skip


def marked(found: Match | None, it: Item) -> list[str] | None:
    if found is None:
        return None
    fields = {"title": it.title, "text": it.text}
    return [fields[s.field][s.start : s.end] for s in found.spans]


def q(query: str, **options: object) -> Rule:
    return Rule("r", query=query, **options)  # type: ignore[arg-type]


# (case, rule, item, the original text under every span; None: does not fire)
CASES: list[tuple[str, Rule, Item, list[str] | None]] = [
    # --- operators ---
    ("AND implicit", q("Wagner killed"), item(text="Wagner fighters killed"), ["Wagner", "killed"]),
    ("AND missing", q("Wagner killed"), item(text="Wagner fighters"), None),
    ("AND explicit", q("Вагнер AND погиб"), item(text="боец Вагнера погиб"), ["Вагнера", "погиб"]),
    ("OR", q("Wagner OR Вагнер"), item(text="ЧВК Вагнер"), ["Вагнер"]),
    ("OR both", q("Wagner OR Вагнер"), item("Wagner", "Вагнер"), ["Wagner", "Вагнер"]),
    ("NOT", q("Wagner NOT opera"), item("Wagner", "at the opera"), None),
    ("-term", q("Wagner -opera"), item(text="Wagner operatives"), ["Wagner"]),
    ("NOT phrase", q('Вагнер -"Кристиан Вагнер"'), item(text="Кристиан Вагнер сказал"), None),
    ("parentheses", q("(Wagner OR ЧВК) AND (killed OR погибли)"),
     item(text="бойцы ЧВК погибли"), ["ЧВК", "погибли"]),
    ("precedence", q("a OR b c"), item(text="a"), ["a"]),
    ("phrase", q('"meat grinder"'), item(text="a meat grinder"), ["meat grinder"]),
    ("phrase order", q('"meat grinder"'), item(text="grinder meat"), None),
    ("phrase not across fields", q('"meat grinder"'), item("a meat", "grinder"), None),
    ("phrase over quotes", q('"ЧВК Вагнер"'), item(text="ЧВК «Вагнер»"), ["ЧВК «Вагнер"]),
    ("prefix", q("погиб*"), item(text="погибшие, непогибший"), ["погибшие"]),
    ("prefix phrase", q('"частн* военн* компани*"'),
     item(text="бойцов частной военной компании"), ["частной военной компании"]),
    ("NEAR in reach", q("Wagner NEAR/3 killed"),
     item(text="Wagner said two of its men were killed"), None),
    ("NEAR in reach 2", q("Wagner NEAR/3 killed"),
     item(text="Wagner fighters were killed"), ["Wagner", "killed"]),
    ("NEAR either order", q("killed NEAR/2 Wagner"),
     item(text="Wagner men killed"), ["Wagner", "killed"]),
    ("NEAR groups", q("(Вагнер OR ЧВК) NEAR/2 (погиб OR убит)"),
     item(text="в Мали убиты трое бойцов ЧВК"), ["убиты", "ЧВК"]),
    ("NEAR marks only the near ones", q("Wagner NEAR/1 killed"),
     item(text="Wagner killed. Much later, far away, killed"), ["Wagner", "killed"]),
    ("NEAR not across fields", q("Wagner NEAR/5 killed"), item("Wagner", "killed"), None),
    ("NEAR phrase", q('"Deir ez-Zor" NEAR/4 killed'),
     item(text="near Deir ez-Zor, 5 were killed"), ["Deir ez-Zor", "killed"]),
    ("title:", q("title:Wagner"), item("News", "Wagner"), None),
    ("title: hit", q("title:Wagner"), item("Wagner news", "Wagner"), ["Wagner"]),
    ("text:", q("text:Wagner"), item("Wagner", "x"), None),
    ("source:", q("source:ria-* Сирия"), item(text="Сирия", source="ria-novosti"), ["Сирия"]),
    ("source: other", q("source:ria-* Сирия"), item(text="Сирия", source="bbc"), None),
    ("tag:", q("tag:conflict Сирия"), item(text="Сирия", tags=("Conflict",)), ["Сирия"]),
    ("tag: other", q("tag:conflict Сирия"), item(text="Сирия", tags=("sport",)), None),
    ("link: domain", q("link:t.me"), item(text="x", link="https://t.me/rian_ru/1"), []),
    ("link: subdomain", q("link:bbc.com Сирия"),
     item(text="Сирия", link="https://www.bbc.com/russian/x"), ["Сирия"]),
    ("link: in text", q("link:wagner.example"),
     item(text="см. https://wagner.example/a"), []),
    ("link: not a suffix", q("link:t.me"), item(text="x", link="https://notat.me/x"), None),
    ("links are not words", q("Wagner"), item(text="https://wagner.example/Wagner"), None),
    ("regex", q("/груз[ -]?200/"), item(text="тела «груз-200»"), ["груз-200"]),
    ("regex case-insensitive", q("/wag+ner/"), item(text="WAGGNER"), ["WAGGNER"]),
    ("regex and term", q("/\\d+ (?:погиб|убит)/ AND Сирия"),
     item(text="В Сирии 36 погибли"), ["Сирии", "36 погиб"]),
    ("exact form", q("!Вагнер"), item(text="Вагнера"), None),
    ("exact form hit", q("!Вагнер"), item(text="Вагнер"), ["Вагнер"]),
    # --- folding, both languages ---
    ("case", q("вагнер"), item(text="ВАГНЕР"), ["ВАГНЕР"]),
    ("ё = е", q("наёмник"), item(text="наемники"), ["наемники"]),
    ("е = ё", q("наемник"), item(text="наёмники"), ["наёмники"]),
    ("diacritics", q('"Deir ez-Zor"'), item(text="Dayr ez-Zōr, Deir ez-Zor"), ["Deir ez-Zor"]),
    ("diacritics 2", q("Zor"), item(text="Zōr"), ["Zōr"]),
    ("dashes", q('"Deir ez-Zor"'), item(text="Deir ez–Zor; Deir—ez—Zor; Deir ez Zor"),
     ["Deir ez–Zor", "Deir—ez—Zor", "Deir ez Zor"]),
    ("dashes ru", q("Дейр-эз-Зор"), item(text="Дейр эз Зор и Дейр‑эз‑Зоре"),
     ["Дейр эз Зор", "Дейр‑эз‑Зоре"]),
    ("apostrophes", q("O'Neil"), item(text="O’Neil, O`Neil, Oʼneil"),
     ["O’Neil", "O`Neil", "Oʼneil"]),
    ("look-alike e", q("Вагнер"), item(text="ЧВК «Вагнeр»"), ["Вагнeр"]),
    ("look-alike in term", q("Вагнeр"), item(text="Вагнера"), ["Вагнера"]),
    ("look-alike latin word", q("Wagner"), item(text="Wаgner"), ["Wаgner"]),
    ("look-alike real post", q("сколько"), item(text="Cколько стоит"), ["Cколько"]),
    ("fullwidth", q("Prigozhin"), item(text="ＰＲＩＧＯＺＨＩＮ"), ["ＰＲＩＧＯＺＨＩＮ"]),
    ("soft hyphen", q("Вагнер"), item(text="Ваг\u00adнер"), ["Ваг\u00adнер"]),
    ("stress mark", q("Зор"), item(text="Дейр-эз-Зо\u0301р"), ["Зо\u0301р"]),
    ("html", q('"meat grinder"'), item(text="<b>meat</b> <i>grinder</i>"),
     ["meat</b> <i>grinder"]),  # one phrase, one span
    ("html entity", q("café"), item(text="caf&eacute; au lait"), ["caf&eacute;"]),
    ("markdown", q('"ЧВК Вагнер"'), item(text="**ЧВК** __Вагнер__"), ["ЧВК** __Вагнер"]),
    ("emoji shortcode", q("fire"), item(text="Пожар :fire:"), None),
    ("emoji", q("Вагнер"), item(text="🔥Вагнер❗️"), ["Вагнер"]),
    # --- inflection, and what it must not catch ---
    ("inflect name", q("Пригожин"), item(text="связаны с Евгением Пригожиным"), ["Пригожиным"]),
    ("inflect place", q("Дейр-эз-Зор"), item(text="под Дейр-эз-Зором"), ["Дейр-эз-Зором"]),
    ("inflect verb", q("погиб"), item(text="погибли, погибших"), ["погибли", "погибших"]),
    ("inflect phrase", q('"частная военная компания"'),
     item(text="бойцов частных военных компаний"), ["частных военных компаний"]),
    ("inflect uk", q("загинули"), item(text="загинув боєць"), ["загинув"]),
    ("груз is not Грузия", q("груз"), item(text="Грузия и грузины"), None),
    ("ранены is not рано", q("ранены"), item(text="рано утром, ранее"), None),
    ("потери is not потерял", q("потери"), item(text="он потерял ключи"), None),
    ("war is not warning", q("war"), item(text="warning: wartime"), None),
    ("no english forms by default", q("strike"), item(text="strikes"), None),
    ("english forms", q("strike", english_forms=True), item(text="struck, strikes"),
     ["struck", "strikes"]),
    ("english forms keep words apart", q("war", english_forms=True),
     item(text="warning, wars"), ["wars"]),
    # --- transliteration ---
    ("translit off", q("Вагнер"), item(text="Vagner"), None),
    ("translit cyr->lat", q("Стрелков", translit=True), item(text="Igor Strelkov"), ["Strelkov"]),
    ("translit lat->cyr", q("Wagner", translit=True), item(text="бойцы Вагнера"), ["Вагнера"]),
    ("translit both ways", q("Пригожин", translit=True), item(text="Prigozhin, Prigojin"),
     ["Prigozhin", "Prigojin"]),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "it", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_language(rule: Rule, it: Item, expected: list[str] | None) -> None:
    assert marked(match_rule(rule, it), it) == expected


# --- the Wagner composer must not pass for the Group ---------------------------------

OPERA_REVIEW = item(
    "Der Ring des Nibelungen at the Royal Opera House",
    "Wagner's cycle is four nights long; in the third act Siegfried is killed, and the "
    "dead hero's funeral march is the evening's peak. Richard Wagner wrote it in 1874.",
)
PMC_NEWS = item(
    "Wagner fighters killed in Mali ambush",
    "At least six Russian Wagner mercenaries were killed near Mopti, the group said.",
)
CASUALTY_RULES = [
    q('Wagner NEAR/4 (killed OR dead OR casualties) NOT ("Richard Wagner" OR opera)',
      english_forms=True),
    q("(Wagner OR PMC) NEAR/3 (mercenary OR fighter) AND killed", english_forms=True),
]  # fmt: skip


@pytest.mark.parametrize("rule", CASUALTY_RULES)
def test_the_composer_is_not_the_group(rule: Rule) -> None:
    assert match_rule(rule, OPERA_REVIEW) is None
    assert match_rule(rule, PMC_NEWS) is not None


# --- Match: terms and spans --------------------------------------------------------------


def test_terms_and_spans_name_what_fired_in_query_order() -> None:
    rule = q('(ЧВК OR Wagner) NEAR/3 (погиб OR killed) -opera "груз 200"')
    it = item("Бойцы ЧВК погибли", "Тела доставлены «грузом 200», Wagner")
    found = match_rule(rule, it)
    assert found is not None
    assert found.terms == ("ЧВК", "погиб", "груз 200")  # Wagner is not near a casualty
    assert [(s.field, s.term) for s in found.spans] == [
        ("title", "ЧВК"), ("title", "погиб"), ("text", "груз 200"),
    ]  # fmt: skip
    assert marked(found, it) == ["ЧВК", "погибли", "грузом 200"]


def test_negated_terms_never_fire_and_or_collects_every_true_branch() -> None:
    found = match_rule(q("(a OR b OR c) -d"), item(text="a c"))
    assert found is not None and found.terms == ("a", "c")


def test_metadata_only_query_fires_without_spans() -> None:
    found = match_rule(q("source:ria-novosti"), item(text="anything", source="ria-novosti"))
    assert found is not None and found.spans == () and found.terms == ("source:ria-novosti",)


def test_query_and_lists_together_must_both_hold() -> None:
    rule = Rule("r", query="Сирия", none=("Ирак",))
    assert match_rule(rule, item(text="Сирия")) is not None
    assert match_rule(rule, item(text="Сирия и Ирак")) is None


def test_rule_sources_and_tags_filter_before_matching() -> None:
    rule = Rule("r", query="Сирия", sources=("ria-*",), tags=("conflict",))
    assert match_rule(rule, item(text="Сирия", source="ria-novosti", tags=("conflict",)))
    assert match_rule(rule, item(text="Сирия", source="bbc", tags=("conflict",))) is None
    assert match_rule(rule, item(text="Сирия", source="ria-novosti")) is None


def test_near_and_regex_stay_bounded_on_a_huge_post() -> None:
    text = "в и в на в " * 20_000  # 220,000 characters, 60,000 "в"
    near = match_rule(q("в NEAR/3 на", inflect=False), item(text=text))
    assert near is not None and 0 < len(near.spans) <= 2 * 200
    regex = match_rule(q("/в+/"), item(text=text))
    assert regex is not None and len(regex.spans) == 50


def test_many_rules_in_one_automaton_fire_in_rule_order() -> None:
    rules = [Rule(f"r{i}", query=f"word{i} OR pre{i}x*") for i in range(2000)]
    rules.append(Rule("near", query="word7 NEAR/1 word9"))
    rules.append(Rule("regex-only", query="/zzz\\d/"))
    matcher = Matcher(rules)
    found = matcher.match(item(text="word7 word9 pre42xes zzz1"))
    assert [m.rule for m in found] == ["r7", "r9", "r42", "near", "regex-only"]
    assert matcher.keys >= 4000


# --- folding properties ------------------------------------------------------------------

WORDS = [
    "Wagner", "ЧВК", "Вагнер", "вагнеровцы", "погибли", "Погиб", "ёлка", "Ежик", "Дейр",
    "эз", "Зор", "Deir", "ez", "Zor", "meat", "grinder", "war", "warning", "ранены",
    "Пригожиным", "груз", "200", "Syria", "Euphrates", "Евфрат", "Сирии", "opera",
    "Deir ez-Zor", "ДЕЙР-ЭЗ-ЗОРЕ", "дейр эз зор", "meat grinder", "груз-200", "Київ",
    "Zōr", "Straße", "café", "Ваг\u00adнер", "Зо\u0301р", "🔥", "❗️", "O’Neil",
    "ﬁrst", "Йемен", "И\u0306емен", "x\u200by", "²", "Σίσυφος",
    "**Ваг**нер", "М**инздрав**", "Ваг__нер", "a**__b", "**", "snake_case",
]  # fmt: skip
SEPARATORS = [" ", "-", "–", "—", "\u2011", ", ", ". ", "\n", "«", "»", "'", "\u00a0", " - "]
texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=20).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)
RULES = [
    q("Wagner OR ЧВК OR Вагнер"),
    q('"Deir ez-Zor" OR Дейр-эз-Зор'),
    q('(погиб OR ранены OR "груз 200" OR "meat grinder") AND Вагнер'),
    q("(ёлка OR ежик) -opera"),
    q("war AND Euphrates AND Сири*"),
    q("Вагнер NEAR/3 погиб"),
    q("title:Zor OR Київ"),
]
DASHES = ["-", "–", "—", "\u2011", " "]
LOOK_ALIKE = str.maketrans("аеорсух", "aeopcyx")  # Cyrillic -> Latin look-alikes


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_folding_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_fast_folding_agrees_with_the_exact_path(text: str) -> None:
    assert fold(text).text.split() == fold_exact(text).text.split()
    for token in tokenize(text):
        assert normalize(text[token.start : token.end]) == token.text


def variant(text: str, flips: list[bool]) -> str:
    """Same words: flipped case, ё<->е, another dash, one look-alike letter per word."""
    out = []
    for i, ch in enumerate(text):
        flip = flips[i % len(flips)]
        if ch in "ёЁ" and flip:
            ch = {"ё": "е", "Ё": "Е"}[ch]
        elif ch in "-–—\u2011" and flip:
            ch = DASHES[i % len(DASHES)]
        elif ch.isalpha() and flip and i % 3 == 0 and len(ch.swapcase()) == 1:
            ch = ch.swapcase()
        out.append(ch)
    words = "".join(out).split(" ")
    # one Cyrillic look-alike per long Cyrillic word becomes Latin (the evasion)
    for k, word in enumerate(words):
        if len(word) >= 5 and flips[k % len(flips)]:
            for j in range(1, len(word) - 1):
                if word[j] in "аеорсух":
                    words[k] = word[:j] + word[j].translate(LOOK_ALIKE) + word[j + 1 :]
                    break
    return " ".join(words)


@settings(max_examples=150, deadline=None)
@given(title=texts, text=texts, flips=st.lists(st.booleans(), min_size=1, max_size=11))
def test_matching_ignores_case_yo_dashes_and_look_alikes(
    title: str, text: str, flips: list[bool]
) -> None:
    matcher = Matcher(RULES)
    before = matcher.match(item(title, text))
    after = matcher.match(item(variant(title, flips), variant(text, flips)))
    assert [(m.rule, m.terms) for m in after] == [(m.rule, m.terms) for m in before]
    assert [[(s.field, s.start, s.end) for s in m.spans] for m in after] == [
        [(s.field, s.start, s.end) for s in m.spans] for m in before
    ]  # every variant keeps the length of each character, so the spans stay put


def test_derived_words_of_a_name_on_request() -> None:
    """``derived = true``: the members' and the "of it" words of a name, in every form
    (real phrasings from Russian war reporting); off by default."""
    texts = {
        "Тела вагнеровцев вывезли в Ростов": ["вагнеровцев"],
        "вагнеровские штурмовики под Бахмутом": ["вагнеровские"],
        "пригожинцы покинули позиции": ["пригожинцы"],
        "бойцы ЧВК Вагнера погибли": ["Вагнера"],
    }
    on = Rule("w", any=("Вагнер", "Пригожин"), derived=True)
    off = Rule("w", any=("Вагнер", "Пригожин"))
    for text, words in texts.items():
        it = item(text=text)
        assert marked(match_rule(on, it), it) == words, text
    for text in list(texts)[:3]:
        assert match_rule(off, item(text=text)) is None, text
    assert match_rule(off, item(text="бойцы ЧВК Вагнера погибли")) is not None
    # words that merely start like the name are not its kin
    assert match_rule(on, item(text="вагнеровед рассказал об опере")) is None
    assert match_rule(on, item(text="пригожинка")) is None
    # the adjective is also the composer's ("Вагнеровский фестиваль"): the reason
    # rules/wagner.toml leaves the option off
    assert match_rule(on, item(text="Вагнеровский фестиваль в Байройте")) is not None
