"""Text -> words: the one tokenizer that both rule terms and item text go through.

Part of the "Item -> Match" stage.  A word is a run of letters and digits (Unicode
``\\w`` minus ``_``); everything else (spaces, hyphens, dashes, apostrophes,
punctuation) separates words, so "Deir ez-Zor", "Deir-ez-Zor" and "Deir ez Zor" are the
same three words.  Each word is normalized with NFKC, casefold and ё -> е.

Invariants: a token's ``start``/``end`` index the ORIGINAL string, so
``text[t.start:t.end]`` is the word as written; terms and text are normalized by the
same function, so whatever one does the other does too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Characters that may sit inside a word without splitting it and that normalization
# then drops: soft hyphen (HTML feeds hyphenate with it), zero-width (non-)joiner,
# word joiner, BOM, and the combining acute/grave that Russian texts use as stress
# marks ("Дейр-эз-Зо́р").  Other combining marks stay in the word; NFKC composes them.
_IGNORABLE = "\u00ad\u200c\u200d\u2060\ufeff\u0300\u0301"
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_MARKS}\u00ad\u200c\u200d\u2060\ufeff])*")
_DROP = str.maketrans("", "", _IGNORABLE)


@dataclass(frozen=True, slots=True)
class Token:
    """One word: ``text`` normalized, ``start``/``end`` offsets into the original string."""

    text: str
    start: int
    end: int


def normalize_word(word: str) -> str:
    """NFKC, casefold, ё -> е, minus the ignorable characters above."""
    folded = unicodedata.normalize("NFKC", word.translate(_DROP)).casefold()
    return folded.translate(_DROP).replace("ё", "е")


def tokenize(text: str) -> list[Token]:
    tokens = []
    for m in _WORD.finditer(text):
        word = normalize_word(m.group())
        if word:
            tokens.append(Token(word, m.start(), m.end()))
    return tokens


def normalize_term(term: str) -> tuple[str, ...]:
    """The word sequence a term or phrase stands for (a prefix ``*`` is not a word)."""
    return tuple(t.text for t in tokenize(term))
