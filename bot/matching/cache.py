"""Rules -> a compiled ``Matcher``, read back from a file beside the store when one was
compiled for the same rules before: a start-up loads it in a fraction of a second where
compiling 10,000 rules takes seconds (mostly pymorphy3 making word forms).

Part of the "Item -> Match" stage, at start-up and when rules change; its only I/O is
its one file.  The file holds the whole compiled Matcher, pickled (whatever the matcher
holds is kept, field by field nothing is chosen), under a key: a hash of

- the rules, every field as parsed (file and chat rules alike), and the options the
  Matcher is built with (``**options``);
- the matcher's version: the source of the ``bot.matching`` package;
- Python's version and the versions of the dictionaries and libraries that make forms,
  the automaton and regexes (``DEPENDENCIES``).

Beside it, a second file holds the word forms the last compile used, under
``forms_version()``: when the rules change (one rule of 10,000 edited), the compile takes
the forms of the words it knows from there and makes only the new words' forms; a file
for another version, or one that cannot be read, is ignored.

It is never trusted: a file whose header, key or checksum does not match (stale: the
rules, the code or a dictionary changed; corrupt: cut short, damaged) is ignored with a
log line, the rules are compiled and the file written again.  A write is atomic (a
temporary file beside it, renamed over it): a crash leaves the old file or the new one.
The file is as trusted as the store beside it (the bot's own data directory).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import sys
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.matching.forms import forms_version, stored_forms
from bot.matching.matcher import Matcher
from bot.model import Rule

__all__ = ["DEPENDENCIES", "cache_key", "cache_path", "cached_matcher"]

log = logging.getLogger("dozor.matching")

FORMS_FORMAT = "dozor word forms 1"  # the forms file's first field
FORMAT = b"dozor compiled rules 1\n"  # the file's first line; bump when the layout changes
DEPENDENCIES = (  # distributions whose version changes what a compile makes
    "pymorphy3",
    "pymorphy3-dicts-ru",
    "pymorphy3-dicts-uk",
    "lemminflect",
    "pyahocorasick",
    "google-re2",
)
_PACKAGE = Path(__file__).resolve().parent


def cache_path(store_path: Path | str) -> Path | None:
    """The compiled rules' file beside the store (``dozor.db`` -> ``dozor.matcher``);
    None for a store in memory."""
    if str(store_path) == ":memory:":
        return None
    return Path(store_path).with_suffix(".matcher")


@cache
def _environment() -> bytes:
    """Python's version, the dependencies' versions and the matching package's source."""
    digest = hashlib.sha256(sys.version.encode())
    for name in DEPENDENCIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"\n{name}={version}".encode())
    for source in sorted(_PACKAGE.glob("*.py")):
        digest.update(b"\n" + source.name.encode() + b"\n" + source.read_bytes())
    return digest.digest()


def cache_key(rules: Sequence[Rule], **options: Any) -> str:
    """The key a compiled Matcher of ``rules`` (built with ``options``) is filed under."""
    digest = hashlib.sha256(FORMAT + _environment())
    digest.update(repr(sorted(options.items())).encode())
    for rule in rules:
        digest.update(b"\n" + repr(rule).encode())
    return digest.hexdigest()


def cached_matcher(rules: Sequence[Rule], path: Path | None, **options: Any) -> Matcher:
    """``Matcher(rules, **options)``, read from ``path`` when it holds one compiled for
    the same key, else compiled and written there (``path`` None: just compiled)."""
    if path is None:
        return Matcher(rules, **options)
    key = cache_key(rules, **options)
    found = _read(path, key)
    if found is not None:
        return found
    forms_file = path.with_name(f"{path.stem}.forms.matcher")  # dozor.forms.matcher
    version = forms_version()
    with stored_forms(_read_forms(forms_file, version)) as used:
        matcher = Matcher(rules, **options)
    _write(path, key, matcher)
    _write_forms(forms_file, version, used)
    return matcher


def _read_forms(path: Path, version: str) -> dict[Any, frozenset[str]]:
    """The word forms stored at ``path`` under ``version``, or {}."""
    try:
        found = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except Exception as exc:  # damaged or unreadable: the forms are made again
        log.warning("word forms: cannot read %s (%r); making them again", path, exc)
        return {}
    if not (isinstance(found, tuple) and len(found) == 3 and found[:2] == (FORMS_FORMAT, version)):
        return {}
    forms = found[2]
    return forms if isinstance(forms, dict) else {}


def _write_forms(path: Path, version: str, forms: dict[Any, frozenset[str]]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(
            pickle.dumps((FORMS_FORMAT, version, forms), protocol=pickle.HIGHEST_PROTOCOL)
        )
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("word forms: cannot write %s (%s)", path, exc)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _read(path: Path, key: str) -> Matcher | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        log.info("compiled rules: none yet at %s; compiling", path)
        return None
    except OSError as exc:
        log.warning("compiled rules: cannot read %s (%s); compiling", path, exc)
        return None
    header_end = len(FORMAT) + 2 * (64 + 1)
    header, payload = data[:header_end], data[header_end:]
    lines = header.split(b"\n")
    if not data.startswith(FORMAT) or len(lines) != 4 or lines[3]:
        log.warning("compiled rules: %s is not a compiled rules file; compiling again", path)
        return None
    if lines[1].decode("ascii", "replace") != key:
        log.info("compiled rules: %s is for other rules or code; compiling again", path)
        return None
    if hashlib.sha256(payload).hexdigest().encode() != lines[2]:
        log.warning("compiled rules: %s is damaged (checksum); compiling again", path)
        return None
    try:
        matcher = pickle.loads(payload)
    except Exception as exc:  # a file that passed the checksum but not the code reading it
        log.warning("compiled rules: %s cannot be read (%r); compiling again", path, exc)
        return None
    if not isinstance(matcher, Matcher):
        log.warning("compiled rules: %s holds no matcher; compiling again", path)
        return None
    return matcher


def _write(path: Path, key: str, matcher: Matcher) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        payload = pickle.dumps(matcher, protocol=pickle.HIGHEST_PROTOCOL)
        checksum = hashlib.sha256(payload).hexdigest()
        with temporary.open("wb") as out:
            out.write(FORMAT + f"{key}\n{checksum}\n".encode() + payload)
        os.replace(temporary, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        log.warning("compiled rules: cannot write %s (%s); the next start compiles", path, exc)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
