"""A term's forms (bot/matching/forms.py, inflect.py, translit.py) and the folding of
invisible characters and markdown inside words (normalize.py), table-driven, through
the real matcher.  The shipped rules against traps: test_shipped_rules.py; what
``dozor explain`` shows: test_explain.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.matching import match_rule
from bot.model import Item, Rule
from watchers.text import html_to_text

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed-article.txt"
POSTS = {
    p["message_id"]: p["text"]
    for p in json.loads((ROOT / "tests" / "fixtures" / "tg_posts_sample.json").read_text())
}


def spans(term: str, text: str, **options: bool) -> list[str]:
    """The original text of every place ``term`` matches in ``text`` ([] for none)."""
    found = match_rule(Rule("r", any=(term,), **options), Item("s", "k", "k", "", text))  # type: ignore[arg-type]
    return [] if found is None else [text[s.start : s.end] for s in found.spans]


def hits(term: str, text: str, **options: bool) -> bool:
    return bool(spans(term, text, **options))


# --- participles: their own forms, full and short, not the verb --------------------------

PARTICIPLES = [
    # term, forms it must match, words it must not
    ("убитый", ["убит", "убита", "убито", "убиты", "убитых", "убитому", "убитыми"],
     ["убил", "убили", "убьют", "убить"]),
    ("убит", ["убит", "убита", "убито", "убиты", "убитый", "убитых"], ["убил", "убили", "убить"]),
    ("убитые", ["убит", "убиты", "убитых"], ["убили"]),
    ("погибший", ["погибшего", "погибшие", "погибших", "погибшим"], ["погиб", "погибли"]),
    ("погибшие", ["погибший", "погибших"], ["погиб", "погибла", "погибнут"]),
    ("ранен", ["ранена", "ранены", "ранено", "раненный", "раненных"], ["ранил", "ранили", "ранят"]),
    ("задержанные", ["задержан", "задержана", "задержаны", "задержанных"], ["задержали"]),
    # a verb still brings every form, its participles included
    ("погиб", ["погибли", "погибших", "погибший", "погибнут"], ["погибель"]),
    ("убили", ["убил", "убит", "убитых", "убьют"], ["убивать"]),
]  # fmt: skip


@pytest.mark.parametrize(("term", "forms", "others"), PARTICIPLES, ids=[p[0] for p in PARTICIPLES])
def test_a_participle_matches_its_full_and_short_forms_not_the_verb(
    term: str, forms: list[str], others: list[str]
) -> None:
    assert [f for f in forms if not hits(term, f"… {f} …")] == []
    assert [w for w in others if hits(term, f"… {w} …")] == []


# --- abbreviations in capitals ------------------------------------------------------------

ABBREVIATIONS = [
    ("БПЛА", ["БПЛА", "бпла"], ["бп", "бпли", "бпло", "бпнуть", "бпл", "бплы"]),
    ("ВСУ", ["ВСУ"], ["всуе"]),
    ("МИД", ["МИДа", "МИДом", "МИДе"], ["мидия"]),  # one the dictionary knows: inflected
    ("ВАГНЕР", ["Вагнера", "Вагнером"], []),  # an ordinary word in capitals: inflected
]


@pytest.mark.parametrize(
    ("term", "forms", "others"), ABBREVIATIONS, ids=[a[0] for a in ABBREVIATIONS]
)
def test_an_abbreviation_in_capitals_is_not_inflected_from_a_guess(
    term: str, forms: list[str], others: list[str]
) -> None:
    assert [f for f in forms if not hits(term, f"… {f} …")] == []
    assert [w for w in others if hits(term, f"… {w} …")] == []


# --- transliteration: the letter tables and the press's spellings of names ----------------

TRANSLIT = [
    # term, text, matched text
    ("Вагнер", "Vagner", "Vagner"),
    ("Вагнер", "The Wagner Group", "Wagner"),
    ("Вагнер", "Wagner's fighters", "Wagner"),
    ("Wagner", "бойцы Вагнера", "Вагнера"),
    ('"Deir ez-Zor"', "удар по Дейр-эз-Зору", "Дейр-эз-Зору"),
    ('"Deir ez-Zor"', "в Дейр-эз-Зор", "Дейр-эз-Зор"),
    ('"Dayr az-Zawr"', "в Дейр-эз-Зоре", "Дейр-эз-Зоре"),
    ("Дейр-эз-Зор", "in Deir ez-Zor", "Deir ez-Zor"),
    ("Дейр-эз-Зор", "in Dayr az-Zawr", "Dayr az-Zawr"),
    ("Пригожин", "ubili Prigozhina", "Prigozhina"),
    ("Prigozhina", "Евгений Пригожин", "Пригожин"),
    ("Prigozhin", "с Пригожиным", "Пригожиным"),
    ("Киев", "Kyiv", "Kyiv"),
    ("Kyiv", "в Киеве", "Киеве"),
    ("Зеленский", "Zelenskyy said", "Zelenskyy"),
    ("Sergei", "Сергей Шойгу", "Сергей"),
]


@pytest.mark.parametrize(
    ("term", "text", "marked"), TRANSLIT, ids=[f"{t[0]}={t[2]}" for t in TRANSLIT]
)
def test_translit_knows_the_press_spellings_both_ways(term: str, text: str, marked: str) -> None:
    assert spans(term, text, translit=True) == [marked]
    assert spans(term, text) == []  # only when the rule asks


def test_translit_matches_the_real_english_and_russian_posts() -> None:
    """The seed article writes Wagner and Deir ez-Zor in English; RIA's post 271457
    Дейр-эз-Зор in Russian: one rule in either script finds both."""
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    assert spans("Вагнер", body, translit=True) == ["Wagner"] * body.count("Wagner")
    assert "Deir ez-Zor" in spans("Дейр-эз-Зор", title + " " + body, translit=True)
    assert spans('"Deir ez-Zor"', POSTS[271457], translit=True) == ["Дейр-эз-Зор"]


# --- invisible characters and markdown inside a word --------------------------------------

INSIDE = [
    ("zero-width space", "Ваг\u200bнер"),
    ("zero-width non-joiner", "Ваг\u200cнер"),
    ("zero-width joiner", "Ваг\u200dнер"),
    ("word joiner", "Ваг\u2060нер"),
    ("byte order mark", "Ваг\ufeffнер"),
    ("soft hyphen", "Ваг\u00adнер"),
    ("bold", "**Ваг**нер"),
    ("bold at the end", "Ваг**нер**"),
    ("underline", "Ваг__нер__"),
    ("strike", "~~Ваг~~нер"),
    ("spoiler", "||Ваг||нер"),
]


@pytest.mark.parametrize(("what", "word"), INSIDE, ids=[w for w, _ in INSIDE])
def test_invisible_characters_and_markdown_inside_a_word_do_not_split_it(
    what: str, word: str
) -> None:
    text = f"Бойцы ЧВК «{word}» в Мали"
    [marked] = spans("Вагнер", text)
    assert marked.strip("*_~|") == word.strip("*_~|")  # the whole word, markers inside


@pytest.mark.parametrize(
    ("raw", "html"),
    [
        ("**Ваг**нер", "<b>Ваг</b>нер"),
        ("Ваг\u200bнер", "Ваг&#8203;нер"),
        ("Ваг\u200bнер", "Ваг<span>\u200b</span>нер"),
        ("Ваг\u00adнер", "Ваг&shy;нер"),
    ],
)
def test_raw_text_and_html_give_the_same_word(raw: str, html: str) -> None:
    assert hits("Вагнер", raw) and hits("Вагнер", html_to_text(html))


def test_markdown_between_words_still_separates_them() -> None:
    assert spans('"ЧВК Вагнер"', "**ЧВК** __Вагнер__") == ["ЧВК** __Вагнер"]
    assert spans("Вагнер", "ЧВК_Вагнер") == ["Вагнер"]  # a hashtag's underscore splits
    assert spans("O'Neil", "O`Neil") == ["O`Neil"]  # a backtick apostrophe too
