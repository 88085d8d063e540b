"""/status and /stats: the bot's health at a glance, from the store and the live context.

/status shows each destination that is down and why (bot/reach.py: no token set,
cannot connect) and each broken one.
In a chat both show that chat's part of what names chats (destinations, the
alerts /stats counts by rule); an admin's private chat with the bot shows every chat's.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from bot import reach
from bot.commands.common import UsageError, ago, plural, span
from bot.commands.permissions import chat_destinations, sees_every_chat
from bot.commands.sources import condition
from bot.commands.types import Invocation, Reply
from bot.runtime import Runtime
from bot.stats import chart, collect, table


async def stats(ctx: Runtime, inv: Invocation) -> Reply:
    """/stats [7|30]: a chart of alerts per day by rule and by source, and a table; of
    this chat's alerts, or every chat's in an admin's private chat."""
    arg = inv.args.strip().removesuffix("d")
    if arg and arg not in ("7", "30"):
        raise UsageError
    here = None if sees_every_chat(ctx, inv) else chat_destinations(ctx, inv.chat)
    collected = collect(ctx.store, ctx.clock(), int(arg or 7), destinations=here)
    png = await asyncio.to_thread(chart, collected)
    return Reply(table(collected), image=png, image_name="dozor-stats.png")


async def status(ctx: Runtime, inv: Invocation) -> Reply:
    now = ctx.clock()
    health = {h.name: h for h in ctx.store.source_health()}
    sources = ctx.sources()
    counts = Counter(condition(health.get(s.name), s) for s in sources)
    shown = [
        f"{counts[k]} {label}"
        for k, label in (
            ("ok", "ok"),
            ("failing", "failing"),
            ("disabled", "disabled"),
            ("new", "not polled yet"),
            ("off", "off"),
        )
        if counts[k] or k in ("ok", "failing")
    ]
    broken = ctx.store.broken_destinations()
    elsewhere, here = 0, None
    if not sees_every_chat(ctx, inv):  # other chats' names and troubles are theirs
        here = set(chat_destinations(ctx, inv.chat))
        elsewhere = len(broken.keys() - here)
        broken = {name: why for name, why in broken.items() if name in here}
    chat_rules = len(ctx.rules()) - len(ctx.file_rules)
    # from the store, not this process: `dozor chat` or a restart polled nothing yet
    last_poll = max((h.last_poll_at for h in health.values() if h.last_poll_at), default=None)
    lines = [
        f"Dozor {ctx.version}, up {span(now - ctx.started_at)}",
        f"Sources: {', '.join(shown)} (of {len(sources)}); /sources for details",
        f"Rules: {len(ctx.file_rules)} from files, {chat_rules} made in chat",
        f"Last poll: {ago(now, last_poll)}",
        f"Outbox: {plural(ctx.store.outbox_depth(), 'alert')} waiting to be sent",
    ]
    down = [
        r
        for r in reach.destinations(ctx.store, ctx.destinations(), now)
        if r.is_down and (here is None or r.destination.name in here)
    ]
    if down:
        lines.append(f"Destinations down ({len(down)}):")
        lines += [f"- {r.line()}" for r in down]
    if broken:
        lines.append(f"Broken destinations ({len(broken)}):")
        lines += [f"- {name}: {reason}" for name, reason in sorted(broken.items())]
    else:
        lines.append("Broken destinations: none" + (" here" if elsewhere else ""))
    if elsewhere:
        lines.append(
            f"Broken destinations of other chats: {elsewhere} (an admin's /status "
            "in a private chat names them)"
        )
    mutes = ctx.store.active_mutes(now, inv.chat)
    if mutes:
        lines.append(f"Muted in this chat: {len(mutes)} (/mutes)")
    return Reply("\n".join(lines))
