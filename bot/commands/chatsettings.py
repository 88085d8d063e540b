"""/languages: what a chat sets for itself, kept per destination (the chat, or its topic).

A chat's languages are those the rules it adds inflect Cyrillic words in (issue 18):
what ``/languages`` set there (in the store, so it survives a restart), else its
``[[destinations]]`` entry's ``languages``, else Russian and Ukrainian.  ``/watch`` and
``/test`` without ``--ru``/``--uk`` take them (``rules.watch``, ``rules.test``); an
explicit option wins, and rules already made keep what they were made with.  Anyone in
a served chat may see the setting; changing it needs what ``/watch`` needs.
"""

from __future__ import annotations

import re

from bot.commands.common import UsageError, plural
from bot.commands.permissions import Access, refusal
from bot.commands.types import Invocation, Reply
from bot.matching.inflect import LANGUAGES
from bot.model import Destination
from bot.runtime import Runtime

NAMES = {"ru": "Russian", "uk": "Ukrainian"}


def destination_here(ctx: Runtime, inv: Invocation) -> Destination | None:
    """The destination that posts into this chat (and topic), if there is one yet
    (``Runtime.destination_for`` makes one on first use)."""
    address = None if inv.chat_id is None else str(inv.chat_id)
    thread = None if inv.thread_id is None else str(inv.thread_id)
    return next(
        (
            d
            for d in ctx.destinations()
            if d.platform == inv.platform
            and (address is None or (d.address == address and d.thread == thread))
        ),
        None,
    )


def chat_languages(ctx: Runtime, inv: Invocation) -> tuple[str, ...]:
    """The languages the rules this chat adds inflect in (see the module docstring)."""
    destination = destination_here(ctx, inv)
    if destination is None:
        return LANGUAGES
    return ctx.store.destination_languages(destination.name) or destination.languages


def _named(languages: tuple[str, ...]) -> str:
    if languages == LANGUAGES:
        return "Russian and Ukrainian (ru uk)"
    return f"{' and '.join(NAMES[lang] for lang in languages)} only ({' '.join(languages)})"


def parse_languages(text: str) -> tuple[str, ...]:
    """``ru``, ``uk``, ``ru uk`` (commas and ``--`` allowed) as languages in their
    canonical order; UsageError naming a word that is none."""
    words = [w.removeprefix("--").casefold() for w in re.split(r"[\s,]+", text) if w]
    wrong = [w for w in words if w not in LANGUAGES] or ([] if words else ["(none)"])
    if wrong:
        raise UsageError(f'"{wrong[0][:20]}" is not a language Dozor inflects: ru, uk or both')
    return tuple(lang for lang in LANGUAGES if lang in words)


async def languages(ctx: Runtime, inv: Invocation) -> Reply:
    if not inv.args:
        return Reply(
            f"Rules added in this chat inflect Cyrillic words in {_named(chat_languages(ctx, inv))}"
            ". /languages ru or /languages uk narrows it, /languages ru uk is both; --ru or "
            "--uk on a /watch chooses for that rule."
        )
    wanted = parse_languages(inv.args)
    why = refusal(
        ctx,
        inv.platform,
        inv.chat_id,
        inv.user_id,
        Access.WATCH,
        "set this chat's languages",
        private=inv.chat_type in ("private", "im"),
    )
    if why:
        return Reply(why, ephemeral=True)
    destination = ctx.destination_for(inv.platform, inv.chat_id, inv.thread_id)
    ctx.store.set_destination_languages(destination, wanted)
    kept = sum(1 for c in ctx.store.chat_rules() if c.destination == destination)
    keep = "keeps its" if kept == 1 else "keep theirs"
    return Reply(
        f"This chat's languages are now {_named(wanted)}: applies to rules you add from "
        f"now on (/watch and /test without --ru or --uk); {plural(kept, 'existing rule')} "
        f"{keep}."
    )
