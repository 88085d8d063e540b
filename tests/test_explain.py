"""Rules you can see into: ``dozor explain "<query>"`` and ``/test <terms> --forms`` list
every form each term matches (grouped, counted) and warn on suspicious expansions;
what they list is what the matcher matches."""

from __future__ import annotations

import re

import pytest

from bot.cli import main
from bot.matching import Matcher, match_rule
from bot.matching.explain import explain_query, render
from bot.model import Item, Rule
from tests.chatbot import ChatBot


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_lists_every_form_per_term_grouped_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "Вагнер OR БПЛА OR убит", "--translit", "--ru")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "Вагнер: 23 forms" in lines
    assert "  as written (1): вагнер" in lines
    assert (
        "  inflected, Russian (9): вагнера, вагнерам, вагнерами, вагнерах, вагнере, вагнеров, "
        "вагнером, вагнеру, вагнеры"
    ) in lines
    other = next(line for line in lines if line.startswith("  other script (13): vagner"))
    assert "wagner" in other.split(": ")[1].split(", ")
    assert "БПЛА: 2 forms" in lines  # бпла, bpla: not бп, бпли from a guessed verb
    assert "бпли" not in out and ", бп," not in out
    assert any("written in capitals" in line for line in lines)
    assert "убит: 20 forms" in lines
    assert "убили" not in out and "убил," not in out
    assert any("a participle" in line and "убить" in line for line in lines)
    assert lines[-1] == "3 terms, 45 forms, no warnings"


@pytest.mark.parametrize(
    ("query", "options", "warning"),
    [
        ("Сири*", (), "the prefix also begins names: сириус, сирия"),
        ("бо*", (), "a prefix of 2 letters"),
        ("вагнеровцы", (), "not in the dictionary: forms guessed from the ending"),
        ("человек", (), "forms that do not look like the word: людей, люди"),
        ("бой", ("--translit",), "transliterations that are English words: boy"),
        ("boy", ("--translit",), "transliterations that are Russian words: бой"),
        ("лечу", ("--ru",), "read as forms of 2 words (лететь, лечить)"),
        ("лечу", (), "read as forms of 3 words (лететь, летіти, лечить)"),
    ],
)
def test_explain_warns_on_suspicious_expansions(
    capsys: pytest.CaptureFixture[str], query: str, options: tuple[str, ...], warning: str
) -> None:
    code, out, _ = run(capsys, query, *options)
    assert code == 0
    assert any(
        line.strip().startswith("warning: ") and warning in line for line in out.splitlines()
    )
    assert out.splitlines()[-1].endswith(("1 warning", "2 warnings"))


def test_explain_quiet_on_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "Сирия OR сирийский OR Евфрат OR погиб OR Дейр-эз-Зор*")
    assert code == 0 and "warning:" not in out and out.splitlines()[-1].endswith("no warnings")


def test_explain_shows_terms_without_forms_and_the_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, '!Вагнер OR /груз[ -]?200/ OR source:ria-* OR "ЧВК Вагнер"', "--ru")
    assert code == 0
    assert "!Вагнер: exactly as written: вагнер" in out
    assert "/груз[ -]?200/: a regex over the original text: no forms" in out
    assert "ЧВК Вагнер: 11 forms\n  ЧВК: 1 form\n    as written (1): чвк\n" in out
    assert "\n  Вагнер: 10 forms\n    as written (1): вагнер\n    inflected, Russian (9): " in out
    _, exact, _ = run(capsys, "Вагнер", "--exact")
    assert exact.startswith("Вагнер: 1 form\n")
    _, derived, _ = run(capsys, "Вагнер", "--derived")
    assert "derived (" in derived and "вагнеровцами" in derived
    _, english, _ = run(capsys, "killed", "--english")
    assert "English forms (" in english and "kills" in english


def test_explain_points_at_a_query_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "(Вагнер OR")
    assert code == 2 and out == ""
    assert "^" in err


# --- what is listed is what matches ------------------------------------------------------

SAME = [
    ("Вагнер", {"translit": True, "derived": True}),
    ("БПЛА", {}),
    ("убит", {}),
    ("погибшие", {"translit": True}),
    ("Prigozhin", {"translit": True}),
    ("killed", {"english_forms": True}),
    ("Дейр-эз-Зор", {"translit": True}),
]


@pytest.mark.parametrize(("term", "options"), SAME, ids=[t for t, _ in SAME])
def test_every_listed_form_matches_and_the_matcher_holds_no_other(
    term: str, options: dict[str, bool]
) -> None:
    [explained] = explain_query(term, **options)
    [word] = explained.words
    rule = Rule("r", any=(term,), **options)  # type: ignore[arg-type]
    missed = [
        form
        for form in word.forms()
        if match_rule(rule, Item("s", "k", "k", "", f"… {form} …")) is None
    ]
    assert missed == []
    if " " not in " ".join(word.forms()).replace("-", " "):  # one token: one key per form
        assert Matcher([rule]).keys == explained.count


# --- in chat --------------------------------------------------------------------------------


async def test_chat_test_forms_lists_the_forms_and_warnings(testbot: ChatBot) -> None:
    reply = await testbot.command("/test БПЛА OR Сири* --forms", chat=testbot.DESK)
    text = reply.text
    assert text.startswith("Terms: any of: БПЛА, Сири*\nБПЛА: 1 form\n  as written (1): бпла\n")
    assert "warning: the prefix also begins names: сириус, сирия" in text
    assert "2 terms, 2 forms, 1 warning" in text
    assert "stored items of the last 7 days match" in text  # and the usual answer
    plain = await testbot.command("/test БПЛА OR Сири*", chat=testbot.DESK)
    assert "as written" not in plain.text
    watch = await testbot.command("/watch БПЛА --forms", chat=testbot.DESK)
    assert watch.text.startswith("usage: /watch") and "unknown option --forms" in watch.text


def test_render_counts_terms_forms_and_warnings() -> None:
    text = render(explain_query("Сири* OR Сирия", languages=("ru",)))
    assert text.splitlines()[-1] == "2 terms, 5 forms, 1 warning"


def test_the_words_a_prefix_begins_all_begin_so() -> None:
    """The first-hour walk (issue 15): `dozor explain "погиб*"` listed гибкий and
    гибельный among "the dictionary's words that begin so" (from погибче, погибельнее)."""
    (term,) = explain_query("погиб*")
    (word,) = term.words
    (listed,) = [n for n in word.notes if n.startswith("the dictionary's words")]
    words = re.sub(r" and \d+ more$", "", listed.split(": ", 1)[1]).split(", ")
    assert words[:3] == ["погиб", "погибать", "погибель"], words  # the words first
    assert all(w.startswith("погиб") for w in words), words
