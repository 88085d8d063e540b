"""/stats and `dozor stats`: alerts per day over the last 7 or 30 days, by rule and by
source, as a PNG chart and a short table.

Reads the outbox; a story counts once however many chats it reached, and suppressed
alerts (muted: nobody saw them) are not counted.  In a chat, /stats counts that chat's
alerts only (``bot.commands.permissions``): rule names tell what other chats watch.
The chart is drawn with matplotlib's Agg backend, off the event loop (the caller runs
``chart`` in a thread): it is CPU work and a chat command must not wait on it.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.model import story_root
from bot.store import Store

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Stats:
    days: tuple[date, ...]
    by_rule: dict[str, tuple[int, ...]]  # rule -> alerts per day, aligned with days
    by_source: dict[str, tuple[int, ...]]
    total: int
    per_day: tuple[int, ...]  # every alert (story) per day, aligned with days


def collect(
    store: Store,
    now: datetime,
    days: int = 7,
    top: int = 6,
    destinations: Collection[str] | None = None,
) -> Stats:
    """The last ``days`` days' alerts (of ``destinations`` only, when given)."""
    first = (now - timedelta(days=days - 1)).date()
    span = tuple(first + timedelta(days=n) for n in range(days))
    rules: dict[str, Counter[date]] = {}
    sources: dict[str, Counter[date]] = {}
    total = 0
    per_day: Counter[date] = Counter()
    seen: dict[str, set[str]] = {}  # story -> rules counted: one count per story, not per chat
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    for day, source, rule_list, story in store.alerts_by_day(start, destinations):
        story = story_root(story)
        if story not in seen:
            seen[story] = set()
            total += 1
            per_day[day] += 1
            sources.setdefault(source, Counter())[day] += 1
        for rule in (r.strip() for r in rule_list.split(",")):
            if rule and rule not in seen[story]:
                seen[story].add(rule)
                rules.setdefault(rule, Counter())[day] += 1

    def series(table: dict[str, Counter[date]]) -> dict[str, tuple[int, ...]]:
        ranked = sorted(table, key=lambda k: (-sum(table[k].values()), k))[:top]
        return {k: tuple(table[k][d] for d in span) for k in ranked}

    return Stats(span, series(rules), series(sources), total, tuple(per_day[d] for d in span))


def table(stats: Stats) -> str:
    lines = [f"Alerts in the last {len(stats.days)} days: {stats.total}", "Per day:"]
    per_day = zip(stats.days, stats.per_day, strict=True)
    lines += [f"  {d.strftime('%a %d %b')}  {n:>5}" for d, n in per_day]
    for title, data in (("Top rules", stats.by_rule), ("Top sources", stats.by_source)):
        if data:
            lines.append(f"{title}:")
            lines += [f"  {sum(v):>5}  {k}" for k, v in data.items()]
    return "\n".join(lines)


def chart(stats: Stats) -> bytes:
    """A PNG: two stacked bar charts (by rule, by source) of alerts per day."""
    out = io.BytesIO()
    figure(stats).savefig(out, format="png")
    return out.getvalue()


def figure(stats: Stats) -> Figure:
    """The chart's matplotlib figure (y ticks are whole alerts)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 6.5), dpi=100)
    labels = [d.strftime("%d %b") for d in stats.days]
    for row, (title, data) in enumerate(
        (("by rule", stats.by_rule), ("by source", stats.by_source))
    ):
        ax = fig.add_subplot(2, 1, row + 1)
        bottom = [0] * len(labels)
        for name, values in data.items():
            ax.bar(labels, values, bottom=bottom, label=name)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_title(f"Dozor alerts per day, {title}", loc="left", fontsize=11)
        ax.set_ylabel("alerts")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if data:
            ax.legend(fontsize=8, loc="upper left", frameon=False)
        if len(labels) > 10:
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    fig.tight_layout()
    return fig
