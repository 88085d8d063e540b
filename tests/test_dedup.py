"""bot/dedup: near-duplicate stories, on real posts labelled by hand.

``fixtures/dedup_pairs.json`` holds 178 real posts of three Russian channels (BBC Russian,
RIA Novosti, "Раньше всех. Ну почти.") and pairs of them labelled "same" story (copies,
a new headline line, rewrites, retellings, independent write-ups) or "different" events
that look alike (one template with another place or number, related events of one
crisis, a daily digest vs one of its items).  The whole fixture is the window: every post
is indexed as its own story at one instant, so only the text decides; a pair collapses
when ``matches(b)`` lists ``a``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import SHORT_POST, Fingerprint, StoryIndex, StoryMatch, bench, fingerprint
from bot.model import Item
from watchers.identity import story_key

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "dedup_pairs.json").read_text(encoding="utf-8")
)
POSTS: dict[str, dict[str, object]] = FIXTURE["posts"]
PAIRS: list[dict[str, str]] = FIXTURE["pairs"]
T0 = datetime(2024, 12, 1, tzinfo=UTC)


def post_item(post_id: str) -> Item:
    """A fixture post as the t.me watcher would give it (text only, a ``hash:`` key)."""
    post = POSTS[post_id]
    return Item(
        source=str(post["channel"]),
        key=f"post:{post_id}",
        story_key=story_key(None, "", str(post["text"])),
        title="",
        text=str(post["text"]),
        published=datetime.fromisoformat(str(post["date"])),
    )


def when(post_id: str) -> datetime:
    return datetime.fromisoformat(str(POSTS[post_id]["date"]))


def item(text: str, title: str = "", link: str | None = None, **kw: object) -> Item:
    return Item("test", f"k:{text[:20]}", story_key(link, title, text), title, text, link, **kw)


@pytest.fixture(scope="module")
def verdicts() -> dict[tuple[str, str], bool]:
    """(a, b) -> does b collapse into a's story, with the whole fixture as the window."""
    prints = {pid: fingerprint(post_item(pid)) for pid in POSTS}
    index = StoryIndex()
    for pid, fp in prints.items():
        index.add(pid, fp, T0)
    out = {}
    for pair in PAIRS:
        found = {m.story_id for m in index.matches(prints[pair["b"]], T0)}
        out[pair["a"], pair["b"]] = pair["a"] in found
    return out


def tally(verdicts: dict[tuple[str, str], bool], label: str) -> dict[str, tuple[int, int]]:
    hits: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for pair in PAIRS:
        if pair["label"] == label:
            total[pair["kind"]] += 1
            hits[pair["kind"]] += verdicts[pair["a"], pair["b"]]
    return {kind: (hits[kind], total[kind]) for kind in total}


def test_fixture_has_enough_labelled_pairs() -> None:
    labels = Counter(p["label"] for p in PAIRS)
    assert labels["same"] >= 25 and labels["different"] >= 25
    assert all(p["a"] in POSTS and p["b"] in POSTS and p["reason"] for p in PAIRS)


def test_copies_and_reposts_with_a_new_header_collapse(
    verdicts: dict[tuple[str, str], bool],
) -> None:
    same = tally(verdicts, "same")
    # measured 13/15: missed are a copy whose figure was corrected (11:00 -> 10:00: the
    # numbers disagree) and a copy that kept 2 of 3 paragraphs (Jaccard 0.45)
    hits = sum(same[k][0] for k in ("copy", "header", "extended"))
    total = sum(same[k][1] for k in ("copy", "header", "extended"))
    assert same["header"] == (2, 2)
    assert hits / total >= 0.85


def test_rewrites_recall_floor(verdicts: dict[tuple[str, str], bool]) -> None:
    """Measured at the defaults (threshold 0.5): see the floors; heavier retellings and
    independent write-ups of the same event are not near-duplicate *text*."""
    same = tally(verdicts, "same")
    rewrites, total = same["rewrite"]
    assert rewrites / total >= 0.5
    near_dups = sum(same[k][0] for k in ("copy", "header", "extended", "rewrite", "retold"))
    all_near = sum(same[k][1] for k in ("copy", "header", "extended", "rewrite", "retold"))
    assert near_dups / all_near >= 0.6
    assert same["independent"][0] == 0  # BBC's own write-ups share facts, not text


def test_formulaic_reports_of_different_events_stay_apart(
    verdicts: dict[tuple[str, str], bool],
) -> None:
    wrong = [
        p["reason"]
        for p in PAIRS
        if p["label"] == "different"
        and p["kind"] in ("template", "digest")
        and verdicts[p["a"], p["b"]]
    ]
    assert wrong == []


def test_related_events_of_one_crisis_mostly_stay_apart(
    verdicts: dict[tuple[str, str], bool],
) -> None:
    # Known limit: "Парламент / Правительство Южной Кореи проголосовал(о) за отмену
    # военного положения" differ only in their first word; both directions collapse.
    related = tally(verdicts, "different")["related"]
    assert related[0] <= 2, related


def test_a_near_duplicate_names_its_evidence() -> None:
    a, b = "1001101170442/271505", "1001101170442/270724"  # losses: 300 vs 250
    index = StoryIndex()
    index.add("rian/271639", fingerprint(post_item("1001101170442/271638")), T0)
    copy = post_item("1001394050290/195302")
    match = index.find(fingerprint(copy), T0 + timedelta(minutes=13))
    assert match is not None and match.story_id == "rian/271639"
    assert match.reason.startswith("near-duplicate text (jaccard 1.00, shared: ")
    assert "ОДКБ" in match.reason and "2025" in match.reason
    index.add("losses", fingerprint(post_item(a)), T0)
    assert index.find(fingerprint(post_item(b)), T0) is None  # the numbers disagree


def test_repost_with_a_different_header_line() -> None:
    body = str(POSTS["1001101170442/271179"]["text"])
    index = StoryIndex()
    index.add("s1", fingerprint(item(body, title="Генпрокурор ФРГ о «Северных потоках»")), T0)
    reposted = item(body, title="⚡️СРОЧНО: названы подозреваемые в подрыве газопровода")
    match = index.find(fingerprint(reposted), T0 + timedelta(hours=1))
    assert match is not None and match.story_id == "s1"
    assert match.reason.startswith("near-duplicate text")


def test_forward_origin() -> None:
    index = StoryIndex()
    original = item("Учения ОДКБ пройдут в 2025 году", link="https://t.me/rian_ru/271638")
    index.add("orig", fingerprint(original), T0)
    # a forward with a comment of its own: different text, same origin
    fwd = item("Наш комментарий к новости выше", forwarded_from="rian_ru/271638")
    assert index.find(fingerprint(fwd), T0) == StoryMatch("orig", "same forward origin", 1.0)
    index.add("fwd", fingerprint(fwd), T0)
    other = item("Репост без слов", forwarded_from="Rian_Ru/271638")
    assert index.find(fingerprint(other), T0) is not None
    # a hidden sender's name says nothing about which post it was
    hidden = StoryIndex()
    hidden.add("h", fingerprint(item("Первый пост", forwarded_from="РИА Новости")), T0)
    assert hidden.find(fingerprint(item("Второй", forwarded_from="РИА Новости")), T0) is None


def test_same_canonical_link_in_two_sources() -> None:
    index = StoryIndex()
    feed = item("Заголовок из RSS", link="https://ria.ru/20241203/news.html?utm_source=tg")
    index.add("rss", fingerprint(feed), T0)
    post = item("Совсем другой текст в канале", link="https://RIA.ru/20241203/news.html")
    match = index.find(fingerprint(post), T0 + timedelta(hours=47))
    assert match == StoryMatch("rss", "same link", 1.0)


def test_window_expiry() -> None:
    text = str(POSTS["1001101170442/271179"]["text"])
    index = StoryIndex(window=timedelta(hours=48))
    index.add("s1", fingerprint(item(text)), T0)
    index.add(
        "s2", fingerprint(item("Другая новость про погоду в Москве")), T0 + timedelta(hours=10)
    )
    assert len(index) == 2
    later = fingerprint(item("⚡️" + text))
    assert index.find(later, T0 + timedelta(hours=47)) is not None
    assert index.find(later, T0 + timedelta(hours=49)) is None  # out of the window
    assert index.expire(T0 + timedelta(hours=49)) == 1
    assert len(index) == 1
    assert index.find(later, T0 + timedelta(hours=30)) is None  # gone from the index


def test_a_short_flash_recurring_days_apart_is_a_new_alert() -> None:
    """The same 7-word flash for different air-raid alerts: identical text (and hash),
    copied by another channel within a minute, repeated the next day."""
    first, copy, next_day, week_later = FIXTURE["recurring"]
    index = StoryIndex()
    index.add(first, fingerprint(post_item(first)), when(first))
    assert fingerprint(post_item(first)).words < SHORT_POST
    match = index.find(fingerprint(post_item(copy)), when(copy))
    assert match is not None and match.story_id == first
    assert index.find(fingerprint(post_item(next_day)), when(next_day)) is None
    assert index.find(fingerprint(post_item(week_later)), when(week_later)) is None


def test_empty_text_matches_only_by_identity() -> None:
    index = StoryIndex()
    index.add("e", fingerprint(item("", link="https://example.org/a")), T0)
    assert index.find(fingerprint(item("", link="https://example.org/b")), T0) is None
    assert index.find(fingerprint(item("🔥🔥", link="https://example.org/a")), T0) is not None


def test_fingerprint_round_trip() -> None:
    fp = fingerprint(post_item("1001101170442/271524"))
    assert Fingerprint.from_bytes(fp.to_bytes()) == fp
    assert Fingerprint.from_json(json.loads(json.dumps(fp.to_json()))) == fp
    assert fp.num_perm == 128 and len(fp.hashes) == 4 * 128
    assert len(fp.to_bytes()) < 2000
    index = StoryIndex()
    index.add("s", Fingerprint.from_bytes(fp.to_bytes()), T0)
    assert index.find(fingerprint(post_item("1001394050290/195220")), T0) is not None
    with pytest.raises(ValueError):
        StoryIndex(num_perm=64).add("s", fp, T0)


@settings(max_examples=300, deadline=None)
@given(title=st.text(), text=st.text(), forwarded=st.none() | st.text())
def test_fingerprint_never_raises(title: str, text: str, forwarded: str | None) -> None:
    fp = fingerprint(Item("s", "k", "hash:x", title, text, forwarded_from=forwarded))
    assert len(fp.hashes) in (0, 4 * 128)
    assert Fingerprint.from_bytes(fp.to_bytes()) == fp
    index = StoryIndex()
    index.add("a", fp, T0)
    index.find(fp, T0)


def test_bench_reports_rates() -> None:
    items = [post_item(pid) for pid in list(POSTS)[:50]]
    result = bench(items, window=200, seconds=0.05)
    assert result["window"] == 200
    assert result["checks_per_s"] > 0 and result["fingerprints_per_s"] > 0


def test_minhash_and_lsh_are_datasketchs() -> None:
    """The MinHash values are exactly datasketch's (seed 1, SHA-1 token hashes), and the
    banded index returns the candidates datasketch's MinHashLSH returns."""
    from datasketch import MinHash, MinHashLSH

    from bot.dedup import _Bands, _bands, _minhash

    texts = [
        *(str(post["text"]) for post in POSTS.values()),
        "Вагнер Дейр-эз-Зор погибли",
        "Wagner Deir ez-Zor killed",
    ]
    bands, rows = _bands(0.5, 128)
    ours, theirs = _Bands(bands, rows), MinHashLSH(num_perm=128, params=(bands, rows))
    values = []
    for n, text in enumerate(texts):
        tokens = set(text.casefold().split())
        reference = MinHash(num_perm=128, seed=1)
        reference.update_batch([t.encode("utf-8") for t in tokens])
        mine = _minhash(tokens, 128)
        assert mine.tolist() == reference.hashvalues.tolist(), text[:60]
        values.append(mine.astype("<u4"))
        ours.insert(n, values[-1])
        theirs.insert(n, reference, check_duplication=False)
    for hv in values:
        reference = MinHash(num_perm=128, hashvalues=hv.astype("uint64"))
        assert ours.query(hv) == set(theirs.query(reference))
    for n, hv in enumerate(values[: len(values) // 2]):
        ours.remove(n, hv)
        theirs.remove(n)
    for hv in values:
        reference = MinHash(num_perm=128, hashvalues=hv.astype("uint64"))
        assert ours.query(hv) == set(theirs.query(reference))
    assert len(values) >= 20
    assert any(len(ours.query(hv)) > 1 for hv in values)  # near-duplicates do meet


@pytest.mark.parametrize(
    "text",
    [
        "Ёлка — в Дейр\u2011эз\u2011Зоре погибли 1\u00a0510 человек",
        "Zōr – «ПВО» сбила БПЛА\u2212 10:30, 1,5 км",
        "Ваг\u00adнер Вагнeр ＷＡＧＮＥＲ",
    ],
)
def test_dedup_reads_words_through_the_matchers_folding(text: str) -> None:
    """One folding (bot.matching.normalize): dedup's light "surface" form keeps case and
    punctuation, and folds every letter as the matcher does."""
    from bot.matching.normalize import fold_cluster, fold_surface, normalize

    light = fold_surface(text)
    assert normalize(light) == normalize(text)
    assert "ё" not in light and "Ё" not in light and "\u2011" not in light
    assert all(fold_cluster(ch, surface=True) == ch for ch in light)  # folded once is done
