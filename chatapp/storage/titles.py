"""Automatic conversation titles and text clean-up before storing."""

from __future__ import annotations

import re

TITLE_LENGTH = 60

_SPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def auto_title(text: str, limit: int = TITLE_LENGTH) -> str:
    """A title from a first user message: one line, at most `limit` characters, cut at a word
    boundary when one falls in the second half (a long word is cut where it stands)."""
    line = _SPACE.sub(" ", text).strip()
    if len(line) <= limit:
        return line
    cut = line.rfind(" ", 0, limit)
    head = line[:cut] if cut >= limit // 2 else line[:limit - 1]
    return head.rstrip(" ,.;:-–—") + "…"


def storable(text: str) -> str:
    """`text` as SQLite can store it: lone surrogates (invalid UTF-16 from a clipboard or a
    widget) become U+FFFD instead of failing the whole write."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text
