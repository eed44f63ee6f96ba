"""What-if replay against llama.cpp itself.

1. Synthetic logits through the app's own sampler chain (llama.cpp's samplers with the probes,
   no model): the records' stages must be what `replay` computes from the records' candidates.
2. THE acceptance test, on the real starter model: the distribution re-plotted at temperature
   T2 from a reply generated at T1 equals the one a real generation at T2 records for the same
   prefix.

   Setup, and why it is honest: the two replies are generated with the same prompt and seed,
   one after the other.  The second reuses the KV cache of the first for the prompt (and
   decodes the prompt's last token on its own, as the first did), so at token k both see the
   same logits as long as their first k tokens agree.  They agree up to the first token where
   the two draws differ (the temperature changes the draw); every position up to and
   including that one is compared, and the test checks that the recorded candidates of both
   runs are identical there (bit for bit), which proves that the inputs were the same.  A
   forced-prefix setup (re-prompting with the reply so far) would re-tokenise the text and
   decode it as a batch, which changes the logits slightly: the comparison would no longer be
   with what a generation computes.
"""

from __future__ import annotations

import ctypes
import math
import random
from types import SimpleNamespace
from typing import Any

import llama_cpp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.core.sampling import SamplingSettings
from chatapp.core.whatif import CANDIDATES_N, replay
from chatapp.engine.client import EngineClient
from chatapp.engine.generator import Generator, SamplerChain
from chatapp.engine.probes import ProbeSet

Events = list[dict[str, Any]]
STAGE_NAMES = ("top_k", "top_p", "min_p", "temperature")


def stage(event: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in event["stages"] if s["name"] == name)


def whatif_of(event: dict[str, Any], s: SamplingSettings, top_n: int = 20,
              chosen: int | None = None) -> Any:
    return replay(event["candidates"], event["candidates_lse"], s,
                  chosen=event["token"] if chosen is None else chosen, top_n=top_n,
                  n_vocab=stage(event, "raw")["survivors"])


def assert_stage_matches(view: Any, rec: dict[str, Any], logits: dict[int, float], where: str,
                         tol: float = 1e-4) -> None:
    """The replayed stage equals the recorded one: survivors, ids and probabilities.  Tokens
    whose logits tie may be listed in another order, and where a cut falls inside a group of
    tied tokens llama.cpp may keep others of them than the replay (the lowest ids): their
    probabilities are the same, so a different id is allowed only for a tied logit."""
    assert view.survivors == rec["survivors"], (where, view.survivors, rec["survivors"])
    got = view.top[: len(rec["top"])]
    assert len(got) == len(rec["top"]), where
    for n, ((tid, p), (rid, _text, rp)) in enumerate(zip(got, rec["top"], strict=True)):
        assert abs(p - rp) <= tol, (where, n, p, rp)
        assert (tid == rid or logits[tid] == logits.get(rid)
                # tied with a token beyond the stored ones (ties keep the lowest ids)
                or (rid not in logits and logits[tid] == min(logits.values()))), (
            where, n, tid, rid)


# --- 1. synthetic logits through the app's chain ------------------------------------------


class FakeModel(SimpleNamespace):
    """What SamplerChain and Generator._records use of a LoadedModel."""

    def piece_text(self, token: int) -> str:
        return f"<{token}>"


def chain_records(logits: np.ndarray, s: SamplingSettings, history: list[int],
                  top_n: int = 20) -> dict[str, Any]:
    """One draw through SamplerChain (llama.cpp's samplers and the app's probes) on `logits`
    as the vocabulary; returns the record the engine would emit."""
    n = len(logits)
    model = FakeModel(n_vocab=n, n_ctx=4096)
    probes = ProbeSet(top_n)
    chain = SamplerChain(model, s, probes)  # type: ignore[arg-type]
    try:
        for tok in history:
            chain.accept(tok)
        data = (llama_cpp.llama_token_data * n)()
        for i, z in enumerate(logits.tolist()):
            data[i].id, data[i].logit, data[i].p = i, z, 0.0
        cur = llama_cpp.llama_token_data_array(
            data=ctypes.cast(data, llama_cpp.llama_token_data_p), size=n, selected=-1,
            sorted=False)
        llama_cpp.llama_sampler_apply(chain.ptr, ctypes.byref(cur))
        token = int(data[cur.selected].id)
        record = Generator(model)._records(probes.take(), chain, token)  # type: ignore[arg-type]
    finally:
        chain.free()
    return record | {"token": token}


synthetic = st.fixed_dictionaries({
    "n": st.sampled_from([5, 40, 64, 65, 300, 3000]),
    "seed": st.integers(0, 2**31),
    "spread": st.sampled_from([0.5, 2.0, 5.0]),
    "ties": st.booleans(),  # logits rounded to 0.25: many exact ties
    "temperature": st.sampled_from([0.0, 0.3, 0.7, 1.0, 1.5]),
    "top_k": st.sampled_from([0, 1, 3, 10, 40, 64, 100]),
    "top_p": st.sampled_from([1.0, 0.5, 0.8, 0.95]),
    "min_p": st.sampled_from([0.0, 0.05, 0.2, 1.0]),
    "penalty": st.sampled_from([1.0, 1.3]),
})


@settings(max_examples=600, deadline=None)
@given(synthetic)
def test_replay_equals_the_app_chain_on_synthetic_logits(case: dict[str, Any]) -> None:
    rng = np.random.default_rng(case["seed"])
    logits = (rng.normal(0.0, case["spread"], case["n"]) * 2).astype(np.float32)
    if case["ties"]:
        logits = (np.round(logits * 4) / 4).astype(np.float32)
    s = SamplingSettings(temperature=case["temperature"], top_k=case["top_k"],
                         top_p=case["top_p"], min_p=case["min_p"],
                         repeat_penalty=case["penalty"], seed=1)
    history = rng.integers(0, case["n"], 8).tolist()
    top_n = 200
    rec = chain_records(logits, s, history, top_n)
    cands = rec["candidates"]
    assert len(cands) == min(CANDIDATES_N, case["n"])
    zs = [z for _, z in cands]
    assert zs == sorted(zs, reverse=True)
    assert all(float(np.float32(z)) == z for z in zs)
    source = stage(rec, "penalties" if case["penalty"] != 1.0 else "raw")
    # the candidates are the stage's logits: their softmax (with the lse) is the stage's top
    for (tid, z), (rid, _, p) in zip(cands, source["top"], strict=False):
        assert abs(math.exp(z - rec["candidates_lse"]) - p) <= 2e-6
        assert tid == rid or abs(z - dict(cands).get(rid, math.inf)) == 0.0
    w = whatif_of(rec, s, top_n=top_n)
    beyond = False
    for name in STAGE_NAMES:
        view = w.stage(name)
        beyond = beyond or stage(rec, name)["survivors"] > len(cands)
        if view.exact:
            assert_stage_matches(view, stage(rec, name), dict(cands), f"{name} {case}",
                                 tol=2e-6)
        else:
            # only once a stage kept tokens beyond the stored candidates
            assert beyond, (name, case)
    if w.exact:
        f = w.formula
        if f is None:  # llama.cpp kept (and drew) a token tied with the lowest stored one
            assert abs(w.final.top[-1][1] - rec["chosen_p"]) <= 2e-6
        elif not f.survived:  # a cut inside a group of tied logits kept another of them
            twins = [p for t, p in w.final.top if dict(cands)[t] == f.logit]
            assert twins and abs(twins[0] - rec["chosen_p"]) <= 2e-6
        else:
            assert abs(f.p - rec["chosen_p"]) <= 2e-6
    if s.greedy:
        assert rec["token"] == cands[0][0] and w.final.top == [(cands[0][0], 1.0)]


def test_top_k_ties_at_the_boundary_in_llama_cpp() -> None:
    """Which of several tied tokens llama.cpp's top-k keeps is its sort's business; the
    replay keeps the lowest ids, with the same probabilities."""
    logits = np.array([3.0, 1.0, 1.0, 2.0, 1.0, 1.0, 0.0], dtype=np.float32)
    s = SamplingSettings(temperature=1.0, top_k=4, top_p=1.0, min_p=0.0, seed=1)
    rec = chain_records(logits, s, [])
    w = whatif_of(rec, s)
    assert [t for t, _ in w.stage("top_k").top] == [0, 3, 1, 2]
    kept = sorted(c[0] for c in stage(rec, "top_k")["top"])
    assert {0, 3} <= set(kept) and len(kept) == 4
    assert_stage_matches(w.stage("top_k"), stage(rec, "top_k"), dict(rec["candidates"]), "ties",
                         tol=1e-6)


# --- 2. the real model ------------------------------------------------------------------------

PROMPTS = [
    "Name three colours of the rainbow.",
    "Write a short poem about the sea.",
    "Explain what a CPU does.",
    "Give me a recipe for pancakes.",
]


def generate(engine: EngineClient, prompt: str, s: SamplingSettings) -> Events:
    events = list(engine.generate([{"role": "user", "content": prompt}], s))
    assert events[-1]["type"] == "done"
    return events[:-1]


def compare_runs(engine: EngineClient, first: SamplingSettings, second: SamplingSettings,
                 seeds: range, tokens: int = 32) -> tuple[int, int]:
    """Generate with `first`, then `second`, same prompt and seed; replay the first run's
    candidates with `second` at every position whose prefix both runs share, and compare with
    what the second run recorded.  Returns (positions compared exactly, inexact positions)."""
    exact = inexact = 0
    for prompt in PROMPTS:
        for seed in seeds:
            a = generate(engine, prompt, first.with_seed(seed))
            b = generate(engine, prompt, SamplingSettings.from_dict(
                second.to_dict() | {"seed": seed, "max_tokens": tokens}))
            for k, (ta, tb) in enumerate(zip(a, b, strict=False)):  # b may stop sooner
                # the same prefix, the same model state: the same candidates, bit for bit
                assert ta["candidates"] == tb["candidates"], (prompt, seed, k)
                assert ta["candidates_lse"] == tb["candidates_lse"]
                w = whatif_of(ta, second, chosen=tb["token"])
                if not w.exact:
                    inexact += 1
                    # only where a stage kept more than the 64 stored candidates
                    assert any(stage(tb, n)["survivors"] > CANDIDATES_N for n in STAGE_NAMES)
                else:
                    exact += 1
                    for name in STAGE_NAMES:
                        assert_stage_matches(w.stage(name), stage(tb, name),
                                             dict(ta["candidates"]),
                                             f"{prompt!r} seed {seed} token {k} {name}")
                    assert w.formula is not None
                    assert abs(w.formula.p - tb["chosen_p"]) <= 1e-4
                    assert w.formula.rank == tb["chosen_rank"]
                if ta["token"] != tb["token"]:
                    break  # from here on the prefixes differ
    return exact, inexact


BASE = SamplingSettings(temperature=1.0, seed=0, max_tokens=32)  # default top-k 40 etc.


@pytest.mark.parametrize("t2", [0.3, 0.7, 1.5])
def test_whatif_temperature_equals_a_real_generation(engine: EngineClient, t2: float) -> None:
    exact, inexact = compare_runs(engine, BASE, SamplingSettings(temperature=t2), range(3))
    print(f"compared {exact} positions")
    assert inexact == 0  # top-k 40 keeps every stage within the stored candidates
    assert exact >= 20, exact


@pytest.mark.parametrize(("second", "seeds"), [
    (SamplingSettings(temperature=0.7, top_k=10), 2),
    (SamplingSettings(temperature=1.0, top_k=64, top_p=0.8, min_p=0.0), 2),
    (SamplingSettings(temperature=0.5, top_p=0.9, min_p=0.1), 3),
    (SamplingSettings(temperature=1.2, top_k=0, top_p=0.9, min_p=0.0), 2),
    (SamplingSettings(temperature=0.0), 4),
], ids=["top_k10", "top_k64_top_p0.8", "min_p0.1", "top_k_off_top_p0.9", "greedy"])
def test_whatif_truncation_equals_a_real_generation(
    engine: EngineClient, second: SamplingSettings, seeds: int
) -> None:
    exact, inexact = compare_runs(engine, BASE, second, range(seeds))
    print(f"compared {exact} positions exactly, {inexact} flagged inexact")
    assert exact >= 10, (exact, inexact)


def test_replay_of_its_own_settings_matches_every_token(engine: EngineClient) -> None:
    """Every token of a reply (penalties on: the candidates come after them)."""
    s = SamplingSettings(temperature=0.8, top_k=30, top_p=0.9, min_p=0.02, repeat_penalty=1.3,
                         presence_penalty=0.2, seed=random.Random(5).randrange(1000),
                         max_tokens=48)
    tokens = generate(engine, PROMPTS[1], s)
    assert len(tokens) >= 20
    for k, t in enumerate(tokens):
        assert len(t["candidates"]) == CANDIDATES_N
        assert stage(t, "penalties")["active"]
        pen = stage(t, "penalties")
        for (tid, z), (rid, _, p) in zip(t["candidates"], pen["top"], strict=False):
            assert tid == rid and abs(math.exp(z - t["candidates_lse"]) - p) <= 2e-6
        w = whatif_of(t, s)
        assert w.exact
        for name in STAGE_NAMES:
            assert_stage_matches(w.stage(name), stage(t, name), dict(t["candidates"]),
                                 f"token {k} {name}")
        assert w.formula is not None and abs(w.formula.p - t["chosen_p"]) <= 1e-5


def test_records_off_has_no_candidates(engine: EngineClient) -> None:
    events = generate(engine, PROMPTS[0], SamplingSettings(max_tokens=3, seed=1))
    assert all("candidates" in e for e in events)
    plain = list(engine.generate([{"role": "user", "content": PROMPTS[0]}],
                                 SamplingSettings(max_tokens=3, seed=1), records=False))
    assert all("candidates" not in e and "candidates_lse" not in e for e in plain)
