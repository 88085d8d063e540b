"""Item -> Match: which rules an item fires, which of their terms, and where.

Part of the "Item -> Match" stage; pure, imports only ``bot.model``.  Evaluation order:

1. compile (once per rule set): each rule's query (``Rule.query``, see ``query``) and
   its ``any``/``all``/``none`` lists become one boolean tree; every term becomes an
   "atom" (its words, each with its forms: inflection, transliteration, English forms
   as the rule asks), and the atom's forms become keys of ONE automaton (``automaton``):
   a word's forms, a phrase's form combinations when they are few, else the run of its
   words with the fewest, longest combinations, the other words checked beside each hit.
   A key's value is an int "group" (the atoms it stands for); the compiled state is
   tuples of ints, no Python object per form;
2. per item: fold title and text (``normalize``), collapse runs of spaces, scan once; the
   groups hit give the atoms found (a phrase's check is a slice and a set lookup).  With
   "~" terms (``fuzzy``), a word within reach of one is its class's placeholder: the
   placeholder's key's hit where the word stands (a word term), or the words around it
   scanned again with it swapped in (a phrase); the placeholders are keys of the same
   automaton, and the fuzzy index is part of the compiled state;
3. only the rules one of whose trigger terms occurred (plus the few that have none:
   regex-only or metadata-only queries) are evaluated: source and tag filters first
   (``Rule.sources``, ``Rule.tags``), then the tree; the usual "any of these terms"
   rule fires on the atoms found alone;
4. a rule fires when its tree is true and it has at least one positive term or
   condition; a ``none`` term or a ``NOT`` vetoes wherever it occurs in the item.

A Match names the terms that fired (as the rule writes them, in rule order) and one
span per place, in the ORIGINAL title/text (title first), labelled with the first term
in rule order that matched there.  Terms are whole words or phrases of consecutive
words ("a*" is a prefix); a phrase never runs from the title into the text.  An "any of
these terms" Match finds its spans when they are first read (``Match.spans``): a match
that routing or a mute drops costs no spans.
"""

from __future__ import annotations

import bisect
import contextlib
import fnmatch
import gc
import itertools
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from bot.matching.automaton import Automaton
from bot.matching.forms import word_forms
from bot.matching.fuzzy import _PUA, AUTO, FuzzyIndex, distance_for, rounds
from bot.matching.inflect import is_name
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
    Word,
    parse_list_entry,
    parse_query,
)
from bot.model import Item, Match, Rule, Span

__all__ = ["Matcher", "TermError", "check_term", "match_rule", "rule_from_query"]

FIELDS = ("title", "text")  # span order: title first
MAX_REGEX_SPANS = 50  # per field and regex: enough to mark, bounded work
MAX_NEAR_GROUPS = 200  # pairs a NEAR keeps: enough to mark, bounded work
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_FOLDED = re.compile(r"[а-я0-9]+|[a-z0-9]+")  # what folding leaves as it is
_CYRILLIC_WORD = re.compile(r"[а-яєіїґў]")

_PLACEHOLDERS = chr(_PUA)  # a fuzzy placeholder's characters are this or above
WINDOWS = 2  # a round scans at most this many windows again, else the whole text once
COMBOS = 24  # a phrase's keys are all its form combinations when there are at most this many
_SECOND = operator.itemgetter(1)
_NO_TAGS: frozenset[str] = frozenset()
_RUNS = re.compile(r"^ +| {2,}")  # what collapsing a folded field removes
_WORDS = re.compile(r"\S+")

# --- compiled rules ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    inflect: bool = True
    translit: bool = False
    derived: bool = False
    english: bool = False
    languages: tuple[str, ...] = ("ru", "uk")
    fuzzy: bool = False  # "~" on every name-like word

    @classmethod
    def of(cls, rule: Rule) -> _Options:
        """The form options a rule asks for (inflection, translit, English, derived,
        languages, fuzzy names)."""
        return cls(
            inflect=rule.inflect,
            translit=rule.translit,
            derived=rule.derived,
            english=rule.english_forms,
            languages=rule.languages,
            fuzzy=rule.fuzzy,
        )


@dataclass(frozen=True, slots=True)
class _Atom:  # while compiling only
    slots: tuple[frozenset[tuple[str, bool]], ...]  # (token, is-prefix) per token position
    field: int | None  # 0 title, 1 text, None both


# A word that a phrase's check accepts: " form form ... " (its exact forms, one string:
# compact, and `f" {word} " in forms` is a fast C search), and the prefixes it may start
# with.
_Check: TypeAlias = tuple[str, tuple[str, ...]]
# An atom whose keys spell only some of its words: (atom, checks of the words before the
# key's first word, nearest first; checks of the words after its last word).
_Anchored: TypeAlias = tuple[int, tuple[_Check, ...], tuple[_Check, ...]]

# Compiled tree nodes: tuples, cheap to walk.
#   ("term", atom id, label)  ("regex", re2 pattern, field, label)  ("meta", kind, value, label)
#   ("and", nodes)  ("or", nodes)  ("not", node)  ("near", left, right, distance)
_Node: TypeAlias = tuple[Any, ...]


@dataclass(slots=True)
class _Rule:
    rule: Rule
    tree: _Node | None  # None: never fires (no positive term); compiled: see ``flat``
    labels: tuple[str, ...]
    tags: frozenset[str]
    sources: tuple[str, ...]
    trigger: frozenset[int] | None  # atoms, one of which must occur; None: always evaluate
    # (compiled: None, the rule is filed under its atoms)
    flat: tuple[tuple[int, int], ...] | None  # (atom, label) when the tree is "any of terms"
    simple: bool = False  # flat, and no atom bound to a field: fires on the atoms found


class _Compiler:
    def __init__(self) -> None:
        self.atoms: list[_Atom] = []
        self._atom_ids: dict[_Atom, int] = {}
        self._words: dict[tuple[Word, bool, _Options], tuple[frozenset[tuple[str, bool]], ...]]
        self._words = {}
        self._entries: dict[str, Term | Regex] = {}
        self.fuzzy = FuzzyIndex()

    def atom(self, term: Term, options: _Options) -> int:
        slots: tuple[frozenset[tuple[str, bool]], ...] = ()
        for word in term.words:  # rules share words: each word's forms are found once
            key = (word, term.exact, options)
            found = self._words.get(key)
            if found is None:
                found = self._words[key] = _word_slots(word, term.exact, options, self.fuzzy)
            slots += found
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
        options = _Options.of(rule)
        root = rule_tree(rule, self._entries)
        labels: dict[str, int] = {}
        tree = None if root is None else self.tree(root, options, labels)
        return _Rule(
            rule=rule,
            tree=tree,
            labels=tuple(labels),
            tags=frozenset(t.casefold() for t in rule.tags) or _NO_TAGS,
            sources=tuple(s.casefold() for s in rule.sources),
            trigger=None if tree is None else _trigger(tree),
            flat=_flat(tree),
        )


@dataclass(slots=True)
class _Index:
    """The atoms' keys in one automaton, and what a hit of each group means."""

    automaton: Automaton
    plain: list[tuple[int, ...]]  # group -> atoms whose keys spell all their words
    anchored: dict[int, tuple[_Anchored, ...]]  # group -> atoms still to check around a hit
    words: list[int]  # group -> how many words its keys have
    atom_groups: list[tuple[int, ...]]  # plain atom -> its groups (anchored atom: ())
    # fuzzy placeholder -> its group, for a placeholder that is a whole key of its own and
    # in no other key or check: a word near its class is that group's hit where it stands,
    # no window scanned again
    direct: dict[str, int]


def _index(atoms: Sequence[_Atom]) -> _Index:
    # key -> (words in it, the atom or anchored atom it stands for, or a list of them)
    keys: dict[str, tuple[int, Any]] = {}
    checks: dict[_Check, _Check] = {}  # interned: rules share words

    indirect: set[str] = set()  # placeholders in a phrase key, a prefix key or a check

    def check(slot: frozenset[tuple[str, bool]]) -> _Check:
        exact = sorted(t for t, prefix in slot if not prefix)
        indirect.update(t for t in exact if t >= _PLACEHOLDERS)
        made = (f" {' '.join(exact)} " if exact else "", tuple(sorted(t for t, p in slot if p)))
        return checks.setdefault(made, made)

    for atom_id, atom in enumerate(atoms):
        slots = atom.slots
        entry: int | _Anchored = atom_id
        if len(slots) == 1:
            count = 1
            spelled = [f" {t}" if prefix else f" {t} " for t, prefix in slots[0]]
        else:
            a, b = _key_range(slots)
            count = b - a
            if (a, b) != (0, len(slots)):
                before = tuple(check(slot) for slot in reversed(slots[:a]))
                entry = (atom_id, before, tuple(check(slot) for slot in slots[b:]))
            spelled = [
                " " + " ".join(token for token, _ in combo) + ("" if combo[-1][1] else " ")
                for combo in itertools.product(*slots[a:b])
            ]
        for key in spelled:
            found = keys.get(key)
            if found is None:
                keys[key] = (count, entry)
            elif isinstance(found[1], list):
                if entry not in found[1]:
                    found[1].append(entry)
            elif found[1] != entry:
                keys[key] = (count, [found[1], entry])
    automaton = Automaton()
    groups: dict[Any, int] = {}
    plain: list[tuple[int, ...]] = []
    anchored: dict[int, tuple[_Anchored, ...]] = {}
    words: list[int] = []
    single: dict[int, tuple[int, ...]] = {}  # atom -> (atom,): one tuple per atom
    direct: dict[str, int] = {}
    for key, (count, entry) in keys.items():
        signature = (entry, count) if isinstance(entry, int) else None
        group = groups.get(signature) if signature else None
        if group is None:
            if isinstance(entry, list):
                atoms_here = tuple(sorted(e for e in entry if isinstance(e, int)))
                checked = tuple(e for e in entry if not isinstance(e, int))
            elif isinstance(entry, int):
                atoms_here, checked = single.setdefault(entry, (entry,)), ()
            else:
                atoms_here, checked = (), (entry,)
            signature = signature or (atoms_here, checked, count)
            group = groups.get(signature)
            if group is None:
                group = groups[signature] = len(plain)
                plain.append(atoms_here)
                words.append(count)
                if checked:
                    anchored[group] = checked
        automaton.add(key, group)
        if max(key) >= _PLACEHOLDERS:
            if count == 1 and key[-1] == " " and group not in anchored:
                direct[key[1:-1]] = group
            else:
                indirect.update(w for w in key.split() if w >= _PLACEHOLDERS)
                if key[-1] != " ":  # a prefix of placeholders: any of them may be its hit
                    indirect.update(direct)
                    direct.clear()
                    indirect.add("")
    automaton.build()
    if "" in indirect:
        direct.clear()
    atom_groups: list[list[int]] = [[] for _ in atoms]
    for group, atoms_here in enumerate(plain):
        for atom_id in atoms_here:
            atom_groups[atom_id].append(group)
    direct = {p: g for p, g in direct.items() if p not in indirect}
    return _Index(automaton, plain, anchored, words, [tuple(g) for g in atom_groups], direct)


def _key_range(slots: tuple[frozenset[tuple[str, bool]], ...]) -> tuple[int, int]:
    """The run ``slots[a:b]`` of an atom's words that its keys spell: all of them when
    their forms combine into at most COMBOS keys; else the run within that bound whose
    words are longest (rarest: not "в" of "в Сирии"), the rest checked beside each hit.
    A prefix word ("погиб*") ends a run: nothing can follow it in one key."""
    n = len(slots)
    if n == 1:
        return 0, 1
    shortest = [min(len(token) for token, _ in slot) for slot in slots]
    best = (-1, 0, 1)
    for a in range(n):
        combos = 1
        for b in range(a + 1, n + 1):
            combos *= len(slots[b - 1])
            if b > a + 1 and combos > COMBOS:
                break
            score = sum(shortest[a:b]) + b - a
            if score > best[0]:
                best = (score, a, b)
            if any(prefix for _, prefix in slots[b - 1]):
                break
    return best[1], best[2]


def rule_tree(rule: Rule, entries: dict[str, Term | Regex] | None = None) -> Node | None:
    """The boolean tree of ``rule`` (query AND lists), or None when it can never fire.
    Raises ``TermError``/``QueryError`` naming the rule.  ``entries``: list entries
    already parsed (rules share terms), filled as they are."""
    parts: list[Node] = []
    if entries is None:
        entries = {}

    def entry(text: str) -> Term | Regex:
        found = entries.get(text)
        if found is None:
            found = entries[text] = parse_list_entry(text)
        return found

    try:
        if rule.query.strip():
            parts.append(parse_query(rule.query).root)
        any_ = [entry(t) for t in rule.any]
        all_ = [entry(t) for t in rule.all]
        none = [entry(t) for t in rule.none]
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


def term_slots(term: Term, options: _Options) -> list[frozenset[tuple[str, bool]]]:
    """Per token of ``term``: the (token, is-prefix) alternatives that stand for it (the
    search prefilter asks the index for exactly these)."""
    return [slot for word in term.words for slot in _word_slots(word, term.exact, options)]


def fuzziness(word: Word, exact: bool, options: _Options) -> int | None:
    """The word's "~" (``fuzzy.AUTO``, 1 or 2), or None: its own, or with the rule's
    ``fuzzy`` option a name-like word's (capitalised in the rule, and a name or no word
    the dictionaries know: "Вагнер", "Prigozhin", not "Погибли")."""
    if word.fuzzy is not None or exact or word.prefix:
        return word.fuzzy
    if not options.fuzzy:
        return None
    raw = _EDGES.sub("", word.raw)
    return AUTO if raw[:1].isupper() and _name_like(raw) else None


def _name_like(raw: str) -> bool:
    from bot.matching.inflect import analyzer

    word = raw.casefold().replace("ё", "е")
    if not _CYRILLIC_WORD.search(word):
        return True  # Latin: the dictionaries are Russian and Ukrainian
    if is_name(word):
        return True
    return not any(analyzer(lang).word_is_known(word) for lang in ("ru", "uk"))


def _word_slots(
    word: Word, exact: bool, options: _Options, fuzzy: FuzzyIndex | None = None
) -> tuple[frozenset[tuple[str, bool]], ...]:
    """Per token of ``word``: the (token, is-prefix) alternatives that stand for it.
    A fuzzy word (``fuzziness``) also gets, per token, its class's placeholder words
    (``fuzzy``: compiling) or ("", True), a prefix of anything, for the search
    prefilter (without ``fuzzy``), which cannot narrow a fuzzy word."""
    n = len(word.tokens)
    base = [{(token, False)} for token in word.tokens]
    if word.prefix:
        base[-1] = {(word.tokens[-1], True)}
    raw = _EDGES.sub("", word.raw)  # case kept: БПЛА is an abbreviation (forms.py)
    if not exact and raw:
        for form in word_forms(raw, word.prefix, options):
            # a lowercase word of one script folds to itself (most forms)
            tokens = (form,) if _FOLDED.fullmatch(form) else normalize_term(form)
            if len(tokens) == n:
                for i, token in enumerate(tokens):
                    base[i].add((token, word.prefix and i == n - 1))
    spec = fuzziness(word, exact, options)
    if spec is not None:
        for i, token in enumerate(word.tokens):
            distance = distance_for(token, spec)
            if not distance:
                continue  # "~" on a word of 1-2 letters: none
            if fuzzy is None:
                base[i].add(("", True))
                continue
            class_id = fuzzy.add(frozenset(t for t, _ in base[i]), distance)
            base[i].update((p, False) for p in fuzzy.placeholders(class_id))
    return tuple(frozenset(slot) for slot in base)


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
    """One item against the compiled rules: its folded text with runs of spaces
    collapsed, the automaton's hits and the groups they belong to; the atoms found,
    each atom's places and their spans in the original text when first asked for."""

    # computed when first asked for
    _found: set[int] | None = None
    _by_group: dict[int, list[int]] | None = None
    _occurrences: dict[int, list[tuple[int, int]]] | None = None
    _spans: dict[tuple[int, str], tuple[Span, ...]] | None = None
    _shifts: list[tuple[list[int], list[int]] | None] | None = None
    _tokens: list[int] | None = None
    _hosts: set[str] | None = None
    _whole: tuple[str, int] | None = None  # the folded " title \n text ", where "\n" is
    _checked: dict[int, list[tuple[int, int]]] = {}  # noqa: RUF012 - replaced, never changed

    def __init__(self, matcher: Matcher, item: Item):
        self.matcher = matcher
        self.item = item
        # Title and text fold in one call (the "\n" between them folds to a space); when
        # folding moved offsets (rare), each field folds on its own and keeps its own map.
        # The scanned text has one space between words, and a "\x00" between the fields
        # (never in folded text, no key holds it, and str.split does not split at it).
        whole = fold(f" {item.title} \n {item.text} ")
        if whole.starts is None:
            self.title = self.body = _PLAIN
            boundary = len(item.title) + 2
            self._whole = (whole.text, boundary)
            collapsed = f"{whole.text[:boundary]}\x00{whole.text[boundary + 1 :]}".split()
        else:
            self.title = fold(item.title)
            self.body = fold(item.text)
            collapsed = f"{self.title.text} \x00 {self.body.text}".split()
        self.text = text = f" {' '.join(collapsed)} "
        self.text_start = text.index("\x00") + 2
        self.hits = hits = matcher._index.automaton.scan(text)
        windows = None
        if matcher._fuzzy:  # words near a fuzzy term: their placeholders' hits
            near = matcher._fuzzy.near(collapsed)
            if near:
                found, windows = self._fuzzy_hits(collapsed, near)
                more = set(found) - set(hits)
                if more:
                    self.hits = hits = sorted([*hits, *more])
        self.hit_groups = groups = set(map(_SECOND, hits))
        anchored = groups & matcher._anchored_groups
        if anchored:
            self._check(anchored, text, hits, 0)
            for window, offset, found in windows or ():
                self._check(anchored, window, found, offset)

    def _fuzzy_hits(
        self, words: list[str], near: dict[str, tuple[str, ...]]
    ) -> tuple[list[tuple[int, int]], list[tuple[str, int, list[tuple[int, int]]]]]:
        """The hits of the words near a fuzzy class (``near``: word -> placeholders) as
        their placeholders: a placeholder that is a key of its own and in no other key
        or check (``_Index.direct``) hits where the word stands; the others are found by
        scanning windows again (``_fuzzy_windows``)."""
        direct = self.matcher._index.direct
        text = self.text
        hits: list[tuple[int, int]] = []
        for word, holders in near.items():
            groups = [direct[p] for p in holders if p in direct]
            if groups:
                key = f" {word} "
                at = text.find(key)
                while at >= 0:
                    end = at + len(word) + 1  # its space after, where a key's hit ends
                    hits.extend((end, g) for g in groups)
                    at = text.find(key, end)
        windows = self._fuzzy_windows(words, rounds(near), direct)
        for _, _, found in windows:
            hits.extend(found)
        return hits, windows

    def _fuzzy_windows(
        self, words: list[str], swaps: list[dict[str, str]], direct: dict[str, int]
    ) -> list[tuple[str, int, list[tuple[int, int]]]]:
        """(text, offset in ``self.text``, hits) of each run of words around a word near a
        fuzzy term, with it replaced by its class's placeholder (same length), per round
        of ``swaps``: as far on either side as the longest term reaches, so its keys and
        checks see it; the whole text when such words are many.  Only around words whose
        placeholder is not ``direct`` (a direct one's hits are all its own key's)."""
        reach = self.matcher._longest
        scan = self.matcher._index.automaton.scan
        lengths: list[int] | None = None
        out = []
        for swap in swaps:
            needed = {w for w, p in swap.items() if p not in direct}
            if not needed:
                continue
            if lengths is None:
                lengths = list(itertools.accumulate(map(len, words), initial=0))
            where = [j for j, word in enumerate(words) if word in needed]
            runs: list[list[int]] = []
            for j in where:
                a, b = max(0, j - reach + 1), min(len(words), j + reach)
                if runs and a <= runs[-1][1]:
                    runs[-1][1] = b
                else:
                    runs.append([a, b])
            if len(runs) > WINDOWS:  # many: the whole text once
                runs = [[0, len(words)]]
            for a, b in runs:
                window = " " + " ".join([swap.get(w, w) for w in words[a:b]]) + " "
                offset = lengths[a] + a  # where words[a] starts, less its space
                out.append((window, offset, [(end + offset, g) for end, g in scan(window)]))
        return out

    @property
    def folded(self) -> tuple[str, str]:
        """The folded title and text (before runs of spaces were collapsed)."""
        if self._whole is None:
            return self.title.text, self.body.text
        text, boundary = self._whole
        return text[1 : boundary - 1], text[boundary + 2 : -1]

    @property
    def found(self) -> set[int]:
        """The atoms that occur (anywhere: a field-bound atom's occurrences say where)."""
        if self._found is None:
            plain = self.matcher._index.plain
            self._found = set().union(*map(plain.__getitem__, self.hit_groups), self._checked)
        return self._found

    # -- atoms in the collapsed text --

    def _place(self, end: int, words: int, text: str | None = None) -> tuple[int, int]:
        """(start, end) of the words a key ending at ``end`` hit (a prefix key's whole
        last word); ``text``: another text with the same spaces (a fuzzy window)."""
        if text is None:
            text = self.text
        stop = end if text[end] == " " else text.find(" ", end)
        for _ in range(words):
            end = text.rfind(" ", 0, end)
        return end + 1, stop

    def _check(self, groups: set[int], text: str, hits: list[tuple[int, int]], offset: int) -> None:
        """The anchored atoms of ``groups``: check the words around each hit (``text``:
        the scanned text, or a fuzzy window of it that starts at ``offset``)."""
        index = self.matcher._index
        if not self._checked:
            self._checked = {}
        checked = self._checked
        for end, group in [hit for hit in hits if hit[1] in groups]:
            start, stop = self._place(end - offset, index.words[group], text)
            for atom, before, after in index.anchored[group]:
                first = _words_before(text, start, before) if before else start
                if first < 0:
                    continue
                last = _words_after(text, stop, after) if after else stop
                place = (first + offset, last + offset)
                if last >= 0 and place not in checked.get(atom, ()):
                    checked.setdefault(atom, []).append(place)

    def occurrences(self, atom_id: int) -> list[tuple[int, int]]:
        """(start, end) in the collapsed text of every occurrence of the atom, sorted."""
        if self._occurrences is None:
            self._occurrences = {}
        found = self._occurrences.get(atom_id)
        if found is not None:
            return found
        places: Iterable[tuple[int, int]] = ()
        if atom_id in self.found:
            index = self.matcher._index
            groups = index.atom_groups[atom_id]
            if groups:
                if self._by_group is None:
                    self._by_group = {}
                    for end, group in self.hits:
                        self._by_group.setdefault(group, []).append(end)
                by_group, words = self._by_group, index.words
                places = {self._place(end, words[g]) for g in groups for end in by_group.get(g, ())}
            else:
                places = set(self._checked.get(atom_id, ()))
        found = sorted(places)
        field = self.matcher._fields[atom_id]
        if field is not None and found:
            found = [p for p in found if (p[0] >= self.text_start) == bool(field)]
        self._occurrences[atom_id] = found
        return found

    def spans(self, atom_id: int, label: str) -> tuple[Span, ...]:
        """The atom's places as Spans labelled ``label``, sorted, one per place (cached:
        rules that share a term share them)."""
        if self._spans is None:
            self._spans = {}
        found = self._spans.get((atom_id, label))
        if found is None:
            places = sorted({self.original(s, e) for s, e in self.occurrences(atom_id)})
            found = tuple(Span(FIELDS[f], start, end, label) for f, start, end in places)
            self._spans[(atom_id, label)] = found
        return found

    def flat_spans(self, fired: list[tuple[int, int]], labels: tuple[str, ...]) -> tuple[Span, ...]:
        """The spans of an "any of these terms" rule whose ``fired`` (atom, label) pairs
        occurred: each place labelled with the first of them (rule order) found there."""
        if len(fired) == 1:
            atom, label = fired[0]
            return self.spans(atom, labels[label])
        places: dict[tuple[int, int, int], int] = {}
        for atom, label in fired:
            for start, end in self.occurrences(atom):
                places.setdefault(self.original(start, end), label)
        return tuple(
            Span(FIELDS[f], start, end, labels[label])
            for (f, start, end), label in sorted(places.items())
        )

    def original(self, start: int, end: int) -> tuple[int, int, int]:
        """(field, start, end) in the original title/text of a collapsed range of words."""
        field = 0 if start < self.text_start else 1
        offset = 1 if field == 0 else self.text_start
        start, last = start - offset, end - offset - 1
        if self._shifts is None:
            self._shifts = [_shifts(self.folded[0]), _shifts(self.folded[1])]
        shifts = self._shifts[field]
        if shifts is not None:  # back to the folded field: put the removed spaces back
            at, removed = shifts
            start += removed[bisect.bisect_right(at, start) - 1]
            last += removed[bisect.bisect_right(at, last) - 1]
        folded = self.title if field == 0 else self.body
        if folded.starts is None:
            return field, start, last + 1
        s, e = folded.original(start, last + 1)
        return field, s, e

    def token_index(self, position: int) -> int:
        if self._tokens is None:
            self._tokens = [m.start() for m in _WORDS.finditer(self.text)]
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


def _words_before(text: str, start: int, checks: tuple[_Check, ...]) -> int:
    """Where the words before ``start`` that ``checks`` accept begin (the nearest word
    first), or -1; never across the field boundary."""
    for exact, prefixes in checks:
        end = start - 1
        if end <= 0:
            return -1
        start = text.rfind(" ", 0, end) + 1
        word = text[start - 1 : end + 1]  # with its spaces
        if word not in exact and not (prefixes and word[1:-1].startswith(prefixes)):
            return -1
    return start


def _words_after(text: str, stop: int, checks: tuple[_Check, ...]) -> int:
    """Where the words after ``stop`` that ``checks`` accept end, or -1."""
    for exact, prefixes in checks:
        start = stop + 1
        stop = text.find(" ", start)
        if stop < 0:
            return -1
        word = text[start - 1 : stop + 1]  # with its spaces
        if word not in exact and not (prefixes and word[1:-1].startswith(prefixes)):
            return -1
    return stop


def _shifts(folded: str) -> tuple[list[int], list[int]] | None:
    """How far each position of ``" ".join(folded.split())`` moved from ``folded``:
    (positions, spaces removed before them), for bisecting; None when none moved."""
    at, removed, count = [0], [0], 0
    for m in _RUNS.finditer(folded):
        start, end = m.span()
        count += end - start if start == 0 else end - start - 1
        at.append(end - count)
        removed.append(count)
    return (at, removed) if count else None


# --- the matcher ---------------------------------------------------------------------


class _LazyMatch(Match):
    """The Match of an "any of these terms" rule, whose terms and spans are found when
    first read: most matches of a busy item are dropped by routing or mutes before
    anyone reads them.  Equal to, hashed, printed and pickled as the plain Match with
    the same fields."""

    def __getattr__(self, name: str) -> Any:
        if name != "spans" and name != "terms":
            raise AttributeError(name)
        fields = self.__dict__
        scan: _Scan | None = fields.get("_scan")
        if scan is None:  # another thread has just found both
            return fields[name]
        compiled = scan.matcher._rules[fields["_number"]]
        found = scan.found
        fired = [pair for pair in compiled.flat if pair[0] in found]  # type: ignore[union-attr]
        labels = compiled.labels
        if name == "terms":
            value: Any = tuple(dict.fromkeys(labels[label] for _, label in fired))
        else:
            value = scan.flat_spans(fired, labels)
        fields[name] = value
        if "terms" in fields and "spans" in fields:
            fields.pop("_scan", None)  # the item's text is no longer held
        return value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Match):
            return (self.rule, self.terms, self.spans) == (other.rule, other.terms, other.spans)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.rule, self.terms, self.spans))

    def __repr__(self) -> str:
        return repr(Match(self.rule, self.terms, self.spans))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Match, (self.rule, self.terms, self.spans))


_new = object.__new__


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection while compiling: it makes a million objects and no
    cycles, and the collector walking them all, again and again, took a third of the
    time (the collector runs again afterwards, as it was)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Matcher:
    """Matches items against a fixed set of rules, compiled once into one automaton.

    Raises ``TermError`` (or its subclass ``QueryError``) naming the rule when a rule
    has an unusable term or query: validate rules first (``rulefiles`` does, with file
    and line).
    """

    def __init__(self, rules: Sequence[Rule]):
        with _no_collection():
            self._compile(rules)

    def _compile(self, rules: Sequence[Rule]) -> None:
        compiler = _Compiler()
        self._rules = [compiler.rule(rule) for rule in rules]
        atoms = compiler.atoms
        self._fuzzy = compiler.fuzzy  # the fuzzy classes: compiled state, as the automaton
        self._fuzzy.build()
        self._longest = max((len(atom.slots) for atom in atoms), default=1)  # words
        self._index = index = _index(atoms)
        self._anchored_groups = frozenset(index.anchored)
        self._fields = [atom.field for atom in atoms]
        # atom -> rules to evaluate when it occurs; group -> the same for its plain atoms
        by_atom: list[list[int]] = [[] for _ in atoms]
        self._always: list[int] = []
        # one int object per rule number, side by side in memory: an item's candidates
        # are hashed and sorted by reading them (scattered ints cost a cache miss each)
        numbers = list(range(len(self._rules)))
        for number, compiled in zip(numbers, self._rules, strict=True):
            if compiled.tree is None:
                continue
            if compiled.trigger is None:
                self._always.append(number)
                continue
            for atom in compiled.trigger:
                by_atom[atom].append(number)
            if compiled.flat is not None:
                compiled.simple = all(self._fields[a] is None for a, _ in compiled.flat)
                compiled.tree = None  # "any of these terms": the flat list says it all
            compiled.trigger = None  # filed under its atoms
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._by_atom = [shared.setdefault(tuple(r), tuple(r)) for r in by_atom]
        self._by_group = [
            self._by_atom[atoms_here[0]]
            if len(atoms_here) == 1
            else shared.setdefault(
                t := tuple(sorted({r for a in atoms_here for r in by_atom[a]})), t
            )
            for atoms_here in index.plain
        ]
        # rule -> its name when it fires on its atoms alone, with no filter to apply first
        self._quick = [
            c.rule.name if c.simple and not c.tags and not c.sources else None for c in self._rules
        ]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(c.rule for c in self._rules)

    @property
    def keys(self) -> int:
        """How many keys (word and phrase forms) the automaton holds."""
        return len(self._index.automaton)

    def match(self, item: Item) -> list[Match]:
        """One Match per rule that fires, in rule order."""
        scan = _Scan(self, item)
        groups = scan.hit_groups
        ordered: Iterable[int]
        if len(groups) == 1 and not scan._checked and not self._always:
            ordered = self._by_group[next(iter(groups))]  # sorted, each rule once
        else:
            candidates: set[int] = set().union(*map(self._by_group.__getitem__, groups))
            if scan._checked:
                candidates.update(*map(self._by_atom.__getitem__, scan._checked))
            if self._always:
                candidates.update(self._always)
            ordered = sorted(candidates)
        quick = self._quick
        matches: list[Match] = []
        for number in ordered:
            name = quick[number]
            if name is not None:  # the hot path at 10,000 rules: an "any of these terms"
                # rule, one of whose terms occurred; its terms and spans when first read
                match = _new(_LazyMatch)
                fields = match.__dict__
                fields["rule"] = name
                fields["_number"] = number
                fields["_scan"] = scan
                matches.append(match)
                continue
            found = self._evaluate(self._rules[number], scan)
            if found is not None:
                matches.append(found)
        return matches

    def _evaluate(self, compiled: _Rule, scan: _Scan) -> Match | None:
        item = scan.item
        if compiled.tags and not compiled.tags & {t.casefold() for t in item.tags}:
            return None
        if compiled.sources and not any(
            fnmatch.fnmatchcase(item.source.casefold(), s) for s in compiled.sources
        ):
            return None
        if compiled.simple:
            found = scan.found
            fired = [pair for pair in compiled.flat if pair[0] in found]  # type: ignore[union-attr]
            labels = compiled.labels
            return Match(
                rule=compiled.rule.name,
                terms=tuple(dict.fromkeys(labels[label] for _, label in fired)),
                spans=scan.flat_spans(fired, labels),
            )
        if compiled.flat is not None:
            return _flat_match(compiled, compiled.flat, scan)
        assert compiled.tree is not None
        spans = scan.evaluate(compiled.tree)
        return _match(compiled, spans) if spans else None


def _flat_match(compiled: _Rule, flat: tuple[tuple[int, int], ...], scan: _Scan) -> Match | None:
    """``_match`` for "any of these terms" rules with a term bound to a field."""
    fired = [(atom, label) for atom, label in flat if scan.occurrences(atom)]
    if not fired:
        return None
    labels = compiled.labels
    return Match(
        rule=compiled.rule.name,
        terms=tuple(dict.fromkeys(labels[label] for _, label in fired)),
        spans=scan.flat_spans(fired, labels),
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
