"""Per-token records: compact, and decode(encode(x)) gives x back (p within the stated error)."""

from __future__ import annotations

import gzip
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.storage import records
from chatapp.storage.records import P_MAX_ERROR, RecordsError

FIXTURES = Path(__file__).parent / "fixtures"


def real_records() -> list[dict[str, Any]]:
    """40 token events of the starter model, 6 stages x 20 candidates each (as emitted)."""
    events: list[dict[str, Any]] = json.loads(
        gzip.decompress((FIXTURES / "token_records_6x20.json.gz").read_bytes()))
    return events


def assert_same(original: Any, decoded: Any, where: str = "") -> None:
    """Equal structure and types; floats that are probabilities within P_MAX_ERROR."""
    if isinstance(original, dict):
        assert isinstance(decoded, dict) and original.keys() == decoded.keys(), where
        for key in original:
            assert_same(original[key], decoded[key], f"{where}.{key}")
    elif isinstance(original, list | tuple):
        assert isinstance(decoded, list) and len(original) == len(decoded), where
        for n, (a, b) in enumerate(zip(original, decoded, strict=True)):
            assert_same(a, b, f"{where}[{n}]")
    elif isinstance(original, float) and not math.isnan(original):
        assert type(decoded) is float, where
        assert original == decoded or abs(original - decoded) <= P_MAX_ERROR * (1 + 1e-9), (
            where, original, decoded)
    elif isinstance(original, float):
        assert math.isnan(decoded), where
    else:
        assert type(original) is type(decoded) and original == decoded, (where, original)


def test_real_records_round_trip_and_fit_the_budget() -> None:
    events = real_records()
    bare = [{k: v for k, v in e.items() if k not in ("type", "id")} for e in events]
    assert all(len(r["stages"]) == 6 and all(len(s["top"]) == 20 for s in r["stages"])
               for r in bare)
    blob = records.encode(bare)
    assert_same(bare, records.decode(blob))
    # Times are exact (float64), probabilities within 7.7e-6, and the order of candidates kept.
    decoded = records.decode(blob)
    assert [r["t_ms"] for r in decoded] == [r["t_ms"] for r in bare]
    assert [[c[0] for c in s["top"]] for r in decoded for s in r["stages"]] == \
           [[c[0] for c in s["top"]] for r in bare for s in r["stages"]]
    per_token = len(blob) / len(bare)
    assert per_token <= 500, per_token
    # Far smaller than the JSON, even compressed.
    assert len(blob) < 0.6 * len(zlib.compress(json.dumps(bare).encode(), 9))
    # The protocol envelope ("type", "id") is kept too when given.
    assert_same(events, records.decode(records.encode(events)))


def test_blob_starts_with_a_version_byte_and_damage_is_reported() -> None:
    blob = records.encode(real_records()[:3])
    assert blob[0] == records.FORMAT_VERSION
    with pytest.raises(RecordsError, match="format 9"):
        records.decode(bytes([9]) + blob[1:])
    with pytest.raises(RecordsError, match="damaged"):
        records.decode(blob[:-5])
    with pytest.raises(RecordsError):
        records.decode(b"")


def test_empty_list_and_odd_values_round_trip_exactly() -> None:
    assert records.decode(records.encode([])) == []
    odd: list[dict[str, Any]] = [
        {},
        {"i": True, "token": 2**40, "t_ms": 3, "chosen_p": 1.5, "raw_p": float("nan"),
         "piece": None, "extra": {"nested": [1, "two"]}},
        {"stages": [{"name": "raw", "active": 1, "survivors": 5, "top": []}]},
        {"stages": [{"name": "raw", "active": True, "survivors": 5, "top": [[1, "a", 0.5, 9]]}]},
        {"stages": "not a list", "text": "\ud800 lone surrogate"},
    ]
    assert_same(odd, records.decode(records.encode(odd)))


def test_values_that_are_not_json_are_refused() -> None:
    with pytest.raises(RecordsError, match="not JSON"):
        records.encode([{"i": 0, "extra": object()}])
    with pytest.raises(RecordsError, match="not a dict"):
        records.encode(["no"])  # type: ignore[list-item]


texts = st.text(alphabet=st.characters(codec=None), max_size=8)  # surrogates included
int32 = st.integers(-(2**31), 2**31 - 1)
probability = st.floats(0.0, 1.0)
candidate = st.tuples(st.integers(0, 300_000), texts, probability).map(list)
stage = st.fixed_dictionaries({
    "name": st.sampled_from(["raw", "penalties", "top_k", "top_p", "min_p", "temperature"]),
    "active": st.booleans(),
    "survivors": st.integers(0, 300_000),
    "top": st.lists(candidate, max_size=6),
})
float32_logit = st.floats(width=32, allow_nan=False)  # every float32 value, ±inf and -0.0
whatif_candidate = st.tuples(st.integers(0, 300_000), float32_logit).map(list)
sorted_candidates = st.lists(whatif_candidate, max_size=70).map(
    lambda cs: sorted(cs, key=lambda c: -c[1]))
any_candidates = st.one_of(
    sorted_candidates,
    st.lists(whatif_candidate, max_size=8),  # unsorted: the deltas wrap, still exact
    # values that are not float32: kept as JSON, exactly
    st.lists(st.tuples(int32, st.floats(allow_nan=False)).map(list), max_size=4),
)
record = st.fixed_dictionaries(
    {},
    optional={
        "i": st.integers(0, 100_000), "token": st.integers(0, 300_000), "piece": texts,
        "text": texts, "t_ms": st.floats(0, 1e7), "sample_ms": st.floats(0, 1e4),
        "stages": st.lists(stage, max_size=6), "chosen_rank": int32, "chosen_p": probability,
        "raw_rank": int32, "raw_p": probability,
        "candidates": any_candidates, "candidates_lse": st.floats(allow_nan=False),
        "type": st.just("token"), "id": st.just("r1"),
    },
)


def bits(value: float) -> bytes:
    """A float's 64 bits: equal bits mean the same value, sign of zero included."""
    return struct.pack("<d", value)


@settings(max_examples=150, deadline=None)
@given(st.lists(record, max_size=12))
def test_decode_encode_is_the_identity_within_the_stated_error(
        recs: list[dict[str, Any]]) -> None:
    decoded = records.decode(records.encode(recs))
    assert_same(recs, decoded)
    # Ranks, ids, names, survivors and texts are exact: only probabilities move.  The
    # what-if candidates and their log-sum-exp are exact to the bit.
    for r, d in zip(recs, decoded, strict=True):
        if "candidates" in r:
            assert [c[0] for c in r["candidates"]] == [c[0] for c in d["candidates"]]
            assert [bits(c[1]) for c in r["candidates"]] == [bits(c[1]) for c in d["candidates"]]
        if "candidates_lse" in r:
            assert bits(r["candidates_lse"]) == bits(d["candidates_lse"])
        for s, t in zip(r.get("stages", []), d.get("stages", []), strict=True):
            assert [c[:2] for c in s["top"]] == [c[:2] for c in t["top"]]
            assert (s["name"], s["survivors"], s["active"]) == (t["name"], t["survivors"],
                                                                t["active"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=1, max_size=50))
def test_probability_error_is_within_1e_4_and_order_is_kept(ps: list[float]) -> None:
    ps.sort(reverse=True)
    rec = {"stages": [{"name": "raw", "active": True, "survivors": len(ps),
                       "top": [[n, str(n), p] for n, p in enumerate(ps)]}]}
    out = records.decode(records.encode([rec]))[0]["stages"][0]["top"]
    assert [c[0] for c in out] == list(range(len(ps)))
    assert all(abs(c[2] - p) <= 1e-4 for c, p in zip(out, ps, strict=True))
    assert [c[2] for c in out] == sorted((c[2] for c in out), reverse=True)


def whatif_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Records shaped like the engine's with the what-if candidates: 64 float32 logits, sorted,
    and a log-sum-exp, on top of the real 6 x 20 stage records."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for r in real_records()[:n]:
        logits = np.sort(rng.normal(8.0, 6.0, 64).astype(np.float32))[::-1]
        ids = rng.choice(49152, 64, replace=False)
        bare = {k: v for k, v in r.items() if k not in ("type", "id")}
        bare["candidates"] = [[int(i), float(z)] for i, z in zip(ids, logits, strict=True)]
        bare["candidates_lse"] = float(logits[0]) + float(rng.uniform(0, 2))
        out.append(bare)
    return out


def test_record_candidates_round_trip_bit_for_bit() -> None:
    recs = whatif_records(40)
    recs[3]["candidates"][5][1] = -0.0
    recs[4]["candidates"][-1][1] = float("-inf")
    recs[5]["candidates"] = []
    del recs[6]["candidates_lse"]
    decoded = records.decode(records.encode(recs))
    assert_same(recs, decoded)
    for r, d in zip(recs, decoded, strict=True):
        assert [c[0] for c in r["candidates"]] == [c[0] for c in d["candidates"]]
        assert [bits(c[1]) for c in r["candidates"]] == [bits(c[1]) for c in d["candidates"]]
        assert all(type(c[0]) is int and type(c[1]) is float for c in d["candidates"])
        assert ("candidates_lse" in r) == ("candidates_lse" in d)
        if "candidates_lse" in r:
            assert bits(r["candidates_lse"]) == bits(d["candidates_lse"])


def real_whatif_records() -> list[dict[str, Any]]:
    """40 token events of the starter model with the what-if candidates (as emitted)."""
    events: list[dict[str, Any]] = json.loads(
        gzip.decompress((FIXTURES / "token_records_whatif_40.json.gz").read_bytes()))
    return [{k: v for k, v in e.items() if k not in ("type", "id")} for e in events]


def test_record_candidates_are_compact() -> None:
    """64 real candidates cost under 300 bytes a token (about 1.8 bytes an id and 2.5 a
    logit, compressed), and the candidates stay exact."""
    recs = real_whatif_records()
    assert all(len(r["candidates"]) == 64 for r in recs)
    without = [{k: v for k, v in r.items() if k not in ("candidates", "candidates_lse")}
               for r in recs]
    blob = records.encode(recs)
    extra = (len(blob) - len(records.encode(without))) / len(recs)
    assert extra <= 300, extra
    assert [r["candidates"] for r in records.decode(blob)] == [r["candidates"] for r in recs]
    # far below the same numbers as compressed JSON
    as_json = len(zlib.compress(json.dumps([r["candidates"] for r in recs]).encode(), 9))
    assert extra * len(recs) < 0.6 * as_json


def test_record_candidates_that_are_not_float32_are_kept_as_json() -> None:
    odd = [{"candidates": [[1, 0.1]], "candidates_lse": 1}, {"candidates": [[1, float("nan")]]},
           {"candidates": [(1, 2.0)]}, {"candidates": [[True, 2.0]]}, {"candidates": "x"}]
    decoded = records.decode(records.encode(odd))
    assert decoded[0] == {"candidates": [[1, 0.1]], "candidates_lse": 1}
    assert type(decoded[0]["candidates_lse"]) is int
    assert math.isnan(decoded[1]["candidates"][0][1])
    assert decoded[2] == {"candidates": [[1, 2.0]]}  # a tuple comes back as JSON's list
    assert decoded[3]["candidates"][0][0] is True and decoded[4] == {"candidates": "x"}


def test_record_format_1_blobs_still_decode() -> None:
    """A blob written by format 1 (chatapp 0.1: records without candidates) reads as before."""
    blob = (FIXTURES / "records_v1_10tokens.bin").read_bytes()
    assert blob[0] == 1 and records.FORMAT_VERSION == 2
    expected = [{k: v for k, v in e.items() if k not in ("type", "id")}
                for e in real_records()[:10]]
    decoded = records.decode(blob)
    assert_same(expected, decoded)
    assert all("candidates" not in r and "candidates_lse" not in r for r in decoded)
    # Written again, it is a format 2 blob with the same content.
    again = records.encode(decoded)
    assert again[0] == 2 and records.decode(again) == decoded


def test_record_damaged_candidate_columns_are_reported() -> None:
    blob = records.encode(whatif_records(3))
    body = bytearray(zlib.decompress(blob[1:]))
    body[28:32] = struct.pack("<I", 5)  # the candidate count in the format 2 header
    with pytest.raises(RecordsError, match="damaged"):
        records.decode(blob[:1] + zlib.compress(bytes(body)))


def assert_table_matches(recs: list[dict[str, Any]]) -> None:
    """A table's records, built one by one, and its columns are what `decode` gives."""
    blob = records.encode(recs)
    decoded = records.decode(blob)
    table = records.table(blob)
    assert len(table) == len(decoded) == records.check(blob)
    assert table.records() == decoded or all(
        json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN != NaN
        for a, b in zip(table.records(), decoded, strict=True))
    for index in range(len(decoded)):
        assert_same(decoded[index], table.record(index), f"record {index}")
        assert json.dumps(table.record(index)) == json.dumps(decoded[index])
    missing = object()
    for name in ("i", "token", "piece", "text", "t_ms", "sample_ms", "chosen_rank", "chosen_p",
                 "raw_rank", "raw_p", "candidates_lse", "extra", "nowhere"):
        expected = [r.get(name, missing) for r in decoded]
        got = table.column(name, missing)
        assert [json.dumps(v) if v is not missing else "-" for v in got] == \
               [json.dumps(v) if v is not missing else "-" for v in expected], name


def test_record_table_builds_each_record_as_decode_does() -> None:
    recs = whatif_records(40)
    recs[3]["candidates"] = []
    del recs[4]["candidates_lse"]
    recs[5]["piece"] = None  # an odd value: kept as JSON
    recs[6]["extra"] = {"nested": [1, "two"]}
    assert_table_matches(recs)
    assert_table_matches(real_records())
    assert_table_matches([])
    table = records.table(records.encode(recs))
    # A record is a new dict every time: changing one changes nothing else.
    first = table.record(6)
    first["extra"]["nested"].append(3)
    first["stages"][0]["top"][0][2] = 2.0
    assert table.record(6) == records.decode(records.encode(recs))[6]
    with pytest.raises(IndexError):
        table.record(len(recs))
    with pytest.raises(ValueError, match="record"):
        table.column("stages")


def test_record_table_of_a_format_1_blob() -> None:
    blob = (FIXTURES / "records_v1_10tokens.bin").read_bytes()
    table = records.table(blob)
    assert [table.record(i) for i in range(len(table))] == records.decode(blob)


@settings(max_examples=100, deadline=None)
@given(st.lists(record, max_size=8))
def test_record_table_matches_decode_for_any_records(recs: list[dict[str, Any]]) -> None:
    assert_table_matches(recs)


def test_check_counts_the_records_and_refuses_damage() -> None:
    blob = records.encode(whatif_records(12))
    assert records.check(blob) == 12
    for damaged in (b"", bytes([9]) + blob[1:], blob[:-5], blob[:1] + b"not zlib",
                    blob[:1] + zlib.compress(zlib.decompress(blob[1:])[:-3]),
                    blob[:1] + zlib.compress(zlib.decompress(blob[1:]) + b"\0")):
        with pytest.raises(RecordsError):
            records.check(damaged)
    # A flipped byte inside the compressed stream fails zlib's checksum, or the layout.
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x55
    with pytest.raises(RecordsError):
        records.check(bytes(flipped))
    # An index beyond its table, or counts that do not add up, are caught without building a
    # record (the layout alone would not show them).
    for column, value in (("cand_pairs", 10**6), ("stage_names", 200), ("stage_sizes", 0),
                          ("whatif_counts", 0)):
        enc = records._Encoder()
        for n, r in enumerate(whatif_records(3)):
            enc.add(n, r)
        getattr(enc, column)[0] = value
        with pytest.raises(RecordsError, match="damaged"):
            records.check(bytes([records.FORMAT_VERSION]) + zlib.compress(enc.body()))


def test_encode_takes_any_iterable() -> None:
    recs = whatif_records(5)
    assert records.encode(iter(recs)) == records.encode(recs)
