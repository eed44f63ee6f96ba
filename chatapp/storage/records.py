"""Compact encoding of a reply's per-token sampler records.

A record is the dict the model process emits per token with ``"records": true`` (see
chatapp.engine.protocol): ``i, token, piece, text, t_ms, sample_ms, stages, chosen_rank,
chosen_p, raw_rank, raw_p, candidates, candidates_lse``, where each stage is ``{"name",
"active", "survivors", "top": [[token_id, text, p], ...]}`` and ``candidates`` is
``[[token_id, logit], ...]`` (the what-if candidates: logits that are float32 values).

Layout of a blob: one version byte, then the zlib-compressed body.  The body holds one string
table (every candidate text, piece, text and stage name once, UTF-8), a table of distinct
(token id, text) pairs, and columns: one value per token, per stage and per candidate.  Each
integer column is stored in the narrowest of int8 … int64 that holds its values, so a stage name
costs one byte and a candidate one or two bytes for its pair plus two for its probability.

Format 2 adds the what-if columns: per token the number of candidates and ``candidates_lse``
(float64), per candidate its token id (an integer column) and its logit as the float32's 32 bits,
mapped to integers in the order of the floats, delta-coded within each token's list (they come
sorted, so the deltas are small) and split into byte planes, which zlib compresses well (about
2.5 bytes per logit).  Format 1 blobs (no candidates) are still read.

Precision: probabilities (``p``, ``chosen_p``, ``raw_p``) are quantised to uint16 as
``round(p * 65535)``, so the absolute error is at most 1 / 131070 ≈ 7.7e-6 for every p in
[0, 1], and candidates keep their order (it is the list order).  Everything else is exact:
ids, ranks, survivors, names, texts, flags, ``t_ms`` / ``sample_ms`` and ``candidates_lse``
(float64), and the candidates' ids and logits (bit for bit).

Anything that does not fit that shape (an unknown key, an int where a float was expected, a p
outside [0, 1], a stage with extra keys, a candidate logit that is not a float32 value) is kept
as JSON next to the columns, so that a record
is never refused or changed for being unusual; only JSON-incompatible values raise.

Reading: `decode` builds every record at once (about 300 Python objects a token); `table` reads
only the columns (numpy arrays and one list of strings: next to nothing for the garbage
collector) and builds a record when it is asked for, which is what a viewer of a long reply
wants; `check` verifies a blob (format, zlib checksum, every column's size and index range)
without building any record, which is what storing a blob made elsewhere needs.
"""

from __future__ import annotations

import copy
import json
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 2

#: Formats `decode` reads.
READABLE_VERSIONS = frozenset({1, 2})

#: Largest absolute error of a decoded probability.
P_MAX_ERROR = 0.5 / 65535

_P_SCALE = 65535
_INT32 = (-(2**31), 2**31 - 1)

#: Integer column codes, narrowest first.
_INT_TYPES: tuple[tuple[str, int, int], ...] = tuple(
    (np.dtype(t).str, int(np.iinfo(t).min), int(np.iinfo(t).max))
    for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64)
)

# Per-token fields that have a column, in the order of the presence mask's bits.
_INT_FIELDS = ("i", "token", "chosen_rank", "raw_rank")
_STR_FIELDS = ("piece", "text")
_TIME_FIELDS = ("t_ms", "sample_ms")
_P_FIELDS = ("chosen_p", "raw_p")
_SCALAR_FIELDS = (*_INT_FIELDS, *_STR_FIELDS, *_TIME_FIELDS, *_P_FIELDS)
# Format 2 appended the last two: a format 1 blob never sets their bits.
_FIELDS = (*_SCALAR_FIELDS, "stages", "candidates_lse", "candidates")
_BIT = {name: 1 << n for n, name in enumerate(_FIELDS)}
_STAGE_KEYS = frozenset({"name", "active", "survivors", "top"})

_HEADER = struct.Struct("<7I")
_HEADER_2 = struct.Struct("<I")  # format 2: the number of candidates


class RecordsError(ValueError):
    """Records that cannot be stored (not JSON-compatible) or a blob that cannot be read."""


def encode(records: Iterable[dict[str, Any]]) -> bytes:
    """The records of one reply as a compact blob (see the module docstring).

    Any iterable will do: a generator that makes each record as it is asked for keeps only
    one record alive at a time (the columns hold plain numbers and the string table).
    """
    enc = _Encoder()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RecordsError(f"record {index} is not a dict")
        enc.add(index, record)
    return bytes([FORMAT_VERSION]) + zlib.compress(enc.body(), 9)


def decode(blob: bytes) -> list[dict[str, Any]]:
    """The records given to `encode`, probabilities within `P_MAX_ERROR`."""
    return table(blob).records()


def table(blob: bytes) -> RecordTable:
    """The blob's records as columns, each record built when asked for (see `RecordTable`);
    a damaged blob raises RecordsError here, as `decode` would."""
    if not blob:
        raise RecordsError("empty records blob")
    if blob[0] not in READABLE_VERSIONS:
        raise RecordsError(f"records format {blob[0]} is not known to this version of chatapp")
    try:
        return RecordTable(_Decoder(zlib.decompress(blob[1:]), blob[0]).columns())
    except (zlib.error, struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise RecordsError(f"damaged records blob: {exc}") from None


def check(blob: bytes) -> int:
    """How many records `blob` holds, after checking that it can be read: a known format, an
    intact zlib stream (its checksum), every column of the size the header gives, every index
    within its table.  No record is built: the cost is the decompression (C code), the string
    table and a few numpy operations per column (about 20 ms for 4,000 tokens).  Raises
    RecordsError."""
    return len(table(blob))


def _is_int32(value: object) -> bool:
    # bool is an int subclass, but True must come back as True, so it goes to the JSON side.
    return type(value) is int and _INT32[0] <= value <= _INT32[1]


def _is_p(value: object) -> bool:
    return type(value) is float and 0.0 <= value <= 1.0


def _pack_probs(values: list[float]) -> bytes:
    """Probabilities as uint16, all low bytes then all high bytes: most p are small, so the
    high-byte plane is mostly zeros and compresses to almost nothing."""
    quantised = np.rint(np.asarray(values, dtype=np.float64) * _P_SCALE).astype("<u2")
    return quantised.view(np.uint8).reshape(-1, 2).T.tobytes()


def _stage_fits(stage: object) -> bool:
    if not (isinstance(stage, dict) and stage.keys() == _STAGE_KEYS):
        return False
    top = stage["top"]
    return (
        isinstance(stage["name"], str)
        and type(stage["active"]) is bool
        and _is_int32(stage["survivors"])
        and isinstance(top, list)
        and all(
            isinstance(c, list) and len(c) == 3 and _is_int32(c[0]) and isinstance(c[1], str)
            and _is_p(c[2])
            for c in top
        )
    )


def _stages_fit(stages: object) -> bool:
    return isinstance(stages, list) and all(_stage_fits(s) for s in stages)


def _candidates_fit(candidates: object) -> bool:
    """[[int32, float32 value], ...]: a logit column stores float32 bits, so any other float
    (or a NaN, whose payload could change) goes to the JSON side."""
    if not isinstance(candidates, list):
        return False
    if not all(isinstance(c, list) and len(c) == 2 and _is_int32(c[0]) and type(c[1]) is float
               for c in candidates):
        return False
    logits = np.fromiter((c[1] for c in candidates), dtype=np.float64, count=len(candidates))
    with np.errstate(over="ignore"):  # too large for float32: inf, unequal, so JSON
        return bool((logits.astype(np.float32).astype(np.float64) == logits).all())


def _fits(name: str, value: object) -> bool:
    """Whether a known field's value has the shape its column stores exactly."""
    if name in _INT_FIELDS:
        return _is_int32(value)
    if name in _STR_FIELDS:
        return isinstance(value, str)
    if name in _TIME_FIELDS:
        return type(value) is float
    if name in _P_FIELDS:
        return _is_p(value)
    if name == "candidates_lse":
        return type(value) is float
    if name == "candidates":
        return _candidates_fit(value)
    return _stages_fit(value)


def _logit_keys(logits: Iterable[float]) -> npt.NDArray[np.uint32]:
    """float32 bits mapped to unsigned integers in the order of the floats (negative floats
    have all bits flipped, positive ones the sign bit set)."""
    bits = np.fromiter(logits, dtype=np.float32).view(np.uint32)
    negative = (bits >> np.uint32(31)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def _pack_logits(logits: list[float], counts: list[int]) -> bytes:
    """Candidate logits: order-preserving keys, each token's first key as it is and the others
    as the difference from the one before (mod 2**32), in four byte planes."""
    keys = _logit_keys(logits)
    deltas = keys.copy()
    deltas[1:] = keys[:-1] - keys[1:]  # uint32 arithmetic wraps: exact and reversible
    starts = np.cumsum([0, *counts[:-1]], dtype=np.int64)[np.asarray(counts) > 0]
    deltas[starts] = keys[starts]
    return deltas.astype("<u4").view(np.uint8).reshape(-1, 4).T.tobytes()


def _unpack_logits(planes: bytes, counts: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """The inverse of `_pack_logits`: the float32 logits."""
    total = int(counts.sum())
    deltas = np.frombuffer(planes, np.uint8).reshape(4, total).T.copy().view("<u4").reshape(
        total).astype(np.uint64)
    sizes = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    nonempty = sizes > 0
    # Within a list: key[j] = key[start] - (sum of deltas after the start, up to j).
    steps = deltas.copy()
    steps[starts[nonempty]] = 0
    running = np.cumsum(steps)
    owner = np.repeat(starts, sizes)
    keys = ((deltas[owner] - (running - running[owner])) & np.uint64(0xFFFFFFFF)).astype(
        np.uint32)
    negative = (keys >> np.uint32(31)) == 0
    bits = np.where(negative, ~keys, keys & np.uint32(0x7FFFFFFF)).astype(np.uint32)
    return bits.view(np.float32)


class _Encoder:
    """Collects columns record by record."""

    def __init__(self) -> None:
        self.strings: dict[str, int] = {}
        self.pairs: dict[tuple[int, int], int] = {}
        self.masks: list[int] = []
        self.ints: dict[str, list[int]] = {f: [] for f in (*_INT_FIELDS, *_STR_FIELDS)}
        self.times: dict[str, list[float]] = {f: [] for f in _TIME_FIELDS}
        self.probs: dict[str, list[float]] = {f: [] for f in _P_FIELDS}
        self.n_stages: list[int] = []
        self.stage_names: list[int] = []
        self.stage_active: list[int] = []
        self.stage_survivors: list[int] = []
        self.stage_sizes: list[int] = []
        self.cand_pairs: list[int] = []
        self.cand_p: list[float] = []
        self.lse: list[float] = []
        self.whatif_counts: list[int] = []
        self.whatif_ids: list[int] = []
        self.whatif_logits: list[float] = []
        self.extras: list[list[Any]] = []

    def string(self, text: str) -> int:
        """Index of `text` in the string table (added on first use)."""
        return self.strings.setdefault(text, len(self.strings))

    def add(self, index: int, record: dict[str, Any]) -> None:
        """Append one record's values to the columns; odd values go to the JSON extras."""
        mask = 0
        extra: dict[str, Any] = {}
        for key, value in record.items():
            if key in _BIT and _fits(key, value):
                mask |= _BIT[key]
            else:
                extra[key] = value
        self.masks.append(mask)
        for name in _INT_FIELDS:
            self.ints[name].append(record[name] if mask & _BIT[name] else 0)
        for name in _STR_FIELDS:
            self.ints[name].append(self.string(record[name]) if mask & _BIT[name] else 0)
        for name in _TIME_FIELDS:
            self.times[name].append(record[name] if mask & _BIT[name] else 0.0)
        for name in _P_FIELDS:
            self.probs[name].append(record[name] if mask & _BIT[name] else 0.0)
        stages = record["stages"] if mask & _BIT["stages"] else []
        self.n_stages.append(len(stages))
        for stage in stages:
            self.add_stage(stage)
        self.lse.append(record["candidates_lse"] if mask & _BIT["candidates_lse"] else 0.0)
        candidates = record["candidates"] if mask & _BIT["candidates"] else []
        self.whatif_counts.append(len(candidates))
        for token_id, logit in candidates:
            self.whatif_ids.append(token_id)
            self.whatif_logits.append(logit)
        if extra:
            self.extras.append([index, extra])

    def add_stage(self, stage: dict[str, Any]) -> None:
        """Append one stage and its candidates."""
        self.stage_names.append(self.string(stage["name"]))
        self.stage_active.append(int(stage["active"]))
        self.stage_survivors.append(stage["survivors"])
        self.stage_sizes.append(len(stage["top"]))
        for token_id, text, p in stage["top"]:
            key = (token_id, self.string(text))
            self.cand_pairs.append(self.pairs.setdefault(key, len(self.pairs)))
            self.cand_p.append(p)

    def body(self) -> bytes:
        """The uncompressed body."""
        encoded = [s.encode("utf-8", "surrogatepass") for s in self.strings]
        try:
            extras = json.dumps(self.extras, ensure_ascii=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise RecordsError(f"a record holds a value that is not JSON: {exc}") from None
        extras_bytes = extras.encode("ascii") if self.extras else b""
        # Stage names are few; map them to small ints of their own (0, 1, 2 …) so the column
        # is one byte per stage whatever the size of the string table.
        name_table = list(dict.fromkeys(self.stage_names))
        name_index = {s: n for n, s in enumerate(name_table)}
        parts = [
            _HEADER.pack(len(self.masks), len(encoded), len(self.pairs), len(self.stage_names),
                         len(self.cand_pairs), len(name_table), len(extras_bytes)),
            _HEADER_2.pack(len(self.whatif_ids)),
            _pack_ints(len(s) for s in encoded),
            b"".join(encoded),
            _pack_ints(p[0] for p in self.pairs),
            _pack_ints(p[1] for p in self.pairs),
            _pack_ints(name_table),
            _pack_ints(self.masks),
            *(_pack_ints(self.ints[f]) for f in (*_INT_FIELDS, *_STR_FIELDS)),
            *(np.asarray(self.times[f], dtype="<f8").tobytes() for f in _TIME_FIELDS),
            *(_pack_probs(self.probs[f]) for f in _P_FIELDS),
            _pack_ints(self.n_stages),
            _pack_ints(name_index[s] for s in self.stage_names),
            _pack_ints(self.stage_active),
            _pack_ints(self.stage_survivors),
            _pack_ints(self.stage_sizes),
            _pack_ints(self.cand_pairs),
            _pack_probs(self.cand_p),
            np.asarray(self.lse, dtype="<f8").tobytes(),
            _pack_ints(self.whatif_counts),
            _pack_ints(self.whatif_ids),
            _pack_logits(self.whatif_logits, self.whatif_counts),
            extras_bytes,
        ]
        return b"".join(parts)


def _pack_ints(values: Iterable[int]) -> bytes:
    """An integer column: a one-byte type code, then the values in the narrowest type."""
    array = np.fromiter(values, dtype=np.int64)
    low = int(array.min()) if array.size else 0
    high = int(array.max()) if array.size else 0
    for code, (dtype, tmin, tmax) in enumerate(_INT_TYPES):
        if tmin <= low and high <= tmax:
            return bytes([code]) + array.astype(dtype).tobytes()
    raise AssertionError("int64 holds every value")  # pragma: no cover


@dataclass(frozen=True)
class _Columns:
    """A blob's body as read: numpy columns (views of the body) and the string table.

    Integer columns keep the narrow type they were stored in; probabilities stay quantised
    (uint16) and logits float32 until a record is built.
    """

    strings: list[str]
    pair_ids: npt.NDArray[Any]
    pair_texts: npt.NDArray[Any]  # indices into strings
    names: npt.NDArray[Any]  # the stage-name table: indices into strings
    masks: npt.NDArray[Any]
    scalars: dict[str, npt.NDArray[Any]]  # per token; string fields hold string indices
    stage_counts: npt.NDArray[Any]
    stage_names: npt.NDArray[Any]  # indices into names
    stage_active: npt.NDArray[Any]
    stage_survivors: npt.NDArray[Any]
    stage_sizes: npt.NDArray[Any]
    cand_pairs: npt.NDArray[Any]  # indices into the pairs
    cand_p: npt.NDArray[Any]  # quantised
    lse: npt.NDArray[Any]
    whatif_counts: npt.NDArray[Any]
    whatif_ids: npt.NDArray[Any]
    whatif_logits: npt.NDArray[np.float32]
    extras: list[tuple[int, dict[str, Any]]]


def _check_indices(values: npt.NDArray[Any], size: int, what: str) -> None:
    """ValueError unless every value indexes a table of `size` entries."""
    if values.size and (int(values.min()) < 0 or int(values.max()) >= size):
        raise ValueError(f"{what} out of range")


def _check_counts(counts: npt.NDArray[Any], total: int, what: str) -> None:
    """ValueError unless the counts are not negative and add up to `total`."""
    if counts.size and int(counts.min()) < 0:
        raise ValueError(f"negative {what}")
    if int(counts.sum(dtype=np.int64)) != total:
        raise ValueError(f"{what} do not add up")


def _starts(counts: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Where each run begins, for runs of the given lengths laid end to end."""
    ends = np.cumsum(counts, dtype=np.int64)
    return ends - counts.astype(np.int64)


class _Decoder:
    """Reads a body back, column by column, in the order `_Encoder.body` wrote it."""

    def __init__(self, body: bytes, version: int = FORMAT_VERSION) -> None:
        self.body = body
        self.version = version
        self.pos = 0

    def take(self, n: int) -> bytes:
        """The next n bytes."""
        if n < 0 or self.pos + n > len(self.body):
            raise ValueError("truncated")
        chunk = self.body[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def ints(self, count: int) -> npt.NDArray[Any]:
        """An integer column of `count` values, in the type it was stored in."""
        code = self.take(1)[0]
        dtype = np.dtype(_INT_TYPES[code][0])
        return np.frombuffer(self.take(count * dtype.itemsize), dtype)

    def floats(self, count: int, dtype: str) -> npt.NDArray[Any]:
        """A float or quantised column of `count` values."""
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * size), dtype)

    def probs(self, count: int) -> npt.NDArray[Any]:
        """A probability column (see `_pack_probs`), quantised."""
        planes = np.frombuffer(self.take(2 * count), np.uint8).reshape(2, count)
        return planes.T.copy().view("<u2").reshape(count)

    def columns(self) -> _Columns:
        """Every column, checked: sizes, counts and indices (ValueError when damaged)."""
        n_tok, n_str, n_pairs, n_stages, n_cand, n_names, n_extras = _HEADER.unpack(
            self.take(_HEADER.size))
        (n_whatif,) = _HEADER_2.unpack(self.take(_HEADER_2.size)) if self.version >= 2 else (0,)
        lengths = self.ints(n_str)
        if lengths.size and int(lengths.min()) < 0:
            raise ValueError("negative string length")
        blob = self.take(int(lengths.sum(dtype=np.int64)))
        strings: list[str] = []
        at = 0
        for length in lengths.tolist():
            strings.append(blob[at:at + length].decode("utf-8", "surrogatepass"))
            at += length
        pair_ids = self.ints(n_pairs)
        pair_texts = self.ints(n_pairs)
        _check_indices(pair_texts, n_str, "candidate text")
        names = self.ints(n_names)
        _check_indices(names, n_str, "stage name")
        masks = self.ints(n_tok).astype(np.int64)  # for bit tests with any bit
        scalars = {f: self.ints(n_tok) for f in (*_INT_FIELDS, *_STR_FIELDS)}
        for f in _STR_FIELDS:
            _check_indices(scalars[f][(masks & _BIT[f]) != 0], n_str, f)
        for f in _TIME_FIELDS:
            scalars[f] = self.floats(n_tok, "<f8")
        for f in _P_FIELDS:
            scalars[f] = self.probs(n_tok)
        stage_counts = self.ints(n_tok)
        _check_counts(stage_counts, n_stages, "stage counts")
        stage_names = self.ints(n_stages)
        _check_indices(stage_names, n_names, "stage name")
        stage_active = self.ints(n_stages)
        stage_survivors = self.ints(n_stages)
        stage_sizes = self.ints(n_stages)
        _check_counts(stage_sizes, n_cand, "stage sizes")
        cand_pairs = self.ints(n_cand)
        _check_indices(cand_pairs, n_pairs, "candidate")
        cand_p = self.probs(n_cand)
        if self.version >= 2:
            lse = self.floats(n_tok, "<f8")
            whatif_counts = self.ints(n_tok)
            _check_counts(whatif_counts, n_whatif, "candidate counts")
            whatif_ids = self.ints(n_whatif)
            whatif_logits = _unpack_logits(self.take(4 * n_whatif), whatif_counts)
        else:
            lse = np.zeros(n_tok)
            whatif_counts = np.zeros(n_tok, np.uint8)
            whatif_ids = np.zeros(0, np.uint8)
            whatif_logits = np.zeros(0, np.float32)
        extras = json.loads(self.take(n_extras)) if n_extras else []
        if self.pos != len(self.body):
            raise ValueError("trailing bytes")
        if not isinstance(extras, list) or not all(
                isinstance(e, list) and len(e) == 2 and type(e[0]) is int and 0 <= e[0] < n_tok
                and isinstance(e[1], dict) for e in extras):
            raise ValueError("malformed extras")
        return _Columns(
            strings=strings, pair_ids=pair_ids, pair_texts=pair_texts, names=names, masks=masks,
            scalars=scalars, stage_counts=stage_counts, stage_names=stage_names,
            stage_active=stage_active, stage_survivors=stage_survivors, stage_sizes=stage_sizes,
            cand_pairs=cand_pairs, cand_p=cand_p, lse=lse, whatif_counts=whatif_counts,
            whatif_ids=whatif_ids, whatif_logits=whatif_logits,
            extras=[(index, extra) for index, extra in extras])


class RecordTable:
    """The records of one blob, kept as its columns: a record is built only when asked for.

    A long reply's records as dicts are hundreds of Python containers a token, which the
    garbage collector walks in every full collection; this keeps numpy arrays and one list of
    strings instead, and `record(i)` is what ``decode(blob)[i]`` would be.  Made by `table`.
    Read-only: it may be made on one thread and read on another.
    """

    def __init__(self, columns: _Columns) -> None:
        """Wrap checked columns (see `table`)."""
        self._c = columns
        self._stage_start = _starts(columns.stage_counts)
        self._cand_start = _starts(columns.stage_sizes)
        self._whatif_start = _starts(columns.whatif_counts)
        self._extras: dict[int, list[dict[str, Any]]] = {}
        for index, extra in columns.extras:
            self._extras.setdefault(index, []).append(extra)

    def __len__(self) -> int:
        """How many records."""
        return len(self._c.masks)

    def record(self, index: int) -> dict[str, Any]:
        """Record `index` (0 <= index < len), a new dict equal to ``decode(blob)[index]``."""
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        c = self._c
        strings = c.strings
        mask = int(c.masks[index])
        record: dict[str, Any] = {}
        for name in _SCALAR_FIELDS:
            if mask & _BIT[name]:
                record[name] = self._scalar(name, index)
        if mask & _BIT["stages"]:
            first = int(self._stage_start[index])
            stages: list[dict[str, Any]] = []
            for n in range(first, first + int(c.stage_counts[index])):
                a = int(self._cand_start[n])
                b = a + int(c.stage_sizes[n])
                pairs = c.cand_pairs[a:b]
                top = [[token_id, strings[text], p] for token_id, text, p in zip(
                    c.pair_ids[pairs].tolist(), c.pair_texts[pairs].tolist(),
                    (c.cand_p[a:b] / _P_SCALE).tolist(), strict=True)]
                stages.append({"name": strings[int(c.names[c.stage_names[n]])],
                               "active": bool(c.stage_active[n]),
                               "survivors": int(c.stage_survivors[n]), "top": top})
            record["stages"] = stages
        if mask & _BIT["candidates_lse"]:
            record["candidates_lse"] = float(c.lse[index])
        if mask & _BIT["candidates"]:
            a = int(self._whatif_start[index])
            b = a + int(c.whatif_counts[index])
            record["candidates"] = [[token_id, z] for token_id, z in zip(
                c.whatif_ids[a:b].tolist(), c.whatif_logits[a:b].astype(np.float64).tolist(),
                strict=True)]
        for extra in self._extras.get(index, ()):
            record.update(copy.deepcopy(extra))
        return record

    def column(self, name: str, missing: Any = None) -> list[Any]:
        """One per-token field of every record (``record(i).get(name, missing)`` for each i)
        without building the records: one of the scalar fields (i, token, piece, text, t_ms,
        sample_ms, chosen_rank, chosen_p, raw_rank, raw_p), candidates_lse, or a key that only
        unusual records carry.  The stages and candidates need `record`."""
        if name in ("stages", "candidates"):
            raise ValueError(f"{name} are per record: use record()")
        c = self._c
        values: list[Any]
        if name in _BIT:
            if name in _STR_FIELDS:
                strings = c.strings
                values = [strings[k] if m & _BIT[name] else missing
                          for k, m in zip(c.scalars[name].tolist(), c.masks.tolist(), strict=True)]
            elif name in _P_FIELDS:
                values = (c.scalars[name] / _P_SCALE).tolist()
            elif name == "candidates_lse":
                values = c.lse.tolist()
            else:
                values = c.scalars[name].tolist()
            absent = ((c.masks & _BIT[name]) == 0).nonzero()[0].tolist()
            for index in absent:
                values[index] = missing
        else:
            values = [missing] * len(self)
        for index, extras in self._extras.items():
            for extra in extras:
                if name in extra:
                    values[index] = copy.deepcopy(extra[name])
        return values

    def records(self) -> list[dict[str, Any]]:
        """Every record (what `decode` returns), built column by column."""
        c = self._c
        n_tok = len(self)
        strings = c.strings
        pair_ids: list[int] = c.pair_ids.tolist()
        pair_texts = [strings[i] for i in c.pair_texts.tolist()]
        names = [strings[i] for i in c.names.tolist()]
        masks: list[int] = c.masks.tolist()
        cols: dict[str, list[Any]] = {f: c.scalars[f].tolist() for f in _INT_FIELDS}
        for f in _STR_FIELDS:
            cols[f] = [strings[i] if m & _BIT[f] else None
                       for i, m in zip(c.scalars[f].tolist(), masks, strict=True)]
        for f in _TIME_FIELDS:
            cols[f] = c.scalars[f].tolist()
        for f in _P_FIELDS:
            cols[f] = (c.scalars[f] / _P_SCALE).tolist()
        stage_counts: list[int] = c.stage_counts.tolist()
        stage_names = [names[i] for i in c.stage_names.tolist()]
        stage_active: list[int] = c.stage_active.tolist()
        stage_survivors: list[int] = c.stage_survivors.tolist()
        stage_sizes: list[int] = c.stage_sizes.tolist()
        cand_p: list[float] = (c.cand_p / _P_SCALE).tolist()
        lse: list[float] = c.lse.tolist()
        whatif_counts: list[int] = c.whatif_counts.tolist()
        whatif_logits: list[float] = c.whatif_logits.astype(np.float64).tolist()

        candidates = [[pair_ids[k], pair_texts[k], p]
                      for k, p in zip(c.cand_pairs.tolist(), cand_p, strict=True)]
        stages: list[dict[str, Any]] = []
        at = 0
        for n in range(len(stage_sizes)):
            size = stage_sizes[n]
            stages.append({"name": stage_names[n], "active": bool(stage_active[n]),
                           "survivors": stage_survivors[n], "top": candidates[at:at + size]})
            at += size
        whatif = [[i, z] for i, z in zip(c.whatif_ids.tolist(), whatif_logits, strict=True)]
        records: list[dict[str, Any]] = []
        at = 0
        at_whatif = 0
        for t in range(n_tok):
            mask = masks[t]
            record = {f: cols[f][t] for f in _SCALAR_FIELDS if mask & _BIT[f]}
            if mask & _BIT["stages"]:
                record["stages"] = stages[at:at + stage_counts[t]]
            at += stage_counts[t]
            if mask & _BIT["candidates_lse"]:
                record["candidates_lse"] = lse[t]
            if mask & _BIT["candidates"]:
                record["candidates"] = whatif[at_whatif:at_whatif + whatif_counts[t]]
            at_whatif += whatif_counts[t]
            records.append(record)
        for index, extra in c.extras:
            records[index].update(copy.deepcopy(extra))
        return records

    def _scalar(self, name: str, index: int) -> Any:
        value = self._c.scalars[name][index]
        if name in _STR_FIELDS:
            return self._c.strings[int(value)]
        if name in _P_FIELDS:
            return float(value / _P_SCALE)
        if name in _TIME_FIELDS:
            return float(value)
        return int(value)
