"""/search: every stored item, in the rule language, newest first, page by page.

    /search <query> [since 30d | since 2024-12-01] [in <source>] [page 2]

The query is a rule-language query, exactly as in rule files and /watch (inflected
forms, "phrases", OR, -exclude, NEAR/n, title:/text:, source:/tag:/link:, /regex/),
with /watch's options (--translit, --derived, --english, --exact); the clauses at the
end narrow it (``in`` names a source; a quoted phrase ending in "in X" is the query's).
Each hit shows its source, date, link, and the words that matched, marked [so] in the
title (else in a snippet of the text) and listed as /test lists them.  The search itself is
``bot.search`` (an index prefilter, then the matcher), run in a thread.

A chat searches the sources whose items it may read (``permissions.sources_of_chat``:
those its rules watch); an admin's private chat and the console search every source.
``dozor search`` (``cli_search``, called by bot/cli.py) parses and prints the same way,
over every source.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.commands.common import MAX_ARGS, UsageError, find_name, no_such, parse_number, plural
from bot.commands.permissions import sources_of_chat
from bot.commands.rules import QueryError, describe, matched_words, rule_options, split_options
from bot.commands.types import Invocation, Reply
from bot.config import parse_duration
from bot.matching import TermError, rule_from_query
from bot.model import Rule
from bot.render import Segments, plain, snippet
from bot.runtime import Runtime
from bot.schedules import DurationTooLong
from bot.search import SCAN_LIMIT, Page, TooManyForms, in_thread
from bot.search import search as search_archive
from bot.store import Store

PER_PAGE = 5  # hits a chat reply shows
MAX_PAGE = 10_000
MARKS = ("[", "]")  # around matched words ("«»" are Russian quotes, often around names)
_CLAUSE = re.compile(r"\s+(page|since|in)\s+(\S+)\s*$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHELL_WORD = re.compile(r"[\w@%+=:,./-]+")  # needs no quotes in a shell


@dataclass(frozen=True)
class Request:
    query: str  # as typed, options included, clauses not
    rule: Rule
    since: datetime | None = None
    source: str | None = None  # as typed after "in"
    page: int = 1
    clauses: str = ""  # " since 30d in bbc" as typed (for the next page's command)


def search_rule(query: str) -> Rule:
    """The rule a search query stands for; QueryError with the reason (a pointer under
    the problem), under the same limits as /watch."""
    if len(query) > MAX_ARGS:
        raise QueryError(f"the query is {len(query)} characters long; at most {MAX_ARGS}")
    text, options = split_options(query)
    if not text.strip():
        raise QueryError("say what to look for, e.g. Вагнер* погиб*")
    try:
        return rule_from_query("search", text, **rule_options(options))
    except TermError as exc:
        raise QueryError(exc.pointer() if hasattr(exc, "pointer") else str(exc)) from None


def parse_since(text: str, now: datetime) -> datetime:
    """ "30d", "12h" (back from now) or "2024-12-01" (UTC midnight)."""
    if _DATE.match(text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            pass
    else:
        try:
            return now - parse_duration(text)
        except (DurationTooLong, OverflowError):
            return datetime(1970, 1, 1, tzinfo=UTC)  # longer than the archive: all of it
        except ValueError:
            pass
    raise QueryError(f'"since {text}": give a duration like 30d or a date like 2024-12-01')


def parse_request(args: str, now: datetime) -> Request:
    """``<query> [since X] [in <source>] [page N]`` (clauses in any order, at the end)."""
    text, clauses = args.strip(), {}
    while (m := _CLAUSE.search(text)) and m.group(1).lower() not in clauses:
        if not _balanced(text[: m.start()]) or any(q in m.group(2) for q in '"“”„«»'):
            break  # inside a quoted phrase: the query's own words
        clauses[m.group(1).lower()] = m.group(2)
        text = text[: m.start()].rstrip()
    page = 1
    if "page" in clauses:
        number = parse_number(clauses["page"])
        if number is None or not 1 <= number <= MAX_PAGE:
            raise QueryError(f'"page {clauses["page"]}": give a page number, 1 to {MAX_PAGE}')
        page = number
    since = parse_since(clauses["since"], now) if "since" in clauses else None
    kept = "".join(f" {k} {v}" for k, v in clauses.items() if k != "page")
    return Request(text, search_rule(text), since, clauses.get("in"), page, kept)


def _balanced(text: str) -> bool:
    return text.count('"') % 2 == 0 and all(
        text.count(a) == text.count(b) for a, b in (("«", "»"), ("“", "”"))
    )


def page_text(request: Request, page: Page, scope: str, next_command: str) -> str:
    """The reply (or the CLI's output): what was searched, then each hit with its source,
    date, link and marked words."""
    shown = describe(request.rule) + (f"; in {request.source}" if request.source else "")
    if request.since is not None:
        shown += f"; since {request.since:%Y-%m-%d %H:%M} UTC"
    lines = [f"Search: {shown} ({scope})"]
    first = (page.number - 1) * page.per_page + 1
    if not page.hits and page.number > 1:
        in_all = f" ({page.total} in all)" if page.total is not None else ""
        lines.append(f"page {page.number} is past the last match{in_all}")
    elif not page.hits:
        lines.append("no stored item matches")
    elif page.total is not None:
        pages = -(-page.total // page.per_page)
        count = f"{page.total} match{'' if page.total == 1 else 'es'}"
        lines.append(f"{count}, newest first" + (f"; page {page.number} of {pages}:" if
                                                    pages > 1 else ":"))  # fmt: skip
    else:
        lines.append(f"page {page.number}, newest first:")
    for n, hit in enumerate(page.hits, start=first):
        item, spans = hit.item, hit.match.spans
        title_spans = [(s.start, s.end) for s in spans if s.field == "title"]
        text_spans = [(s.start, s.end) for s in spans if s.field == "text"]
        lines.append(f"{n}. {item.source} · {hit.date:%Y-%m-%d %H:%M} UTC")
        if item.title:
            lines.append("   " + _one_line(snippet(item.title, title_spans, 100)))
        if not title_spans or not item.title:  # where the words are, if not in the title
            lines.append("   " + _one_line(snippet(item.text, text_spans, 200)))
        lines.append(f"   matched: {', '.join(matched_words(item, hit.match))}")
        if item.link:
            lines.append(f"   {item.link}")
    if page.more:
        lines.append(f"more: {next_command}")
    if not page.indexed:
        lines.append(
            f"(the query has no word to look up, so only the newest {SCAN_LIMIT:,} items "
            "were searched: add a word to search them all)"
        )
    elif page.cut:
        lines.append(
            f"(only the newest of the {page.candidates:,} items that have these words were "
            "searched: add words or 'since' to narrow the search)"
        )
    return "\n".join(lines)


def _one_line(segments: Segments) -> str:
    return " ".join(plain(segments, *MARKS).split())


def pick_source(wanted: str, names: Collection[str]) -> str:
    """The source of ``names`` that ``in <wanted>`` names; QueryError when none does
    (another chat's sources are not suggested: ``names`` are this chat's)."""
    found = find_name(wanted, names)
    if found is None:
        raise QueryError(no_such("source", wanted, names))
    return found


async def search(ctx: Runtime, inv: Invocation) -> Reply:
    if not inv.args:
        raise UsageError()
    now = ctx.clock()
    try:
        request = parse_request(inv.args, now)
    except QueryError as exc:
        raise UsageError(str(exc)) from None
    visible = sources_of_chat(ctx, inv)
    if visible is not None and not visible:
        return Reply(
            "this chat reads the items of the sources its rules watch, and it has no "
            "rules yet: /watch makes one (/rules lists them)"
        )
    sources = visible
    if request.source is not None:
        names = visible if visible is not None else [s.name for s in ctx.sources()]
        try:
            sources = [pick_source(request.source, names)]
        except QueryError as exc:
            return Reply(str(exc))
    try:
        page = await in_thread(
            ctx.store,
            lambda store: search_archive(
                store,
                request.rule,
                sources=sources,
                since=request.since,
                page=request.page,
                per_page=PER_PAGE,
            ),
        )
    except TooManyForms as exc:
        raise UsageError(str(exc)) from None
    if sources is None:
        scope = "every source"
    elif request.source is not None:
        scope = f"source {sources[0]}"
    else:
        scope = f"the {plural(len(sources), 'source')} this chat's rules watch"
    more = f"/search {request.query}{request.clauses} page {request.page + 1}"
    return Reply(page_text(request, page, scope, more))


def cli_search(store: Store, args: argparse.Namespace, names: list[str]) -> tuple[int, str]:
    """``dozor search`` (bot/cli.py): (exit code, what to print: the page on stdout, or
    on stderr why not).  Every source (``names``); 10 hits a page."""
    query = " ".join(args.query)
    try:
        rule = search_rule(query)
        since = parse_since(args.since, datetime.now(UTC)) if args.since else None
        sources = [pick_source(args.source, names)] if args.source else None
        if args.page < 1:
            raise QueryError("--page: 1 or more")
        page = search_archive(store, rule, sources=sources, since=since, page=args.page)
    except (QueryError, TooManyForms) as exc:
        return 2, f"dozor search: {exc}"
    request = Request(query, rule, since, args.source, args.page)
    scope = f"source {sources[0]}" if sources else "every source"
    again = ["dozor", "search", "--config", str(args.config), *args.query]
    for flag, value in (("--since", args.since), ("--source", args.source)):
        again += [flag, value] if value else []
    again += ["--page", str(args.page + 1)]
    shown = " ".join(a if _SHELL_WORD.fullmatch(a) else shlex.quote(a) for a in again)
    return 0, page_text(request, page, scope, shown)
