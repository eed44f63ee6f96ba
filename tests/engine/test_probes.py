"""The probes' top-k selection against a plain numpy sort, on vocabulary-sized arrays (the
block-pruned path) and small ones, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.engine.probes import top_candidates, top_indices


@settings(max_examples=60, deadline=None)
@given(n=st.sampled_from([5, 100, 3000, 49152]), k=st.integers(1, 80), seed=st.integers(0, 999),
       levels=st.sampled_from([None, 7]))
def test_top_selection_matches_a_full_sort(n: int, k: int, seed: int, levels: int | None) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=n).astype(np.float32)
    if levels is not None:  # many ties
        logits = np.round(logits * levels).astype(np.float32)
    k = min(k, n)
    # Value descending, then index ascending: the order top_candidates promises.
    expected = np.lexsort((np.arange(n), -logits))[:k]
    np.testing.assert_array_equal(top_candidates(logits, k), expected)
    got = top_indices(logits, k)
    np.testing.assert_array_equal(np.sort(logits[got])[::-1], logits[expected])
    assert len(set(got.tolist())) == k
