"""`make bench`, the matcher: Dozor against an automaton peer and the naive `re` per
rule, on the same real items and the same rules, at real hit rates.

    python -m tests.bench_match                  # prints the table
    python -m tests.bench_match --json out.json  # also stores it under "matching"

Items: every post of the shared Telegram corpus (``tg_news_posts_nktkln``, the first
line is the title), plus the items of English feeds (the Guardian sample and the
English feeds of ``feeds_rss_parser``), every length; ``samples/`` when the corpus is
not there.

Rules: 3 terms each (``any``), one term in five a two-word phrase.  A term either occurs
in the items or not, in any form the matcher knows (a word's inflected forms, a
phrase's combinations of them), judged over the items' words:

- "≈0, ≈10, ≈100 fired": the first term of each rule occurs in a share of the items
  such that about that many rules fire per item (at most half the rules: 10 rules fire
  ≈5), drawn from the items' own words and word pairs; the other two terms are words of
  other real news and names of the Russian dictionary that no item contains;
- "≈10 fired 5%~" (10,000 rules): the ≈10 set with "~" after the words of one term in
  twenty (typos allowed: ``bot.matching.fuzzy``); the peer has no typos, so it fires
  fewer;
- "≈10 5%~ names" (10,000 rules): the ≈10 set with one term in twenty replaced by a
  name of the items with "~" (``Пригожин~``): a capitalised word after a lowercase one
  in some post that is a name or unknown to the dictionaries, what issue 18's "names
  that survive a typo" are (what ``fuzzy = true`` picks); the
  row above fuzzes common words ("который~"), near which almost every item has a word;
- "absent names": the earlier benchmark's set, 3 names of people, places and
  organisations from pymorphy3's dictionary, most of them in no item.

Methods, each over the same items and rules, timed in the same rounds (interleaved):

- dozor: ``Matcher(rules).match(item)`` from the raw item: folding, inflected forms,
  phrases, URL blanking; a list of ``Match``es (their spans are found when first read:
  "with spans" reads them all);
- aho: pyahocorasick over text casefolded, ё as е, split at ``[\\W_]+`` and joined by
  single spaces; its keys are the very forms Dozor's terms have (a phrase: every
  combination of its words' forms), each key's value the rules it fires; an item's
  result is the set of rules fired.  Its compile time and memory are the automaton's
  with those values (the keys and the rules they fire are given);
- re: one compiled ``re`` per rule (the terms as written, ``\\b`` at both ends), at
  10 and 1,000 rules on every 40th item, 10,000 rules extrapolated (1,000 rules' ÷ 10).

Reported: items/s (the median of ROUNDS timed passes), rules fired per item, compile
seconds (forms cold: no inflection cached), memory (MB that compiling added and that
dropping the compiled rules gives back, by tracemalloc in a forked child; the inflection
caches that stay are given beside), the ratios, and a check that Dozor finds every hit
the peer finds, rule by rule, for the sets' single-word terms outside URLs and markup.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import html
import itertools
import json
import multiprocessing
import random
import re
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick

from bot.matching import Matcher
from bot.matching import inflect as inflection
from bot.matching.matcher import _name_like, _Options, _word_slots
from bot.matching.normalize import blank_markup
from bot.matching.query import parse_list_entry
from bot.model import Item, Rule

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
TG_CORPUS = SHARED / "tg_news_posts_nktkln"
ENGLISH_FEEDS = (
    ROOT / "samples" / "guardian-world-2018-01-31.rss",
    *(
        SHARED / "feeds_rss_parser" / "input" / name
        for name in (
            "atom-customfields.atom",
            "content-encoded.rss",
            "customfields.rss",
            "feedburner.atom",
            "many-links.rss",
            "reddit-atom.rss",
            "reddit-home.rss",
            "reddit.rss",
            "rss-1.rss",
        )
    ),
)
OTHER_NEWS = SHARED / "ru_news_corus_samples"
VERSION = "v2"  # of the cached vocabulary: bump when its content changes
SIZES = (10, 1_000, 10_000)
HIT_RATES = (0, 10, 100)  # rules fired per item the sets aim at
PHRASES = 0.2  # share of two-word terms
ROUNDS = 5
NAIVE_EVERY = 40  # the naive re is timed on every 40th item
SPLIT = re.compile(r"[\W_]+")
PHASES = False  # print how long each row's phases take

# Targets (issue 13): (what, limit); checked in ``verdicts``.
PEER_RATIO = 0.5  # Dozor >= half the peer's items/s at every size and hit rate
RATE_10 = 20_000  # items/s at 10,000 rules, ≈10 fired/item
RATE_100 = 2_000  # items/s at 10,000 rules, ≈100 fired/item
MEMORY_MB = 40.0  # added by compiling 10,000 rules
COMPILE_S = 2.0  # seconds to compile 10,000 rules


# --------------------------------------------------------------------------- items


def match_items() -> list[Item]:
    """The real posts (title = first line) and English feed items, every length."""
    from watchers.rss import parse_feed

    out: list[Item] = []
    for path in sorted(TG_CORPUS.glob("*_messages.json")):
        for post in json.loads(path.read_text("utf-8")):
            title, _, body = (post.get("text") or "").partition("\n")
            key = f"{path.stem}:{post['message_id']}"
            out.append(Item(path.stem, key, key, title, body))
    seen: set[tuple[str, str]] = set()
    feeds = [p for p in ENGLISH_FEEDS if p.exists()]
    if not out:  # no shared corpus: the bundled samples
        feeds += sorted((ROOT / "samples").glob("*.json"))
    for path in feeds:
        for entry in parse_feed(path.read_bytes(), {}, path.stem, (), "https://example.org/").items:
            if (entry.title or entry.text) and (entry.title, entry.text) not in seen:
                seen.add((entry.title, entry.text))
                out.append(entry)
    return out


def peer_words(text: str) -> list[str]:
    """The peer's normalization: casefold, ё as е, split at runs of non-word characters."""
    return [w for w in SPLIT.split(text.casefold().replace("ё", "е")) if w]


# --------------------------------------------------------------------------- rules


@dataclass
class Vocabulary:
    """Which words and word pairs occur in which items (bitsets over the items), terms
    that occur in none, and terms by how many items they occur in."""

    items: int
    absent: list[str]
    names: list[str]
    bands: dict[str, list[list[str]]] = field(default_factory=dict)  # words, phrases
    corpus_names: list[str] = field(default_factory=list)  # name-like words of the items

    def terms_near(self, share: float) -> tuple[list[str], list[str]]:
        return tuple(self.bands[f"{share:.6f}"])  # type: ignore[return-value]


def _forms(word: str) -> frozenset[str]:
    return inflection.slavic_forms(word) if re.search("[а-яё]", word) else frozenset({word})


def vocabulary(items: list[Item]) -> Vocabulary:
    """Computed once (about a minute: every candidate word's forms) and cached in the
    temp dir, keyed by the items and the inflection code."""
    vocab = _vocabulary(items)
    vocab.corpus_names = corpus_names(items)
    return vocab


def _vocabulary(items: list[Item]) -> Vocabulary:
    digest = hashlib.sha256(VERSION.encode())
    for entry in items:
        digest.update(f"{entry.title}\n{entry.text}\x00".encode())
    for name in ("inflect.py", "normalize.py"):
        digest.update((ROOT / "bot" / "matching" / name).read_bytes())
    cache = Path(tempfile.gettempdir()) / f"dozor-bench-match-{digest.hexdigest()[:16]}.json"
    if cache.exists():
        data = json.loads(cache.read_text("utf-8"))
        return Vocabulary(len(items), data["absent"], data["names"], data["bands"])
    words: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for n, entry in enumerate(items):
        bit = 1 << n
        for text in (entry.title, entry.text):
            found = peer_words(text)
            for word in found:
                words[word] = words.get(word, 0) | bit
            for pair in itertools.pairwise(found):
                pairs[pair] = pairs.get(pair, 0) | bit

    def df(term: str) -> int:
        parts = term.split()
        bits = 0
        if len(parts) == 1:
            for form in _forms(parts[0]):
                bits |= words.get(form, 0)
        else:
            second = _forms(parts[1])
            for a in _forms(parts[0]):
                for b in second:
                    bits |= pairs.get((a, b), 0)
        return bits.bit_count()

    from tests.bench import entity_words

    other = [
        html.unescape(re.sub(r"<[^>]+>", " ", p.read_text("utf-8", errors="replace")))
        for p in sorted(OTHER_NEWS.glob("*"))
    ]
    names = entity_words(30_000)
    candidates = sorted(
        {w for text in other for w in peer_words(text) if len(w) >= 5 and w.isalpha()} | set(names)
    )
    absent = [w for w in candidates if w not in words and not df(w)]
    vocab = Vocabulary(len(items), absent, names)
    rng = random.Random(13)
    for share in sorted({_share(size, target) for size in SIZES for target in HIT_RATES} - {0}):
        want = share * len(items)
        low, high = max(1.0, want / 1.6), max(1.0, want * 1.6)
        pool_words = sorted(
            w
            for w, bits in words.items()
            if len(w) >= 4 and w.isalpha() and low / 4 <= bits.bit_count() <= high
        )
        pool_pairs = sorted(
            f"{a} {b}"
            for (a, b), bits in pairs.items()
            if a.isalpha() and b.isalpha() and low / 4 <= bits.bit_count() <= high
        )
        rng.shuffle(pool_words)
        rng.shuffle(pool_pairs)
        near = list(itertools.islice((w for w in pool_words if low <= df(w) <= high), 400))
        if not near:  # nothing that common (10 rules, half of them firing): the commonest
            common = sorted(
                (w for w in words if len(w) >= 4 and w.isalpha()),
                key=lambda w: -words[w].bit_count(),
            )
            near = common[:20]
        vocab.bands[f"{share:.6f}"] = [
            near,
            list(itertools.islice((p for p in pool_pairs if low <= df(p) <= high), 100)),
        ]
    cache.write_text(
        json.dumps(
            {"absent": vocab.absent, "names": vocab.names, "bands": vocab.bands},
            ensure_ascii=False,
        ),
        "utf-8",
    )
    return vocab


def _share(size: int, target: int) -> float:
    """The share of items each rule's first term occurs in, for ``target`` fired/item."""
    return min(target, size / 2) / size


def rule_sets(vocab: Vocabulary) -> list[tuple[str, int, list[Rule]]]:
    """(label, size, rules) for every row of the table, in order."""
    out = []
    for size in SIZES:
        done: set[float] = set()
        for target in HIT_RATES:
            share = _share(size, target)
            if share in done:
                continue  # 10 rules: ≈100 fired is the ≈5 of ≈10
            done.add(share)
            out.append((f"≈{round(share * size)} fired", size, corpus_rules(vocab, size, share)))
        if size == 10_000:  # 5 % of the terms with "~" (Вагнер~): the fuzzy candidate check
            share = _share(size, 10)
            plain = corpus_rules(vocab, size, share)
            out.append((FUZZY_SET, size, fuzzy_rules(plain)))
            out.append((FUZZY_NAMES_SET, size, fuzzy_name_rules(plain, vocab.corpus_names)))
        names = vocab.names
        picked = [names[k % len(names)] for k in range(size * 3)]
        out.append(
            (
                "absent names",
                size,
                [Rule(f"r{k}", any=tuple(picked[3 * k : 3 * k + 3])) for k in range(size)],
            )
        )
    return out


FUZZY_SET = "≈10 fired 5%~"
FUZZY_NAMES_SET = "≈10 5%~ names"
FUZZY_SHARE = 0.05
_NAME = re.compile(r"(?<=[a-zа-яё,] )[A-ZА-ЯЁ][a-zа-яё]{3,}\b")


def corpus_names(items: list[Item]) -> list[str]:
    """Name-like words of the items: capitalised after a lowercase word or a comma, and a
    name or unknown to the dictionaries (as the rule option ``fuzzy`` picks them)."""
    found = {m.group() for i in items for m in _NAME.finditer(f"{i.title} {i.text}")}
    return sorted(w for w in found if _name_like(w))


def fuzzy_name_rules(rules: list[Rule], names: list[str]) -> list[Rule]:
    """``rules`` with one term in twenty (chosen at random) replaced by ``Name~``."""
    rng = random.Random(18)
    out = []
    for rule in rules:
        terms = tuple(
            f"{rng.choice(names)}~" if rng.random() < FUZZY_SHARE else t for t in rule.any
        )
        out.append(Rule(rule.name, any=terms))
    return out


def fuzzy_rules(rules: list[Rule]) -> list[Rule]:
    """``rules`` with "~" after every word of one term in twenty (chosen at random)."""
    rng = random.Random(5)
    out = []
    for rule in rules:
        terms = tuple(
            " ".join(f"{w}~" for w in t.split()) if rng.random() < FUZZY_SHARE else t
            for t in rule.any
        )
        out.append(Rule(rule.name, any=terms))
    return out


def corpus_rules(vocab: Vocabulary, size: int, share: float) -> list[Rule]:
    rng = random.Random(size * 1000 + round(share * 1e6))
    pool = list(vocab.absent)
    rng.shuffle(pool)
    rules = []
    for k in range(size):
        terms = []
        for j in range(3):
            n = (3 * k + j) * 2
            phrase = rng.random() < PHRASES
            terms.append(
                f"{pool[n % len(pool)]} {pool[(n + 1) % len(pool)]}"
                if phrase
                else pool[n % len(pool)]
            )
        if share:
            words, phrases = vocab.terms_near(share)
            terms[0] = rng.choice(phrases if phrases and rng.random() < PHRASES else words)
        rules.append(Rule(f"r{k}", any=tuple(terms)))
    return rules


# --------------------------------------------------------------------------- peers


def term_forms(term: str) -> list[str]:
    """A term's keys as the peer holds them: Dozor's forms of its words, combined."""
    parsed = parse_list_entry(term)
    slots = [
        sorted(token for token, _ in slot if token)  # "": a fuzzy word (the peer has none)
        for word in parsed.words  # type: ignore[union-attr]
        for slot in _word_slots(word, parsed.exact, _Options())  # type: ignore[union-attr]
    ]
    return [" " + " ".join(combo) + " " for combo in itertools.product(*slots)]


def peer_keys(forms: list[list[list[str]]]) -> dict[str, set[int]]:
    """Key -> the rules it fires, from each rule's terms' keys (``term_forms``)."""
    keys: dict[str, set[int]] = {}
    for number, rule in enumerate(forms):
        for term in rule:
            for key in term:
                keys.setdefault(key, set()).add(number)
    return keys


class AhoPeer:
    """pyahocorasick over simply normalized text; the same forms as Dozor's terms."""

    def __init__(self, keys: dict[str, set[int]]):
        self.automaton = ahocorasick.Automaton()
        for key, rules in keys.items():
            self.automaton.add_word(key, tuple(sorted(rules)))
        self.automaton.make_automaton()
        self.keys = len(keys)

    def match(self, item: Item) -> set[int]:
        title = " ".join(peer_words(item.title))
        text = " ".join(peer_words(item.text))
        fired: set[int] = set()
        for _, rules in self.automaton.iter(f" {title} \n {text} "):
            fired.update(rules)
        return fired


def naive(rules: list[Rule]) -> Callable[[Item], int]:
    """One compiled ``re`` per rule, the terms as written (a phrase's words apart by
    anything but a word character)."""
    compiled = [
        re.compile(
            r"\b(?:" + "|".join(r"\W+".join(map(re.escape, t.split())) for t in rule.any) + r")\b",
            re.I,
        )
        for rule in rules
    ]

    def run(item: Item) -> int:
        return sum(1 for rx in compiled if rx.search(item.title) or rx.search(item.text))

    return run


# --------------------------------------------------------------------------- measuring


def timed_rounds(
    methods: dict[str, Callable[[Item], object]], items: list[Item]
) -> dict[str, float]:
    """Items/s of each method: the median of ROUNDS passes over ``items``, the methods
    taking turns in every round (so a busy moment of the machine hits all of them)."""
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(ROUNDS):
        for name, fn in methods.items():
            start = time.perf_counter()
            for entry in items:
                fn(entry)
            rates[name].append(len(items) / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def clear_form_caches() -> None:
    for cached in (
        inflection.language_forms,
        inflection.word_languages,
        inflection.capital_forms,
        inflection.derived_forms,
        inflection.english_forms,
    ):
        cached.cache_clear()


def _memory(build: Callable[[], object]) -> tuple[float, float]:
    clear_form_caches()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    del built
    gc.collect()
    dropped = tracemalloc.get_traced_memory()[0]
    return (after - dropped) / 2**20, (dropped - before) / 2**20


def _child(fn: Callable[..., Any], args: tuple[Any, ...], pipe: Any) -> None:
    pipe.send(fn(*args))
    pipe.close()


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a forked child: every row starts from the same heap (this
    process holds only the items and the rules), not from the previous rows' leftovers,
    which slowed the later rows by up to a third."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(fn, args, theirs))
    child.start()
    result = ours.recv()
    child.join()
    return result


def memory_mb(build: Callable[[], object]) -> tuple[float, float]:
    """(MB the built object holds, MB of caches that stay after it is dropped), measured
    with tracemalloc in a forked child, so nothing this process holds is counted."""
    return in_child(_memory, build)  # type: ignore[no-any-return]


def missed_hits(rules: list[Rule], items: list[Item]) -> tuple[int, int]:
    """(hits the peer finds that Dozor does not, hits the peer finds) for each
    single-word term of ``rules`` as a rule of its own, over text without URLs and
    markup (which Dozor does not read as words)."""
    words = sorted({t for r in rules for t in r.any if len(peer_words(t)) == 1})
    single = [Rule(f"w{n}", any=(w,)) for n, w in enumerate(words)]
    dozor = Matcher(single)
    peer = AhoPeer(peer_keys([[term_forms(w)] for w in words]))
    missed = total = 0
    for entry in items:
        plain = Item(
            entry.source, entry.key, entry.story_key,
            blank_markup(entry.title), blank_markup(entry.text),
        )  # fmt: skip
        theirs = {f"w{n}" for n in peer.match(plain)}
        ours = {m.rule for m in dozor.match(entry)}
        total += len(theirs)
        missed += len(theirs - ours)
    return missed, total


@dataclass
class Row:
    label: str
    rules: int
    keys: int
    compile_s: float
    warm_s: float
    dozor: float
    spans: float
    fired: float
    peer: float
    peer_fired: float
    peer_keys: int
    peer_compile_s: float
    naive: float | None
    naive_extrapolated: bool
    dozor_mb: float
    caches_mb: float
    peer_mb: float
    missed: int
    checked: int

    @property
    def ratio(self) -> float:
        return self.dozor / self.peer


def measure(label: str, rules: list[Rule], items: list[Item], naive_rates: dict[int, float]) -> Row:
    began = time.perf_counter()
    clear_form_caches()
    start = time.perf_counter()
    matcher = Matcher(rules)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    matcher = Matcher(rules)  # again: the words' forms are cached now
    warm_s = time.perf_counter() - start
    keys = peer_keys([[term_forms(t) for t in rule.any] for rule in rules])
    start = time.perf_counter()
    peer = AhoPeer(keys)
    peer_compile_s = time.perf_counter() - start
    fired = sum(len(matcher.match(i)) for i in items) / len(items)
    peer_fired = sum(len(peer.match(i)) for i in items) / len(items)

    def with_spans(entry: Item) -> None:
        for m in matcher.match(entry):
            m.spans  # noqa: B018 - read them

    rates = timed_rounds({"dozor": matcher.match, "peer": peer.match, "spans": with_spans}, items)
    size = len(rules)
    extrapolated = size > 1000
    if size <= 1000 and size not in naive_rates:
        sample = items[::NAIVE_EVERY]
        naive_rates[size] = timed_rounds({"re": naive(rules)}, sample)["re"]
    naive_rate = naive_rates.get(size, naive_rates.get(1000, 0) / (size / 1000))
    timed = time.perf_counter()
    dozor_mb, caches_mb = memory_mb(lambda: Matcher(rules))
    peer_mb, _ = memory_mb(lambda: AhoPeer(keys))
    memory = time.perf_counter()
    missed, checked = missed_hits(rules, items)
    if PHASES:
        print(f"   ({timed - began:.0f} s timing, {memory - timed:.0f} s memory, "
              f"{time.perf_counter() - memory:.0f} s check)")  # fmt: skip
    return Row(
        label, size, matcher.keys, compile_s, warm_s, rates["dozor"], rates["spans"], fired,
        rates["peer"], peer_fired, peer.keys, peer_compile_s, naive_rate, extrapolated,
        dozor_mb, caches_mb, peer_mb, missed, checked,
    )  # fmt: skip


# --------------------------------------------------------------------------- report

HEADER = (
    f"{'rules':>7} {'set':<13}{'fired':>7}{'dozor/s':>9}{'+spans/s':>9}{'aho/s':>9}"
    f"{'÷aho':>6}{'re/s':>9}{'÷re':>7}{'compile':>8}{'warm':>6}{'aho':>6}{'MB':>6}{'+cache':>7}"
    f"{'aho MB':>7}{'keys':>8}{'aho keys':>9}  missed"
)


def line(row: Row) -> str:
    naive_text = f"{row.naive:>8,.1f}{'*' if row.naive_extrapolated else ' '}"
    return (
        f"{row.rules:>7,} {row.label:<13}{row.fired:>7.1f}{row.dozor:>9,.0f}{row.spans:>9,.0f}"
        f"{row.peer:>9,.0f}{row.ratio:>6.2f}{naive_text}{row.dozor / row.naive:>6,.0f}x"
        f"{row.compile_s:>7.2f}s{row.warm_s:>5.1f}s{row.peer_compile_s:>5.1f}s{row.dozor_mb:>6.1f}"
        f"{row.caches_mb:>7.1f}{row.peer_mb:>7.1f}{row.keys:>8,}{row.peer_keys:>9,}"
        f"  {row.missed}/{row.checked}"
    )


def verdicts(rows: list[Row]) -> list[tuple[str, bool]]:
    """Each target as (its text with the measured number, met)."""
    out = []
    worst = min(rows, key=lambda r: r.ratio)
    out.append(
        (
            f"Dozor >= {PEER_RATIO}x the aho peer at every size and hit rate: lowest "
            f"{worst.ratio:.2f}x ({worst.rules:,} rules, {worst.label})",
            worst.ratio >= PEER_RATIO,
        )
    )
    top = [r for r in rows if r.rules == 10_000]
    for target, limit in (
        ("≈10 fired", RATE_10),
        (FUZZY_SET, RATE_10),
        (FUZZY_NAMES_SET, RATE_10),
        ("≈100 fired", RATE_100),
    ):
        for row in top:
            if row.label == target:
                out.append(
                    (
                        f"10,000 rules, {row.fired:.0f} fired/item: {row.dozor:,.0f} items/s "
                        f">= {limit:,}",
                        row.dozor >= limit,
                    )
                )
    heaviest = max(top, key=lambda r: r.dozor_mb)
    out.append(
        (
            f"10,000 rules: compiled rules hold {heaviest.dozor_mb:.1f} MB <= {MEMORY_MB:.0f} MB "
            f"({heaviest.label}; the inflection caches add {heaviest.caches_mb:.1f} MB)",
            heaviest.dozor_mb <= MEMORY_MB,
        )
    )
    slowest = max(top, key=lambda r: r.compile_s)
    out.append(
        (
            f"10,000 rules compile in {slowest.compile_s:.2f} s <= {COMPILE_S:.0f} s "
            f"({slowest.label}, forms cold; {slowest.warm_s:.2f} s with the forms cached)",
            slowest.compile_s <= COMPILE_S,
        )
    )
    missed = sum(r.missed for r in rows)
    out.append(
        (
            f"Dozor finds every hit the peer finds on single-word terms: {missed} missed of "
            f"{sum(r.checked for r in rows):,}",
            missed == 0,
        )
    )
    return out


def run(json_path: Path | None = None) -> list[Row]:
    items = match_items()
    vocab = vocabulary(items)
    size = sum(len(i.title) + len(i.text) for i in items) / len(items)
    english = sum(1 for i in items if not i.source.endswith("_messages"))
    print(
        f"matching: {len(items):,} items ({len(items) - english:,} real Telegram posts, "
        f"{english} English feed items), {size:,.0f} chars on average; {ROUNDS} rounds, "
        "medians\n"
    )
    print(HEADER)
    rows: list[Row] = []
    naive_rates: dict[int, float] = {}
    for label, _, rules in rule_sets(vocab):
        row = in_child(measure, label, rules, items, naive_rates)
        if not row.naive_extrapolated:
            naive_rates[row.rules] = row.naive
        rows.append(row)
        print(line(row), flush=True)
    print(
        "\n  fired: rules fired per item (dozor; the peer's in the JSON); +spans: dozor reading "
        "every match's spans;\n  ÷aho, ÷re: dozor's items/s over theirs; compile: forms cold, "
        "warm: cached; aho: its automaton\n  only; MB: held by the compiled rules, +cache: the "
        "inflection caches that stay; *: extrapolated\n  from 1,000 rules; missed: single-word "
        "hits the peer finds and dozor does not, of all it finds\n  (outside URLs and markup)"
    )
    for text, ok in verdicts(rows):
        print(f"  target {'met' if ok else 'MISSED'}: {text}")
    print()
    if json_path is not None:
        store(json_path, rows)
    return rows


def store(path: Path, rows: Iterable[Row]) -> None:
    """Put the rows under "matching" in ``path`` (a JSON object; other keys kept)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        data = {}
    rows = list(rows)
    data["matching"] = {
        "rows": [dict(vars(r), ratio=round(r.ratio, 3)) for r in rows],
        "targets": {text: ok for text, ok in verdicts(rows)},
        "rounds": ROUNDS,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    run(parser.parse_args().json)
