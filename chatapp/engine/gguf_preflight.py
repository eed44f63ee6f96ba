"""Bounded pre-flight check of a GGUF model file, run before llama.cpp ever sees it.

llama.cpp parses GGUF headers in C; a crafted file has crashed it before (see the GGUF parser
advisories), and a process abort cannot be caught from Python. This module reads the header in
plain Python and rejects anything malformed with a short reason a user can read.

Safety properties:

* every length and count is checked against the bytes actually left in the file *before* it is
  read, and against fixed caps (the ``MAX_*`` constants), so memory use is bounded by what the file
  really contains and never by what it claims;
* the file is read through a small sliding window of plain reads (no ``mmap``: a file truncated
  while mapped would kill the process with ``SIGBUS``), opened non-blocking and checked to be a
  regular file, so FIFOs and devices cannot make it hang;
* there is no recursion at all: arrays of arrays are rejected;
* large string arrays (the vocabulary, the merges) are skipped by walking their lengths.

Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Final

__all__ = [
    "GGML_TYPES",
    "LLAMA_FTYPES",
    "MAX_ALIGNMENT",
    "MAX_ARRAY_COUNT",
    "MAX_KEY_LENGTH",
    "MAX_KV_COUNT",
    "MAX_N_DIMS",
    "MAX_STRING_LENGTH",
    "MAX_TENSOR_COUNT",
    "MAX_TENSOR_NAME_LENGTH",
    "GGUFInfo",
    "GGUFPreflightError",
    "inspect_gguf",
]

# --- caps -------------------------------------------------------------------------------------

MAX_KV_COUNT: Final = 65_536
"""Most metadata key/value pairs accepted."""
MAX_TENSOR_COUNT: Final = 1_000_000
"""Most tensors accepted."""
MAX_KEY_LENGTH: Final = 65_535
"""Longest metadata key accepted, in bytes."""
MAX_STRING_LENGTH: Final = 16 * 1024 * 1024
"""Longest string value (or string array element) accepted, in bytes."""
MAX_ARRAY_COUNT: Final = 16_777_216
"""Most elements accepted in one metadata array."""
MAX_N_DIMS: Final = 4
"""GGML_MAX_DIMS."""
MAX_TENSOR_NAME_LENGTH: Final = 63
"""GGML_MAX_NAME is 64 including the terminating NUL; llama.cpp rejects longer names."""
MAX_ALIGNMENT: Final = 1024 * 1024
"""Largest ``general.alignment`` accepted."""

DEFAULT_ALIGNMENT: Final = 32
SUPPORTED_VERSIONS: Final = (2, 3)
GGUF_MAGIC: Final = b"GGUF"

_INT64_MAX: Final = 2**63 - 1
_CHUNK: Final = 1 << 20  # read window
_DISPLAY_CHARS: Final = 200  # metadata strings are cut to this many characters
_MAX_DECODED_INT_ARRAY: Final = 65_536  # per-layer head counts are decoded up to this length

# --- tables -------------------------------------------------------------------------------------

GGML_TYPES: Final[dict[int, tuple[str, int, int]]] = {
    # id: (name, elements per block, bytes per block); from gguf 0.19.0 GGML_QUANT_SIZES.
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}
"""ggml tensor type id -> (name, block size in elements, block size in bytes)."""

LLAMA_FTYPES: Final[dict[int, str]] = {
    # llama.h ``enum llama_ftype`` (general.file_type); removed values are left out.
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",
}
"""llama.cpp ``llama_ftype`` value -> short name."""
_LLAMA_FTYPE_GUESSED: Final = 1024

# GGUF metadata value types
_T_UINT8, _T_INT8, _T_UINT16, _T_INT16, _T_UINT32, _T_INT32 = 0, 1, 2, 3, 4, 5
_T_FLOAT32, _T_BOOL, _T_STRING, _T_ARRAY, _T_UINT64, _T_INT64, _T_FLOAT64 = 6, 7, 8, 9, 10, 11, 12

_VALUE_TYPE_NAMES: Final[dict[int, str]] = {
    0: "UINT8",
    1: "INT8",
    2: "UINT16",
    3: "INT16",
    4: "UINT32",
    5: "INT32",
    6: "FLOAT32",
    7: "BOOL",
    8: "STRING",
    9: "ARRAY",
    10: "UINT64",
    11: "INT64",
    12: "FLOAT64",
}

_SCALAR_STRUCTS: Final[dict[int, struct.Struct]] = {
    _T_UINT8: struct.Struct("<B"),
    _T_INT8: struct.Struct("<b"),
    _T_UINT16: struct.Struct("<H"),
    _T_INT16: struct.Struct("<h"),
    _T_UINT32: struct.Struct("<I"),
    _T_INT32: struct.Struct("<i"),
    _T_FLOAT32: struct.Struct("<f"),
    _T_BOOL: struct.Struct("<B"),
    _T_UINT64: struct.Struct("<Q"),
    _T_INT64: struct.Struct("<q"),
    _T_FLOAT64: struct.Struct("<d"),
}
_INT_TYPES: Final = frozenset(
    {_T_UINT8, _T_INT8, _T_UINT16, _T_INT16, _T_UINT32, _T_INT32, _T_UINT64, _T_INT64}
)

_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")

# minimum encoded sizes, used to reject absurd counts before looping
_MIN_KV_BYTES: Final = 8 + 4 + 1  # empty key, type, a one-byte value
_MIN_TENSOR_INFO_BYTES: Final = 8 + 4 + 8 + 4 + 8  # empty name, n_dims=1, one dim, type, offset

# legacy (pre-GGUF) magics as they appear on disk (little-endian uint32)
_LEGACY_MAGICS: Final[dict[bytes, str]] = {
    b"lmgg": "GGML",
    b"fmgg": "GGMF",
    b"tjgg": "GGJT",
    b"algg": "GGLA",
}

_Scalar = str | int | float | bool


# --- public types -------------------------------------------------------------------------------


class GGUFPreflightError(ValueError):
    """The file is not a GGUF file llama.cpp may safely be given; ``reason`` says why.

    ``needs_more`` is True only when a *prefix* of the file was checked (``inspect_gguf`` with
    ``declared_size``) and the header runs past it: nothing is known to be wrong yet, and a
    caller may fetch a longer prefix and check again.
    """

    reason: str
    needs_more: bool

    def __init__(self, reason: str, *, needs_more: bool = False) -> None:
        """Create the error; ``reason`` is a short, plain-words explanation for the user."""
        super().__init__(reason)
        self.reason = reason
        self.needs_more = needs_more

    def __str__(self) -> str:
        """Return the reason."""
        return self.reason


@dataclass(frozen=True)
class GGUFInfo:
    """What the pre-flight check learned from a GGUF header that passed it."""

    path: str
    file_size: int
    version: int
    tensor_count: int
    kv_count: int
    alignment: int
    architecture: str | None
    name: str | None
    context_length: int | None
    block_count: int | None
    head_count: int | None
    head_count_kv: int | None
    embedding_length: int | None
    vocab_size: int | None
    parameter_count: int
    file_type: str | None
    quantization: str
    tensor_types: dict[str, int] = field(default_factory=dict)
    chat_template_sha256: str | None = None
    chat_template_size: int | None = None
    chat_template: str | None = field(default=None, repr=False)
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    metadata: dict[str, _Scalar] = field(default_factory=dict, repr=False)
    block_bytes: int = 0
    """Bytes of the tensors of the repeating layers (names starting with "blk.")."""
    other_bytes: int = 0
    """Bytes of every other tensor (token_embd, output, output_norm, ...)."""
    key_length: int | None = None
    """``{arch}.attention.key_length``: the size of one key head (None: n_embd / n_head)."""
    value_length: int | None = None
    """``{arch}.attention.value_length``: the size of one value head."""
    sliding_window: int | None = None
    """``{arch}.attention.sliding_window``, in tokens."""
    split_count: int | None = None
    """``split.count``: the number of files of a split model (this header names only its own
    tensors)."""
    output_bytes: int = 0
    """Bytes llama.cpp places on the output layer's device: the output.* tensors, plus
    token_embd.weight when the model has no output.weight (llama.cpp then loads a copy of it)."""
    output_tied: bool = False
    """True when the output layer reuses token_embd.weight (no output.weight in this file)."""

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-serialisable dict (without the chat template text; hash and size stay)."""
        metadata: dict[str, object] = {}
        for key, value in self.metadata.items():
            if isinstance(value, float) and not math.isfinite(value):
                metadata[key] = str(value)  # NaN/inf are not valid JSON
            else:
                metadata[key] = value
        return {
            "path": self.path,
            "file_size": self.file_size,
            "version": self.version,
            "tensor_count": self.tensor_count,
            "kv_count": self.kv_count,
            "alignment": self.alignment,
            "architecture": self.architecture,
            "name": self.name,
            "context_length": self.context_length,
            "block_count": self.block_count,
            "head_count": self.head_count,
            "head_count_kv": self.head_count_kv,
            "embedding_length": self.embedding_length,
            "vocab_size": self.vocab_size,
            "parameter_count": self.parameter_count,
            "file_type": self.file_type,
            "quantization": self.quantization,
            "tensor_types": dict(self.tensor_types),
            "chat_template_sha256": self.chat_template_sha256,
            "chat_template_size": self.chat_template_size,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "metadata": metadata,
            "block_bytes": self.block_bytes,
            "other_bytes": self.other_bytes,
            "key_length": self.key_length,
            "value_length": self.value_length,
            "sliding_window": self.sliding_window,
            "split_count": self.split_count,
            "output_bytes": self.output_bytes,
            "output_tied": self.output_tied,
        }

    def summary_lines(self) -> list[str]:
        """Return human-readable lines describing the model (for ``chatapp models inspect``)."""

        def opt(value: object) -> str:
            return "unknown" if value is None else _printable(str(value))

        types = ", ".join(
            f"{name} ×{count}"
            for name, count in sorted(self.tensor_types.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        if self.chat_template_size is None or self.chat_template_sha256 is None:
            template = "none"
        else:
            template = (
                f"{self.chat_template_size:,} bytes, sha256 {self.chat_template_sha256[:16]}…"
            )
        return [
            f"File:           {_printable(self.path)}",
            f"Size:           {_human_bytes(self.file_size)} ({self.file_size:,} bytes)",
            f"Format:         GGUF v{self.version}, {self.tensor_count:,} tensors, "
            f"{self.kv_count:,} metadata keys, alignment {self.alignment}",
            f"Name:           {opt(self.name)}",
            f"Architecture:   {opt(self.architecture)}",
            f"Parameters:     {_human_count(self.parameter_count)} ({self.parameter_count:,})",
            f"Quantization:   {_printable(self.quantization)}"
            + ("" if self.file_type else " (the tensor type with the most bytes)"),
            f"Tensor types:   {types or 'none'}",
            f"Context length: {opt(self.context_length)}",
            f"Layers:         {opt(self.block_count)}",
            f"Embedding size: {opt(self.embedding_length)}",
            f"Attention:      {opt(self.head_count)} heads, {opt(self.head_count_kv)} KV heads",
            f"Vocabulary:     {opt(self.vocab_size)} tokens "
            f"(BOS {opt(self.bos_token_id)}, EOS {opt(self.eos_token_id)})",
            f"Chat template:  {template}",
        ]


# --- helpers ------------------------------------------------------------------------------------


def _printable(text: str, limit: int = 200) -> str:
    """Return ``text`` cut to ``limit`` characters with control characters replaced by '?'."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(ch if ch.isprintable() else "?" for ch in cut)


def _show(name: str) -> str:
    """Quote a file-controlled name for an error message (short, printable)."""
    return "'" + _printable(name, 80) + "'"


def _human_bytes(n: int) -> str:
    """Return ``n`` bytes as e.g. '93.8 MiB'."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _human_count(n: int) -> str:
    """Return ``n`` as e.g. '134.5M'."""
    for div, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def _type_name(value_type: int) -> str:
    """Name of a GGUF metadata value type."""
    return _VALUE_TYPE_NAMES.get(value_type, f"type {value_type}")


def _nbytes(n: int) -> str:
    """'1 byte', '2 bytes', '1,024 bytes'."""
    return "1 byte" if n == 1 else f"{n:,} bytes"


def _truncated(what: str, needed: int, remaining: int) -> GGUFPreflightError:
    """Build the error for a field that claims more bytes than the file has left."""
    verb = "remains" if remaining == 1 else "remain"
    return GGUFPreflightError(
        f"truncated: {what} needs {_nbytes(needed)} but only {_nbytes(remaining)} {verb}"
    )


def _truncated_string(what: str, length: int, remaining: int) -> GGUFPreflightError:
    """Build the error for a string longer than the rest of the file."""
    verb = "remains" if remaining == 1 else "remain"
    return GGUFPreflightError(
        f"truncated: {what} claims a {length}-byte string but only {_nbytes(remaining)} {verb}"
    )


def _read_exact(f: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads; fewer only at end of file."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Reader:
    """Forward reader over a sliding window of the file; every read is bounds-checked first.

    ``size`` is the size every claim is checked against; ``avail`` the bytes that can really
    be read. They differ only for a prefix of a larger file (``inspect_gguf(declared_size=)``):
    a read past ``avail`` then raises an error with ``needs_more``.
    """

    __slots__ = ("_base", "_buf", "_f", "avail", "pos", "size")

    def __init__(self, f: BinaryIO, size: int, avail: int | None = None) -> None:
        """Read ``f``, whose size was ``size`` when it was opened (or of which only the first
        ``avail`` bytes are present)."""
        self._f = f
        self.size = size
        self.avail = size if avail is None else avail
        self.pos = 0
        self._buf = b""
        self._base = 0

    def remaining(self) -> int:
        """Bytes left in the file after the current position."""
        return self.size - self.pos

    def _load(self, pos: int, n: int) -> bytes:
        """Read ``n`` bytes at ``pos`` (already checked to lie inside the file)."""
        if pos + n > self.avail:
            raise GGUFPreflightError(
                f"the header goes on past the first {self.avail:,} bytes of the file; "
                "fetch more of it and check again",
                needs_more=True,
            )
        try:
            self._f.seek(pos)
            data = _read_exact(self._f, n)
        except OSError as exc:
            raise GGUFPreflightError(f"could not read the file: {exc.strerror or exc}") from exc
        if len(data) < n:
            raise GGUFPreflightError("the file got shorter while it was being checked")
        return data

    def _window(self, pos: int, n: int) -> int:
        """Make the window cover ``[pos, pos + n)`` (inside the file); return pos's index in it."""
        off = pos - self._base
        if off >= 0 and off + n <= len(self._buf):
            return off
        # Never read ahead past the bytes present: a prefix may end mid-window.
        self._buf = self._load(pos, max(n, min(_CHUNK, self.avail - pos)))
        self._base = pos
        return 0

    def take(self, n: int, what: str) -> bytes:
        """Return the next ``n`` bytes, or raise if the file has fewer left."""
        remaining = self.size - self.pos
        if n > remaining:
            raise _truncated(what, n, remaining)
        if n > _CHUNK:  # a big string: read it directly, do not keep it in the window
            data = self._load(self.pos, n)
        else:
            off = self._window(self.pos, n)
            data = self._buf[off : off + n]
        self.pos += n
        return data

    def unpack(self, st: struct.Struct, what: str) -> tuple[int | float, ...]:
        """Unpack one fixed-size value at the current position."""
        n = st.size
        remaining = self.size - self.pos
        if n > remaining:
            raise _truncated(what, n, remaining)
        off = self._window(self.pos, n)
        self.pos += n
        return st.unpack_from(self._buf, off)

    def u32(self, what: str) -> int:
        """Read a little-endian uint32."""
        return int(self.unpack(_U32, what)[0])

    def u64(self, what: str) -> int:
        """Read a little-endian uint64."""
        return int(self.unpack(_U64, what)[0])

    def skip(self, n: int, what: str) -> None:
        """Skip ``n`` bytes, or raise if the file has fewer left."""
        remaining = self.size - self.pos
        if n > remaining:
            raise _truncated(what, n, remaining)
        self.pos += n

    def string_bytes(self, what: str, limit: int) -> bytes:
        """Read a GGUF string (uint64 length + bytes) of at most ``limit`` bytes."""
        length = self.u64(f"the length of {what}")
        if length > limit:
            raise GGUFPreflightError(
                f"{what} is {length:,} bytes long; the limit is {limit:,} bytes"
            )
        remaining = self.size - self.pos
        if length > remaining:
            raise _truncated_string(what, length, remaining)
        return self.take(length, what)

    def skip_strings(self, count: int, key: str) -> None:
        """Skip ``count`` GGUF strings (the elements of array ``key``) by walking their lengths."""
        pos = self.pos
        size = self.size
        buf = self._buf
        base = self._base
        blen = len(buf)
        unpack = _U64.unpack_from
        limit = MAX_STRING_LENGTH
        for j in range(count):
            off = pos - base
            if off < 0 or off + 8 > blen:
                if pos + 8 > size:
                    raise _truncated(
                        f"the length of string #{j} of array {_show(key)}", 8, size - pos
                    )
                off = self._window(pos, 8)
                buf = self._buf
                base = self._base
                blen = len(buf)
            n = unpack(buf, off)[0]
            pos += 8
            if n > limit or n > size - pos:
                what = f"string #{j} of array {_show(key)}"
                if n > limit:
                    raise GGUFPreflightError(
                        f"{what} is {n:,} bytes long; the limit is {limit:,} bytes"
                    )
                raise _truncated_string(what, n, size - pos)
            pos += n
        self.pos = pos


@dataclass
class _Array:
    """Summary of a metadata array: its element type, its count, and (for small int arrays)
    its largest element."""

    elem_type: int
    count: int
    int_max: int | None = None


def _read_scalar(r: _Reader, value_type: int, what: str) -> int | float | bool:
    """Read a fixed-size metadata value."""
    value = r.unpack(_SCALAR_STRUCTS[value_type], what)[0]
    if value_type == _T_BOOL:
        return bool(value)
    return value


def _read_array(r: _Reader, key: str) -> _Array:
    """Validate and skip (or, for small integer arrays, reduce) the array value of ``key``."""
    what = f"the array {_show(key)}"
    elem_type = r.u32(f"the element type of {what}")
    if elem_type == _T_ARRAY:
        raise GGUFPreflightError(f"{what} is an array of arrays; nested arrays are not supported")
    if elem_type not in _VALUE_TYPE_NAMES:
        raise GGUFPreflightError(f"{what} has an unknown element type {elem_type}")
    count = r.u64(f"the element count of {what}")
    if count > MAX_ARRAY_COUNT:
        raise GGUFPreflightError(
            f"{what} claims {count:,} elements; the limit is {MAX_ARRAY_COUNT:,}"
        )
    result = _Array(elem_type, count)
    if elem_type == _T_STRING:
        min_bytes = count * 8
        if min_bytes > r.remaining():
            raise GGUFPreflightError(
                f"truncated: {what} claims {count:,} strings (at least {min_bytes:,} bytes) "
                f"but the file has only {_nbytes(r.remaining())} left"
            )
        r.skip_strings(count, key)
        return result
    st = _SCALAR_STRUCTS[elem_type]
    nbytes = count * st.size
    if nbytes > r.remaining():
        raise GGUFPreflightError(
            f"truncated: {what} claims {count:,} {_type_name(elem_type)} elements "
            f"({nbytes:,} bytes) but the file has only {_nbytes(r.remaining())} left"
        )
    if (
        elem_type in _INT_TYPES
        and 0 < count <= _MAX_DECODED_INT_ARRAY
        and key.endswith((".attention.head_count", ".attention.head_count_kv"))
    ):
        data = r.take(nbytes, what)
        result.int_max = max(int(v[0]) for v in st.iter_unpack(data))
    else:
        r.skip(nbytes, what)
    return result


def _decode_strict(raw: bytes, what: str) -> str:
    """Decode UTF-8, rejecting invalid bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GGUFPreflightError(f"{what} is not valid UTF-8") from None


_STRICT_STRING_KEYS: Final = frozenset({"general.architecture", "tokenizer.chat_template"})


def _display(value: str) -> str:
    """Cut a string value to the display length."""
    if len(value) <= _DISPLAY_CHARS:
        return value
    return value[: _DISPLAY_CHARS - 1] + "…"


@dataclass
class _Header:
    """Raw results of parsing, before the derived fields are worked out."""

    version: int = 0
    tensor_count: int = 0
    kv_count: int = 0
    alignment: int = DEFAULT_ALIGNMENT
    scalars: dict[str, tuple[int, int | float | bool]] = field(default_factory=dict)
    strings: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, _Array] = field(default_factory=dict)
    metadata: dict[str, _Scalar] = field(default_factory=dict)
    chat_template_raw: bytes | None = None
    parameter_count: int = 0
    tensor_types: dict[str, int] = field(default_factory=dict)
    type_bytes: dict[str, int] = field(default_factory=dict)
    block_bytes: int = 0
    other_bytes: int = 0
    output_bytes: int = 0  # the output.* tensors
    has_output_weight: bool = False
    token_embd_bytes: int | None = None


def _parse_preamble(r: _Reader, h: _Header) -> None:
    """Magic, version, counts."""
    if r.size < 4:
        raise GGUFPreflightError(f"not a GGUF file (only {_nbytes(r.size)} long)")
    magic = r.take(4, "the magic")
    if magic != GGUF_MAGIC:
        legacy = _LEGACY_MAGICS.get(magic)
        if legacy is not None:
            raise GGUFPreflightError(
                f"old {legacy} model format (from before GGUF); convert it to GGUF first"
            )
        raise GGUFPreflightError("not a GGUF file (bad magic)")
    version = r.u32("the version")
    if version not in SUPPORTED_VERSIONS:
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        if swapped in (1, 2, 3):
            raise GGUFPreflightError("big-endian GGUF file; only little-endian files are supported")
        if version == 1:
            raise GGUFPreflightError("GGUF version 1 is obsolete and not supported")
        raise GGUFPreflightError(f"unsupported GGUF version {version} (supported: 2 and 3)")
    h.version = version
    tensor_count = r.u64("the tensor count")
    kv_count = r.u64("the metadata key count")
    if kv_count > MAX_KV_COUNT:
        raise GGUFPreflightError(
            f"the file claims {kv_count:,} metadata keys; the limit is {MAX_KV_COUNT:,}"
        )
    if tensor_count > MAX_TENSOR_COUNT:
        raise GGUFPreflightError(
            f"the file claims {tensor_count:,} tensors; the limit is {MAX_TENSOR_COUNT:,}"
        )
    least = kv_count * _MIN_KV_BYTES + tensor_count * _MIN_TENSOR_INFO_BYTES
    if least > r.remaining():
        raise GGUFPreflightError(
            f"truncated: {kv_count:,} metadata keys and {tensor_count:,} tensors need at least "
            f"{least:,} bytes but the file has only {_nbytes(r.remaining())} left"
        )
    h.tensor_count = tensor_count
    h.kv_count = kv_count


def _parse_kvs(r: _Reader, h: _Header) -> None:
    """The metadata key/value pairs."""
    seen: set[str] = set()
    for i in range(h.kv_count):
        raw_key = r.string_bytes(f"key #{i}", MAX_KEY_LENGTH)
        if not raw_key:
            raise GGUFPreflightError(f"key #{i} is empty")
        key = _decode_strict(raw_key, f"key #{i}")
        if key in seen:
            raise GGUFPreflightError(f"duplicate metadata key {_show(key)}")
        seen.add(key)
        value_type = r.u32(f"the value type of key {_show(key)}")
        what = f"the value of key {_show(key)}"
        if value_type == _T_STRING:
            raw = r.string_bytes(what, MAX_STRING_LENGTH)
            if key in _STRICT_STRING_KEYS:
                text = _decode_strict(raw, what)
            else:
                text = raw.decode("utf-8", errors="replace")
            if key == "tokenizer.chat_template":
                h.chat_template_raw = raw
            h.strings[key] = text
            h.metadata[key] = _display(text)
        elif value_type == _T_ARRAY:
            arr = _read_array(r, key)
            h.arrays[key] = arr
            h.metadata[key] = f"[array of {arr.count} {_type_name(arr.elem_type)}]"
        elif value_type in _SCALAR_STRUCTS:
            value = _read_scalar(r, value_type, what)
            h.scalars[key] = (value_type, value)
            h.metadata[key] = value
        else:
            raise GGUFPreflightError(f"key {_show(key)} has an unknown value type {value_type}")
        if key == "general.alignment":
            _check_alignment(h, value_type)


def _check_alignment(h: _Header, value_type: int) -> None:
    """Validate ``general.alignment`` and record it."""
    if value_type != _T_UINT32:
        raise GGUFPreflightError(
            f"general.alignment must be a UINT32, not {_type_name(value_type)}"
        )
    alignment = int(h.scalars["general.alignment"][1])
    if alignment == 0 or alignment & (alignment - 1) or alignment > MAX_ALIGNMENT:
        raise GGUFPreflightError(
            f"general.alignment is {alignment}; it must be a power of two "
            f"no larger than {MAX_ALIGNMENT:,}"
        )
    h.alignment = alignment


def _parse_tensors(r: _Reader, h: _Header) -> None:
    """The tensor infos, then the layout of the data section."""
    names: set[str] = set()
    spans: list[tuple[int, int, str]] = []
    alignment = h.alignment
    for i in range(h.tensor_count):
        raw_name = r.string_bytes(f"the name of tensor #{i}", MAX_KEY_LENGTH)
        name = _decode_strict(raw_name, f"the name of tensor #{i}")
        label = f"tensor {_show(name)}"
        if len(raw_name) > MAX_TENSOR_NAME_LENGTH:
            raise GGUFPreflightError(
                f"the name of tensor #{i} is {len(raw_name)} bytes long; "
                f"llama.cpp allows at most {MAX_TENSOR_NAME_LENGTH}"
            )
        if name in names:
            raise GGUFPreflightError(f"duplicate tensor name {_show(name)}")
        names.add(name)
        n_dims = r.u32(f"the dimension count of {label}")
        if not 1 <= n_dims <= MAX_N_DIMS:
            raise GGUFPreflightError(
                f"{label} has {n_dims} dimensions; it must have 1 to {MAX_N_DIMS}"
            )
        dims: list[int] = []
        elements = 1
        for d in range(n_dims):
            dim = r.u64(f"dimension {d} of {label}")
            if dim < 1:
                raise GGUFPreflightError(f"{label} has a dimension of size 0")
            if dim > _INT64_MAX or elements * dim > _INT64_MAX:
                raise GGUFPreflightError(f"{label} has too many elements (the count overflows)")
            elements *= dim
            dims.append(dim)
        type_id = r.u32(f"the type of {label}")
        ggml_type = GGML_TYPES.get(type_id)
        if ggml_type is None:
            raise GGUFPreflightError(f"{label} has an unknown ggml type {type_id}")
        type_name, block_size, type_size = ggml_type
        if dims[0] % block_size:
            raise GGUFPreflightError(
                f"{label} has a row of {dims[0]} elements, not a multiple of the "
                f"{type_name} block size {block_size}"
            )
        nbytes = elements // block_size * type_size
        offset = r.u64(f"the data offset of {label}")
        if offset % alignment:
            raise GGUFPreflightError(
                f"{label} data offset {offset} is not a multiple of the alignment {alignment}"
            )
        spans.append((offset, offset + nbytes, name))
        h.parameter_count += elements
        h.tensor_types[type_name] = h.tensor_types.get(type_name, 0) + 1
        h.type_bytes[type_name] = h.type_bytes.get(type_name, 0) + nbytes
        if name.startswith("blk."):
            h.block_bytes += nbytes
        else:
            h.other_bytes += nbytes
            if name.startswith("output.") or name.startswith("output_"):
                h.output_bytes += nbytes
                h.has_output_weight = h.has_output_weight or name == "output.weight"
            elif name == "token_embd.weight":
                h.token_embd_bytes = nbytes

    data_start = -(-r.pos // alignment) * alignment
    if not spans:
        return
    if data_start > r.size:
        raise GGUFPreflightError(
            f"truncated: the tensor data should start at byte {data_start:,} "
            f"but the file is only {r.size:,} bytes long"
        )
    data_size = r.size - data_start
    spans.sort()
    previous_end = 0
    previous_name = ""
    for start, end, name in spans:
        if end > data_size:
            raise GGUFPreflightError(
                f"truncated: tensor {_show(name)} data [{start:,}, {end:,}) extends past the "
                f"end of the data section ({data_size:,} bytes)"
            )
        if start < previous_end:
            raise GGUFPreflightError(
                f"tensor {_show(name)} data [{start:,}, {end:,}) overlaps tensor "
                f"{_show(previous_name)}"
            )
        previous_end = end
        previous_name = name


def _get_int(h: _Header, key: str, *, allow_array_max: bool = False) -> int | None:
    """A non-negative integer metadata value, or None when the key is absent."""
    if allow_array_max and key in h.arrays:
        arr = h.arrays[key]
        if arr.elem_type not in _INT_TYPES:
            raise GGUFPreflightError(
                f"metadata {_show(key)} should hold integers, not {_type_name(arr.elem_type)}"
            )
        value = arr.int_max
        if value is None:
            if arr.count:
                raise GGUFPreflightError(
                    f"metadata {_show(key)} has {arr.count:,} elements; "
                    f"at most {_MAX_DECODED_INT_ARRAY:,} are accepted"
                )
            return None
    elif key in h.scalars:
        value_type, raw = h.scalars[key]
        if value_type not in _INT_TYPES:
            raise GGUFPreflightError(
                f"metadata {_show(key)} should be an integer, not {_type_name(value_type)}"
            )
        value = int(raw)
    elif key in h.strings or key in h.arrays:
        found = "STRING" if key in h.strings else "ARRAY"
        raise GGUFPreflightError(f"metadata {_show(key)} should be an integer, not {found}")
    else:
        return None
    if value < 0:
        raise GGUFPreflightError(f"metadata {_show(key)} is negative ({value})")
    return value


def _get_str(h: _Header, key: str) -> str | None:
    """A string metadata value, or None when the key is absent."""
    if key in h.strings:
        return h.strings[key]
    if key in h.scalars or key in h.arrays:
        found = _type_name(h.scalars[key][0]) if key in h.scalars else "ARRAY"
        raise GGUFPreflightError(f"metadata {_show(key)} should be a string, not {found}")
    return None


def _build_info(path: str, size: int, h: _Header) -> GGUFInfo:
    """Work out the derived fields."""
    arch = _get_str(h, "general.architecture")
    name = _get_str(h, "general.name")
    _get_str(h, "tokenizer.chat_template")  # type check only

    def arch_int(suffix: str, *, per_layer: bool = False) -> int | None:
        if arch is None:
            return None
        return _get_int(h, f"{arch}.{suffix}", allow_array_max=per_layer)

    vocab_size: int | None = None
    tokens = h.arrays.get("tokenizer.ggml.tokens")
    if tokens is not None:
        if tokens.elem_type != _T_STRING:
            raise GGUFPreflightError(
                "metadata 'tokenizer.ggml.tokens' should be an array of strings, not of "
                f"{_type_name(tokens.elem_type)}"
            )
        vocab_size = tokens.count
    elif "tokenizer.ggml.tokens" in h.scalars or "tokenizer.ggml.tokens" in h.strings:
        raise GGUFPreflightError("metadata 'tokenizer.ggml.tokens' should be an array of strings")

    ftype_value = _get_int(h, "general.file_type")
    file_type: str | None = None
    if ftype_value is not None:
        file_type = LLAMA_FTYPES.get(ftype_value & ~_LLAMA_FTYPE_GUESSED)

    if file_type is not None:
        quantization = file_type
    elif h.type_bytes:
        quantization = max(h.type_bytes.items(), key=lambda kv: (kv[1], kv[0]))[0]
    else:
        quantization = "none"

    # No output.weight: llama.cpp builds the output layer from a copy of token_embd.weight.
    output_weight = h.has_output_weight

    template: str | None = None
    template_sha: str | None = None
    template_size: int | None = None
    if h.chat_template_raw is not None:
        template = h.strings["tokenizer.chat_template"]
        template_sha = hashlib.sha256(h.chat_template_raw).hexdigest()
        template_size = len(h.chat_template_raw)

    return GGUFInfo(
        path=path,
        file_size=size,
        version=h.version,
        tensor_count=h.tensor_count,
        kv_count=h.kv_count,
        alignment=h.alignment,
        architecture=arch,
        name=name,
        context_length=arch_int("context_length"),
        block_count=arch_int("block_count"),
        head_count=arch_int("attention.head_count", per_layer=True),
        head_count_kv=arch_int("attention.head_count_kv", per_layer=True),
        embedding_length=arch_int("embedding_length"),
        vocab_size=vocab_size,
        parameter_count=h.parameter_count,
        file_type=file_type,
        quantization=quantization,
        tensor_types=dict(sorted(h.tensor_types.items())),
        chat_template_sha256=template_sha,
        chat_template_size=template_size,
        chat_template=template,
        bos_token_id=_get_int(h, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_get_int(h, "tokenizer.ggml.eos_token_id"),
        metadata=h.metadata,
        block_bytes=h.block_bytes,
        other_bytes=h.other_bytes,
        key_length=arch_int("attention.key_length"),
        value_length=arch_int("attention.value_length"),
        sliding_window=arch_int("attention.sliding_window"),
        split_count=_get_int(h, "split.count"),
        output_bytes=h.output_bytes + (0 if output_weight else h.token_embd_bytes or 0),
        output_tied=not output_weight and h.token_embd_bytes is not None,
    )


def _open_regular(path: str) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading without blocking; insist on a non-empty regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise GGUFPreflightError(f"file not found: {_printable(path)}") from None
    except PermissionError:
        raise GGUFPreflightError(f"permission denied: {_printable(path)}") from None
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise GGUFPreflightError(f"cannot access {_printable(path)}: {detail}") from None
    if stat.S_ISDIR(st.st_mode):
        raise GGUFPreflightError(f"{_printable(path)} is a directory, not a model file")
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        raise GGUFPreflightError(f"permission denied: {_printable(path)}") from None
    except OSError as exc:
        raise GGUFPreflightError(f"cannot open {_printable(path)}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise GGUFPreflightError(f"{_printable(path)} is a directory, not a model file")
        if not stat.S_ISREG(st.st_mode):
            raise GGUFPreflightError(f"{_printable(path)} is not a regular file")
        if st.st_size == 0:
            raise GGUFPreflightError(f"{_printable(path)} is empty")
        f: BinaryIO = open(fd, "rb", buffering=0, closefd=True)  # noqa: SIM115
    except BaseException:
        os.close(fd)
        raise
    return f, st.st_size


def inspect_gguf(path: str | os.PathLike[str], *, declared_size: int | None = None) -> GGUFInfo:
    """Check the header of the GGUF file at ``path`` and describe it.

    Raises GGUFPreflightError (with a plain-words ``reason``) for anything llama.cpp should not be
    given: a missing, unreadable, empty or non-regular file, a file that is not GGUF, and any
    malformed or implausible header.

    ``declared_size``: the size of the whole model file when ``path`` holds only its first bytes
    (a prefix fetched with a Range request, to judge a model before downloading it). Every
    bounds check then uses ``declared_size``, and ``file_size`` reports it. When the header
    runs past the prefix, the error has ``needs_more`` set. A prefix longer than
    ``declared_size`` is an error.
    """
    path_str = os.fspath(path)
    f, size = _open_regular(path_str)
    with f:
        avail = size
        if declared_size is not None:
            if declared_size < size:
                raise GGUFPreflightError(
                    f"the file is {size:,} bytes long, more than the {declared_size:,} bytes "
                    "the model was said to have"
                )
            size = declared_size
        r = _Reader(f, size, avail)
        h = _Header()
        _parse_preamble(r, h)
        _parse_kvs(r, h)
        _parse_tensors(r, h)
    return _build_info(path_str, size, h)
