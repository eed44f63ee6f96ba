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
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
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


def encode(records: Sequence[dict[str, Any]]) -> bytes:
    """The records of one reply as a compact blob (see the module docstring)."""
    enc = _Encoder()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RecordsError(f"record {index} is not a dict")
        enc.add(index, record)
    return bytes([FORMAT_VERSION]) + zlib.compress(enc.body(), 9)


def decode(blob: bytes) -> list[dict[str, Any]]:
    """The records given to `encode`, probabilities within `P_MAX_ERROR`."""
    if not blob:
        raise RecordsError("empty records blob")
    if blob[0] not in READABLE_VERSIONS:
        raise RecordsError(f"records format {blob[0]} is not known to this version of chatapp")
    try:
        return _Decoder(zlib.decompress(blob[1:]), blob[0]).records()
    except (zlib.error, struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise RecordsError(f"damaged records blob: {exc}") from None


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


def _unpack_logits(planes: bytes, counts: list[int]) -> list[float]:
    """The inverse of `_pack_logits`."""
    total = sum(counts)
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
    values: list[float] = bits.view(np.float32).astype(np.float64).tolist()
    return values


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


class _Decoder:
    """Reads a body back, column by column, in the order `_Encoder.body` wrote it."""

    def __init__(self, body: bytes, version: int = FORMAT_VERSION) -> None:
        self.body = body
        self.version = version
        self.pos = 0

    def take(self, n: int) -> bytes:
        """The next n bytes."""
        if self.pos + n > len(self.body):
            raise ValueError("truncated")
        chunk = self.body[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def ints(self, count: int) -> list[int]:
        """An integer column of `count` values."""
        code = self.take(1)[0]
        dtype = np.dtype(_INT_TYPES[code][0])
        values: list[int] = np.frombuffer(self.take(count * dtype.itemsize), dtype).tolist()
        return values

    def floats(self, count: int, dtype: str) -> npt.NDArray[Any]:
        """A float or quantised column of `count` values."""
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * size), dtype)

    def probs(self, count: int) -> list[float]:
        """A probability column (see `_pack_probs`)."""
        planes = np.frombuffer(self.take(2 * count), np.uint8).reshape(2, count)
        quantised = planes.T.copy().view("<u2").reshape(count)
        values: list[float] = (quantised / _P_SCALE).tolist()
        return values

    def records(self) -> list[dict[str, Any]]:
        """Every record."""
        n_tok, n_str, n_pairs, n_stages, n_cand, n_names, n_extras = _HEADER.unpack(
            self.take(_HEADER.size))
        (n_whatif,) = _HEADER_2.unpack(self.take(_HEADER_2.size)) if self.version >= 2 else (0,)
        lengths = self.ints(n_str)
        blob = self.take(sum(lengths))
        strings: list[str] = []
        at = 0
        for length in lengths:
            strings.append(blob[at:at + length].decode("utf-8", "surrogatepass"))
            at += length
        pair_ids = self.ints(n_pairs)
        pair_texts = [strings[i] for i in self.ints(n_pairs)]
        names = [strings[i] for i in self.ints(n_names)]
        masks = self.ints(n_tok)
        cols: dict[str, list[Any]] = {f: self.ints(n_tok) for f in (*_INT_FIELDS, *_STR_FIELDS)}
        for f in _STR_FIELDS:
            cols[f] = [strings[i] if m & _BIT[f] else None for i, m in zip(cols[f], masks,
                                                                         strict=True)]
        for f in _TIME_FIELDS:
            cols[f] = self.floats(n_tok, "<f8").tolist()
        for f in _P_FIELDS:
            cols[f] = self.probs(n_tok)
        stage_counts = self.ints(n_tok)
        stage_names = [names[i] for i in self.ints(n_stages)]
        stage_active = self.ints(n_stages)
        stage_survivors = self.ints(n_stages)
        stage_sizes = self.ints(n_stages)
        cand_pairs = self.ints(n_cand)
        cand_p = self.probs(n_cand)
        if self.version >= 2:
            lse: list[float] = self.floats(n_tok, "<f8").tolist()
            whatif_counts = self.ints(n_tok)
            if sum(whatif_counts) != n_whatif:
                raise ValueError("candidate counts do not add up")
            whatif_ids = self.ints(n_whatif)
            whatif_logits = _unpack_logits(self.take(4 * n_whatif), whatif_counts)
        else:
            lse, whatif_counts, whatif_ids, whatif_logits = [0.0] * n_tok, [0] * n_tok, [], []
        extras = json.loads(self.take(n_extras)) if n_extras else []
        if self.pos != len(self.body):
            raise ValueError("trailing bytes")

        candidates = [[pair_ids[k], pair_texts[k], p]
                      for k, p in zip(cand_pairs, cand_p, strict=True)]
        stages: list[dict[str, Any]] = []
        at = 0
        for n in range(n_stages):
            size = stage_sizes[n]
            stages.append({"name": stage_names[n], "active": bool(stage_active[n]),
                           "survivors": stage_survivors[n], "top": candidates[at:at + size]})
            at += size
        whatif = [[i, z] for i, z in zip(whatif_ids, whatif_logits, strict=True)]
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
        for index, extra in extras:
            records[index].update(extra)
        return records

