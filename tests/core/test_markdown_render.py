"""Model output → safe HTML, and its incremental (streaming) form.  No Qt here."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.core.markdown_render import (
    Block,
    markdown_cost_us,
    render_markdown,
    safe_http_url,
    scan_blocks,
)
from chatapp.core.markdown_stream import TAIL_LIMIT, StreamingMarkdown

ZWSP = "\u200b"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, title)
        self.tags: set[str] = set()
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        found = dict(attrs)
        if tag == "a":
            self.links.append((found.get("href") or "", found.get("title") or ""))
        if found.get("style"):
            self.styles.append(found["style"] or "")
        if found.get("title"):
            self.text.append(f" {found['title']} ")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def page(fragment: str) -> _Page:
    """Parsed output: visible text (titles included: they show on hover), links, tags."""
    parser = _Page()
    parser.feed(fragment)
    parser.close()
    return parser


def shown(fragment: str) -> str:
    """The text a reader sees: tags stripped, entities decoded, U+200B removed."""
    return "".join(page(fragment).text).replace(ZWSP, "")


def links(text: str) -> list[tuple[str, str]]:
    """The (href, title) of every link in the rendering of ``text``."""
    return page(render_markdown(text).html).links


# --- raw HTML, images, links -----------------------------------------------------------------


def test_raw_html_is_shown_as_text() -> None:
    out = render_markdown("I <smirk> at you <b>bold?</b> <script>alert(1)</script>").html
    assert shown(out) == "I <smirk> at you <b>bold?</b> <script>alert(1)</script>"
    assert page(out).tags == {"p"}


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://evil.example/a.png", "https://evil.example/a.png",
     "data:image/png;base64,iVBORw0KGgo=", "smb://host/share/a.png", "/etc/passwd"],
)
def test_images_become_text(url: str) -> None:
    out = render_markdown(f'Look: ![a cat]({url} "Title")').html
    assert "<img" not in out and "src=" not in out
    assert shown(out) == f'Look: [image: a cat] ({url} "Title")'
    # Reference-style images are never resolved: reference definitions are plain text.
    ref = render_markdown(f"![a cat][r]\n\n[r]: {url}").html
    assert "<img" not in ref and url in shown(ref)


@pytest.mark.parametrize(
    "target",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "&#106;avascript:alert(1)",
     "javascript%3Aalert(1)", "vbscript:x", "file:///etc/passwd", "smb://host/share",
     "data:text/html,x", "ftp://host/x", "mailto:a@b.example", "chatapp-copy:0", "relative/x",
     "/abs", "//evil.example/x", "https://good.example@evil.example/",
     "https://a.example/\u202eexe.txt"],
)
def test_only_http_links_stay_links(target: str) -> None:
    out = render_markdown(f"[click]({target})").html
    assert page(out).links == []
    assert shown(out).startswith("[click](")


def test_http_links_show_their_exact_address() -> None:
    assert links("[docs](https://docs.python.org/3/ 'Python')") == [
        ("https://docs.python.org/3/", "Python\nhttps://docs.python.org/3/")
    ]
    assert links("<https://example.com/a?b=c&d=e>") == [
        ("https://example.com/a?b=c&d=e", "https://example.com/a?b=c&d=e")
    ]
    assert links("[x](HTTP://Example.com)") == [("http://Example.com", "http://Example.com")]
    assert links("<file:///etc/passwd> <ftp://x.example/>") == []
    # U+200B is removed from addresses (we insert it into long runs ourselves); what is opened
    # is exactly what the title and the confirmation show.
    assert links("[x](https://a.example\u200b.evil)") == [
        ("https://a.example.evil", "https://a.example.evil")
    ]


def test_safe_http_url() -> None:
    assert safe_http_url("https://a.example/x?y=1#z") == "https://a.example/x?y=1#z"
    assert safe_http_url("HTTPS://a.example") == "https://a.example"
    for bad in ("javascript:x", "https://", "https://a b", "//a.example", "https://u@a.example",
                "https://a.example/\u202e", "https://a.example/\x00"):
        assert safe_http_url(bad) is None, bad


def test_our_copy_links_cannot_be_forged() -> None:
    out = render_markdown('[copy](chatapp-copy:0) <a href="chatapp-copy:1">x</a>').html
    assert page(out).links == []


def test_styles_never_reference_urls() -> None:
    # Only our own styles exist, and nh3's filter drops properties outside the allowlist.
    out = render_markdown('<span style="background:url(x)">a</span>\n```css\na { b: url(x) }\n```')
    assert page(out.html).styles
    assert all("url" not in style for style in page(out.html).styles)


# --- long runs, controls, math, code ---------------------------------------------------------


def test_long_runs_get_break_opportunities() -> None:
    assert ZWSP not in render_markdown("a" * 200).html
    out = render_markdown("a" * 1000).html
    assert out.count(ZWSP) == 12 and shown(out) == "a" * 1000
    code = render_markdown("```\n" + "b" * 1000 + "\n```")
    assert code.html.count(ZWSP) == 12
    assert code.code_blocks == ["b" * 1000]  # Copy gets the original text


def test_long_http_url_still_links_exactly() -> None:
    url = "https://example.com/" + "p" * 400
    assert links(f"[long]({url})") == [(url, url)]


def test_controls_and_bidi_are_visible() -> None:
    out = shown(render_markdown("a\x00b\x1bc \u202eevil\u202c \u2066iso\u2069 \ud800").html)
    assert out == "a␀b␛c ⟨U+202E⟩evil⟨U+202C⟩ ⟨U+2066⟩iso⟨U+2069⟩ \ufffd"


def test_math_is_shown_as_text_with_its_source_in_the_title() -> None:
    out = render_markdown(r"Area $\pi r^2$, costs $5 and $10, $$\frac{a_1}{b_2}$$ \(x_i\)").html
    # shown() counts a title as visible: each formula's TeX, then its readable form.
    assert shown(out) == r"Area  \pi r^2 πr², costs $5 and $10,  \frac{a_1}{b_2} a₁/b₂  x_i xᵢ"
    assert out.count("font-family:serif;font-style:italic") == 3
    assert "<em>" not in out  # underscores inside math are not emphasis


def test_math_that_cannot_be_read_keeps_its_source() -> None:
    out = render_markdown(r"broken $\frac{a}{b$ here").html
    assert r"\frac{a}{b" in shown(out)


def test_code_blocks_are_highlighted_with_inline_styles() -> None:
    text = "```python\ndef f():\n    return '<x>'\n```"
    light, dark = render_markdown(text), render_markdown(text, dark=True)
    assert light.code_blocks == dark.code_blocks == ["def f():\n    return '<x>'"]
    assert "class=" not in light.html and "style=" in light.html
    assert light.html != dark.html
    assert '<a href="chatapp-copy:0">Copy</a>' in light.html
    assert shown(light.html) == "python Copydef f():\n    return '<x>'"
    assert shown(render_markdown("```nosuchlang\n<x>\n```").html) == "nosuchlang Copy<x>"


def test_copy_links_are_numbered_in_order() -> None:
    out = render_markdown("```\na\n```\n\ntext\n\n~~~\nb\n~~~\n\n```\nc")
    assert out.code_blocks == ["a", "b", "c"]
    assert re.findall(r'href="(chatapp-copy:\d+)"', out.html) == [
        "chatapp-copy:0", "chatapp-copy:1", "chatapp-copy:2"
    ]


def test_tables_lists_and_quotes() -> None:
    out = render_markdown("| a | b |\n|---|--:|\n| 1 | 2 | 3 |\n\n1. one\n2. two\n\n> quote")
    tags = page(out.html).tags
    assert {"table", "th", "td", "ol", "li", "blockquote"} <= tags
    assert "3" in shown(out.html)  # a cell beyond the header's count is kept
    # A list interrupted by a code block keeps counting.
    assert '<ol start="2">' in render_markdown("1. a\n```\nx\n```\n2. b").html


def test_pathological_markdown_is_bounded() -> None:
    assert markdown_cost_us("[" * 5000) == float("inf")
    assert markdown_cost_us(">" * 20 + " deep") == float("inf")
    assert markdown_cost_us("Just a paragraph with **bold**.") < 1000


# --- no text is ever lost --------------------------------------------------------------------

_WORDS = st.from_regex(r"[a-z]{2,8}", fullmatch=True)
_MARKUP = st.sampled_from(
    [" ", " ", "\n", "\n\n", "*", "**", "_", "__", "`", "```", "```python\n", "~~~", "[", "]",
     "](", ")", "![", "<", ">", "</", "#", "# ", "- ", "* ", "1. ", "> ", "|", "---", "===",
     "$", "$$", "\\", "&", "&amp;", "\t", "    ", "https://", "\x00", "\u202e", "\\(", "\\)",
     "\\[", "\\]", ":", '"', "'", "=", "+", "!", "<!--", "-->", "&#", "x" * 210]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_WORDS, _MARKUP), max_size=60))
def test_no_word_is_ever_lost(pieces: list[str]) -> None:
    text = "".join(pieces)
    words = [p for p in pieces if re.fullmatch(r"[a-z]{2,8}", p)]
    visible = shown(render_markdown(text).html)
    missing = [w for w in words if w not in visible]
    assert not missing, (text, visible)


# --- blocks and streaming --------------------------------------------------------------------


def test_scan_blocks_never_splits_inside_a_fence() -> None:
    text = "intro\n\n```python\na = 1\n\n\nb = 2\n```\nafter\n\n  indented continues\n\nnext"
    blocks, end = scan_blocks(text, final=True)
    assert end == len(text)
    assert blocks == [
        Block("text", "intro"),
        Block("code", "a = 1\n\n\nb = 2", "python"),
        Block("text", "after\n\n  indented continues"),
        Block("text", "next"),
    ]


def test_an_open_fence_keeps_everything_after_it_in_the_tail() -> None:
    text = "Done paragraph.\n\n```js\nlet a = 1;\n\nlet b = 2;\n\nmore"
    blocks, end = scan_blocks(text, final=False)
    assert blocks == [Block("text", "Done paragraph.")]
    assert text[end:] == "```js\nlet a = 1;\n\nlet b = 2;\n\nmore"
    stream = StreamingMarkdown()
    stream.append(text)
    assert stream.blocks() == ([Block("text", "Done paragraph.")], text[end:])
    fragments, tail = stream.take_update()
    assert len(fragments) == 1 and "let b = 2;" in shown(tail)
    stream.append("\n```\n")  # the closing fence line is complete: now it is finished
    fragments, tail = stream.take_update()
    assert len(fragments) == 1 and tail == ""


def test_a_block_is_finished_only_once_later_text_cannot_change_it() -> None:
    stream = StreamingMarkdown()
    stream.append("- one\n\n")
    assert stream.take_update().fragments == []  # "- two" could still continue the list
    stream.append("- two\n\nplain")
    fragments, tail = stream.take_update()
    assert [shown(f).strip() for f in fragments] == ["one", "two"]
    assert shown(tail) == "plain"
    stream.append("\n\n    indented")
    assert stream.take_update().fragments == []  # indented: may belong to "plain"
    stream.finish()
    fragments, tail = stream.take_update()
    assert len(fragments) == 1 and tail == ""


def _reply(tokens: int, seed: int) -> list[str]:
    """A reply of ``tokens`` deltas of 1-6 characters: paragraphs, code, tables, lists."""
    rng = random.Random(seed)
    pieces = [
        "Some **bold** text, `code`, a [link](https://example.com/x) and $x^2$.\nNext line.\n\n",
        "```python\nimport os\n\n\ndef f(x):\n    return x * 2  # double\n\nprint(f(3))\n```\n",
        "| Name | Value |\n|------|------:|\n| a | 1 |\n| b | 2 |\n\n",
        "1. First\n2. Second\n   more\n\n3. Third\n\n- bullet\n- bullet\n\n> quoted\n\n",
    ]
    text = ""
    while len(text) < tokens * 4:
        text += rng.choice(pieces)
    deltas: list[str] = []
    i = 0
    while i < len(text):
        step = rng.randint(1, 6)
        deltas.append(text[i : i + step])
        i += step
    return deltas


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fragments_and_tail_equal_the_whole_render(seed: int) -> None:
    stream = StreamingMarkdown()
    finished: list[str] = []
    rng = random.Random(seed)
    for n, delta in enumerate(_reply(600, seed)):
        stream.append(delta.replace("\n", "\r\n") if n % 7 == 0 else delta)
        if rng.random() < 0.3:
            fragments, tail = stream.take_update()
            finished += fragments
            whole = render_markdown(stream.text, budget_us=None)
            assert "".join(finished) + tail == whole.html
            assert stream.code_blocks == whole.code_blocks
    stream.finish()
    fragments, tail = stream.take_update()
    assert tail == ""
    assert "".join(finished + fragments) == render_markdown(stream.text, budget_us=None).html


def _stream_cost(deltas: list[str], every: int) -> tuple[float, list[int]]:
    """Characters rendered per character of text, and per update, taking an update every N."""
    stream = StreamingMarkdown()
    per_update: list[int] = []
    for n, delta in enumerate(deltas, 1):
        stream.append(delta)
        if n % every == 0:
            before = stream.rendered_chars
            stream.take_update()
            per_update.append(stream.rendered_chars - before)
    stream.finish()
    stream.take_update()
    return stream.rendered_chars / len(stream.text), per_update


def test_the_cost_of_an_update_does_not_grow_with_the_reply() -> None:
    deltas = _reply(4000, seed=7)
    # At the view's pace (50 ms at 200 tokens/s: an update every 10 deltas): under 3× the text.
    ratio, per_update = _stream_cost(deltas, every=10)
    assert ratio < 3.0
    quarter = len(per_update) // 4
    early, late = sum(per_update[:quarter]) / quarter, sum(per_update[-quarter:]) / quarter
    assert late < 1.5 * early
    # Even with an update after every delta, the work stays linear: the same ratio for a reply
    # twice as long (the tail is one block, never the whole reply).
    short, _ = _stream_cost(_reply(2000, seed=7), every=1)
    long, per_delta = _stream_cost(_reply(4000, seed=7), every=1)
    assert long < 1.2 * short
    assert max(per_delta) < 400  # bounded by the largest block, not by the reply


def test_a_time_limit_renders_finished_blocks_in_slices() -> None:
    stream = StreamingMarkdown()
    stream.append("one\n\n```\ntwo\n```\nthree\n\nfour")
    stream.finish()
    first = stream.take_update(time_limit=0.0)  # one block per call at least
    assert len(first.fragments) == 1 and first.tail == "" and stream.pending
    rest = [stream.take_update(time_limit=0.0) for _ in range(3)]
    assert [len(update.fragments) for update in rest] == [1, 1, 1]
    assert not stream.pending and stream.code_blocks == ["two"]
    html = "".join(first.fragments + [f for update in rest for f in update.fragments])
    assert html == render_markdown(stream.text, budget_us=None).html


def test_a_huge_unfinished_tail_is_shown_in_part() -> None:
    stream = StreamingMarkdown()
    stream.append("start " + "x" * (TAIL_LIMIT + 5000))
    fragments, tail = stream.take_update()
    assert fragments == [] and "more characters" in shown(tail)
    assert len(shown(tail)) < TAIL_LIMIT + 100
    stream.finish()
    fragments, tail = stream.take_update()
    assert tail == "" and shown(fragments[0]).endswith("x" * 100)
