"""Items -> outbox: the middle of the bot, between the watchers and delivery.

No network and no chat: it reads and writes only the store.  ``receive`` takes what
one poll (the scheduler) or one push (a push watcher's stream) of one source brought,
and records it in one transaction: the items and their alerts, the source's fetch
state and health, and that its baseline is done.  For the items (oldest first):
0. note the alerted posts the source no longer shows (deletion detection: only where
   the result says which range of posts it covers);
1. record them as seen; items never seen from that source go on, and so do edited
   ones (a new revision), to be matched again;
2. on a source's first successful poll, stop there (a baseline: no flood of old
   items), except the newest ``backfill`` items when the source asks for them;
3. note changes under alerts already sent: a post gone from its channel ("deleted",
   saying what is kept: the text, and the pictures evidence keeping saved), and, with
   the source's ``note_edits``, an edited one; the outbox redraws them;
4. match them against the rules (the matcher decides which rules apply to which tags);
5. route each match to its destinations, one alert per destination per item;
6. collapse stories (bot/dedup): an item that tells a story already alerted there
   becomes a sighting ("also seen in") under that alert, unless it fires a rule the
   story did not: then it alerts, noted "Part of the story of alert #N";
7. drop the matches whose rule is muted in the destination's chat; an alert whose
   source is muted there, or with no match left, is recorded as suppressed (never
   sent, not even after the mute ends);
8. apply the rules' options: the highest severity, ``silent`` (or ``low``) alerts make
   no sound, the first rule's ``media`` shows pictures its way, and a rule's or the
   destination's ``digest`` sets when it goes out;
9. enqueue the alerts (the store refuses a story already sent to that destination),
   and when one source sends more than ``noisy_per_hour`` alerts into one chat, queue
   a notice offering to mute it (the alerts of a first poll's backfill do not count).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.dedup import Fingerprint, StoryIndex, fingerprint
from bot.matching import Matcher
from bot.model import (
    SEVERITY_ORDER,
    Alert,
    FetchResult,
    FetchStatus,
    Item,
    Rule,
    Source,
    story_root,
)
from bot.routing import route
from bot.schedules import DigestSchedule, rule_digest_due
from bot.store import Store

log = logging.getLogger("dozor.poll")


@dataclass(frozen=True)
class IngestReport:
    source: str
    items: int  # items in the poll
    new: int  # never seen before from this source
    matched: int  # new items that fired at least one rule
    alerts: tuple[int, ...]  # outbox ids of the alerts enqueued
    baseline: bool  # this poll was the source's first
    rules_fired: tuple[str, ...] = ()  # one entry per new item and rule that fired
    gone: int = 0  # alerted posts the source no longer shows (their alerts get a note)

    @property
    def work(self) -> bool:
        """Whether the outbox has something new: alerts, or alerts to redraw."""
        return bool(self.alerts or self.matched or self.gone)


class Pipeline:
    def __init__(
        self,
        store: Store,
        rules: Sequence[Rule],
        default_route: Sequence[str],
        rule_routes: Mapping[str, Sequence[str]],
        clock: Callable[[], datetime],
        chat_of: Callable[[str], str] = lambda destination: destination,
        digest_of: Callable[[str], DigestSchedule | None] = lambda destination: None,
        noisy_per_hour: int = 0,
        compile_rules: Callable[[Sequence[Rule]], Matcher] = Matcher,
    ):
        """``chat_of`` and ``digest_of``: a destination's chat and digest schedule (the
        runtime's ``Directory``, bot/runtime.py); ``compile_rules``: rules -> their
        Matcher (``matching.cache.cached_matcher`` reads one compiled before from disk)."""
        self.compile_rules = compile_rules
        self.noisy_per_hour = noisy_per_hour
        # (destination, source) -> (first poll's time, alerts its backfill enqueued there)
        self._backfilled: dict[tuple[str, str], tuple[datetime, int]] = {}
        self.stories: StoryIndex | None = None  # load_stories() turns near-dup stories on
        self.store = store
        self.clock = clock
        self.chat_of = chat_of
        self.digest_of = digest_of
        self.default_route = tuple(default_route)
        self.rule_routes = rule_routes
        self.set_rules(rules)

    def set_rules(self, rules: Sequence[Rule], matcher: Matcher | None = None) -> None:
        """Use these rules from now on (``matcher``: already compiled for them).  The same
        rules again keep the compiled matcher: 10,000 rules take seconds to compile."""
        rules = list(rules)
        if matcher is None and rules == list(getattr(self, "rules", {}).values()):
            return
        self.rules = {rule.name: rule for rule in rules}
        self.matcher = matcher or self.compile_rules(rules)

    def receive(
        self,
        source: Source,
        result: FetchResult,
        *,
        next_check: datetime | None = None,
        baseline: bool = True,
    ) -> IngestReport | None:
        """What one successful poll or push of ``source`` brought, in one transaction
        (see the module docstring); None when there was nothing to read (304, the same
        body).  ``next_check``: when the scheduler polls the source again (a push
        source: its interval from now, unused).  ``baseline``: the source's first batch
        is only recorded (what was there before Dozor watched); a push watcher whose
        every item is news says False."""
        now = self.clock()
        report = None
        gone: Sequence[str] = ()
        with self.store.atomic():  # the items, their alerts and "baseline done" together
            if result.status is FetchStatus.OK:
                first = baseline and not self.store.baseline_done(source.name)
                if result.covered:
                    gone = result.gone(self.store.alerted_keys(source.name))
                report = self._ingest(source, result.items, first_poll=first, gone=gone)
            newest = max((i.published for i in result.items if i.published), default=None)
            self.store.record_success(
                source.name,
                result.state,
                now,
                next_check or now + source.interval,
                new_items=report.new if report else 0,
                last_item_at=newest,
            )
        if report is None:
            return None
        log.info(
            "source %s: %d items, %d new, %d alerts%s",
            source.name,
            report.items,
            report.new,
            len(report.alerts),
            " (first poll: baseline)" if report.baseline else "",
        )
        return report

    def _ingest(
        self, source: Source, items: Sequence[Item], *, first_poll: bool, gone: Sequence[str]
    ) -> IngestReport:
        """``gone``: keys of this source's alerted items that the source no longer shows."""
        now = self.clock()
        new, revised = self.store.record_items(list(items), now)
        candidates = new
        if first_poll:
            candidates = new[-source.backfill :] if source.backfill else []
        # An edited post is matched again: it alerts if it matches now and never did
        # (the outbox refuses a second alert of the same story to a destination).
        candidates = [*candidates, *revised]
        self._note_changes(source, revised, gone, now)
        alert_ids: list[int] = []
        fired: list[str] = []
        matched = 0
        muted = self._muted(now) if candidates else {}
        for item in candidates:
            alerts = self.alerts_for(item)
            matched += bool(alerts)
            fired.extend(dict.fromkeys(m.rule for a in alerts for m in a.matches))
            alerts = self._collapse(item, alerts, now)
            for alert in alerts:
                kept, suppressed = self._apply_mutes(alert, muted)
                kept = self._rule_options(kept)
                alert_id = self.store.enqueue_alert(
                    kept,
                    now,
                    suppressed=suppressed,
                    digest_at=self._digest_at(kept, now),
                )
                if alert_id is not None and not suppressed:
                    alert_ids.append(alert_id)
                    if first_poll:  # backfill: old items, not the source's pace
                        self._note_backfill(alert.destination, source.name, now)
                    else:
                        self._check_noise(alert.destination, source.name, now)
                if alert_id is not None and "#" in alert.story_key:
                    first = self._first_alert(alert.story_key, alert.destination)
                    if first is not None:
                        self.store.add_note(
                            alert_id, "story", f"🔗 Part of the story of alert #{first}", now
                        )
        return IngestReport(
            source=source.name,
            items=len(items),
            new=len(new),
            matched=matched,
            alerts=tuple(alert_ids),
            baseline=first_poll,
            rules_fired=tuple(fired),
            gone=len(gone),
        )

    def _note_changes(
        self, source: Source, revised: Sequence[Item], gone: Sequence[str], now: datetime
    ) -> None:
        """Posts are evidence: a deleted post that was alerted is noted under its alert
        (its text stays in the store: /show); so is an edit, where the source asks."""
        changes = [
            (
                key,
                "deleted",
                f"🗑 Deleted from {source.name} by {now:%Y-%m-%d %H:%M} UTC; "
                f"{self._kept(source.name, key)}: /show {{id}}",
            )
            for key in gone
        ]
        if source.note_edits:
            changes += [
                (item.key, "edited", f"✏️ Edited at {now:%Y-%m-%d %H:%M} UTC") for item in revised
            ]
        if not changes:
            return
        by_key: dict[str, list[tuple[str, str]]] = {}
        for key, kind, text in changes:
            by_key.setdefault(key, []).append((kind, text))
        for stored in self.store.alerts_of_items(source.name, list(by_key)):
            for kind, text in by_key[stored.alert.item.key]:
                if kind == "deleted" and self.store.has_note(stored.id, "deleted"):
                    continue
                self.store.add_note(stored.id, kind, text.replace("{id}", str(stored.id)), now)
                self.store.request_edit(stored.id, now)

    def _kept(self, source: str, key: str) -> str:
        """What stays of a deleted post: its text, and the pictures evidence keeping
        saved (bot/evidence.py)."""
        count = len(self.store.evidence.evidence_files(source, key))
        if not count:
            return "the text is kept"
        return f"the text and {count} picture{'s' if count != 1 else ''} are kept (evidence)"

    def _collapse(self, item: Item, alerts: list[Alert], now: datetime) -> list[Alert]:
        """One alert per story: an item that tells a story already alerted (the same
        link, a forward of it, a near-duplicate text) becomes an "also seen in" line
        under that alert; only rules the story did not fire yet alert again."""
        if not alerts or self.stories is None:
            return alerts
        if self.stories.expire(now):  # the window moves on while the bot runs
            self.store.forget_fingerprints(now - self.stories.window)
        fp = fingerprint(item)
        found = self.stories.find(fp, now)
        if found is None:
            self.stories.add(item.story_key, fp, now)
            self.store.save_fingerprint(item.story_key, item.key, json.dumps(fp.to_json()), now)
            return alerts
        story = found.story_id
        earlier = self.store.alerts_for_story(story)
        out: list[Alert] = []
        sighted = False
        for alert in alerts:
            here = [e for e in earlier if e.alert.destination == alert.destination]
            if not here:  # the story never reached this destination: it alerts here first
                out.append(replace(alert, story_key=story))
                continue
            done = {m.rule for e in here for m in e.alert.matches}
            fresh = tuple(m for m in alert.matches if m.rule not in done)
            if fresh:
                rules = "+".join(sorted(m.rule for m in fresh))
                out.append(replace(alert, matches=fresh, story_key=f"{story}#{rules}"))
            if item.source != here[0].alert.item.source or item.key != here[0].alert.item.key:
                sighted = True
                for e in here:
                    # sent on its own, or still to be (even while its send is under way:
                    # the edit then waits for the send to finish)
                    if e.state == "pending" or (e.state == "sent" and e.remote_id is not None):
                        self.store.request_edit(e.id, now)
        if sighted:
            self.store.add_sighting(story, item, found.reason, now)
        return out

    def _first_alert(self, story_key: str, destination: str) -> int | None:
        root = story_root(story_key)
        for stored in self.store.alerts_for_story(root):
            if stored.alert.destination == destination and stored.alert.story_key == root:
                return stored.id
        return None

    def load_stories(self, window: timedelta, threshold: float) -> int:
        """Build the story index from the fingerprints kept for the last ``window``."""
        now = self.clock()
        self.stories = StoryIndex(threshold=threshold, window=window)
        self.store.forget_fingerprints(now - window)
        count = 0
        for story_key, data, seen_at in self.store.fingerprints_since(now - window):
            self.stories.add(story_key, Fingerprint.from_json(json.loads(data)), seen_at)
            count += 1
        return count

    def _rule_options(self, alert: Alert) -> Alert:
        """The alert's severity (the highest of its rules'), and a rule file's ``silent =
        true``: its alerts make no sound (when every rule that sent the alert asks for it,
        or is of ``low`` severity); its pictures: the first of its rules' ``media``."""
        rules = [self.rules.get(m.rule) for m in alert.matches]
        levels = [SEVERITY_ORDER.index(r.severity) for r in rules if r is not None]
        severity = SEVERITY_ORDER[max(levels)] if levels else "normal"
        silent = bool(rules) and all(
            r is not None and (r.silent or r.severity == "low") for r in rules
        )
        media = next((r.media for r in rules if r is not None and r.media), alert.media)
        if (severity, silent, media) == (alert.severity, alert.silent, alert.media):
            return alert
        return replace(alert, severity=severity, silent=silent or alert.silent, media=media)

    def _digest_at(self, alert: Alert, now: datetime) -> datetime | None:
        """When the alert goes out in a digest: the destination's schedule, or the rules'
        ``digest = "1h"`` (when every rule that sent it has one); None: at once."""
        times = []
        schedule = self.digest_of(alert.destination)
        if schedule is not None:
            times.append(schedule.next_due(now))
        rules = [self.rules.get(m.rule) for m in alert.matches]
        if rules and all(rule is not None and rule.digest for rule in rules):
            with contextlib.suppress(ValueError):  # rule files are checked when loaded
                times.append(min(rule_digest_due(r.digest, now) for r in rules if r and r.digest))
        return min(times) if times else None

    def _note_backfill(self, destination: str, source: str, now: datetime) -> None:
        when, count = self._backfilled.get((destination, source), (now, 0))
        self._backfilled[(destination, source)] = (now, count + 1 if when == now else 1)

    def _check_noise(self, destination: str, source: str, now: datetime) -> None:
        """A source flooding a chat: say so once (a day), with buttons to mute it.  The
        alerts of a first poll's ``backfill`` do not count (kept in memory: after a
        restart within that hour they would)."""
        if not self.noisy_per_hour:
            return
        since = now - timedelta(hours=1)
        count = self.store.count_alerts(destination, source, since)
        backfill_at, backfilled = self._backfilled.get((destination, source), (since, 0))
        if backfill_at >= since:
            count -= backfilled
        if count <= self.noisy_per_hour:
            return
        if self.store.noticed_since(destination, "noisy", source, now - timedelta(days=1)):
            return
        self.store.enqueue_notice(
            destination,
            "noisy",
            source,
            f"📢 Source {source} sent {count} alerts here in the last hour (more than "
            f"{self.noisy_per_hour}). Mute it for a while?",
            now,
        )

    def _muted(self, now: datetime) -> dict[str, set[tuple[str, str]]]:
        """{chat: {(kind, target)}} of the mutes in force now."""
        out: dict[str, set[tuple[str, str]]] = {}
        for mute in self.store.active_mutes(now):
            out.setdefault(mute.chat, set()).add((mute.kind, mute.target))
        return out

    def _apply_mutes(
        self, alert: Alert, muted: Mapping[str, set[tuple[str, str]]]
    ) -> tuple[Alert, bool]:
        here = muted.get(self.chat_of(alert.destination)) if muted else None
        if not here:
            return alert, False
        if ("source", alert.item.source) in here:
            return alert, True
        matches = tuple(m for m in alert.matches if ("rule", m.rule) not in here)
        if not matches:
            return alert, True
        return replace(alert, matches=matches), False

    def alerts_for(self, item: Item) -> list[Alert]:
        matches = self.matcher.match(item)
        if not matches:
            return []
        return route(item, matches, self.rules, self.default_route, self.rule_routes)
