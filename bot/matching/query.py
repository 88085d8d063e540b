"""Query text -> syntax tree: the rule language that rule files and ``/watch`` share.

Part of the "Item -> Match" stage: ``parse_query`` turns a query into a ``Query`` that
``matcher`` compiles; it touches no text.  Grammar (operators in capitals; lowercase
"or"/"and" are ordinary words):

    query    := or
    or       := and ("OR" and)*
    and      := unary (["AND"] unary)*          -- juxtaposition is AND
    unary    := ("NOT" | "-") unary | near
    near     := primary ("NEAR/" N primary)*    -- N words apart at most (NEAR = NEAR/5)
    primary  := "(" or ")" | field ":" primary | meta ":" value
              | ["!"] '"' phrase '"' | ["!"] word | "/" regex "/"
                                                -- also “phrase”, „phrase“, «phrase»
    field    := "title" | "text"                -- where the words must be
    meta     := "source" | "tag" | "link"       -- the item's source, tags, link domains

"# " starts a comment to the end of the line (rule files write long queries over
several lines); "#tag" is a word.  A word or phrase is one term: its words in
sequence, whatever separates them ("Дейр-эз-Зор" is the phrase дейр эз зор).  "*"
right after a word makes it a prefix ("погиб*"); "!" before a term matches it only as
written: no inflection, transliteration, derived or English forms.  NEAR binds
tightest, then NOT, then AND, then OR ("c NOT a NEAR b" is c AND NOT (a NEAR b)).
A regex is RE2 syntax (linear time), case-insensitive, over the original title and
text.

Errors are ``QueryError``s that carry the position (``error.position``, 0-based) and
draw a pointer under the query (``error.pointer()``).  Nesting (brackets, NOT, NEAR
chains, field:) is bounded by ``MAX_DEPTH``, so the parser and every walk of the tree
(compile, evaluate) recurse a bounded number of times whatever the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import re2

from bot.matching.normalize import Token, tokenize

TEXT_FIELDS = ("title", "text")
META_FIELDS = ("source", "tag", "link")
DEFAULT_NEAR = 5
MAX_NEAR = 100
MAX_DEPTH = 32  # levels of (), NOT, NEAR and field: one inside another


class TermError(ValueError):
    """A term the matcher cannot use; the message says why, for the rule's author."""


class QueryError(TermError):
    """Bad query syntax; ``position`` is the 0-based offset of the problem in ``query``."""

    def __init__(self, message: str, position: int, query: str):
        super().__init__(message)
        self.message = message
        self.position = max(0, min(position, len(query)))
        self.query = query

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position + 1})"

    def pointer(self) -> str:
        """The query's line with the problem, and a caret under the position."""
        start = self.query.rfind("\n", 0, self.position) + 1
        end = self.query.find("\n", self.position)
        line = self.query[start : end if end >= 0 else len(self.query)]
        return f"{line}\n{' ' * (self.position - start)}^ {self.message}"


class NestingError(QueryError):
    """A query nested deeper than ``MAX_DEPTH``: one line, no pointer (the whole
    structure is the problem, and the line may be long)."""

    def pointer(self) -> str:
        return str(self)


# --- the tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """One whitespace-separated word of a term as written, e.g. "Дейр-эз-Зор" or "погиб"."""

    raw: str  # as written, without "*" (hyphens and apostrophes kept: morphology needs them)
    tokens: tuple[str, ...]  # its normalized tokens ("дейр", "эз", "зор")
    prefix: bool = False  # the last token is a prefix ("погиб*")
    fuzzy: int | None = None  # "~": fuzzy.AUTO, "~1": 1, "~2": 2 (typos allowed); None: none


@dataclass(frozen=True)
class Term:
    text: str  # as the rule writes it (the label shown in alerts)
    words: tuple[Word, ...]
    exact: bool = False  # "!": as written (no inflection, translit, derived, English forms)
    field: str | None = None  # "title" / "text": only there
    position: int = 0

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for w in self.words for t in w.tokens)


@dataclass(frozen=True)
class Regex:
    pattern: str
    compiled: Any = field(compare=False, repr=False)  # re2 pattern, case-insensitive
    field: str | None = None
    position: int = 0

    @property
    def text(self) -> str:
        return f"/{self.pattern}/"


@dataclass(frozen=True)
class Meta:
    kind: str  # "source" | "tag" | "link"
    value: str  # casefolded; "source:" takes * wildcards
    position: int = 0

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int


Node = Term | Regex | Meta | And | Or | Not | Near


@dataclass(frozen=True)
class Query:
    root: Node
    text: str

    def terms(self) -> list[Term | Regex | Meta]:
        """Every leaf, in the order the query writes them."""
        return list(leaves(self.root))


def leaves(node: Node) -> Iterator[Term | Regex | Meta]:
    if isinstance(node, Term | Regex | Meta):
        yield node
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from leaves(item)
    elif isinstance(node, Not):
        yield from leaves(node.item)
    else:
        yield from leaves(node.left)
        yield from leaves(node.right)


def is_positive(node: Node) -> bool:
    """Whether ``node`` can only be true when something is present in the item."""
    if isinstance(node, Term | Regex | Meta | Near):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(is_positive(i) for i in node.items)
    return all(is_positive(i) for i in node.items)


# --- terms ----------------------------------------------------------------------------


def parse_term(text: str, position: int = 0, field: str | None = None) -> Term:
    """One term (a word or phrase, "*" prefixes, a leading "!" for exact); raises
    ``TermError`` naming the term when it is unusable."""
    exact = text.startswith("!")
    body = text[1:] if exact else text
    body, tildes = _tildes(text, body, exact)
    tokens = tokenize(body)
    if not tokens:
        raise TermError(f'term "{text}" has no words (letters or digits)')
    _check_stars(text, body, tokens)
    words = []
    for m in re.finditer(r"\S+", body):
        raw = m.group()
        inside = [t for t in tokens if m.start() <= t.start < m.end()]
        if not inside:
            continue
        prefix = body[inside[-1].end : inside[-1].end + 1] == "*"
        fuzzy = tildes.get(m.end())
        if fuzzy is not None and prefix:
            raise TermError(f'term "{text}": a prefix ("*") cannot also take "~"')
        words.append(
            Word(
                raw=raw.replace("*", ""),
                tokens=tuple(t.text for t in inside),
                prefix=prefix,
                fuzzy=fuzzy,
            )
        )
    return Term(text=text, words=tuple(words), exact=exact, field=field, position=position)


_TILDE = re.compile(r"~(\d*)(?=\s|$)")


def _tildes(text: str, body: str, exact: bool) -> tuple[str, dict[int, int]]:
    """``body`` with each word's "~", "~1", "~2" blanked (same length), and the typos
    each allows by where its word ends."""
    if "~" not in body:
        return body, {}
    from bot.matching.fuzzy import AUTO, MAX_DISTANCE

    found: dict[int, int] = {}
    for m in _TILDE.finditer(body):
        if exact:
            raise TermError(
                f'term "{text}": "!" (exactly as written) and "~" (typos allowed) '
                'cannot go together: write "!Вагнер" or "Вагнер~"'
            )
        if m.start() == 0 or body[m.start() - 1].isspace():
            raise TermError(f'term "{text}": "~" must come right after a word, as in "Вагнер~"')
        digits = m.group(1)
        if digits and (len(digits) > 1 or not 1 <= int(digits) <= MAX_DISTANCE):
            raise TermError(
                f'term "{text}": "~" takes 1 or 2 (letters that may differ), as in "Вагнер~1"'
            )
        found[m.start()] = int(digits) if digits else AUTO
        body = body[: m.start()] + " " * (m.end() - m.start()) + body[m.end() :]
    if "~" in body:
        raise TermError(f'term "{text}": "~" must end a word, as in "Вагнер~"')
    return body, found


def _check_stars(text: str, body: str, tokens: list[Token]) -> None:
    ends = {t.end for t in tokens}
    starts = {t.start for t in tokens}
    for pos, char in enumerate(body):
        if char != "*":
            continue
        if pos not in ends:
            raise TermError(f'term "{text}": "*" must come right after a word, as in "погиб*"')
        if pos + 1 in starts:
            raise TermError(f'term "{text}": "*" must end a word; "a*b" is not supported')
        if any(t.start > pos for t in tokens) and not body[pos + 1 : pos + 2].isspace():
            raise TermError(
                f'term "{text}": "*" must end a word (a prefix inside "{text}" would never match)'
            )


def parse_list_entry(text: str) -> Term | Regex:
    """An entry of a rule's ``any``/``all``/``none`` list: a term, or "/regex/"."""
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        return compile_regex(text[1:-1], 0, text, None)
    return parse_term(text)


def compile_regex(pattern: str, position: int, query: str, field: str | None) -> Regex:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as e:
        reason = e.args[0] if e.args else e
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise QueryError(f"bad regex /{pattern}/: {reason}", position, query) from None
    return Regex(pattern=pattern, compiled=compiled, field=field, position=position)


# --- the query parser -------------------------------------------------------------------

_NEAR = re.compile(r"NEAR(?:/(\d+))?$")
_FIELD = re.compile(r"([A-Za-z]+):")
# Opening quote -> the quotes that close it (phones type “…”, „…“ and «…»).
_QUOTES = {'"': '"', "“": '”"', "„": '“”"', "«": "»"}
_STOP = set("()") | set(_QUOTES)


@dataclass
class LexToken:
    """One token of a query: the lexer's output, also read by chat's ``/watch``."""

    kind: str  # "(" ")" OR AND NOT NEAR - FIELD WORD PHRASE REGEX END
    value: str
    position: int
    exact: bool = False
    number: int = 0


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[LexToken] = []
        self.comments: list[tuple[int, int]] = []  # (start, end) of each "# ..." comment
        self._run()

    def error(self, message: str, position: int) -> QueryError:
        return QueryError(message, position, self.text)

    def _run(self) -> None:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = text[i]
            if ch.isspace():
                i += 1
            elif ch == "#" and (i + 1 == n or text[i + 1].isspace()):
                end = text.find("\n", i)  # "# ..." comments to the end of the line
                self.comments.append((i, n if end < 0 else end))
                i = n if end < 0 else end
            elif ch in "()":
                self.tokens.append(LexToken(ch, ch, i))
                i += 1
            elif ch in _QUOTES or (ch == "!" and text[i + 1 : i + 2] in _QUOTES):
                i = self._phrase(i)
            elif ch == "/":
                i = self._regex(i)
            elif ch == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in ")":
                self.tokens.append(LexToken("-", "-", i))
                i += 1
            else:
                i = self._word(i)
        self.tokens.append(LexToken("END", "", n))

    def _phrase(self, i: int) -> int:
        exact = self.text[i] == "!"
        start = i + 1 if exact else i
        closing = _QUOTES[self.text[start]]
        end = start + 1
        while end < len(self.text) and self.text[end] not in closing:
            end += 1
        if end >= len(self.text):
            raise self.error(f"missing closing quote {closing[0]}", start)
        self.tokens.append(LexToken("PHRASE", self.text[start + 1 : end], start, exact=exact))
        return end + 1

    def _regex(self, i: int) -> int:
        j, n = i + 1, len(self.text)
        while j < n and self.text[j] != "/":
            j += 2 if self.text[j] == "\\" else 1
        if j >= n:
            raise self.error("missing closing / of the regex", i)
        pattern = self.text[i + 1 : j].replace("\\/", "/")
        if not pattern:
            raise self.error("empty regex //", i)
        self.tokens.append(LexToken("REGEX", pattern, i))
        return j + 1

    def _word(self, i: int) -> int:
        j, n = i, len(self.text)
        while j < n and not self.text[j].isspace() and self.text[j] not in _STOP:
            j += 1
        word = self.text[i:j]
        if word in ("OR", "AND", "NOT"):
            self.tokens.append(LexToken(word, word, i))
            return j
        near = _NEAR.match(word)
        if near:
            digits = (near.group(1) or str(DEFAULT_NEAR)).lstrip("0") or "0"
            if len(digits) > len(str(MAX_NEAR)) or int(digits) > MAX_NEAR:  # int(): 4,300 digits
                shown = word if len(word) <= 12 else f"{word[:12]}…"
                raise self.error(f"{shown} is too far: at most NEAR/{MAX_NEAR}", i)
            number = int(digits)
            self.tokens.append(LexToken("NEAR", word, i, number=number))
            return j
        if word.startswith("NEAR/"):
            raise self.error('write NEAR/ and a number of words, as in "NEAR/5"', i)
        field_match = _FIELD.match(word)
        if field_match:
            name = field_match.group(1)
            if name in TEXT_FIELDS or name in META_FIELDS:
                self.tokens.append(LexToken("FIELD", name, i))
                return i + len(name) + 1
            if name.islower() and len(word) > len(name) + 1:
                known = ", ".join(f"{f}:" for f in (*TEXT_FIELDS, *META_FIELDS))
                raise self.error(
                    f'unknown field "{name}:" (known: {known}); put a term with a colon in '
                    'quotes, as in "10:30"',
                    i,
                )
        exact = word.startswith("!") and len(word) > 1
        self.tokens.append(LexToken("WORD", word[1:] if exact else word, i, exact=exact))
        return j


_DESCRIBE = {
    "END": "the end of the query",
    ")": '")"',
    "OR": "OR",
    "AND": "AND",
    "NOT": "NOT",
    "NEAR": "NEAR",
}


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _Lexer(text).tokens
        self.i = 0
        self.level = 0  # (), NOT, NEAR and field: around the token being parsed

    def enter(self, token: LexToken) -> None:
        """One level deeper at ``token`` (the parser recurses); at most ``MAX_DEPTH``."""
        self.level += 1
        if self.level > MAX_DEPTH:
            raise _too_deep(token.position, self.text)

    def error(self, message: str, position: int) -> QueryError:
        return QueryError(message, position, self.text)

    def peek(self) -> LexToken:
        return self.tokens[self.i]

    def take(self) -> LexToken:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise self.error("empty query: write what to look for", 0)
        node = self.parse_or(None)
        token = self.peek()
        if token.kind == ")":
            raise self.error('unmatched ")"', token.position)
        if token.kind != "END":  # pragma: no cover - parse_and consumes everything else
            raise self.error(f"unexpected {token.value!r}", token.position)
        _check_depth(node, self.text)  # NEAR chains nest without the parser recursing
        if not is_positive(node):
            raise self.error(
                "nothing to look for: the query needs a term that is not negated "
                '(NOT and "-" only exclude)',
                0,
            )
        return node

    def parse_or(self, scope: str | None) -> Node:
        items = [self.parse_and(scope)]
        while self.peek().kind == "OR":
            self.take()
            items.append(self.parse_and(scope))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, scope: str | None) -> Node:
        items = [self.parse_unary(scope)]
        while self.peek().kind not in ("OR", ")", "END"):
            if self.peek().kind == "AND":
                self.take()
            items.append(self.parse_unary(scope))
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, scope: str | None) -> Node:
        if self.peek().kind in ("NOT", "-"):
            self.enter(self.take())
            node = Not(self.parse_unary(scope))
            self.level -= 1
            return node
        return self.parse_near(scope)

    def parse_near(self, scope: str | None) -> Node:
        start = self.peek()
        node = self.parse_primary(scope)
        while self.peek().kind == "NEAR":
            op = self.take()
            right_start = self.peek()
            right = self.parse_primary(scope)
            for side, token in ((node, start), (right, right_start)):
                if not _proximate(side):
                    raise self.error(
                        f"{op.value} needs words or phrases on both sides "
                        "(or a group of them joined by OR)",
                        token.position,
                    )
            node = Near(node, right, op.number)
        return node

    def parse_primary(self, scope: str | None) -> Node:
        token = self.take()
        if token.kind == "(":
            self.enter(token)
            node = self.parse_or(scope)
            close = self.take()
            if close.kind != ")":
                raise self.error('missing ")" for this "("', token.position)
            self.level -= 1
            return node
        if token.kind == "FIELD":
            return self.parse_field(token, scope)
        if token.kind in ("WORD", "PHRASE"):
            return self.term(token, scope)
        if token.kind == "REGEX":
            return compile_regex(token.value, token.position, self.text, scope)
        what = _DESCRIBE.get(token.kind, repr(token.value))
        if token.kind == "NOT" or token.kind == "-":  # "a NEAR -b": NEAR takes no NOT
            what = "NOT"
        raise self.error(
            f'expected a word, "phrase", ( or /regex/ here, not {what}', token.position
        )

    def parse_field(self, token: LexToken, scope: str | None) -> Node:
        name = token.value
        following = self.peek()
        if following.position != token.position + len(name) + 1 or following.kind in (
            ")",
            "END",
        ):
            raise self.error(f'write what to look for right after "{name}:"', token.position)
        if name in META_FIELDS:
            value = self.take()
            if value.kind not in ("WORD", "PHRASE") or not value.value.strip():
                raise self.error(f'"{name}:" takes a name, as in "{name}:example"',
                                 value.position)  # fmt: skip
            return Meta(kind=name, value=value.value.strip().casefold(), position=token.position)
        if scope is not None and scope != name:
            raise self.error(f'"{name}:" inside "{scope}:" can never match', token.position)
        self.enter(token)
        node = self.parse_primary_scoped(name)
        self.level -= 1
        return node

    def parse_primary_scoped(self, name: str) -> Node:
        if self.peek().kind == "(":
            return self.parse_primary(name)
        return self.parse_near(name)

    def term(self, token: LexToken, scope: str | None) -> Term:
        text = ("!" if token.exact else "") + token.value
        try:
            term = parse_term(text, token.position, scope)
        except TermError as e:
            raise self.error(str(e), token.position) from None
        return term


def _too_deep(position: int, query: str) -> NestingError:
    return NestingError(
        f"nested too deeply: at most {MAX_DEPTH} levels of brackets, NOT, NEAR and "
        "field: one inside another",
        position,
        query,
    )


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.items
    if isinstance(node, Not):
        return (node.item,)
    if isinstance(node, Near):
        return (node.left, node.right)
    return ()


def _check_depth(root: Node, query: str) -> None:
    """Refuse a tree deeper than ``MAX_DEPTH`` (walked without recursion), pointing at
    the first word of the branch that is too deep."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            while not isinstance(node, Term | Regex | Meta):
                node = _children(node)[0]
            raise _too_deep(node.position, query)
        stack.extend((child, depth + 1) for child in _children(node))


def _proximate(node: Node) -> bool:
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Or):
        return all(_proximate(i) for i in node.items)
    return False


def without_comments(text: str) -> str:
    """The query as written, less its "# ..." comments (for showing it on one line);
    the text itself when it does not parse."""
    try:
        comments = _Lexer(text).comments
    except QueryError:
        return text
    kept, at = [], 0
    for start, end in comments:
        kept.append(text[at:start])
        at = end
    return "".join(kept) + text[at:]


def lex(text: str) -> list[LexToken]:
    """The tokens of ``text`` (the last is END); raises ``QueryError`` pointing at a
    quote or regex that is not closed, an unknown field or a bad NEAR."""
    return _Lexer(text).tokens


def parse_query(text: str) -> Query:
    """The syntax tree of ``text``; raises ``QueryError`` pointing at the problem."""
    return Query(root=_Parser(text).parse(), text=text)
