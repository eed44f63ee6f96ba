"""Sampling settings and thread choice (pure logic)."""

from __future__ import annotations

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.threads import choose_threads, llama_cpp_default_threads


def test_round_trip_and_unknown_keys() -> None:
    s = SamplingSettings(temperature=0.3, stop=("a", "b"), seed=5)
    assert SamplingSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown sampling setting"):
        SamplingSettings.from_dict({"temprature": 1.0})


@pytest.mark.parametrize(
    "bad",
    [{"temperature": -1}, {"temperature": float("nan")}, {"top_p": 0}, {"min_p": 2},
     {"repeat_penalty": 0}, {"top_k": -1}, {"seed": -5}, {"max_tokens": 0}, {"stop": ("",)}],
)
def test_bad_values_are_refused_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError) as err:
        SamplingSettings(**bad)  # type: ignore[arg-type]
    assert str(err.value)


@pytest.mark.parametrize(("cores", "gen", "batch"), [(1, 1, 1), (2, 1, 1), (4, 3, 3),
                                                      (8, 7, 7), (16, 8, 14), (64, 32, 62)])
def test_threads_leave_headroom(cores: int, gen: int, batch: int) -> None:
    choice = choose_threads(cores=cores)
    assert (choice.n_threads, choice.n_threads_batch) == (gen, batch)
    assert choice.n_threads_batch < cores or cores == 1


def test_user_override_wins() -> None:
    choice = choose_threads(n_threads=2, cores=2)
    assert (choice.n_threads, choice.n_threads_batch, choice.reason) == (2, 2, "set by the user")
    assert llama_cpp_default_threads(cores=2).n_threads_batch == 2
