"""OPML in and out: move a feed list between Dozor and other readers.

Pure functions.  ``read_opml`` accepts what feed readers export (nested outlines,
``xmlUrl``/``xmlurl``, folders as tags, ``category="a,b"``; an outline with an xmlUrl
is a feed whatever its scheme, so a caller that takes only http(s) can name what it
skips) and never raises on bad
input except ``OpmlError`` with a message for a person; ``write_opml`` keeps each
source's name (``text``/``title``) and tags (``category``).  Parsing uses the
standard library with entity expansion and DTDs refused (defusedxml-style), so an
OPML file cannot be an XML bomb.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")


class OpmlError(ValueError):
    pass


@dataclass(frozen=True)
class OpmlFeed:
    name: str  # a Dozor source name made from the outline's title
    title: str
    url: str
    tags: tuple[str, ...] = ()
    kind: str = "rss"  # Dozor's source kind: "telegram" for a t.me/s/<channel> page
    enabled: bool = True


def source_name(title: str, url: str) -> str:
    """A config-safe name: letters, digits, - _ . (Cyrillic titles fall back to the URL)."""
    base = _NAME.sub("-", title).strip("-.").lower()
    if len(base) < 3:
        host = re.sub(r"^https?://(www\.)?", "", url).split("/")[0]
        base = _NAME.sub("-", host).strip("-.").lower() or "feed"
    return base[:60]


_NO_DTD = "the OPML file declares a DTD or entities; refusing to expand them"


class _NoDoctype(ET.TreeBuilder):
    """Refuses a document with a DOCTYPE however it is encoded (UTF-16 too): the parser
    reports the declaration, before any entity in it is used."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise OpmlError(_NO_DTD)


def read_opml(data: bytes) -> list[OpmlFeed]:
    if b"<!DOCTYPE" in data[:2048] or b"<!ENTITY" in data:
        raise OpmlError(_NO_DTD)
    try:
        parser = ET.XMLParser(target=_NoDoctype())
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        raise OpmlError(f"not valid OPML: {exc}") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"not OPML: the root element is <{root.tag}>")
    body = next((child for child in root if child.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError("not OPML: no <body>")
    feeds: list[OpmlFeed] = []
    names: set[str] = set()

    def walk(node: ET.Element, folders: tuple[str, ...]) -> None:
        for outline in node:
            if outline.tag.lower() != "outline":
                continue
            attrs = {k.lower(): v for k, v in outline.attrib.items()}
            title = (attrs.get("title") or attrs.get("text") or "").strip()
            url = (attrs.get("xmlurl") or "").strip()
            if url:  # any scheme: the caller says why it cannot take a file: feed
                categories = tuple(
                    t.strip().strip("/") for t in attrs.get("category", "").split(",") if t.strip()
                )
                tags = tuple(dict.fromkeys(t.lower() for t in (*folders, *categories) if t))
                name = source_name(title, url)
                unique, n = name, 2
                while unique in names:
                    unique, n = f"{name}-{n}", n + 1
                names.add(unique)
                kind = attrs.get("dozorkind", "rss").strip() or "rss"
                enabled = attrs.get("dozorenabled", "true").strip().lower() != "false"
                feeds.append(OpmlFeed(unique, title or unique, url, tags, kind, enabled))
            else:
                walk(outline, (*folders, title) if title else folders)

    walk(body, ())
    return feeds


def write_opml(feeds: Iterable[OpmlFeed], title: str = "Dozor sources") -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{escape(title)}</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        category = f" category={quoteattr(','.join(feed.tags))}" if feed.tags else ""
        extra = f" dozorKind={quoteattr(feed.kind)}" if feed.kind != "rss" else ""
        extra += "" if feed.enabled else ' dozorEnabled="false"'
        lines.append(
            f'    <outline type="rss" text={quoteattr(feed.name)} title={quoteattr(feed.title)}'
            f" xmlUrl={quoteattr(feed.url)}{category}{extra}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
