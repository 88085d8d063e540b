"""Word forms -> one Aho-Corasick automaton: every rule's words found in one pass.

Part of the "Item -> Match" stage.  Keys are folded tokens (see ``normalize``) padded
with the one separator folded text has, a space: " вагнера " finds the whole word,
" погиб" (no trailing space) every word starting with "погиб".  Folded text is scanned
as " title \\n text ", so every word has a space on both sides and no key spans the two
fields.  The scan is C code (pyahocorasick); its cost grows with the text, not with the
number of keys, so 10,000 rules cost about what 10 do.
"""

from __future__ import annotations

import ahocorasick


class Automaton:
    """Keys (token, is-prefix) -> ids; ``build`` once, then ``scan`` any number of texts."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, bool], int] = {}
        self.sizes: list[int] = []  # len(padded key): a hit ending at e starts at e - size + 2
        self._automaton = ahocorasick.Automaton()
        self._built = False

    def __len__(self) -> int:
        return len(self._ids)

    def key(self, token: str, prefix: bool) -> int:
        """The id of ``token`` (a word, or words joined by single spaces)."""
        found = self._ids.get((token, prefix))
        if found is None:
            if self._built:
                raise RuntimeError("the automaton is built: no more keys")
            found = self._ids[(token, prefix)] = len(self.sizes)
            padded = f" {token}" if prefix else f" {token} "
            self.sizes.append(len(padded))
            self._automaton.add_word(padded, found)
        return found

    def build(self) -> None:
        if self._ids:
            self._automaton.make_automaton()
        self._built = True

    def scan(self, text: str) -> list[tuple[int, int]]:
        """Every (index of the hit's last character, key id) in ``text``."""
        if not self._ids:
            return []
        return list(self._automaton.iter(text))
