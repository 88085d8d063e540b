"""The matcher as it was before issue 13 (bot/matching/matcher.py and automaton.py at
commit 1181b86), kept verbatim as the oracle of tests/test_matching_reference.py: the
compact matcher must give the same Matches.  Not used by the bot.

Original docstring follows.

Item -> Match: which rules an item fires, which of their terms, and where.

Part of the "Item -> Match" stage; pure, imports only ``bot.model``.  Evaluation order:

1. compile (once per rule set): each rule's query (``Rule.query``, see ``query``) and
   its ``any``/``all``/``none`` lists become one boolean tree; every term becomes an
   "atom" (its words, each with its forms: inflection, transliteration, English forms
   as the rule asks), and every word form a key of ONE automaton (``automaton``);
2. per item: fold title and text (``normalize``), scan them once with the automaton;
3. only the rules one of whose trigger terms occurred (plus the few that have none:
   regex-only or metadata-only queries) are evaluated: source and tag filters first
   (``Rule.sources``, ``Rule.tags``), then the tree;
4. a rule fires when its tree is true and it has at least one positive term or
   condition; a ``none`` term or a ``NOT`` vetoes wherever it occurs in the item.

A Match names the terms that fired (as the rule writes them, in rule order) and one
span per place, in the ORIGINAL title/text (title first), labelled with the first term
in rule order that matched there.  Terms are whole words or phrases of consecutive
words ("a*" is a prefix); a phrase never runs from the title into the text.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import ahocorasick

from bot.matching.forms import word_forms
from bot.matching.normalize import (
    Folded,
    fold,
    host_of,
    link_hosts,
    normalize_term,
)
from bot.matching.query import (
    And,
    Meta,
    Node,
    Not,
    Or,
    QueryError,
    Regex,
    Term,
    TermError,
    parse_list_entry,
    parse_query,
)
from bot.model import Item, Match, Rule, Span


class Automaton:
    """Keys (token, is-prefix) -> ids; ``build`` once, then ``scan`` any number of texts."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, bool], int] = {}
        self.sizes: list[int] = []  # len(padded key): a hit ending at e starts at e - size + 2
        self._automaton = ahocorasick.Automaton()
        self._built = False

    def __len__(self) -> int:
        return len(self._ids)

    def key(self, token: str, prefix: bool) -> int:
        """The id of ``token`` (a word, or words joined by single spaces)."""
        found = self._ids.get((token, prefix))
        if found is None:
            if self._built:
                raise RuntimeError("the automaton is built: no more keys")
            found = self._ids[(token, prefix)] = len(self.sizes)
            padded = f" {token}" if prefix else f" {token} "
            self.sizes.append(len(padded))
            self._automaton.add_word(padded, found)
        return found

    def build(self) -> None:
        if self._ids:
            self._automaton.make_automaton()
        self._built = True

    def scan(self, text: str) -> list[tuple[int, int]]:
        """Every (index of the hit's last character, key id) in ``text``."""
        if not self._ids:
            return []
        return list(self._automaton.iter(text))


__all__ = ["Matcher", "TermError", "check_term", "match_rule", "rule_from_query"]

FIELDS = ("title", "text")  # span order: title first
MAX_REGEX_SPANS = 50  # per field and regex: enough to mark, bounded work
MAX_NEAR_GROUPS = 200  # pairs a NEAR keeps: enough to mark, bounded work
_LATIN = re.compile(r"[a-z]")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")

# --- compiled rules ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    inflect: bool = True
    translit: bool = False
    derived: bool = False
    english: bool = False
    languages: tuple[str, ...] = ("ru", "uk")


@dataclass(frozen=True, slots=True)
class _Atom:
    slots: tuple[frozenset[int], ...]  # key ids per token position
    field: int | None  # 0 title, 1 text, None both


# Compiled tree nodes: tuples, cheap to walk.
#   ("term", atom id, label)  ("regex", re2 pattern, field, label)  ("meta", kind, value, label)
#   ("and", nodes)  ("or", nodes)  ("not", node)  ("near", left, right, distance)
_Node: TypeAlias = tuple[Any, ...]


@dataclass(slots=True)
class _Rule:
    rule: Rule
    tree: _Node | None  # None: never fires (no positive term)
    labels: tuple[str, ...]
    tags: frozenset[str]
    sources: tuple[str, ...]
    trigger: frozenset[int] | None  # atoms, one of which must occur; None: always evaluate
    flat: tuple[tuple[int, int], ...] | None  # (atom, label) when the tree is "any of terms"
    simple: bool = False  # flat, and every atom one word anywhere: found = first-word hits


class _Compiler:
    def __init__(self) -> None:
        self.automaton = Automaton()
        self.atoms: list[_Atom] = []
        self._atom_ids: dict[_Atom, int] = {}

    def atom(self, term: Term, options: _Options) -> int:
        slots = tuple(
            frozenset(self.automaton.key(token, prefix) for token, prefix in slot)
            for slot in _slots(term, options)
        )
        atom = _Atom(slots, None if term.field is None else FIELDS.index(term.field))
        found = self._atom_ids.get(atom)
        if found is None:
            found = self._atom_ids[atom] = len(self.atoms)
            self.atoms.append(atom)
        return found

    def tree(self, node: Node, options: _Options, labels: dict[str, int]) -> _Node:
        if isinstance(node, Term):
            return ("term", self.atom(node, options), labels.setdefault(node.text, len(labels)))
        if isinstance(node, Regex):
            field_index = None if node.field is None else FIELDS.index(node.field)
            return ("regex", node.compiled, field_index, labels.setdefault(node.text, len(labels)))
        if isinstance(node, Meta):
            return ("meta", node.kind, node.value, labels.setdefault(node.text, len(labels)))
        if isinstance(node, And):
            return ("and", tuple(self.tree(i, options, labels) for i in node.items))
        if isinstance(node, Or):
            return ("or", tuple(self.tree(i, options, labels) for i in node.items))
        if isinstance(node, Not):
            return ("not", self.tree(node.item, options, {}))
        left = self.tree(node.left, options, labels)
        return ("near", left, self.tree(node.right, options, labels), node.distance)

    def rule(self, rule: Rule) -> _Rule:
        options = _Options(
            inflect=rule.inflect,
            translit=rule.translit,
            english=rule.english_forms,
            derived=rule.derived,
            languages=rule.languages,
        )
        root = rule_tree(rule)
        labels: dict[str, int] = {}
        tree = None if root is None else self.tree(root, options, labels)
        return _Rule(
            rule=rule,
            tree=tree,
            labels=tuple(labels),
            tags=frozenset(t.casefold() for t in rule.tags),
            sources=tuple(s.casefold() for s in rule.sources),
            trigger=None if tree is None else _trigger(tree),
            flat=_flat(tree),
        )


def rule_tree(rule: Rule) -> Node | None:
    """The boolean tree of ``rule`` (query AND lists), or None when it can never fire.
    Raises ``TermError``/``QueryError`` naming the rule."""
    parts: list[Node] = []
    try:
        if rule.query.strip():
            parts.append(parse_query(rule.query).root)
        any_ = [parse_list_entry(t) for t in rule.any]
        all_ = [parse_list_entry(t) for t in rule.all]
        none = [parse_list_entry(t) for t in rule.none]
    except QueryError as e:
        raise QueryError(f'rule "{rule.name}": {e.message}', e.position, e.query) from None
    except TermError as e:
        raise TermError(f'rule "{rule.name}": {e}') from None
    if any_ or all_:
        if any_:
            parts.append(any_[0] if len(any_) == 1 else Or(tuple(any_)))
        parts.extend(all_)
    elif not rule.query.strip():
        return None  # no positive term: a rule with only "none" never fires
    if none:
        parts.append(Not(none[0] if len(none) == 1 else Or(tuple(none))))
    # Positive by construction (``is_positive`` holds): parse_query rejects a query that
    # is not, list entries are terms or regexes, and NOT(none) is only ever ANDed to them.
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _slots(term: Term, options: _Options) -> list[set[tuple[str, bool]]]:
    """Per token of ``term``: the (token, is-prefix) alternatives that stand for it."""
    slots: list[set[tuple[str, bool]]] = []
    for word in term.words:
        n = len(word.tokens)
        base = [{(token, False)} for token in word.tokens]
        if word.prefix:
            base[-1] = {(word.tokens[-1], True)}
        raw = _EDGES.sub("", word.raw)  # case kept, as the matcher (forms.py)
        if not term.exact and raw:
            for form in word_forms(raw, word.prefix, options):
                tokens = normalize_term(form)
                if len(tokens) == n:
                    for i, token in enumerate(tokens):
                        base[i].add((token, word.prefix and i == n - 1))
        slots.extend(base)
    return slots


def _flat(node: _Node | None) -> tuple[tuple[int, int], ...] | None:
    """The (atom, label) pairs of a tree that is one term or an OR of terms (the common
    keyword rule), in label order; None for any other tree."""
    if node is None:
        return None
    if node[0] == "term":
        return ((node[1], node[2]),)
    if node[0] == "or" and all(child[0] == "term" for child in node[1]):
        pairs = sorted({(child[2], child[1]) for child in node[1]})
        return tuple((atom, label) for label, atom in pairs)
    return None


def _trigger(node: _Node) -> frozenset[int] | None:
    kind = node[0]
    if kind == "term":
        return frozenset({node[1]})
    if kind in ("and", "near"):
        children = node[1] if kind == "and" else node[1:3]
        found = [t for c in children if (t := _trigger(c)) is not None]
        return min(found, key=len) if found else None
    if kind == "or":
        union: set[int] = set()
        for child in node[1]:
            t = _trigger(child)
            if t is None:
                return None
            union |= t
        return frozenset(union)
    return None  # regex, meta, not


# --- one item ----------------------------------------------------------------------

_PLAIN = Folded("")  # a field whose folding kept every offset

# A found place: (field, start, end, label) with offsets into the original field.
_Span = tuple[int, int, int, int]
# A run of words for NEAR: (field, first token index, last token index, spans).
_Group = tuple[int, int, int, tuple[_Span, ...]]


class _Scan:
    """One item against the compiled rules: its folded text, the automaton's hits, and
    every atom's occurrences, computed when first asked for."""

    def __init__(self, matcher: Matcher, item: Item):
        self.matcher = matcher
        self.item = item
        # Title and text fold in one call; the "\n" between them (folded to a space) is
        # put back so that no key spans the two.  When folding moved offsets (rare), each
        # field folds on its own and keeps its own map.
        whole = fold(f" {item.title} \n {item.text} ")
        boundary = len(item.title) + 2
        if whole.starts is None:
            self.title = self.body = _PLAIN
            self.text_start = boundary + 2
            self.text = f"{whole.text[:boundary]}\n{whole.text[boundary + 1 :]}"
        else:
            self.title = fold(item.title)
            self.body = fold(item.text)
            self.text_start = len(self.title.text) + 4
            self.text = f" {self.title.text} \n {self.body.text} "
        # One pass over the automaton's hits: each hit becomes a word span, filed under
        # its key (for phrases) and under every atom whose first word it can be.
        self.hits: list[tuple[int, int, int]] = []  # (key, start, end) of every word found
        self.first: dict[int, list[tuple[int, int]]] = {}  # atom -> first-word spans
        sizes = matcher._automaton.sizes
        key_atoms = matcher._key_atoms
        first = self.first
        text = self.text
        for end, key in matcher._automaton.scan(text):
            start = end - sizes[key] + 2
            stop = end if text[end] == " " else text.find(" ", end)
            self.hits.append((key, start, stop))
            for atom in key_atoms[key]:
                if atom in first:
                    first[atom].append((start, stop))
                else:
                    first[atom] = [(start, stop)]
        self._occurrences: dict[int, list[tuple[int, int]]] = {}
        self._spans: dict[tuple[int, str], tuple[Span, ...]] = {}
        self._starts: dict[int, list[tuple[int, int]]] | None = None
        self._tokens: list[int] | None = None
        self._hosts: set[str] | None = None
        self._plain = self.title.starts is None and self.body.starts is None

    # -- atoms in the folded text --

    def _starts_index(self) -> dict[int, list[tuple[int, int]]]:
        if self._starts is None:
            self._starts = {}
            for key, start, stop in self.hits:
                self._starts.setdefault(start, []).append((key, stop))
        return self._starts

    def occurrences(self, atom_id: int) -> list[tuple[int, int]]:
        """(start, end) in the folded text of every occurrence of the atom (a span may
        repeat when two forms of one word both match it)."""
        found = self._occurrences.get(atom_id)
        if found is not None:
            return found
        found = self.first.get(atom_id)
        if found is None:
            found = []
        else:
            atom = self.matcher._atoms[atom_id]
            if len(atom.slots) > 1:
                found = sorted(self._extend(set(found), atom.slots[1:]))
            if atom.field is not None:
                found = [p for p in found if (p[0] >= self.text_start) == bool(atom.field)]
        self._occurrences[atom_id] = found
        return found

    def _extend(
        self, places: set[tuple[int, int]], slots: tuple[frozenset[int], ...]
    ) -> set[tuple[int, int]]:
        starts = self._starts_index()
        text = self.text
        size = len(text)
        done: set[tuple[int, int]] = set()
        for start, end in places:
            ends = {end}
            for slot in slots:
                following: set[int] = set()
                for stop in ends:
                    j = stop
                    while j < size and text[j] == " ":
                        j += 1
                    for key, next_end in starts.get(j, ()):
                        if key in slot:
                            following.add(next_end)
                ends = following
                if not ends:
                    break
            done.update((start, stop) for stop in ends)
        return done

    def spans(self, atom_id: int, label: str) -> tuple[Span, ...]:
        """The atom's places as Spans labelled ``label``, sorted, one per place (cached:
        rules that share a term share them)."""
        found = self._spans.get((atom_id, label))
        if found is None:
            places = sorted({self.original(s, e) for s, e in self.occurrences(atom_id)})
            found = tuple(Span(FIELDS[f], start, end, label) for f, start, end in places)
            self._spans[(atom_id, label)] = found
        return found

    def original(self, start: int, end: int) -> tuple[int, int, int]:
        """(field, start, end) in the original title/text of a folded range."""
        if self._plain:
            if start < self.text_start:
                return 0, start - 1, end - 1
            return 1, start - self.text_start, end - self.text_start
        if start < self.text_start:
            s, e = self.title.original(start - 1, end - 1)
            return 0, s, e
        s, e = self.body.original(start - self.text_start, end - self.text_start)
        return 1, s, e

    def token_index(self, position: int) -> int:
        if self._tokens is None:
            self._tokens = [m.start() for m in re.finditer(r"\S+", self.text)]
        return bisect.bisect_right(self._tokens, position) - 1

    def hosts(self) -> set[str]:
        if self._hosts is None:
            hosts = set(link_hosts(self.item.title)) | set(link_hosts(self.item.text))
            if self.item.link:
                hosts |= set(link_hosts(self.item.link)) or {host_of(self.item.link)}
            self._hosts = hosts
        return self._hosts

    # -- evaluation --

    def evaluate(self, node: _Node) -> list[_Span] | None:
        """None when ``node`` is false; else the spans (label-only entries: field -1)."""
        kind = node[0]
        if kind == "term":
            places = self.occurrences(node[1])
            if not places:
                return None
            label = node[2]
            return [(*self.original(s, e), label) for s, e in places]
        if kind == "and":
            spans: list[_Span] = []
            for child in node[1]:
                found = self.evaluate(child)
                if found is None:
                    return None
                spans.extend(found)
            return spans
        if kind == "or":
            result: list[_Span] | None = None
            for child in node[1]:
                found = self.evaluate(child)
                if found is not None:
                    result = found if result is None else result + found
            return result
        if kind == "not":
            return [] if self.evaluate(node[1]) is None else None
        if kind == "near":
            groups = self.groups(node)
            if not groups:
                return None
            return [span for g in groups for span in g[3]]
        if kind == "regex":
            return self._regex(node) or None
        return [(-1, 0, 0, node[3])] if self._meta(node[1], node[2]) else None

    def groups(self, node: _Node) -> list[_Group]:
        kind = node[0]
        if kind == "term":
            label = node[2]
            out = []
            for s, e in self.occurrences(node[1]):
                f, os, oe = self.original(s, e)
                out.append((f, self.token_index(s), self.token_index(e - 1), ((f, os, oe, label),)))
            return out
        if kind == "or":
            return [g for child in node[1] for g in self.groups(child)]
        left, right, distance = self.groups(node[1]), self.groups(node[2]), node[3]
        if not left or not right:
            return []
        # Token indexes grow through the title into the text, so one sorted list and a
        # window per left group find the pairs without trying every one (a common word
        # may occur thousands of times in a long post); at most MAX_NEAR_GROUPS are kept.
        right.sort(key=lambda g: g[1])
        firsts = [g[1] for g in right]
        longest = max(g[2] - g[1] for g in right)
        out: list[_Group] = []
        for a in left:
            low = bisect.bisect_left(firsts, a[1] - distance - longest - 1)
            high = bisect.bisect_right(firsts, a[2] + distance + 1)
            for b in right[low:high]:
                if a[0] != b[0]:
                    continue
                gap = b[1] - a[2] - 1 if a[1] <= b[1] else a[1] - b[2] - 1
                if gap <= distance:
                    out.append((a[0], min(a[1], b[1]), max(a[2], b[2]), a[3] + b[3]))
                    if len(out) >= MAX_NEAR_GROUPS:
                        return out
        return out

    def _regex(self, node: _Node) -> list[_Span]:
        pattern, field_index, label = node[1], node[2], node[3]
        spans: list[_Span] = []
        for f, text in enumerate((self.item.title, self.item.text)):
            if field_index is not None and f != field_index:
                continue
            for n, m in enumerate(pattern.finditer(text)):
                if n >= MAX_REGEX_SPANS:
                    break
                if m.end() > m.start():
                    spans.append((f, m.start(), m.end(), label))
        return spans

    def _meta(self, kind: str, value: str) -> bool:
        if kind == "source":
            return fnmatch.fnmatchcase(self.item.source.casefold(), value)
        if kind == "tag":
            return any(t.casefold() == value for t in self.item.tags)
        return any(h == value or h.endswith("." + value) for h in self.hosts())


# --- the matcher ---------------------------------------------------------------------


class Matcher:
    """Matches items against a fixed set of rules, compiled once into one automaton.

    Raises ``TermError`` (or its subclass ``QueryError``) naming the rule when a rule
    has an unusable term or query: validate rules first (``rulefiles`` does, with file
    and line).
    """

    def __init__(self, rules: Sequence[Rule]):
        compiler = _Compiler()
        self._rules = [compiler.rule(rule) for rule in rules]
        compiler.automaton.build()
        self._automaton = compiler.automaton
        self._atoms = compiler.atoms
        # key -> rules to evaluate when it occurs (via the atoms it starts)
        by_atom: dict[int, list[int]] = {}
        self._always: list[int] = []
        for index, compiled in enumerate(self._rules):
            if compiled.tree is None:
                continue
            if compiled.trigger is None:
                self._always.append(index)
                continue
            for atom in compiled.trigger:
                by_atom.setdefault(atom, []).append(index)
        self._by_atom = {atom: tuple(v) for atom, v in by_atom.items()}
        for compiled in self._rules:
            if compiled.flat is not None:
                compiled.simple = all(
                    len(self._atoms[a].slots) == 1 and self._atoms[a].field is None
                    for a, _ in compiled.flat
                )
        key_atoms: list[list[int]] = [[] for _ in range(len(self._automaton))]
        for atom_id, atom in enumerate(self._atoms):
            for key in atom.slots[0]:
                key_atoms[key].append(atom_id)
        self._key_atoms = [tuple(a) for a in key_atoms]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(c.rule for c in self._rules)

    @property
    def keys(self) -> int:
        """How many word forms the automaton holds."""
        return len(self._automaton)

    def match(self, item: Item) -> list[Match]:
        """One Match per rule that fires, in rule order."""
        scan = _Scan(self, item)
        candidates: set[int] = set(self._always)
        by_atom = self._by_atom
        for atom in scan.first:
            found = by_atom.get(atom)
            if found:
                candidates.update(found)
        if not candidates:
            return []
        item_tags: set[str] | None = None
        first = scan.first
        matches = []
        for index in sorted(candidates):
            compiled = self._rules[index]
            if compiled.tags:
                if item_tags is None:
                    item_tags = {t.casefold() for t in item.tags}
                if not compiled.tags & item_tags:
                    continue
            if compiled.sources and not any(
                fnmatch.fnmatchcase(item.source.casefold(), s) for s in compiled.sources
            ):
                continue
            if compiled.simple:  # the usual keyword rule, one of whose words occurred:
                # the hot path at 10,000 rules, kept free of _flat_match's general work
                fired = [pair for pair in compiled.flat if pair[0] in first]  # type: ignore[union-attr]
                if len(fired) == 1:
                    atom, label = fired[0]
                    text = compiled.labels[label]
                    matches.append(Match(compiled.rule.name, (text,), scan.spans(atom, text)))
                    continue
            if compiled.flat is not None:
                found = _flat_match(compiled, compiled.flat, scan)
                if found is not None:
                    matches.append(found)
                continue
            assert compiled.tree is not None
            spans = scan.evaluate(compiled.tree)
            if spans:
                matches.append(_match(compiled, spans))
        return matches


def _flat_match(compiled: _Rule, flat: tuple[tuple[int, int], ...], scan: _Scan) -> Match | None:
    """``_match`` for "any of these terms" rules, without building a tree's span list;
    when one term fired (the usual case) its spans come ready-made from the scan."""
    if compiled.simple:
        first = scan.first
        fired = [(atom, label) for atom, label in flat if atom in first]
    else:
        fired = [(atom, label) for atom, label in flat if scan.occurrences(atom)]
    if not fired:
        return None
    labels = compiled.labels
    if len(fired) == 1:
        atom, label = fired[0]
        text = labels[label]
        return Match(rule=compiled.rule.name, terms=(text,), spans=scan.spans(atom, text))
    places: dict[tuple[int, int, int], int] = {}
    for atom, label in fired:
        for start, end in scan.occurrences(atom):
            places.setdefault(scan.original(start, end), label)
    return Match(
        rule=compiled.rule.name,
        terms=tuple(dict.fromkeys(labels[label] for _, label in fired)),
        spans=tuple(
            Span(FIELDS[f], start, end, labels[label])
            for (f, start, end), label in sorted(places.items())
        ),
    )


def _match(compiled: _Rule, spans: Iterable[_Span]) -> Match:
    places: dict[tuple[int, int, int], int] = {}
    fired: set[int] = set()
    for f, start, end, label in spans:
        fired.add(label)
        if f < 0:
            continue
        place = (f, start, end)
        if label < places.get(place, len(compiled.labels)):
            places[place] = label
    labels = compiled.labels
    return Match(
        rule=compiled.rule.name,
        terms=tuple(labels[i] for i in sorted(fired)),
        spans=tuple(
            Span(FIELDS[f], start, end, labels[label])
            for (f, start, end), label in sorted(places.items())
        ),
    )


def match_rule(rule: Rule, item: Item) -> Match | None:
    """``rule``'s Match on ``item``, or None; for one-off checks (builds a Matcher)."""
    found = Matcher([rule]).match(item)
    return found[0] if found else None


def check_term(term: str) -> str | None:
    """Why ``term`` (an entry of a rule's any/all/none list) is unusable, or None."""
    try:
        parse_list_entry(term)
    except TermError as e:
        return str(e)
    return None


def rule_from_query(
    name: str,
    text: str,
    *,
    destinations: Sequence[str] = (),
    description: str = "",
    origin: str = "chat",
    **options: Any,
) -> Rule:
    """A Rule from a user's query (``/watch`` text); raises ``QueryError`` whose
    ``pointer()`` shows where the problem is.  ``options``: any other ``Rule`` field
    (``inflect``, ``translit``, ``sources``, ``tags``, ...)."""
    parse_query(text)
    return Rule(
        name=name,
        query=text,
        destinations=tuple(destinations),
        description=description or text,
        origin=origin,
        **options,
    )
