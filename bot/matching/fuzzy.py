"""Term word with ``~`` -> the text words within a few typos of its forms.

Part of the "Item -> Match" stage.  ``Вагнер~`` (Elasticsearch's ``fuzziness: AUTO``)
also matches the words that differ from one of its forms (folded: case, ё, dashes and
look-alike letters already equal) by at most ``distance`` letters inserted, deleted,
replaced or two neighbours swapped (Damerau–Levenshtein, optimal string alignment):
none for words of 1–2 letters, 1 for 3–5, 2 for 6 or more; ``~1``/``~2`` set it.

How the matcher uses it, with no change to its automaton scan:

1. compile: every fuzzy token position of a term (its folded forms and distance) is a
   "class" with a number; the automaton gets, as alternatives of that token, one
   placeholder word per length a typo can have (``placeholder``: private-use
   characters that folded text never holds), and this index gets every form with up
   to ``distance`` letters deleted (the symmetric-delete method of SymSpell), in a
   pyahocorasick trie used as a compact dict;
2. per item: each distinct word not seen before is looked up (its own deletions in the
   trie, each candidate confirmed by the real distance) and remembered, in a bounded
   cache; when a word of the item is within reach of a class, the item's text is
   scanned again with that word replaced by the class's placeholder of the same length
   (so every offset, span and phrase check stays as it is).

Measured against the other way, every variant as an automaton key (``make bench``,
README "Speed"): a 6-letter form has ~125,000 variants at distance 2, so the keys of
5 % fuzzy terms at 10,000 rules would not fit the memory target; the candidate check
holds a few hundred deletions per form.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import ahocorasick

AUTO = -1  # "~": the distance by the word's length
MAX_DISTANCE = 2
SEEN_LIMIT = 100_000  # distinct words remembered between items (then forgotten at once)
_PUA = 0xE000  # private-use characters: folding turns every one into a space
_PUA_SIZE = 6400


def distance_for(token: str, fuzzy: int) -> int:
    """The typos allowed in ``token`` (folded) for a ``~`` spec (AUTO, 1 or 2)."""
    if fuzzy != AUTO:
        return fuzzy
    n = len(token)
    return 0 if n <= 2 else 1 if n <= 5 else 2


def placeholder(class_id: int, length: int) -> str:
    """The word of ``length`` characters that stands for a text word near class
    ``class_id``: one character per class (two for more than 6,400 classes)."""
    low, high = divmod(class_id, _PUA_SIZE)[::-1]
    return chr(_PUA + low) + chr(_PUA + high) * (length - 1)


def lengths(targets: Iterable[str], distance: int) -> range:
    """The lengths a word within ``distance`` of one of ``targets`` can have (>= 2)."""
    sizes = [len(t) for t in targets]
    return range(max(2, min(sizes) - distance), max(sizes) + distance + 1)


def osa_distance(a: str, b: str, limit: int) -> int:
    """Damerau–Levenshtein distance (optimal string alignment) of ``a`` and ``b``;
    ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def deletions(word: str, distance: int) -> set[str]:
    """``word`` with up to ``distance`` letters deleted (``word`` itself included)."""
    out = {word}
    for n in range(1, min(distance, len(word)) + 1):
        out.update("".join(kept) for kept in itertools.combinations(word, len(word) - n))
    return out


def sample_typos(form: str, distance: int, count: int = 4) -> list[str]:
    """A few spellings of ``form`` that ``distance`` typos reach (for people: explain):
    two neighbours swapped, a letter left out, a letter doubled, then a second typo."""
    if len(form) < 3 or distance < 1:
        return []
    middle = len(form) // 2
    one = [
        form[: middle - 1] + form[middle] + form[middle - 1] + form[middle + 1 :],
        form[:middle] + form[middle + 1 :],
        form[: middle + 1] + form[middle:],
    ]
    out = list(dict.fromkeys(t for t in one if t != form))
    if distance > 1 and out:
        first = out[0]
        out.append(first[:1] + first[2:])
    return out[:count]


class FuzzyIndex:
    """The fuzzy classes of one compiled rule set, and the per-item lookup."""

    def __init__(self) -> None:
        self.classes: list[tuple[frozenset[str], int]] = []  # (forms, distance)
        self._ids: dict[tuple[frozenset[str], int], int] = {}
        self._trie = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._targets: list[tuple[tuple[str, int, int], ...]] = []  # (form, distance, class)
        self._built = False
        self._seen: dict[str, tuple[int, ...]] = {}  # word -> its classes (most: none)
        self._near: set[str] = set()  # the seen words that have a class

    def __bool__(self) -> bool:
        return bool(self.classes)

    def __getstate__(self) -> dict[str, object]:  # the per-item cache is not state
        state = dict(self.__dict__)
        state["_seen"], state["_near"] = {}, set()
        return state

    def add(self, forms: frozenset[str], distance: int) -> int:
        """The class of ``forms`` (folded tokens) at ``distance``, made when new."""
        key = (forms, distance)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.classes)
            self.classes.append(key)
            for form in forms:
                for deleted in deletions(form, distance):
                    slot = self._trie.get(deleted, -1)
                    if slot < 0:
                        slot = len(self._targets)
                        self._targets.append(())
                        self._trie.add_word(deleted, slot)
                    self._targets[slot] += ((form, distance, found),)
        return found

    def placeholders(self, class_id: int) -> list[str]:
        forms, distance = self.classes[class_id]
        return [placeholder(class_id, n) for n in lengths(forms, distance)]

    def classes_of(self, word: str) -> tuple[int, ...]:
        """The classes ``word`` (folded) is within reach of, in class order."""
        found: set[int] = set()
        if len(word) < 2:
            return ()
        targets, trie = self._targets, self._trie
        for deleted in deletions(word, MAX_DISTANCE):
            slot = trie.get(deleted, -1)
            if slot < 0:
                continue
            for form, distance, class_id in targets[slot]:
                if class_id not in found and osa_distance(word, form, distance) <= distance:
                    found.add(class_id)
        return tuple(sorted(found))

    def variants(self, words: Sequence[str]) -> list[str]:
        """The texts to scan besides ``" ".join(words)``: the same words, each word near
        a class replaced by that class's placeholder (a word near several classes: one
        text per class, in order); [] when no word is near one."""
        distinct = set(words)
        seen = self._seen
        new = distinct.difference(seen)
        if new:
            if len(seen) + len(new) > SEEN_LIMIT:
                seen.clear()
                self._near = set()
            for word in new:
                classes = seen[word] = self.classes_of(word)
                if classes:
                    self._near.add(word)
        near = distinct & self._near
        if not near:
            return []
        rounds = max(len(seen[w]) for w in near)
        out = []
        for r in range(rounds):
            swap = {w: placeholder(seen[w][r], len(w)) for w in near if len(seen[w]) > r}
            out.append(" " + " ".join([swap.get(w, w) for w in words]) + " ")
        return out
