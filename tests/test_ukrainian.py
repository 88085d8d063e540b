"""Ukrainian as well as Russian (issue 18): each Cyrillic word gets the forms of every
language whose dictionary knows it, a name neither knows gets both languages' guesses,
no language's guess is applied to the other's words, and a rule or a /watch may narrow
it to one language.  The sentences are written as Ukrainian and Russian channels write
about the same events."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.matching import Matcher, RuleFiles
from bot.matching.explain import explain_query, render
from bot.matching.inflect import slavic_forms
from bot.model import Item, Rule
from tests import lemma_table
from tests.chatbot import ChatBot

ROOT = Path(__file__).resolve().parents[1]


def item(text: str) -> Item:
    return Item(source="s", key="k", story_key="k", title="", text=text)


def marked(rule: Rule, text: str) -> list[str] | None:
    found = Matcher([rule]).match(item(text))
    if not found:
        return None
    return [text[s.start : s.end] for s in found[0].spans]


# ((rule name, query, languages or None: the default), a real-style sentence, what the
# alert marks; None: no alert)
CASES = [
    (  # a Ukrainian word with no Ukrainian-only letter gets the Ukrainian paradigm
        ("pmc", '"приватна військова компанія"', None),
        "Бійці приватної військової компанії «Вагнер» залишили позиції під Бахмутом.",
        ["приватної військової компанії"],
    ),
    (
        ("pmc", '"приватна військова компанія"', None),
        "Про це повідомили в приватних військових компаніях, які воюють у Лівії.",
        ["приватних військових компаніях"],
    ),
    (  # a name neither dictionary knows: the Ukrainian locative, guessed
        ("deir", "Дейр-ез-Зор", None),
        "У Дейр-ез-Зорі тривають бої між курдськими загонами та племенами.",
        ["Дейр-ез-Зорі"],
    ),
    (  # ... and the Russian one, guessed as before
        ("deir", "Дейр-ез-Зор", None),
        "В Дейр-ез-Зоре продолжаются столкновения курдов и арабских племён.",
        ["Дейр-ез-Зоре"],
    ),
    (  # a short name one dictionary knows only as a name gets the other's guess
        ("zor", '"Дейр ез Зор"', None),
        "Проурядові сили відступили з провінції Дейр ез Зорі.",
        ["Дейр ез Зорі"],
    ),
    (  # a Russian term in a Ukrainian post: the Ukrainian forms of a word both know
        ("wagner", "Вагнер NEAR/5 Бахмут", None),
        "Засновник ПВК Пригожин заявив, що Вагнерові бракує снарядів у Бахмуті.",
        ["Вагнерові", "Бахмуті"],
    ),
    (  # a Ukrainian term in a Russian post: the Russian forms of a word both know
        ("pmc", "приватна", None),
        "Приватной компании не удалось вывезти людей из Хартума.",
        ["Приватной"],
    ),
    (  # narrowed to Ukrainian: the Russian forms are not matched
        ("pmc", "приватна", ("uk",)),
        "Приватной компании не удалось вывезти людей из Хартума.",
        None,
    ),
    (  # narrowed to Russian: the Ukrainian forms of Вагнер are not matched
        ("wagner", "Вагнер", ("ru",)),
        "Засновник ПВК заявив, що Вагнерові бракує снарядів.",
        None,
    ),
    (
        ("wagner", "Вагнер", ("ru",)),
        "Бойцы Вагнера покинули позиции.",
        ["Вагнера"],
    ),
]


@pytest.mark.parametrize(("rule", "text", "expected"), CASES)
def test_ukrainian_and_russian_posts(
    rule: tuple[str, str, tuple[str, ...] | None], text: str, expected: list[str] | None
) -> None:
    name, query, languages = rule
    narrowed = {"languages": languages} if languages else {}
    assert marked(Rule(name, query=query, **narrowed), text) == expected


@pytest.mark.parametrize(
    ("word", "never"),
    [
        ("військова", {"військовая", "військовую", "військовеє", "військовії"}),
        ("загиблих", {"загиблиха", "загиблихам", "загиблихи"}),
        ("Добровольський", {"добровольськая", "добровольськой"}),
    ],
)
def test_no_language_guesses_forms_of_the_others_words(word: str, never: set[str]) -> None:
    assert not slavic_forms(word) & never


def test_a_ukrainian_word_gets_its_real_forms_and_a_russian_one_no_ukrainian_guess() -> None:
    assert {"загиблі", "загиблого", "загиблим"} <= slavic_forms("загиблих")
    military = slavic_forms("військова")
    assert {"військової", "військовій", "військових"} <= military
    assert "військовая" not in military  # not even the Ukrainian dictionary's poetic form
    forms = slavic_forms("погиб")
    assert {"погибли", "погибших"} <= forms and not any(re.search("[іїє]", f) for f in forms)


def test_explain_shows_the_language_of_each_form_group() -> None:
    text = render(explain_query("приватна OR військова OR погиб"))
    lines = text.splitlines()
    assert any(line.startswith("  inflected, Russian and Ukrainian (") for line in lines)
    russian = next(line for line in lines if line.startswith("  inflected, Russian ("))
    ukrainian = next(line for line in lines if line.startswith("  inflected, Ukrainian ("))
    assert "приватную" in russian and "приватної" in ukrainian
    assert "військова: 14 forms" in lines  # Ukrainian only, no Russian guesses
    only_russian = render(explain_query("приватна", languages=("ru",)))
    assert "Ukrainian" not in only_russian and "приватної" not in only_russian


def test_a_rule_file_narrows_the_languages_and_a_bad_value_is_a_located_error(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "uk.toml").write_text(
        '[[rule]]\nname = "pmc"\nquery = "приватна"\nlanguages = ["uk"]\n', encoding="utf-8"
    )
    (rules / "bad.toml").write_text(
        '[[rule]]\nname = "b"\nquery = "x"\n\nlanguages = ["ru", "ua"]\n', encoding="utf-8"
    )
    load = RuleFiles(["rules/*.toml"], tmp_path).reload()
    assert [(r.name, r.languages) for r in load.rules] == [("pmc", ("uk",))]
    assert list(load.errors) == [
        'rules/bad.toml:5: rule "b": "languages" takes "ru", "uk" or both (["ru", "uk"]), got "ua"'
    ]


async def test_watch_narrows_the_languages_and_the_rule_survives_a_restart(
    testbot: ChatBot,
) -> None:
    reply = await testbot.command("/watch приватна --uk", chat=testbot.DESK)
    assert reply.text.startswith("Watching as watch-privatna"), reply.text
    await testbot.restart()
    [chat_rule] = testbot.store.chat_rules()
    assert chat_rule.rule.languages == ("uk",)
    forms = await testbot.command("/test приватна --ru --forms", chat=testbot.DESK)
    assert "inflected, Russian (" in forms.text and "Ukrainian" not in forms.text


def test_forms_version_names_the_dictionaries() -> None:
    from bot.matching.forms import forms_version  # a compile cache keys on it

    version = forms_version()
    assert "pymorphy3-dicts-ru=" in version and "pymorphy3-dicts-uk=" in version


def test_readme_shows_the_lemma_table_as_measured() -> None:
    """README's table is what ``tests/lemma_table.py`` computes (and its "before"
    column is the stored run of the code before issue 18)."""
    before = json.loads(lemma_table.BEFORE.read_text(encoding="utf-8"))
    after = lemma_table.measure()
    assert lemma_table.table(after, before) in (ROOT / "README.md").read_text(encoding="utf-8")
    for lang in lemma_table.LANGUAGE_NAMES:
        assert sum(int(after[lang][c]["n"]) for c in lemma_table.CLASSES) >= 200
