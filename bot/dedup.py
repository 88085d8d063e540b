"""Near-duplicate stories: has this story been seen already, from any source?

    watchers -> Item -> matching -> bot/dedup -> new story? or "also seen in" an earlier one
                                              -> routing -> outbox -> adapters

``fingerprint(item)`` is pure (CPU only); ``StoryIndex`` holds the fingerprints of the
last ``window`` (48 h) and answers ``find(fp, at) -> StoryMatch | None``.  A new item is
the same story as an indexed one when, within the window:

1. they have the same ``story_key`` (a ``link:`` key: "same link"; a ``hash:`` key:
   "same text"), or the same forward origin ("channel/123"): no text comparison;
2. or MinHash LSH finds the indexed one, their estimated Jaccard
   similarity over the sets of lightly stemmed words of title + text is >=
   ``threshold``, *and* the rare terms (numbers, names, long words) confirm it: their
   Jaccard is >= ``confirm``; the numbers do not disagree (each side has one the other
   lacks and at most half of the smaller set is shared); and each side does not have a
   rare name the other lacks (rare: in <= 1% of the window), unless 80% of the rare
   terms agree (an edited word in a long copy).

Text alone cannot tell "Потери ВСУ на курском направлении ... 300" from the same
template with 250 a week later; the second signal can.  Posts of fewer than
``SHORT_POST`` words carry little evidence: they match by text (or same hash) only
within ``short_window`` (6 h), since short flashes recur ("Воздушная тревога объявлена
на всей территории Украины" several days in a row).

MinHash and LSH banding are datasketch's algorithms (the same permutations from seed 1,
the same SHA-1 token hashes: ``tests/test_dedup.py`` checks the values equal
datasketch's), written here in 40 lines of numpy because importing datasketch costs
68 MB of memory and 0.2 s per process (it loads scipy) and its LSH keeps a set per
band and entry: 58 MB for 6,000 stories where ``_Bands`` keeps 13 MB.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np

from bot.matching.normalize import fold_surface
from bot.model import Item

__all__ = [
    "SHORT_POST",
    "Fingerprint",
    "StoryIndex",
    "StoryMatch",
    "bench",
    "fingerprint",
    "term_key",
]

SHORT_POST = 12  # words; fewer: a short flash
_SEED = 1
_LONG_WORD = 9  # letters: a lowercase word this long is a "rare term" candidate
_NAMES_OVERRULE = 0.8  # rare terms this alike: a differing name is an edit, not a conflict

# ----------------------------------------------------------------------- text

_URL = re.compile(r"(?:https?://|www\.|t\.me/|bit\.ly/)\S+", re.IGNORECASE)
# "1 510" (thin space or space between thousands) is one number
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d])")
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?…\n]")
_CYRILLIC = re.compile("[а-я]")

# A light Russian stemmer in the manner of Savoy's: strip one case ending, then a
# final ь/и; enough to make "Кореи" = "Корее" and "Зеленским" = "Зеленский".
_ENDINGS = tuple(
    (longer_than, tuple(endings.split()))
    for longer_than, endings in (
        (6, "иями оями"),
        (5, "иям иях оях ями оям ами его ему ими ого ому ыми оев"),
        (4, "ая яя ях юю ах ею их ия ию ою ую ям ых ья ам ей ем ий им ое ой ом ов ые ый ым ми"),
        (3, "а е и о у й ы я ь"),
    )
)

_NUMBER_WORDS = {
    form: str(n)
    for n, forms in enumerate(
        (
            "два две двух двум двумя двое двоих",
            "три трех трем тремя трое троих",
            "четыре четырех четырем четырьмя четверо",
            "пять пяти пятью пятеро",
            "шесть шести шестью шестеро",
            "семь семи семеро",  # not "семью": also "family"
            "восемь восьми восемью",
            "девять девяти девятью",
            "десять десяти десятью",
        ),
        start=2,
    )
    for form in forms.split()
}


def _stem(word: str) -> str:
    """``word`` (casefolded) without its case ending, if Russian; numbers as written
    with "." for "," and ":" ("1,5" = "1.5", "10:00" = "10.00")."""
    if word[0].isdigit():
        return word.replace(",", ".").replace(":", ".")
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    if not _CYRILLIC.search(word):
        return word.removesuffix("'s").removesuffix("’s")
    for longer_than, endings in _ENDINGS:
        if len(word) > longer_than:
            for ending in endings:
                if word.endswith(ending):
                    word = word[: -len(ending)]
                    break
            else:
                continue
            break
    if len(word) > 3 and word[-1] in "ьи":
        word = word[:-1]
    return word


def _normalize(text: str) -> str:
    """The matcher's folding, in its light "surface" form (NFKC, ё = е, dashes and
    spaces unified; case and punctuation kept), without links; "1 510" = "1510"."""
    text = _URL.sub(" ", fold_surface(text))
    return _THOUSANDS.sub(lambda m: m.group(0).replace(" ", ""), text)


@dataclass(frozen=True)
class _Word:
    surface: str  # as written (ё -> е)
    key: str  # casefolded, stemmed
    initial: bool  # first word of a sentence


def _words(title: str, text: str) -> list[_Word]:
    out: list[_Word] = []
    for part in (title, text):
        if not part:
            continue
        part = _normalize(part)
        end = 0
        for m in _TOKEN.finditer(part):
            surface = m.group(0)
            initial = end == 0 or bool(_SENTENCE_END.search(part, end, m.start()))
            end = m.end()
            out.append(_Word(surface, _stem(surface.casefold()), initial))
    return out


def _is_name(word: _Word, names: set[str]) -> bool:
    """Capitalised and not merely the first word of a sentence (unless the same word is
    capitalised mid-sentence elsewhere), or an acronym, or written in mixed case."""
    s = word.surface
    if not s[0].isupper():
        return any(c.isupper() for c in s[1:])  # iPhone, eBay
    if not word.initial or word.key in names:
        return True
    letters = [c for c in s if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)  # ОДКБ, США


def _rare_terms(words: Sequence[_Word]) -> tuple[str, ...]:
    """Numbers, names and long words, as first written, one per key."""
    names = {w.key for w in words if w.surface[0].isupper() and not w.initial}
    seen: dict[str, str] = {}
    for w in words:
        if w.key in seen:
            if not seen[w.key][0].isupper() and _is_name(w, names):
                seen[w.key] = w.surface
            continue
        if w.key[0].isdigit() or _is_name(w, names):
            seen[w.key] = w.surface
        elif len(w.surface) >= _LONG_WORD:
            seen[w.key] = w.surface.lower()
    return tuple(sorted(seen.values(), key=term_key))


@lru_cache(maxsize=1 << 16)  # names and numbers recur across a window's stories
def term_key(term: str) -> str:
    """How rare terms compare: "Кореи" = "Корее", "1,5" = "1.5"."""
    return _stem(_normalize(term).casefold())


# ---------------------------------------------------------------- fingerprints


_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> np.ndarray:
    """The (a, b) of the ``num_perm`` hash functions: datasketch's, for its seed."""
    gen = np.random.RandomState(_SEED)
    pairs = [
        (
            gen.randint(1, _MERSENNE, dtype=np.uint64),
            gen.randint(0, _MERSENNE, dtype=np.uint64),
        )
        for _ in range(num_perm)
    ]
    return np.array(pairs, dtype=np.uint64).T


def _minhash(tokens: Iterable[str], num_perm: int) -> np.ndarray:
    """The MinHash values (uint64) of a non-empty set of tokens, as datasketch's
    ``MinHash.update_batch`` computes them."""
    a, b = _permutations(num_perm)
    hv = np.array(
        [
            int.from_bytes(hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest()[:4], "little")
            for t in tokens
        ],
        dtype=np.uint64,
        ndmin=2,
    ).T
    return np.bitwise_and((hv * a + b) % _MERSENNE, _MAX_HASH).min(axis=0)


class _Bands:
    """LSH banding: entries whose MinHash values agree on every row of at least one
    band are candidates.  A bucket is keyed by a 64-bit hash of (band, its values) and
    holds one entry id or a list of them (most hold one)."""

    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        self._buckets: dict[int, int | list[int]] = {}

    def _keys(self, hashvalues: np.ndarray) -> list[int]:
        data = hashvalues.astype("<u4").tobytes()
        width = self.rows * 4
        return [hash((i, data[i * width : (i + 1) * width])) for i in range(self.bands)]

    def insert(self, eid: int, hashvalues: np.ndarray) -> None:
        buckets = self._buckets
        for key in self._keys(hashvalues):
            held = buckets.get(key)
            if held is None:
                buckets[key] = eid
            elif isinstance(held, int):
                buckets[key] = [held, eid]
            else:
                held.append(eid)

    def remove(self, eid: int, hashvalues: np.ndarray) -> None:
        buckets = self._buckets
        for key in self._keys(hashvalues):
            held = buckets.get(key)
            if held == eid:
                del buckets[key]
            elif isinstance(held, list):
                with contextlib.suppress(ValueError):
                    held.remove(eid)
                if len(held) == 1:
                    buckets[key] = held[0]

    def query(self, hashvalues: np.ndarray) -> set[int]:
        found: set[int] = set()
        buckets = self._buckets
        for key in self._keys(hashvalues):
            held = buckets.get(key)
            if held is None:
                continue
            if isinstance(held, int):
                found.add(held)
            else:
                found.update(held)
        return found


def _forward_ref(origin: str | None) -> str | None:
    """ "channel/123" (lower case) when ``origin`` names a post, else None: a hidden
    sender's display name says nothing about which post was forwarded."""
    if not origin:
        return None
    channel, _, number = origin.strip().strip("/").rpartition("/")
    if channel and number.isdigit() and "/" not in channel:
        return f"{channel.lower().removeprefix('@')}/{int(number)}"
    return None


def _own_ref(story_key: str) -> str | None:
    """A t.me post's own "channel/123", from its ``link:`` story key, so that a forward
    matches the original post as well as other forwards of it."""
    m = re.fullmatch(r"link:https?://t\.me/(?:s/)?([A-Za-z0-9_]+)/(\d+)/?", story_key)
    return f"{m.group(1).lower()}/{int(m.group(2))}" if m else None


@dataclass(frozen=True)
class Fingerprint:
    """What dedup keeps of an item.  ``hashes``: the MinHash values, ``num_perm``
    little-endian uint32 (empty for an item without words); ``terms``: the rare terms
    as written; ``words``: how many words title + text have."""

    story_key: str
    forwarded_from: str | None
    hashes: bytes
    terms: tuple[str, ...]
    words: int

    @property
    def num_perm(self) -> int:
        return len(self.hashes) // 4

    def hashvalues(self) -> np.ndarray:
        """The MinHash values as uint32, a view of ``hashes`` (no copy)."""
        return np.frombuffer(self.hashes, dtype="<u4")

    def to_json(self) -> dict[str, object]:
        return {
            "story_key": self.story_key,
            "forwarded_from": self.forwarded_from,
            "hashes": base64.b64encode(self.hashes).decode("ascii"),
            "terms": list(self.terms),
            "words": self.words,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fingerprint:
        terms = data["terms"]
        forwarded = data.get("forwarded_from")
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ValueError("fingerprint: 'terms' must be a list of strings")
        words = data["words"]
        if not isinstance(words, int):
            raise ValueError("fingerprint: 'words' must be an integer")
        return cls(
            story_key=str(data["story_key"]),
            forwarded_from=None if forwarded is None else str(forwarded),
            hashes=base64.b64decode(str(data["hashes"]), validate=True),
            terms=tuple(terms),
            words=words,
        )

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        return cls.from_json(json.loads(data.decode("utf-8")))


def fingerprint(item: Item, num_perm: int = 128) -> Fingerprint:
    """The item's fingerprint: MinHash over the set of its stemmed words (title + text),
    and its rare terms.  Never raises on any text."""
    words = _words(item.title, item.text)
    keys = {w.key for w in words}
    hashes = b""
    if keys:
        hashes = _minhash(keys, num_perm).astype("<u4").tobytes()
    return Fingerprint(
        story_key=item.story_key,
        forwarded_from=item.forwarded_from,
        hashes=hashes,
        terms=_rare_terms(words),
        words=len(words),
    )


# ----------------------------------------------------------------------- index


@dataclass(frozen=True)
class StoryMatch:
    story_id: str
    reason: str  # "same link" | "same text" | "same forward origin" | "near-duplicate text (...)"
    score: float  # 1.0 for identity; the estimated Jaccard similarity for text


@dataclass
class _Entry:
    story_id: str
    fp: Fingerprint
    at: datetime
    hashvalues: np.ndarray | None
    terms: dict[str, str]  # rare-term key -> as written
    numbers: frozenset[str]  # keys of the number terms
    names: frozenset[str]  # keys of the name terms
    own: str | None  # "channel/123" of a t.me post itself
    origin: str | None  # "channel/123" of the post it forwards


def _entry(story_id: str, fp: Fingerprint, at: datetime) -> _Entry:
    hv = fp.hashvalues() if fp.hashes else None
    own, origin = _own_ref(fp.story_key), _forward_ref(fp.forwarded_from)
    terms: dict[str, str] = {}
    numbers, names = set(), set()
    for term in fp.terms:
        key = term_key(term)
        if not key:
            continue
        terms[key] = term
        if key[0].isdigit():
            numbers.add(key)
        elif any(c.isupper() for c in term):
            names.add(key)
    return _Entry(story_id, fp, at, hv, terms, frozenset(numbers), frozenset(names), own, origin)


class StoryIndex:
    """The fingerprints of the last ``window``, to tell a new story from one seen.

    ``threshold``: minimum estimated Jaccard similarity of the words; ``confirm``:
    minimum Jaccard similarity of the rare terms; ``rare``: a name counts as rare (a
    conflict when each side has one the other lacks) while at most this share of the
    window's entries carry it (names like "США" or "Минобороны" are not).
    """

    def __init__(
        self,
        threshold: float = 0.5,
        window: timedelta = timedelta(hours=48),
        num_perm: int = 128,
        confirm: float = 0.2,
        *,
        short_window: timedelta = timedelta(hours=6),
        rare: float = 0.01,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"dedup threshold must be in (0, 1], not {threshold}")
        if not 0.0 <= confirm <= 1.0:
            raise ValueError(f"dedup confirm must be in [0, 1], not {confirm}")
        if window <= timedelta(0) or short_window <= timedelta(0):
            raise ValueError("dedup windows must be positive")
        self.threshold = threshold
        self.confirm = confirm
        self.window = window
        self.short_window = min(short_window, window)
        self.num_perm = num_perm
        self.rare = rare
        self._lsh = _Bands(*_bands(threshold, num_perm))
        self._entries: dict[int, _Entry] = {}
        self._hashes: dict[int, np.ndarray] = {}  # the entries in the LSH
        self._by_key: dict[str, set[int]] = {}
        self._by_ref: dict[str, set[int]] = {}
        self._df: Counter[str] = Counter()  # rare-term key -> entries carrying it
        self._expiry: list[tuple[datetime, int]] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, story_id: str, fp: Fingerprint, at: datetime) -> None:
        """Index ``fp`` as part of story ``story_id``, seen at ``at``."""
        self._check(fp)
        eid = self._next
        self._next += 1
        e = _entry(story_id, fp, at)
        self._entries[eid] = e
        self._by_key.setdefault(fp.story_key, set()).add(eid)
        for ref in {e.own, e.origin} - {None}:
            self._by_ref.setdefault(ref, set()).add(eid)
        if e.hashvalues is not None:
            self._hashes[eid] = e.hashvalues
            self._lsh.insert(eid, e.hashvalues)
        self._df.update(e.terms.keys())
        heapq.heappush(self._expiry, (at, eid))

    def find(self, fp: Fingerprint, at: datetime) -> StoryMatch | None:
        """The earlier story ``fp`` belongs to, or None for a new story."""
        found = self.matches(fp, at)
        return found[0] if found else None

    def matches(self, fp: Fingerprint, at: datetime) -> list[StoryMatch]:
        """Every indexed entry ``fp`` matches, best first (identity, then by score), one
        per story: for "also seen in" lists."""
        self._check(fp)
        new = _entry("", fp, at)
        candidates = set(self._by_key.get(fp.story_key, ()))
        for ref in {new.own, new.origin} - {None}:
            candidates |= self._by_ref.get(ref, set())
        if new.hashvalues is not None:
            # LSH candidates, first sifted by their estimated Jaccard all at once
            similar = [e for e in self._lsh.query(new.hashvalues) if e not in candidates]
            if similar:
                stacked = np.stack([self._hashes[e] for e in similar])
                jaccard = np.count_nonzero(stacked == new.hashvalues, axis=1) / self.num_perm
                candidates.update(
                    e for e, j in zip(similar, jaccard, strict=True) if j >= self.threshold
                )
        found: dict[str, tuple[float, int, StoryMatch]] = {}
        for eid in candidates:
            old = self._entries[eid]
            if not self._within(new, old):
                continue
            match = self._judge(new, old)
            if match is None:
                continue
            rank = (match.score, -eid)
            if old.story_id not in found or rank > found[old.story_id][:2]:
                found[old.story_id] = (*rank, match)
        return [m for *_, m in sorted(found.values(), key=lambda f: f[:2], reverse=True)]

    def expire(self, now: datetime) -> int:
        """Drop the entries older than the window; returns how many."""
        dropped = 0
        while self._expiry and self._expiry[0][0] < now - self.window:
            _, eid = heapq.heappop(self._expiry)
            e = self._entries.pop(eid)
            _discard(self._by_key, e.fp.story_key, eid)
            for ref in {e.own, e.origin} - {None}:
                _discard(self._by_ref, ref, eid)
            if e.hashvalues is not None:
                self._lsh.remove(eid, self._hashes.pop(eid))
            self._df.subtract(e.terms.keys())
            for key in e.terms:
                if self._df[key] <= 0:
                    del self._df[key]
            dropped += 1
        return dropped

    # ------------------------------------------------------------------ rules

    def _judge(self, new: _Entry, old: _Entry) -> StoryMatch | None:
        if new.fp.story_key == old.fp.story_key:
            if new.fp.story_key.startswith("link:"):
                return StoryMatch(old.story_id, "same link", 1.0)
            return StoryMatch(old.story_id, "same text", 1.0)
        if _forwards(new, old):
            return StoryMatch(old.story_id, "same forward origin", 1.0)
        if new.hashvalues is None or old.hashvalues is None:
            return None
        jaccard = float(np.count_nonzero(new.hashvalues == old.hashvalues)) / self.num_perm
        if jaccard < self.threshold:
            return None
        shared = self._confirmed(new, old)
        if shared is None:
            return None
        shown = ", ".join(shared[:5]) or "-"
        return StoryMatch(
            old.story_id, f"near-duplicate text (jaccard {jaccard:.2f}, shared: {shown})", jaccard
        )

    def _confirmed(self, new: _Entry, old: _Entry) -> list[str] | None:
        """The shared rare terms (as written in ``new``, rarest first) if the second
        signal agrees, else None."""
        shared = new.terms.keys() & old.terms.keys()
        union = len(new.terms.keys() | old.terms.keys())
        agree = len(shared) / union if union else 0.0
        if agree < self.confirm:
            return None
        if _conflict(new.numbers, old.numbers) and 2 * len(new.numbers & old.numbers) <= min(
            len(new.numbers), len(old.numbers)
        ):
            return None
        limit = max(2.0, self.rare * len(self._entries))
        rare_new = {k for k in new.names - old.terms.keys() if self._df[k] <= limit}
        rare_old = {k for k in old.names - new.terms.keys() if self._df[k] <= limit}
        if rare_new and rare_old and agree < _NAMES_OVERRULE:
            return None
        return [new.terms[k] for k in sorted(shared, key=lambda k: (self._df[k], k))]

    def _within(self, new: _Entry, old: _Entry) -> bool:
        """Within the window; within the short window where identity rests on the text
        of a short post (a same ``hash:`` key or words alone)."""
        span = self.window
        by_link = new.fp.story_key == old.fp.story_key and new.fp.story_key.startswith("link:")
        if not (by_link or _forwards(new, old)) and min(new.fp.words, old.fp.words) < SHORT_POST:
            span = self.short_window
        return abs(new.at - old.at) <= span

    def _check(self, fp: Fingerprint) -> None:
        if fp.hashes and fp.num_perm != self.num_perm:
            raise ValueError(
                f"fingerprint has {fp.num_perm} MinHash values, the index {self.num_perm}: "
                "make both with the same num_perm"
            )


def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """LSH bands x rows: as many rows per band as keep the chance that a pair at the
    threshold becomes a candidate >= 95% (fewer rows: more candidates to check)."""
    rows = 1
    while rows < num_perm:
        nxt = rows + 1
        if 1 - (1 - threshold**nxt) ** (num_perm // nxt) < 0.95:
            break
        rows = nxt
    return num_perm // rows, rows


def _conflict(a: set[str], b: set[str]) -> bool:
    """Each side has one the other lacks."""
    return bool(a - b) and bool(b - a)


def _forwards(new: _Entry, old: _Entry) -> bool:
    """One forwards the other, or both forward the same post."""
    if new.origin and new.origin in (old.origin, old.own):
        return True
    return bool(new.own and new.own == old.origin)


def _discard(index: dict[str, set[int]], key: str, eid: int) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(eid)
        if not ids:
            del index[key]


# ----------------------------------------------------------------------- bench


def bench(items: Sequence[Item], window: int = 10_000, seconds: float = 1.0) -> dict[str, float]:
    """Throughput over a window of ``window`` indexed items (``items`` cycled, each
    repeat with its own story key, so a large window holds copies: a pessimistic case).

    ``fingerprints_per_s``: ``fingerprint(item)``; ``finds_per_s``: ``index.find`` on
    ready fingerprints; ``checks_per_s``: fingerprint + find + add, what the pipeline
    does per new item."""
    if not items:
        raise ValueError("bench needs items")
    base = datetime.fromisoformat("2024-12-01T00:00:00+00:00")
    fps = [fingerprint(i) for i in items]

    def copy(n: int) -> Fingerprint:
        fp = fps[n % len(fps)]
        return Fingerprint(f"{fp.story_key}#{n}", None, fp.hashes, fp.terms, fp.words)

    index = StoryIndex()
    for n in range(window):
        index.add(f"s{n}", copy(n), base)

    def rate(run: Callable[[int], object]) -> float:
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run(done)
            done += 1
        return done / (time.perf_counter() - start)

    def check(n: int) -> None:
        item = items[n % len(items)]
        fp = fingerprint(item)
        if index.find(fp, base) is None:
            index.add(f"b{n}", fp, base)

    found = sum(index.find(fp, base) is not None for fp in fps)
    return {
        "window": float(len(index)),
        "items": float(len(items)),
        "found_share": found / len(fps),
        "fingerprints_per_s": rate(lambda n: fingerprint(items[n % len(items)])),
        "finds_per_s": rate(lambda n: index.find(fps[n % len(fps)], base)),
        "checks_per_s": rate(check),
    }
