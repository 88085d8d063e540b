"""Term word -> every spelling that stands for it, grouped by where it comes from.

Part of the "Item -> Match" stage, at compile time only: the one place that combines a
word's inflected forms (``inflect``), its other-script spellings (``translit``), the
words derived from a name and English forms, as a rule's options ask.  The matcher
makes automaton keys of ``word_forms``; ``explain`` shows ``grouped_forms``: what a
user is shown is what matches.

Order of work, per word of a term (``raw``, as written, case kept):

1. the spellings: the word itself, and with ``translit`` its other-script spellings;
2. per Cyrillic spelling: its inflected forms (``inflect``) in each of the rule's
   ``languages`` that the word gets (``inflect.word_languages``), grouped as forms both
   languages give, Russian only and Ukrainian only; its derived words (``derived``); per
   Latin spelling: its English forms (``english``).  A word written
   in capitals (БПЛА) is inflected only as the dictionary knows it
   (``inflect.capital_forms``); a prefix (``погиб*``) is not inflected at all;
3. with ``translit`` and ``inflect``, a name (Пригожин, Вагнер) also in Latin letters in
   every form: "Prigozhina" as Russian-language posts in Latin letters write it.

Forms are casefolded but not folded further: the caller normalizes them.
``forms_version()`` names what else decides the forms (the code's revision, pymorphy3's
and its dictionaries' versions): a cache of compiled forms keys on it and on the rule.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Protocol

from bot.matching.inflect import (
    LANGUAGES,
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
GROUPS = (
    "written",
    "transliteration",
    "inflection",  # forms that every language the word gets gives (Russian and Ukrainian)
    "inflection-ru",  # forms only Russian paradigms give
    "inflection-uk",  # forms only Ukrainian paradigms give
    "derived",
    "english",
)
FORMS_REVISION = 2  # raise when a change of this code changes the forms it gives
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
    @property
    def languages(self) -> tuple[str, ...]: ...


def forms_version() -> str:
    """What, besides a rule, decides the forms: this code's revision and the versions of
    pymorphy3, its dictionaries and lemminflect ("2 pymorphy3=2.0.6 ...")."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [str(FORMS_REVISION)]
    for package in ("pymorphy3", "pymorphy3-dicts-ru", "pymorphy3-dicts-uk", "lemminflect"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=none")
    return " ".join(parts)


# A word's forms by ``_union``'s arguments: read from a file of forms made before
# (``stored_forms``), and the ones asked for while it is in use.
_FormsKey = tuple[str, bool, bool, bool, bool, bool, tuple[str, ...]]
_stored: dict[_FormsKey, frozenset[str]] = {}
_used: dict[_FormsKey, frozenset[str]] | None = None


def word_forms(raw: str, prefix: bool, options: Options) -> frozenset[str]:
    """Every spelling of the word ``raw`` (as written, without ``*``) under ``options``."""
    key = (
        raw,
        prefix,
        options.inflect,
        options.translit,
        options.derived,
        options.english,
        options.languages,
    )
    found = _stored.get(key)
    if found is None:
        found = _union(*key)
    if _used is not None:
        _used[key] = found
    return found


@contextlib.contextmanager
def stored_forms(
    stored: dict[_FormsKey, frozenset[str]],
) -> Iterator[dict[_FormsKey, frozenset[str]]]:
    """While in use, ``word_forms`` takes a word's forms from ``stored`` (forms made
    before, under the same ``forms_version()``) instead of making them; yields the forms
    asked for meanwhile, to be stored for the next time (``cache``: a file beside the
    store, so that editing one rule of 10,000 makes only its new words' forms)."""
    global _stored, _used
    _stored, _used = stored, {}
    try:
        yield _used
    finally:
        _stored, _used = {}, None


@lru_cache(maxsize=100_000)
def _union(
    raw: str,
    prefix: bool,
    inflect: bool,
    translit: bool,
    derived: bool,
    english: bool,
    languages: tuple[str, ...],
) -> frozenset[str]:
    groups = grouped_forms(raw, prefix, inflect, translit, derived, english, languages)
    return frozenset().union(*(forms for _, forms in groups))


@lru_cache(maxsize=20_000)
def grouped_forms(
    raw: str,
    prefix: bool = False,
    inflect: bool = True,
    translit: bool = False,
    derived: bool = False,
    english: bool = False,
    languages: tuple[str, ...] = LANGUAGES,
) -> tuple[tuple[str, frozenset[str]], ...]:
    """(group, forms) for each of ``GROUPS``; a form is listed in the first group that
    gives it."""
    word = raw.casefold()
    spellings = {word}
    other_script: set[str] = set()
    if translit:
        other_script = set(latin_variants(word) | cyrillic_variants(word))
        spellings |= other_script
    by_language: dict[str, set[str]] = {lang: set() for lang in languages}
    derived_words: set[str] = set()
    english_words: set[str] = set()
    if not prefix:
        for spelling in spellings:
            if CYRILLIC_LETTER.search(spelling):
                if inflect:
                    capitals = spelling == word and is_abbreviation(raw)
                    for lang, forms in by_language.items():
                        forms |= (
                            capital_forms(raw, (lang,))
                            if capitals
                            else slavic_forms(spelling, (lang,))
                        )
                if derived:
                    derived_words |= derived_forms(spelling)
            if english and _LATIN.search(spelling):
                english_words |= english_forms(spelling)
    inflected: set[str] = set().union(*by_language.values())
    if not prefix and translit and inflect:
        names = [s for s in spellings if CYRILLIC_LETTER.search(s) and is_name(s)]
        for form in inflected & {f for s in names for f in slavic_forms(s, languages)}:
            other_script |= latin_variants(form)
    seen: set[str] = set()
    out = []
    shared = set.intersection(*by_language.values()) if len(by_language) > 1 else set()
    russian = by_language.get("ru", set())
    ukrainian = by_language.get("uk", set())
    for group, forms in zip(
        GROUPS,
        ({word}, other_script, shared, russian, ukrainian, derived_words, english_words),
        strict=True,
    ):
        fresh = frozenset(forms - seen)
        seen |= fresh
        out.append((group, fresh))
    return tuple(out)
