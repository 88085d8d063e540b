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
   to ``distance`` letters deleted (the symmetric-delete method of SymSpell), as
   sorted CRC-32 hashes;
2. per item: each distinct word not seen before is looked up (its own deletions among
   the hashes, each candidate class confirmed by the real distance) and remembered, in
   a bounded cache; when a word of the item is within reach of a class whose
   placeholders are keys of their own only (a word term), the word is that key's hit
   where it stands; for a class inside a phrase key or check, the words around it are
   scanned again with it replaced by the class's placeholder of the same length (so
   every offset, span and phrase check stays as it is).

Measured against the other way, every variant as an automaton key (``make bench``,
README "Speed"): a 6-letter form has ~125,000 variants at distance 2, so the keys of
5 % fuzzy terms at 10,000 rules would not fit the memory target; the candidate check
holds a few hundred deletions per form.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable

import numpy as np

AUTO = -1  # "~": the distance by the word's length
MAX_DISTANCE = 2
SEEN_LIMIT = 50_000  # distinct words remembered between items (then forgotten at once)
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


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


class FuzzyIndex:
    """The fuzzy classes of one compiled rule set, and the per-item lookup.

    The deletions are kept as two sorted numpy arrays (CRC-32 of the deletion, class):
    8 bytes a pair, where a trie or a dict held 60-200; a hash that collides only
    brings a candidate that the distance check then refuses."""

    def __init__(self) -> None:
        self.classes: list[tuple[frozenset[str], int]] = []  # (forms, distance)
        self._ids: dict[tuple[frozenset[str], int], int] = {}
        self._pairs: list[tuple[int, int]] | None = []  # (hash, class) until built
        self._hashes = np.zeros(0, np.uint32)
        self._owners = np.zeros(0, np.uint32)
        self._seen: set[str] = set()  # words looked up (most are near no class)
        self._near: dict[str, tuple[str, ...]] = {}  # seen word -> its classes' placeholders

    def __bool__(self) -> bool:
        return bool(self.classes)

    def __getstate__(self) -> dict[str, object]:  # the per-item cache is not state
        self.build()
        state = dict(self.__dict__)
        state["_seen"], state["_near"] = set(), {}
        return state

    def add(self, forms: frozenset[str], distance: int) -> int:
        """The class of ``forms`` (folded tokens) at ``distance``, made when new."""
        key = (forms, distance)
        found = self._ids.get(key)
        if found is None:
            assert self._pairs is not None, "the index is built: no more classes"
            found = self._ids[key] = len(self.classes)
            self.classes.append(key)
            deleted: set[str] = set()
            for form in forms:
                deleted |= deletions(form, distance)
            self._pairs.extend((_hash(d), found) for d in deleted)
        return found

    def build(self) -> None:
        """The sorted arrays (once, after the last ``add``)."""
        if self._pairs is None:
            return
        pairs = np.array(self._pairs, dtype=np.uint32).reshape(-1, 2)
        order = np.argsort(pairs[:, 0], kind="stable")
        self._hashes = np.ascontiguousarray(pairs[order, 0])
        self._owners = np.ascontiguousarray(pairs[order, 1])
        self._pairs = None

    def placeholders(self, class_id: int) -> list[str]:
        forms, distance = self.classes[class_id]
        return [placeholder(class_id, n) for n in lengths(forms, distance)]

    def classes_of(self, word: str) -> tuple[int, ...]:
        """The classes ``word`` (folded) is within reach of, in class order."""
        if len(word) < 2:
            return ()
        self.build()
        wanted = np.fromiter(map(_hash, deletions(word, MAX_DISTANCE)), np.uint32)
        left = np.searchsorted(self._hashes, wanted, "left")
        right = np.searchsorted(self._hashes, wanted, "right")
        candidates: set[int] = set()
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            if a < b:
                candidates.update(self._owners[a:b].tolist())
        found = []
        for class_id in sorted(candidates):
            forms, distance = self.classes[class_id]
            if any(
                abs(len(f) - len(word)) <= distance and osa_distance(word, f, distance) <= distance
                for f in forms
            ):
                found.append(class_id)
        return tuple(found)

    def near(self, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each distinct word of ``words`` near a class -> the placeholders of its length
        of the classes it is near (class order); {} when none is.  Words are remembered
        (``SEEN_LIMIT`` at most): most items bring few words not seen before."""
        distinct = set(words)
        seen = self._seen
        new = distinct - seen
        if new:
            if len(seen) + len(new) > SEEN_LIMIT:
                seen.clear()
                self._near = {}
            for word in new:
                classes = self.classes_of(word)
                if classes:
                    self._near[word] = tuple(placeholder(c, len(word)) for c in classes)
            seen |= new
        near = self._near
        return {w: near[w] for w in near.keys() & distinct}


def rounds(near: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Per round, each word -> one of its placeholders (a word near several classes:
    one round per class, in order); [] for no word."""
    if not near:
        return []
    if all(len(p) == 1 for p in near.values()):  # the usual case: one round
        return [{w: p[0] for w, p in near.items()}]
    count = max(len(p) for p in near.values())
    return [{w: p[r] for w, p in near.items() if len(p) > r} for r in range(count)]
