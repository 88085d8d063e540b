"""Item -> Match: which rules an item fires, which of their terms, and where.

Part of the "Item -> Match" stage; pure, imports only ``bot.model``.  Evaluation, per
rule (Rule's ``any``/``all``/``none``, see ``bot.model.Rule``):

1. the rule applies to the item's source: ``rule.tags`` empty or sharing a tag with
   ``item.tags`` (compared case-insensitively);
2. it has a positive term (``any`` or ``all``); a rule without one never fires;
3. at least one ``any`` term occurs (when ``any`` is given);
4. every ``all`` term occurs;
5. no ``none`` term occurs anywhere in the item.

Terms are whole words or phrases of consecutive words (see ``normalize``); a ``*``
right after a word makes it a prefix ("погиб*" matches погиб, погибли, погибших).
Title and text are tokenized separately: a phrase never runs from one into the other.

Cost per item: one tokenization of each field plus, per word, a dict lookup by that
word (and one per distinct prefix length) into an index of every term's first word;
only the rules whose terms occurred are evaluated.  The index and ``compile_term`` are
the parts a later query language / inflection / Aho-Corasick version replaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.matching.normalize import Token, tokenize
from bot.model import Item, Match, Rule, Span

FIELDS = ("title", "text")  # span order: title first


class TermError(ValueError):
    """A term the matcher cannot use; the message says why, for the rule's author."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled term: its normalized words, and which of them are prefixes."""

    words: tuple[str, ...]
    prefix: tuple[bool, ...]

    def matches_at(self, tokens: Sequence[Token], i: int) -> bool:
        if i + len(self.words) > len(tokens):
            return False
        for k, (word, is_prefix) in enumerate(zip(self.words, self.prefix, strict=True)):
            got = tokens[i + k].text
            if not (got.startswith(word) if is_prefix else got == word):
                return False
        return True


def compile_term(term: str) -> Pattern:
    """The pattern of ``term``; raises ``TermError`` when it has no words or a stray ``*``."""
    tokens = tokenize(term)
    if not tokens:
        raise TermError(f'term "{term}" has no words (letters or digits)')
    ends = {t.end for t in tokens}
    starts = {t.start for t in tokens}
    for pos, char in enumerate(term):
        if char != "*":
            continue
        if pos not in ends:
            raise TermError(f'term "{term}": "*" must come right after a word, as in "погиб*"')
        if pos + 1 in starts:
            raise TermError(f'term "{term}": "*" must end a word; "a*b" is not supported')
    return Pattern(
        words=tuple(t.text for t in tokens),
        prefix=tuple(term[t.end : t.end + 1] == "*" for t in tokens),
    )


def check_term(term: str) -> str | None:
    """Why ``term`` is unusable, or None when it is fine."""
    try:
        compile_term(term)
    except TermError as e:
        return str(e)
    return None


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    tags: frozenset[str]
    any: tuple[int, ...]  # pattern ids
    all: tuple[int, ...]
    none: tuple[int, ...]
    positive: tuple[tuple[str, int], ...]  # (term, pattern id) of any + all, in rule order


# A found occurrence: (field index, start, end).
_Hit = tuple[int, int, int]


class Matcher:
    """Matches items against a fixed set of rules, compiled once.

    Raises ``TermError`` if a rule has an unusable term: validate rules first
    (``rulefiles`` does, with file and line).
    """

    def __init__(self, rules: Sequence[Rule]):
        self._patterns: list[Pattern] = []
        pattern_ids: dict[Pattern, int] = {}
        users: dict[int, set[int]] = {}  # pattern id -> rules with it as a positive term

        def pid(rule: Rule, term: str) -> int:
            try:
                pattern = compile_term(term)
            except TermError as e:
                raise TermError(f'rule "{rule.name}": {e}') from None
            if pattern not in pattern_ids:
                pattern_ids[pattern] = len(self._patterns)
                self._patterns.append(pattern)
            return pattern_ids[pattern]

        self._rules: list[_CompiledRule] = []
        for index, rule in enumerate(rules):
            positive = tuple(dict.fromkeys((*rule.any, *rule.all)))
            compiled = _CompiledRule(
                rule=rule,
                tags=frozenset(t.casefold() for t in rule.tags),
                any=tuple(pid(rule, t) for t in rule.any),
                all=tuple(pid(rule, t) for t in rule.all),
                none=tuple(pid(rule, t) for t in rule.none),
                positive=tuple((t, pid(rule, t)) for t in positive),
            )
            self._rules.append(compiled)
            for _, p in compiled.positive:
                users.setdefault(p, set()).add(index)
        self._users = {p: tuple(sorted(r)) for p, r in users.items()}

        # The index: first word -> patterns starting with it; prefixes by their length.
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        for p, pattern in enumerate(self._patterns):
            first = pattern.words[0]
            index_for = self._prefix if pattern.prefix[0] else self._exact
            index_for.setdefault(first, []).append(p)
        self._prefix_lengths = sorted({len(w) for w in self._prefix})

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(c.rule for c in self._rules)

    def match(self, item: Item) -> list[Match]:
        """One Match per rule that fires, in rule order."""
        hits = self._find(item)
        if not hits:
            return []
        candidates = sorted({r for p in hits for r in self._users.get(p, ())})
        item_tags = {t.casefold() for t in item.tags}
        matches = []
        for index in candidates:
            found = self._evaluate(self._rules[index], hits, item_tags)
            if found is not None:
                matches.append(found)
        return matches

    def _find(self, item: Item) -> dict[int, list[_Hit]]:
        """Every occurrence of every pattern in the item, by pattern id."""
        hits: dict[int, list[_Hit]] = {}
        for field_index, text in enumerate((item.title, item.text)):
            tokens = tokenize(text)
            for i, token in enumerate(tokens):
                for p in self._candidates(token.text):
                    pattern = self._patterns[p]
                    if pattern.matches_at(tokens, i):
                        end = tokens[i + len(pattern.words) - 1].end
                        hits.setdefault(p, []).append((field_index, token.start, end))
        return hits

    def _candidates(self, word: str) -> Iterable[int]:
        yield from self._exact.get(word, ())
        for length in self._prefix_lengths:
            if length > len(word):
                break
            yield from self._prefix.get(word[:length], ())

    @staticmethod
    def _evaluate(
        compiled: _CompiledRule, hits: dict[int, list[_Hit]], item_tags: set[str]
    ) -> Match | None:
        if compiled.tags and not compiled.tags & item_tags:
            return None
        if compiled.any and not any(p in hits for p in compiled.any):
            return None
        if not all(p in hits for p in compiled.all):
            return None
        if any(p in hits for p in compiled.none):
            return None
        terms = tuple(term for term, p in compiled.positive if p in hits)
        if not terms:
            return None
        spans: dict[_Hit, str] = {}  # one span per place: the first term in rule order wins
        for term, p in compiled.positive:
            for hit in hits.get(p, ()):
                spans.setdefault(hit, term)
        return Match(
            rule=compiled.rule.name,
            terms=terms,
            spans=tuple(
                Span(field=FIELDS[f], start=start, end=end, term=term)
                for (f, start, end), term in sorted(spans.items())
            ),
        )


def match_rule(rule: Rule, item: Item) -> Match | None:
    """``rule``'s Match on ``item``, or None; for one-off checks (builds a Matcher)."""
    found = Matcher([rule]).match(item)
    return found[0] if found else None
