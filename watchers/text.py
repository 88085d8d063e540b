"""HTML -> plain text for watchers: the form every ``Item.title`` and ``Item.text`` takes.

Feeds carry HTML (escaped or not) in titles, summaries and content; the matcher and
the renderers want plain text.  ``html_to_text`` drops tags and the contents of
``<script>``/``<style>``, decodes entities, turns block elements (``<br>``, ``<p>``,
``<div>``, ``<li>``, headings, table rows...) into line breaks and collapses
whitespace: no run of spaces, at most one blank line, nothing at either end.
Source newlines are whitespace, as in a browser (except inside ``<pre>``).

``collapse_whitespace`` does the same tidying for text that is already plain, and
``first_line`` makes a title of a post that has none: its first non-empty line, cut
at a word near ``TITLE_WIDTH`` characters.  All are pure and never raise.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

__all__ = ["TITLE_WIDTH", "collapse_whitespace", "first_line", "html_to_text"]

TITLE_WIDTH = 110  # the most characters of a title made by ``first_line`` (before " …")

# A line break before and after these.
_BREAK_TAGS = frozenset({"div", "li", "tr", "dt", "dd", "figcaption", "caption", "address", "hr"})
# A blank line before and after these.
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "dl",
        "table", "section", "article", "header", "footer", "aside", "figure", "nav",
        "form", "fieldset", "details", "summary", "main",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})

# Control characters other than tab and newline (and the odd ones Unicode calls
# line/paragraph separators) carry no text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>?")
# The markup feeds mostly carry, read in one pass: a tag with well-formed attributes
# (name, "/" for an end tag, "/" for a self-closing one) or a comment.  Anything else
# at a "<" (a stray "<", a declaration, script or style) goes to html.parser.
_MARKUP = re.compile(
    r"""<(?:(/?)([a-zA-Z][a-zA-Z0-9]*)"""
    r"""(?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"<]*"|'[^'<]*'|[^\s"'<>=`]+))?)*\s*(/?)>"""
    r"""|!--.*?--\s*>)""",
    re.DOTALL,
)
_RAW_TEXT = frozenset({"script", "style"})  # html.parser reads their content as text


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0  # depth inside <script>/<style>/...
        self._pre = 0  # depth inside <pre>
        self._breaks = 0  # line breaks owed before the next text (0, 1 or 2)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "pre":
            self._pre += 1
        elif tag in ("td", "th"):
            self.parts.append(" ")  # cells of a row stay apart
        self._break(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)  # <br/>, <hr/>, the odd <p/>: a break, no nesting

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag != "br":  # </br> is not a second break
            self._break(tag)

    def _break(self, tag: str) -> None:
        if tag == "br":
            self._breaks = min(2, self._breaks + 1)
        elif tag in _BREAK_TAGS:
            self._breaks = max(1, self._breaks)
        elif tag in _PARAGRAPH_TAGS:
            self._breaks = 2

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = data.replace("\r", " ").replace("\n", " ")
        if self._breaks and data.strip():
            self.parts.append("\n" * self._breaks)
            self._breaks = 0
        self.parts.append(data)


def collapse_whitespace(text: str) -> str:
    """Tidy plain text: no control characters, single spaces, at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _CONTROL.sub("", text)
    # str.split: each line's runs of spaces at C speed (a regex crawls over Cyrillic)
    text = "\n".join([" ".join(line.split()) for line in text.split("\n")])
    if "\n\n\n" in text:
        text = _NEWLINES.sub("\n\n", text)
    return text.strip()


def html_to_text(html_text: str) -> str:
    """Plain text of an HTML fragment or document (see the module docstring)."""
    if not isinstance(html_text, str) or not html_text:
        return ""
    if "<" not in html_text and "&" not in html_text:
        return collapse_whitespace(html_text.replace("\n", " ").replace("\r", " "))
    text = _simple_markup_text(html_text)
    if text is None:
        parser = _TextExtractor()
        try:
            parser.feed(html_text)
            parser.close()
            text = "".join(parser.parts)
        except Exception:  # html.parser is lenient, but not on every odd markup
            text = html.unescape(_TAG.sub(" ", html_text))
    return collapse_whitespace(text)


def _simple_markup_text(html_text: str) -> str | None:
    """What ``_TextExtractor`` makes of ``html_text`` when every "<" in it starts a
    well-formed tag or comment (``_MARKUP``): the same events, found by one regex instead
    of html.parser's scan (a third of the cost); None for any other markup."""
    extractor = _TextExtractor()
    data, start_tag, end_tag, empty_tag = (
        extractor.handle_data,
        extractor.handle_starttag,
        extractor.handle_endtag,
        extractor.handle_startendtag,
    )
    unescape = html.unescape
    at = 0
    for m in _MARKUP.finditer(html_text):
        start = m.start()
        if at < start:
            chunk = html_text[at:start]
            if "<" in chunk:
                return None
            data(unescape(chunk) if "&" in chunk else chunk)
        at = m.end()
        name = m.group(2)
        if name is None:  # a comment
            continue
        name = name.lower()
        if m.group(1):
            end_tag(name)
        elif m.group(3):
            empty_tag(name, [])
        elif name in _RAW_TEXT:
            return None
        else:
            start_tag(name, [])
    if at < len(html_text):
        chunk = html_text[at:]
        if "<" in chunk:
            return None
        data(unescape(chunk) if "&" in chunk else chunk)
    return "".join(extractor.parts)


def first_line(text: str, width: int = TITLE_WIDTH) -> str:
    """The first non-empty line of ``text``.  One longer than ``width`` is cut at its
    last space before ``width`` (at ``width`` if that space comes in the first half)
    and ends in " …"."""
    line = next((ln.strip() for ln in text.split("\n") if ln.strip()), "")
    if len(line) <= width:
        return line
    cut = line.rfind(" ", 0, width)
    return line[: cut if cut > width // 2 else width].rstrip(",;:—- ") + " …"
