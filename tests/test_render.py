"""Snippets: a window of the original text around the matched words, with exactly
those words marked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.render import mark, plain, snippet

LONG = (
    "Президент Сирии Башар Асад заявил, что страна продолжит борьбу с терроризмом. "
    * 4
    + "Сирийская армия при поддержке союзных сил отразила атаки курдских формирований в "
    "провинции Дейр-эз-Зор, сообщило сирийское госагентство. "
    + "Ранее сообщалось о переговорах в Дохе. "
    * 6
)


def test_short_text_is_whole_and_marked() -> None:
    assert mark("ЧВК Вагнер", [(0, 3)]) == (("ЧВК", True), (" Вагнер", False))


def test_long_text_window_keeps_the_match_and_cuts_at_words() -> None:
    start = LONG.index("Дейр-эз-Зор")
    segs = snippet(LONG, [(start, start + len("Дейр-эз-Зор"))], width=200)
    text = plain(segs, "[", "]")
    assert "[Дейр-эз-Зор]" in text
    assert text.startswith("… ") and text.endswith(" …")
    body = plain(segs).removeprefix("… ").removesuffix(" …")
    assert body in LONG  # a real cut of the original, not a paraphrase
    assert len(body) <= 200
    assert LONG[LONG.index(body) - 1] == " "  # starts at a word


def test_no_spans_gives_the_beginning() -> None:
    text = plain(snippet(LONG, [], width=100))
    assert text.endswith(" …") and LONG.startswith(text.removesuffix(" …"))


def test_overlapping_spans_merge() -> None:
    assert mark("Deir ez-Zor", [(0, 4), (0, 11), (5, 7)]) == (("Deir ez-Zor", True),)


@given(st.text(max_size=600), st.lists(st.tuples(st.integers(0, 600), st.integers(0, 40))))
def test_snippet_is_always_cut_from_the_text(text: str, raw: list[tuple[int, int]]) -> None:
    spans = [(s, min(len(text), s + n)) for s, n in raw if s < len(text) and n > 0]
    segs = snippet(text, spans, width=120)
    for part, marked in segs:
        if marked:
            assert part in text and any(text[s:e] in part or part in text[s:e] for s, e in spans)
    body = plain(segs).removeprefix("… ").removesuffix(" …")
    assert body in text
