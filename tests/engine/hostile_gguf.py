"""Hand-made malformed GGUF files for testing the pre-flight check (a library, not a test module).

Everything is written with ``struct`` so that each file is wrong in exactly one, known way. The
base file (:func:`valid_gguf`) is a small, well-formed GGUF v3 file; the hostile cases are
variations of it. Its last tensor ends exactly at the end of the file, so every strict prefix of
it is truncated in a way the check must notice.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

# GGUF metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = range(10)
UINT64, INT64, FLOAT64 = 10, 11, 12

# ggml tensor types used here
GGML_F32, GGML_Q8_0 = 0, 8

U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
MIB16 = 16 * 1024 * 1024


@dataclass(frozen=True)
class HostileCase:
    """One malformed file: a label, its bytes, and (optionally) a fragment of the reason we
    expect the check to give (lower-case, matched case-insensitively)."""

    label: str
    data: bytes
    expect: str | None = None


@dataclass
class KV:
    """A metadata pair; ``payload`` is the encoded value (after the value type)."""

    key: bytes
    vtype: int
    payload: bytes


@dataclass
class Tensor:
    """A tensor info record; ``n_dims`` overrides ``len(dims)`` when set."""

    name: bytes
    dims: list[int]
    ggml_type: int
    offset: int
    n_dims: int | None = None


@dataclass
class Spec:
    """Everything that goes into a GGUF file, each part overridable."""

    magic: bytes = b"GGUF"
    version: int = 3
    tensor_count: int | None = None  # None: len(tensors)
    kv_count: int | None = None  # None: len(kvs)
    kvs: list[KV] = field(default_factory=list)
    tensors: list[Tensor] = field(default_factory=list)
    alignment: int = 32  # used for the padding before the data section
    data: bytes = b""
    endian: str = "<"


# --- encoders -----------------------------------------------------------------------------------


def u32(v: int, e: str = "<") -> bytes:
    """Encode a uint32."""
    return struct.pack(e + "I", v)


def u64(v: int, e: str = "<") -> bytes:
    """Encode a uint64."""
    return struct.pack(e + "Q", v)


def gstr(b: bytes, e: str = "<") -> bytes:
    """Encode a GGUF string."""
    return u64(len(b), e) + b


def v_str(s: str | bytes, e: str = "<") -> bytes:
    """Encode a string value payload."""
    return gstr(s.encode() if isinstance(s, str) else s, e)


def v_u32(v: int, e: str = "<") -> bytes:
    """Encode a uint32 value payload."""
    return u32(v, e)


def v_arr(elem_type: int, count: int, elems: bytes, e: str = "<") -> bytes:
    """Encode an array value payload."""
    return u32(elem_type, e) + u64(count, e) + elems


def v_str_arr(items: list[bytes], e: str = "<") -> bytes:
    """Encode an array of strings payload."""
    return v_arr(STRING, len(items), b"".join(gstr(i, e) for i in items), e)


CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def base_spec(e: str = "<") -> Spec:
    """The spec of the small valid file."""
    kvs = [
        KV(b"general.architecture", STRING, v_str("llama", e)),
        KV(b"general.name", STRING, v_str("hostile-base", e)),
        KV(b"general.alignment", UINT32, v_u32(32, e)),
        KV(b"general.file_type", UINT32, v_u32(7, e)),
        KV(b"llama.block_count", UINT32, v_u32(1, e)),
        KV(b"llama.context_length", UINT32, v_u32(256, e)),
        KV(b"llama.embedding_length", UINT32, v_u32(4, e)),
        KV(b"llama.attention.head_count", UINT32, v_u32(2, e)),
        KV(b"llama.attention.head_count_kv", UINT32, v_u32(1, e)),
        KV(b"llama.rope.freq_base", FLOAT32, struct.pack(e + "f", 10000.0)),
        KV(b"llama.some_bool", BOOL, b"\x01"),
        KV(b"llama.some_i64", INT64, struct.pack(e + "q", -5)),
        KV(b"llama.some_f64", FLOAT64, struct.pack(e + "d", 0.5)),
        KV(b"tokenizer.ggml.model", STRING, v_str("gpt2", e)),
        KV(b"tokenizer.ggml.tokens", ARRAY, v_str_arr([b"<s>", b"</s>", b"a", b"b"], e)),
        KV(
            b"tokenizer.ggml.scores",
            ARRAY,
            v_arr(FLOAT32, 4, b"".join(struct.pack(e + "f", x) for x in (0, 0, -1, -2)), e),
        ),
        KV(b"tokenizer.ggml.bos_token_id", UINT32, v_u32(0, e)),
        KV(b"tokenizer.ggml.eos_token_id", UINT32, v_u32(1, e)),
        KV(b"tokenizer.chat_template", STRING, v_str(CHAT_TEMPLATE, e)),
    ]
    tensors = [
        Tensor(b"token_embd.weight", [4, 4], GGML_F32, 0),  # 64 bytes at [0, 64)
        Tensor(b"blk.0.attn_q.weight", [32, 2], GGML_Q8_0, 64),  # 68 bytes at [64, 132)
    ]
    return Spec(kvs=kvs, tensors=tensors, data=bytes(range(132)), endian=e)


def build(spec: Spec) -> tuple[bytes, list[int]]:
    """Serialise ``spec``; also return the offset at which every field starts."""
    e = spec.endian
    out = bytearray()
    marks: list[int] = []

    def put(b: bytes) -> None:
        marks.append(len(out))
        out.extend(b)

    put(spec.magic)
    put(u32(spec.version, e))
    put(u64(len(spec.tensors) if spec.tensor_count is None else spec.tensor_count, e))
    put(u64(len(spec.kvs) if spec.kv_count is None else spec.kv_count, e))
    for kv in spec.kvs:
        put(u64(len(kv.key), e))
        put(kv.key)
        put(u32(kv.vtype, e))
        put(kv.payload)
    for t in spec.tensors:
        put(u64(len(t.name), e))
        put(t.name)
        put(u32(len(t.dims) if t.n_dims is None else t.n_dims, e))
        for d in t.dims:
            put(u64(d, e))
        put(u32(t.ggml_type, e))
        put(u64(t.offset, e))
    pad = -len(out) % spec.alignment if spec.alignment > 0 else 0
    if pad:
        put(b"\0" * pad)
    put(spec.data)
    return bytes(out), sorted(set(marks))


def valid_gguf() -> bytes:
    """The small valid file all hostile cases derive from."""
    return build(base_spec())[0]


# --- hostile cases ------------------------------------------------------------------------------


def _with_kv(key: bytes, change: Callable[[KV], KV | None]) -> bytes:
    """The base file with the pair ``key`` replaced (or removed when ``change`` gives None)."""
    spec = base_spec()
    new: list[KV] = []
    for kv in spec.kvs:
        if kv.key == key:
            changed = change(kv)
            if changed is not None:
                new.append(changed)
        else:
            new.append(kv)
    spec.kvs = new
    return build(spec)[0]


def _set(key: bytes, vtype: int, payload: bytes) -> bytes:
    """The base file with ``key`` set to a new typed value."""
    return _with_kv(key, lambda kv: KV(kv.key, vtype, payload))


def _extra_kv(kv: KV, *, first: bool = False) -> bytes:
    """The base file with one more pair."""
    spec = base_spec()
    spec.kvs = [kv, *spec.kvs] if first else [*spec.kvs, kv]
    return build(spec)[0]


def _tensor(index: int, **changes: object) -> bytes:
    """The base file with tensor ``index`` changed."""
    spec = base_spec()
    spec.tensors[index] = replace(spec.tensors[index], **changes)  # type: ignore[arg-type]
    return build(spec)[0]


def _raw_kv_tail(payload: bytes) -> bytes:
    """A file whose only metadata pair is key 'x.y' followed by raw ``payload`` bytes
    (value type onwards), with 0 tensors; for hand-crafted value encodings."""
    return b"GGUF" + u32(3) + u64(0) + u64(1) + gstr(b"x.y") + payload


def _truncations() -> Iterator[HostileCase]:
    data, marks = build(base_spec())
    points: set[int] = set()
    for m in marks:
        points.update({m, m + 1, m + 3})
    rng = random.Random(1234)
    points.update(rng.randrange(0, len(data)) for _ in range(40))
    for p in sorted(points):
        if 0 <= p < len(data):
            yield HostileCase(f"truncated at byte {p} of {len(data)}", data[:p])


def _magic_and_version() -> Iterator[HostileCase]:
    good = valid_gguf()
    for magic in (b"GGUE", b"gguf", b"\0\0\0\0", b"FUGG", b"GGML", b"\xff\xff\xff\xff"):
        yield HostileCase(f"bad magic {magic!r}", magic + good[4:], "magic")
    for legacy in (b"lmgg", b"tjgg", b"fmgg"):
        yield HostileCase(f"legacy magic {legacy!r}", legacy + good[4:], "before gguf")
    yield HostileCase("just the magic", b"GGUF", "truncated")
    for n in (1, 2, 3):
        yield HostileCase(f"{n}-byte file", b"GGUF"[:n], "not a gguf")
    yield HostileCase("empty file", b"", "empty")
    yield HostileCase("text file", b"This is not a model, it is a README.\n" * 4, "magic")
    yield HostileCase("zip file header", b"PK\x03\x04" + b"\0" * 60, "magic")
    for version in (0, 1, 4, 999, U32_MAX, 2**31):
        spec = base_spec()
        spec.version = version
        yield HostileCase(f"version {version}", build(spec)[0], "version")
    for version in (1, 2, 3):
        yield HostileCase(
            f"big-endian version field {version}",
            b"GGUF" + u32(version, ">") + good[8:],
            "big-endian",
        )
    yield HostileCase("big-endian file (all fields)", build(base_spec(">"))[0], "big-endian")


def _counts() -> Iterator[HostileCase]:
    for n in (2**63, U64_MAX, 2**32, 1_000_001, 1_000_000, 65_537, 3):
        spec = base_spec()
        spec.tensor_count = n
        yield HostileCase(f"tensor_count {n}", build(spec)[0])
    for n in (2**63, U64_MAX, 2**32, 65_537, 65_536, 20, 18, 0):
        spec = base_spec()
        spec.kv_count = n
        yield HostileCase(f"kv_count {n}", build(spec)[0])
    spec = base_spec()
    spec.tensor_count, spec.kv_count = U64_MAX, U64_MAX
    yield HostileCase("both counts 2**64-1", build(spec)[0])


def _keys() -> Iterator[HostileCase]:
    head = b"GGUF" + u32(3) + u64(0) + u64(1)
    for n in (U64_MAX, 2**63, U32_MAX, 65_536, 65_535, 1000):
        yield HostileCase(f"key length {n}", head + u64(n) + b"general.name", None)
    yield HostileCase("empty key", head + gstr(b"") + u32(UINT32) + u32(1), "empty")
    bad_keys = {
        "0xff byte": b"general.\xff",
        "lone continuation byte": b"\x80general",
        "truncated 2-byte sequence": b"general.\xc3",
        "overlong slash": b"general\xc0\xafname",
        "UTF-16 surrogate": b"general.\xed\xa0\x80",
        "beyond U+10FFFF": b"general.\xf4\x90\x80\x80",
        "0xfe 0xff": b"\xfe\xff",
    }
    for label, key in bad_keys.items():
        yield HostileCase(
            f"invalid UTF-8 key ({label})",
            _extra_kv(KV(key, UINT32, u32(1)), first=True),
            "utf-8",
        )
    yield HostileCase(
        "duplicate key general.architecture",
        _extra_kv(KV(b"general.architecture", STRING, v_str("llama"))),
        "duplicate",
    )
    yield HostileCase(
        "duplicate key with another type",
        _extra_kv(KV(b"llama.block_count", STRING, v_str("30"))),
        "duplicate",
    )
    yield HostileCase(
        "duplicate key general.alignment",
        _extra_kv(KV(b"general.alignment", UINT32, u32(32))),
        "duplicate",
    )


def _values() -> Iterator[HostileCase]:
    for vt in (13, 14, 255, 2**31, U32_MAX):
        yield HostileCase(f"value type {vt}", _set(b"general.name", vt, u32(0)), "value type")
    for n in (U64_MAX, 2**63, U32_MAX, MIB16 + 1, 5000):
        yield HostileCase(
            f"string value length {n}", _set(b"general.name", STRING, u64(n) + b"hostile")
        )
    yield HostileCase(
        "string value length 16 MiB+1 at end", _raw_kv_tail(u32(STRING) + u64(MIB16 + 1)), "limit"
    )
    yield HostileCase(
        "chat template invalid UTF-8",
        _set(b"tokenizer.chat_template", STRING, v_str(b"{{ x }}\xff\xfe")),
        "utf-8",
    )
    yield HostileCase(
        "architecture invalid UTF-8",
        _set(b"general.architecture", STRING, v_str(b"lla\xffma")),
        "utf-8",
    )
    # scalars cut short at the end of the file
    for vt, size in ((UINT8, 1), (UINT16, 2), (UINT32, 4), (UINT64, 8), (FLOAT64, 8)):
        yield HostileCase(
            f"scalar type {vt} with {size - 1} of {size} bytes",
            _raw_kv_tail(u32(vt) + b"\0" * (size - 1)),
            "truncated",
        )
    yield HostileCase("value type missing", _raw_kv_tail(b"\0\0"), "truncated")
    # wrong types for keys that matter
    wrong = [
        ("architecture as UINT32", b"general.architecture", UINT32, u32(1)),
        ("architecture as array", b"general.architecture", ARRAY, v_str_arr([b"llama"])),
        ("block_count as string", b"llama.block_count", STRING, v_str("30")),
        ("block_count as float", b"llama.block_count", FLOAT32, struct.pack("<f", 30.0)),
        ("context_length as bool", b"llama.context_length", BOOL, b"\x01"),
        (
            "head_count as float array",
            b"llama.attention.head_count",
            ARRAY,
            v_arr(FLOAT32, 2, struct.pack("<2f", 1.0, 2.0)),
        ),
        ("head_count as string array", b"llama.attention.head_count", ARRAY, v_str_arr([b"9"])),
        ("tokens as int array", b"tokenizer.ggml.tokens", ARRAY, v_arr(INT32, 1, u32(7))),
        ("tokens as string", b"tokenizer.ggml.tokens", STRING, v_str("abc")),
        ("chat template as UINT32", b"tokenizer.chat_template", UINT32, u32(5)),
        ("bos id as string", b"tokenizer.ggml.bos_token_id", STRING, v_str("1")),
        ("file_type as string", b"general.file_type", STRING, v_str("Q4_1")),
    ]
    for label, key, vt, payload in wrong:
        yield HostileCase(label, _set(key, vt, payload), "should")
    negative = [
        ("block_count INT8 -1", b"llama.block_count", INT8, b"\xff"),
        ("block_count INT32 -1", b"llama.block_count", INT32, struct.pack("<i", -1)),
        ("context_length INT64 min", b"llama.context_length", INT64, struct.pack("<q", -(2**63))),
        ("head_count_kv INT16 -4", b"llama.attention.head_count_kv", INT16, struct.pack("<h", -4)),
    ]
    for label, key, vt, payload in negative:
        yield HostileCase(label, _set(key, vt, payload), "negative")


def _arrays() -> Iterator[HostileCase]:
    key = b"tokenizer.ggml.scores"
    for n in (U64_MAX, 2**63, 2**32, 2**24 + 1):
        yield HostileCase(
            f"float array count {n}", _set(key, ARRAY, v_arr(FLOAT32, n, b"")), "limit"
        )
    for n in (2**24, 100_000, 1000):
        yield HostileCase(
            f"float array count {n} > bytes left",
            _set(key, ARRAY, v_arr(FLOAT32, n, b"\0" * 16)),
            "truncated",
        )
    for n in (5, 2):
        yield HostileCase(
            f"float array count {n}, last in file, 1 element short",
            _raw_kv_tail(u32(ARRAY) + v_arr(FLOAT32, n, b"\0" * (4 * n - 4))),
            "truncated",
        )
    for n in (U64_MAX, 2**24 + 1):
        yield HostileCase(
            f"string array count {n}",
            _set(b"tokenizer.ggml.tokens", ARRAY, v_arr(STRING, n, b"")),
            "limit",
        )
    for n in (2**24, 10_000):
        yield HostileCase(
            f"string array count {n} > bytes left",
            _set(b"tokenizer.ggml.tokens", ARRAY, v_arr(STRING, n, gstr(b"a") * 4)),
            "truncated",
        )
    for n in (5, 2):
        yield HostileCase(
            f"string array count {n}, last in file, 1 element short",
            _raw_kv_tail(u32(ARRAY) + v_arr(STRING, n, gstr(b"abcdefgh") * (n - 1))),
            "truncated",
        )
    for n in (U64_MAX, 2**63, U32_MAX, MIB16 + 1, 10_000):
        elems = gstr(b"<s>") + u64(n) + b"x" + gstr(b"a") + gstr(b"b")
        yield HostileCase(
            f"string array element length {n}",
            _set(b"tokenizer.ggml.tokens", ARRAY, v_arr(STRING, 4, elems)),
        )
    for et in (13, 255, U32_MAX, 2**31):
        yield HostileCase(
            f"array element type {et}", _set(key, ARRAY, v_arr(et, 4, b"\0" * 16)), "element type"
        )
    yield HostileCase(
        "array of arrays (depth 1)",
        _set(key, ARRAY, v_arr(ARRAY, 1, v_arr(FLOAT32, 1, b"\0" * 4))),
        "nested",
    )
    yield HostileCase("array of empty arrays", _set(key, ARRAY, v_arr(ARRAY, 0, b"")), "nested")
    deep = b""
    for _ in range(10_000):
        deep = u32(ARRAY) + u64(1) + deep
    yield HostileCase("arrays nested 10,000 deep", _raw_kv_tail(u32(ARRAY) + deep), "nested")
    yield HostileCase(
        "arrays nested, claimed 2**64-1 each",
        _raw_kv_tail(u32(ARRAY) + (u32(ARRAY) + u64(U64_MAX)) * 50),
        "nested",
    )
    yield HostileCase(
        "array header cut short", _raw_kv_tail(u32(ARRAY) + u32(FLOAT32) + b"\1"), "truncated"
    )
    yield HostileCase(
        "head_count array too long to decode",
        _set(b"llama.attention.head_count", ARRAY, v_arr(UINT8, 70_000, b"\x02" * 70_000)),
        "at most",
    )


def _alignment() -> Iterator[HostileCase]:
    for a in (0, 3, 48, 2**31, 2**21, U32_MAX):
        yield HostileCase(f"alignment {a}", _set(b"general.alignment", UINT32, u32(a)), "alignment")
    yield HostileCase(
        "alignment as UINT64", _set(b"general.alignment", UINT64, u64(32)), "alignment"
    )
    yield HostileCase("alignment as INT32", _set(b"general.alignment", INT32, u32(32)), "alignment")
    yield HostileCase(
        "alignment as string", _set(b"general.alignment", STRING, v_str("32")), "alignment"
    )
    # a valid alignment the padding does not follow: tensor 1's offset 64 is not a multiple
    yield HostileCase(
        "alignment 128 with offset 64", _set(b"general.alignment", UINT32, u32(128)), None
    )


def _tensors() -> Iterator[HostileCase]:
    for t in (4, 5, 31, 32, 33, 36, 42, 43, 255, U32_MAX):
        yield HostileCase(f"ggml type {t}", _tensor(1, ggml_type=t), "ggml type")
    for n in (0, 5, 8, U32_MAX):
        yield HostileCase(f"n_dims {n} (dims as written)", _tensor(0, n_dims=n), "dimensions")
    yield HostileCase("n_dims 5 with 5 dims", _tensor(0, dims=[4, 1, 1, 1, 1]), "dimensions")
    for i in range(2):
        dims = [4, 4]
        dims[i] = 0
        yield HostileCase(f"dim {i} is 0", _tensor(0, dims=dims), "size 0")
    overflow = {
        "2**32 x 2**32": [2**32, 2**32],
        "2**63 x 1": [2**63, 1],
        "2**64-1 x 1": [U64_MAX, 1],
        "2**62 x 2": [2**62, 2],
        "2**16 x 4": [2**16] * 4,
        "4 x 2**62": [4, 2**62],
    }
    for label, dims in overflow.items():
        yield HostileCase(f"dims {label}", _tensor(0, dims=dims))
    yield HostileCase("Q8_0 row not a multiple of 32", _tensor(1, dims=[33, 2]), "block size")
    yield HostileCase("Q8_0 row of 16", _tensor(1, dims=[16, 2]), "block size")
    yield HostileCase("tensor larger than the data", _tensor(0, dims=[4, 100]), "past the end")
    for off in (U64_MAX - 31, 2**63, 2**40, 160, 96):
        yield HostileCase(f"offset {off} out of file", _tensor(1, offset=off), "past the end")
    for off in (1, 16, 33, 65, U64_MAX):
        yield HostileCase(f"unaligned offset {off}", _tensor(1, offset=off), "multiple")
    yield HostileCase("overlap: both at 0", _tensor(1, offset=0), "overlaps")
    yield HostileCase("overlap: second at 32", _tensor(1, offset=32), "overlaps")
    yield HostileCase("overlap: first grows", _tensor(0, dims=[4, 5]), "overlaps")
    yield HostileCase("duplicate tensor name", _tensor(1, name=b"token_embd.weight"), "duplicate")
    yield HostileCase("tensor name 64 bytes", _tensor(0, name=b"t" * 64), "bytes long")
    yield HostileCase("tensor name 65,536 bytes", _tensor(0, name=b"t" * 65_536), "bytes long")
    yield HostileCase("tensor name invalid UTF-8", _tensor(0, name=b"tok\xffen"), "utf-8")
    for n in (U64_MAX, 2**63, 70_000):
        spec = base_spec()
        data = bytearray(build(spec)[0])
        # patch the length of the first tensor name in place
        at = data.index(b"token_embd.weight") - 8
        data[at : at + 8] = u64(n)
        yield HostileCase(f"tensor name length {n}", bytes(data))
    spec = base_spec()
    spec.tensors.append(Tensor(b"extra", [4], GGML_F32, 160))
    yield HostileCase("extra tensor past the data", build(spec)[0], "past the end")
    spec = base_spec()
    spec.data = spec.data[:100]
    yield HostileCase("data section cut short", build(spec)[0], "past the end")
    spec = base_spec()
    spec.data = b""
    spec.alignment = 1
    yield HostileCase("no data section, no padding", build(spec)[0], "truncated")
    # many tiny tensors, all at offset 0
    spec = base_spec()
    spec.tensors = [Tensor(f"t{i}".encode(), [1], GGML_F32, 0) for i in range(500)]
    yield HostileCase("500 tensors overlapping at 0", build(spec)[0], "overlaps")


_GENERATORS: tuple[Callable[[], Iterator[HostileCase]], ...] = (
    _truncations,
    _magic_and_version,
    _counts,
    _keys,
    _values,
    _arrays,
    _alignment,
    _tensors,
)


def hostile_cases() -> list[HostileCase]:
    """All hand-made malformed files, distinct by content, each of which must be rejected."""
    seen: set[bytes] = set()
    cases: list[HostileCase] = []
    for gen in _GENERATORS:
        for case in gen():
            if case.data in seen:
                continue
            seen.add(case.data)
            cases.append(case)
    return cases


def mutation_cases(count: int = 300, seed: int = 20240601) -> list[HostileCase]:
    """Random byte mutations of the valid file. A mutation may still be a valid file: the only
    requirement on these is that the check returns or raises its own error, quickly."""
    rng = random.Random(seed)
    base, marks = build(base_spec())
    header_end = marks[-2]  # everything before the padding/data
    out: list[HostileCase] = []
    interesting = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE)
    for i in range(count):
        data = bytearray(base)
        kind = rng.randrange(5)
        n_edits = rng.randint(1, 4)
        for _ in range(n_edits):
            pos = rng.randrange(0, header_end)
            if kind == 0:
                data[pos] = rng.randrange(256)
            elif kind == 1:
                data[pos] = rng.choice(interesting)
            elif kind == 2:
                data[pos] ^= 1 << rng.randrange(8)
            elif kind == 3:  # overwrite 8 bytes (a length or count) with an extreme
                value = rng.choice((0, 1, 2**31, 2**32 - 1, 2**63, U64_MAX))
                data[pos : pos + 8] = u64(value)
            else:  # delete or insert a byte
                if rng.random() < 0.5:
                    del data[pos]
                else:
                    data.insert(pos, rng.randrange(256))
        out.append(HostileCase(f"mutation #{i} (kind {kind})", bytes(data)))
    return out
