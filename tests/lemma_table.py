"""How much of a Russian or Ukrainian word's paradigm a rule term matches: the lemma table.

Draws lemmas from the pymorphy3 dictionaries themselves, reproducibly (fixed seed, random
two-letter prefixes), 40 per class and language: nouns, adjectives, verbs (infinitives),
participles (Russian: a verb's full participle, masculine nominative; Ukrainian: the
dictionary's participle adjectives) and names (first names, surnames, places).  For each
lemma, written as a rule term, ``inflect.slavic_forms`` gives the forms the matcher
compiles; then

- recall: the share of the lemma's real forms (its lexeme in its own dictionary; for a
  participle, its own forms full and short) that are generated;
- noise: the share of generated forms that are forms of no dictionary reading of the
  term word, in either language (the Ukrainian лист's Russian forms листом are forms of
  it; військовая, загиблиха are not; nor is a guess no dictionary can confirm, such as
  the Ukrainian dative Шелковникові of a Russian surname).

Means over the lemmas of each class.  ``python -m tests.lemma_table`` prints the markdown
table (``make lemma-table``); ``--before FILE`` adds the figures of an earlier run (the
JSON that ``--json`` writes; ``tests/fixtures/lemma_table_before.json`` holds the code's
figures before issue 18), and README shows the table.  ``tests/test_lemma_table.py``
checks README against what this computes.
"""

from __future__ import annotations

import argparse
import json
import random
from itertools import islice
from pathlib import Path
from typing import Any

from bot.matching.inflect import analyzer, slavic_forms

SEED = 18
PER_CLASS = 40
CLASSES = ("noun", "adjective", "verb", "participle", "name")
LANGUAGE_NAMES = {"ru": "Russian", "uk": "Ukrainian"}
_ALPHABET = {"ru": "абвгдежзиклмнопрстуфхцчшэюя", "uk": "абвгдежзиклмнопрстуфхцчшщюяєі"}
_NAMES = {"Name", "Surn", "Geox"}
BEFORE = Path(__file__).parent / "fixtures" / "lemma_table_before.json"


def _norm(word: str) -> str:
    return word.casefold().replace("ё", "е")


def _class(lang: str, tag: Any) -> str | None:
    grammemes = set(tag.grammemes)
    if grammemes & {"Abbr", "Init", "Erro", "Dist", "Infr", "Slng"}:
        return None
    if tag.POS == "NOUN":
        return "name" if grammemes & _NAMES else "noun"
    if tag.POS == "ADJF":
        if lang == "uk" and grammemes & {"actv", "pssv"}:
            return "participle"
        return "adjective"
    if tag.POS == "INFN" or (lang == "uk" and tag.POS == "VERB"):  # the infinitive
        return "verb"
    return None


def draw(lang: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(class, term, real forms) for ``PER_CLASS`` lemmas of each class of ``lang``."""
    morph = analyzer(lang)
    words = morph.dictionary.words
    rng = random.Random(f"{SEED}-{lang}")
    drawn: dict[str, list[tuple[str, tuple[str, ...]]]] = {c: [] for c in CLASSES}
    seen: set[str] = set()
    while any(len(v) < PER_CLASS for v in drawn.values()):
        prefix = rng.choice(_ALPHABET[lang]) + rng.choice(_ALPHABET[lang])
        lemmas = [(w, para) for w, (para, idx) in islice(words.iteritems(prefix), 3000) if idx == 0]
        rng.shuffle(lemmas)
        wanted = {c for c, v in drawn.items() if len(v) < PER_CLASS}
        for word, para in lemmas:
            if not word.isalpha() or len(word) < 3 or word in seen:
                continue
            tag = morph.dictionary.build_tag_info(para, 0)
            cls = _class(lang, tag)
            if lang == "ru" and cls == "verb" and "participle" in wanted:
                participle = _participle(morph, word, para)
                if participle:
                    seen.add(participle[0])
                    drawn["participle"].append(participle)
                    wanted.discard("participle")
                continue
            if cls not in wanted:
                continue
            parse = next(p for p in morph.parse(word) if _paradigm_of(p) == (para, 0))
            seen.add(word)
            drawn[cls].append((_norm(word), tuple(sorted({_norm(f.word) for f in parse.lexeme}))))
            wanted.discard(cls)
            if not wanted:
                break
    return [(c, term, forms) for c in CLASSES for term, forms in drawn[c][:PER_CLASS]]


def _paradigm_of(parse: Any) -> tuple[int, int] | None:
    method = parse.methods_stack[0]
    return (method[2], method[3]) if type(method[0]).__name__ == "DictionaryAnalyzer" else None


def _participle(morph: Any, verb: str, para: int) -> tuple[str, tuple[str, ...]] | None:
    """A verb's first full participle (masculine nominative) and its own forms."""
    parse = next((p for p in morph.parse(verb) if _paradigm_of(p) == (para, 0)), None)
    if parse is None:
        return None
    lexeme = parse.lexeme
    for form in lexeme:
        grammemes = set(form.tag.grammemes)
        if form.tag.POS == "PRTF" and {"masc", "sing", "nomn"} <= grammemes:
            kind = grammemes & {"actv", "pssv", "past", "pres"}
            own = {
                _norm(f.word)
                for f in lexeme
                if f.tag.POS in ("PRTF", "PRTS")
                and set(f.tag.grammemes) & {"actv", "pssv", "past", "pres"} == kind
            }
            return _norm(form.word), tuple(sorted(own))
    return None


def _reference(term: str, real: tuple[str, ...]) -> set[str]:
    """The forms of every dictionary reading of ``term``, in both languages, and its
    real forms."""
    out = set(real)
    for lang in LANGUAGE_NAMES:
        for parse in analyzer(lang).parse(term):
            if _paradigm_of(parse):
                out |= {_norm(f.word) for f in parse.lexeme}
    return out


def measure() -> dict[str, dict[str, dict[str, float]]]:
    """{language: {class: {"n", "recall", "noise", "forms"}}}, shares in percent."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for lang in LANGUAGE_NAMES:
        rows: dict[str, list[tuple[float, float, int]]] = {c: [] for c in CLASSES}
        for cls, term, real in draw(lang):
            generated = set(slavic_forms(term))
            reference = _reference(term, real)
            recall = len(generated & set(real)) / len(real)
            noise = len(generated - reference) / len(generated)
            rows[cls].append((recall, noise, len(generated)))
        out[lang] = {
            cls: {
                "n": len(values),
                "recall": round(100 * sum(v[0] for v in values) / len(values), 1),
                "noise": round(100 * sum(v[1] for v in values) / len(values), 1),
                "forms": round(sum(v[2] for v in values) / len(values), 1),
            }
            for cls, values in rows.items()
        }
    return out


def table(after: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The markdown table: per language and class, recall and noise (before -> after)."""
    lines = [
        "| language | class | lemmas | recall before | recall after | noise before | noise after |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang, name in LANGUAGE_NAMES.items():
        for cls in CLASSES:
            now = after[lang][cls]
            was = (before or {}).get(lang, {}).get(cls, {})
            lines.append(
                f"| {name} | {cls} | {now['n']} | {_pct(was.get('recall'))} | "
                f"{_pct(now['recall'])} | {_pct(was.get('noise'))} | {_pct(now['noise'])} |"
            )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--before", type=Path, default=BEFORE, help="an earlier run's JSON")
    args = parser.parse_args()
    after = measure()
    if args.json:
        args.json.write_text(json.dumps(after, indent=1), encoding="utf-8")
    before = json.loads(args.before.read_text()) if args.before.exists() else None
    print(table(after, before))


if __name__ == "__main__":
    main()
