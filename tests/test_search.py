"""Search over the whole archive (issue 17): /search and `dozor search` (bot/search.py,
bot/commands/search.py), the FTS5 index that prefilters it (bot/migrations.py) and its
prefilter (bot/matching/prefilter.py).

Real posts throughout (tests/fixtures): stored as polls store them, searched through the
real command dispatch (tests/chatbot.py), the real store and the real `dozor` process.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from bot.matching import Matcher, rule_from_query
from bot.matching.prefilter import MAX_PHRASES, TooManyForms, fts_expression
from bot.migrations import MIGRATIONS
from bot.model import Item, Rule
from bot.search import search
from bot.store import Store
from tests.chatbot import ChatBot
from tests.feeds import FIXTURES, USERNAMES, real_posts
from tests.test_end_to_end import dozor, shipped_config
from watchers.rss import parse_feed

T0 = datetime(2024, 12, 3, 9, 0, tzinfo=UTC)


def mission_items() -> list[Item]:
    """Real posts (tests/fixtures: the sample and the labelled mission posts of three
    Telegram channels, and the Guardian's world news feed), with their real dates."""
    posts = real_posts() + json.loads((FIXTURES / "tg_mission_posts.json").read_text("utf-8"))
    out, seen = [], set()
    for post in posts:
        text = post.get("text") or ""
        key = f"{post['sender_id']}/{post['message_id']}"
        if not text.strip() or key in seen:
            continue
        seen.add(key)
        title, _, body = text.strip().partition("\n")
        channel = USERNAMES[post["sender_id"]]
        link = f"https://t.me/{channel}/{post['message_id']}"
        when = datetime.fromisoformat(post["date"])
        out.append(Item(channel, key, key, title, body, link, when))
    guardian = (FIXTURES / "guardian.rss").read_bytes()
    out += parse_feed(guardian, {}, "guardian", (), "https://www.theguardian.com/").items
    return out


def hits(store: Store, query: str, **options: object) -> list[str]:
    """The keys of every stored item the query matches, newest first."""
    page = search(store, rule_from_query("q", query, **options), per_page=10_000)  # type: ignore[arg-type]
    return [h.item.key for h in page.hits]


# -- the index never misses what the matcher finds -------------------------------------

QUERIES = [
    ("Украина", {}),
    ("Сирия OR Сирийск*", {}),
    ('"Дейр-эз-Зор"', {}),
    ("погиб* NEAR/6 военн*", {}),
    ("title:Сирия", {}),
    ("ЧВК -Вагнер", {}),
    ("text:погиб*", {}),
    ("Вагнер", {"translit": True}),
    ("Russia OR Россия", {"translit": True}),
    ("Wagner OR Вагнер", {"derived": True}),
    ("killed", {"english_forms": True}),
    ("!Украины", {}),
    ("(Зеленский OR Трамп) AND NOT войн*", {}),
    ("в* Израиль*", {}),  # a prefix too short to look up: the matcher alone decides it
    ("/Сири[яи]/", {}),  # no word to look up: every item is a candidate
    ("source:rian_ru Украин*", {}),
]


@pytest.mark.parametrize(("query", "options"), QUERIES)
def test_search_finds_exactly_what_the_matcher_finds(
    tmp_path: Path, query: str, options: dict
) -> None:
    """Over real posts, every query (forms, phrases, NEAR, fields, NOT, translit, derived
    and English forms, exact terms, short prefixes, regexes): the search's hits are the
    items a rule with that query matches, newest first."""
    store = Store.open(tmp_path / "s.db")
    items = mission_items()
    store.record_items(items, T0)
    matcher = Matcher([rule_from_query("q", query, **options)])
    # newest first: published, but never after first seen (T0); then the last stored
    order = {i.key: (min(i.published or T0, T0), n) for n, i in enumerate(items)}
    expected = sorted((i.key for i in items if matcher.match(i)), key=order.get, reverse=True)
    assert expected, query  # each query finds something in these posts
    assert hits(store, query, **options) == expected


def test_the_prefilter_reads_only_candidates(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    store.record_items(mission_items(), T0)
    page = search(store, rule_from_query("q", '"Дейр-эз-Зор"'))
    assert page.indexed and page.total == page.candidates == page.examined >= 1
    assert page.candidates < len(mission_items()) / 10


def test_a_query_that_stands_for_too_many_forms_is_refused() -> None:
    many = Rule("r", any=tuple(f"книга{n}" for n in range(MAX_PHRASES + 1)))
    with pytest.raises(TooManyForms, match="word forms"):
        fts_expression(many)


# -- the index in step with the items --------------------------------------------------


def candidates(store: Store, query: str) -> list[int]:
    expression = fts_expression(rule_from_query("q", query))
    return store.search_candidates(expression, sources=None, since=None, limit=1000)


def test_the_index_follows_inserts_edits_and_deletions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    posts = {i.key: i for i in mission_items()}
    chad = next(i for i in posts.values() if "Чад " in i.title)
    chad = Item(chad.source, chad.key, chad.story_key, chad.title, chad.text, revision="1")
    store.record_items([chad], T0)
    assert hits(store, "Францией") == [chad.key]  # inserted: found

    # edited (a channel post's new revision): found by its new words only
    edited = Item(
        chad.source, chad.key, chad.story_key, "Чад и Германия", "о Германии", revision="2"
    )
    assert store.record_items([edited], T0 + timedelta(hours=1)) == ([], [edited])
    assert hits(store, "Францией") == [] and candidates(store, "Францией") == []
    assert hits(store, "Германия") == [chad.key] and len(candidates(store, "Германия")) == 1

    # a second item, then the first deleted (by SQL, as a retention job would)
    other = posts["-1001101170442/271568"]  # "В Сирии ..."
    store.record_items([other], T0)
    assert hits(store, "Сирия OR Германия") == [other.key, chad.key]  # same date: last stored
    with store.atomic():
        store.db.execute("delete from items where key = ?", [chad.key])
    assert hits(store, "Германия") == [] and candidates(store, "Германия") == []
    assert hits(store, "Сирия OR Германия") == [other.key]
    store.close()
    # the next item gets a search id no other item has had
    again = Store.open(tmp_path / "s.db")
    again.record_items([posts["-1001003921752/73508"]], T0)
    ids = [r[0] for r in again.db.execute("select search_id from items order by search_id")]
    assert len(ids) == 2 and ids[-1] == 4  # 1 inserted, 2 edited (1 gone), 3, then 4
    assert hits(again, "Францией") == ["-1001003921752/73508"]


def test_the_migration_indexes_a_store_that_has_items(tmp_path: Path) -> None:
    """A store from before the index (schema 8) with items: opening it builds the index,
    oldest first; items stored afterwards are indexed as they come."""
    path = tmp_path / "old.db"
    before = [m.__name__ for m in MIGRATIONS].index("_m9_search")  # later ones may follow
    with sqlite3.connect(path) as conn:
        db = sqlite_utils.Database(conn)
        for migration in MIGRATIONS[:before]:
            migration(db)
        conn.execute(f"PRAGMA user_version = {before}")
    old = sqlite_utils.Database(path)
    items = mission_items()
    for n, item in enumerate(items):  # as the old code stored them, newest first
        old["items"].insert(
            {
                "source": item.source,
                "key": item.key,
                "story_key": item.story_key,
                "title": item.title,
                "text": item.text,
                "link": item.link,
                "published_at": item.published.isoformat() if item.published else None,
                "first_seen_at": (T0 - timedelta(minutes=n)).isoformat(),
                "tags": "[]",
            }
        )
    old.conn.close()

    store = Store.open(path)
    assert store.schema_version == len(MIGRATIONS)
    indexed = store.db.execute("select count(*) from items where search_id is not null")
    assert indexed.fetchone()[0] == len(items)
    oldest_first = [
        r[0] for r in store.db.execute("select key from items order by search_id").fetchall()
    ]
    assert oldest_first == [i.key for i in reversed(items)]
    assert set(hits(store, '"Дейр-эз-Зор"')) == {"-1001101170442/271457"}
    assert len(hits(store, "Украина")) >= 3
    new = Item("s9", "new", "new", "Дейр-эз-Зор снова", "", None, T0)
    store.record_items([new], T0 + timedelta(hours=1))
    assert hits(store, '"Дейр-эз-Зор"') == ["new", "-1001101170442/271457"]


def test_a_change_in_folding_rebuilds_the_index(tmp_path: Path) -> None:
    """The index holds folded words: if folding changes (an upgrade), words folded the old
    way would not be found, so opening the store rebuilds it."""
    store = Store.open(tmp_path / "s.db")
    items = mission_items()
    revised = [replace(i, revision="1") for i in items]
    store.record_items(revised[:50], T0)  # then some first seen before: renumbered, the
    store.record_items(revised[50:], T0 - timedelta(hours=1))  # old and new ids overlap
    store.record_items([replace(items[0], text="Украина", revision="2")], T0)  # an edit
    with store.atomic():  # ... and a deletion: the search ids have gaps
        store.db.execute("delete from items where key = ?", [items[1].key])
    with store.atomic():  # as if built by a Dozor that folded differently
        store.db.execute("insert into items_search(items_search) values ('delete-all')")
        store.db.execute("update search_state set fold = 'older'")
    assert hits(store, "Украина") == []
    store.close()
    store = Store.open(tmp_path / "s.db")
    assert items[0].key in hits(store, "Украина") and len(hits(store, "Украина")) >= 3
    assert hits(store, "Украина") == hits(store, "Украина OR /Украин[аеуы]\\b/")
    ids = [r[0] for r in store.db.execute("select search_id from items order by search_id")]
    assert len(ids) == len(items) - 1 and len(set(ids)) == len(ids)
    store.record_items([items[1]], T0)  # stored again: a new id, found
    assert hits(store, "Гвинея") == [items[1].key]


# -- /search in chat ---------------------------------------------------------------------


async def test_search_finds_a_post_by_an_inflected_form(testbot: ChatBot) -> None:
    """The words as the posts wrote them: "в Украину", "в Украине" for "Украина"; each
    hit with its source, date, link and the marked words."""
    testbot.seed(real_posts())
    reply = (await testbot.command("/search Украина", chat=testbot.DESK)).text
    assert reply.startswith("Search: query: Украина (every source)\n4 matches, newest first:")
    lines = reply.splitlines()
    assert lines[2:7] == [
        "1. bbc · 2024-12-03 00:37 UTC",  # newest first
        "   На войне погибло меньше 80 тысяч украинских военных, заявил Зеленский",
        "   … News](https://www.youtube.com/watch?v=Fn1HE1zHBVg), опубликованного "
        "пресс-службой президента [Украины]. Сколько именно украинская армия потеряла "
        "убитыми, Зеленский уточнить отказался. Разные западные …",
        "   matched: Украины, Украина, Украину",
        "   https://t.me/bbcrussian/73654",
    ]
    assert "   … отправки войск или бойцов ЧВК на [Украину], сообщила газета Le Monde" in lines
    assert "   matched: Украине" in lines
    links = [line.strip() for line in lines if line.startswith("   https://")]
    assert links == [
        "https://t.me/bbcrussian/73654",
        "https://t.me/bbcrussian/73353",
        "https://t.me/bbbreaking/194658",
        "https://t.me/bbcrussian/73317",
    ]
    assert "more:" not in reply


async def test_search_pages_newest_first(testbot: ChatBot) -> None:
    testbot.seed(real_posts())
    pages = []
    for n in (1, 2, 3):
        reply = await testbot.command(f"/search в page {n}", chat=testbot.DESK)
        pages.append(reply.text)
    assert "11 matches, newest first; page 1 of 3:" in pages[0]
    assert pages[0].endswith("more: /search в page 2")
    assert "page 2 of 3:" in pages[1] and pages[1].endswith("more: /search в page 3")
    assert "page 3 of 3:" in pages[2] and "more:" not in pages[2]
    numbered = [line for p in pages for line in p.splitlines() if re.match(r"\d+\. ", line)]
    assert [int(line.split(".")[0]) for line in numbered] == list(range(1, 12))
    dates = [line.split(" · ")[1] for line in numbered]
    assert dates == sorted(dates, reverse=True)
    past = await testbot.command("/search в page 4", chat=testbot.DESK)
    assert "page 4 is past the last match (11 in all)" in past.text


async def test_search_since_and_in_a_source(testbot: ChatBot) -> None:
    testbot.seed(real_posts())
    recent = (await testbot.command("/search в since 2d", chat=testbot.DESK)).text
    assert "5 matches" in recent  # Dec 2 and 3 (the clock: Dec 3, 09:00)
    assert "t.me/bbcrussian/73628" in recent and "73508" not in recent
    dated = (await testbot.command("/search в since 2024-11-25", chat=testbot.DESK)).text
    assert "8 matches" in dated and "2024-11-24" not in dated
    ria = (await testbot.command("/search в in ria since 30d", chat=testbot.DESK)).text
    assert ria.startswith("Search: query: в; in ria; since 2024-11-03 09:00 UTC (source ria)")
    assert "3 matches" in ria and ria.count("t.me/rian_ru/") == 3
    quoted = (await testbot.command('/search "войск или бойцов"', chat=testbot.DESK)).text
    assert "1 match," in quoted
    unknown = (await testbot.command("/search в in rai", chat=testbot.DESK)).text
    assert unknown == "no source named rai; did you mean ria?"
    bad = (await testbot.command("/search в since soon", chat=testbot.DESK)).text
    assert "usage: /search" in bad and '"since soon": give a duration like 30d' in bad


async def test_a_chat_searches_only_the_sources_its_rules_watch(testbot: ChatBot) -> None:
    """The desk's rules watch every source; the osint desk has none, then one that takes
    bbc only; the extra chat one for sources tagged "en"; the console, every source."""
    testbot.seed(real_posts())
    osint, extra = testbot.OSINT, testbot.EXTRA
    none = (await testbot.command("/search Украина", chat=osint)).text
    assert none.startswith("this chat reads the items of the sources its rules watch")
    made = await testbot.command("/watch Украин* source:bbc --anyway", chat=osint)
    assert made.text.startswith("Watching as ")
    bbc_only = (await testbot.command("/search Украина", chat=osint)).text
    assert "(the 1 source this chat's rules watch)" in bbc_only
    assert "3 matches" in bbc_only and "bbbreaking" not in bbc_only
    other = (await testbot.command("/search Украина in breaking", chat=osint)).text
    assert other == "no source named breaking; there are bbc"
    admin_there = (await testbot.command("/search Украина", chat=osint, user=testbot.ADMIN)).text
    assert admin_there == bbc_only  # everyone in the group reads the answer

    await testbot.command("/watch Syria tag:en", chat=extra)
    english = (await testbot.command("/search Украина", chat=extra)).text
    assert "(the 1 source this chat's rules watch)" in english and "no stored item" in english

    desk = (await testbot.command("/search Украина", chat=testbot.DESK)).text
    console = (await testbot.command("/search Украина")).text
    assert "4 matches" in desk and "(every source)" in desk and console == desk
    unserved = await testbot.command("/search Украина", chat=testbot.UNSERVED)
    assert unserved.text.startswith("this chat is not one Dozor serves")


HOSTILE = [
    ("(" * 40 + "Вагнер" + ")" * 40, "nested too deeply"),
    ("NOT " * 40 + "Вагнер", "nested too deeply"),
    (" OR ".join(f"w{n}" for n in range(10_000)), "characters long; at most 500"),
    ("Вагнер (", "expected a word"),
    ("-Вагнер", "nothing to look for"),
]


@pytest.mark.parametrize(("query", "reason"), HOSTILE)
async def test_hostile_queries_are_refused_with_the_reason(
    testbot: ChatBot, query: str, reason: str
) -> None:
    testbot.seed(real_posts())
    reply = await testbot.command(f"/search {query}", chat=testbot.DESK)
    assert reason in reply.text
    assert "matches" not in reply.text and "failed" not in reply.text


async def test_a_pathological_regex_is_answered_in_linear_time(testbot: ChatBot) -> None:
    """RE2, as in rules: "(a+)+$" over a long run of "a" and a "!" is not catastrophic
    (backtracking would take longer than the universe's age)."""
    posts = real_posts()
    posts[0] = {**posts[0], "text": "Гвинея\n" + "a" * 4000 + "!"}
    testbot.seed(posts)
    reply = await testbot.command("/search text:/(a+)+$/ OR /^(a|aa)+b$/", chat=testbot.DESK)
    assert "newest first" in reply.text and "t.me/bbcrussian/73654" not in reply.text
    assert "the query has no word to look up" in reply.text


# -- dozor search --------------------------------------------------------------------------


def test_cli_search_prints_the_hits(tmp_path: Path) -> None:
    shipped_config(tmp_path)
    none = dozor("search", "--config", "config.toml", "Сирия", cwd=tmp_path)
    assert none.returncode == 1 and "no store yet" in none.stderr
    assert dozor("run", "--config", "config.toml", "--once", cwd=tmp_path).returncode == 0

    found = dozor("search", "--config", "config.toml", "Дейр-эз-Зор", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0] == "Search: query: Дейр-эз-Зор (every source)"
    assert lines[1] == "1 match, newest first:"
    assert lines[2] == "1. ria-novosti-sample · 2024-12-03 07:08 UTC"
    assert "   … курдских формирований в провинции [Дейр-эз-Зор] …" in lines
    assert lines[-2:] == ["   matched: Дейр-эз-Зор", "   https://t.me/rian_ru/271457"]

    paged = dozor(
        "search", "--config", "config.toml", "--source", "bbc-russian-sample", "--since",
        "2024-11-01", "в", cwd=tmp_path,
    )  # fmt: skip
    assert paged.returncode == 0, paged.stderr
    assert "(source bbc-russian-sample)" in paged.stdout and "page 1 of" in paged.stdout
    assert paged.stdout.rstrip().endswith(
        "more: dozor search --config config.toml в --since 2024-11-01"
        " --source bbc-russian-sample --page 2"
    )
    bad = dozor("search", "--config", "config.toml", "((Сирия", cwd=tmp_path)
    assert bad.returncode == 2 and 'missing ")"' in bad.stderr
    unknown = dozor("search", "--config", "config.toml", "--source", "nope", "x", cwd=tmp_path)
    assert unknown.returncode == 2 and "no source named nope" in unknown.stderr
    long = dozor("search", "--config", "config.toml", "w " * 300, cwd=tmp_path)
    assert long.returncode == 2 and "at most 500" in long.stderr
