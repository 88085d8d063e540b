"""Term word -> its word forms: Russian and Ukrainian inflection, English forms on request.

Part of the "Item -> Match" stage, used only when rules compile: a term's words are
expanded into their forms once, so matching an item costs nothing extra (no stemming
of item text).  Russian and Ukrainian use the pymorphy3 analyser and its OpenCorpora /
VESUM dictionaries; English uses lemminflect.  Everything is cached per word.

Precision before recall (a missed form can be added to a rule; a false hit costs every
reader's attention):

- only the likely readings of the term are expanded (parses scoring at least a third of
  the best; a reading whose dictionary form IS the term wins over the others, so
  "Пригожин" is the surname, not a form of "пригожина");
- function words, pronouns and unknown tokens (ЧВК, digits, 1-2 letter words) are not
  expanded;
- imperatives and present passive participles are left out of verb forms (they are
  the forms that collide with other words: рань, ранимый);
- a verb gets every form, its participles included (погиб: погибли, погибших); a
  participle only its own forms, full and short (убит, убитые: убиты, убитых, убита;
  погибшие: погибших), not the verb's (убили): ``_Participle``;
- a word the dictionary lacks is inflected from a guess at its ending only as a noun or
  a full adjective, never as a verb (БПЛА is not "бпнуть": бп, бпли); one written in
  capitals not at all (``capital_forms``);
- a generated form that the dictionary reads mostly as ANOTHER word is dropped
  ("стали" is not a form of "сталь" here: it is mostly "стать").

Hyphenated words are analysed whole ("Дейр-эз-Зор" -> "Дейр-эз-Зором"; "Ростов-на-Дону"
-> "Ростове-на-Дону"); derived words (вагнеровцы from Вагнер) are not inflections: a
rule asks for them with ``derived = true`` (``derived_forms``: the members' noun and
the adjective, "вагнеровец"/"вагнеровский", "пригожинец"/"пригожинский", in all their
forms), or writes them as terms.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache, wraps
from typing import Any

from bot.matching.normalize import CYRILLIC_LETTER

_UKRAINIAN = re.compile(r"[єіїґ']")
_APOSTROPHES = str.maketrans({c: "'" for c in "’ʼ`´‘′"})
_SKIP_POS = {"PREP", "CONJ", "PRCL", "INTJ", "NPRO", "PRED", None}
_SKIP_TAGS = {"UNKN", "LATN", "NUMB", "ROMN", "PNCT"}
MIN_LENGTH = 3  # shorter words are not inflected (бо, в, их)
_PARTICIPLES = {"PRTF", "PRTS"}
_PARTICIPLE_KIND = {"actv", "pssv", "past", "pres"}
# Readings that a guess from the ending (a word the dictionary lacks) may not have: a
# verb guessed for an abbreviation (БПЛА as "бпнуть": бп, бпли) or a short adjective.
_GUESSED_NOT = {"VERB", "INFN", "PRTF", "PRTS", "GRND", "ADJS"}


def _compact_cache(maxsize: int) -> Callable[[Callable[[str], frozenset[str]]], Any]:
    """``lru_cache`` for a word's forms, each entry kept as one "\n"-joined string: a
    tenth of a frozenset of strings (10,000 rules' words: ~7 MB, not ~26 MB)."""

    def decorate(fn: Callable[[str], frozenset[str]]) -> Any:
        joined = lru_cache(maxsize=maxsize)(lambda word: "\n".join(sorted(fn(word))))

        @wraps(fn)
        def forms(word: str) -> frozenset[str]:
            text = joined(word)
            return frozenset(text.split("\n")) if text else frozenset()

        forms.cache_clear = joined.cache_clear  # type: ignore[attr-defined]
        forms.cache_info = joined.cache_info  # type: ignore[attr-defined]
        return forms

    return decorate


@cache
def analyzer(lang: str) -> Any:
    """The pymorphy3 analyser of ``lang`` ("ru" or "uk"), loaded once (~0.1 s)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


def _analyzers(word: str) -> list[Any]:
    """Russian for Russian words; Ukrainian for words with Ukrainian letters; both for a
    word the Russian dictionary lacks but the Ukrainian one has (загинули, or a name)."""
    if _UKRAINIAN.search(word):
        return [analyzer("uk")]
    ru = analyzer("ru")
    if ru.word_is_known(word):
        return [ru]
    uk = analyzer("uk")
    return [ru, uk] if uk.word_is_known(word) else [ru]


_ERRORS = frozenset({"Erro", "Dist", "Cmp2"})


def _excluded(tag: Any, own: set[str]) -> bool:
    grammemes = tag.grammemes  # a frozenset, made once per tag (tag.POS is slower: last)
    if not _ERRORS.isdisjoint(grammemes):
        return True
    if "impr" in grammemes and "impr" not in own:
        return True
    return (
        "pres" in grammemes
        and "pssv" in grammemes
        and not {"pres", "pssv"} <= own
        and tag.POS in ("PRTF", "PRTS")
    )


def _dominated(analyzer: Any, form: str, lemmas: set[str]) -> bool:
    """Whether the dictionary reads ``form`` mostly as a word that is not ours."""
    words = analyzer.dictionary.words.similar_items(form, analyzer.char_substitutes)
    normal = {
        analyzer.dictionary.build_normal_form(para, idx, fixed).replace("ё", "е")
        for fixed, entries in words
        for para, idx in entries
    }
    if not normal or normal <= lemmas:
        return False
    if analyzer.prob_estimator is None:  # no corpus scores (Ukrainian): only a clash of
        return not normal & lemmas  # dictionary readings could tell, so keep ours
    ours = other = 0.0
    for parse in analyzer.parse(form):
        if parse.normal_form.replace("ё", "е") in lemmas:
            ours += parse.score
        else:
            other += parse.score
    return ours < other


@_compact_cache(maxsize=200_000)
def slavic_forms(word: str) -> frozenset[str]:
    """The Russian or Ukrainian forms of ``word`` (casefolded, ё as е), itself included."""
    word = word.casefold().translate(_APOSTROPHES).replace("ё", "е")
    if len(word) < MIN_LENGTH or not CYRILLIC_LETTER.search(word) or any(c.isdigit() for c in word):
        return frozenset({word})
    forms = {word}
    for analyzer in _analyzers(word):
        forms |= _forms(analyzer, word)
    return frozenset(forms)


def _chosen(analyzer: Any, word: str) -> list[Any]:
    """The readings of ``word`` whose lexemes give its forms (see the module docstring);
    a participle reading stands for the participle only (``_Participle``)."""
    parses = [
        p for p in analyzer.parse(word) if p.tag.POS not in _SKIP_POS and not (
            set(p.tag.grammemes) & _SKIP_TAGS)
    ]  # fmt: skip
    if not analyzer.word_is_known(word):  # readings guessed from the ending: no verbs
        parses = [p for p in parses if p.tag.POS not in _GUESSED_NOT]
    if not parses:
        return []
    best = max(p.score for p in parses)
    likely = [p for p in parses if p.score >= best / 3]
    own = [p for p in likely if p.normal_form.replace("ё", "е") == word]
    if own:  # убитый, погибший: the adjective and the participle are one word
        own += [p for p in likely if p.tag.POS in _PARTICIPLES and p not in own]
    return [_Participle(p) if p.tag.POS in _PARTICIPLES else p for p in own or likely]


class _Participle:
    """A participle reading whose lexeme is the participle's own forms, full and short
    (убитый, убитых, убит, убиты), not the whole verb's (убил, убьют)."""

    def __init__(self, parse: Any):
        self.parse = parse
        self.normal_form: str = parse.normal_form
        self.tag: Any = parse.tag
        self.score: float = parse.score

    @property
    def lexeme(self) -> list[Any]:
        kind = set(self.tag.grammemes) & _PARTICIPLE_KIND  # voice and tense
        return [
            form
            for form in self.parse.lexeme
            if form.tag.POS in _PARTICIPLES and set(form.tag.grammemes) & _PARTICIPLE_KIND == kind
        ]


def _forms(analyzer: Any, word: str) -> set[str]:
    chosen = _chosen(analyzer, word)
    if not chosen:
        return {word}
    lemmas = {p.normal_form.replace("ё", "е") for p in chosen}
    own_grammemes = {g for p in chosen for g in p.tag.grammemes}
    forms = {word}
    seen_lexemes: set[tuple[str, str]] = set()
    dropped: set[str] = set()
    for parse in chosen:
        key = (parse.normal_form, str(parse.tag.POS))
        if key in seen_lexemes:
            continue
        seen_lexemes.add(key)
        for form in parse.lexeme:
            text = form.word.replace("ё", "е")
            if text in forms or text in dropped or _excluded(form.tag, own_grammemes):
                continue
            if _dominated(analyzer, text, lemmas):
                dropped.add(text)  # a lexeme spells many forms alike: ask once
            else:
                forms.add(text)
    return forms


_CONSONANT_END = re.compile(r"[бвгджзклмнпрстфхцчшщ]$")


@_compact_cache(maxsize=100_000)
def derived_forms(word: str) -> frozenset[str]:
    """The words Russian derives from a name for its members and for "of it", in all
    their forms: Вагнер -> вагнеровец, вагнеровцы, вагнеровцев, ..., вагнеровский,
    вагнеровские, ...; Пригожин -> пригожинец, пригожинский; Азов -> азовец.  Empty for
    anything but a Cyrillic word of 4+ letters ending in a consonant."""
    word = word.casefold().replace("ё", "е")
    if len(word) < 4 or not word.isalpha() or not CYRILLIC_LETTER.search(word):
        return frozenset()
    if not _CONSONANT_END.search(word):
        return frozenset()
    if word.endswith(("ов", "ев", "ин", "ын")):
        lemmas = {word + "ец": "NOUN", word + "ский": "ADJF"}
    else:
        lemmas = {word + "овец": "NOUN", word + "овский": "ADJF"}
    ru = analyzer("ru")
    forms: set[str] = set()
    for lemma, pos in lemmas.items():
        for parse in ru.parse(lemma):
            tag = parse.tag
            if parse.normal_form != lemma or tag.POS != pos:
                continue
            if pos == "NOUN" and "masc" not in tag:
                continue
            forms |= {f.word.replace("ё", "е") for f in parse.lexeme if f.tag.POS == pos}
            break
        else:
            forms.add(lemma)
    return frozenset(forms)


@_compact_cache(maxsize=100_000)
def english_forms(word: str) -> frozenset[str]:
    """Plural, tense and participle forms of an English ``word``, itself included."""
    word = word.casefold()
    if len(word) < MIN_LENGTH or not (word.isascii() and word.isalpha()):
        return frozenset({word})
    from lemminflect import getAllInflections, getAllInflectionsOOV, getAllLemmas

    lemmas = {lemma for found in getAllLemmas(word).values() for lemma in found}
    forms = {word}
    for lemma in lemmas or {word}:
        for found in getAllInflections(lemma).values():
            forms.update(f.casefold() for f in found)
    if not lemmas and len(forms) == 1:  # a name or a new word: regular plural only
        forms.update(f.casefold() for f in getAllInflectionsOOV(word, "NOUN").get("NNS", ()))
    return frozenset(forms)


_NAMES = {"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"}


@lru_cache(maxsize=100_000)
def capital_forms(word: str) -> frozenset[str]:
    """The forms of a Cyrillic word written in capitals.  An abbreviation the dictionary
    knows takes its forms (МИД: МИДа, МИДом; ФСБ: none); one it does not know (БПЛА, ВСУ,
    РСЗО) is matched as written: a guess from its ending is not an abbreviation's
    grammar (БПЛА read as a verb gave бп, бпли).  A word the dictionary knows only as an
    ordinary word (ВАГНЕР, ПОГИБ) inflects as usual."""
    word = word.casefold().replace("ё", "е")
    ru = analyzer("ru")
    if not ru.word_is_known(word):
        return frozenset({word})
    abbreviations = [p for p in ru.parse(word) if "Abbr" in p.tag]
    if not abbreviations:
        return slavic_forms(word)
    return frozenset({word} | {f.word.replace("ё", "е") for p in abbreviations for f in p.lexeme})


def is_abbreviation(word: str) -> bool:
    """Whether ``word`` as written looks like an abbreviation: 2-6 Cyrillic letters, all
    capitals (БПЛА, ЧВК, МИД)."""
    return (
        2 <= len(word) <= 6
        and word.isalpha()
        and word.isupper()
        and bool(CYRILLIC_LETTER.search(word.casefold()))
    )


@lru_cache(maxsize=100_000)
def is_name(word: str) -> bool:
    """Whether a dictionary knows ``word`` and a likely reading of it is a proper name
    (person, place, organisation): the words the press writes in Latin letters too, in
    any form (Prigozhina).  A guess from the ending does not count (дейр)."""
    word = word.casefold().replace("ё", "е")
    return any(
        _NAMES & set(p.tag.grammemes)
        for a in _analyzers(word)
        if a.word_is_known(word)
        for p in _chosen(a, word)
    )


def readings(word: str) -> list[tuple[str, str, bool]]:
    """How ``word`` is inflected: (dictionary form, part of speech, guessed) per reading
    whose forms it gets, for people (``explain``); guessed: the dictionary lacks the word
    and the reading comes from its ending."""
    word = word.casefold().translate(_APOSTROPHES).replace("ё", "е")
    if len(word) < MIN_LENGTH or not CYRILLIC_LETTER.search(word) or any(c.isdigit() for c in word):
        return []
    out: dict[tuple[str, str, bool], None] = {}
    for a in _analyzers(word):
        guessed = not a.word_is_known(word)
        for p in _chosen(a, word):
            out[(p.normal_form.replace("ё", "е"), str(p.tag.POS), guessed)] = None
    return list(out)


def dictionary_words(prefix: str, limit: int = 50_000) -> list[str]:
    """Russian dictionary forms (lemmas) of the words that begin with ``prefix``, sorted,
    then the forms whose lemma does not begin so (погибче, of гибкий), sorted,
    looking at the first ``limit`` word forms (for people: what a prefix term matches)."""
    ru = analyzer("ru")
    prefix = prefix.casefold().replace("ё", "е")
    lemmas: set[str] = set()
    others: set[str] = set()  # погибче is "по-" + гибче (of гибкий): the form begins so
    for n, form in enumerate(ru.dictionary.words.iterkeys(prefix)):
        if n >= limit:
            break
        for parse in ru.parse(form)[:1]:
            lemma = parse.normal_form.replace("ё", "е")
            if lemma.startswith(prefix):
                lemmas.add(lemma)
            else:
                others.add(form)
    return sorted(lemmas) + sorted(others - lemmas)
