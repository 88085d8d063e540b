"""/watch, /unwatch, /rules, /test: rules made in chat, and a look at what they catch.

The simple /watch syntax (the rule's ``all``/``any``/``none`` lists):

- space-separated terms are all required (``all``): ``Вагнер* погиб*``;
- a "quoted phrase" is one term (also “…”, „…“ and «…», as phones type quotes);
- ``-term`` excludes (``none``): ``Вагнер* -Рихард``;
- ``a OR b OR c`` makes those terms alternatives (``any``); one OR group per query;
- ``word*`` is a prefix, as in rule files.

A query with the rule language's own syntax (parentheses, AND/NOT, NEAR/n, field:,
/regex/) is taken whole as a rule-file query (``bot.matching``).  ``--translit``,
``--derived``, ``--english``, ``--exact``, ``--fuzzy``, ``--ru`` and ``--uk`` (``languages``:
inflect in Russian or Ukrainian only; without them, the chat's ``/languages``)
anywhere in the line set the rule-file options;
``--anyway`` at the end adds a rule that would match more than half of the recent items,
which is otherwise refused; ``/test --forms`` also lists every form each
term matches, with warnings (``bot.matching.explain``, as ``dozor explain``).

A chat rule is named ``watch-`` + its first words transliterated to ASCII (at most 24
characters), with ``-2``, ``-3``... when taken: ``/watch Вагнер* погиб*`` ->
``watch-vagner-pogib``.  Its alerts go to the chat (and topic) it was made in.

A chat lists, names and removes only its own rules (``permissions.rules_of_chat``: the
rules that alert it, file rules included); another chat's rule is answered as one that
does not exist.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.commands.chatsettings import chat_languages
from bot.commands.common import (
    UsageError,
    find_name,
    moment,
    no_such,
    plural,
    shorten,
    unique_name,
)
from bot.commands.permissions import is_admin, rules_for, rules_of_chat, sees_every_chat
from bot.commands.types import Invocation, Reply
from bot.matching import Matcher, check_term, normalize_term, rule_from_query
from bot.matching import QueryError as LanguageError
from bot.matching.explain import explain_rule
from bot.matching.explain import render as render_forms
from bot.matching.inflect import LANGUAGES
from bot.matching.query import LexToken, lex, without_comments
from bot.model import Item, Match, Rule
from bot.runtime import Runtime
from bot.store import ChatRule

LOOK_BACK = timedelta(days=7)
MAX_TERMS = 30
SLUG_CHARS = 24
_LATIN = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i yi ye g"
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ", _LATIN.split(), strict=True))


class QueryError(ValueError):
    """A /watch or /test query that cannot become a rule; the message says why."""


@dataclass(frozen=True)
class Query:
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    typed: tuple[str, ...] = field(default=(), compare=False)  # all + any, as typed
    expression: str = ""  # a query in the rule language (parentheses, NEAR, fields, /re/)
    options: tuple[str, ...] = field(default=(), compare=False)  # "translit", ... (OPTIONS)

    def rule(self, name: str, destination: str | None = None, text: str = "") -> Rule:
        destinations = (destination,) if destination else ()
        description = f"/watch {text}" if text else ""
        flags = rule_options(self.options)
        if self.expression:
            return rule_from_query(
                name, self.expression, destinations=destinations, description=description, **flags
            )
        return Rule(
            name=name,
            any=self.any,
            all=self.all,
            none=self.none,
            destinations=destinations,
            description=description,
            origin="chat",
            **flags,
        )

    def describe(self) -> str:
        options = f"; options: {', '.join(self.options)}" if self.options else ""
        return describe(self.rule("")) + options


# /watch and /test options: "--translit" and so on, anywhere in the line (rule files set
# the same as keys; README "Rule files")
OPTIONS = {
    "translit": "translit",  # Вагнер = Vagner
    "derived": "derived",  # Вагнер: вагнеровцы, вагнеровский
    "english": "english_forms",  # killed = kill, kills
    "exact": "inflect",  # no inflection: the words as written (inflect = false)
    "fuzzy": "fuzzy",  # names allow typos, as if written Вагнер~
    "ru": "languages",  # inflect in Russian only (languages = ["ru"])
    "uk": "languages",  # inflect in Ukrainian only; --ru --uk: both, the default
}


def rule_options(options: Iterable[str]) -> dict[str, Any]:
    """``Rule`` fields for the options given."""
    options = tuple(options)
    fields: dict[str, Any] = {OPTIONS[o]: o != "exact" for o in options if o not in LANGUAGES}
    if any(o in LANGUAGES for o in options):
        fields["languages"] = tuple(lang for lang in LANGUAGES if lang in options)
    return fields


def split_options(text: str) -> tuple[str, tuple[str, ...]]:
    """The query without its ``--option`` words, and the options; QueryError for one
    that does not exist."""
    words, options = [], []
    for word in text.split(" "):
        if word.startswith("--") and len(word) > 2:
            name = word[2:].lower()
            if name not in OPTIONS:
                known = ", ".join(f"--{o}" for o in OPTIONS)
                raise QueryError(f"unknown option {word} (known: {known})")
            options.append(name)
        else:
            words.append(word)
    return " ".join(words).strip(), tuple(dict.fromkeys(options))


# The tokens of a "flat" query: terms, "-term" and OR.  Anything else (parentheses,
# AND/NOT, NEAR/n, field:, /regex/) is the full rule language: then /watch and /test
# take the line whole as a rule-file query (README "Rule files").
_FLAT = frozenset({"WORD", "PHRASE", "OR", "-", "END"})


def language_query(text: str) -> Query:
    """A query in the rule language; raises QueryError pointing at the problem."""
    try:
        rule_from_query("check", text)
    except LanguageError as exc:
        pointer = exc.pointer() if hasattr(exc, "pointer") else str(exc)
        raise QueryError(pointer) from None
    words = tuple(re.findall(r"[^\W\d_][\w-]*", text))
    keywords = {"AND", "OR", "NOT", "NEAR", "title", "text", "source", "tag", "link"}
    return Query(typed=tuple(w for w in words if w not in keywords), expression=text)


def _what(rule: Rule) -> tuple[object, ...]:
    """What a rule looks for: two rules alike in this find the same items."""
    return (
        rule.all,
        rule.any,
        rule.none,
        rule.query,
        rule.inflect,
        rule.translit,
        rule.derived,
        rule.english_forms,
        rule.languages,
        rule.fuzzy,
    )


def describe(rule: Rule, limit: int = 0) -> str:
    """ "query: ...; all of: Вагнер*, погиб*; any of: ...; none of: ..." (``limit``
    terms per part, and the query cut to 20 words per term shown)."""

    def terms(ts: Sequence[str]) -> str:
        shown = [f'"{t}"' if " " in t else t for t in ts]
        if limit and len(shown) > limit:
            shown = [*shown[:limit], f"… ({len(ts) - limit} more)"]
        return ", ".join(shown)

    parts = []
    if rule.query.strip():
        query = " ".join(without_comments(rule.query).split())
        parts.append(f"query: {shorten(query, 20 * limit) if limit else query}")
    if rule.all:
        parts.append(f"all of: {terms(rule.all)}")
    if rule.any:
        parts.append(f"any of: {terms(rule.any)}")
    if rule.none:
        parts.append(f"none of: {terms(rule.none)}")
    return "; ".join(parts)


def parse_query(text: str) -> Query:
    """The query syntax above -> terms; raises QueryError with the reason.  The line is
    read by the rule language's lexer (``bot.matching.query.lex``: quotes, "-", "!",
    "*", OR); a line with more of the language than terms, "-term" and OR is taken
    whole as a rule-language query."""
    try:
        tokens = lex(text)
    except LanguageError as exc:
        raise QueryError(exc.pointer()) from None
    words = _flat_terms(tokens)
    if words is None:
        return language_query(text)
    if not words:
        raise QueryError("say what to watch for, e.g. Вагнер* погиб*")
    groups: list[list[str]] = []
    none: list[str] = []
    joining = False
    for i, (term, negated, quoted) in enumerate(words):
        if term == "OR" and not quoted and not negated:
            if joining or i == 0 or i == len(words) - 1 or words[i - 1][1]:
                raise QueryError("OR goes between two terms, as in: Wagner OR Вагнер")
            joining = True
            continue
        if negated:
            if joining:
                raise QueryError(f"-{term}: an excluded term cannot be one side of OR")
            none.append(term)
        elif joining:
            groups[-1].append(term)
        else:
            groups.append([term])
        joining = False
    alternatives = [g for g in groups if len(g) > 1]
    if len(alternatives) > 1:
        raise QueryError("only one OR group per query for now (a rule has one 'any' list)")
    if not groups:
        raise QueryError("say what to look for: at least one term without '-'")
    query = Query(
        all=_unique(t for g in groups if len(g) == 1 for t in g),
        any=_unique(alternatives[0]) if alternatives else (),
        none=_unique(none),
        typed=_unique(t for g in groups for t in g),
    )
    terms = [*query.all, *query.any, *query.none]
    if len(terms) > MAX_TERMS:
        raise QueryError(f"{len(terms)} terms is too many (at most {MAX_TERMS})")
    for term in terms:
        problem = check_term(term)
        if problem:
            raise QueryError(problem)
    return query


def _flat_terms(tokens: Sequence[LexToken]) -> list[tuple[str, bool, bool]] | None:
    """(term, negated, quoted) for each word, quoted phrase and OR of a flat query, as
    the rule files write terms ("!" exact, "*" prefix); None when the query uses more
    of the rule language."""
    if any(t.kind not in _FLAT for t in tokens):
        return None
    out = []
    negated = False
    for token in tokens:
        if token.kind == "-":
            if negated:
                return None  # "- -a": NOT NOT a
            negated = True
            continue
        if token.kind == "END":
            break
        if token.kind == "OR":
            if negated:
                return None
            out.append(("OR", False, False))
            continue
        body = " ".join(token.value.split()) if token.kind == "PHRASE" else token.value
        if token.kind == "PHRASE" and not body:
            raise QueryError("an empty quoted phrase")
        out.append((("!" if token.exact else "") + body, negated, token.kind == "PHRASE"))
        negated = False
    return None if negated else out


def _unique(terms: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(terms))


def rule_name(query: Query, taken: Sequence[str]) -> str:
    """ "watch-" + the query's first words in ASCII, unique among ``taken``."""
    words = [_ascii(w) for t in query.typed for w in normalize_term(t)]
    slug = ""
    for word in filter(None, words):
        longer = f"{slug}-{word}" if slug else word[:SLUG_CHARS]
        if len(longer) > SLUG_CHARS:
            break
        slug = longer
    base = f"watch-{slug}" if slug else "watch"
    name = unique_name(base, taken)
    return name


def _ascii(word: str) -> str:
    out = []
    for char in word:
        if char in _TRANSLIT:
            out.append(_TRANSLIT[char].strip("-"))
            continue
        plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(plain.lower())
    return re.sub(r"[^a-z0-9]", "", "".join(out))


# -- matching over stored items ------------------------------------------------------


def _scan(rule: Rule, items: list[Item]) -> list[tuple[Item, Match]]:
    matcher = Matcher([rule])
    found = []
    for item in items:
        matches = matcher.match(item)
        if matches:
            found.append((item, matches[0]))
    return found


async def recent_matches(ctx: Runtime, rule: Rule) -> tuple[int, list[tuple[Item, Match]]]:
    """(items looked at, those ``rule`` matches) over the last 7 days, newest first."""
    items = ctx.store.recent_items(ctx.clock() - LOOK_BACK)
    return len(items), await asyncio.to_thread(_scan, rule, items)


def matched_words(item: Item, match: Match) -> list[str]:
    words = []
    for s in match.spans:
        text = item.title if s.field == "title" else item.text
        words.append(text[s.start : s.end])
    return list(dict.fromkeys(words))


def _example(item: Item) -> str:
    title = shorten(item.title or item.text, 90)
    return f"- {title}" + (f" — {item.link}" if item.link else f" ({item.source})")


# -- commands --------------------------------------------------------------------------


def _query(ctx: Runtime, inv: Invocation) -> Query:
    """The query typed, in this chat's languages (``/languages``) unless it says
    ``--ru`` or ``--uk``."""
    if not inv.args:
        raise UsageError()
    try:
        text, options = split_options(inv.args)
        here = chat_languages(ctx, inv)
        if here != LANGUAGES and not any(o in LANGUAGES for o in options):
            options = (*options, *here)
        return replace(parse_query(text), options=options)
    except QueryError as e:
        raise UsageError(str(e)) from None


BROAD_SHARE = 0.5  # a new rule matching more than this share of recent items is refused
BROAD_MINIMUM = 20  # ...when at least this many items were looked at
ANYWAY = "--anyway"


async def watch(ctx: Runtime, inv: Invocation) -> Reply:
    anyway = inv.args.rstrip().endswith(ANYWAY)
    if anyway:
        inv = replace(inv, args=inv.args.rstrip().removesuffix(ANYWAY).rstrip())
    query = _query(ctx, inv)
    if not anyway:
        looked, found = await recent_matches(ctx, query.rule("preview"))
        if looked >= BROAD_MINIMUM and len(found) > BROAD_SHARE * looked:
            return Reply(
                f"not added: it would match {len(found)} of the {looked} items of the last "
                f"7 days ({100 * len(found) // looked}%), so this chat would get nearly "
                f"everything. Add terms to narrow it, or end the command with {ANYWAY} "
                "to add it all the same."
            )
    destination = ctx.destination_for(inv.platform, inv.chat_id, inv.thread_id)
    wanted = _what(query.rule("", destination))
    for existing in ctx.store.chat_rules():
        if existing.destination == destination and _what(existing.rule) == wanted:
            return Reply(f"this chat already watches that, as {existing.rule.name}")
    name = rule_name(query, [r.name for r in ctx.rules()])
    rule = query.rule(name, destination, inv.args)
    stored = ChatRule(rule, inv.args, destination, inv.chat, inv.user_name, ctx.clock())
    if not ctx.store.add_chat_rule(stored):
        return Reply(f"the name {name} was just taken; please try again")
    await ctx.refresh_rules()
    looked, found = await recent_matches(ctx, rule)
    lines = [
        f"Watching as {name}: alerts come to this chat.",
        f"Terms: {query.describe()}",
        f"In the last 7 days it would have matched {len(found)} of "
        f"{plural(looked, 'stored item')}" + (", e.g.:" if found else "."),
        *(_example(item) for item, _ in found[:3]),
        f"/unwatch {name} stops it; /mute {name} pauses it here.",
    ]
    return Reply("\n".join(lines))


FORMS = "--forms"  # /test only: list every form each term matches (bot.matching.explain)


async def test(ctx: Runtime, inv: Invocation) -> Reply:
    words = inv.args.split(" ")
    forms = FORMS in words
    if forms:
        inv = replace(inv, args=" ".join(w for w in words if w != FORMS).strip())
    query = _query(ctx, inv)
    rule = query.rule("test")
    looked, found = await recent_matches(ctx, rule)
    lines = [
        f"Terms: {query.describe()}",
        *([render_forms(explain_rule(rule))] if forms else []),
        f"{len(found)} of {plural(looked, 'stored item')} of the last 7 days match "
        "(nothing was created; /watch makes it a rule):",
    ]
    for item, match in found[:5]:
        lines.append(f"- {item.source}: {shorten(item.title or item.text, 90)}")
        lines.append(f"  matched: {', '.join(matched_words(item, match))}")
        if item.link:
            lines.append(f"  {item.link}")
    if len(found) > 5:
        lines.append(f"… and {len(found) - 5} more")
    return Reply("\n".join(lines))


async def unwatch(ctx: Runtime, inv: Invocation) -> Reply:
    if not inv.args:
        raise UsageError()
    rules = rules_for(ctx, inv)  # another chat's rule is answered as one that is not
    name = find_name(inv.args, [r.name for r in rules])
    if name is None:
        return Reply(no_such("rule", inv.args, [r.name for r in rules]))
    chat_rule = next((c for c in ctx.store.chat_rules() if c.rule.name == name), None)
    if chat_rule is None:
        origin = next(r.origin for r in rules if r.name == name)
        return Reply(f"rule {name} comes from {origin}: edit that file or /mute {name}")
    if chat_rule.chat != inv.chat and not is_admin(ctx, inv.platform, inv.user_id):
        return Reply(f"rule {name} was made in another chat; only an admin may remove it")
    ctx.store.remove_chat_rule(name)
    await ctx.refresh_rules()
    return Reply(f"stopped watching {name} ({describe(chat_rule.rule)})")


async def list_rules(ctx: Runtime, inv: Invocation) -> Reply:
    """The rules that alert this chat, with their terms; every rule only in an admin's
    private chat (``sees_every_chat``)."""
    now = ctx.clock()
    muted = {m.target: m for m in ctx.store.active_mutes(now, inv.chat) if m.kind == "rule"}

    def mark(name: str) -> str:
        m = muted.get(name)
        return f" [muted here until {moment(m.until, now)}]" if m else ""

    every = sees_every_chat(ctx, inv)
    shown = {r.name for r in (ctx.rules() if every else rules_of_chat(ctx, inv.chat))}
    file_rules = [r for r in ctx.file_rules if r.name in shown]
    chat_rules = [c for c in ctx.store.chat_rules() if c.rule.name in shown]
    lines = [f"Rules from files ({len(file_rules)}):"]
    for r in file_rules:
        lines.append(f"- {r.name} ({r.origin}): {describe(r, limit=4)}{mark(r.name)}")
    lines.append(f"Rules made in chat ({len(chat_rules)}):")
    for c in chat_rules:
        where = "this chat" if c.chat == inv.chat else f"in {c.chat}" if every else "another chat"
        lines.append(
            f"- {c.rule.name} ({where}, by {c.created_by}): {describe(c.rule)}{mark(c.rule.name)}"
        )
    if not chat_rules:
        lines.append("- none yet: /watch <terms> makes one for this chat")
    if not every:
        lines.append("Rules that alert only other chats are not listed here.")
    return Reply("\n".join(lines))
