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

Beside the letter tables, ``NAMES``: the spellings the English-language press
established for the names of the mission (BGN/PCGN where the press follows it; the
press's own where it does not: Wagner, not Vagner; Deir ez-Zor; Kyiv; Zelenskyy), both
ways: "Вагнер" also gives "wagner", "Deir ez-Zor" gives "Дейр-эз-Зор".  A name in more
than one word (Deir ez-Zor) maps word by word the other way ("deir" -> "дейр",
"ez-zor" -> "эз-зор"), as the matcher transliterates a term's words one by one.

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

# Established spellings that the letter tables do not give (Latin side as the press
# writes it; each Cyrillic name is one word of a term, hyphens allowed).  Add a line
# when a name turns up; ``explain`` shows what a term gets.
NAMES: dict[str, tuple[str, ...]] = {
    # Wagner Group and people
    "Вагнер": ("Wagner",),
    "Пригожин": ("Prigozhin", "Prigojin"),
    "Евгений": ("Yevgeny", "Yevgeniy", "Evgeny", "Evgeniy"),
    "Дмитрий": ("Dmitry", "Dmitri", "Dmitriy"),
    "Сергей": ("Sergei", "Sergey"),
    "Алексей": ("Alexei", "Alexey", "Aleksei"),
    "Андрей": ("Andrei", "Andrey"),
    "Шойгу": ("Shoigu",),
    "Зеленский": ("Zelensky", "Zelenskyy", "Zelenskiy"),
    "Хафтар": ("Haftar", "Hifter"),
    "Асад": ("Assad",),
    # Syria
    "Сирия": ("Syria",),
    "Дейр-эз-Зор": (
        "Deir ez-Zor", "Deir ez-Zour", "Deir el-Zor", "Deir al-Zor", "Deir al-Zour",
        "Deir az-Zor", "Dayr az-Zawr", "Dayr al-Zawr",
    ),
    "Дамаск": ("Damascus",),
    "Алеппо": ("Aleppo", "Halab"),
    "Хомс": ("Homs",),
    "Латакия": ("Latakia",),
    "Пальмира": ("Palmyra",),
    "Ракка": ("Raqqa", "Raqqah"),
    "Хмеймим": ("Hmeimim", "Khmeimim"),
    "Евфрат": ("Euphrates",),
    # Africa
    "Ливия": ("Libya",),
    "Мозамбик": ("Mozambique",),
    "Буркина-Фасо": ("Burkina Faso",),
    # Russia and Ukraine
    "Россия": ("Russia",),
    "Москва": ("Moscow",),
    "Украина": ("Ukraine",),
    "Киев": ("Kyiv", "Kiev"),
    "Харьков": ("Kharkiv", "Kharkov"),
    "Одесса": ("Odesa", "Odessa"),
    "Николаев": ("Mykolaiv",),
    "Запорожье": ("Zaporizhzhia", "Zaporizhia", "Zaporozhye"),
    "Днепр": ("Dnipro", "Dnieper"),
    "Луганск": ("Luhansk", "Lugansk"),
    "Артемовск": ("Artemovsk", "Artyomovsk"),
    "Авдеевка": ("Avdiivka",),
    "Ростов-на-Дону": ("Rostov-on-Don",),
}  # fmt: skip


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
    reverse.update({"ye": "е", "yo": "е", "iy": "ий", "yy": "ый", "ei": "ей"})  # Sergei
    for lat, cyr in _ENGLISH.items():
        reverse.setdefault(lat, cyr)
    return reverse, max(len(k) for k in reverse)


def _key(word: str) -> str:
    return word.casefold().replace("ё", "е")


@cache
def _names() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """``NAMES`` as lookups: Cyrillic word -> Latin spellings, and Latin word (one word
    of a spelling, aligned with the Cyrillic tokens) -> Cyrillic words."""
    latin: dict[str, set[str]] = {}
    cyrillic: dict[str, set[str]] = {}
    for name, spellings in NAMES.items():
        key = _key(name)
        tokens = re.split(r"[\s\-]+", key)
        for spelling in spellings:
            latin.setdefault(key, set()).add(_key(spelling))
            words = _key(spelling).split()
            sizes = [len(re.split(r"-+", w)) for w in words]
            if sum(sizes) != len(tokens):
                raise ValueError(f"NAMES: {spelling!r} does not align with {name!r}")
            at = 0
            for w, size in zip(words, sizes, strict=True):
                cyrillic.setdefault(w, set()).add("-".join(tokens[at : at + size]))
                at += size
    return (
        {k: frozenset(v) for k, v in latin.items()},
        {k: frozenset(v) for k, v in cyrillic.items()},
    )


@lru_cache(maxsize=100_000)
def latin_variants(word: str) -> frozenset[str]:
    """Latin spellings of a Cyrillic ``word`` (empty when it has no Cyrillic)."""
    word = word.casefold()
    if not CYRILLIC_LETTER.search(word):
        return frozenset()
    names = _names()[0].get(_key(word), frozenset())
    if _UKRAINIAN.search(word):
        import cyrtranslit

        return frozenset({cyrtranslit.to_latin(word, "ua").casefold()}) | names
    return frozenset(schema.translate(word).casefold() for schema in _schemas()) | names  # type: ignore[attr-defined]


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
    return frozenset(variants) | _names()[1].get(word, frozenset())
