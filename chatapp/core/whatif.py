"""What-if sampling: replay llama.cpp's sampler chain on a token's stored candidates.

A token record keeps the `CANDIDATES_N` highest logits as they enter top-k (after the
penalties; see chatapp.engine.protocol) and the log-sum-exp of the whole vocabulary at that
point.  From those, `replay` recomputes what the chain penalties → top-k → top-p → min-p →
temperature → draw does with *other* settings, without running the model again:

* top-k (k > 0): keeps the k highest logits (k is capped at the vocabulary size).  Ties at the
  boundary: llama.cpp's `std::partial_sort` keeps an unspecified one of the tied tokens; the
  replay keeps the lowest token ids.  Tied tokens have equal logits, so the probabilities are
  the same either way; only which id is shown can differ.
* top-p (p < 1): softmax over the current candidates, then the smallest prefix (by logit,
  descending) whose cumulative probability is `>= p`, at least one token (min_keep = 1).  The
  kept set is not renormalised by the stage itself; every view here is (softmax of the
  survivors' logits).  Without a tail (see below) the replay repeats llama.cpp's float32
  arithmetic: `expf(z - z_max)`, a sequential float32 sum, division, a sequential float32
  cumulative sum compared with float32(p), so that it cuts at the same token.
* min-p (min_p > 0): keeps the logits `>= float32(z_max + logf(min_p))` (float32, as llama.cpp
  does), i.e. the tokens with p >= min_p * p_max, at least the first.
* temperature: logits / T, then softmax; T = 0 is greedy.  Like the app's chain (and
  llama-cpp-python's), T = 0 skips top-k, top-p and min-p: only the arg-max survives (ties: the
  lowest id, as llama.cpp's greedy sampler picks the first).  At T = 1 the stage is off.

Candidates beyond the stored ones (the *tail*): the replay knows the tail's total probability
at T = 1 exactly from the log-sum-exp, and that every tail logit is <= the lowest stored one.
When a stage's survivors reach into the tail (top-k = 0 with top-p = 1 and min-p = 0, k larger
than the stored count, a top-p that the stored tokens do not reach ...) the result is an
approximation and is marked so (`exact` is False): the tail is treated as if all of its mass
sat at the lowest stored logit (an upper bound of its weight at T < 1, a lower bound at T > 1),
a partly kept tail is estimated from that bound, and its entropy is estimated as if its mass
were spread evenly over its tokens (when the vocabulary size is known) or as one lump.

The replay computes in float64 from the stored float32 logits, except where llama.cpp's float32
arithmetic decides which tokens survive (top-p, min-p); its probabilities agree with the engine's
(float32) records to about 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from chatapp.core.sampling import SamplingSettings

#: How many candidates (token id, logit) a token record keeps of the distribution entering top-k.
CANDIDATES_N = 64

#: Names of the replayed stages, in chain order.  "input" is the distribution entering top-k:
#: the penalties stage's output (the raw distribution when the penalties are off).
WHATIF_STAGES: tuple[str, ...] = ("input", "top_k", "top_p", "min_p", "temperature")

_LOG2 = math.log(2.0)


@dataclass(frozen=True)
class StageView:
    """One stage of the replayed chain.

    Attributes:
        name: one of WHATIF_STAGES.
        active: whether the stage does anything with these settings (an inactive stage shows
            the previous stage's distribution again).
        survivors: how many tokens are left after the stage.  When `exact` is False and the
            tail was partly kept, a lower bound (the stored survivors plus at least one).
        top: the `top_n` most likely survivors, (token id, p), p renormalised over all
            survivors (a softmax of their logits, at the stage's temperature).
        cutoff: what decided the cut, as numbers: top_k {"k"}; top_p {"p", "reached": the
            cumulative probability of the kept tokens, in llama.cpp's float32 arithmetic when
            exact}; min_p {"min_p", "p_max", "p_threshold" = p_max * min_p, "logit_threshold"};
            temperature {"temperature"}; input {"n_candidates", "tail_p"}.  Empty for an
            inactive stage except for the setting's value.
        entropy_bits: the entropy of the survivors' distribution, in bits.
        tail_p: the probability of the survivors that are not among the stored candidates.
        exact: False when survivors, probabilities or entropy are estimated because they
            depend on tokens beyond the stored candidates (see the module docstring).
    """

    name: str
    active: bool
    survivors: int
    top: list[tuple[int, float]]
    cutoff: dict[str, float]
    entropy_bits: float
    tail_p: float
    exact: bool


@dataclass(frozen=True)
class Formula:
    """The chosen token's probability at the last stage, with the numbers that make it.

    p_i = exp(z_i / T) / Σ_j exp(z_j / T) over the survivors j.  For numerical stability every
    logit is shifted by the largest, z_max (the ratio does not change):
    `scaled = (z_i - z_max) / T`, `numerator = exp(scaled)`,
    `denominator = Σ_j exp((z_j - z_max) / T)`, `p = numerator / denominator`; the numbers
    reported are these shifted ones.  At T = 0 (greedy) p is 1 for the arg-max and 0 otherwise
    (scaled is 0 or -inf, the denominator 1).

    Attributes:
        token_id: the token.
        rank: its rank among the final survivors (0 = most likely), -1 when it was cut.
        survived: False when a stage removed it (then p = 0; `numerator` is what it would
            have weighed).
        logit: z_i, its logit entering top-k (after the penalties).
        max_logit: z_max, the largest logit among the survivors (the shift).
        temperature: T.
        scaled: (z_i - z_max) / T.
        numerator: exp(scaled).
        denominator: Σ_j exp((z_j - z_max) / T) over the survivors (with the estimated tail
            when `exact` is False).
        p: its probability in the final distribution.
        exact: as WhatIf.exact.
    """

    token_id: int
    rank: int
    survived: bool
    logit: float
    max_logit: float
    temperature: float
    scaled: float
    numerator: float
    denominator: float
    p: float
    exact: bool


@dataclass(frozen=True)
class WhatIf:
    """The chain replayed with some settings on one token's stored candidates.

    Attributes:
        settings: the settings replayed.
        stages: one StageView per name in WHATIF_STAGES, in chain order.
        entropy_bits: the entropy of the final distribution (the one the draw uses), in bits.
        exact: True when the final distribution (its survivors and probabilities) is exact:
            no stage from top-k on needed tokens beyond the stored candidates.
        formula: the chosen token's probability explained (None when no token was named or
            it is not among the stored candidates).
    """

    settings: SamplingSettings
    stages: list[StageView]
    entropy_bits: float
    exact: bool
    formula: Formula | None = field(default=None)

    @property
    def final(self) -> StageView:
        """The last stage: the distribution the draw uses."""
        return self.stages[-1]

    def stage(self, name: str) -> StageView:
        """The stage called `name` (KeyError if there is none)."""
        for view in self.stages:
            if view.name == name:
                return view
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {
            "settings": self.settings.to_dict(),
            "exact": self.exact,
            "entropy_bits": self.entropy_bits,
            "stages": [
                {"name": s.name, "active": s.active, "survivors": s.survivors,
                 "top": [[t, p] for t, p in s.top], "cutoff": dict(s.cutoff),
                 "entropy_bits": s.entropy_bits, "tail_p": s.tail_p, "exact": s.exact}
                for s in self.stages
            ],
            "formula": None,
        }
        if self.formula is not None:
            f = self.formula
            out["formula"] = {
                "token_id": f.token_id, "rank": f.rank, "survived": f.survived,
                "logit": f.logit, "max_logit": f.max_logit, "temperature": f.temperature,
                "scaled": f.scaled, "numerator": f.numerator, "denominator": f.denominator,
                "p": f.p, "exact": f.exact,
            }
        return out


def entropy_bits(probs: Sequence[float] | npt.NDArray[np.floating[Any]]) -> float:
    """Shannon entropy in bits of a probability vector (zeros contribute nothing)."""
    p = np.asarray(probs, dtype=np.float64)
    p = p[p > 0.0]
    if p.size == 0:
        return 0.0
    return float(-(p * np.log2(p)).sum())


@dataclass(frozen=True)
class _State:
    """The candidates left after a stage: a prefix of the sorted stored candidates (every stage
    keeps the highest logits) plus, maybe, part of the tail (the vocabulary beyond them)."""

    n: int  # stored candidates kept
    tail_w: float  # the kept tail's weight at T = 1, relative to exp(z_max)
    tail_count: int | None  # the kept tail's token count; None when unknown
    tail_known: bool  # tail_w is exact (else an estimate, or 0 for "unknown")
    approx: bool  # this or an earlier stage had to estimate (sticky)

    @property
    def has_tail(self) -> bool:
        """Whether tokens beyond the stored candidates are (or may be) among the survivors
        (a known count decides, even when their weight is too small to show in a float)."""
        if self.tail_count is not None:
            return self.tail_count > 0
        return self.tail_w > 0.0 or not self.tail_known

    def cut(self, n: int) -> _State:
        """Only the first n stored candidates survive (exactly known: no tail)."""
        return _State(n, 0.0, 0, True, self.approx)


class _Replay:
    """One replay: the sorted candidates, and the stages as functions of a _State."""

    def __init__(self, ids: npt.NDArray[np.int64], z32: npt.NDArray[np.float32],
                 lse: float | None, n_vocab: int | None, top_n: int) -> None:
        self.ids = ids
        self.z32 = z32
        self.z = z32.astype(np.float64)
        self.z0 = float(self.z[0])
        self.w = np.exp(self.z - self.z0)  # weights at T = 1, relative to the largest
        self.w_last = float(self.w[-1])
        self.top_n = top_n
        n = int(ids.shape[0])
        if n_vocab is not None and n_vocab <= n:
            self.start = _State(n, 0.0, 0, True, False)
        elif lse is None or not math.isfinite(lse):
            # No log-sum-exp: the tail's weight is unknown; it counts as nothing, marked so.
            self.start = _State(n, 0.0, None if n_vocab is None else n_vocab - n, False, False)
        else:
            rest = max(0.0, math.exp(lse - self.z0) - float(self.w.sum()))
            self.start = _State(n, rest, None if n_vocab is None else n_vocab - n, True, False)

    def survivors(self, s: _State) -> int:
        """How many tokens the state holds (a lower bound when the tail's count is unknown)."""
        if s.tail_count is None:
            return s.n + (1 if s.has_tail else 0)
        return s.n + s.tail_count

    def weights(self, s: _State, temperature: float) -> tuple[npt.NDArray[np.float64], float]:
        """The stored survivors' weights exp((z - z_max) / T), and the tail's (estimated as if
        all its mass sat at the lowest stored logit)."""
        tail = s.tail_w if s.has_tail else 0.0
        if temperature == 1.0:
            return self.w[:s.n], tail
        w = np.exp((self.z[:s.n] - self.z0) / temperature)
        if tail > 0.0:  # tail * w_last ** (1/T - 1), in logs: neither factor may overflow
            tail = (math.exp(math.log(tail) + (1.0 / temperature - 1.0) * math.log(self.w_last))
                    if self.w_last > 0.0 else 0.0)
        return w, tail

    def view(self, name: str, active: bool, s: _State, cutoff: dict[str, float],
             temperature: float = 1.0) -> StageView:
        """The stage's distribution over the state's tokens at `temperature`."""
        weights, tail = self.weights(s, temperature)
        total = float(weights.sum()) + tail
        probs = weights / total
        tail_p = tail / total
        tail_h = 0.0
        if tail_p > 0.0:  # spread evenly over the tail's tokens when their count is known
            tail_h = -tail_p * math.log2(tail_p / (s.tail_count or 1))
        shown = min(self.top_n, s.n)
        return StageView(
            name=name, active=active, survivors=self.survivors(s),
            top=list(zip(self.ids[:shown].tolist(), probs[:shown].tolist(), strict=True)),
            cutoff=cutoff, entropy_bits=entropy_bits(probs) + tail_h, tail_p=tail_p,
            exact=not s.approx and not s.has_tail,
        )

    def top_k(self, s: _State, k: int) -> _State:
        """Keep the k highest logits."""
        if k <= 0:
            return s
        if k <= s.n:
            return s if k == s.n and not s.has_tail else s.cut(k)
        if not s.has_tail or (s.tail_count is not None and k - s.n >= s.tail_count):
            return s
        # Part of the tail survives: k - n tokens of at most w_last each.
        extra = k - s.n
        return _State(s.n, min(s.tail_w, extra * self.w_last), extra, False, True)

    def top_p(self, s: _State, p: float, after_top_k: bool) -> tuple[_State, float]:
        """Keep the smallest prefix reaching cumulative probability p; returns the state and
        the cumulative probability of what was kept."""
        p32 = np.float32(p)
        if not s.has_tail:
            # llama.cpp's arithmetic: p_i = expf(z_i - z_max) / Σ (float32, summed in array
            # order: by logit after top-k, which sorts, else by token id), then a float32
            # running sum by logit, compared with float32(p).
            diff = (self.z32[:s.n] - self.z32[0]).astype(np.float64)
            e = np.exp(diff).astype(np.float32)
            in_order = e if after_top_k else e[np.argsort(self.ids[:s.n], kind="stable")]
            q = (e / np.cumsum(in_order, dtype=np.float32)[-1]).astype(np.float32)
            cum = np.cumsum(q, dtype=np.float32)
            hits = np.flatnonzero(cum >= p32)
            last = int(hits[0]) + 1 if hits.size else s.n
            return s.cut(last), float(cum[last - 1])
        w = self.w[:s.n]
        total = float(w.sum()) + s.tail_w
        cum64 = np.cumsum(w) / total
        hits = np.flatnonzero(cum64 >= float(p32))
        if hits.size:
            last = int(hits[0]) + 1
            kept = s.cut(last)
            return (kept if s.tail_known else replace(kept, approx=True)), float(cum64[last - 1])
        # The stored tokens do not reach p: the tail is kept as far as p still needs.
        needed = (float(p32) - float(cum64[-1])) * total
        kept_w = min(s.tail_w, max(needed, 0.0))
        return (_State(s.n, kept_w, None, False, True),
                (float(w.sum()) + kept_w) / total)

    def min_p(self, s: _State, min_p: float) -> tuple[_State, dict[str, float]]:
        """Keep the logits >= z_max + ln(min_p) (float32, as llama.cpp computes it)."""
        threshold = np.float32(self.z32[0] + np.float32(np.log(np.float64(np.float32(min_p)))))
        weights, tail = self.weights(s, 1.0)
        p_max = float(weights[0]) / (float(weights.sum()) + tail)
        cutoff = {"min_p": min_p, "p_max": p_max, "p_threshold": p_max * min_p,
                  "logit_threshold": float(threshold)}
        keep = max(1, int(np.count_nonzero(self.z32[:s.n] >= threshold)))  # the first stays
        if keep < s.n or (keep == s.n and not s.has_tail):
            return (s if keep == s.n else s.cut(keep)), cutoff
        # Every stored token passes, and some of the tail may: keep it all (an upper bound).
        return replace(s, approx=True), cutoff


def _sorted_candidates(
    candidates: Sequence[tuple[int, float]] | Sequence[Sequence[float]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Ids and float32 logits, by logit descending, ties by id ascending."""
    if len(candidates) == 0:
        raise ValueError("no candidates to replay")
    ids = np.fromiter((int(c[0]) for c in candidates), dtype=np.int64, count=len(candidates))
    z32 = np.fromiter((float(c[1]) for c in candidates), dtype=np.float32,
                      count=len(candidates))
    if np.isnan(z32).any() or np.isposinf(z32).any():
        raise ValueError("a candidate logit is NaN or +inf")
    if np.isneginf(z32[np.argmax(z32)]):
        raise ValueError("every candidate logit is -inf")
    order = np.lexsort((ids, -z32))
    return ids[order], z32[order]


def replay(
    candidates: Sequence[tuple[int, float]] | Sequence[Sequence[float]],
    lse: float | None,
    settings: SamplingSettings,
    *,
    chosen: int | None = None,
    top_n: int = 20,
    n_vocab: int | None = None,
) -> WhatIf:
    """Replay the sampler chain with `settings` on a token's stored candidates.

    `candidates`: (token id, logit) pairs as they entered top-k (a record's "candidates"; the
    logits are exact float32 values); `lse`: the log-sum-exp of all logits at that point (a
    record's "candidates_lse"; None if unknown: the tail then counts as nothing and the views
    that include it are marked inexact).  `chosen`: a token whose final probability `formula`
    explains.  `top_n`: survivors listed per stage.  `n_vocab`: the vocabulary size when known
    (a record's raw stage "survivors"): it makes survivor counts that include the tail exact.
    Only the settings the chain applies after the penalties matter (temperature, top_k, top_p,
    min_p): the penalties are already in the stored logits.
    """
    ids, z32 = _sorted_candidates(candidates)
    r = _Replay(ids, z32, lse, n_vocab, top_n)
    s = r.start
    first = r.view("input", True, s, {})
    views = [replace(first, cutoff={"n_candidates": float(ids.shape[0]),
                                    "tail_p": first.tail_p})]
    t = settings.temperature
    if settings.greedy:
        # The app's chain at T = 0 is penalties → greedy: the other stages are not applied.
        for name, key, value in (("top_k", "k", float(settings.top_k)),
                                 ("top_p", "p", settings.top_p),
                                 ("min_p", "min_p", settings.min_p)):
            views.append(replace(first, name=name, active=False, cutoff={key: value}))
        views.append(StageView("temperature", True, 1, [(int(ids[0]), 1.0)],
                               {"temperature": 0.0}, 0.0, 0.0, True))
        final = s.cut(1)
    else:
        s = r.top_k(s, settings.top_k)
        views.append(r.view("top_k", settings.top_k > 0, s, {"k": float(settings.top_k)}))
        # llama.cpp takes the settings as float32: a p that rounds to 1 (a min-p that rounds
        # to 0, a temperature that rounds to 1) leaves its stage off.
        if np.float32(settings.top_p) < 1.0:
            s, reached = r.top_p(s, settings.top_p, after_top_k=settings.top_k > 0)
            views.append(r.view("top_p", True, s, {"p": settings.top_p, "reached": reached}))
        else:
            views.append(r.view("top_p", False, s, {"p": settings.top_p}))
        if np.float32(settings.min_p) > 0.0:
            s, cutoff = r.min_p(s, settings.min_p)
            views.append(r.view("min_p", True, s, cutoff))
        else:
            views.append(r.view("min_p", False, s, {"min_p": settings.min_p}))
        if np.float32(t) <= 0.0:
            # A positive temperature that is 0 in float32: llama.cpp's temp sampler leaves
            # only the arg-max (the others become -inf, still counted among the candidates).
            shown = [(int(i), 0.0) for i in ids[1:min(top_n, s.n)]]
            views.append(StageView("temperature", True, r.survivors(s),
                                   [(int(ids[0]), 1.0), *shown], {"temperature": t}, 0.0, 0.0,
                                   not s.approx))
            final, t = s.cut(1), 0.0
        else:
            if np.float32(t) == 1.0:
                t = 1.0
            views.append(r.view("temperature", t != 1.0, s, {"temperature": settings.temperature},
                                temperature=t))
            final = s
    last = views[-1]
    formula = None if chosen is None else _formula(r, final, chosen, t, last.exact)
    return WhatIf(settings=settings, stages=views, entropy_bits=last.entropy_bits,
                  exact=last.exact, formula=formula)


def _formula(r: _Replay, s: _State, chosen: int, t: float, exact: bool) -> Formula | None:
    """The chosen token's final probability, term by term (None if it is not stored)."""
    where = np.flatnonzero(r.ids == chosen)
    if not where.size:
        return None
    i = int(where[0])
    z_i = float(r.z[i])
    survived = i < s.n
    if t == 0.0:
        top = i == 0
        return Formula(chosen, 0 if top else -1, top, z_i, r.z0, 0.0, 0.0 if top else -math.inf,
                       1.0 if top else 0.0, 1.0, 1.0 if top else 0.0, exact)
    weights, tail = r.weights(s, t)
    scaled = (z_i - r.z0) / t
    numerator = math.exp(scaled)
    denominator = float(weights.sum()) + tail
    return Formula(chosen, i if survived else -1, survived, z_i, r.z0, t, scaled, numerator,
                   denominator, numerator / denominator if survived else 0.0, exact)
