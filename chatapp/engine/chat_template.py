"""Render a model's chat template safely.

A chat template is Jinja source stored in the model file (``tokenizer.chat_template``
in a GGUF).  Model files come from the internet, so the template is hostile input.

It is rendered in Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`, which
is what ``transformers`` and ``llama-cpp-python`` use (the fix for CVE-2024-34359): the
template cannot reach ``__class__``, ``__globals__`` and friends, so it cannot run code.

The sandbox does not limit time or memory, so this module adds guards:

* **Time**: a trace function (:func:`sys.settrace`, per thread) checks a wall-clock
  deadline while the template compiles and renders, and stops it when time is up.
* **Memory, before allocating**: every operation that can make a big object from a small
  template is checked against the limits *before* it runs: ``*``, ``**``, ``+``, ``%``
  (``call_binop``), ``~`` (a code-generator hook), every call (``call``: method calls such
  as ``str.center``/``replace``/``join``/``expandtabs``/``translate`` and integer
  arguments), ``str.format`` (a guarded formatter), every filter (``center``, ``indent``,
  ``wordwrap``, ``replace``, ``format``, ``join``, ``sum``, ``tojson``, ``list`` …), text
  conversions of containers (``{{ a_list }}``), and buffered output (macros, ``{% set %}``
  blocks).  Everything built along the way is also charged to a per-render allocation
  budget, so many allowed allocations cannot add up to a large amount of memory.
* **Output**: the template is rendered with ``generate()`` and stopped as soon as the
  output is longer than the limit.

Every failure is a :class:`TemplateError` whose ``str()`` is a one-line reason.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import re
import sys
import threading
import time
import types
from abc import ABCMeta
from collections import abc, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NoReturn, TypeVar, cast

import jinja2.environment
import jinja2.runtime
import jinja2.sandbox
import jinja2.utils
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import (
    SecurityError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.ext import Extension, loopcontrols
from jinja2.filters import make_attrgetter, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context, Macro, Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace, missing, object_type_repr, pass_environment, pass_eval_context
from markupsafe import EscapeFormatter, Markup

__all__ = ["FALLBACK_CHATML", "ChatTemplate", "TemplateError", "TemplateLimits"]

_T = TypeVar("_T")


class TemplateError(Exception):
    """A chat template could not be rendered; str() is a one-line reason for the user."""


#: The template used when a model has none: ChatML, as used by SmolLM2, Qwen and others.
FALLBACK_CHATML: Final[str] = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TemplateLimits:
    """Resource limits for compiling and rendering one chat template.

    ``time_s`` bounds wall-clock time per compile and per render, ``max_output_chars``
    bounds the rendered prompt and any single string or list built on the way, and
    ``max_int_argument`` bounds integers passed to calls and filters (widths, counts).
    The cumulative allocation budget of one render is ``16 * max_output_chars`` units
    (a character of ASCII text is 1 unit, a list item 32).
    """

    time_s: float = 2.0
    max_output_chars: int = 4_000_000
    max_int_argument: int = 1_000_000

    def __post_init__(self) -> None:
        """Reject limits that would disable a guard."""
        if not self.time_s > 0:
            raise ValueError("time_s must be positive")
        if self.max_output_chars <= 0 or self.max_int_argument <= 0:
            raise ValueError("max_output_chars and max_int_argument must be positive")


_DEFAULT_LIMITS: Final = TemplateLimits()

#: Longest template source accepted.  Real templates are under 50 KB; Jinja compiles
#: about 100 KB a second here, so much longer ones would hit the time limit anyway.
MAX_SOURCE_CHARS: Final = 200_000

#: Cumulative allocation budget of one render, as a multiple of ``max_output_chars``.
_BUDGET_FACTOR: Final = 16
#: Budget units charged per item of a list or tuple (pointer plus a typical small object).
_LIST_ITEM_UNITS: Final = 32
#: Budget units charged per new object (its header), on top of its contents.
_OBJECT_UNITS: Final = 64
#: Budget units charged per entry of a dict, set or frozenset.
_MAPPING_ITEM_UNITS: Final = 100
#: Integers may not grow beyond this many bits (``str()`` refuses 4,300 digits anyway).
_MAX_INT_BITS: Final = 16_384
#: The trace function reads the clock once per this many trace events.
_TRACE_CHECK_EVERY: Final = 64
#: Most keys a template may hash into a new dict or set in one C call (``dict(pairs)``,
#: ``{}.fromkeys()``, ``keys - other``).  Integer keys with equal hashes are easy to make,
#: and inserting n of them costs n² comparisons that cannot be interrupted.
_MAX_HASHED_ITEMS: Final = 10_000
#: Largest ``str.translate`` table (a table with colliding keys is slow to look up).
_MAX_TRANSLATE_TABLE: Final = 256
#: Deepest nesting of data converted to text or JSON (Python's own limit is ~1,000).
_MAX_NESTING: Final = 500
#: Walkers over big containers read the clock once per this many items.
_WALK_CHECK_EVERY: Final = 0xFFFF
#: ``strftime_now`` refuses formats longer than this.
_MAX_STRFTIME_FORMAT: Final = 256
#: ``str()`` of a template error message is cut to this many characters.
_MAX_REASON_CHARS: Final = 300
#: Markup escaping makes text at most this many times longer (``"`` becomes ``&#34;``).
_ESCAPE_FACTOR: Final = 6

#: The file name Jinja gives compiled templates.
_TEMPLATE_FILENAME: Final = "<template>"
_DIGITS: Final = re.compile(r"\d+")
_WORDS: Final = re.compile(r"\w+")
#: The characters :meth:`str.splitlines` splits on.
_LINE_BREAKS: Final = (
    "\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
)
_SEQUENCE_TYPES: Final = (str, bytes, list, tuple)
_COLLECTION_TYPES: Final = (
    list,
    tuple,
    set,
    frozenset,
    deque,
    abc.KeysView,
    abc.ValuesView,
    abc.ItemsView,
)
#: Objects whose attributes a template never needs: classes, modules, functions,
#: methods, code, frames, generators and descriptors.
_OPAQUE_TYPES: Final = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    functools.partial,
)
#: Filters that convert their input to text: a container input is size-checked first.
_STRINGIFYING_FILTERS: Final = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "float",
        "forceescape",
        "format",
        "indent",
        "int",
        "lower",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)
#: Filters removed from the environment: unused by chat templates and hard to bound.
_REMOVED_FILTERS: Final = ("pprint", "urlize")
_END: Final = object()
#: Containers whose text (repr) a built-in may build, e.g. in an error message.
_CONTAINER_TYPES: Final = (list, tuple, dict, set, frozenset)
#: Inputs whose length is known before a filter runs.
_SIZED_TYPES: Final = (str, bytes, list, tuple, dict, set, frozenset)
#: Filters that build a new object per input item: budget units reserved per item
#: before they run, and their generators are charged item by item.
_PER_ITEM_RESERVE: Final = {
    "list": 32,
    "sort": 32,
    "reverse": 32,
    "unique": 32,
    "batch": 96,
    "slice": 96,
    "items": 96,
    "dictsort": 96,
    "groupby": 200,
}
#: Results that are charged to the allocation budget.
_CHARGED_TYPES: Final = (str, bytes, list, tuple, dict, set, frozenset)
#: ``str``/``bytes`` methods whose result can be much longer than their input.
_CHECKED_TEXT_METHODS: Final = frozenset(
    {
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "replace",
        "join",
        "translate",
        "encode",
        "split",
        "rsplit",
        "splitlines",
    }
)


# -- small helpers ------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Collapse whitespace and cut ``text`` so that it fits on one line."""
    flat = " ".join(text[: _MAX_REASON_CHARS * 4].split())
    if len(flat) > _MAX_REASON_CHARS:
        flat = flat[: _MAX_REASON_CHARS - 1] + "…"
    return flat


def _number(n: int) -> str:
    """Describe ``n`` for a message, without converting a huge integer to text."""
    if n.bit_length() <= 64:
        return f"{n:,}"
    return f"a {n.bit_length():,}-bit number"


def _callee_name(obj: object) -> str:
    """A short name for a called object, for messages."""
    name = getattr(obj, "__name__", None)
    if isinstance(name, str):
        return f"{name}()"
    return f"a {type(obj).__name__} object"


def _is_int(value: object) -> bool:
    """True for ints (including bools, which are small)."""
    return isinstance(value, int)


def _arg(
    params: Sequence[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any
) -> Any:
    """Read a filter parameter given by position or by keyword."""
    if len(params) > index:
        return params[index]
    return kwargs.get(name, default)


def _line_count(text: str) -> int:
    """Upper bound of ``len(text.splitlines()) + 1``."""
    return 1 + sum(text.count(brk) for brk in _LINE_BREAKS)


def _escaped_len(text: str) -> int:
    """Exact length of ``markupsafe.escape(text)``."""
    return (
        len(text)
        + 4 * text.count("&")
        + 3 * text.count("<")
        + 3 * text.count(">")
        + 4 * text.count("'")
        + 4 * text.count('"')
    )


def _alloc_units(value: object) -> int:
    """Budget units charged for a newly built ``value`` (about its size in bytes)."""
    if isinstance(value, str):
        return _OBJECT_UNITS + (len(value) if value.isascii() else 4 * len(value))
    if isinstance(value, bytes):
        return _OBJECT_UNITS + len(value)
    if isinstance(value, (list, tuple)):
        return _OBJECT_UNITS + _LIST_ITEM_UNITS * len(value)
    if isinstance(value, (dict, set, frozenset)):
        return _OBJECT_UNITS + _MAPPING_ITEM_UNITS * len(value)
    return 0


def _input_units(value: object) -> int:
    """Rough budget units of an existing argument: what a call could copy from it."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return _MAPPING_ITEM_UNITS * len(value)
    return 0


def _namespace_attrs(value: Namespace) -> dict[str, Any]:
    """The attribute dict of a Jinja ``namespace()`` object."""
    attrs = object.__getattribute__(value, "_Namespace__attrs")
    return attrs if isinstance(attrs, dict) else {}


# -- render state and time limit ----------------------------------------------------------

#: Code whose loops are bounded (or check the clock themselves) is not line-traced, which
#: keeps the tracing overhead low; its calls into other code are still traced.  The names
#: come from code objects, so they match ``co_filename`` even in a frozen application.
_UNTRACED_FILES: Final = frozenset(
    inspect.getfile(function)
    for function in (
        _one_line,  # this module
        jinja2.environment.Environment.__init__,
        jinja2.runtime.markup_join,
        jinja2.sandbox.safe_range,
        jinja2.utils.pass_context,
        ABCMeta.__instancecheck__,
    )
)


class _RenderState:
    """Per-thread state of one compile or render: deadline and allocation budget."""

    __slots__ = ("budget", "deadline", "expired", "time_s", "verb")

    def __init__(self, limits: TemplateLimits, verb: str) -> None:
        """Start the clock for one compile or render (``verb`` names it in messages)."""
        self.time_s = limits.time_s
        self.verb = verb
        self.deadline = time.monotonic() + limits.time_s
        self.budget = _BUDGET_FACTOR * limits.max_output_chars
        self.expired = False

    def timeout_error(self) -> TemplateError:
        """The error raised when the deadline has passed."""
        return TemplateError(
            f"chat template took longer than {self.time_s} s to {self.verb}; stopped"
        )

    def check_time(self) -> None:
        """Raise once the deadline has passed (and on every later check)."""
        if self.expired or time.monotonic() > self.deadline:
            self.expired = True
            raise self.timeout_error()


def _make_tracer(
    state: _RenderState, cap: int, *, lines: bool = True
) -> Callable[[types.FrameType, str, Any], Any]:
    """Build a trace function that stops the thread once ``state``'s deadline passes.

    With ``lines``, it traces lines in every frame except those in ``_UNTRACED_FILES``
    (without, only calls: enough for Jinja's compiler, whose loops all call), and every
    ``_TRACE_CHECK_EVERY`` events it reads the clock and, in template code, checks the
    output buffers of macros and blocks (lists longer than ``cap`` items).  It raises
    :class:`TemplateError` from inside the traced frame.
    """
    deadline = state.deadline
    clock = time.monotonic
    countdown = _TRACE_CHECK_EVERY

    def tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        """Count events; check the clock and the buffers now and then."""
        nonlocal countdown
        countdown -= 1
        if countdown <= 0:
            countdown = _TRACE_CHECK_EVERY
            if state.expired or clock() > deadline:
                state.expired = True
                raise state.timeout_error()
            if frame.f_code.co_filename == _TEMPLATE_FILENAME:
                for value in frame.f_locals.values():
                    if type(value) is list and len(value) > cap:
                        raise TemplateError(
                            f"chat template buffered more than {cap:,} pieces of output; stopped"
                        )
        if event == "call" and (not lines or frame.f_code.co_filename in _UNTRACED_FILES):
            return None
        return tracer

    return tracer


# -- size estimates -----------------------------------------------------------------------


def _text_leaf_size(value: object, top: bool) -> tuple[int, Iterator[Any] | None]:
    """Size of ``str(value)`` (``top``) or ``repr(value)`` (nested) and its children."""
    if isinstance(value, str):
        if top:
            return len(value), None
        return len(value) + (10 if isinstance(value, Markup) else 2), None
    if value is None or isinstance(value, bool):
        return 5, None
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2, None
    if isinstance(value, float):
        return 25, None
    if isinstance(value, bytes):
        return 4 * len(value) + 3, None
    if isinstance(value, Mapping):
        return 2 + 4 * len(value), iter(_flatten_items(value.items()))
    if isinstance(value, Namespace):
        attrs = _namespace_attrs(value)
        return 14 + 4 * len(attrs), iter(_flatten_items(attrs.items()))
    if isinstance(value, _COLLECTION_TYPES):
        return 14 + 3 * len(value), iter(value)
    if isinstance(value, Undefined):
        return (0 if top else 9), None
    return 100, None


def _flatten_items(items: Iterable[tuple[Any, Any]]) -> Iterator[Any]:
    """Yield keys and values of mapping items in turn."""
    for key, item in items:
        yield key
        yield item


def _json_leaf_size(value: object, ensure_ascii: bool) -> int:
    """Size of the JSON text of a scalar (0 for values JSON cannot encode)."""
    if isinstance(value, str):
        factor = 12 if ensure_ascii and not value.isascii() else 1
        return factor * len(value) + 2
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2
    if isinstance(value, float):
        return 25
    return 0


# -- the guarded environment --------------------------------------------------------------


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` routed through the environment's size check."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """Compile ``a ~ b`` to ``environment.guarded_join((a, b), autoescape)``."""
        self.write("environment.guarded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")


class _GenerationTagExtension(Extension):
    """``{% generation %}…{% endgeneration %}`` as in ``transformers``: renders its body."""

    tags = {"generation"}  # noqa: RUF012 - the type is fixed by Extension

    def parse(self, parser: Parser) -> list[nodes.Node]:
        """Parse the tag and return its body unchanged."""
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise_exception(message: object = "") -> NoReturn:
    """The ``raise_exception(msg)`` helper of HF chat templates."""
    if isinstance(message, str):
        text = message
    elif isinstance(message, int):
        text = _number(message)
    elif isinstance(message, float) or message is None:
        text = repr(message)
    else:  # never convert containers: their text could be huge
        text = f"a {type(message).__name__}"
    raise TemplateError(_one_line(text) or "the chat template raised an error")


class _BoundedUndefined(Undefined):
    """Jinja's ``Undefined``, whose error messages never print a big key or object."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        """Like Jinja's message, but showing at most the start of a text key."""
        if self._undefined_hint:
            return _one_line(self._undefined_hint)
        name = self._undefined_name
        shown = repr(name[:80]) if isinstance(name, str) else f"a key of type {type(name).__name__}"
        if self._undefined_obj is missing:
            return f"{shown} is undefined"
        return f"{object_type_repr(self._undefined_obj)!r} has no attribute or item {shown}"


def _strftime_now(fmt: object) -> str:
    """The ``strftime_now(fmt)`` helper of HF chat templates (e.g. Llama 3.1's date)."""
    if not isinstance(fmt, str):
        raise TemplateError("strftime_now() needs a text format")
    if len(fmt) > _MAX_STRFTIME_FORMAT:
        raise TemplateError(
            f"strftime_now() format is longer than {_MAX_STRFTIME_FORMAT} characters"
        )
    return datetime.now().strftime(fmt)


class _GuardedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable sandbox that also bounds time, memory and output of templates."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "-", "%"})

    def __init__(self, limits: TemplateLimits) -> None:
        """Configure the sandbox like ``transformers`` does, plus the guards."""
        super().__init__(
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
            extensions=[loopcontrols, _GenerationTagExtension],
            finalize=self._finalize_output,
            undefined=_BoundedUndefined,
        )
        self.limits = limits
        self._local = threading.local()
        self.globals.pop("lipsum", None)
        self.globals["raise_exception"] = _raise_exception
        self.globals["strftime_now"] = _strftime_now
        self._no_int_check: frozenset[int] = frozenset(
            id(obj)
            for obj in (
                _raise_exception,
                self.globals.get("namespace"),
                self.globals.get("dict"),
                self.globals.get("cycler"),
                self.globals.get("joiner"),
            )
        )
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters["tojson"] = _tojson_filter
        self.filters["join"] = _join_filter
        self.filters["sum"] = _sum_filter
        self.filters["list"] = _list_filter
        self.filters["wordcount"] = _wordcount_filter
        for name, func in list(self.filters.items()):
            self.filters[name] = self._guard_filter(name, func)

    # -- state

    def state(self) -> _RenderState | None:
        """The state of the compile or render running in this thread, if any."""
        state: _RenderState | None = getattr(self._local, "state", None)
        return state

    def run_guarded(
        self, state: _RenderState, work: Callable[[], _T], *, trace_lines: bool = True
    ) -> _T:
        """Run ``work()`` in this thread under ``state``'s deadline and budget."""
        self._local.state = state
        previous = sys.gettrace()
        sys.settrace(_make_tracer(state, self.limits.max_output_chars, lines=trace_lines))
        try:
            result = work()
        finally:
            sys.settrace(previous)
            self._local.state = None
        if state.expired:  # the timeout was raised somewhere that swallowed it
            raise state.timeout_error()
        return result

    def tick(self) -> None:
        """Check the deadline (for loops in this module, which are not line-traced)."""
        state = self.state()
        if state is not None:
            state.check_time()

    # -- checks

    def refuse(self, what: str) -> NoReturn:
        """Raise the error for an operation that would build too much."""
        raise TemplateError(f"chat template tried to {what}; refused")

    def check_size(self, size: int, how: str, *, items: bool = False) -> None:
        """Refuse to make ``size`` characters (or list ``items``) if over the limit."""
        cap = self.limits.max_output_chars
        if size > cap:
            unit = "items" if items else "characters"
            self.refuse(f"make {_number(size)} {unit} with {how} (the limit is {cap:,})")

    def reserve(self, units: int, how: str) -> None:
        """Refuse an allocation of ``units`` that the remaining budget cannot pay for."""
        state = self.state()
        if state is not None and units > state.budget:
            self.overspent(how)

    def overspent(self, how: str) -> NoReturn:
        """Raise the error for a render that has used up its allocation budget."""
        raise TemplateError(f"chat template built too much data while rendering ({how}); stopped")

    def charge(self, value: object, how: str) -> None:
        """Charge a newly built ``value`` to the render's budget; refuse when spent."""
        if isinstance(value, (str, bytes)) and len(value) > self.limits.max_output_chars:
            self.check_size(len(value), how)
        state = self.state()
        if state is None:
            return
        if time.monotonic() > state.deadline:
            state.check_time()
        units = _alloc_units(value)
        if units:
            state.budget -= units
            if state.budget < 0:
                self.overspent(how)

    def spend(self, units: int, how: str) -> None:
        """Charge ``units`` to the budget now (for results whose real cost is hidden)."""
        state = self.state()
        if state is not None:
            state.budget -= units
            if state.budget < 0:
                self.overspent(how)

    def refuse_int(self, callee: object, value: int) -> None:
        """Refuse an integer argument over the limit, unless ``callee`` takes any number."""
        if isinstance(callee, Macro) or (
            not isinstance(callee, str)
            and (id(callee) in self._no_int_check or getattr(callee, "chat_template_format", False))
        ):
            return
        label = callee if isinstance(callee, str) else _callee_name(callee)
        raise TemplateError(
            f"chat template passed the number {_number(value)} to {label}; "
            f"numbers above {self.limits.max_int_argument:,} are refused"
        )

    def check_int_args(
        self, callee: object, args: Iterable[Any], kwargs: Mapping[str, Any]
    ) -> None:
        """Refuse integer arguments above ``max_int_argument`` (widths, counts, …).

        ``callee`` is a label, or the called object (named only if the check fails).
        """
        limit = self.limits.max_int_argument
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not -limit <= value <= limit:
                self.refuse_int(callee, value)

    def text_size(self, value: object, *, limit: int | None = None) -> int:
        """Estimate ``len(str(value))`` without building it; stops once over ``limit``."""
        if isinstance(value, str):
            return len(value)
        cap = self.limits.max_output_chars if limit is None else limit
        total = 0
        stack: list[Iterator[Any]] = [iter((value,))]
        top = True
        steps = 0
        while stack:
            item = next(stack[-1], _END)
            if item is _END:
                stack.pop()
                continue
            steps += 1
            if steps & _WALK_CHECK_EVERY == 0:
                self.tick()
            size, children = _text_leaf_size(item, top)
            top = False
            total += size
            if total > cap:
                return total
            if children is not None:
                stack.append(children)
                if len(stack) > _MAX_NESTING:
                    self.too_deep()
        return total

    def check_hashed(self, value: Any, how: str) -> Any:
        """Refuse to hash more than ``_MAX_HASHED_ITEMS`` keys in one call.

        Returns ``value``, or a list of its items when it is an iterator.
        """
        if not isinstance(value, abc.Sized):
            if not isinstance(value, abc.Iterable) or isinstance(value, (str, bytes)):
                return value
            value = list(itertools.islice(value, _MAX_HASHED_ITEMS + 1))
        if len(value) > _MAX_HASHED_ITEMS:
            self.refuse(
                f"hash {_number(len(value))} keys with {how} (the limit is {_MAX_HASHED_ITEMS:,})"
            )
        return value

    def too_deep(self) -> NoReturn:
        """Raise the error for data nested too deeply to convert to text."""
        self.refuse(f"convert data nested more than {_MAX_NESTING} levels deep to text")

    def check_text(self, value: object, what: str) -> int:
        """Refuse to convert ``value`` to text if the text would be over the limit."""
        size = self.text_size(value)
        if size > self.limits.max_output_chars:
            self.refuse(
                f"convert a {type(value).__name__} of about {_number(size)} characters "
                f"to text with {what}"
            )
        return size

    def json_size(
        self,
        value: object,
        *,
        ensure_ascii: bool,
        pretty: bool,
        indent_len: int,
        item_sep: int,
        key_sep: int,
    ) -> int:
        """Estimate the length of ``json.dumps(value, …)``; stops once over the limit."""
        cap = self.limits.max_output_chars
        total = 0
        stack: list[Iterator[Any]] = [iter((value,))]
        steps = 0
        while stack:
            item = next(stack[-1], _END)
            if item is _END:
                stack.pop()
                continue
            steps += 1
            if steps & _WALK_CHECK_EVERY == 0:
                self.tick()
            depth = len(stack) - 1
            if isinstance(item, (Mapping, list, tuple)):
                count = len(item)
                per_item = item_sep + (1 + (depth + 1) * indent_len if pretty else 0)
                size = 2 + count * per_item + (1 + depth * indent_len if pretty else 0)
                if isinstance(item, Mapping):
                    size += count * key_sep
                    stack.append(iter(_flatten_items(item.items())))
                else:
                    stack.append(iter(item))
                if len(stack) > _MAX_NESTING:
                    self.too_deep()
                total += size
            else:
                total += _json_leaf_size(item, ensure_ascii)
            if total > cap:
                return total
        return total

    def percent_size(self, fmt: str, args: object, *, escape: bool) -> int:
        """Estimate the length of ``fmt % args`` (an over-estimate; never builds it)."""
        limit = self.limits.max_int_argument
        size = len(fmt)
        if "%" in fmt:
            for count, match in enumerate(_DIGITS.finditer(fmt)):
                if count & _WALK_CHECK_EVERY == 0:
                    self.tick()
                digits = match.group()
                if len(digits) > 15 or int(digits) > limit:
                    raise TemplateError(
                        f"chat template used a width or precision above {limit:,} in a % format"
                    )
                size += int(digits)
        if isinstance(args, tuple):
            self.check_int_args("a % format", args, {})
            size += sum(self.text_size(arg) + (abs(arg) if _is_int(arg) else 0) for arg in args)
        elif isinstance(args, Mapping):
            self.check_int_args("a % format", args.values(), {})
            largest = max((self.text_size(arg) for arg in args.values()), default=0)
            size += fmt.count("%") * largest
        else:
            self.check_int_args("a % format", (args,), {})
            size += self.text_size(args)
        return size * _ESCAPE_FACTOR if escape else size

    def format_spec_width(self, spec: str) -> int:
        """Sum of the numbers in a ``str.format`` spec; refuse widths over the limit."""
        limit = self.limits.max_int_argument
        total = 0
        for match in _DIGITS.finditer(spec):
            digits = match.group()
            if len(digits) > 15 or int(digits) > limit:
                raise TemplateError(
                    f"chat template used a width or precision above {limit:,} in a format string"
                )
            total += int(digits)
        return total

    # -- hooks called by the sandbox and by compiled templates

    def _finalize_output(self, value: Any) -> Any:
        """Check ``{{ value }}`` before Jinja converts it to text."""
        if not isinstance(value, (str, int, float)) and value is not None:
            self.check_text(value, "{{ }}")
        return value

    def guarded_join(self, values: tuple[Any, ...], autoescape: bool) -> str:
        """The ``~`` operator: size-check the operands, then join them as Jinja does."""
        size = sum(self.text_size(value) for value in values)
        if autoescape:
            size *= _ESCAPE_FACTOR
        self.check_size(size, "~")
        self.reserve(size, "~")
        result = markup_join(values) if autoescape else str_join(values)
        self.charge(result, "~")
        return result

    def concat(self, parts: Iterable[str]) -> str:
        """Join buffered output (macros, ``{% set %}`` and filter blocks) after a size check."""
        items = parts if isinstance(parts, list) else list(parts)
        size = sum(map(len, items))
        self.check_size(size, "a block or macro")
        self.reserve(size, "a block or macro")
        result = "".join(items)
        self.charge(result, "a block or macro")
        return result

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rule, and no attributes of classes, functions, modules, etc."""
        if isinstance(obj, _OPAQUE_TYPES) or isinstance(value, types.ModuleType):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Fail at once (instead of returning an undefined) on an unsafe attribute."""
        raise TemplateError(
            f"chat template tried to access an unsafe attribute {_one_line(repr(attribute[:80]))} "
            f"of a {type(obj).__name__} object"
        )

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscript in the sandbox; a slice is charged to the budget."""
        if type(argument) is slice:
            result = super().getitem(obj, argument)
            self.charge(result, "a slice")
            return result
        if type(obj) in (dict, list, tuple):  # fast path: what the sandbox tries first
            try:
                return obj[argument]
            except (TypeError, LookupError):
                pass
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Check ``*``, ``**``, ``+``, ``-`` and ``%`` before computing them."""
        state: _RenderState | None = getattr(self._local, "state", None)
        if state is not None and time.monotonic() > state.deadline:
            state.check_time()
        if operator == "-":
            if isinstance(left, abc.Set) or isinstance(right, abc.Set):  # e.g. keys() - list
                self.check_hashed(left, "-")
                self.check_hashed(right, "-")
            return left - right
        if operator == "+" and type(left) is str and type(right) is str:  # the common case
            size = len(left) + len(right)
            if size > self.limits.max_output_chars or (state is not None and size > state.budget):
                self._check_add(left, right)
            text = left + right
            if state is not None:
                state.budget -= size if text.isascii() else 4 * size
                if state.budget < 0:
                    self.overspent("+")
            return text
        if operator == "*":
            self._check_multiply(left, right)
        elif operator == "**":
            self._check_power(left, right)
        elif operator == "+":
            self._check_add(left, right)
        elif operator == "%" and isinstance(left, (str, bytes)):
            size = self.percent_size(
                left if isinstance(left, str) else left.decode("latin-1"),
                right,
                escape=isinstance(left, Markup),
            )
            self.check_size(size, "%")
            self.reserve(size, "%")
        result = self.binop_table[operator](left, right)
        self.charge(result, operator)
        return result

    def _check_multiply(self, left: Any, right: Any) -> None:
        """Refuse repeating a sequence too often, or multiplying huge integers."""
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                self.refuse(
                    f"compute a number of about {left.bit_length() + right.bit_length():,} bits"
                )
            return
        if isinstance(left, _SEQUENCE_TYPES) and _is_int(right):
            seq, times = left, right
        elif isinstance(right, _SEQUENCE_TYPES) and _is_int(left):
            seq, times = right, left
        else:
            return
        if times <= 0:
            return
        size = len(seq) * times
        is_text = isinstance(seq, (str, bytes))
        self.check_size(size, "*", items=not is_text)
        self.reserve(size * (1 if is_text else _LIST_ITEM_UNITS), "*")

    def _check_power(self, left: Any, right: Any) -> None:
        """Refuse integer powers with huge results."""
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            bits = left.bit_length() * right
            if bits > _MAX_INT_BITS:
                self.refuse(f"compute a number of about {_number(bits)} bits with **")

    def _check_add(self, left: Any, right: Any) -> None:
        """Refuse concatenations with results over the limit."""
        if isinstance(left, _SEQUENCE_TYPES) and isinstance(right, _SEQUENCE_TYPES):
            size = len(left) + len(right)
            if isinstance(left, Markup) or isinstance(right, Markup):
                size *= _ESCAPE_FACTOR
            is_text = isinstance(left, (str, bytes))
            self.check_size(size, "+", items=not is_text)
            self.reserve(size if is_text else size * _LIST_ITEM_UNITS, "+")

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``obj`` from the template after checking its arguments; charge the result."""
        state: _RenderState | None = getattr(self._local, "state", None)
        if state is not None and time.monotonic() > state.deadline:
            state.check_time()
        limit = self.limits.max_int_argument
        for value in args:
            if type(value) is int and not -limit <= value <= limit:
                self.refuse_int(obj, value)
        if kwargs:
            for value in kwargs.values():
                if type(value) is int and not -limit <= value <= limit:
                    self.refuse_int(obj, value)
        owner = getattr(obj, "__self__", None)
        if state is not None and type(obj) is types.BuiltinMethodType:
            # What a built-in can copy is bounded by its inputs: refuse it when they are
            # bigger than what is left of the budget.
            units = _input_units(owner)
            for value in args:
                units += _input_units(value)
                if isinstance(value, _CONTAINER_TYPES):  # e.g. list.index() prints it on error
                    self.check_text(value, _callee_name(obj))
            if units > state.budget:
                self.overspent(_callee_name(obj))
        if (
            isinstance(owner, (str, bytes))
            and isinstance(obj, (types.BuiltinMethodType, types.MethodType))
            and obj.__name__ in _CHECKED_TEXT_METHODS
        ):
            args = self._check_text_method(owner, obj.__name__, args, kwargs)
        elif args and (
            obj is dict
            or (
                (owner is dict or isinstance(owner, dict))  # {}.fromkeys is a class method
                and getattr(obj, "__name__", "") == "fromkeys"
            )
        ):
            args = (self.check_hashed(args[0], _callee_name(obj)), *args[1:])
        result = super().call(context, obj, *args, **kwargs)
        if type(result) is str and state is not None:  # the common case, inlined
            size = len(result)
            if size > self.limits.max_output_chars:
                self.check_size(size, _callee_name(obj))
            state.budget -= size if result.isascii() else 4 * size
            if state.budget < 0:
                self.overspent(_callee_name(obj))
        elif isinstance(result, _CHARGED_TYPES):
            self.charge(result, _callee_name(obj))
        return result

    def _check_text_method(
        self, text: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[Any, ...]:
        """Refuse ``str``/``bytes`` method calls whose result would be over the limit.

        Returns the arguments to call with (``join``'s iterable is materialized once).
        """
        escape = _ESCAPE_FACTOR if isinstance(text, Markup) else 1
        size: int | None = None
        if name in ("center", "ljust", "rjust", "zfill"):
            width = _arg(args, kwargs, 0, "width", 0)
            if _is_int(width):
                size = max(len(text), width)
        elif name == "expandtabs":
            tabsize = _arg(args, kwargs, 0, "tabsize", 8)
            if _is_int(tabsize):
                tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
                size = len(text) + tabs * max(tabsize, 0)
        elif name == "replace":
            size = self.replace_size(text, args, kwargs) * escape
        elif name == "join" and args:
            items = args[0] if isinstance(args[0], (list, tuple)) else list(args[0])
            self.check_size(len(items), "join()", items=True)
            size = len(text) * max(len(items) - 1, 0)
            for count, item in enumerate(items):
                if count & _WALK_CHECK_EVERY == 0:
                    self.tick()
                size += len(item) * escape if isinstance(item, (str, bytes)) else 0
                if size > self.limits.max_output_chars:
                    break
            args = (items, *args[1:])
        elif name == "translate" and args:
            if isinstance(args[0], abc.Sized) and len(args[0]) > _MAX_TRANSLATE_TABLE:
                self.refuse(f"use a translate() table of more than {_MAX_TRANSLATE_TABLE} entries")
            size = len(text) * self._translate_factor(args[0])
        elif name == "encode":
            size = 4 * len(text)
        elif name in ("split", "rsplit", "splitlines"):
            pieces = self._split_pieces(text, name, args, kwargs)
            self.check_size(pieces, f"{name}()", items=True)
            units = pieces * (_LIST_ITEM_UNITS + _OBJECT_UNITS) + len(text)
            self.reserve(units, f"{name}()")
            self.spend(units, f"{name}()")
        if size is not None:
            self.check_size(size, f"{name}()")
            self.reserve(size, f"{name}()")
        return args

    def _split_pieces(
        self, text: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> int:
        """Upper bound of the number of pieces ``split``/``rsplit``/``splitlines`` make."""
        if name == "splitlines":
            return _line_count(text) if isinstance(text, str) else text.count(b"\n") + 1
        sep = _arg(args, kwargs, 0, "sep", None)
        maxsplit = _arg(args, kwargs, 1, "maxsplit", -1)
        if isinstance(sep, (str, bytes)) and sep:
            try:
                pieces = text.count(sep) + 1  # type: ignore[arg-type]
            except TypeError:  # str/bytes mix: the real call raises too
                return 1
        else:
            pieces = (len(text) + 1) // 2 + 1
        if _is_int(maxsplit) and maxsplit >= 0:
            pieces = min(pieces, maxsplit + 1)
        return pieces

    def replace_size(
        self, text: str | bytes, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> int:
        """Length of ``text.replace(old, new, count)``, computed without replacing."""
        old = _arg(args, kwargs, 0, "old", "")
        new = _arg(args, kwargs, 1, "new", "")
        count = _arg(args, kwargs, 2, "count", -1)
        if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
            return len(text)
        try:
            hits = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
        except TypeError:  # str/bytes mix: the real call raises too
            return len(text)
        if _is_int(count) and count >= 0:
            hits = min(hits, count)
        return len(text) + hits * max(len(new) - len(old), 0)

    def _translate_factor(self, table: object) -> int:
        """The longest replacement in a ``str.translate`` table (at least 1)."""
        if isinstance(table, Mapping):
            values: Iterable[Any] = table.values()
        elif isinstance(table, (list, tuple)):
            values = table
        else:
            return 1
        return max((len(v) for v in values if isinstance(v, (str, bytes))), default=1) or 1

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``str.format``/``format_map`` with a formatter that bounds its output."""
        if not isinstance(
            value, (types.MethodType, types.BuiltinMethodType)
        ) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter: _GuardedFormatter
        if isinstance(f_self, Markup):
            formatter = _GuardedEscapeFormatter(self, escape=f_self.escape)
        else:
            formatter = _GuardedFormatter(self)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            """Format through the guarded formatter."""
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return str_type(formatter.vformat(f_self, args, kwargs))

        functools.update_wrapper(wrapper, value)
        wrapper.chat_template_format = True  # type: ignore[attr-defined]
        return wrapper

    def charging_iterator(self, items: Iterator[Any], how: str) -> Iterator[Any]:
        """Yield from ``items``, charging each new item (e.g. ``batch``'s lists)."""
        for item in items:
            self.charge(item, how)
            yield item

    # -- filters

    def _guard_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a filter: check its arguments (and input) first, charge its result."""
        skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        precheck = _FILTER_PRECHECKS.get(name)
        stringifies = name in _STRINGIFYING_FILTERS
        per_item = _PER_ITEM_RESERVE.get(name, 0)
        label = f"the {name} filter"
        env = self

        limit = self.limits.max_int_argument
        local = self._local

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            """Run the filter within the limits."""
            state: _RenderState | None = getattr(local, "state", None)
            if state is not None and time.monotonic() > state.deadline:
                state.check_time()
            params = args[skip:] if skip else args
            for value in params[1:]:
                if type(value) is int and not -limit <= value <= limit:
                    env.refuse_int(label, value)
            if kwargs:
                for value in kwargs.values():
                    if type(value) is int and not -limit <= value <= limit:
                        env.refuse_int(label, value)
            if params:
                if stringifies and type(params[0]) is not str:
                    env.check_text(params[0], label)
                if precheck is not None:
                    precheck(env, params, kwargs)
                if per_item and isinstance(params[0], _SIZED_TYPES):
                    env.check_size(len(params[0]), label, items=True)
                    env.reserve(per_item * len(params[0]), label)
            result = func(*args, **kwargs)
            if per_item and isinstance(result, types.GeneratorType):
                return env.charging_iterator(result, label)
            if type(result) is str and state is not None:  # the common case, inlined
                size = len(result)
                if size > env.limits.max_output_chars:
                    env.check_size(size, label)
                state.budget -= size if result.isascii() else 4 * size
                if state.budget < 0:
                    env.overspent(label)
            elif isinstance(result, _CHARGED_TYPES):
                env.charge(result, label)
            return result

        return guarded


class _GuardedFormatter(SandboxedFormatter):
    """The sandbox's ``str.format`` formatter, refusing widths and output over the limits."""

    def __init__(self, env: _GuardedEnvironment, **kwargs: Any) -> None:
        """Create a formatter for one ``str.format`` method of one string."""
        super().__init__(env, **kwargs)
        self._guard = env
        self._produced = 0

    def vformat(self, format_string: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        """Format, counting the characters produced by the fields."""
        self._produced = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        """``!r``/``!s``/``!a`` conversions, after a size check."""
        if conversion is not None:
            size = self._guard.text_size(value) * (10 if conversion in ("r", "a") else 1)
            self._guard.check_size(self._produced + size, "str.format()")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        """Format one field, refusing it when the output would pass the limit."""
        size = self._guard.format_spec_width(format_spec) + self._guard.text_size(value)
        if isinstance(self, EscapeFormatter):
            size *= _ESCAPE_FACTOR
        self._guard.check_size(self._produced + size, "str.format()")
        result = super().format_field(value, format_spec)
        self._produced += len(result)
        self._guard.check_size(self._produced, "str.format()")
        return result


class _GuardedEscapeFormatter(_GuardedFormatter, EscapeFormatter):
    """The guarded formatter for ``Markup.format`` (escapes its fields)."""


def _env_of(environment: object) -> _GuardedEnvironment:
    """The guarded environment a filter runs in."""
    if not isinstance(environment, _GuardedEnvironment):  # pragma: no cover - wiring error
        raise TypeError("chat template filters need the guarded environment")
    return environment


# -- replacement filters ------------------------------------------------------------------


@pass_environment
def _tojson_filter(
    environment: object,
    value: Any,
    ensure_ascii: bool = False,
    indent: int | str | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """``tojson`` as in ``transformers`` (``ensure_ascii=False``, not HTML-escaped), bounded."""
    env = _env_of(environment)
    if indent is None:
        indent_len = 0
    elif isinstance(indent, int):
        indent_len = max(indent, 0)
    elif isinstance(indent, str):
        indent_len = len(indent)
    else:
        raise TypeError("tojson indent must be a number or text")
    if separators is None:
        item_sep, key_sep = (", ", ": ") if indent is None else (",", ": ")
    elif (
        isinstance(separators, (list, tuple))
        and len(separators) == 2
        and all(isinstance(sep, str) for sep in separators)
    ):
        item_sep, key_sep = separators
    else:
        raise TypeError("tojson separators must be two strings")
    size = env.json_size(
        value,
        ensure_ascii=bool(ensure_ascii),
        pretty=indent is not None,
        indent_len=indent_len,
        item_sep=len(item_sep),
        key_sep=len(key_sep),
    )
    env.check_size(size, "the tojson filter")
    env.reserve(size, "the tojson filter")
    return json.dumps(
        value,
        ensure_ascii=bool(ensure_ascii),
        indent=indent,
        separators=(item_sep, key_sep),
        sort_keys=bool(sort_keys),
    )


@pass_eval_context
def _join_filter(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    """Jinja's ``join``, adding up the length of the parts before joining them."""
    env = _env_of(eval_ctx.environment)
    if attribute is not None:
        value = map(make_attrgetter(env, attribute), value)
    sep_len = env.text_size(d)
    cap = env.limits.max_output_chars
    parts: list[Any] = []
    total = 0
    for count, item in enumerate(value):
        if count & _WALK_CHECK_EVERY == 0:
            env.tick()
        total += env.text_size(item) + sep_len
        if total > cap + sep_len:
            env.check_size(total - sep_len, "the join filter")
        parts.append(item)
    env.reserve(total, "the join filter")
    return sync_do_join(eval_ctx, parts, d)


@pass_environment
def _sum_filter(
    environment: object, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """Jinja's ``sum``, adding lists in linear time (Python's ``sum`` is quadratic there)."""
    env = _env_of(environment)
    if attribute is not None:
        iterable = map(make_attrgetter(env, attribute), iterable)
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    kind = type(start)
    result = list(start)
    state = env.state()
    budget = state.budget if state is not None else _BUDGET_FACTOR * env.limits.max_output_chars
    limit = min(env.limits.max_output_chars, budget // _LIST_ITEM_UNITS)
    size = len(result)
    for count, item in enumerate(iterable):
        if not isinstance(item, kind):
            raise TypeError(
                f"can only concatenate {kind.__name__} "
                f'(not "{type(item).__name__}") to {kind.__name__}'
            )
        size += len(item)
        if size > limit:
            env.check_size(size, "the sum filter", items=True)
            env.overspent("the sum filter")
        result.extend(item)
        if count & _WALK_CHECK_EVERY == 0:
            env.tick()
    return result if kind is list else tuple(result)


@pass_environment
def _list_filter(environment: object, value: Iterable[Any]) -> list[Any]:
    """Jinja's ``list``, checking the budget before (or, for iterators, while) it copies."""
    env = _env_of(environment)
    if isinstance(value, str) and not value.isascii():
        # Characters outside Latin-1 become new string objects.
        env.reserve(len(value) * (_LIST_ITEM_UNITS + _OBJECT_UNITS + 4), "the list filter")
    if isinstance(value, _SIZED_TYPES):  # its size was checked by the filter guard
        return list(value)
    state = env.state()
    budget = state.budget if state is not None else _BUDGET_FACTOR * env.limits.max_output_chars
    limit = min(env.limits.max_output_chars, budget // _LIST_ITEM_UNITS)
    result: list[Any] = []
    append = result.append
    for item in value:
        append(item)
        if len(result) & _WALK_CHECK_EVERY == 0:
            if len(result) > limit:
                env.overspent("the list filter")
            env.tick()
    if len(result) > limit:
        env.overspent("the list filter")
    return result


@pass_environment
def _wordcount_filter(environment: object, value: Any) -> int:
    """Jinja's ``wordcount``, counting matches instead of building a list of them."""
    _env_of(environment)
    return _WORDS.subn("", value if isinstance(value, str) else str(value))[1]


# -- prechecks for built-in filters that can make big output from small input -------------


def _precheck_indent(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``indent``: every line gets the indentation."""
    text, width = params[0], _arg(params, kwargs, 1, "width", 4)
    if isinstance(text, str):
        per_line = len(width) if isinstance(width, str) else width if _is_int(width) else 0
        env.check_size(len(text) + _line_count(text) * max(per_line, 0), "the indent filter")


def _precheck_wordwrap(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``wordwrap``: every wrapped line gets ``wrapstring``."""
    text, wrapstring = params[0], _arg(params, kwargs, 3, "wrapstring", None)
    if isinstance(text, str):
        sep = len(wrapstring) if isinstance(wrapstring, str) else 1
        env.check_size(len(text) + (len(text) + _line_count(text)) * sep, "the wordwrap filter")


def _precheck_replace(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``replace``: every occurrence of ``old`` becomes ``new``."""
    text = params[0] if isinstance(params[0], str) else str(params[0])
    old, new = _arg(params, kwargs, 1, "old", ""), _arg(params, kwargs, 2, "new", "")
    count = _arg(params, kwargs, 3, "count", None)
    env.check_text(old, "the replace filter")
    env.check_text(new, "the replace filter")
    strings = [old if isinstance(old, str) else str(old), new if isinstance(new, str) else str(new)]
    size = env.replace_size(text, strings, {"count": -1 if count is None else count})
    env.check_size(
        size * _ESCAPE_FACTOR if isinstance(text, Markup) else size, "the replace filter"
    )


def _precheck_format(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``format``: ``value % (kwargs or args)``."""
    fmt = params[0] if isinstance(params[0], str) else str(params[0])
    size = env.percent_size(fmt, dict(kwargs) if kwargs else tuple(params[1:]), escape=False)
    env.check_size(size, "the format filter")


def _precheck_escape(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``escape``: HTML escaping makes text longer."""
    value = params[0]
    size = _escaped_len(value) if isinstance(value, str) else env.text_size(value) * _ESCAPE_FACTOR
    env.check_size(size, "the escape filter")


def _precheck_urlencode(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``urlencode``: percent-encoding makes UTF-8 text up to 12 times longer."""
    env.check_size(12 * env.text_size(params[0]), "the urlencode filter")


def _precheck_xmlattr(
    env: _GuardedEnvironment, params: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """``xmlattr``: escaped keys and values plus quotes."""
    value = params[0]
    extra = 4 * len(value) if isinstance(value, Mapping) else 0
    env.check_size(_ESCAPE_FACTOR * env.text_size(value) + extra, "the xmlattr filter")


_FILTER_PRECHECKS: Final[
    dict[str, Callable[[_GuardedEnvironment, Sequence[Any], Mapping[str, Any]], None]]
] = {
    "indent": _precheck_indent,
    "wordwrap": _precheck_wordwrap,
    "replace": _precheck_replace,
    "format": _precheck_format,
    "escape": _precheck_escape,
    "e": _precheck_escape,
    "forceescape": _precheck_escape,
    "urlencode": _precheck_urlencode,
    "xmlattr": _precheck_xmlattr,
}


# -- messages -----------------------------------------------------------------------------


def _content_text(content: object, number: int) -> str:
    """A message's content as text: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        texts: list[str] = []
        for part in content:
            if not isinstance(part, Mapping):
                raise TemplateError(f"message {number} has a content part that is not a mapping")
            kind = part.get("type", "text")
            text = part.get("text")
            if kind != "text" or not isinstance(text, str):
                raise TemplateError(
                    f"message {number} has a content part of type {_one_line(repr(kind))[:40]}; "
                    "only text parts are supported"
                )
            texts.append(text)
        return "\n".join(texts)
    raise TemplateError(f"message {number} has no text content")


def _normalize_messages(messages: object) -> list[dict[str, str]]:
    """Validate messages and copy them to plain ``{"role", "content"}`` dicts."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TemplateError("messages must be a list of {'role', 'content'} mappings")
    result: list[dict[str, str]] = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, Mapping):
            raise TemplateError(f"message {number} is not a mapping")
        role = message.get("role")
        if not isinstance(role, str):
            raise TemplateError(f"message {number} has no text role")
        result.append({"role": role, "content": _content_text(message.get("content"), number)})
    return result


# -- public API ---------------------------------------------------------------------------


def _describe_failure(error: BaseException) -> TemplateError:
    """Turn an exception from Jinja or from Python into a one-line TemplateError."""
    if isinstance(error, TemplateError):
        return error
    if isinstance(error, TemplateSyntaxError):
        return TemplateError(
            f"chat template has a syntax error at line {error.lineno}: "
            f"{_one_line(error.message or '')}"
        )
    if isinstance(error, SecurityError):
        return TemplateError(f"chat template tried to do something unsafe: {_one_line(str(error))}")
    if isinstance(error, RecursionError):
        return TemplateError("chat template is nested or recursive too deeply")
    if isinstance(error, MemoryError):
        return TemplateError("chat template ran out of memory")
    if isinstance(error, TemplateNotFound):
        return TemplateError("chat template tried to include another template")
    # str() of an exception can print its arguments, e.g. a huge key of a KeyError: use
    # the message only when it is a single string.
    args = error.args
    message = _one_line(args[0]) if len(args) == 1 and isinstance(args[0], str) else ""
    if isinstance(error, UndefinedError):
        return TemplateError(f"chat template failed: {message or 'undefined value'}")
    if message:
        return TemplateError(f"chat template failed: {type(error).__name__}: {message}")
    return TemplateError(f"chat template failed: {type(error).__name__}")


class ChatTemplate:
    """A compiled, sandboxed chat template (compile once per model, render per request)."""

    def __init__(
        self,
        source: str | None,
        *,
        bos_token: str = "",
        eos_token: str = "",
        limits: TemplateLimits = _DEFAULT_LIMITS,
    ) -> None:
        """Compile ``source`` (``None`` or ``""`` means the ChatML fallback).

        Raises :class:`TemplateError` for a syntax error, a template over
        ``MAX_SOURCE_CHARS``, or one that takes longer than ``limits.time_s`` to compile.
        """
        if source is not None and not isinstance(source, str):
            raise TemplateError("chat template must be text")
        if not isinstance(bos_token, str) or not isinstance(eos_token, str):
            raise TemplateError("bos_token and eos_token must be text")
        self._is_fallback = not source
        self._source = source if source else FALLBACK_CHATML
        if len(self._source) > MAX_SOURCE_CHARS:
            raise TemplateError(
                f"chat template is {len(self._source):,} characters long; "
                f"the limit is {MAX_SOURCE_CHARS:,}"
            )
        if not isinstance(limits, TemplateLimits):
            raise TemplateError("limits must be a TemplateLimits")
        self._bos_token = bos_token
        self._eos_token = eos_token
        self._limits = limits
        self._env = _GuardedEnvironment(limits)
        state = _RenderState(limits, "compile")
        try:
            self._template = self._env.run_guarded(
                state, lambda: self._env.from_string(self._source), trace_lines=False
            )
        except Exception as error:
            raise _describe_failure(error) from None

    @property
    def is_fallback(self) -> bool:
        """True when the model had no template and the built-in ChatML one is used."""
        return self._is_fallback

    @property
    def limits(self) -> TemplateLimits:
        """The limits this template compiles and renders under."""
        return self._limits

    def render(
        self, messages: Sequence[Mapping[str, object]], *, add_generation_prompt: bool = True
    ) -> str:
        """Render the prompt for ``messages``; raises :class:`TemplateError` on any failure.

        Each message needs a text ``role`` and a ``content`` that is text or a list of
        ``{"type": "text", "text": …}`` parts (joined with newlines).  Safe to call from
        any thread, and from several threads at once.
        """
        if not isinstance(add_generation_prompt, bool):
            raise TemplateError("add_generation_prompt must be True or False")
        variables: dict[str, Any] = {
            "messages": _normalize_messages(messages),
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self._bos_token,
            "eos_token": self._eos_token,
            "tools": None,
            "documents": None,
        }
        cap = self._limits.max_output_chars
        state = _RenderState(self._limits, "render")
        chunks = cast(Generator[str, None, None], self._template.generate(variables))

        def consume() -> str:
            """Pull the output, stopping once it is over the limit."""
            parts: list[str] = []
            total = 0
            for chunk in chunks:
                total += len(chunk)
                if total > cap:
                    raise TemplateError(
                        f"chat template output is longer than {cap:,} characters; stopped"
                    )
                if chunk:  # empty chunks would only grow the list
                    parts.append(chunk)
            state.check_time()
            return "".join(parts)

        try:
            return self._env.run_guarded(state, consume)
        except Exception as error:
            raise _describe_failure(error) from None
        finally:
            chunks.close()
