"""What-if replay on synthetic logits: each stage's rule, its edge cases, and properties.

(The comparison with llama.cpp's own samplers, and with real generations, is in
tests/engine/test_whatif_engine.py.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.core.sampling import SamplingSettings
from chatapp.core.whatif import CANDIDATES_N, WHATIF_STAGES, entropy_bits, replay


def S(**kw: Any) -> SamplingSettings:
    """Settings with every truncation off unless given."""
    base: dict[str, Any] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0}
    return SamplingSettings(**(base | kw))


def cands(logits: list[float] | np.ndarray, ids: list[int] | None = None) -> list[list[Any]]:
    z = np.asarray(logits, dtype=np.float32)
    ids = list(range(len(z))) if ids is None else ids
    return [[i, float(v)] for i, v in zip(ids, z, strict=True)]


def lse_of(logits: np.ndarray) -> float:
    z = np.asarray(logits, dtype=np.float64)
    m = z.max()
    return float(m + np.log(np.exp(z - m).sum()))


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64) / t
    e = np.exp(z - z.max())
    return e / e.sum()


def store(vocab: np.ndarray, n: int = CANDIDATES_N) -> tuple[list[list[Any]], float]:
    """What the engine stores for a vocabulary's logits: the n highest, and the lse."""
    order = np.lexsort((np.arange(len(vocab)), -vocab))[:n]
    return [[int(i), float(vocab[i])] for i in order], lse_of(vocab)


def reference(vocab: np.ndarray, s: SamplingSettings) -> dict[str, tuple[list[int], np.ndarray]]:
    """The chain on the whole vocabulary, in float64 (llama.cpp's rules, ties by lowest id)."""
    z = np.asarray(vocab, dtype=np.float32).astype(np.float64)
    order = np.lexsort((np.arange(len(z)), -z))
    out = {"input": order}
    if s.greedy:
        out |= {"top_k": order, "top_p": order, "min_p": order, "temperature": order[:1]}
    else:
        if s.top_k > 0:
            order = order[: s.top_k]
        out["top_k"] = order
        if np.float32(s.top_p) < 1:  # llama.cpp's settings are float32
            cum = np.cumsum(softmax(z[order]))
            order = order[: int(np.argmax(cum >= np.float32(s.top_p))) + 1
                          if (cum >= np.float32(s.top_p)).any() else len(order)]
        out["top_p"] = order
        if np.float32(s.min_p) > 0:
            order = order[z[order] >= z[order[0]] + math.log(s.min_p)]
        out["min_p"] = order
        out["temperature"] = order
    return {name: (list(map(int, o)), softmax(z[o], s.temperature if name == "temperature"
                                              and s.temperature > 0 else 1.0))
            for name, o in out.items()}


# --- top-k -------------------------------------------------------------------------------


def test_top_k_keeps_the_k_highest_renormalised() -> None:
    z = [3.0, 1.0, 2.5, -1.0, 0.5]
    w = replay(cands(z), lse_of(np.array(z)), S(top_k=3), n_vocab=5)
    top_k = w.stage("top_k")
    assert top_k.active and top_k.survivors == 3 and top_k.cutoff == {"k": 3.0}
    assert [t for t, _ in top_k.top] == [0, 2, 1]
    assert np.allclose([p for _, p in top_k.top], softmax(np.array([3.0, 2.5, 1.0])))
    assert w.exact and w.final.survivors == 3


def test_top_k_ties_at_the_boundary_keep_the_lowest_ids_with_the_same_probabilities() -> None:
    # ids 40, 7, 12 tie at 1.0 for the last two places
    z = [5.0, 1.0, 4.0, 1.0, 1.0, 0.0]
    ids = [3, 40, 9, 7, 12, 1]
    w = replay(cands(z, ids), None, S(top_k=4), n_vocab=6)
    top_k = w.stage("top_k")
    assert [t for t, _ in top_k.top] == [3, 9, 7, 12]
    ps = [p for _, p in top_k.top]
    assert ps[2] == ps[3]  # whichever tied token llama.cpp keeps, its probability is this
    assert np.allclose(ps, softmax(np.array([5.0, 4.0, 1.0, 1.0])))


def test_top_k_larger_than_the_vocabulary_or_zero_keeps_everything() -> None:
    z = np.array([2.0, 1.0, 0.0])
    for k in (0, 3, 50):
        w = replay(cands(z), lse_of(z), S(top_k=k), n_vocab=3)
        assert w.stage("top_k").survivors == 3 and w.exact
        assert w.stage("top_k").active == (k > 0)


# --- top-p -------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "kept"), [(0.25, 1), (0.5, 2), (0.75, 3), (0.7, 3), (1e-6, 1)])
def test_top_p_keeps_the_smallest_prefix_reaching_p_inclusive(p: float, kept: int) -> None:
    # four equal logits: each p is exactly 0.25 in float32, so the running sum hits 0.5 and
    # 0.75 exactly: ">= p" keeps the prefix that reaches p, not one more
    z = np.zeros(4)
    w = replay(cands(z), lse_of(z), S(top_p=p), n_vocab=4)
    top_p = w.stage("top_p")
    assert top_p.survivors == kept, (p, top_p)
    assert top_p.cutoff["reached"] == pytest.approx(0.25 * kept)
    assert top_p.cutoff["p"] == p
    assert [t for t, _ in top_p.top] == list(range(kept))
    assert sum(q for _, q in top_p.top) == pytest.approx(1.0)


def test_top_p_uses_float32_p_and_float32_sums() -> None:
    # p = 0.7 is 0.699999988 in float32: a cumulative sum of exactly float32(0.7) must pass
    z = np.log(np.array([0.7, 0.3], dtype=np.float64)).astype(np.float32)
    w = replay(cands(z), lse_of(z), S(top_p=0.7), n_vocab=2)
    assert w.stage("top_p").survivors == 1


def test_top_p_after_top_k_renormalises_over_the_top_k() -> None:
    z = np.array([2.0, 1.9, 1.8, -5.0, -5.0, -5.0])
    w = replay(cands(z), lse_of(z), S(top_k=3, top_p=0.6), n_vocab=6)
    # among the three survivors of top-k: p = 0.367, 0.332, 0.301 -> two reach 0.6
    assert w.stage("top_p").survivors == 2


# --- min-p -------------------------------------------------------------------------------


def test_min_p_keeps_logits_at_least_max_plus_log_min_p() -> None:
    z = np.array([0.0, -0.5, -0.69, -0.70, -3.0], dtype=np.float32)
    w = replay(cands(z), lse_of(z), S(min_p=0.5), n_vocab=5)
    mp = w.stage("min_p")
    # threshold: ln 0.5 = -0.6931 -> 0, -0.5, -0.69 survive
    assert mp.survivors == 3
    assert mp.cutoff["logit_threshold"] == pytest.approx(math.log(0.5), abs=1e-6)
    p = softmax(z)
    assert mp.cutoff["p_max"] == pytest.approx(p[0])
    assert mp.cutoff["p_threshold"] == pytest.approx(0.5 * p[0])
    kept = softmax(z)[:3]
    assert all(q >= 0.5 * p[0] for q in kept) and p[3] < 0.5 * p[0]


def test_min_p_zero_is_off_and_one_keeps_only_the_top_ties() -> None:
    z = np.array([1.0, 1.0, 0.999, 0.0])
    off = replay(cands(z), lse_of(z), S(min_p=0.0), n_vocab=4)
    assert not off.stage("min_p").active and off.stage("min_p").survivors == 4
    one = replay(cands(z), lse_of(z), S(min_p=1.0), n_vocab=4)
    assert one.stage("min_p").survivors == 2
    assert [q for _, q in one.final.top] == [0.5, 0.5]


# --- temperature -------------------------------------------------------------------------


def test_temperature_zero_is_greedy_and_skips_the_other_stages() -> None:
    z = np.array([2.0, 3.0, 3.0, 1.0])  # ids 1 and 2 tie: greedy takes the first, id 1
    w = replay(cands(z), lse_of(z), SamplingSettings(temperature=0.0, top_k=1, top_p=0.1,
                                                       min_p=0.9), chosen=1, n_vocab=4)
    assert [s.name for s in w.stages] == list(WHATIF_STAGES)
    assert not any(w.stage(n).active for n in ("top_k", "top_p", "min_p"))
    assert w.stage("top_k").survivors == 4  # not applied at T = 0, as in the app's chain
    assert w.final.survivors == 1 and w.final.top == [(1, 1.0)]
    assert w.entropy_bits == 0.0 and w.exact
    assert w.formula is not None and w.formula.p == 1.0 and w.formula.rank == 0
    other = replay(cands(z), lse_of(z), SamplingSettings(temperature=0.0), chosen=2)
    assert other.formula is not None and other.formula.p == 0.0 and not other.formula.survived


@pytest.mark.parametrize("t", [1e-3, 0.05, 0.3, 0.7, 1.5, 5.0, 100.0])
def test_temperature_divides_the_logits(t: float) -> None:
    z = np.array([4.0, 3.5, 1.0, -2.0, -30.0])
    w = replay(cands(z), lse_of(z), S(temperature=t), chosen=1, n_vocab=5)
    ps = np.array([q for _, q in w.final.top])
    assert np.all(np.isfinite(ps)) and ps.sum() == pytest.approx(1.0)
    assert np.allclose(ps, softmax(z, t), atol=1e-12)
    assert w.entropy_bits == pytest.approx(entropy_bits(softmax(z, t)))
    f = w.formula
    assert f is not None and f.temperature == t and f.logit == 3.5 and f.max_logit == 4.0
    assert f.scaled == pytest.approx((3.5 - 4.0) / t)
    assert f.numerator == pytest.approx(math.exp(f.scaled))
    assert f.denominator == pytest.approx(np.exp((z - 4.0) / t).sum())
    assert f.p == pytest.approx(f.numerator / f.denominator) == pytest.approx(ps[1])


def test_tiny_and_huge_temperatures() -> None:
    z = np.array([4.0, 3.99, 1.0])
    cold = replay(cands(z), lse_of(z), S(temperature=1e-6), n_vocab=3)
    assert cold.final.top[0][1] == pytest.approx(1.0) and math.isfinite(cold.entropy_bits)
    # below float32's smallest positive number llama.cpp's temp sampler is greedy
    frozen = replay(cands(z), lse_of(z), S(temperature=1e-50), chosen=0, n_vocab=3)
    assert frozen.final.top[0] == (0, 1.0) and frozen.entropy_bits == 0.0
    assert frozen.formula is not None and frozen.formula.p == 1.0
    hot = replay(cands(z), lse_of(z), S(temperature=100.0), n_vocab=3)
    assert hot.entropy_bits == pytest.approx(math.log2(3), abs=0.01)
    # a tail far below the stored logits, at a high temperature: estimated, never overflowing
    wide = np.concatenate([np.linspace(0.0, -700.0, 64), np.full(500, -740.0)])
    c, lse = store(wide.astype(np.float32))
    for t in (0.01, 1.0, 100.0):
        w = replay(c, lse, S(temperature=t), n_vocab=len(wide), top_n=64)
        assert not w.exact and math.isfinite(w.entropy_bits)
        assert sum(q for _, q in w.final.top) + w.final.tail_p == pytest.approx(1.0)


def test_temperature_one_is_off() -> None:
    z = np.array([1.0, 0.0])
    w = replay(cands(z), lse_of(z), S(temperature=1.0), n_vocab=2)
    assert not w.final.active and w.final.top == w.stage("min_p").top


# --- beyond the stored candidates ----------------------------------------------------------


def vocab_logits(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 2.5, n).astype(np.float32)


def test_no_truncation_leaves_the_whole_vocabulary_and_is_flagged_inexact() -> None:
    vocab = vocab_logits()
    c, lse = store(vocab)
    w = replay(c, lse, S(), n_vocab=1000)
    assert not w.exact and w.final.survivors == 1000
    assert w.final.tail_p > 0
    # At T = 1 the stored tokens' probabilities are exact all the same: exp(z - lse).
    order = np.lexsort((np.arange(1000), -vocab))
    assert np.allclose([q for _, q in w.final.top], softmax(vocab)[order[:20]], atol=1e-6)
    assert w.final.tail_p == pytest.approx(softmax(vocab)[order[64:]].sum(), abs=1e-6)
    # an approximation, labelled as such: the tail's mass spread evenly over its tokens, the
    # most entropy it can have, so an upper bound
    truth = entropy_bits(softmax(vocab))
    assert truth <= w.entropy_bits <= 1.1 * truth
    hot = replay(c, lse, S(temperature=1.5), n_vocab=1000)
    assert not hot.exact and not hot.final.exact


def test_top_k_beyond_the_stored_candidates_is_inexact() -> None:
    vocab = vocab_logits()
    c, lse = store(vocab)
    w = replay(c, lse, S(top_k=100), n_vocab=1000)
    assert w.stage("top_k").survivors == 100 and not w.exact
    assert replay(c, lse, S(top_k=64), n_vocab=1000).exact


def test_top_p_or_min_p_that_stays_within_the_candidates_is_exact_without_top_k() -> None:
    vocab = vocab_logits()
    vocab[:5] += 12.0  # a peaked distribution: five tokens hold almost all the mass
    c, lse = store(vocab)
    ref = reference(vocab, S(top_p=0.9))
    w = replay(c, lse, S(top_p=0.9), n_vocab=1000)
    assert w.exact and w.final.survivors == len(ref["top_p"][0])
    assert np.allclose([q for _, q in w.final.top], ref["top_p"][1], atol=1e-6)
    w = replay(c, lse, S(min_p=0.05, temperature=0.5), n_vocab=1000)
    ref = reference(vocab, S(min_p=0.05, temperature=0.5))
    assert w.exact and w.final.survivors == len(ref["min_p"][0])
    assert np.allclose([q for _, q in w.final.top], ref["temperature"][1], atol=1e-6)
    # a flat distribution: top-p 0.9 needs far more than 64 tokens
    flat = vocab_logits(seed=1)
    c, lse = store(flat)
    w = replay(c, lse, S(top_p=0.9), n_vocab=1000)
    assert not w.exact and w.stage("top_p").survivors > 64
    assert w.stage("top_p").cutoff["reached"] == pytest.approx(0.9, abs=1e-6)


def test_without_lse_the_tail_is_unknown() -> None:
    vocab = vocab_logits()
    c, _ = store(vocab)
    assert not replay(c, None, S()).exact
    assert not replay(c, None, S()).stage("input").exact
    w = replay(c, None, S(top_k=40, temperature=0.7))
    assert w.exact  # top-k cut the unknown tail away


def test_bad_candidates_are_refused() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        replay([], 0.0, S())
    with pytest.raises(ValueError, match="NaN"):
        replay([[1, float("nan")]], None, S())


def test_entropy_bits() -> None:
    assert entropy_bits([0.5, 0.5]) == pytest.approx(1.0)
    assert entropy_bits([1.0, 0.0]) == 0.0
    assert entropy_bits([0.25] * 4) == pytest.approx(2.0)
    assert entropy_bits([]) == 0.0


def test_to_dict_is_json_ready() -> None:
    import json

    z = np.array([1.0, 0.5, 0.0])
    w = replay(cands(z), lse_of(z), SamplingSettings(temperature=0.7), chosen=1, n_vocab=3)
    d = json.loads(json.dumps(w.to_dict()))
    assert [s["name"] for s in d["stages"]] == list(WHATIF_STAGES)
    assert d["formula"]["token_id"] == 1 and d["exact"] is True


# --- properties ------------------------------------------------------------------------------

knobs = st.fixed_dictionaries({
    "temperature": st.one_of(st.just(0.0), st.just(1.0), st.floats(0.01, 5.0)),
    "top_k": st.one_of(st.just(0), st.integers(1, 80)),
    "top_p": st.one_of(st.just(1.0), st.floats(0.01, 1.0)),
    "min_p": st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-30, 30, width=32), st.floats(-500, 500, width=32)),
             min_size=1, max_size=200),
    knobs,
    st.booleans(),
)
def test_properties(logits: list[float], knob: dict[str, Any], stored_all: bool) -> None:
    vocab = np.array(logits, dtype=np.float32)
    n = len(vocab) if stored_all else min(CANDIDATES_N, len(vocab))
    c, lse = store(vocab, n)
    s = SamplingSettings(**knob)
    w = replay(c, lse, s, top_n=len(vocab), n_vocab=len(vocab))
    counts = [v.survivors for v in w.stages]
    assert counts == sorted(counts, reverse=True), counts  # never grows along the chain
    assert counts[0] == len(vocab) and w.final.survivors >= 1
    for v in w.stages:
        ps = [q for _, q in v.top]
        assert all(0.0 <= q <= 1.0 + 1e-12 for q in ps)
        assert ps == sorted(ps, reverse=True)
        # the listed survivors and the tail make one distribution
        assert sum(ps) + v.tail_p == pytest.approx(1.0, abs=1e-9)
        assert math.isfinite(v.entropy_bits) and v.entropy_bits >= -1e-12
        if v.exact and v.survivors <= len(vocab):
            assert len(ps) == v.survivors
    if stored_all or len(vocab) <= CANDIDATES_N:
        assert w.exact
        ref = reference(vocab, s)
        for name in ("top_k", "top_p", "min_p", "temperature"):
            ids, probs = ref[name]
            view = w.stage(name)
            near_p = s.top_p < 1 and name != "top_k" and _near_top_p_edge(vocab, s)
            if near_p:
                continue  # float32 vs float64 rounding can decide a knife-edge top-p
            if s.min_p > 0 and name in ("min_p", "temperature") and _near_min_p_edge(vocab, s):
                continue
            assert view.survivors == len(ids), (name, view, ids)
            assert np.allclose([q for _, q in view.top], probs, atol=1e-6), name


def _near_top_p_edge(vocab: np.ndarray, s: SamplingSettings) -> bool:
    z = np.sort(vocab.astype(np.float64))[::-1]
    if s.top_k > 0:
        z = z[: s.top_k]
    cum = np.cumsum(softmax(z))
    return bool(np.any(np.abs(cum - s.top_p) < 1e-5))


def _near_min_p_edge(vocab: np.ndarray, s: SamplingSettings) -> bool:
    z = vocab.astype(np.float64)
    return bool(np.any(np.abs(z - (z.max() + math.log(s.min_p))) < 1e-5))
