"""Rule -> what each of its terms matches: every form, grouped and counted, and warnings.

Part of the "Item -> Match" stage, for people: ``dozor explain "<query>"`` and chat
``/test --forms`` show it.  The forms come from ``forms.grouped_forms``, the function
the matcher compiles its keys from, and are kept only when they have as many words as
the term's word (as the matcher keeps them): what is listed is what matches.  Pure;
reads only the dictionaries.

Warnings name expansions that may catch what the rule's author does not mean:

- a reading guessed from the word's ending (the dictionary lacks the word);
- a word read as forms of several different words (стали: сталь and стать);
- forms that do not look like the word (человек: люди) or are very short;
- transliterations that are words of the other language (бой: boy);
- a prefix: every dictionary word it begins, and the names among them (Сири*: Сириус).

Notes say how a word was taken: an abbreviation in capitals (matched as written unless
the dictionary knows it), a participle (its own forms only), a prefix (no forms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from bot.matching.forms import grouped_forms
from bot.matching.fuzzy import distance_for, sample_typos
from bot.matching.inflect import (
    analyzer,
    dictionary_words,
    is_abbreviation,
    is_name,
    readings,
)
from bot.matching.matcher import _Options, fuzziness, rule_from_query, rule_tree
from bot.matching.normalize import CYRILLIC_LETTER, normalize_term
from bot.matching.query import Meta, Regex, Term, Word, leaves
from bot.model import Rule

__all__ = ["TermForms", "WordForms", "explain_query", "explain_rule", "render"]

SHOWN_PREFIX_WORDS = 15  # dictionary words listed for a prefix
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")  # as the matcher strips a word's edges
_PARTICIPLE = {"PRTF", "PRTS"}
_ADJECTIVE_OR_PARTICIPLE = {"PRTF", "PRTS", "ADJF", "ADJS"}
_POS_NAMES = {
    "NOUN": "noun", "ADJF": "adjective", "ADJS": "short adjective", "VERB": "verb",
    "INFN": "verb", "PRTF": "participle", "PRTS": "short participle", "GRND": "gerund",
    "NUMR": "numeral", "ADVB": "adverb", "COMP": "comparative",
}  # fmt: skip


@dataclass(frozen=True)
class WordForms:
    """One word of a term: its forms per group (``forms.GROUPS`` order, empty groups
    left out), warnings and notes."""

    raw: str
    prefix: bool
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return sum(len(forms) for _, forms in self.groups)

    def forms(self, group: str | None = None) -> set[str]:
        """The forms of ``group`` ("inflection": of every language), or all."""
        return {
            f
            for g, forms in self.groups
            if group in (None, g) or g.startswith(f"{group}-")
            for f in forms
        }


@dataclass(frozen=True)
class TermForms:
    """One term of a rule as written, and what each of its words stands for."""

    text: str
    words: tuple[WordForms, ...] = ()
    note: str = ""  # for a term without forms: exact, regex, metadata

    @property
    def count(self) -> int:
        return sum(w.count for w in self.words)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(w for word in self.words for w in word.warnings)


def explain_rule(rule: Rule) -> list[TermForms]:
    """Every term of ``rule`` (query and lists, each once, in order) with its forms
    under the rule's options.  Raises ``TermError``/``QueryError`` as the matcher does."""
    root = rule_tree(rule)
    if root is None:  # only "none" terms: explain them all the same
        root = rule_tree(
            Rule(rule.name, any=rule.none, inflect=rule.inflect, languages=rule.languages)
        )
    out: dict[str, TermForms] = {}
    for leaf in leaves(root) if root is not None else ():
        if leaf.text not in out:
            out[leaf.text] = _term(leaf, rule)
    return list(out.values())


def explain_query(query: str, **options: Any) -> list[TermForms]:
    """``explain_rule`` for a query in the rule language; ``options``: ``Rule`` fields
    (``translit``, ``derived``, ``english_forms``, ``inflect``, ``languages``).  Raises
    ``QueryError``."""
    return explain_rule(rule_from_query("explain", query, **options))


def _term(leaf: Term | Regex | Meta, rule: Rule) -> TermForms:
    if isinstance(leaf, Regex):
        return TermForms(leaf.text, note="a regex over the original text: no forms")
    if isinstance(leaf, Meta):
        return TermForms(leaf.text, note=f"the item's {leaf.kind}, not its text: no forms")
    if leaf.exact:
        written = " ".join(leaf.tokens)
        return TermForms(leaf.text, note=f"exactly as written: {written}")
    words = []
    for word in leaf.words:
        raw = _EDGES.sub("", word.raw)
        groups = grouped_forms(
            raw,
            word.prefix,
            rule.inflect,
            rule.translit,
            rule.derived,
            rule.english_forms,
            rule.languages,
        )
        found = _word(raw, word.prefix, len(word.tokens), groups, rule)
        spec = fuzziness(word, leaf.exact, _Options.of(rule))
        if spec is not None:
            found = replace(found, notes=(*found.notes, _typos(word, spec, found.count)))
        words.append(found)
    return TermForms(leaf.text, tuple(words))


def _typos(word: Word, spec: int, forms: int) -> str:
    """How a "~" word is fuzzy: the typos per token, and a sample of what they reach."""
    parts, sample = [], []
    for token in word.tokens:
        distance = distance_for(token, spec)
        parts.append(f"{token} {distance}" if distance else f"{token} none (1-2 letters)")
        sample += sample_typos(token, distance)
    how = "; ".join(parts)
    shown = f", e.g. {', '.join(sample[:4])}" if sample else ""
    return (
        f"~ typos (Damerau–Levenshtein, after folding) in each of its {_plural(forms, 'form')}: "
        f"{how}{shown}"
    )


def _word(
    raw: str,
    prefix: bool,
    size: int,
    groups: tuple[tuple[str, frozenset[str]], ...],
    rule: Rule,
) -> WordForms:
    kept: list[tuple[str, tuple[str, ...]]] = []
    seen: set[tuple[str, ...]] = set()
    for group, forms in groups:
        shown = []
        for form in sorted(forms):
            tokens = normalize_term(form)
            if len(tokens) == size and tokens not in seen:  # as the matcher keeps them
                seen.add(tokens)
                shown.append(form)
        if shown:
            kept.append((group, tuple(shown)))
    warnings, notes = _judge(raw, prefix, dict(kept), rule)
    return WordForms(raw, prefix, tuple(kept), tuple(warnings), tuple(notes))


def _judge(
    raw: str, prefix: bool, groups: dict[str, tuple[str, ...]], rule: Rule
) -> tuple[list[str], list[str]]:
    word = raw.casefold().replace("ё", "е")
    warnings: list[str] = []
    notes: list[str] = []
    cyrillic = bool(CYRILLIC_LETTER.search(word))
    if prefix:
        notes.append(f"a prefix: every word that begins «{word}», not inflected")
        if len(word) < 4:
            warnings.append(f"a prefix of {len(word)} letters matches a great many words")
        if cyrillic:
            lemmas = dictionary_words(word)
            if lemmas:
                notes.append(f"the dictionary's words that begin so: {_some(lemmas)}")
            names = [w for w in lemmas if is_name(w)]
            if len(lemmas) > 1 and names:
                warnings.append(
                    f"the prefix also begins names: {_some(names)}; write the words you "
                    "mean instead (their forms come with them)"
                )
        return warnings, notes
    inflected = [f for g, forms in groups.items() if g.startswith("inflection") for f in forms]
    if cyrillic and rule.inflect:
        _judge_inflection(raw, word, inflected, warnings, notes, rule.languages)
    elif rule.inflect and inflected:  # a Latin word's Cyrillic spellings, inflected
        for spelling in groups.get("transliteration", ()):
            if CYRILLIC_LETTER.search(spelling):
                forms = [f for f in inflected if f[:2] == spelling[:2]]
                _judge_inflection(spelling, spelling, forms, warnings, notes, rule.languages)
    other = groups.get("transliteration", ())
    if other:
        if cyrillic:
            from lemminflect import getAllLemmas

            english = [f for f in other if f.isascii() and f.isalpha() and getAllLemmas(f)]
            if english:
                warnings.append(f"transliterations that are English words: {', '.join(english)}")
        else:
            ru = analyzer("ru")
            russian = [f for f in other if " " not in f and ru.word_is_known(f) and not is_name(f)]
            if russian:
                warnings.append(f"transliterations that are Russian words: {', '.join(russian)}")
    return warnings, notes


def _judge_inflection(
    raw: str,
    word: str,
    inflected: Iterable[str],
    warnings: list[str],
    notes: list[str],
    languages: tuple[str, ...],
) -> None:
    if is_abbreviation(raw):
        if len(list(inflected)) == 0:
            notes.append(
                "written in capitals and not an abbreviation the dictionary knows: "
                "matched as written, not inflected"
            )
        else:
            notes.append("written in capitals: inflected as the dictionary knows it")
        return
    found = readings(word, languages)
    if not found:
        return
    guessed_in = sorted({_LANGUAGE_NAMES[lang] for _, _, guessed, lang in found if guessed})
    if guessed_in and all(guessed for _, _, guessed, _ in found):  # no dictionary knows it
        as_what = ", ".join(
            sorted({f"{_POS_NAMES.get(pos, pos)} «{lemma}»" for lemma, pos, g, _ in found if g})
        )
        warnings.append(
            f"{word}: not in the dictionary: forms guessed from the ending "
            f"({' and '.join(guessed_in)}), as the {as_what}; check them, or write !{raw} "
            "for this form only"
        )
    lemmas = {lemma for lemma, _, _, _ in found}
    parts = {pos for _, pos, _, _ in found}
    if word not in lemmas and len(lemmas) == 1:
        ((lemma, pos, _, _), *_) = found
        notes.append(f"{word}: read as a form of the {_POS_NAMES.get(pos, pos)} «{lemma}»")
    if len(lemmas) > 1 and not parts <= _ADJECTIVE_OR_PARTICIPLE:
        warnings.append(
            f"read as forms of {len(lemmas)} words ({', '.join(sorted(lemmas))}): "
            "the forms of each are included"
        )
    if parts & _PARTICIPLE:
        verbs = sorted({lemma for lemma, pos, _, _ in found if pos in _PARTICIPLE})
        notes.append(
            "a participle: its own forms, full and short; the verb's other forms (past, "
            f"future) need the verb as a term: {', '.join(verbs)}"
        )
    stem = word[:2]
    unlike = [f for f in inflected if not f.startswith(stem) and f != word]
    if unlike:
        warnings.append(f"forms that do not look like the word: {', '.join(sorted(unlike))}")
    short = [f for f in inflected if len(f) < 3 and f != word]
    if short:
        warnings.append(f"very short forms, each a whole word to match: {', '.join(short)}")


# --- text -----------------------------------------------------------------------------

_LANGUAGE_NAMES = {"ru": "Russian", "uk": "Ukrainian"}
_GROUP_TITLES = {
    "written": "as written",
    "inflection": "inflected, Russian and Ukrainian",
    "inflection-ru": "inflected, Russian",
    "inflection-uk": "inflected, Ukrainian",
    "transliteration": "other script",
    "derived": "derived",
    "english": "English forms",
}


def render(terms: list[TermForms]) -> str:
    """Plain text: per term its count, per word its forms by group, then warnings."""
    lines: list[str] = []
    for term in terms:
        if term.note:
            lines.append(f"{term.text}: {term.note}")
            continue
        lines.append(f"{term.text}: {_plural(term.count, 'form')}")
        several = len(term.words) > 1
        for word in term.words:
            indent = "    " if several else "  "
            if several:
                lines.append(
                    f"  {word.raw}{'*' if word.prefix else ''}: {_plural(word.count, 'form')}"
                )
            for group, forms in word.groups:
                lines.append(f"{indent}{_GROUP_TITLES[group]} ({len(forms)}): {', '.join(forms)}")
            lines.extend(f"{indent}warning: {w}" for w in word.warnings)
            lines.extend(f"{indent}note: {n}" for n in word.notes)
    total = sum(t.count for t in terms)
    warned = sum(len(t.warnings) for t in terms)
    lines.append(
        f"{_plural(len(terms), 'term')}, {_plural(total, 'form')}"
        + (f", {_plural(warned, 'warning')}" if warned else ", no warnings")
    )
    return "\n".join(lines)


def _some(words: list[str]) -> str:
    more = len(words) - SHOWN_PREFIX_WORDS
    return ", ".join(words[:SHOWN_PREFIX_WORDS]) + (f" and {more} more" if more > 0 else "")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
