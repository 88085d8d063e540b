"""Items -> outbox: the pure middle of the bot, between the watchers and delivery.

For the items one poll of one source brought (oldest first):
1. record them as seen; only items never seen from that source go on;
2. on a source's first successful poll, stop there (a baseline: no flood of old
   items), except the newest ``backfill`` items when the source asks for them;
3. match them against the rules (the matcher decides which rules apply to which tags);
4. route each match to its destinations, one alert per destination per item;
5. enqueue the alerts; the outbox refuses a story already sent to that destination.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.matching import Matcher
from bot.model import Alert, Item, Rule, Source
from bot.routing import route
from bot.store import Store


@dataclass(frozen=True)
class IngestReport:
    source: str
    items: int  # items in the poll
    new: int  # never seen before from this source
    matched: int  # new items that fired at least one rule
    alerts: tuple[int, ...]  # outbox ids of the alerts enqueued
    baseline: bool  # this poll was the source's first


class Pipeline:
    def __init__(
        self,
        store: Store,
        rules: Sequence[Rule],
        default_route: Sequence[str],
        rule_routes: Mapping[str, Sequence[str]],
        clock: Callable[[], datetime],
    ):
        self.store = store
        self.clock = clock
        self.default_route = tuple(default_route)
        self.rule_routes = rule_routes
        self.set_rules(rules)

    def set_rules(self, rules: Sequence[Rule]) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.matcher = Matcher(list(rules))

    def ingest(self, source: Source, items: Sequence[Item], *, first_poll: bool) -> IngestReport:
        now = self.clock()
        new = self.store.mark_seen(list(items), now)
        candidates = new
        if first_poll:
            candidates = new[-source.backfill :] if source.backfill else []
        alert_ids: list[int] = []
        matched = 0
        for item in candidates:
            alerts = self.alerts_for(item)
            matched += bool(alerts)
            for alert in alerts:
                alert_id = self.store.enqueue_alert(alert, now)
                if alert_id is not None:
                    alert_ids.append(alert_id)
        return IngestReport(
            source=source.name,
            items=len(items),
            new=len(new),
            matched=matched,
            alerts=tuple(alert_ids),
            baseline=first_poll,
        )

    def alerts_for(self, item: Item) -> list[Alert]:
        matches = self.matcher.match(item)
        if not matches:
            return []
        return route(item, matches, self.rules, self.default_route, self.rule_routes)
