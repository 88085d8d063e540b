"""Text -> normalized text: the one folding that item text and rule terms both go through.

Part of the "Item -> Match" stage.  Normalized text holds only words (letters and
digits) and single-character spaces, folded so that spellings people treat as the same
compare equal:

- Unicode NFKC, casefold, ё = е, diacritics removed from Latin, Greek, Arabic and
  Hebrew letters ("Zōr" = "Zor"; Cyrillic й, ї, ў keep their marks, stress marks go);
- every character that is not a letter or digit is a space: dashes, hyphens, quotes,
  apostrophes, underscores, punctuation, emoji ("Deir-ez-Zor" = "Deir ez Zor");
- soft hyphens, zero-width characters (the zero-width space too) and stray combining
  marks are dropped: inside a word they do not split it ("Ваг\u200bнер" = "Вагнер");
- inside a word that mixes Latin and Cyrillic letters, the look-alike letters of the
  minority script become the majority's ("Вагнeр" with a Latin e = "Вагнер");
- markup is blanked before folding: HTML tags and entities, link URLs (``http://``,
  ``https://``, ``www.``) and emoji shortcodes (``:fire:``).  Markdown markers
  (``**``, ``__``, ``~~``, ``||``) are punctuation, a space, between words; INSIDE a
  word (letters on both sides: ``**Ваг**нер``) they are dropped, as HTML conversion
  drops ``<b>Ваг</b>нер``'s tags, so the word stays whole.  Single characters stay
  punctuation: ``O`Neil``'s backtick is an apostrophe, ``Ваг*нер`` in a rule a
  misplaced prefix star.

``fold_surface`` is the same folding with ``surface`` set, for readers of a word's
shape rather than its letters (dedup): NFKC, ё = е, dashes and spaces unified, case,
accents and punctuation kept.

Invariant: ``fold(text)`` keeps a map back to ``text``, so a span found in the folded
text is a span of the ORIGINAL string.  Almost every real text folds one character to
one character, so the map is the identity and costs nothing; only texts with
expanding or vanishing characters (ß, ligatures, soft hyphens, stress marks, HTML
entities, markdown markers inside a word) take the exact, slower path with an
explicit offset map.

Speed: the common path folds ~1 KB in a few microseconds by encoding through a
256-character alphabet (ASCII, Cyrillic, common punctuation), one ``bytes.translate``
and a decode, all in C; the same pass classes each character (Latin, Cyrillic,
markdown marker), which tells whether a word mixes scripts or holds markers.  Texts
with other letters take ``str.translate`` with a lazily filled table (still one-to-one),
and the exact path only when needed.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# --- one character --------------------------------------------------------------

# Cyrillic letters whose marks are part of the letter (й = и + breve, ї, ў); every other
# mark on a Cyrillic letter (stress accents) is dropped.
_KEEP_ON_CYRILLIC = {"\u0306", "\u0308"}
# Scripts whose marks are diacritics that writers drop freely (fold them away); marks of
# other scripts (Devanagari vowel signs, ...) are part of the letters and stay.
_STRIP_RANGES = (
    (0x0041, 0x024F),  # Latin, Latin-1, Latin Extended-A/B
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x0370, 0x03FF),  # Greek
    (0x1F00, 0x1FFF),  # Greek Extended
    (0x0400, 0x052F),  # Cyrillic (handled by _KEEP_ON_CYRILLIC)
    (0x0590, 0x06FF),  # Hebrew, Arabic
)


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u052f"


def _strips(base: str) -> bool:
    cp = ord(base)
    return any(lo <= cp <= hi for lo, hi in _STRIP_RANGES)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


def _drop_marks(text: str) -> str:
    out: list[str] = []
    base = ""
    for ch in unicodedata.normalize("NFD", text):
        if _is_mark(ch):
            if not base or not _strips(base):
                out.append(ch)
            elif _is_cyrillic(base) and ch in _KEEP_ON_CYRILLIC:
                out.append(ch)
            continue
        base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


# Apostrophes that Unicode files as letters (Ukrainian writes U+02BC): like ' and ’,
# they separate words, so every apostrophe variant folds the same.
_APOSTROPHE_LETTERS = frozenset("\u02bc\u02b9\u02bb\u02bd\u02be\u02bf")


# Dashes that Unicode files as math or other punctuation (minus, hyphen bullet).
_OTHER_DASHES = frozenset("\u2212\u2043")


@lru_cache(maxsize=65536)
def fold_cluster(cluster: str, surface: bool = False) -> str:
    """The folded form of one character with its combining marks ("" when it vanishes).
    ``surface``: the light folding of ``fold_surface`` (case, accents, punctuation and
    invisible characters kept; ё = е, every dash "-", every space " ")."""
    first = cluster[0]
    category = unicodedata.category(first)
    if surface:
        if category == "Pd" or first in _OTHER_DASHES:
            return "-"
        if category == "Zs":
            return " "
        return unicodedata.normalize("NFKC", cluster).replace("ё", "е").replace("Ё", "Е")
    if category == "Cf" or category[0] == "M":  # soft hyphen, ZWJ, BOM, stray marks
        return ""
    if not first.isalnum() or first in _APOSTROPHE_LETTERS:
        return " "
    text = unicodedata.normalize("NFKC", cluster).casefold()
    text = _drop_marks(unicodedata.normalize("NFKC", text)).replace("ё", "е")
    return "".join(ch if ch.isalnum() or _is_mark(ch) else " " for ch in text)


# --- look-alike letters -----------------------------------------------------------

_LATIN_TO_CYRILLIC = str.maketrans("abcehikmoptxy", "авсенікмортху")
_CYRILLIC_TO_LATIN = str.maketrans("авсенікмортху", "abcehikmoptxy")
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")
_CYRILLIC_LETTERS = "абвгдежзийклмнопрстуфхцчшщъыьэюяєіїґў"
_CYRILLIC = frozenset(_CYRILLIC_LETTERS)
# A lowercase Russian, Ukrainian or Belarusian letter (ё too): ``search`` tells whether a
# word has any, i.e. whether Cyrillic inflection and transliteration apply to it.
CYRILLIC_LETTER = re.compile(r"[а-яёєіїґў]")
_MIXED_WORD = re.compile(
    rf"[a-z{_CYRILLIC_LETTERS}]*(?:[a-z][{_CYRILLIC_LETTERS}]|[{_CYRILLIC_LETTERS}][a-z])"
    rf"[a-z{_CYRILLIC_LETTERS}]*"
)


def _unmix(word: str) -> str:
    latin = sum(ch in _LATIN for ch in word)
    cyrillic = sum(ch in _CYRILLIC for ch in word)
    table = _LATIN_TO_CYRILLIC if cyrillic >= latin else _CYRILLIC_TO_LATIN
    return word.translate(table)


def fold_mixed(text: str) -> str:
    """Fold look-alike letters inside words that mix Latin and Cyrillic (same length)."""
    return _MIXED_WORD.sub(lambda m: _unmix(m.group()), text)


# --- markup -----------------------------------------------------------------------

_TAG = re.compile(r"<[A-Za-z/!][^<>]{0,2000}>")
_URL = re.compile(r"https?://[^\s<>\"'«»“”]+")  # literal prefixes: fast scans
_WWW = re.compile(r"www\.[^\s<>\"'«»“”]+")
_SHORTCODE = re.compile(r":[a-z0-9_+\-]*[a-z][a-z0-9_+\-]*:")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_URL_HOST = re.compile(r"(?:https?://|www\.)([^\s/:?#<>\"'«»“”]+)", re.I)
# Markdown markers between two letters are inside a word, so they vanish (a word joiner,
# which folding drops, in their place keeps every offset).
_MARKER_PAIRS = ("**", "__", "~~", "||")
_WORD_JOINER = "\u2060"
# In the fast path's character classes (``_CLASS``: L Latin, C Cyrillic, M a marker
# character): a letter, pairs of markers, a letter ("MM" first: a fast literal scan).
_INWORD = re.compile(rb"MM(?<=[LC]MM)(?:MM)*(?=[LC])")


def _join_markers(text: str) -> str:
    """``text`` with the markdown markers that sit between two letters (``**Ваг**нер``)
    turned into word joiners (``str.find``, not a regex: most posts have bold titles)."""
    runs: list[tuple[int, int]] = []
    for pair in _MARKER_PAIRS:
        i = text.find(pair, 1)
        while i >= 0:
            end = i + 2
            if text[i - 1].isalpha():  # most markers open after a space: skip them fast
                while text[end : end + 2] in _MARKER_PAIRS:
                    end += 2
                if end < len(text) and text[end].isalpha():
                    runs.append((i, end))
            i = text.find(pair, end)
    if not runs:
        return text
    parts: list[str] = []
    done = 0
    for start, end in sorted(runs):
        if start >= done:
            parts += (text[done:start], _WORD_JOINER * (end - start))
            done = end
    return "".join(parts) + text[done:]


def _blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def blank_markup(text: str) -> str:
    """``text`` with HTML tags, link URLs and emoji shortcodes turned into spaces
    (same length, so offsets still point into the original)."""
    if "<" in text:
        text = _TAG.sub(_blank, text)
    if "://" in text:
        text = _URL.sub(_blank, text)
    if "www." in text:
        text = _WWW.sub(_blank, text)
    if ":" in text:
        text = _SHORTCODE.sub(_blank, text)
    return text


def link_hosts(text: str) -> list[str]:
    """The host names of the URLs in ``text`` (casefolded, without "www.")."""
    if "://" not in text and "www." not in text.casefold():
        return []
    return [host_of(m.group(1)) for m in _URL_HOST.finditer(text)]


def host_of(host: str) -> str:
    host = host.casefold().rstrip(".")
    return host.removeprefix("www.")


# --- the fast path: a 256-character alphabet ---------------------------------------

_CYRILLIC_BLOCK = "".join(chr(c) for c in range(0x410, 0x450)) + "ЁёЄєІіЇїҐґЎў"
_PUNCTUATION = (
    "\u00a0«»\u2010\u2011\u2012\u2013\u2014\u2015…“”„‘’‚•№·°±×§©®™€₽′″‹›\u2009\u202f\u2002\u2003¶¬"
)
_LATIN_EXTRA = "éÉèüÜöÖäÄáóíñ"
_ALPHABET = "".join(chr(c) for c in range(128)) + _CYRILLIC_BLOCK + _PUNCTUATION + _LATIN_EXTRA
assert len(_ALPHABET) == len(set(_ALPHABET)) <= 256
_DECODE = _ALPHABET + "\ufffe" * (256 - len(_ALPHABET))
_ENCODE = codecs.charmap_build(_DECODE)


def _fold_table() -> tuple[bytes, bytes]:
    fold = bytearray(range(256))
    cls = bytearray(b" " * 256)
    for byte, ch in enumerate(_ALPHABET):
        folded = fold_cluster(ch)
        assert len(folded) == 1 and folded in _ALPHABET, (ch, folded)
        fold[byte] = _ALPHABET.index(folded)
    for byte, ch in enumerate(_ALPHABET):  # the class of what ch folds to (of the
        folded = fold_cluster(ch)  # ENCODED text: markers fold to spaces, so classes
        if folded in _LATIN:  # come before folding)
            cls[byte] = ord("L")
        elif folded in _CYRILLIC:
            cls[byte] = ord("C")
        elif ch in "*_~|":
            cls[byte] = ord("M")
    return bytes(fold), bytes(cls)


_FOLD, _CLASS = _fold_table()
_QUESTION = ord("?")


def _kind(ch: str) -> str:
    """ " " a separator, "" a character that vanishes, "w" part of a word."""
    kind = _kinds.get(ch)
    if kind is None:
        folded = fold_cluster(ch)
        kind = _kinds[ch] = folded if folded in (" ", "") else "w"
    return kind


_kinds: dict[str, str] = {}


def _replaced_are_spaces(text: str, encoded: bytes) -> bool:
    """Whether every character the alphabet lacks (encoded as "?") may fold to a space:
    a separator (emoji), or a vanishing one (variation selector, zero-width joiner) next
    to a separator, where a space splits no word."""
    i = encoded.find(_QUESTION)
    while i >= 0:
        ch = text[i]
        if ch != "?":
            kind = _kind(ch)
            if kind == "w":
                return False
            if kind == "" and not (
                i == 0 or i == len(text) - 1 or " " in (_kind(text[i - 1]), _kind(text[i + 1]))
            ):
                return False
        i = encoded.find(_QUESTION, i + 1)
    return True


def _fold_fast(text: str, markers: bool) -> str | None:
    """The fast path; None when it does not apply: characters it cannot fold one to one,
    or (``markers``) markdown markers inside a word, which must vanish."""
    encoded = codecs.charmap_encode(text, "replace", _ENCODE)[0]
    if _QUESTION in encoded and not _replaced_are_spaces(text, encoded):
        return None
    folded = encoded.translate(_FOLD)
    classes = encoded.translate(_CLASS)
    if markers and b"MM" in classes and _INWORD.search(classes):
        return None
    out = codecs.charmap_decode(folded, "strict", _DECODE)[0]
    first = classes.find(b"L")  # Latin is rare in Cyrillic text: look only where it is
    if first >= 0:
        last = classes.rfind(b"L")
        if (
            classes.find(b"LC", first, last + 2) >= 0
            or classes.find(b"CL", max(first - 1, 0), last + 1) >= 0
        ):
            out = fold_mixed(out)
    return out


# --- the middle path: one-to-one in any script, exact around the rest ---------------

_VANISHES = "\x00"  # marks a character that does not fold one-to-one


class _Table(dict[int, str]):
    def __missing__(self, cp: int) -> str:
        folded = fold_cluster(chr(cp))
        value = folded if len(folded) == 1 and not _is_mark(folded) else _VANISHES
        self[cp] = value
        return value


_TABLE = _Table()


# --- the exact path: clusters and entities, with an offset map --------------------

# An HTML entity (``_ENTITY``), or one character with the combining marks after it.
_CLUSTER = re.compile(
    _ENTITY.pattern
    + r"|.[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\ufe00-\ufe0f]*",
    re.S,
)


def _fold_exact(text: str) -> tuple[str, list[int], list[int]]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for m in _CLUSTER.finditer(text):
        piece = m.group()
        if len(piece) > 2 and piece[0] == "&":
            decoded = html.unescape(piece)
            folded = "".join(fold_cluster(ch) for ch in decoded) if decoded != piece else None
            if folded is None:  # not an entity after all: fold it character by character
                for k, ch in enumerate(piece):
                    for f in fold_cluster(ch):
                        out.append(f)
                        starts.append(m.start() + k)
                        ends.append(m.start() + k + 1)
                continue
        else:
            folded = fold_cluster(piece)
        for f in folded:
            out.append(f)
            starts.append(m.start())
            ends.append(m.end())
    return fold_mixed("".join(out)), starts, ends


# --- the public face -----------------------------------------------------------------


class Folded(NamedTuple):  # a tuple: made once per item and field, cheap to build
    """Folded text and the way back: ``starts[i]``/``ends[i]`` is the original range of
    folded character ``i``; both None when folding kept every offset."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original range of the folded range ``[start, end)``."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def fold(text: str, markup: bool = True) -> Folded:
    """``text`` normalized (see the module docstring), with its map to the original."""
    if markup:
        text = blank_markup(text)
    if "&" not in text or not _ENTITY.search(text):
        fast = _fold_fast(text, markup)
        if fast is not None:
            return Folded(fast)
        if markup:
            text = _join_markers(text)
        one = text.translate(_TABLE)
        if _VANISHES not in one:
            return Folded(fold_mixed(one))
        return Folded(*_fold_around(text, one))
    return Folded(*_fold_exact(_join_markers(text) if markup else text))


def _fold_around(text: str, one: str) -> tuple[str, list[int], list[int]]:
    """The exact path, but only around the characters that do not fold one-to-one
    (marked in ``one``): a mark joins the character before it, the rest keep their
    one-to-one folding and offsets."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0  # text[:done] is in out
    i = one.find(_VANISHES)
    while i >= 0:
        start = i - 1 if i > 0 and _is_mark(text[i]) and one[i - 1] != _VANISHES else i
        end = i + 1
        while end < len(text) and one[end] == _VANISHES and _is_mark(text[end]):
            end += 1
        if start > done:
            out.append(one[done:start])
            starts.extend(range(done, start))
            ends.extend(range(done + 1, start + 1))
        elif start < done:  # a mark after a cluster already emitted: fold them again
            start = done
        folded = fold_cluster(text[start:end]) if start < end else ""
        out.append(folded)
        starts.extend([start] * len(folded))
        ends.extend([end] * len(folded))
        done = end
        i = one.find(_VANISHES, end)
    out.append(one[done:])
    starts.extend(range(done, len(text)))
    ends.extend(range(done + 1, len(text) + 1))
    return fold_mixed("".join(out)), starts, ends


class _SurfaceTable(dict[int, str]):
    def __missing__(self, cp: int) -> str:
        self[cp] = value = fold_cluster(chr(cp), surface=True)
        return value


_SURFACE = _SurfaceTable()


def fold_surface(text: str) -> str:
    """The same folding with ``surface`` set: for readers of a word's shape (dedup reads
    case for names, "1,5" and "10:00" for numbers, "Дейр-эз-Зор" as one word).  Unicode
    NFKC, ё = е (Ё = Е), every dash a hyphen-minus, every space variant a space; case,
    accents, punctuation, look-alike letters and markup kept, no offset map."""
    return unicodedata.normalize("NFKC", text).translate(_SURFACE)


def fold_exact(text: str) -> Folded:
    """``fold`` by the exact path only (for tests: every path must agree with it)."""
    return Folded(*_fold_exact(_join_markers(blank_markup(text))))


def normalize(text: str) -> str:
    """Folded words of ``text`` joined by single spaces."""
    return " ".join(fold(text).text.split())


@dataclass(frozen=True, slots=True)
class Token:
    """One word: ``text`` normalized, ``start``/``end`` offsets into the original string."""

    text: str
    start: int
    end: int


_WORD = re.compile(r"\S+")


def tokenize(text: str) -> list[Token]:
    folded = fold(text)
    return [
        Token(m.group(), *folded.original(m.start(), m.end())) for m in _WORD.finditer(folded.text)
    ]


def normalize_term(term: str) -> tuple[str, ...]:
    """The word sequence a term or phrase stands for (a prefix ``*`` is not a word)."""
    return tuple(fold(term, markup=False).text.split())
