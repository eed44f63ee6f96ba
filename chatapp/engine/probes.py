"""Observe llama.cpp's sampler chain stage by stage.

A *probe* is a no-op sampler inserted between the real ones: its `apply` only reads the candidate
array (`llama_token_data_array`) and keeps the top candidates, renormalised over the survivors
(llama.cpp's `p` field is stale between stages, so we take softmax of the logits ourselves).

Cost matters: a probe runs on the token path.  Full-vocabulary stages use float32,
`argpartition` and one `exp` pass; a truncating stage that removed nothing reuses the previous
record; stages switched off by the settings are not in the chain at all.

The probe after the last stage before top-k (penalties, or raw when the penalties are off) also
keeps the what-if data: the `CANDIDATES_N` highest logits with their ids, and the log-sum-exp
of all logits (see chatapp.core.whatif), from the same one pass.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

from chatapp.core.whatif import CANDIDATES_N

# Layout of llama_token_data {int32 id; float logit; float p;}.
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


@dataclass(frozen=True)
class StageSnapshot:
    """One sampler stage as a probe saw it.

    Attributes:
        name: stage name (see chatapp.core.sampling.STAGES).
        survivors: how many candidates were left after the stage.
        ids: the top candidates' token ids, most likely first.
        probs: their probabilities, renormalised over the survivors (sum over all survivors = 1).
        logits: survivors' logits (a copy), kept only where the chosen token must be ranked later.
        survivor_ids: survivors' ids matching `logits`; None when `logits` is indexed by id.
        cand_ids: the what-if candidates' ids (the highest logits, ties by lowest id), or None
            when this stage does not keep them.
        cand_logits: their logits (exact float32 values), highest first.
        lse: log-sum-exp of every logit of the stage (natural log), with the candidates.
    """

    name: str
    survivors: int
    ids: npt.NDArray[np.int32]
    probs: npt.NDArray[np.float32]
    logits: npt.NDArray[np.float32] | None = None
    survivor_ids: npt.NDArray[np.int32] | None = None
    cand_ids: npt.NDArray[np.int32] | None = None
    cand_logits: npt.NDArray[np.float32] | None = None
    lse: float | None = None

    def rank_of(self, token: int) -> tuple[int, float]:
        """Rank (0 = most likely) and probability of `token` in this stage; (-1, 0.0) if cut."""
        hits = np.flatnonzero(self.ids == token)
        if hits.size:
            i = int(hits[0])
            return i, float(self.probs[i])
        if self.logits is None:
            return -1, 0.0
        if self.survivor_ids is None:  # ids are the indices (see snapshot)
            if not 0 <= token < self.logits.shape[0]:
                return -1, 0.0
            logit = self.logits[token]
        else:
            where = np.flatnonzero(self.survivor_ids == token)
            if not where.size:
                return -1, 0.0
            logit = self.logits[int(where[0])]
        m = float(self.logits.max())
        z = float(np.exp(self.logits - m, dtype=np.float32).sum())
        rank = int(np.count_nonzero(self.logits > logit))
        return rank, float(np.exp(logit - m) / z)


_BLOCK = 64


def top_indices(logits: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Indices of the k largest values, largest first.

    For a full vocabulary, `argpartition` over every logit costs ~0.5 ms per call, a large share
    of a token's budget.  Instead: the k largest values can only lie in the blocks whose maxima
    are among the k largest block maxima (every other block lies wholly below k values), so we
    partition the block maxima, then only those blocks.  Exact, and ~10x cheaper.
    """
    n = logits.shape[0]
    if n <= k:
        return np.argsort(logits, kind="stable")[::-1]
    pool, values = _candidate_pool(logits, k)
    m = values.shape[0]
    part = np.argpartition(values, m - k)[m - k:]
    part = part[np.argsort(values[part], kind="stable")[::-1]]
    return pool[part]


def _candidate_pool(logits: npt.NDArray[np.float32],
                    k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Indices (ascending) and values of a pool that holds every value >= the k-th largest.

    Small arrays are their own pool.  A full vocabulary is cut to the blocks whose maxima are
    among the k largest block maxima (every other block lies wholly below k values); padding
    is -inf at the highest indices, so it loses every tie.
    """
    n = logits.shape[0]
    if n < 32 * _BLOCK:
        return np.arange(n), logits
    n_blocks = -(-n // _BLOCK)
    padded = np.full(n_blocks * _BLOCK, -np.inf, dtype=np.float32)
    padded[:n] = logits
    block_max = padded.reshape(n_blocks, _BLOCK).max(axis=1)
    kb = min(k, n_blocks)
    threshold = np.partition(block_max, n_blocks - kb)[n_blocks - kb]
    blocks = np.flatnonzero(block_max >= threshold)
    pool = (blocks[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
    return pool, padded[pool]


def top_candidates(logits: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Indices of the k largest values, by value descending and, among equal values, by index
    ascending; ties at the k-th value keep the lowest indices.  A well-defined order, so that
    a stored candidate list does not depend on how a partition happened to split ties.

    The pool comes from `_candidate_pool`, as for `top_indices`.
    """
    n = logits.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    pool, values = _candidate_pool(logits, k)
    m = values.shape[0]
    kth = np.partition(values, m - k)[m - k]
    keep = np.flatnonzero(values >= kth)  # ascending positions, so ascending indices
    if keep.shape[0] > k:
        above = keep[values[keep] > kth]
        ties = keep[values[keep] == kth][: k - above.shape[0]]
        keep = np.concatenate([above, ties])
    order = np.lexsort((pool[keep], -values[keep]))
    return pool[keep[order]]


def snapshot(
    name: str, data: npt.NDArray[Any], top_n: int, keep_all: bool, candidates: int = 0
) -> StageSnapshot:
    """Summarise a candidate array: the top `top_n` by logit with softmax probabilities, and,
    when `candidates` > 0, that many (id, logit) what-if candidates and the log-sum-exp."""
    logits = np.ascontiguousarray(data["logit"])
    if candidates > 0:
        cand = top_candidates(logits, max(top_n, candidates))
        top = cand[:top_n]
    else:
        top = top_indices(logits, top_n)
    m = logits[top[0]]
    lse: float | None = None
    if np.isneginf(m):  # every logit is -inf: nothing can be drawn; report uniform zeros
        probs = np.zeros(top.shape[0], dtype=np.float32)
        lse = -math.inf
    else:
        z = np.exp(logits - m, dtype=np.float32).sum(dtype=np.float32)
        probs = (np.exp(logits[top] - m, dtype=np.float32) / z).astype(np.float32)
        lse = float(m) + math.log(float(z))
    ids = data["id"][top].astype(np.int32)
    extra: dict[str, Any] = {}
    if candidates > 0:
        kept = cand[:candidates]
        extra = {"cand_ids": data["id"][kept].astype(np.int32), "cand_logits": logits[kept],
                 "lse": lse}
    n = logits.shape[0]
    if keep_all:
        all_ids = data["id"]
        # llama.cpp fills the first candidate array in token order: then ids are the indices
        # and need no copy (a third of this stage's cost).
        identity = n > 0 and all_ids[0] == 0 and all_ids[n - 1] == n - 1
        survivor_ids = None if identity else np.array(all_ids)
        return StageSnapshot(name, n, ids, probs, logits, survivor_ids, **extra)
    return StageSnapshot(name, n, ids, probs, **extra)


class ProbeSet:
    """Probe samplers for one generation; `take()` returns the stages seen for the last draw.

    The ctypes interface structs and callbacks are kept alive here for as long as the chain
    that holds the probes (llama.cpp keeps only raw pointers to them).
    """

    def __init__(self, top_n: int, n_candidates: int = CANDIDATES_N) -> None:
        """Prepare probes that keep the `top_n` most likely candidates of every stage, and
        `n_candidates` what-if candidates where asked to (see `make`)."""
        self.top_n = top_n
        self.n_candidates = n_candidates
        self._stages: list[StageSnapshot] = []
        self._keep_alive: list[object] = []
        self._last_name: str | None = None

    def make(
        self, name: str, *, transforms: bool, last: bool = False, candidates: bool = False
    ) -> llama_cpp.llama_sampler_p:
        """Create a probe sampler for the stage `name`.

        `transforms`: the stage before this probe may change logits (penalties, temperature);
        if not, it can only remove candidates, so an unchanged size means an unchanged stage.
        `last`: keep a copy of the survivors' logits so the chosen token can always be ranked.
        `candidates`: also keep the what-if candidates and log-sum-exp (the probe just before
        top-k, which must see the whole vocabulary).
        """
        stages = self._stages
        top_n = self.top_n
        keep_all = last or name == "raw"
        n_cand = self.n_candidates if candidates else 0

        def apply(_smpl: Any, cur_p_ptr: Any) -> None:
            try:
                cur = cur_p_ptr.contents
                size = int(cur.size)
                prev = stages[-1] if stages else None
                if (prev is not None and not transforms and prev.survivors == size and not last
                        and not n_cand):
                    stages.append(StageSnapshot(name, size, prev.ids, prev.probs))
                    return
                address = ctypes.addressof(cur.data.contents)
                raw = (ctypes.c_char * (size * _TOKEN_DATA.itemsize)).from_address(address)
                data = np.frombuffer(memoryview(raw), dtype=_TOKEN_DATA, count=size)
                stages.append(snapshot(name, data, top_n, keep_all, n_cand))
            except Exception as exc:  # an exception must not cross into C: record it instead
                stages.append(
                    StageSnapshot(f"{name} (probe failed: {exc})", -1,
                                  np.zeros(0, np.int32), np.zeros(0, np.float32))
                )

        name_bytes = ctypes.c_char_p(f"chatapp-probe-{name}".encode())

        def get_name(_smpl: Any) -> bytes | None:
            return name_bytes.value

        iface = llama_cpp.llama_sampler_i()
        callbacks: list[Callable[..., Any]] = [
            llama_cpp.llama_sampler_i_name(get_name),
            llama_cpp.llama_sampler_i_apply(apply),
        ]
        iface.name, iface.apply = callbacks  # other members stay NULL: allowed when ctx is NULL
        sampler: llama_cpp.llama_sampler_p = llama_cpp.llama_sampler_init(
            ctypes.pointer(iface), None
        )
        self._keep_alive.extend([iface, callbacks, name_bytes, apply, get_name])
        return sampler

    def take(self) -> list[StageSnapshot]:
        """The stages recorded since the last call (and forget them)."""
        taken = list(self._stages)
        self._stages.clear()
        return taken
