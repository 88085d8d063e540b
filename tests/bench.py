"""`make bench`: throughput of the pipeline's CPU stages, each against a baseline
measured in the same run on the same data (real corpus text), printed as ratios.

    python -m tests.bench

- matching: Dozor's Matcher vs one compiled ``re`` per rule (how most bots do it),
  at 10 and 1,000 keyword rules, on real Russian Telegram posts;
- feed parsing: a poll whose body is byte-identical to the last one (skipped) vs a
  poll that parses, and parse throughput in items/s.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from bot.matching import Matcher
from bot.model import Item, Rule
from watchers.rss import parse_feed

ROOT = Path(__file__).resolve().parents[1]


def items() -> list[Item]:
    feeds = sorted((ROOT / "samples").glob("*.json"))
    out = []
    for path in feeds:
        for n, entry in enumerate(json.loads(path.read_text("utf-8"))["items"]):
            text = re.sub(r"<[^>]+>", " ", entry["content_html"])
            out.append(Item(path.stem, f"{path.stem}:{n}", f"hash:{n}", entry["title"], text))
    return out


def keyword_rules(count: int, corpus: list[Item]) -> list[Rule]:
    """Rules of 3 real words each, drawn from the corpus vocabulary."""
    words = sorted({w for i in corpus for w in re.findall(r"[А-Яа-яЁё]{5,}", i.text)})
    step = max(1, len(words) // (count * 3))
    picked = [words[(k * step) % len(words)] for k in range(count * 3)]
    return [Rule(f"r{k}", any=tuple(picked[k * 3 : k * 3 + 3])) for k in range(count)]


def naive(rules: list[Rule]) -> Callable[[Item], int]:
    compiled = [
        re.compile(r"\b(?:" + "|".join(map(re.escape, r.any)) + r")\b", re.I) for r in rules
    ]

    def run(item: Item) -> int:
        text = item.title + "\n" + item.text
        return sum(1 for rx in compiled if rx.search(text))

    return run


def rate(fn: Callable[[Item], object], data: list[Item], seconds: float = 1.0) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in data:
            fn(item)
        done += len(data)
    return done / (time.perf_counter() - start)


def main() -> None:
    corpus = items()
    print(
        f"corpus: {len(corpus)} real posts, {sum(len(i.text) for i in corpus) // len(corpus)} "
        "chars each on average\n"
    )
    print(f"{'stage':<34}{'dozor/s':>12}{'baseline/s':>13}{'ratio':>9}")
    for count in (10, 1000):
        rules = keyword_rules(count, corpus)
        matcher = Matcher(rules)
        base = naive(rules)
        hits_ours = sum(bool(matcher.match(i)) for i in corpus)
        hits_base = sum(bool(base(i)) for i in corpus)
        ours, theirs = rate(matcher.match, corpus), rate(base, corpus)
        print(
            f"{f'match, {count} rules (items)':<34}{ours:>12,.0f}{theirs:>13,.0f}"
            f"{ours / theirs:>8.1f}x   (items hit: {hits_ours} vs {hits_base})"
        )

    body = (ROOT / "samples" / "guardian-world-2018-01-31.rss").read_bytes()
    parsed = parse_feed(body, {}, "g", (), "https://www.theguardian.com/")
    n = len(parsed.items)
    start = time.perf_counter()
    rounds = 0
    while time.perf_counter() - start < 1.0:
        parse_feed(body, {}, "g", (), "https://www.theguardian.com/")
        rounds += 1
    parse_items = rounds * n / (time.perf_counter() - start)
    last = hashlib.sha256(body).hexdigest()
    start = time.perf_counter()
    skips = 0
    while time.perf_counter() - start < 0.2:
        skips += hashlib.sha256(body).hexdigest() == last
    skip_rate = skips / (time.perf_counter() - start)
    print(
        f"{'unchanged feed skipped (polls)':<34}{skip_rate:>12,.0f}{parse_items / n:>13,.0f}"
        f"{skip_rate / (parse_items / n):>8.0f}x   (baseline: parse it again)"
    )
    print(f"{'feed parsing (items, 1 core)':<34}{parse_items:>12,.0f}")


if __name__ == "__main__":
    main()
