"""Term forms -> one Aho-Corasick automaton: every rule's terms found in one pass.

Part of the "Item -> Match" stage.  Keys are folded words, or words joined by single
spaces (a phrase's forms), padded with the one separator folded text has, a space:
" вагнера " finds the whole word, " погиб" (no trailing space) every word starting with
"погиб", " дейр эз зора " the phrase.  The matcher scans " title \\x00 text " with every
run of spaces collapsed to one, so each word has exactly one space on either side and no
key spans the two fields.  A key's value is a small int (the matcher's "group": which
terms the key stands for) kept in C (``STORE_INTS``): no Python object per key.  The
scan is C code (pyahocorasick); its cost grows with the text and the hits, not with the
number of keys, so 10,000 rules cost about what 10 do.
"""

from __future__ import annotations

import ahocorasick


class Automaton:
    """Padded keys -> int values; ``build`` once, then ``scan`` any number of texts."""

    def __init__(self) -> None:
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._keys = 0
        self._built = False

    def __len__(self) -> int:
        return self._keys

    def add(self, key: str, value: int) -> None:
        """Add ``key`` (already padded) with ``value``; a key added twice keeps the last."""
        if self._built:
            raise RuntimeError("the automaton is built: no more keys")
        if self._automaton.add_word(key, value):
            self._keys += 1

    def build(self) -> None:
        if self._keys:
            self._automaton.make_automaton()
        self._built = True

    def scan(self, text: str) -> list[tuple[int, int]]:
        """Every (index of the hit's last character, value) in ``text``, in text order."""
        if not self._keys:
            return []
        return list(self._automaton.iter(text))
