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

Which language's paradigms a Cyrillic word gets (``word_languages``; a rule may narrow
it with ``languages``): every language whose dictionary knows the word (приватна: the
Russian приватный and the Ukrainian приватний; Вагнер: both).  A language whose
dictionary lacks it guesses its forms from the ending only when the word may be of that
language: not when it has a letter the language does not write (і, ї, є, ґ, ' and
ськ are not Russian; ы, э, ъ, ё and и before a vowel are not Ukrainian), nor when the other
dictionary knows it as a common word (військова, загиблих are Ukrainian words: no
Russian guess військовая, загиблиха; погиб is Russian: no Ukrainian guess).  A name
unknown to both (Дейр-ез-Зор) or known to one only as a name (Зор, a form of the Russian
name Зора) gets the guesses of both (Дейр-ез-Зоре, Дейр-ез-Зорі; Зорі).  Ukrainian
adjectives' uncontracted forms (військовая) are left out.

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

LANGUAGES = ("ru", "uk")  # the dictionaries a Cyrillic word's forms come from
# What a language does not write: Russian no і, ї, є, ґ, apostrophe, ськ/цьк/зьк
# (Добровольський); Ukrainian no ё, ы, э, ъ, nor и before a vowel (Сирия: Сирія).
_NOT_IN = {"ru": re.compile(r"[єіїґ']|[сцз]ьк"), "uk": re.compile(r"[ёыэъ]|и[аеоуюя]")}
_APOSTROPHES = str.maketrans({c: "'" for c in "’ʼ`´‘′"})
_SKIP_POS = {"PREP", "CONJ", "PRCL", "INTJ", "NPRO", "PRED", None}
_SKIP_TAGS = {"UNKN", "LATN", "NUMB", "ROMN", "PNCT"}
MIN_LENGTH = 3  # shorter words are not inflected (бо, в, их)
_GUESS_LENGTH = 4  # pymorphy3 guesses no shorter word from its ending...
_STAND_IN = "а-"  # ...so a shorter one is guessed as the right part of "а-зор"
# Ukrainian adjectives' uncontracted forms (військовая, військовую, військовеє,
# військовії): poetic, and Russian-looking; left out where the lexeme has the usual one.
_UNCONTRACTED = re.compile(r"(ая|яя|ую|юю|еє|єє|ії)$")
_PARTICIPLES = {"PRTF", "PRTS"}
_PARTICIPLE_KIND = {"actv", "pssv", "past", "pres"}
# Readings that a guess from the ending (a word the dictionary lacks) may not have: a
# verb guessed for an abbreviation (БПЛА as "бпнуть": бп, бпли) or a short adjective.
_GUESSED_NOT = {"VERB", "INFN", "PRTF", "PRTS", "GRND", "ADJS"}


def _compact_cache(maxsize: int) -> Callable[[Callable[..., frozenset[str]]], Any]:
    """``lru_cache`` for a word's forms, each entry kept as one "\n"-joined string: a
    tenth of a frozenset of strings (10,000 rules' words: ~7 MB, not ~26 MB)."""

    def decorate(fn: Callable[..., frozenset[str]]) -> Any:
        joined = lru_cache(maxsize=maxsize)(lambda *args: "\n".join(sorted(fn(*args))))

        @wraps(fn)
        def forms(*args: str) -> frozenset[str]:
            text = joined(*args)
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


@lru_cache(maxsize=100_000)
def word_languages(word: str) -> tuple[tuple[str, bool], ...]:
    """(language, known) for each language whose paradigms ``word`` (casefolded) gets:
    known, the language's dictionary has it; else its forms are guessed from the ending
    (the rule in the module docstring)."""
    known = {lang: analyzer(lang).word_is_known(word) for lang in LANGUAGES}
    out = []
    for lang in LANGUAGES:
        if known[lang]:
            out.append((lang, True))
        elif not _NOT_IN[lang].search(word) and not any(
            known[other] and not _only_names(analyzer(other), word)
            for other in LANGUAGES
            if other != lang
        ):
            out.append((lang, False))
    return tuple(out)


def _only_names(analyzer: Any, word: str) -> bool:
    return all(_NAMES & set(p.tag.grammemes) for p in analyzer.parse(word))


def _analyzers(word: str, languages: tuple[str, ...] = LANGUAGES) -> list[Any]:
    """The analysers of the languages ``word`` is inflected in, of ``languages``."""
    return [analyzer(lang) for lang, _ in word_languages(word) if lang in languages]


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


def slavic_forms(word: str, languages: tuple[str, ...] = LANGUAGES) -> frozenset[str]:
    """The Russian and Ukrainian forms of ``word`` (casefolded, ё as е), itself included,
    from the paradigms of those of ``languages`` it gets (``word_languages``)."""
    word = word.casefold().translate(_APOSTROPHES)
    if len(word) < MIN_LENGTH or not CYRILLIC_LETTER.search(word) or any(c.isdigit() for c in word):
        return frozenset({word.replace("ё", "е")})
    forms = {word.replace("ё", "е")}
    for lang in languages:
        forms |= language_forms(word, lang)
    return frozenset(forms)


@_compact_cache(maxsize=200_000)
def language_forms(word: str, lang: str) -> frozenset[str]:
    """The forms of ``word`` (casefolded) that ``lang``'s paradigms give (empty when the
    word does not get them: ``word_languages``), ё as е."""
    languages = dict(word_languages(word))
    if lang not in languages:
        return frozenset()
    word = word.replace("ё", "е")
    if languages[lang] or len(word) >= _GUESS_LENGTH or "-" in word:
        return frozenset(_forms(analyzer(lang), word))
    # a short name another dictionary knows (Зор): its ending, guessed on a stand-in
    stand_in = _forms(analyzer(lang), _STAND_IN + word)
    return frozenset({word} | {f[len(_STAND_IN) :] for f in stand_in if f.startswith(_STAND_IN)})


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
    ukrainian = analyzer.lang == "uk"
    seen_lexemes: set[tuple[str, str, int]] = set()
    dropped: set[str] = set()
    for parse in chosen:
        key = (parse.normal_form, str(parse.tag.POS), _paradigm(parse))
        if key in seen_lexemes:
            continue
        seen_lexemes.add(key)
        lexeme = parse.lexeme
        tags = [str(form.tag) for form in lexeme] if ukrainian else [""] * len(lexeme)
        for form, tag in zip(lexeme, tags, strict=True):
            text = form.word.replace("ё", "е")
            if ukrainian and _UNCONTRACTED.search(text) and tags.count(tag) > 1:
                continue
            if text in forms or text in dropped or _excluded(form.tag, own_grammemes):
                continue
            if _dominated(analyzer, text, lemmas):
                dropped.add(text)  # a lexeme spells many forms alike: ask once
            else:
                forms.add(text)
    return forms


def _paradigm(parse: Any) -> int:
    """The dictionary paradigm of a reading (-1 for a guess): two paradigms of one
    dictionary form are two lexemes (the Ukrainian Вагнер: a woman's, not declined, and a
    man's, declined)."""
    method = getattr(parse, "parse", parse).methods_stack[0]
    return method[2] if type(method[0]).__name__ == "DictionaryAnalyzer" else -1


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
def capital_forms(word: str, languages: tuple[str, ...] = LANGUAGES) -> frozenset[str]:
    """The forms of a Cyrillic word written in capitals.  An abbreviation the dictionary
    knows takes its forms (МИД: МИДа, МИДом; ФСБ: none); one it does not know (БПЛА, ВСУ,
    РСЗО) is matched as written: a guess from its ending is not an abbreviation's
    grammar (БПЛА read as a verb gave бп, бпли).  A word the dictionary knows only as an
    ordinary word (ВАГНЕР, ПОГИБ) inflects as usual, in the languages that know it."""
    word = word.casefold().replace("ё", "е")
    known = tuple(lang for lang in languages if analyzer(lang).word_is_known(word))
    if not known:
        return frozenset({word})
    abbreviations = [p for lang in known for p in analyzer(lang).parse(word) if "Abbr" in p.tag]
    if not abbreviations:
        return slavic_forms(word, known)
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


def readings(word: str, languages: tuple[str, ...] = LANGUAGES) -> list[tuple[str, str, bool, str]]:
    """How ``word`` is inflected: (dictionary form, part of speech, guessed, language) per
    reading whose forms it gets, for people (``explain``); guessed: the language's
    dictionary lacks the word and the reading comes from its ending."""
    word = word.casefold().translate(_APOSTROPHES)
    if len(word) < MIN_LENGTH or not CYRILLIC_LETTER.search(word) or any(c.isdigit() for c in word):
        return []
    out: dict[tuple[str, str, bool, str], None] = {}
    for lang, known in word_languages(word):
        if lang in languages:
            for p in _chosen(analyzer(lang), word.replace("ё", "е")):
                out[(p.normal_form.replace("ё", "е"), str(p.tag.POS), not known, lang)] = None
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
