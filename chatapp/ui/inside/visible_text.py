"""Token text made visible: whitespace as symbols, invisible characters as escapes.

Model text is untrusted.  Everything here returns plain strings for `drawText` or plain-text
labels; nothing is ever interpreted as markup.  Control and format characters (bidi overrides,
zero-width joiners, NUL ...) become ``⟨U+202E⟩`` so they cannot reorder or hide what is shown.
"""

from __future__ import annotations

import unicodedata

#: Whitespace shown as a symbol in token labels.
_SYMBOLS = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}

#: Longest token text the reply view lays out (a hostile 10,000-character piece is cut).
MAX_SHOWN = 400


def _escaped(ch: str) -> str:
    """``ch`` itself, or ``⟨U+XXXX⟩`` for a character that is invisible or reorders text."""
    if ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Zl", "Zp"):
        return ch
    return f"⟨U+{ord(ch):04X}⟩"


def visible(text: str, limit: int = 40) -> str:
    """A token's text as a label: "␣the", "⏎", "⟨U+202E⟩abc", cut to ``limit`` characters."""
    cut = len(text) > limit
    out = "".join(_SYMBOLS.get(ch) or _escaped(ch) for ch in text[:limit])
    return out + "…" if cut else out


def quoted(text: str, limit: int = 40) -> str:
    """`visible` in quotes, as used in tooltips and lists: '‘␣the’'."""
    return f"‘{visible(text, limit)}’"


def flowing(text: str) -> str:
    """A token's text for the running reply: spaces and line breaks kept, other invisible
    characters escaped, tabs as "⇥", and at most `MAX_SHOWN` characters."""
    cut = len(text) > MAX_SHOWN
    out = "".join(
        ch if ch in (" ", "\n") else _SYMBOLS.get(ch) or _escaped(ch) for ch in text[:MAX_SHOWN]
    )
    return out + "…" if cut else out
