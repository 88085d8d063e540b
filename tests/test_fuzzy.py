"""Names that survive a typo (issue 18): ``word~`` (Elasticsearch's AUTO
Damerau–Levenshtein: none for 1-2 letters, 1 for 3-5, 2 for 6+), ``~1``/``~2``, per
word inside phrases, on every generated form and after folding; ``fuzzy = true`` on a
rule; ``!`` with ``~`` refused; ``dozor explain`` and ``/test --forms`` say how a term
is fuzzy; ``/search`` finds what the rule matches.

The posts are real sentences with the misspellings the press makes (RIA's Deir ez-Zor
report, Le Monde's Wagner story retold, Prigozhin's name without its "h")."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.matching import Matcher, QueryError, TermError, parse_query, rule_from_query
from bot.matching.fuzzy import osa_distance
from bot.model import Item, Rule
from tests.chatbot import ChatBot
from tests.feeds import real_posts


def post(text: str, title: str = "") -> Item:
    return Item(source="ria", key="k", story_key="k", title=title, text=text)


def found(query: str, text: str, **options: bool) -> list[str]:
    """The words of ``text`` that the query's rule matched, as the post wrote them."""
    rule = rule_from_query("r", query, **options)
    return [text[s.start : s.end] for m in Matcher([rule]).match(post(text)) for s in m.spans]


DEIR = (
    "Syrian army units repelled attacks by Kurdish formations in Deir ez-Zoor province, "
    "the Syrian state news agency SANA reported."
)
PRIGOZIN = "Yevgeny Prigozin, the founder of the Wagner group, said his fighters would leave."
VAGENR = "Бойцы ЧВК «Вагенр» покинули позиции под Бахмутом, сообщил источник."
VAGENRA = "Экс-сотрудники ЧВК Вагенра смогут получить статус ветерана спецоперации."


@pytest.mark.parametrize(
    ("query", "text", "words"),
    [
        ('"Deir ez-Zor~"', DEIR, ["Deir ez-Zoor"]),
        ('"Deir~ ez-Zor~"', DEIR, ["Deir ez-Zoor"]),
        ("Prigozhin~", PRIGOZIN, ["Prigozin"]),
        ("Вагнер~", VAGENR, ["Вагенр"]),  # two letters swapped: one typo
        ("Вагнер~", VAGENRA, ["Вагенра"]),  # a typo in a generated form (вагнера)
        ("Вагнер~1", VAGENRA, ["Вагенра"]),
        ('"ЧВК Вагнер~"', VAGENRA, ["ЧВК Вагенра"]),  # per word inside a phrase
        ("ВАГНЕР~", VAGENR.replace("Вагенр", "ВАГЕНР"), ["ВАГЕНР"]),  # after folding case
        ("Вагнер~", VAGENR.replace("Вагенр", "Вагeнр"), ["Вагeнр"]),  # a Latin "e" inside
    ],
)
def test_a_misspelt_name_is_caught_with_tilde(query: str, text: str, words: list[str]) -> None:
    assert found(query, text) == words
    assert found(query.replace("~1", "").replace("~", ""), text) == []  # not without it


def test_tilde_follows_elasticsearch_auto_by_the_words_length() -> None:
    assert found("ИГ~", "боевики ИК") == []  # 1-2 letters: no typo allowed
    assert found("ИГ~1", "боевики ИК") == ["ИК"]  # ...unless asked for
    assert found("Мали~", "в Малии") == ["Малии"]  # 3-5 letters: one
    assert found("Мали~", "в Малиии") == []
    assert found("Prigozhin~", "Prigozn") == ["Prigozn"]  # 6 or more: two
    assert found("Prigozhin~", "Prgozn") == []
    assert found("Prigozhin~1", "Prigozn") == []


def test_deir_tilde_is_one_typo_from_any_of_its_forms() -> None:
    """``Дейр~`` (4 letters: 1 typo) reaches a typo of each of its forms: Деир (и for
    й), Дейра (a form), Деира (a typo of that form), and Дейрут (дейру + т), but not
    two typos from every form."""
    text = "Деир, Дейра, Деира, Дейрут, Диер-эз-Зоре, Дейрутом"
    assert found("Дейр~", text) == ["Деир", "Дейра", "Деира", "Дейрут"]
    assert found("Дейр", text) == ["Дейра"]


def test_the_rule_option_fuzzy_applies_to_name_like_words_only() -> None:
    """``fuzzy = true``: "~" on each word capitalised in the rule that is a name or
    unknown to the dictionaries; a common word stays exact, capitalised or not."""
    rule = Rule(name="r", any=("Вагнер", "Prigozhin", "Погибли", "сообщил"), fuzzy=True)
    matcher = Matcher([rule])
    for text, terms in [
        (VAGENR.replace("сообщил", "сказал"), ("Вагнер",)),
        (PRIGOZIN, ("Prigozhin",)),
        ("в Бахмуте погибил", ()),  # "Погибли" is a common word: not fuzzy
        ("сообщли", ()),  # not capitalised in the rule
    ]:
        got = matcher.match(post(text))
        assert (got[0].terms if got else ()) == terms, text


def test_fuzzy_false_by_default_and_on_a_rule() -> None:
    rule = Rule(name="r", any=("Вагнер",))
    assert Matcher([rule]).match(post(VAGENR)) == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("!Вагнер~", '"!" (exactly as written) and "~" (typos allowed) cannot go together'),
        ('!"ЧВК Вагнер~"', "cannot go together"),
        ("Вагнер~3", '"~" takes 1 or 2'),
        ("Ваг~нер", '"~" must end a word'),
        ("погиб*~", 'a prefix ("*") cannot also take "~"'),
    ],
)
def test_bad_tildes_are_refused_with_a_located_message(query: str, words: str) -> None:
    with pytest.raises(QueryError) as error:
        parse_query(f"ЧВК {query}")
    assert words in error.value.message
    assert error.value.position in (4, 5)  # the term (a phrase: its quote), after "ЧВК "
    assert error.value.pointer().splitlines()[1].startswith(" " * error.value.position + "^")


def test_a_list_entry_with_bang_and_tilde_is_refused() -> None:
    with pytest.raises(TermError, match="cannot go together"):
        Matcher([Rule(name="r", any=("!Вагнер~",))])


def test_osa_distance_counts_a_swap_as_one() -> None:
    assert osa_distance("вагнер", "вагенр", 2) == 1
    assert osa_distance("prigozhin", "prigozn", 2) == 2
    assert osa_distance("abc", "xyz", 1) == 2  # over the limit: limit + 1


def test_the_compiled_matcher_keeps_its_fuzzy_classes_when_pickled() -> None:
    import pickle

    matcher = pickle.loads(pickle.dumps(Matcher([rule_from_query("r", "Вагнер~")])))
    assert [m.terms for m in matcher.match(post(VAGENRA))] == [("Вагнер~",)]


def test_explain_says_how_a_term_is_fuzzy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", '"Deir~ ez-Zor~" OR Вагнер~']) == 0
    out = capsys.readouterr().out
    assert "~ typos (Damerau–Levenshtein, after folding) in each of its 12 forms: вагнер 2" in out
    assert "ez none (1-2 letters); zor 1" in out


async def test_test_forms_says_how_a_term_is_fuzzy_and_finds_the_typo(testbot: ChatBot) -> None:
    testbot.seed([{**real_posts()[-1], "text": VAGENRA}])
    reply = (await testbot.command("/test Вагнер~ --forms", chat=testbot.DESK)).text
    assert "note: ~ typos (Damerau–Levenshtein, after folding) in each of its 12 forms" in reply
    assert "1 of 1 stored item of the last 7 days match" in reply
    assert "  matched: Вагенра\n" in reply


async def test_search_finds_what_a_fuzzy_rule_matches(testbot: ChatBot) -> None:
    testbot.seed([{**real_posts()[-1], "text": VAGENRA}])
    reply = (await testbot.command("/search Вагнер~", chat=testbot.DESK)).text
    assert "1 match" in reply and "Вагенра" in reply


async def test_the_fuzzy_option_in_chat(testbot: ChatBot) -> None:
    testbot.seed([{**real_posts()[-1], "text": VAGENRA}])
    plain = (await testbot.command("/test Вагнер", chat=testbot.DESK)).text
    fuzzy = (await testbot.command("/test Вагнер --fuzzy", chat=testbot.DESK)).text
    assert "0 of 1 stored item" in plain
    assert "1 of 1 stored item" in fuzzy and "options: fuzzy" in fuzzy


def test_the_alert_line_names_the_misspelt_word_as_the_post_writes_it() -> None:
    from bot.render import matched_words

    item = post(VAGENRA + " Вагнер и Вагнера помнят.")
    (match,) = Matcher([Rule(name="r", any=("Вагнер~", "ветеран"))]).match(item)
    assert matched_words(item, match) == ("Вагенра/Вагнер/Вагнера", "ветерана")


def test_a_fuzzy_word_in_a_long_phrase_is_checked_beside_the_key() -> None:
    """A phrase whose forms are too many for whole keys is found by its rarest words and
    the others checked beside them: a typo in a checked word counts too."""
    text = "бойцы частной военной компании Вагенра и Вагнера"
    assert found('"частная военная компания Вагнер~"', text) == ["частной военной компании Вагенра"]
    assert found('"Вагнер~ частная военная компания"', "Вагенра частной военной компании") == [
        "Вагенра частной военной компании"
    ]


def test_a_fuzzy_word_alone_is_found_where_it_stands_and_in_a_phrase_by_a_window() -> None:
    """A word near a class whose placeholders are keys of their own only is that key's
    hit where it stands (no window scanned again); a class inside a phrase is found in a
    window: the same matches as ever, in the title and the text, every occurrence."""
    rules = [rule_from_query("a", "Вагнер~"), rule_from_query("b", '"Евгений Пригожин~"')]
    matcher = Matcher(rules)
    alone = set(matcher._index.direct.values())
    assert alone and all(matcher._index.plain[g] == (0,) for g in alone)  # Вагнер~ only
    text = f"{VAGENRA} Вагенр ушли, сказал Евгений Пригожен."
    found = {
        m.rule: [(s.field, s.start, s.end) for s in m.spans]
        for m in matcher.match(Item("ria", "k", "k", "Вагенр", text))
    }
    at, second, name = text.index("Вагенра"), text.index("Вагенр "), text.index("Евгений")
    assert found == {
        "a": [("title", 0, 6), ("text", at, at + 7), ("text", second, second + 6)],
        "b": [("text", name, len(text) - 1)],
    }
