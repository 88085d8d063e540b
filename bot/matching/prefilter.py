"""Rule -> SQLite FTS5 expression: which stored items could match, from an index.

Part of the "Item -> Match" stage, used by the archive search (``bot.search``): the
store keeps an FTS5 index (``items_search``) of every item's folded title and text,
tokenized at spaces, exactly the words the matcher's automaton sees.  This module turns
a rule into an expression over that index that is true of every item the rule matches
(and of some it does not): each term becomes its word forms as the matcher generates
them (``matcher.term_slots``: inflection, transliteration, derived and English forms, as the
rule asks), a phrase a phrase of them; AND and OR stay; NEAR becomes AND; NOT, regexes,
``source:``/``tag:``/``link:`` and very short prefixes (``MIN_PREFIX``) are left to the
matcher, which runs over the candidates.  ``None``: nothing to look up, every item is a
candidate.  Pure; imports only the matcher's compile step.
"""

from __future__ import annotations

import math

from bot.matching.matcher import FIELDS, _Options, rule_tree, term_slots
from bot.matching.query import And, Near, Node, Or, Term
from bot.model import Rule

__all__ = ["MAX_PHRASES", "MIN_PREFIX", "TooManyForms", "fts_expression"]

MIN_PREFIX = 3  # a shorter prefix ("в*") names most of the index: no use as a filter
MAX_PHRASES = 5000  # word forms in one expression; more is refused (TooManyForms)
PHRASES_PER_TERM = 64  # a phrase's form combinations written out; more: each word ANDed


class TooManyForms(ValueError):
    """The rule stands for more word forms than one search looks up."""


def fts_expression(rule: Rule) -> str | None:
    """An FTS5 MATCH expression true of every item ``rule`` matches; None when the rule
    has no word to look up (then every item is a candidate).  Raises ``TooManyForms``,
    and the matcher's ``QueryError``/``TermError`` for a bad rule."""
    root = rule_tree(rule)
    if root is None:
        return None
    return _Builder(_Options.of(rule)).expression(root)


class _Builder:
    def __init__(self, options: _Options):
        self.options = options
        self.phrases = 0

    def expression(self, node: Node) -> str | None:
        if isinstance(node, Term):
            return self.term(node)
        if isinstance(node, And | Near):
            items = node.items if isinstance(node, And) else (node.left, node.right)
            parts = [p for p in (self.expression(i) for i in items) if p is not None]
            return _join(parts, "AND") if parts else None
        if isinstance(node, Or):
            parts = []
            for item in node.items:
                part = self.expression(item)
                if part is None:  # one side may match anything: so may the OR
                    return None
                parts.append(part)
            return _join(parts, "OR")
        return None  # NOT (a veto), a regex, source:/tag:/link:: the matcher decides

    def term(self, term: Term) -> str | None:
        slots = [
            sorted(slot) if all(not p or len(t) >= MIN_PREFIX for t, p in slot) else None
            for slot in term_slots(term, self.options)
        ]
        known = [s for s in slots if s is not None]
        if not known:
            return None
        if len(known) == len(slots) and math.prod(len(s) for s in known) <= PHRASES_PER_TERM:
            phrases = [""]
            for slot in known:
                phrases = [f"{p} + {_token(t, prefix)}" if p else _token(t, prefix)
                           for p in phrases for t, prefix in slot]  # fmt: skip
            self._count(len(phrases))
            found = _join(phrases, "OR")
        else:  # each word somewhere (the matcher checks they follow each other)
            self._count(sum(len(s) for s in known))
            found = _join([_join([_token(t, p) for t, p in s], "OR") for s in known], "AND")
        if term.field in FIELDS:
            found = f"{term.field} : ({found})"
        return found

    def _count(self, phrases: int) -> None:
        self.phrases += phrases
        if self.phrases > MAX_PHRASES:
            raise TooManyForms(
                f"the query stands for more than {MAX_PHRASES} word forms; use fewer "
                "terms (or fewer options such as --translit and --derived)"
            )


def _token(token: str, prefix: bool) -> str:
    quoted = '"' + token.replace('"', '""') + '"'
    return f"{quoted} *" if prefix else quoted


def _join(parts: list[str], operator: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {operator} ".join(parts) + ")"
