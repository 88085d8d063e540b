"""Match -> Alert: decide which destinations get an item, one alert per destination.

A rule's alerts go to the destinations the rule names (in its file) plus those the
config's ``[routes.rules]`` gives it; a rule with neither goes to ``[routes] default``.
An item that fires several rules reaches each destination once, carrying every rule
that sent it there.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.model import Alert, Item, Match, Rule


def destinations_for(
    rule: Rule, default: Sequence[str], per_rule: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    named = [*rule.destinations, *per_rule.get(rule.name, ())]
    chosen = named or list(default)
    return tuple(dict.fromkeys(chosen))


def route(
    item: Item,
    matches: Sequence[Match],
    rules: Mapping[str, Rule],
    default: Sequence[str],
    per_rule: Mapping[str, Sequence[str]],
) -> list[Alert]:
    """One Alert per destination that any of ``matches`` routes to, in first-seen order."""
    by_destination: dict[str, list[Match]] = {}
    for match in matches:
        rule = rules.get(match.rule)
        if rule is None:
            continue
        for destination in destinations_for(rule, default, per_rule):
            by_destination.setdefault(destination, []).append(match)
    return [
        Alert(destination=d, item=item, matches=tuple(ms), story_key=item.story_key)
        for d, ms in by_destination.items()
    ]
