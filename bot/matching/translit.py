"""Term word -> its spellings in the other script (Cyrillic <-> Latin).

Part of the "Item -> Match" stage, used only when a rule asks (``translit = true``) and
only when rules compile.  Cyrillic -> Latin uses the published tables of the iuliia
package (Wikipedia, BGN/PCGN, ICAO Doc 9303, Moscow metro, "Telegram" informal,
scientific), so "Стрелков" also matches "Strelkov", "Вагнер" "Vagner", "Пригожин"
"Prigozhin" / "Prigojin".  Latin -> Cyrillic reverses the Wikipedia table (longest
letter group first: shch, zh, kh, ts, ch, sh, ya, yu, ye, ...) plus the English
spellings that table lacks (w = в, h = х, x = кс, j = дж, q = к, c = к or ц), so
"Wagner" also matches "Вагнер" and, inflected, "Вагнера".  Ukrainian words (і, ї, є, ґ)
go through cyrtranslit's Ukrainian table.

The result is a few raw spellings; the caller normalizes and inflects them.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path

from bot.matching.normalize import CYRILLIC_LETTER

_UKRAINIAN = re.compile(r"[єіїґ]")
_LATIN_WORD = re.compile(r"^[a-z][a-z'\-]*$")
_VOWELS = set("aeiouy")

# Latin letters the Russian tables never produce, as English spells Russian names.
_ENGLISH = {"w": "в", "h": "х", "x": "кс", "j": "дж", "q": "к", "c": "к"}


@cache
def _schemas() -> tuple[object, ...]:
    import iuliia

    return (
        iuliia.WIKIPEDIA,
        iuliia.BGN_PCGN,
        iuliia.ICAO_DOC_9303,
        iuliia.MOSMETRO,
        iuliia.TELEGRAM,
        iuliia.SCIENTIFIC,
    )


@cache
def _reverse() -> tuple[dict[str, str], int]:
    """Latin letter group -> Cyrillic letter, from the Wikipedia table."""
    import iuliia

    data = json.loads(Path(iuliia.WIKIPEDIA.path).read_text(encoding="utf-8"))
    reverse: dict[str, str] = {}
    for cyr, lat in data["mapping"].items():
        if lat and cyr not in "ъьё":
            reverse.setdefault(lat, cyr)  # e <- е before э, y <- й before ы
    reverse.update({"ye": "е", "yo": "е", "iy": "ий", "yy": "ый"})
    for lat, cyr in _ENGLISH.items():
        reverse.setdefault(lat, cyr)
    return reverse, max(len(k) for k in reverse)


@lru_cache(maxsize=100_000)
def latin_variants(word: str) -> frozenset[str]:
    """Latin spellings of a Cyrillic ``word`` (empty when it has no Cyrillic)."""
    word = word.casefold()
    if not CYRILLIC_LETTER.search(word):
        return frozenset()
    if _UKRAINIAN.search(word):
        import cyrtranslit

        return frozenset({cyrtranslit.to_latin(word, "ua").casefold()})
    return frozenset(schema.translate(word).casefold() for schema in _schemas())  # type: ignore[attr-defined]


def _to_cyrillic(word: str) -> str:
    reverse, longest = _reverse()
    out: list[str] = []
    i = 0
    while i < len(word):
        for size in range(min(longest, len(word) - i), 0, -1):
            group = word[i : i + size]
            if group in ("iy", "yy") and i + size != len(word):
                continue  # only as an ending
            if group == "y":
                before = word[i - 1] if i else ""
                if i == len(word) - 1 and before and before not in _VOWELS:
                    out.append("ий")  # Zelensky, Yevgeny: -ий
                else:
                    out.append("ы" if before and before not in _VOWELS else "й")
                i += 1
                break
            if group == "c" and word[i + 1 : i + 2] in ("e", "i", "y"):
                out.append("ц")
                i += 1
                break
            if group in reverse:
                out.append(reverse[group])
                i += size
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=100_000)
def cyrillic_variants(word: str) -> frozenset[str]:
    """Cyrillic spellings of a Latin ``word`` (empty when it is not a Latin word)."""
    word = word.casefold()
    if not _LATIN_WORD.match(word):
        return frozenset()
    first = _to_cyrillic(word)
    variants = {first}
    if first.startswith("е"):  # Ezzor: еззор or эззор
        variants.add("э" + first[1:])
    return frozenset(variants)
