"""The ``dozor`` command: a thin edge that reads the config and starts the right part.

    dozor run    [--config FILE] [--once] poll, match and deliver (until stopped, or once)
    dozor check  --config FILE            validate the config and rule files, list every problem
    dozor status --config FILE            each source's health, each destination up or down
                                          (and why), the outbox: from the store
    dozor chat   --config FILE            type chat commands (/help, /watch ...) at the console
    dozor stats  --config FILE            alerts per day as a PNG chart, and the top sources
    dozor sources import FILE.opml | export   move the feed list in and out as OPML
    dozor explain "<query>" [--translit ...]  every form each term matches, with warnings
    dozor search --config FILE QUERY      stored items the query matches, newest first
    dozor evidence export N [-o FILE.zip] an alert's text, kept pictures and their SHA-256

``python -m bot ...`` is the same (bot/__main__.py).

``--config`` defaults to ``./config.toml`` everywhere it is taken.

Exit codes: 0 success; 1 invalid config or rules, or ``run --once`` when every source
failed; 2 wrong usage; 130 interrupted (Ctrl-C)
before ``run`` was up, or during ``--once`` or another command.  Messages go to stderr,
alerts for the console destination to stdout.

``run`` stops on SIGTERM or SIGINT (Ctrl-C) within a few seconds, says "stopped" and
exits 0 (see bot/app.py for what a stop keeps); a second signal ends it at once, with
128 + the signal's number (safe too: the store keeps only whole transactions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot import __version__, stats
from bot.app import App
from bot.commands.common import unique_name
from bot.config import ConfigError, Settings, format_duration, load_config
from bot.logs import setup_logging
from bot.matching import QueryError, RuleFiles, TermError
from bot.model import Rule
from bot.platforms.console.chat import run_chat
from bot.reach import destinations as destinations_reach
from bot.store import Store
from watchers.opml import OpmlError, OpmlFeed, read_opml, write_opml

log = logging.getLogger("dozor")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:  # Ctrl-C before `run` took over the signals, or in a command
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dozor", description="Dozor: watch feeds and channels, alert on matching posts."
    )
    parser.add_argument("--version", action="version", version=f"dozor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="poll sources, match rules, deliver alerts")
    _config_option(run)
    run.add_argument("--once", action="store_true", help="poll every source once, deliver, exit")
    check = sub.add_parser("check", help="validate the config and rule files")
    _config_option(check)
    status = sub.add_parser("status", help="show sources' health and the outbox")
    _config_option(status)
    chat = sub.add_parser("chat", help="type chat commands at the console (no polling)")
    _config_option(chat)
    stats = sub.add_parser("stats", help="alerts per day by rule and source: a table and a PNG")
    _config_option(stats)
    stats.add_argument("--days", type=int, choices=(7, 30), default=7)
    stats.add_argument("-o", "--output", type=Path, default=Path("dozor-stats.png"))
    sources = sub.add_parser("sources", help="move the source list in and out as OPML")
    opml = sources.add_subparsers(dest="action", required=True)
    imp = opml.add_parser("import", help="add the feeds of an OPML file to the config")
    imp.add_argument("file", type=Path)
    _config_option(imp)
    exp = opml.add_parser("export", help="write every source as OPML")
    _config_option(exp)
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    explain = sub.add_parser("explain", help="every form each term of a query matches")
    explain.add_argument("query", help='in the rule language, e.g. "Вагнер OR БПЛА"')
    for option, meaning in (  # as /watch and rule files
        ("translit", "also in the other script (translit = true): Вагнер = Wagner"),
        ("derived", "also derived words (derived = true): вагнеровцы"),
        ("english", "also English forms (english_forms = true): killed = kills"),
        ("exact", "no inflection (inflect = false)"),
        ("ru", 'inflect in Russian only (languages = ["ru"])'),
        ("uk", 'inflect in Ukrainian only (languages = ["uk"])'),
    ):
        explain.add_argument(f"--{option}", action="store_true", help=meaning)
    find = sub.add_parser("search", help="stored items a rule-language query matches")
    find.add_argument("query", nargs="+", help="as /search takes it, e.g. 'Вагнер* погиб*'")
    _config_option(find)
    find.add_argument("--since", help="30d, 12h or 2024-12-01")
    find.add_argument("--source", help="only this source")
    find.add_argument("--page", type=int, default=1)
    evidence = sub.add_parser("evidence", help="the pictures kept of alerted posts")
    kept = evidence.add_subparsers(dest="action", required=True)
    export = kept.add_parser("export", help="a zip of an alert's text, pictures and hashes")
    export.add_argument("alert", type=int, help="the alert's number (Dozor alert #N)")
    export.add_argument("-o", "--output", type=Path, help="default: dozor-alert-N.zip")
    _config_option(export)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.toml"),
        help="the config file (default: ./config.toml)",
    )


def _main(args: argparse.Namespace) -> int:
    if args.command == "explain":  # needs no config
        return explain_command(args)
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        _problems(f"{exc.path}: the config has {_count(exc.problems, 'problem')}:", exc.problems)
        return 1
    setup_logging(settings.log.level, settings.log.format, settings=settings)
    if args.command == "stats":
        return stats_command(settings, args.days, args.output)
    if args.command == "sources":
        if args.action == "import":
            return import_opml(settings, args.file)
        return export_opml(settings, args.output)
    if args.command == "search":
        return search_command(settings, args, sys.stdout)
    if args.command == "evidence":
        return export_evidence(settings, args.alert, args.output)
    files = RuleFiles(settings.rules.paths, settings.base_dir, _destinations(settings))
    rules, problems = load_rules(settings, files)
    if args.command == "check":
        return check_command(settings, rules, problems)
    if args.command == "status":
        return status_command(settings, sys.stdout)
    for problem in problems:
        log.error("rules: %s", problem)
    if problems:
        log.error("running with the %d rules that loaded; fix the problems above", len(rules))
    if not rules:
        log.warning(
            "no rules are loaded: nothing will alert (rules.paths = %s)", settings.rules.paths
        )
    if args.command == "chat":
        return asyncio.run(_chat(settings, rules, files))
    return asyncio.run(_run(settings, rules, files, once=args.once))


def load_rules(settings: Settings, files: RuleFiles | None = None) -> tuple[list[Rule], list[str]]:
    """Rules from the files the config names, plus checks against the config itself
    (``files``: read through it, so the running bot need not read them again)."""
    if files is None:
        files = RuleFiles(settings.rules.paths, settings.base_dir, _destinations(settings))
    loaded = files.reload()  # a rule naming an unknown destination skips its file
    problems = list(loaded.errors)
    names = {rule.name for rule in loaded.rules}
    for rule_name in settings.routes.rules:
        if rule_name not in names:
            problems.append(
                f'{settings.config_path.name}: routes.rules."{rule_name}": no rule of that name '
                "is loaded"
            )
    return list(loaded.rules), problems


def _destinations(settings: Settings) -> frozenset[str]:
    return frozenset(settings.destination_names())


def check_command(settings: Settings, rules: list[Rule], problems: list[str]) -> int:
    if problems:
        _problems(f"{settings.config_path}: {_count(problems, 'problem')}:", problems)
        return 1
    print(
        f"{settings.config_path}: OK: {_count(settings.sources, 'source')}, "
        f"{_count(rules, 'rule')}, {_count(settings.destinations, 'destination')}"
    )
    return 0


async def _run(settings: Settings, rules: list[Rule], files: RuleFiles, *, once: bool) -> int:
    if once:
        async with App(settings, rules, rule_files=files) as app:
            summary = await app.run_once()
        for poll in summary.failed:
            print(f"source {poll.source}: {poll.error}", file=sys.stderr)
        print(
            f"polled {len(summary.polls)} sources ({len(summary.failed)} failed), "
            f"sent {summary.sent} alerts",
            file=sys.stderr,
        )
        if summary.polls and len(summary.failed) == len(summary.polls):
            print("every source failed: nothing was polled (see above)", file=sys.stderr)
            return 1
        return 0
    stop = asyncio.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        if received:  # the second one: no more waiting
            log.warning("%s again: exiting at once", signum.name)
            os._exit(128 + signum)
        received.append(signum)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, on_signal, signum)
    async with App(settings, rules, rule_files=files) as app:
        await app.run_forever(stop)
    log.info("stopped%s", f" ({received[0].name})" if received else "")
    return 0


async def _chat(settings: Settings, rules: list[Rule], files: RuleFiles) -> int:
    """The bot as `run` builds it, but nothing polls: commands from stdin, replies to stdout."""
    async with App(settings, rules, rule_files=files) as app:
        await run_chat(app.context, sys.stdin, sys.stdout, settings.storage.path.parent)
    return 0


def import_opml(settings: Settings, file: Path) -> int:
    """Append the OPML file's feeds to the config as [[sources]] (names and tags kept;
    feeds already there, by URL, are skipped); the config is checked before it is kept."""
    try:
        feeds = read_opml(file.read_bytes())
    except (OSError, OpmlError) as exc:
        print(f"{file}: {exc}", file=sys.stderr)
        return 1
    known = {s.url: s for s in settings.sources}
    names = {s.name for s in settings.sources}
    blocks, added, skipped, imported = [], 0, [], set()
    for feed in feeds:
        there = known.get(feed.url)
        if there is not None:
            off = " (disabled there: enabled = false)" if not there.enabled else ""
            skipped.append(f"{feed.title or feed.name}: already there as {there.name}{off}")
            continue
        if feed.url in imported:
            skipped.append(f"{feed.title or feed.name}: twice in the file")
            continue
        if not feed.url.startswith(("http://", "https://")):  # a file: sample, say
            skipped.append(
                f"{feed.title or feed.name}: not an http(s) feed ({feed.url}); "
                "add it to the config by hand"
            )
            continue
        name = unique_name(feed.name, names, key=str)
        names.add(name)
        imported.add(feed.url)
        tags = ", ".join(json.dumps(t, ensure_ascii=False) for t in feed.tags)
        blocks.append(
            f"\n[[sources]]  # {json.dumps(feed.title, ensure_ascii=False)[1:-1]}\n"
            f"name = {json.dumps(name)}\nkind = {json.dumps(feed.kind)}\n"
            f"url = {json.dumps(feed.url, ensure_ascii=False)}\ntags = [{tags}]\n"
            + ("" if feed.enabled else "enabled = false\n")
        )
        added += 1
    for line in skipped:
        print(f"{file}: skipped {line}", file=sys.stderr)
    if not added:
        there = sum(1 for f in feeds if f.url in known)
        if there == len(feeds):
            print(f"{file}: {_count(feeds, 'feed')}, all already in {settings.config_path}")
        else:
            print(f"{file}: {_count(feeds, 'feed')}, none added ({there} already there)")
        return 0
    original = settings.config_path.read_text(encoding="utf-8")
    header = f"\n# --- imported from {file.name} ({len(blocks)} feeds) ---\n"
    settings.config_path.write_text(original + header + "".join(blocks), encoding="utf-8")
    try:
        load_config(settings.config_path)
    except ConfigError as exc:
        settings.config_path.write_text(original, encoding="utf-8")
        _problems(f"{file}: not imported, the config would be invalid:", exc.problems)
        return 1
    print(
        f"{file}: added {added} sources to {settings.config_path}"
        + (f" ({len(skipped)} already there)" if skipped else "")
    )
    return 0


def stats_command(settings: Settings, days: int, output: Path) -> int:
    if not settings.storage.path.exists():
        print(f"no store yet at {settings.storage.path}: run `dozor run` first", file=sys.stderr)
        return 1
    store = Store.open(settings.storage.path)
    try:
        collected = stats.collect(store, datetime.now(UTC), days)
    finally:
        store.close()
    print(stats.table(collected))
    output.write_bytes(stats.chart(collected))
    print(f"chart: {output}", file=sys.stderr)
    return 0


def export_opml(settings: Settings, output: Path | None) -> int:
    sources = list(settings.sources)
    if settings.storage.path.exists():
        store = Store.open(settings.storage.path)
        try:
            sources += store.chat_sources(settings.polling.interval)
        finally:
            store.close()
    # every kind: a Telegram channel is its t.me/s/ page, kind and enabled = false are kept
    # as dozorKind and dozorEnabled attributes (feed readers ignore them)
    text = write_opml(OpmlFeed(s.name, s.name, s.url, s.tags, s.kind, s.enabled) for s in sources)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {len(sources)} sources to {output}", file=sys.stderr)
    return 0


def search_command(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """``dozor search``: /search at the console, over every source (bot/commands/search.py)."""
    from bot.commands.search import cli_search

    if not settings.storage.path.exists():
        print(f"no store yet at {settings.storage.path}: run `dozor run` first", file=sys.stderr)
        return 1
    store = Store.open(settings.storage.path)
    try:
        names = [s.name for s in settings.sources]
        names += [s.name for s in store.chat_sources(settings.polling.interval)]
        code, text = cli_search(store, args, names)
    finally:
        store.close()
    print(text, file=out if code == 0 else sys.stderr)
    return code


def export_evidence(settings: Settings, alert_id: int, output: Path | None) -> int:
    """``dozor evidence export N``: the alert's text, its kept pictures and SHA256SUMS."""
    from bot.evidence import export_zip

    if not settings.storage.path.exists():
        print(f"no store yet at {settings.storage.path}: run `dozor run` first", file=sys.stderr)
        return 1
    store = Store.open(settings.storage.path)
    try:
        stored = store.alert(alert_id)
        if stored is None:
            print(f"no alert #{alert_id} in {settings.storage.path}", file=sys.stderr)
            return 1
        data = export_zip(store, stored, settings.evidence_dir)
        item = stored.alert.item
        pictures = len(store.evidence.evidence_files(item.source, item.key))
    finally:
        store.close()
    target = output or Path(f"dozor-alert-{alert_id}.zip")
    target.write_bytes(data)
    noun = "picture" if pictures == 1 else "pictures"
    print(f"wrote {target}: the text of alert #{alert_id}, {pictures} {noun}, SHA256SUMS")
    return 0


def status_command(settings: Settings, out: TextIO) -> int:
    if not settings.storage.path.exists():
        print(f"no store yet at {settings.storage.path}: run `dozor run` first", file=out)
        return 0
    store = Store.open(settings.storage.path)
    try:
        now = datetime.now(UTC)
        off = {s.name for s in settings.sources if not s.enabled}
        configured = {s.name for s in settings.sources}
        health = [h for h in store.source_health() if h.name in configured]
        print(f"Sources ({len(health)}):", file=out)
        for h in health:
            if h.name in off:
                state = "disabled (enabled = false in the config)"
            elif h.disabled_reason:
                state = f"DISABLED: {h.disabled_reason}"
            elif h.failing_since:
                state = (
                    f"FAILING since {_ago(now, h.failing_since)} "
                    f"({_count(range(h.error_count), 'failed poll')} in a row): "
                    f"{h.last_error}"
                )
            elif h.last_success_at:
                state = f"ok, last success {_ago(now, h.last_success_at)}"
            else:
                state = "not polled yet"
            nxt = f"; next check in {_until(now, h.next_check_at)}" if h.next_check_at else ""
            print(f"  {h.name}: {state}; {h.items_seen} items seen{nxt}", file=out)
        targets = [*settings.destinations, *store.chat_destinations()]
        print(f"Destinations ({len(targets)}):", file=out)
        for reach in destinations_reach(store, targets, now):
            print(f"  {reach.line()}", file=out)
        counts = store.outbox_counts()
        broken = store.broken_destinations()
        print("Outbox:", file=out)
        for destination in sorted({*counts, *(d.name for d in settings.destinations)}):
            by_state = counts.get(destination, {})
            line = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items())) or "empty"
            flag = f"  BROKEN: {broken[destination]}" if destination in broken else ""
            print(f"  {destination}: {line}{flag}", file=out)
        if settings.evidence.enabled or store.evidence.evidence_usage()[0]:
            files, size = store.evidence.evidence_usage()
            state = "on" if settings.evidence.enabled else "off"
            print(
                f"Evidence ({state}): {_count(range(files), 'picture')}, {size / 1024 / 1024:.1f}"
                f" MB of {settings.evidence.max_mb} MB in {settings.evidence_dir}",
                file=out,
            )
    finally:
        store.close()
    return 0


def explain_command(args: argparse.Namespace) -> int:
    from bot.matching.explain import explain_query, render

    try:
        terms = explain_query(
            args.query,
            translit=args.translit,
            derived=args.derived,
            english_forms=args.english,
            inflect=not args.exact,
            languages=tuple(lang for lang in ("ru", "uk") if getattr(args, lang)) or ("ru", "uk"),
        )
    except TermError as exc:
        print(exc.pointer() if isinstance(exc, QueryError) else exc, file=sys.stderr)
        return 2  # wrong usage: the query is an argument
    print(render(terms))
    return 0


def _ago(now: datetime, then: datetime) -> str:
    return f"{format_duration(max(now - then, now - now))} ago"


def _until(now: datetime, then: datetime) -> str:
    return format_duration(max(then - now, now - now))


def _count(things: Sequence[object], noun: str) -> str:
    return f"{len(things)} {noun}{'' if len(things) == 1 else 's'}"


def _problems(header: str, problems: Sequence[str]) -> None:
    print(header, file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
