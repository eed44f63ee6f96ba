"""Application settings: defaults, round trip, and a loader that never fails."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.core.app_settings import AppSettings, parse_split


def test_defaults_and_round_trip() -> None:
    s = AppSettings()
    assert s.to_dict() == {"language": "system", "theme": "system", "font_size": 11,
                           "n_ctx": 4096, "n_gpu_layers": -1, "n_threads": 0,
                           "flash_attn": False, "rpc_workers": (), "rpc_split": "auto"}
    custom = AppSettings(language="zh_CN", theme="dark", font_size=32, n_ctx=131072,
                         n_gpu_layers=999, n_threads=256, flash_attn=True,
                         rpc_workers=("10.0.0.2:50052", "[::1]:50053"), rpc_split="1,3")
    assert AppSettings.from_dict(custom.to_dict()) == custom
    # Through JSON (lists, not tuples) too.
    assert AppSettings.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom


def test_rpc_workers_and_split_are_validated() -> None:
    for bad in (("nohost",), ("a:0",), ("a:70000",), ("a:1", "a:1"), ("x y:1",)):
        with pytest.raises(ValueError, match="rpc_workers"):
            AppSettings(rpc_workers=bad)
    for bad_split in ("", "1,-1", "0,0", "a,b", "nan"):
        with pytest.raises(ValueError, match="rpc_split"):
            AppSettings(rpc_split=bad_split)
    assert parse_split("auto") is None and parse_split("1, 3") == [1.0, 3.0]
    assert AppSettings.from_dict({"rpc_workers": ["h:1", 5]}).rpc_workers == ()
    assert AppSettings.from_dict(AppSettings(n_gpu_layers=0, n_threads=1).to_dict()) \
        == AppSettings(n_gpu_layers=0, n_threads=1)


@pytest.mark.parametrize("bad", [
    {"language": "fr"}, {"theme": "blue"}, {"font_size": 7}, {"font_size": 33},
    {"font_size": True}, {"n_ctx": 511}, {"n_ctx": 131073}, {"n_gpu_layers": -2},
    {"n_gpu_layers": 1000}, {"n_threads": -1}, {"n_threads": 257}, {"flash_attn": 1},
])
def test_invalid_values_are_refused_when_built(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        AppSettings(**bad)


def test_from_dict_falls_back_per_field() -> None:
    loaded = AppSettings.from_dict({
        "language": "en", "theme": 3, "font_size": 99, "n_ctx": "8192",
        "n_threads": 4, "flash_attn": "yes", "from_the_future": {"x": 1},
    })
    # Only the two valid values survive; every other field keeps its default.
    assert loaded == AppSettings(language="en", n_threads=4)
    assert AppSettings.from_dict({}) == AppSettings()
    assert AppSettings.from_dict(None) == AppSettings()
    assert AppSettings.from_dict([1, 2]) == AppSettings()
    # A JSON writer that stores whole numbers as floats is still understood...
    assert AppSettings.from_dict({"font_size": 14.0}).font_size == 14
    # ...but not a fraction, infinity, or a bool where a number belongs.
    assert AppSettings.from_dict({"font_size": 14.5}).font_size == 11
    assert AppSettings.from_dict({"n_ctx": float("inf")}).n_ctx == 4096
    assert AppSettings.from_dict({"n_threads": True}).n_threads == 0
    assert AppSettings.from_dict({"flash_attn": 1.0}).flash_attn is False


def test_engine_load_kwargs() -> None:
    assert AppSettings().engine_load_kwargs() == {
        "n_ctx": 4096, "n_gpu_layers": -1, "n_threads": None, "flash_attn": False}
    assert AppSettings(n_ctx=2048, n_gpu_layers=0, n_threads=3, flash_attn=True) \
        .engine_load_kwargs() == {"n_ctx": 2048, "n_gpu_layers": 0, "n_threads": 3,
                                  "flash_attn": True}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8,
)
_field_names = st.sampled_from([f.name for f in fields(AppSettings)])
_plausible = st.one_of(
    st.sampled_from(["system", "en", "zh_CN", "light", "dark", "fr"]),
    st.integers(min_value=-3, max_value=140_000), st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_field_names | st.text(max_size=6), _plausible | _json, max_size=10))
def test_from_dict_never_raises_and_is_always_valid(data: dict[str, Any]) -> None:
    loaded = AppSettings.from_dict(data)
    # Rebuilding through the validating constructor proves every field is in range.
    assert AppSettings(**loaded.to_dict()) == loaded
    for name, value in loaded.to_dict().items():
        # Each field is either what the dict said or the default: never something else.
        assert value == data.get(name, value) or value == getattr(AppSettings(), name)
