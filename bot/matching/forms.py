"""Term word -> every spelling that stands for it, grouped by where it comes from.

Part of the "Item -> Match" stage, at compile time only: the one place that combines a
word's inflected forms (``inflect``), its other-script spellings (``translit``), the
words derived from a name and English forms, as a rule's options ask.  The matcher
makes automaton keys of ``word_forms``; ``explain`` shows ``grouped_forms``: what a
user is shown is what matches.

Order of work, per word of a term (``raw``, as written, case kept):

1. the spellings: the word itself, and with ``translit`` its other-script spellings;
2. per Cyrillic spelling: its inflected forms (``inflect``), its derived words
   (``derived``); per Latin spelling: its English forms (``english``).  A word written
   in capitals (БПЛА) is inflected only as the dictionary knows it
   (``inflect.capital_forms``); a prefix (``погиб*``) is not inflected at all;
3. with ``translit`` and ``inflect``, a name (Пригожин, Вагнер) also in Latin letters in
   every form: "Prigozhina" as Russian-language posts in Latin letters write it.

Forms are casefolded but not folded further: the caller normalizes them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

from bot.matching.inflect import (
    capital_forms,
    derived_forms,
    english_forms,
    is_abbreviation,
    is_name,
    slavic_forms,
)
from bot.matching.normalize import CYRILLIC_LETTER
from bot.matching.translit import cyrillic_variants, latin_variants

# Where a form comes from, in the order ``explain`` shows them.
GROUPS = ("written", "transliteration", "inflection", "derived", "english")
_LATIN = re.compile(r"[a-z]")


class Options(Protocol):
    """A rule's form options (the matcher's compiled options have these fields)."""

    @property
    def inflect(self) -> bool: ...
    @property
    def translit(self) -> bool: ...
    @property
    def derived(self) -> bool: ...
    @property
    def english(self) -> bool: ...


def word_forms(raw: str, prefix: bool, options: Options) -> frozenset[str]:
    """Every spelling of the word ``raw`` (as written, without ``*``) under ``options``."""
    return _union(raw, prefix, options.inflect, options.translit, options.derived, options.english)


@lru_cache(maxsize=100_000)
def _union(
    raw: str, prefix: bool, inflect: bool, translit: bool, derived: bool, english: bool
) -> frozenset[str]:
    groups = grouped_forms(raw, prefix, inflect, translit, derived, english)
    return frozenset().union(*(forms for _, forms in groups))


@lru_cache(maxsize=20_000)
def grouped_forms(
    raw: str,
    prefix: bool = False,
    inflect: bool = True,
    translit: bool = False,
    derived: bool = False,
    english: bool = False,
) -> tuple[tuple[str, frozenset[str]], ...]:
    """(group, forms) for each of ``GROUPS``; a form is listed in the first group that
    gives it."""
    word = raw.casefold()
    spellings = {word}
    other_script: set[str] = set()
    if translit:
        other_script = set(latin_variants(word) | cyrillic_variants(word))
        spellings |= other_script
    inflected: set[str] = set()
    derived_words: set[str] = set()
    english_words: set[str] = set()
    if not prefix:
        for spelling in spellings:
            if CYRILLIC_LETTER.search(spelling):
                if inflect:
                    capitals = spelling == word and is_abbreviation(raw)
                    inflected |= capital_forms(raw) if capitals else slavic_forms(spelling)
                if derived:
                    derived_words |= derived_forms(spelling)
            if english and _LATIN.search(spelling):
                english_words |= english_forms(spelling)
        if translit and inflect:
            names = [s for s in spellings if CYRILLIC_LETTER.search(s) and is_name(s)]
            for form in inflected & {f for s in names for f in slavic_forms(s)}:
                other_script |= latin_variants(form)
    seen: set[str] = set()
    out = []
    for group, forms in zip(
        GROUPS, ({word}, other_script, inflected, derived_words, english_words), strict=True
    ):
        fresh = frozenset(forms - seen)
        seen |= fresh
        out.append((group, fresh))
    return tuple(out)
