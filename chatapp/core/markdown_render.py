"""Model output (untrusted Markdown) → safe HTML for a QTextBrowser.

Model text is hostile input: it may contain raw HTML, images that name local files, links with any
scheme, megabyte-long lines and input that drives Python-Markdown into quadratic time.  Safety
comes from four layers, each enough on its own for what it guards:

1. raw HTML is never interpreted: the Markdown instance has its HTML block and inline processors
   removed, so ``I <smirk> at you`` is shown as written;
2. a tree processor turns every image into text and every link that is not plain http(s) into the
   text it was written as;
3. the result passes through nh3 with a short allowlist of tags, attributes, CSS properties and
   the http/https URL schemes; our own ``chatapp-copy:N`` links are added after it;
4. work is bounded: a block whose estimated Markdown cost is too high is shown as escaped plain
   text, and long unbroken runs get zero-width spaces so that Qt's line breaking stays linear.

Text is split into top-level blocks (see :func:`scan_blocks`) that are rendered independently,
which is what lets :mod:`chatapp.core.markdown_stream` render a streaming reply incrementally.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
import xml.etree.ElementTree as etree
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.tables import TableProcessor
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import ETX, STX, AtomicString
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import Text
from pygments.util import ClassNotFound

from chatapp.core.tex_text import MAX_CHARS as _MAX_TEX_CHARS
from chatapp.core.tex_text import tex_to_text

COPY_SCHEME = "chatapp-copy"
#: The text of a code block's copy link, as rendered; the view shows it in the user's language.
COPY_LABEL = "Copy"
ZWSP = "\u200b"

# Runs of non-space characters longer than this get a break opportunity every _BREAK_EVERY chars.
_LONG_RUN = 200
_BREAK_EVERY = 80
# Above these sizes a block is not given to Python-Markdown or Pygments (see markdown_cost_us).
_MAX_MARKDOWN_CHARS = 64_000
_MAX_BLOCK_COST_US = 40_000.0
_MAX_HIGHLIGHT_CHARS = 20_000
_SPAN_CHARS = 2_000
# Up to _SPAN_CHARS characters, never cutting a character reference in two.
_SPAN_PIECE = re.compile(r"(?:&#\d\d;|[^&]){1,2000}")
# Estimated Markdown work for a whole message rendered at once (history); later blocks are plain.
DEFAULT_BUDGET_US = 50_000.0

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "span", "div", "table", "thead", "tbody", "tr",
    "th", "td", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    # A formula shown as Unicode keeps its TeX source in the title (visible on hover).
    "span": {"style", "title"},
    "div": {"style"},
    # Beyond the bare list: a list continued after a code block keeps its numbering, and table
    # columns keep their alignment (style is limited to the properties below).
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
_ALLOWED_CSS = {
    "color", "background-color", "font-weight", "font-style", "font-family", "text-decoration",
    "white-space", "text-align",
}
_BAD_STYLE = re.compile(r"url|\\|expression|@|image|behavior|binding", re.IGNORECASE)
_HTTP_URL = re.compile(r"https?://[^/?#@\s]+(?:[/?#][^\s]*)?", re.IGNORECASE)

_CODE_STYLE = {False: "default", True: "monokai"}
# TeX that is shown as its source; and TeX converted to Unicode text (see tex_text).
_MATH_STYLE = "font-family: monospace; font-style: italic"
_MATH_TEXT_STYLE = "font-family: serif; font-style: italic"
_DISPLAY_STYLE = "text-align: center"
# Converting TeX costs about 30 µs a formula and 10 µs a character (measured: 170 µs for
# "x_{123}^{123}", 1.1 ms for 200 characters).  A block converts at most this many characters,
# each formula counting _MATH_FORMULA_CHARS more (the rest of its math is shown as source), and
# the cost model counts them at _MATH_US_PER_CHAR.
_MATH_BUDGET_CHARS = 2_500
_MATH_FORMULA_CHARS = 4
_MATH_US_PER_CHAR = 12.0
# Marks a display formula ($$…$$, \[…\]) until _DisplayMath has placed it; never in the output.
_DISPLAY_MARK = "data-chatapp-display"
_LABEL_STYLE = "color: #888888"


@dataclass(frozen=True)
class Rendered:
    """Safe HTML for one message, and the text of each code block for its Copy link.

    Attributes:
        html: sanitized HTML; the only links are http(s) and ``chatapp-copy:N``.
        code_blocks: the exact text of code block N (no zero-width spaces, controls unchanged).
    """

    html: str
    code_blocks: list[str] = field(default_factory=list)


class Block(NamedTuple):
    """One top-level piece of a message.

    Attributes:
        kind: ``"text"`` (Markdown) or ``"code"`` (a fenced code block).
        source: the Markdown, or the code without its fence lines.
        info: a code block's info string (its language, usually).
        closed: whether a code block's closing fence has arrived.
    """

    kind: Literal["text", "code"]
    source: str
    info: str = ""
    closed: bool = True


# --- splitting into blocks -------------------------------------------------------------------

# Only two things decide block boundaries: fence lines and runs of blank lines.  Both patterns
# start with a literal (or are anchored), so a megabyte without newlines is scanned at C speed.
_FENCE_LINE = re.compile(r"(?P<indent> {0,7})(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)")
_BREAK = re.compile(r"\n(?:(?P<blank>(?:[ \t]*\n)+)|(?= {0,7}(?:```|~~~)))")


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF (a lone CR at the very end is the caller's to hold back)."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _events(text: str) -> Iterator[re.Match[str]]:
    """Fence-like lines (_FENCE_LINE) and blank-line runs (_BREAK), in order."""
    fence = _FENCE_LINE.match(text)
    if fence:
        yield fence
    for m in _BREAK.finditer(text):
        if m.group("blank") is not None:
            yield m
        fence = _FENCE_LINE.match(text, m.end())
        if fence:
            yield fence


def scan_blocks(text: str, *, final: bool) -> tuple[list[Block], int]:
    """Split ``text`` into top-level blocks; return the decided ones and where the rest starts.

    A text block ends at a blank line followed by a line that does not start with a space or a
    tab (an indented line may continue a list item or an indented code block), or where a fence
    opens.  A fenced block ends with its closing fence line.  With ``final=False`` a block is only
    decided once the text after it proves it complete, so a decided block never changes as more
    text arrives; with ``final=True`` the end of the text ends everything.
    """
    blocks: list[Block] = []
    n = len(text)
    start = 0  # start of the current text block
    fence: re.Match[str] | None = None
    for m in _events(text):
        if m.re is _BREAK:
            if fence is not None:
                continue
            if m.end() >= n:
                break
            if text[m.end()] in " \t":
                continue  # an indented line continues the block
            _add_text(blocks, text[start : m.start()])
            start = m.end()
            continue
        complete = m.end() < n or final
        if fence is not None:
            if _closes(fence, m):
                if not complete:
                    return blocks, fence.start()
                blocks.append(_code_block(text, fence, m.start(), closed=True))
                fence = None
                start = min(m.end() + 1, n)
            continue
        if m.group("fence")[0] == "`" and "`" in m.group("info"):
            continue  # ```a` is inline code, not a fence
        if not complete:
            return blocks, start
        _add_text(blocks, text[start : m.start()])
        fence = m
    if fence is not None:
        if not final:
            return blocks, fence.start()
        blocks.append(_code_block(text, fence, n, closed=False))
        return blocks, n
    if not final:
        return blocks, start
    _add_text(blocks, text[start:])
    return blocks, n


def _add_text(blocks: list[Block], source: str) -> None:
    source = source.rstrip().lstrip("\n")
    if source:
        blocks.append(Block("text", source))


def _closes(fence: re.Match[str], m: re.Match[str]) -> bool:
    opening, closing = fence.group("fence"), m.group("fence")
    return (
        closing[0] == opening[0] and len(closing) >= len(opening) and not m.group("info").strip()
    )


def _code_block(text: str, fence: re.Match[str], end: int, *, closed: bool) -> Block:
    body = text[fence.end() + 1 : end]
    if body.endswith("\n"):
        body = body[:-1]
    indent = len(fence.group("indent"))
    if indent:
        # As CommonMark: content lines lose up to the fence's own indentation.
        strip = re.compile(rf"^ {{1,{indent}}}", re.MULTILINE)
        body = strip.sub("", body)
    return Block("code", body, fence.group("info").strip(), closed)


# --- text transforms shared by every path ----------------------------------------------------


def _visible_controls() -> dict[int, str]:
    """Controls that would hide or reorder text are shown as visible symbols instead."""
    table: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (9, 10)}
    table[0x7F] = "\u2421"
    for c in range(0x80, 0xA0):
        table[c] = f"⟨U+{c:04X}⟩"
    # Bidi embeddings, overrides and isolates (Trojan Source): shown, never obeyed.
    for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        table[c] = f"⟨U+{c:04X}⟩"
    table[0x2028] = "\n"
    table[0x2029] = "\n"
    return table


_CONTROLS = _visible_controls()
_SHOWN_CONTROL = re.compile("[\u2400-\u2421]|⟨U\\+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_RUN = re.compile(rf"\S{{{_LONG_RUN + 1},}}")


def display_text(text: str) -> str:
    """Model text made safe to show: controls and bidi overrides visible, no lone surrogates."""
    text = text.translate(_CONTROLS)
    # Lone surrogates (from a broken decoder) cannot cross into nh3 or Qt.
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def break_long_runs(text: str) -> str:
    """Insert U+200B every 80 characters of any run of more than 200 non-space characters.

    Qt's line layout is superlinear in the length of an unbreakable run (1 MB took 91 s).
    """

    def chunk(m: re.Match[str]) -> str:
        run = m.group(0)
        return ZWSP.join(run[i : i + _BREAK_EVERY] for i in range(0, len(run), _BREAK_EVERY))

    return _RUN.sub(chunk, text)


# --- links, images and math inside Python-Markdown -------------------------------------------


def safe_http_url(href: str) -> str | None:
    """The URL if it is a plain absolute http(s) URL, else None.

    Rejected: any other scheme, relative and protocol-relative URLs, user info (``a.com@evil``),
    whitespace, controls and invisible formatting characters (which could disguise the address).
    """
    url = html.unescape(href).replace(ZWSP, "").strip()
    if len(url) > 8192 or not _HTTP_URL.fullmatch(url):
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in url):
        return None
    if _SHOWN_CONTROL.search(url):
        return None  # it had a control or bidi character, already made visible by display_text
    scheme, rest = url.split(":", 1)
    return scheme.lower() + ":" + rest


class _LinkGuard(Treeprocessor):  # type: ignore[misc]
    """Images become text; links that are not http(s) become the text they were written as."""

    def run(self, root: etree.Element) -> None:
        for el in root.iter():
            if el.tag == "img":
                _image_to_text(el)
            elif el.tag == "a":
                _vet_link(el)


def _image_to_text(el: etree.Element) -> None:
    alt, src, title = el.get("alt", ""), el.get("src", ""), el.get("title")
    el.tag = "span"
    el.attrib.clear()
    written = src + (f' "{title}"' if title else "")
    el.text = f"[image: {alt}]" + (f" ({written})" if written else "")


def _vet_link(el: etree.Element) -> None:
    href, title = el.get("href", ""), el.get("title")
    url = safe_http_url(href)
    if url is not None:
        el.attrib.clear()
        el.set("href", url)
        # The exact address is visible on hover (and again in the confirmation dialog).
        el.set("title", f"{title}\n{url}" if title else url)
        return
    el.tag = "span"
    el.attrib.clear()
    if isinstance(el.text, AtomicString) and el.text == href:
        return  # an autolink (<scheme:...>): its text already is the address
    suffix = f"]({href}" + (f' "{title}"' if title else "") + ")"
    el.text = "[" + (el.text or "")
    if len(el):
        last = el[-1]
        last.tail = (last.tail or "") + suffix
    else:
        el.text += suffix


class _MathBudget:
    """How many characters of TeX the current block may still convert (reset per block)."""

    def __init__(self) -> None:
        """The whole budget."""
        self.left = _MATH_BUDGET_CHARS

    def reset(self) -> None:
        """A new block: the whole budget again."""
        self.left = _MATH_BUDGET_CHARS

    def convert(self, tex: str) -> str | None:
        """Readable text for ``tex``, or None: over budget, holding a placeholder, unconvertible."""
        cost = len(tex) + _MATH_FORMULA_CHARS
        if cost > self.left or STX in tex or ETX in tex:
            # A placeholder (an inline code span inside the math) must reach Markdown intact.
            return None
        self.left -= cost
        return tex_to_text(tex)


class _MathProcessor(InlineProcessor):  # type: ignore[misc]
    """TeX between math delimiters, never parsed as Markdown: shown as Unicode text.

    The converted text (:func:`chatapp.core.tex_text.tex_to_text`) carries the exact TeX in its
    title; TeX that cannot be converted is shown as its source, in monospace.  A display
    formula is marked for :class:`_DisplayMath`.
    """

    def __init__(
        self, pattern: str, md: markdown.Markdown, *, display: bool, budget: _MathBudget
    ) -> None:
        """``display``: the pattern is for display math; ``budget``: shared by the patterns."""
        super().__init__(pattern, md)
        self._display = display
        self._budget = budget

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element, int, int]:
        """A span with the formula as text (its TeX in the title), or with its TeX source."""
        source = m.group(1)
        el = etree.Element("span")
        tex = source.replace(ZWSP, "")  # break_long_runs may have cut a long formula
        text = self._budget.convert(tex)
        if text is None:
            el.set("style", _MATH_STYLE)
            el.text = AtomicString(source)
        else:
            el.set("style", _MATH_TEXT_STYLE)
            el.set("title", tex)
            _set_lines(el, break_long_runs(text))
        if self._display:
            el.set(_DISPLAY_MARK, "1")
        return el, m.start(0), m.end(0)


def _set_lines(el: etree.Element, text: str) -> None:
    """``text`` as the content of ``el``, its lines separated by ``<br>``."""
    first, *rest = text.split("\n")
    el.text = AtomicString(first)
    for line in rest:
        br = etree.SubElement(el, "br")
        br.tail = AtomicString(line)


class _DisplayMath(Treeprocessor):  # type: ignore[misc]
    """A display formula alone on its line of a paragraph becomes a centred paragraph.

    The paragraph is split around it (its other lines stay paragraphs); a display formula that
    shares its line with text stays inline.
    """

    def run(self, root: etree.Element) -> None:
        """Split paragraphs around display formulas; drop the display marks."""
        for parent in list(root.iter()):
            for index in reversed(range(len(parent))):
                child = parent[index]
                if child.tag == "p" and any(c.get(_DISPLAY_MARK) for c in child):
                    pieces = _split_display(child)
                    if pieces is not None:
                        parent[index : index + 1] = pieces
        for el in root.iter("span"):
            el.attrib.pop(_DISPLAY_MARK, None)


def _split_display(p: etree.Element) -> list[etree.Element] | None:
    """``p`` as paragraphs and centred formulas, or None when no formula has a line to itself."""
    lines: list[list[etree.Element | str]] = [[]]
    if p.text:
        lines[-1].append(p.text)
    for child in p:
        if child.tag == "br":
            lines.append([])
        else:
            lines[-1].append(child)
        if child.tail:
            lines[-1].append(child.tail)

    def alone(line: list[etree.Element | str]) -> etree.Element | None:
        """The display formula that is all of this line (blank text aside), if there is one."""
        items = [x for x in line if not isinstance(x, str) or x.strip()]
        only = items[0] if len(items) == 1 else None
        return only if isinstance(only, etree.Element) and only.get(_DISPLAY_MARK) else None

    # (An element without children is false: compare with None.)
    if all(alone(line) is None for line in lines):
        return None
    pieces: list[etree.Element] = []
    paragraph: list[list[etree.Element | str]] = []
    for line in lines:
        formula = alone(line)
        if formula is None:
            paragraph.append(line)
            continue
        if paragraph:
            pieces.append(_paragraph(paragraph))
            paragraph = []
        # The paragraph inside keeps a paragraph's margins; Qt centres it as its div says.
        div = etree.Element("div", {"style": _DISPLAY_STYLE})
        formula.tail = None
        etree.SubElement(div, "p").append(formula)
        pieces.append(div)
    if paragraph and any(x for line in paragraph for x in line):
        pieces.append(_paragraph(paragraph))
    return pieces


def _paragraph(lines: list[list[etree.Element | str]]) -> etree.Element:
    """A ``<p>`` of these lines, joined by ``<br>``."""
    p = etree.Element("p")
    last: etree.Element | None = None
    for number, line in enumerate(lines):
        if number:
            last = etree.SubElement(p, "br")
            last.tail = None
        for item in line:
            if isinstance(item, str):
                if last is None:
                    p.text = (p.text or "") + item
                else:
                    last.tail = (last.tail or "") + item
            else:
                item.tail = None
                p.append(item)
                last = item
    return p


# Raw HTML, e-mail autolinks (entity-obfuscated) and reference links: all shown as text.
_UNSAFE_INLINE = (
    "html", "automail", "reference", "short_reference", "image_reference", "short_image_ref",
)
# (name, pattern, priority, display)
_MATH_PATTERNS = (
    ("math_display", r"(?<!\\)\$\$(.{1,5000}?)\$\$", 187, True),
    ("math_bracket", r"\\\[(.{1,5000}?)\\\]", 186, True),
    ("math_paren", r"\\\((.{1,2000}?)\\\)", 185, False),
    # $x$ but not "$5 and $10": no space inside the dollars, no digit after the closing one.
    ("math_inline", r"(?<![\\$\w])\$(?![\s$])([^$\n]{0,1000}?[^\s$\\])\$(?![$\d])", 184, False),
)


class _KeepAllCells(TableProcessor):  # type: ignore[misc]
    """Python-Markdown's tables drop the cells of a row beyond the header's count; keep them."""

    def _build_row(self, row: str, parent: etree.Element, align: Sequence[str | None]) -> None:
        extra = len(self._split_row(row)) - len(align)
        super()._build_row(row, parent, [*align, *[None] * extra] if extra > 0 else align)


class _SafeMarkdown(Extension):  # type: ignore[misc]
    """Python-Markdown without raw HTML or reference definitions, with math and the link guard."""

    def __init__(self) -> None:
        """The extension, with the math budget its patterns share."""
        super().__init__()
        self._math_budget = _MathBudget()

    def reset(self) -> None:
        """Called by ``Markdown.reset()`` before each block: a fresh math budget."""
        self._math_budget.reset()

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.registerExtension(self)
        md.preprocessors.deregister("html_block")
        # Reference definitions would hide their lines and tie blocks together; shown as text.
        md.parser.blockprocessors.deregister("reference")
        md.parser.blockprocessors.register(
            _KeepAllCells(md.parser, {"use_align_attribute": False}), "table", 75
        )
        for name in _UNSAFE_INLINE:
            md.inlinePatterns.deregister(name)
        for name, pattern, priority, display in _MATH_PATTERNS:
            processor = _MathProcessor(pattern, md, display=display, budget=self._math_budget)
            md.inlinePatterns.register(processor, name, priority)
        # After the inline processor (20), before the final unescape (0).
        md.treeprocessors.register(_DisplayMath(md), "chatapp_display_math", 16)
        md.treeprocessors.register(_LinkGuard(md), "chatapp_link_guard", 15)


_local = threading.local()


def _markdown() -> markdown.Markdown:
    md: markdown.Markdown | None = getattr(_local, "md", None)
    if md is None:
        md = markdown.Markdown(
            extensions=["tables", "sane_lists", "nl2br", _SafeMarkdown()],
            extension_configs={},
            output_format="html",
            tab_length=4,
            lazy_ol=False,
        )
        _local.md = md
    return md


# --- bounding the work -----------------------------------------------------------------------

_DEEP = re.compile(r"\n(?:[ \t]*>){9}|\n[ \t]{40}")
_SPECIALS = "*_`[]!<>&\\$~#"
_BRACKET = re.compile(r"[\[\]()]")
# Text that Python-Markdown would only wrap in <p> and <br>: no inline or block syntax at all.
_MARKUP_CHAR = re.compile(r"[*_`\[\]!<>&\\$|~#=+\-]")
_MARKUP_LINE = re.compile(r"\n(?:[ \t]|\d{1,9}[.)])")


def _has_markup(source: str) -> bool:
    # The "\n" prefix lets one pattern (with a literal first character) see the first line too.
    return bool(_MARKUP_CHAR.search(source) or _MARKUP_LINE.search("\n" + source))


def markdown_cost_us(source: str) -> float:
    """Estimated Python-Markdown time for ``source`` in microseconds (infinite when too big).

    Measured on this machine: ~60 µs per call, 0.2 µs per character, ~5 µs per inline match
    plus a rebuild of the paragraph string after each one (matches × length), ~25 µs per line
    that starts an element, a walk to the end of the paragraph for every unclosed ``[`` or
    ``](`` (quadratic), and one recursion per nesting level.
    """
    n = len(source)
    if n > _MAX_MARKDOWN_CHARS or _DEEP.search("\n" + source):
        return float("inf")
    specials = sum(source.count(c) for c in _SPECIALS)
    cost = 60.0 + 0.2 * n + 5.0 * specials + 0.001 * specials * n
    cost += 25.0 * source.count("\n") + 2.0 * source.count("|")
    brackets = source.count("[") + source.count("(")
    if brackets > 4000:
        return float("inf")
    if brackets:
        cost += 0.12 * _bracket_scan(source)
    if "$" in source or "\\" in source:
        cost += _MATH_US_PER_CHAR * _math_chars(source)
    return cost


_MATH_OPENER = re.compile(r"\$\$?|\\[(\[]")
_MATH_CLOSER = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}


def _math_chars(source: str) -> int:
    """About how many characters of TeX a block converts (at most the per-block budget).

    Linear: once an opener has no closer after it, later openers of its kind are skipped.
    """
    total = 0
    pos = 0
    unclosed: set[str] = set()
    while total < _MATH_BUDGET_CHARS:
        m = _MATH_OPENER.search(source, pos)
        if m is None:
            break
        opener = m.group(0)
        pos = m.end()
        if opener in unclosed:
            continue
        closer = _MATH_CLOSER[opener]
        end = source.find(closer, pos)
        if end < 0:
            unclosed.add(opener)
            continue
        if end - pos <= _MAX_TEX_CHARS:
            total += end - pos + _MATH_FORMULA_CHARS
        pos = end + len(closer)
    return min(total, _MATH_BUDGET_CHARS)


def _bracket_scan(source: str) -> int:
    """Characters Python-Markdown's link parser walks: each [ to its ], each ]( to its )."""
    n = len(source)
    squares: list[int] = []
    parens: list[int] = []
    link_opens: set[int] = set()
    walked = 0
    for m in _BRACKET.finditer(source):
        ch, pos = m.group(0), m.start()
        if ch == "[":
            squares.append(pos)
        elif ch == "]" and squares:
            walked += pos - squares.pop()
            if pos + 1 < n and source[pos + 1] == "(":
                link_opens.add(pos + 1)
        elif ch == "(":
            parens.append(pos)
        elif ch == ")" and parens:
            opened = parens.pop()
            if opened in link_opens:
                link_opens.discard(opened)
                walked += pos - opened
    walked += sum(n - p for p in squares) + sum(n - p for p in link_opens)
    return walked


# --- rendering one block ---------------------------------------------------------------------

_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes=_ALLOWED_ATTRIBUTES,
    attribute_filter=lambda tag, attr, value: _filter_attribute(tag, attr, value),
    strip_comments=True,
    link_rel=None,
    url_schemes={"http", "https"},
    filter_style_properties=_ALLOWED_CSS,
    url_relative="deny",
)


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    if attr == "style" and _BAD_STYLE.search(value):
        return None
    if attr == "href" and safe_http_url(value) is None:
        return None
    return value


def sanitize(fragment: str) -> str:
    """Pass HTML through nh3 with this module's allowlist (the last word on what survives)."""
    return _CLEANER.clean(fragment)


def render_block(
    block: Block, *, dark: bool = False, code_index: int = 0, plain: bool = False
) -> str:
    """Sanitized HTML for one block; a code block gets link ``chatapp-copy:<code_index>``.

    ``plain=True`` shows a text block as escaped text without Markdown.
    """
    if block.kind == "code":
        return _render_code(block, dark=dark, index=code_index)
    return sanitize(_text_html(block.source, plain=plain))


def _text_html(source: str, *, plain: bool, markup: bool | None = None) -> str:
    """Unsanitized HTML for a text block: Markdown when affordable, else escaped plain text."""
    if markup is None:
        markup = _has_markup(source)
    if plain or not markup:
        # Markup-free text renders as Markdown would render it, without Markdown's overhead.
        return _plain_html(source)
    if markdown_cost_us(source) > _MAX_BLOCK_COST_US:
        return _plain_html(source)
    md = _markdown()
    md.reset()
    shown = break_long_runs(display_text(source))
    try:
        out = str(md.convert(shown))
    except RecursionError:
        return _plain_html(source)
    # Python-Markdown can drop text (3.11.3 renders "*_**aa*ba" without its "b"): then the
    # block is shown as plain text, never with a hole in it.
    return out if keeps_text(shown, out) else _plain_html(source)


_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r'title="([^"]*)"')
_LIST_NUMBER = re.compile(r"\n[ \t>]*\d{1,9}[.)](?=[ \t\n]|$)")


def keeps_text(source: str, out: str) -> bool:
    """Whether every letter and digit of Markdown ``source`` is still visible in HTML ``out``.

    List numbers and entity names are markup; a link's address counts as visible in its title
    (case aside: its scheme is shown in lower case).
    """
    source = html.unescape(_LIST_NUMBER.sub(" ", "\n" + source)).lower()
    wanted = Counter(filter(str.isalnum, source))
    titles = " ".join(_TITLE.findall(out))
    got = Counter(filter(str.isalnum, html.unescape(_TAG.sub("", out) + " " + titles).lower()))
    return not wanted - got


def _plain_html(source: str) -> str:
    text = display_text(source)
    if len(text) > _LONG_RUN:
        text = break_long_runs(text)
    return "<p>" + escape_text(text).replace("\n", "<br>\n") + "</p>"


def escape_text(text: str) -> str:
    """HTML-escape text, in spans of at most 2,000 characters.

    nh3 is superlinear in the length of one text node full of ``&`` (100k: 100 ms, as 50
    spans: 40 ms), so long text is cut into spans, which Qt shows as one run.
    """
    # Numeric references: nh3 parses them twice as fast as named ones; ">" needs no escape.
    text = text.replace("&", "&#38;").replace("<", "&#60;")
    if len(text) <= _SPAN_CHARS:
        return text
    pieces = _SPAN_PIECE.findall(text)
    return "".join(f"<span>{piece}</span>" for piece in pieces)


def _render_code(block: Block, *, dark: bool, index: int) -> str:
    shown = display_text(block.source)
    style = get_style_by_name(_CODE_STYLE[dark])
    body = _highlight(shown, block.info, dark) if _highlightable(shown) else None
    if body is None:
        body = escape_text(break_long_runs(shown))
    text_color = style.style_for_token(Text)["color"]
    colors = f"background-color: {style.background_color}" + (
        f"; color: #{text_color}" if text_color else ""
    )
    label = escape_text(break_long_runs(display_text(block.info)) or "code")
    unsafe = (
        f'<p><span style="{_LABEL_STYLE}">{label}</span></p>'
        f'<div style="{colors}; font-family: monospace; white-space: pre-wrap">{body}</div>'
    )
    safe = sanitize(unsafe)
    # Our own link, added after nh3 (which allows http(s) only) right after the label.
    copy = f' <a href="{COPY_SCHEME}:{index}">{COPY_LABEL}</a>'
    head, sep, rest = safe.partition("</span>")
    return head + sep + copy + rest if sep else safe


def _highlightable(code: str) -> bool:
    # Pygments is skipped for huge blocks (time) and for long runs: their text must stay in one
    # piece so that break_long_runs can give Qt break opportunities.
    return len(code) <= _MAX_HIGHLIGHT_CHARS and not _RUN.search(code)


_FORMATTERS = {
    dark: HtmlFormatter(noclasses=True, nowrap=True, style=name)
    for dark, name in _CODE_STYLE.items()
}


def _highlight(code: str, info: str, dark: bool) -> str | None:
    name = info.split(" ")[0].lower()
    if not re.fullmatch(r"[\w+#.-]{1,32}", name):
        return None
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None
    # Lexers end the output with a newline that would show as an empty last line.
    return str(highlight(code, lexer, _FORMATTERS[dark])).removesuffix("\n")


# --- whole messages --------------------------------------------------------------------------


def render_blocks(
    blocks: Iterable[Block],
    *,
    dark: bool = False,
    first_code_index: int = 0,
    budget_us: float | None = None,
) -> Rendered:
    """Render blocks in order; after ``budget_us`` of estimated Markdown work, text is plain.

    The result equals joining :func:`render_block` of each block; consecutive text blocks are
    sanitized in one nh3 call only because that is cheaper.
    """
    parts: list[str] = []
    pending: list[str] = []
    code: list[str] = []
    spent = 0.0
    for block in blocks:
        if block.kind == "code":
            if pending:
                parts.append(sanitize("".join(pending)))
                pending = []
            parts.append(_render_code(block, dark=dark, index=first_code_index + len(code)))
            code.append(block.source)
            continue
        plain = False
        markup = _has_markup(block.source)
        if budget_us is not None and markup:
            cost = markdown_cost_us(block.source)
            plain = spent + cost > budget_us
            spent += 0.0 if plain else cost
        pending.append(_text_html(block.source, plain=plain, markup=markup))
    if pending:
        parts.append(sanitize("".join(pending)))
    return Rendered("".join(parts), code)


def warm_up() -> None:
    """Build the Markdown instance and load the Python lexer now, not during the first reply.

    The first render otherwise costs ~15 ms more (extension set-up, imports).
    """
    _markdown()
    get_lexer_by_name("python")
    tex_to_text("x^2")  # builds the TeX symbol table


def render_markdown(
    text: str, *, dark: bool = False, budget_us: float | None = DEFAULT_BUDGET_US
) -> Rendered:
    """Render a whole message: safe HTML and the text of its code blocks.

    ``dark`` picks the dark Pygments style for code.  ``budget_us`` bounds the Markdown work for
    huge messages (None: no bound, as in streaming, where blocks arrive one at a time).
    """
    blocks, _ = scan_blocks(normalize_newlines(text), final=True)
    return render_blocks(blocks, dark=dark, budget_us=budget_us)
