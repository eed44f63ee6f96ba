"""Per-token records: compact, and decode(encode(x)) gives x back (p within the stated error)."""

from __future__ import annotations

import gzip
import json
import math
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
        assert abs(original - decoded) <= P_MAX_ERROR * (1 + 1e-9), (where, original, decoded)
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
record = st.fixed_dictionaries(
    {},
    optional={
        "i": st.integers(0, 100_000), "token": st.integers(0, 300_000), "piece": texts,
        "text": texts, "t_ms": st.floats(0, 1e7), "sample_ms": st.floats(0, 1e4),
        "stages": st.lists(stage, max_size=6), "chosen_rank": int32, "chosen_p": probability,
        "raw_rank": int32, "raw_p": probability,
        "type": st.just("token"), "id": st.just("r1"),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(record, max_size=12))
def test_decode_encode_is_the_identity_within_the_stated_error(
        recs: list[dict[str, Any]]) -> None:
    decoded = records.decode(records.encode(recs))
    assert_same(recs, decoded)
    # Ranks, ids, names, survivors and texts are exact: only probabilities move.
    for r, d in zip(recs, decoded, strict=True):
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
