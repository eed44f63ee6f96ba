r"""TeX math → readable Unicode text: ``\frac{1}{n}\sum_{i=1}^{n} x_i`` → ``1/n ∑ᵢ₌₁ⁿ xᵢ``.

Model replies write formulas in TeX.  A chat window has no TeX engine, but most formulas read
well as one line of Unicode: symbol macros become their characters (the table comes from
pylatexenc's latex2text), scripts become Unicode superscripts and subscripts where every character
has one (else ``^(…)`` / ``_(…)``), fractions become ``a/b`` and roots ``√x``, with parentheses
wherever a part is more than one simple token, so the structure stays unambiguous.

The text is parsed with :class:`pylatexenc.latexwalker.LatexWalker` and the node tree is walked
here.  Nothing of the source is dropped silently: an unknown macro keeps its name (``\foo{x}``
stays ``\foo{x}``), and the caller shows the TeX source itself whenever :func:`tex_to_text` says
None (a parse error, input too long or too deeply nested).  Hostile input never raises.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

from pylatexenc import latexwalker as lw
from pylatexenc.latex2text import get_default_latex_context_db as _latex2text_db
from pylatexenc.macrospec import MacroSpec, MacroStandardArgsParser

MAX_CHARS = 2000
"""Longer TeX is not converted (parsing costs about 10 µs a character)."""
MAX_DEPTH = 50
"""TeX nested deeper than this (braces, brackets, environments, arguments) is not converted."""

Kind = Literal["ord", "op", "bin", "rel", "open", "close", "punct", "space", "break"]

# --- character tables ------------------------------------------------------------------------


def _pairs(plain: str, mapped: str) -> dict[str, str]:
    """A character map from two equally long strings."""
    assert len(plain) == len(mapped)
    return dict(zip(plain, mapped, strict=True))


_SUPERSCRIPT = _pairs(
    "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεϵθιφϕχ⊤⊺",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᵋᶿᶥᵠᵠᵡᵀᵀ",
)
# Characters that already read as raised: x′, x*, x†, 90°.
_SUPERSCRIPT.update({"′": "′", "″": "″", "‴": "‴", "*": "*", "∗": "*", "†": "†", "‡": "‡",
                     "°": "°", "∘": "°", "ᵀ": "ᵀ"})
_SUBSCRIPT = _pairs(
    "0123456789+-−=()aehijklmnoprstuvxəβγρφϕχ",
    "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓₔᵦᵧᵨᵩᵩᵪ",
)
# \mathbb, \mathcal, \mathfrak: only the letters in the Basic Multilingual Plane (fonts have them).
_DOUBLE_STRUCK = _pairs("CHNPQRZ", "ℂℍℕℙℚℝℤ")
_SCRIPT_LETTERS = _pairs("BEFHILMRego", "ℬℰℱℋℐℒℳℛℯℊℴ")
_FRAKTUR = _pairs("CHIRZ", "ℭℌℑℜℨ")

_REL_CHARS = set(
    "=<>:≤≥≠≈≡∼≃≅≍≐≑∝≪≫≺≻≼≽⊂⊃⊆⊇⊊⊋⊄⊅⊈⊉∈∉∋∌∣∤∥∦⊥⊢⊣⊨⊩≔≕≜≝≟≲≳⩽⩾≦≧≨≩≮≯≰≱⊏⊐⊑⊒≶≷⋘⋙⋖⋗⊲⊳⊴⊵≀"
)
_BIN_CHARS = set("+−∗±∓×÷·∘∙∩∪∧∨⊕⊖⊗⊘⊙⊚⊛⊝⊞⊟⊠⊡∖⊎⊓⊔⋄⋆⨿△▽◁▷⋅")
_OPEN_CHARS = set("([⟨⌊⌈⟦⟮{")
_CLOSE_CHARS = set(")]⟩⌋⌉⟧⟯}")
_PUNCT_CHARS = set(",;")
_ASCII_MATH = {"-": "−", "*": "∗", "'": "′"}

# --- macro tables ----------------------------------------------------------------------------

# Symbols pylatexenc's latex2text table lacks or renders in a way that reads worse in math.
_EXTRA_SYMBOLS = {
    "ne": "≠", "neg": "¬", "lnot": "¬", "div": "÷", "star": "⋆", "Re": "ℜ", "Im": "ℑ",
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "lbrack": "[", "rbrack": "]",
    "lbrace": "{", "rbrace": "}", "{": "{", "}": "}", "|": "‖", "%": "%", "implies": "⟹",
    "impliedby": "⟸", "iff": "⟺", "gets": "←", "land": "∧", "lor": "∨", "bot": "⊥",
    "colon": ":", "vert": "|", "mid": "∣", "diamond": "⋄", "triangle": "△", "square": "□",
    "Box": "□", "checkmark": "✓", "Longrightarrow": "⟹", "Longleftarrow": "⟸",
    "Longleftrightarrow": "⟺", "longleftrightarrow": "⟷", "longmapsto": "⟼",
    "coloneqq": "≔", "eqqcolon": "≕", "lt": "<", "gt": ">", "degree": "°", "prime": "′",
    "bigcup": "⋃", "bigcap": "⋂", "bigvee": "⋁", "bigwedge": "⋀", "bigodot": "⨀",
    "biguplus": "⨄", "bigsqcup": "⨆", "bigoplus": "⨁", "bigotimes": "⨂", "det": "det",
    "gcd": "gcd", "Pr": "Pr", "arg": "arg", "deg": "deg", "dim": "dim", "hom": "hom",
    "ker": "ker", "lg": "lg", "sec": "sec", "csc": "csc", "cot": "cot", "coth": "coth",
    "argmax": "argmax", "argmin": "argmin", "imath": "ı", "jmath": "ȷ", "ddagger": "‡",
    "amalg": "⨿", "cdotp": "·", "ldotp": ".", "owns": "∋", "leadsto": "⇝", "nsubset": "⊄",
    "nsupset": "⊅", "models": "⊨", "hslash": "ℏ", "surd": "√", "flat": "♭", "natural": "♮",
    "sharp": "♯", "clubsuit": "♣", "diamondsuit": "♢", "heartsuit": "♡", "spadesuit": "♠",
    "digamma": "ϝ", "mho": "℧", "lvert": "|", "rvert": "|", "lVert": "‖", "rVert": "‖",
}
# latex2text entries that are not symbols, or that this module handles itself.
_NOT_SYMBOLS = {"today", "i", "j", ",", ";", ":", " ", "!", "quad", "qquad", "enskip"}

_BIG_OPS = {
    "sum", "prod", "coprod", "int", "iint", "iiint", "oint", "bigcup", "bigcap", "bigvee",
    "bigwedge", "bigoplus", "bigotimes", "bigodot", "biguplus", "bigsqcup", "surfintegral",
    "volintegral",
}
_SPACES = {
    ",": "\u2009", "thinspace": "\u2009", ":": "\u2005", ">": "\u2005", "medspace": "\u2005",
    ";": "\u2004", "thickspace": "\u2004", " ": " ", "quad": "\u2003", "qquad": "\u2003\u2003",
    "enspace": "\u2002", "enskip": "\u2002", "space": " ", "hspace": " ", "hskip": " ",
    "mkern": "", "mspace": " ", "!": "", "negthinspace": "", "negmedspace": "",
    "negthickspace": "",
}
_ACCENTS = {
    "bar": "\u0304", "overline": "\u0305", "underline": "\u0332", "hat": "\u0302",
    "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303", "vec": "\u20d7",
    "overrightarrow": "\u20d7", "overleftarrow": "\u20d6", "dot": "\u0307", "ddot": "\u0308",
    "dddot": "\u20db", "check": "\u030c", "breve": "\u0306", "acute": "\u0301",
    "grave": "\u0300", "mathring": "\u030a",
}
_LINE_ACCENTS = {"bar", "overline", "underline"}
_FRACTIONS = {"frac", "dfrac", "tfrac", "cfrac", "nicefrac"}
_BINOMIALS = {"binom", "dbinom", "tbinom"}
_TEXT = {
    "text", "textrm", "textit", "textbf", "texttt", "textsf", "textnormal", "textup", "mbox",
    "hbox", "emph", "textsl",
}
_MATH_FONTS = {
    "mathrm", "mathit", "mathbf", "mathsf", "mathtt", "mathnormal", "boldsymbol", "bm", "pmb",
    "boxed", "overbrace", "underbrace", "mathbb", "mathcal", "mathscr", "mathfrak",
}
_FONT_LETTERS: dict[str, Mapping[str, str]] = {
    "mathbb": _DOUBLE_STRUCK, "mathcal": _SCRIPT_LETTERS, "mathscr": _SCRIPT_LETTERS,
    "mathfrak": _FRAKTUR,
}
_CLASS_MACROS: dict[str, Kind] = {
    "mathop": "op", "mathbin": "bin", "mathrel": "rel", "mathord": "ord", "mathopen": "open",
    "mathclose": "close", "mathpunct": "punct", "operatorname": "op",
}
# Switches and markup that show nothing (their arguments are labels or colours).
_INVISIBLE = {
    "displaystyle", "textstyle", "scriptstyle", "scriptscriptstyle", "limits", "nolimits",
    "nonumber", "notag", "label", "color", "phantom", "hphantom", "vphantom", "hline",
    "hdashline", "strut", "mathstrut", "bf", "rm", "it", "cal", "sf", "tt", "allowbreak",
}
_SIDES: tuple[tuple[str, Kind | None], ...] = (
    ("", None), ("l", "open"), ("r", "close"), ("m", "rel")
)
# \left( and \bigl( open, \right) close, \middle| relates; \big( keeps its own class.
_DELIMITER_SIZES: dict[str, Kind | None] = {
    "left": "open", "right": "close", "middle": "rel",
    **{f"{size}{side}": kind for size in ("big", "Big", "bigg", "Bigg") for side, kind in _SIDES},
}
_LINE_BREAKS = {"\\", "newline", "cr"}
_INFIX_FRACTIONS = {"over", "atop", "choose"}
_DIFFERENTIALS = {"d", "∂", "δ", "Δ", "∇"}

_MATRIX_DELIMITERS = {
    "matrix": ("", ""), "smallmatrix": ("", ""), "array": ("", ""), "pmatrix": ("(", ")"),
    "psmallmatrix": ("(", ")"), "bmatrix": ("[", "]"), "bsmallmatrix": ("[", "]"),
    "Bmatrix": ("{", "}"), "vmatrix": ("|", "|"), "Vmatrix": ("‖", "‖"), "subarray": ("", ""),
}
_CASES = {"cases", "dcases", "rcases", "cases*"}
_ALIGNED = {
    "align", "aligned", "alignat", "alignedat", "eqnarray", "gather", "gathered", "multline",
    "split", "equation", "flalign", "displaymath", "math",
}

# Argument specifications the walker must know to hand us the arguments (pylatexenc's own
# table covers \frac, \sqrt, \text, \mathrm, the accents and most others).  Text-mode arguments
# are parsed as text (spaces kept).
_ARGUMENTS: dict[str, tuple[str, list[bool] | None]] = {
    **{name: ("{{", None) for name in ("dfrac", "tfrac", "cfrac", "nicefrac", "binom", "dbinom",
                                       "tbinom", "overset", "underset", "stackrel")},
    **{name: ("{", None) for name in ("boldsymbol", "bm", "pmb", "mathnormal", "mathring",
                                      "boxed", "phantom", "substack", "mathop", "mathbin",
                                      "mathrel", "mathord", "mathopen", "mathclose",
                                      "mathpunct", "dddot", "overleftarrow", "overrightarrow",
                                      "mspace")},
    **{name: ("{", [False]) for name in ("hbox", "textnormal", "pmod")},
    "operatorname": ("*{", None), "tag": ("*{", [False, False]), "xleftarrow": ("[{", None),
    "xrightarrow": ("[{", None), "hspace": ("*{", None), "textcolor": ("[{{", None),
}


@dataclass(frozen=True)
class _Tables:
    """What the converter needs from pylatexenc, built once."""

    symbols: Mapping[str, str]
    context: Any  # pylatexenc.macrospec.LatexContextDb for the walker


@functools.cache
def _tables() -> _Tables:
    """Symbol table (latex2text's, plus :data:`_EXTRA_SYMBOLS`) and the walker's macro specs."""
    symbols: dict[str, str] = {}
    text_db = _latex2text_db()
    for spec in text_db.iter_macro_specs(categories=["latex-base", "advanced-symbols"]):
        repl = getattr(spec, "simplify_repl", None)
        name = str(spec.macroname)
        if isinstance(repl, str) and "%" not in repl and name not in _NOT_SYMBOLS:
            symbols[name] = repl
    symbols.update(_EXTRA_SYMBOLS)
    # Specials (``--``, quotes, ``~``, ``&``) are left to this module: fewer for the walker to
    # test at every character, and ``&`` and ``~`` arrive as plain characters.
    context = lw.get_default_latex_context_db().filter_context(
        keep_which=["macros", "environments"]
    )
    macros = [
        MacroSpec(name, MacroStandardArgsParser(spec, args_math_mode=modes))
        for name, (spec, modes) in _ARGUMENTS.items()
    ]
    context.add_context_category("chatapp-math", macros=macros, prepend=True)
    return _Tables(symbols, context)


# --- atoms: what a formula is made of, and how atoms are spaced -------------------------------


@dataclass(frozen=True)
class _Atom:
    """One piece of a formula's text and its TeX class (which decides the spaces around it).

    Attributes:
        text: the Unicode text.
        kind: TeX's atom class (``space`` is explicit spacing, ``break`` a line break).
        spaced: whitespace preceded it in the source (kept only after a comma).
        frac: a ``a/b`` fraction: parenthesised when it touches an ordinary atom.
        open_end: ends in something that would swallow a following letter (``√x``, ``x_T``).
        scripted: has a subscript or superscript (``∑ᵢ (…)`` keeps its space).
        word: an unknown macro's name (``\foo``): a following letter is kept apart.
    """

    text: str
    kind: Kind = "ord"
    spaced: bool = False
    frac: bool = False
    open_end: bool = False
    scripted: bool = False
    word: bool = False


_BREAK = _Atom("\n", "break")
_NO_SPACE_AFTER: set[Kind] = {"open", "space", "break", "punct"}
_NO_SPACE_BEFORE: set[Kind] = {"close", "space", "break", "punct"}


def _resolve_kinds(atoms: Sequence[_Atom]) -> list[Kind]:
    """Atom classes, with a binary operator that has no left operand made ordinary (TeX's rule)."""
    kinds = [a.kind for a in atoms]
    last: Kind | None = None  # the previous class, explicit spaces skipped
    for i, kind in enumerate(kinds):
        if kind == "bin":
            following = next((k for k in kinds[i + 1 :] if k != "space"), None)
            if last in (None, "bin", "rel", "open", "punct", "op", "break") or following in (
                None, "rel", "close", "punct", "break"
            ):
                kinds[i] = "ord"
        if kinds[i] != "space":
            last = kinds[i]
    return kinds


def _gap(left: _Atom, lk: Kind, right: _Atom, rk: Kind, compact: bool) -> str:
    """The space between two neighbouring atoms (a simplified form of TeX's spacing table)."""
    if lk in ("space", "break") or rk in ("space", "break") or lk == "open" or rk == "close":
        gap = ""
    elif lk == "punct":
        gap = " " if right.spaced else ""
    elif rk == "punct":
        gap = ""
    elif compact:
        gap = " " if lk == "op" and rk in ("ord", "op") else ""
    elif lk == "rel" or rk == "rel":
        gap = "" if lk == rk else " "
    elif lk == "bin" or rk == "bin":
        gap = " "
    elif lk == "op":
        gap = "" if rk == "open" and not left.scripted else " "
    else:
        gap = " " if rk == "op" else ""
    if left.kind == "bin" and lk == "ord":
        return ""  # a unary sign binds to what follows: −∑ᵢ xᵢ
    if gap:
        return gap
    if left.open_end and rk == "ord":
        return "\u2009"
    if left.word and right.text[:1].isalnum():
        return " "
    return gap


def _join(atoms: Sequence[_Atom], compact: bool) -> str:
    """The text of a row of atoms, spaced as TeX would (``compact``: inside a script)."""
    if not atoms:
        return ""
    kinds = _resolve_kinds(atoms)
    gaps = [""] + [
        _gap(atoms[i - 1], kinds[i - 1], atoms[i], kinds[i], compact) for i in range(1, len(atoms))
    ]
    parts: list[str] = []
    for i, atom in enumerate(atoms):
        text = atom.text
        if atom.frac:
            # A unary sign (a "bin" made ordinary) does not touch: −a/b.
            touches_left = (
                i > 0
                and not gaps[i]
                and kinds[i - 1] not in _NO_SPACE_AFTER
                and atoms[i - 1].kind != "bin"
            )
            touches_right = (
                i + 1 < len(atoms) and not gaps[i + 1] and kinds[i + 1] not in _NO_SPACE_BEFORE
            )
            if touches_left or touches_right:
                text = f"({text})"
        parts.append(gaps[i])
        parts.append(text)
    return "".join(parts)


def _enclosed(atoms: Sequence[_Atom]) -> bool:
    """Whether the atoms are one bracketed group, ``(…)`` or ``[…]``, already."""
    if len(atoms) < 2 or atoms[0].kind != "open" or atoms[-1].kind != "close":
        return False
    depth = 0
    for i, atom in enumerate(atoms):
        depth += {"open": 1, "close": -1}.get(atom.kind, 0)
        if depth == 0 and i < len(atoms) - 1:
            return False
    return True


def _needs_parens(atoms: Sequence[_Atom], *, strict: bool) -> bool:
    """Whether a fraction part or radicand needs parentheses to keep its extent clear.

    A numerator may be a product of ordinary atoms (``QKᵀ/√dₖ``); a denominator or radicand
    (``strict``) must be a single one (``1/(2x)``, ``√(2π)``).
    """
    if not atoms or _enclosed(atoms):
        return False
    if any(a.frac for a in atoms):
        return True
    if strict:
        return len(atoms) > 1 or atoms[0].kind != "ord"
    return any(a.kind != "ord" for a in atoms)


def _differential(atoms: Sequence[_Atom]) -> bool:
    """``dx``, ``∂x∂y``: a derivative's denominator, read without parentheses (``∂²f/∂x∂y``)."""
    return (
        len(atoms) % 2 == 0
        and all(a.kind == "ord" for a in atoms)
        and all(a.text in _DIFFERENTIALS for a in atoms[::2])
    )


def _graphemes(text: str) -> list[str]:
    """Characters with their combining marks."""
    out: list[str] = []
    for ch in text:
        if out and unicodedata.combining(ch):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _script(text: str, table: Mapping[str, str], mark: str) -> str:
    """A script in Unicode script characters when all have one, else ``^x`` or ``^(…)``."""
    if not text:
        return ""
    if all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    if len(_graphemes(text)) == 1:
        return mark + text
    return f"{mark}({text})"


def _accent(text: str, mark: str, every: bool) -> str:
    """Put a combining mark on every character (``every``) or on the accented letter."""
    chars = _graphemes(text)
    if not chars:
        return mark
    if every:
        return "".join(ch + mark if not ch.isspace() else ch for ch in chars)
    scripts = set(_SUPERSCRIPT.values()) | set(_SUBSCRIPT.values())
    # x̂ᵢ, not xᵢ̂; otherwise the mark goes on the last character (AB⃗).
    if all(ch in scripts for ch in chars[1:]):
        return chars[0] + mark + "".join(chars[1:])
    return "".join(chars) + mark


def _char_atom(ch: str, spaced: bool) -> _Atom:
    """An atom for one character of math-mode source."""
    text = _ASCII_MATH.get(ch, ch)
    return _Atom(text, _char_kind(text), spaced)


def _char_kind(text: str) -> Kind:
    """The TeX class of a symbol's text."""
    if len(text) != 1:
        return "ord"
    code = ord(text)
    if (
        text in _REL_CHARS
        or 0x2190 <= code <= 0x21FF
        or 0x27F0 <= code <= 0x27FF
        or 0x2900 <= code <= 0x297F
    ):
        return "rel"
    if text in _BIN_CHARS:
        return "bin"
    if text in _OPEN_CHARS:
        return "open"
    if text in _CLOSE_CHARS:
        return "close"
    if text in _PUNCT_CHARS:
        return "punct"
    return "ord"


# --- walking the node tree -------------------------------------------------------------------


class _Tok(NamedTuple):
    """One unit of a node list: a pylatexenc node, or one character of a chars node."""

    value: Any
    spaced: bool


class _TooDeep(Exception):
    """Nesting beyond what the converter walks."""


def _tokens(nodes: Sequence[Any]) -> list[_Tok]:
    """Split chars nodes into characters (whitespace only marks the next token as spaced)."""
    toks: list[_Tok] = []
    spaced = False
    for node in nodes:
        if node is None:
            continue
        if isinstance(node, lw.LatexCharsNode):
            for ch in str(node.chars):
                if ch.isspace():
                    spaced = True
                else:
                    toks.append(_Tok(ch, spaced))
                    spaced = False
            continue
        toks.append(_Tok(node, spaced))
        spaced = bool(getattr(node, "macro_post_space", ""))
    return toks


def _is_mark(tok: _Tok, mark: str = "^_") -> bool:
    """Whether the token is one of the characters in ``mark`` (a script mark by default)."""
    return isinstance(tok.value, str) and tok.value in mark


def _macro_name(tok: _Tok) -> str | None:
    """The macro's name if the token is a macro."""
    if isinstance(tok.value, lw.LatexMacroNode):
        return str(tok.value.macroname)
    return None


def _args(node: Any) -> list[Any]:
    """A macro's or environment's parsed arguments (None where an optional one is absent)."""
    argd = getattr(node, "nodeargd", None)
    return list(getattr(argd, "argnlist", None) or [])


class _Converter:
    """Turns one formula's node list into atoms, then into text."""

    def __init__(self, symbols: Mapping[str, str]) -> None:
        """A converter using ``symbols`` (macro name → Unicode) for symbol macros."""
        self._symbols = symbols
        self._scripts = 0  # > 0 inside a subscript or superscript: compact spacing

    @property
    def _compact(self) -> bool:
        """Whether text is being built inside a script (no spaces around operators)."""
        return self._scripts > 0

    def text(self, nodes: Sequence[Any]) -> str:
        """The whole formula: one line per ``\\`` row, spaces trimmed at the line ends."""
        text = _join(self._seq(_tokens(nodes), 0), compact=False)
        return "\n".join(line.strip(" ") for line in text.split("\n"))

    # -- sequences --

    def _seq(self, toks: Sequence[_Tok], depth: int) -> list[_Atom]:
        """Atoms for a token list: each token with the scripts that follow it."""
        if depth > 2 * MAX_DEPTH:
            raise _TooDeep
        for k, tok in enumerate(toks):
            if _macro_name(tok) in _INFIX_FRACTIONS:
                return [self._infix(toks[:k], toks[k + 1 :], str(_macro_name(tok)), depth)]
        out: list[_Atom] = []
        i = 0
        while i < len(toks):
            if _is_mark(toks[i]) and i + 1 < len(toks):
                base: list[_Atom] = []
            else:
                base, i = self._token(toks, i, depth)
            sub: list[str] = []
            sup: list[str] = []
            while i + 1 < len(toks) and _is_mark(toks[i]):
                target = sub if toks[i].value == "_" else sup
                self._scripts += 1
                try:
                    arg, i = self._token(toks, i + 1, depth + 1)
                    target.append(_join(arg, compact=True))
                finally:
                    self._scripts -= 1
            if sub or sup:
                out.append(self._scripted(base, "".join(sub), "".join(sup), bool(sub), bool(sup)))
            else:
                out.extend(base)
        return out

    def _group(self, node: Any, depth: int) -> list[_Atom]:
        """Atoms of a group or a single-node macro argument."""
        if node is None:
            return []
        if isinstance(node, lw.LatexGroupNode):
            return self._seq(_tokens(node.nodelist), depth + 1)
        return self._seq(_tokens([node]), depth + 1)

    def _group_text(self, node: Any, depth: int) -> str:
        """The text of a group or argument."""
        return _join(self._group(node, depth), self._compact)

    def _scripted(
        self, base: list[_Atom], sub: str, sup: str, has_sub: bool, has_sup: bool
    ) -> _Atom:
        """One atom: the base (parenthesised when compound) with its scripts."""
        text = _join(base, self._compact)
        single = base[0] if len(base) == 1 else None
        compound = (single is not None and (single.frac or single.open_end)) or (
            len(base) > 1 and not _enclosed(base)
        )
        if compound:
            text = f"({text})"
        last = ""
        if has_sub:
            last = _script(sub, _SUBSCRIPT, "_")
            text += last
        if has_sup:
            last = _script(sup, _SUPERSCRIPT, "^")
            text += last
        kind: Kind = single.kind if single is not None else "ord"
        return _Atom(
            text,
            kind,
            spaced=bool(base and base[0].spaced),
            open_end=last[:1] in ("^", "_") and not last.endswith(")"),
            scripted=True,
        )

    # -- single tokens --

    def _token(self, toks: Sequence[_Tok], i: int, depth: int) -> tuple[list[_Atom], int]:
        """Atoms for ``toks[i]``, and the index after what it consumed."""
        tok = toks[i]
        node = tok.value
        if isinstance(node, str):
            if node == "&":
                return [], i + 1  # alignment outside an environment: nothing to show
            if node == "~":
                return [_Atom("\u00a0", "space")], i + 1
            return [_char_atom(node, tok.spaced)], i + 1
        if isinstance(node, lw.LatexMacroNode):
            return self._macro(toks, i, depth)
        if isinstance(node, lw.LatexGroupNode):
            atoms = self._group(node, depth)
        elif isinstance(node, lw.LatexEnvironmentNode):
            atoms = self._environment(node, depth)
        elif isinstance(node, lw.LatexMathNode):
            atoms = self._seq(_tokens(node.nodelist), depth + 1)
        elif isinstance(node, lw.LatexCommentNode):
            # Shown: no letter of the source is lost, and a "%" in a chat formula is rarely
            # meant as a comment.
            atoms = [_Atom(" ", "space"), _Atom("%" + str(node.comment).rstrip())]
        elif isinstance(node, lw.LatexSpecialsNode):
            atoms = [_char_atom(ch, False) for ch in str(node.specials_chars)]
        else:
            atoms = []
        if atoms and tok.spaced:
            atoms[0] = replace(atoms[0], spaced=True)
        return atoms, i + 1

    def _macro(self, toks: Sequence[_Tok], i: int, depth: int) -> tuple[list[_Atom], int]:
        """A macro: a delimiter size, a structure, a symbol, or an unknown name (kept)."""
        node = toks[i].value
        name = str(node.macroname)
        args = _args(node)
        spaced = toks[i].spaced
        if name in _DELIMITER_SIZES:
            return self._delimiter(toks, i + 1, _DELIMITER_SIZES[name], depth)
        atoms = self._structure(name, args, depth)
        if atoms is None:
            if name in self._symbols:
                text = self._symbols[name]
                kind: Kind = "op" if name in _BIG_OPS or _is_function(text) else _char_kind(text)
                atoms = [_Atom(text, kind), *(a for arg in args for a in self._group(arg, depth))]
            else:
                return self._unknown(toks, i, depth)
        if atoms and spaced:
            atoms[0] = replace(atoms[0], spaced=True)
        return atoms, i + 1

    def _structure(self, name: str, args: list[Any], depth: int) -> list[_Atom] | None:
        """Atoms for a macro with structure (fractions, roots, fonts…), None for others."""
        last = args[-1] if args else None
        if name in _SPACES:
            return [_Atom(_SPACES[name], "space")]
        if name in _LINE_BREAKS:
            return [_BREAK]
        if name in ("textcolor",):
            return self._group(last, depth)
        if name in _INVISIBLE:
            return []
        if name in _FRACTIONS and len(args) >= 2:
            return [self._fraction(self._group(args[-2], depth), self._group(last, depth))]
        if name in _BINOMIALS and len(args) >= 2:
            n, k = self._group_text(args[-2], depth), self._group_text(last, depth)
            return [_Atom(f"C({n},{'' if self._compact else ' '}{k})")]
        if name == "sqrt" and args:
            return [self._root(args[0] if len(args) > 1 else None, last, depth)]
        if name in _ACCENTS:
            inner = self._group(last, depth)
            text = _accent(_join(inner, self._compact), _ACCENTS[name], name in _LINE_ACCENTS)
            return [_Atom(text, inner[0].kind if len(inner) == 1 else "ord")]
        if name == "not":
            inner = self._group(last, depth)
            text = _join(inner, self._compact)
            return [_Atom(_accent(text[:1], "\u0338", False) + text[1:] if text else "/", "rel")]
        if name in _TEXT:
            return [_Atom(self._plain(_group_nodes(last), depth + 1))]
        if name in _MATH_FONTS:
            atoms = self._group(last, depth)
            letters = _FONT_LETTERS.get(name)
            if letters:
                atoms = [replace(a, text=letters.get(a.text, a.text)) for a in atoms]
            return atoms
        if name in _CLASS_MACROS:
            return [_Atom(_join(self._group(last, depth), compact=True), _CLASS_MACROS[name])]
        if name in ("overset", "stackrel", "underset") and len(args) >= 2:
            over = _join(self._group(args[-2], depth), compact=True)
            base = self._group(last, depth)
            if name == "underset":
                return [self._scripted(base, over, "", True, False)]
            return [self._scripted(base, "", over, False, True)]
        if name in ("xrightarrow", "xleftarrow"):
            arrow = [_Atom("→" if name == "xrightarrow" else "←", "rel")]
            return [self._scripted(arrow, "", _join(self._group(last, depth), True), False, True)]
        if name == "substack":
            rows = self._rows(_group_nodes(last), depth)
            return [_Atom(",".join(_join([a for c in r for a in c], True) for r in rows))]
        if name == "pmod":
            return [_Atom(" ", "space"), _Atom(f"(mod {self._group_text(last, depth)})")]
        if name in ("bmod", "mod"):
            return [_Atom("mod", "bin")]
        if name == "tag":
            return [_Atom("\u2003", "space"), _Atom(f"({self._group_text(last, depth)})")]
        return None

    def _delimiter(
        self, toks: Sequence[_Tok], i: int, kind: Kind | None, depth: int
    ) -> tuple[list[_Atom], int]:
        """``\\left(`` and kin: the size is dropped, the delimiter kept (``\\left.``: nothing)."""
        if i >= len(toks):
            return [], i
        if _is_mark(toks[i], "."):  # (pylatexenc nodes cannot be compared with a string)
            return [], i + 1
        atoms, nxt = self._token(toks, i, depth)
        if kind is not None:
            atoms = [replace(a, kind=kind) for a in atoms]
        return atoms, nxt

    def _unknown(self, toks: Sequence[_Tok], i: int, depth: int) -> tuple[list[_Atom], int]:
        r"""An unknown macro keeps its name, and its arguments their braces: ``\foo{x}``."""
        node, spaced = toks[i]
        parts = ["\\" + str(node.macroname)]
        args = [a for a in _args(node) if a is not None]
        i += 1
        if not args:
            while i < len(toks) and isinstance(toks[i].value, lw.LatexGroupNode):
                args.append(toks[i].value)
                i += 1
        for arg in args:
            if isinstance(arg, lw.LatexGroupNode) and arg.delimiters:
                opening, closing = arg.delimiters
            else:
                opening, closing = "{", "}"
            parts.append(f"{opening}{self._group_text(arg, depth)}{closing}")
        return [_Atom("".join(parts), word=len(parts) == 1, spaced=spaced)], i

    # -- structures --

    def _fraction(self, num: list[_Atom], den: list[_Atom]) -> _Atom:
        """``a/b``, with parentheses around a part that is not one simple token."""
        n, d = _join(num, self._compact), _join(den, self._compact)
        wide = not self._compact and (" " in n or " " in d)
        if _needs_parens(num, strict=False):
            n = f"({n})"
        if _needs_parens(den, strict=True) and not _differential(den):
            d = f"({d})"
        return _Atom(f"{n} / {d}" if wide else f"{n}/{d}", frac=True)

    def _infix(self, left: Sequence[_Tok], right: Sequence[_Tok], name: str, depth: int) -> _Atom:
        r"""``{a \over b}``, ``{n \choose k}``."""
        num, den = self._seq(left, depth + 1), self._seq(right, depth + 1)
        if name == "choose":
            return _Atom(f"C({_join(num, self._compact)}, {_join(den, self._compact)})")
        return self._fraction(num, den)

    def _root(self, index: Any, radicand: Any, depth: int) -> _Atom:
        """``√x``, ``√(x + 1)``, ``∛x``, ``ⁿ√x``."""
        inner = self._group(radicand, depth)
        text = _join(inner, self._compact)
        bare = not _needs_parens(inner, strict=True)
        sign = "√"
        if index is not None:
            degree = _join(self._group(index, depth), compact=True)
            sign = {"": "√", "2": "√", "3": "∛", "4": "∜"}.get(
                degree, _script(degree, _SUPERSCRIPT, "^") + "√"
            )
        return _Atom(sign + (text if bare else f"({text})"), open_end=bare)

    def _rows(self, nodes: Sequence[Any], depth: int) -> list[list[list[_Atom]]]:
        """An environment body as rows (split at ``\\``) of cells (split at ``&``)."""
        rows: list[list[list[_Atom]]] = []
        row: list[list[_Atom]] = []
        cell: list[_Tok] = []
        for tok in _tokens(nodes):
            if _macro_name(tok) in _LINE_BREAKS:
                row.append(self._seq(cell, depth + 1))
                rows.append(row)
                row, cell = [], []
            elif _is_mark(tok, "&"):
                row.append(self._seq(cell, depth + 1))
                cell = []
            else:
                cell.append(tok)
        row.append(self._seq(cell, depth + 1))
        if any(row):
            rows.append(row)
        return rows

    def _environment(self, node: Any, depth: int) -> list[_Atom]:
        """Matrices as ``(a, b; c, d)``, cases as ``{x, if …; y, otherwise}``, aligned lines."""
        name = str(node.environmentname)
        rows = self._rows(node.nodelist, depth)
        cells = [[_join(cell, self._compact) for cell in row] for row in rows]
        base = name.rstrip("*")
        if base in _MATRIX_DELIMITERS:
            opening, closing = _MATRIX_DELIMITERS[base]
            body = "; ".join(", ".join(row) for row in cells)
            return [_Atom(f"{opening}{body}{closing}")]
        if base in _CASES or name in _CASES:
            return [_Atom("{" + "; ".join(", ".join(c for c in row if c) for row in cells) + "}")]
        out: list[_Atom] = []
        for r, row_atoms in enumerate(rows):
            if r:
                out.append(_BREAK)
            out.extend(a for cell_atoms in row_atoms for a in cell_atoms)
        if base in _ALIGNED:
            return out
        return [_Atom(f"\\begin{{{name}}}", word=True), *out, _Atom(f"\\end{{{name}}}")]

    def _plain(self, nodes: Sequence[Any], depth: int) -> str:
        r"""Text-mode content (``\text{…}``): as written, whitespace collapsed, math converted."""
        if depth > 2 * MAX_DEPTH:
            raise _TooDeep
        parts: list[str] = []
        for node in nodes:
            if node is None:
                continue
            if isinstance(node, lw.LatexCharsNode):
                parts.append(str(node.chars))
            elif isinstance(node, lw.LatexGroupNode):
                parts.append(self._plain(node.nodelist, depth + 1))
            elif isinstance(node, lw.LatexMathNode):
                parts.append(_join(self._seq(_tokens(node.nodelist), depth + 1), self._compact))
            elif isinstance(node, lw.LatexMacroNode):
                parts.append(self._plain_macro(node, depth))
            elif isinstance(node, lw.LatexCommentNode):
                parts.append("%" + str(node.comment))
            elif isinstance(node, lw.LatexSpecialsNode):
                parts.append(str(node.specials_chars))
            elif isinstance(node, lw.LatexEnvironmentNode):
                parts.append(self._plain(node.nodelist, depth + 1))
        return re.sub(r"\s+", " ", "".join(parts)).replace("~", "\u00a0")

    def _plain_macro(self, node: Any, depth: int) -> str:
        """A macro in text mode: a space, nested text, a symbol or its own name."""
        name = str(node.macroname)
        args = [a for a in _args(node) if a is not None]
        post = " " if getattr(node, "macro_post_space", "") else ""
        if name in _SPACES:
            return _SPACES[name] or ""
        if name in _TEXT or name in _MATH_FONTS:
            return "".join(self._plain(_group_nodes(a), depth + 1) for a in args)
        if name in self._symbols:
            return self._symbols[name] + post
        inner = "".join("{" + self._plain(_group_nodes(a), depth + 1) + "}" for a in args)
        return "\\" + name + inner + post


def _group_nodes(node: Any) -> list[Any]:
    """The nodes inside a group argument, or the single node of an unbraced one."""
    if node is None:
        return []
    if isinstance(node, lw.LatexGroupNode):
        return list(node.nodelist)
    return [node]


def _is_function(text: str) -> bool:
    """``sin``, ``log``, ``lim sup``: named operators (spaced from their argument)."""
    return len(text) > 1 and text.isascii() and text.replace(" ", "").isalpha()


# --- limits ----------------------------------------------------------------------------------

_NESTING = re.compile(r"\\(?:begin|end)(?![A-Za-z])|\\.|[{}\[\]]", re.DOTALL)


def _too_deep_source(tex: str) -> bool:
    """Braces, brackets and environments nested deeper than MAX_DEPTH (checked before parsing)."""
    depth = 0
    for m in _NESTING.finditer(tex):
        token = m.group(0)
        if token in ("{", "[", "\\begin"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif token in ("}", "]", "\\end"):
            depth = max(0, depth - 1)
    return False


def _children(node: Any) -> list[Any]:
    """A node's contents and arguments."""
    kids = [n for n in getattr(node, "nodelist", None) or [] if n is not None]
    return kids + [n for n in _args(node) if n is not None]


def _too_deep_tree(nodes: Sequence[Any]) -> bool:
    r"""Node nesting beyond MAX_DEPTH (macro arguments nest without braces: ``\sqrt\sqrt…``)."""
    stack = [(n, 0) for n in nodes if n is not None]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in _children(node))
    return False


# --- entry point -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def tex_to_text(tex: str) -> str | None:
    r"""Readable Unicode for TeX math (the inside of ``$…$``), or None to show the source.

    None when the TeX does not parse, is longer than :data:`MAX_CHARS`, nests deeper than
    :data:`MAX_DEPTH` or converts to nothing visible.  Never raises.  Lines (``\\``) are
    separated by ``\n``.
    """
    if len(tex) > MAX_CHARS or _too_deep_source(tex):
        return None
    # A final line break shows nothing, and pylatexenc fails on it (it looks for a "[2pt]").
    tex = tex.rstrip()
    while tex.endswith("\\\\"):
        tex = tex[:-2].rstrip()
    if not tex:
        return None
    tables = _tables()
    try:
        walker = lw.LatexWalker(tex, latex_context=tables.context, tolerant_parsing=False)
        state = walker.make_parsing_state(in_math_mode=True)
        nodes, _, _ = walker.get_latex_nodes(pos=0, parsing_state=state)
        if _too_deep_tree(nodes):
            return None
        text = _Converter(tables.symbols).text(nodes)
    except (_TooDeep, RecursionError):
        return None
    except Exception:  # a third-party parser on untrusted text: any failure shows the source
        return None
    text = unicodedata.normalize("NFC", text).strip()
    return text or None
