"""Fabricated data for the inside panel's tests, and tests of its Qt-free parts.

`make_records` runs a small copy of llama.cpp's sampler chain (penalties off → top-k → top-p →
min-p → temperature → draw) on random logits, giving records shaped like the model process's
(top-20 per stage renormalised over the survivors, 64 candidates by logit, their log-sum-exp).
`write_capture` writes an attention NPZ and returns its event.  Other test modules import these.
"""

from __future__ import annotations

import math
import types
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chatapp.core.sampling import STAGES, SamplingSettings
from chatapp.ui.inside.attention_data import AttentionCapture, AttentionError, shrink
from chatapp.ui.inside.colormap import RAMP, scaled
from chatapp.ui.inside.stage_model import (
    StageData,
    approx_entropy,
    branch_choices,
    build_rows,
    stages_of,
    texts_of,
)
from chatapp.ui.inside.visible_text import flowing, visible

_WORDS = [" the", " a", " model", " token", " attention", " is", " of", ".", ",", "\n", " cat",
          " sat", " on", " mat", "ing", " softmax", " query", " key", " value", " head", " and",
          " to", " in", " it", "\n\n", " I", " you", " we", "!", "?", " layer", " weight"]


def vocab(n: int = 400) -> list[str]:
    """Token texts: common words first, then made-up pieces."""
    return _WORDS + [f" w{i}" for i in range(n - len(_WORDS))]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    out: np.ndarray = e / e.sum()
    return out


def _top(ids: np.ndarray, logits: np.ndarray, texts: Sequence[str], n: int = 20) -> list[Any]:
    p = _softmax(logits)
    order = np.argsort(-p, kind="stable")[:n]
    return [[int(ids[k]), texts[int(ids[k])], round(float(p[k]), 6)] for k in order]


def make_record(i: int, logits: np.ndarray, s: SamplingSettings, rng: np.random.Generator,
                texts: Sequence[str]) -> dict[str, Any]:
    """One token record, as the model process sends it."""
    ids = np.arange(logits.shape[0])
    z = logits.astype(np.float64)
    stages: list[dict[str, Any]] = []

    def add(name: str, active: bool, keep_ids: np.ndarray, keep_z: np.ndarray) -> None:
        stages.append({"name": name, "active": active, "survivors": int(keep_ids.shape[0]),
                       "top": _top(keep_ids, keep_z, texts)})

    add("raw", True, ids, z)
    add("penalties", False, ids, z)
    cur_ids, cur_z = ids, z
    order = np.argsort(-cur_z, kind="stable")
    cur_ids, cur_z = cur_ids[order], cur_z[order]
    greedy = s.temperature == 0.0
    if not greedy and s.top_k > 0:
        cur_ids, cur_z = cur_ids[:s.top_k], cur_z[:s.top_k]
    add("top_k", not greedy and s.top_k > 0, cur_ids, cur_z)
    if not greedy and s.top_p < 1.0:
        cum = np.cumsum(_softmax(cur_z))
        keep = int(np.searchsorted(cum, s.top_p) + 1)
        cur_ids, cur_z = cur_ids[:keep], cur_z[:keep]
    add("top_p", not greedy and s.top_p < 1.0, cur_ids, cur_z)
    if not greedy and s.min_p > 0.0:
        p = _softmax(cur_z)
        keep_mask = p >= s.min_p * p.max()
        cur_ids, cur_z = cur_ids[keep_mask], cur_z[keep_mask]
    add("min_p", not greedy and s.min_p > 0.0, cur_ids, cur_z)
    if greedy:
        cur_ids, cur_z = cur_ids[:1], cur_z[:1]
        final = np.ones(1)
    else:
        final = _softmax(cur_z / s.temperature)
    stages.append({"name": "temperature", "active": greedy or s.temperature != 1.0,
                   "survivors": int(cur_ids.shape[0]),
                   "top": [[int(cur_ids[k]), texts[int(cur_ids[k])], round(float(final[k]), 6)]
                           for k in np.argsort(-final, kind="stable")[:20]]})
    pick = int(rng.choice(cur_ids.shape[0], p=final)) if not greedy else 0
    token = int(cur_ids[pick])
    final_order = [int(t) for t, _x, _p in stages[-1]["top"]]
    raw_order = list(np.argsort(-z, kind="stable"))
    cand = np.argsort(-z, kind="stable")[:64]
    lse = float(z.max() + math.log(np.exp(z - z.max()).sum()))
    return {
        "i": i, "token": token, "piece": texts[token], "text": texts[token],
        "t_ms": 10.0 * i, "sample_ms": 0.2, "stages": stages,
        "chosen_rank": final_order.index(token) if token in final_order else -1,
        "chosen_p": round(float(final[pick]), 6),
        "raw_rank": raw_order.index(token), "raw_p": round(float(_softmax(z)[token]), 6),
        "candidates": [[int(t), round(float(z[t]), 4)] for t in cand],
        "candidates_lse": round(lse, 4),
    }


def make_records(n: int, s: SamplingSettings | None = None, seed: int = 0,
                 texts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``n`` records from random, peaky logits."""
    s = s or SamplingSettings()
    texts = list(texts) if texts is not None else vocab()
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        logits = rng.standard_normal(len(texts)) * 1.5
        peaks = rng.choice(len(texts), size=4, replace=False)
        logits[peaks] += rng.uniform(2.0, 7.0, size=4)
        records.append(make_record(i, logits, s, rng, texts))
    return records


def write_capture(path: Path, t: int = 12, layers: int = 2, heads: int = 3, seed: int = 0,
                  compress: bool = False, pieces: Sequence[str] | None = None,
                  left_out: str | None = None) -> dict[str, Any]:
    """An NPZ of causal (L, H, T, T) attention (rows sum to 1) and its "attention" event."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((layers, heads, t, t)).astype(np.float32) * 2
    scores[..., 0] += 2.0  # an "attention sink" on the first token, like real models
    mask = np.triu(np.ones((t, t), dtype=bool), k=1)
    scores[..., mask] = -np.inf
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    tokens = np.arange(100, 100 + t, dtype=np.int32)
    layer_ids = np.arange(0, 2 * layers, 2, dtype=np.int32)
    head_ids = np.arange(heads, dtype=np.int32)
    save = np.savez_compressed if compress else np.savez
    save(path, tokens=tokens, attention=weights.astype(np.float32), layers=layer_ids,
         heads=head_ids)
    texts = list(pieces) if pieces is not None else [vocab()[k % 32] for k in range(t)]
    return {
        "type": "attention", "id": "cap-1", "path": str(path), "tokens": tokens.tolist(),
        "pieces": texts, "n_layer": 2 * layers, "n_head": heads, "layers": layer_ids.tolist(),
        "heads": head_ids.tolist(), "shape": [layers, heads, t, t], "left_out": left_out,
        "capture_ms": 12.5,
    }


def stand_in_replay(candidates: Sequence[tuple[int, float]], lse: float | None,
                    settings: SamplingSettings, *, chosen: int | None = None,
                    top_n: int = 20) -> Any:
    """A tiny stand-in for `chatapp.core.whatif.replay`, used only while that is missing."""
    ids = np.array([c[0] for c in candidates])
    z = np.array([c[1] for c in candidates], dtype=np.float64)
    s = settings

    def view(name: str, active: bool, keep: np.ndarray, zz: np.ndarray) -> Any:
        p = _softmax(zz)
        h = float(-(p * np.log2(np.where(p > 0, p, 1))).sum())
        top = [(int(keep[k]), float(p[k])) for k in np.argsort(-p, kind="stable")[:top_n]]
        return types.SimpleNamespace(name=name, active=active, survivors=int(keep.shape[0]),
                                     top=top, cutoff=None, entropy=h)

    stages = [view("raw", True, ids, z), view("penalties", False, ids, z)]
    keep, kz = ids, z
    greedy = s.temperature == 0.0
    if not greedy and s.top_k > 0:
        keep, kz = keep[:s.top_k], kz[:s.top_k]
    stages.append(view("top_k", not greedy and s.top_k > 0, keep, kz))
    if not greedy and s.top_p < 1.0:
        n = int(np.searchsorted(np.cumsum(_softmax(kz)), s.top_p) + 1)
        keep, kz = keep[:n], kz[:n]
    stages.append(view("top_p", not greedy and s.top_p < 1.0, keep, kz))
    if not greedy and s.min_p > 0.0:
        p = _softmax(kz)
        keep, kz = keep[p >= s.min_p * p.max()], kz[p >= s.min_p * p.max()]
    stages.append(view("min_p", not greedy and s.min_p > 0.0, keep, kz))
    t = s.temperature
    final = view("temperature", True, keep[:1] if greedy else keep, kz[:1] if greedy else kz / t)
    stages.append(final)
    formula = None
    if chosen is not None and chosen in keep.tolist() and not greedy:
        zi = float(kz[keep.tolist().index(chosen)])
        num = math.exp(zi / t)
        den = float(np.exp(kz / t).sum())
        formula = {"z_i": zi, "T": t, "exp_z": num, "sum_exp": den, "p_i": num / den}
    return types.SimpleNamespace(stages=stages, entropy=final.entropy,
                                 exact=0 < s.top_k <= len(candidates) and not greedy,
                                 formula=formula)


# --- tests of the Qt-free parts --------------------------------------------------------------

def test_fabricated_records_look_like_the_model_process() -> None:
    records = make_records(5, SamplingSettings(temperature=0.8, top_k=40, top_p=0.9))
    for r in records:
        assert [s["name"] for s in r["stages"]] == list(STAGES)
        assert r["stages"][-1]["top"][r["chosen_rank"]][0] == r["token"]
        assert len(r["candidates"]) == 64
        survivors = [s["survivors"] for s in r["stages"]]
        assert survivors == sorted(survivors, reverse=True)


def test_visible_text_shows_whitespace_and_escapes_invisible_characters() -> None:
    assert visible(" the") == "␣the"
    assert visible("a\nb\tc") == "a⏎b⇥c"
    assert visible("\u202eevil") == "⟨U+202E⟩evil"
    assert visible("x" * 100, 10) == "x" * 10 + "…"
    assert flowing(" hi\n") == " hi\n"
    assert flowing("\u2066x") == "⟨U+2066⟩x"
    assert len(flowing("y" * 10_000)) < 500


def test_rows_mark_cut_candidates_and_the_chosen_token() -> None:
    s = SamplingSettings(temperature=0.7, top_k=3, top_p=1.0, min_p=0.0)
    record = make_records(1, s, seed=3)[0]
    rows = build_rows(stages_of(record), s, record["token"], texts_of(record))
    by_name = {r.name: r for r in rows}
    top_k = by_name["top_k"]
    assert top_k.survivors == 3
    assert [b.cut for b in top_k.bars] == [False] * 3 + [True] * 7
    assert top_k.cutoff is not None and top_k.cutoff.setting == 3
    assert sum(b.chosen for b in by_name["temperature"].bars) == 1
    assert not by_name["penalties"].active


def test_top_p_reports_the_mass_reached_and_min_p_its_threshold() -> None:
    raw = StageData("raw", True, 100, ((1, 0.5), (2, 0.3), (3, 0.1), (4, 0.05)))
    top_p = StageData("top_p", True, 2, ((1, 0.625), (2, 0.375)))
    min_p = StageData("min_p", True, 1, ((1, 1.0),))
    s = SamplingSettings(top_p=0.8, min_p=0.7)
    rows = build_rows([raw, top_p, min_p], s, 1, {})
    assert rows[1].cutoff is not None and rows[1].cutoff.reached == pytest.approx(0.8)
    assert rows[2].cutoff is not None and rows[2].cutoff.reached == pytest.approx(0.7 * 0.625)


def test_entropy_estimate_is_exact_for_a_complete_list() -> None:
    h, exact = approx_entropy([0.5, 0.5], 2)
    assert exact and h == pytest.approx(1.0)
    h, exact = approx_entropy([0.5], 3)  # the rest spread over 2: 1.5 bits
    assert not exact and h == pytest.approx(1.5)


def test_branch_choices_are_most_likely_first() -> None:
    record = make_records(1)[0]
    choices = branch_choices(record)
    ps = [p for _t, _x, p in choices]
    assert ps == sorted(ps, reverse=True)
    assert record["token"] in {t for t, _x, _p in choices}


def test_capture_is_memory_mapped_when_stored(tmp_path: Path) -> None:
    event = write_capture(tmp_path / "a.npz", t=9, layers=2, heads=3)
    capture = AttentionCapture.load(event)
    assert capture.mapped
    assert capture.attention.shape == (2, 3, 9, 9)
    assert capture.layers == [0, 2]
    with np.load(tmp_path / "a.npz") as npz:
        np.testing.assert_array_equal(capture.matrix(1, 2), npz["attention"][1, 2])
        np.testing.assert_allclose(capture.matrix(0, None), npz["attention"][0].mean(axis=0),
                                   rtol=1e-6)


def test_compressed_capture_is_read_whole(tmp_path: Path) -> None:
    event = write_capture(tmp_path / "c.npz", compress=True)
    capture = AttentionCapture.load(event)
    assert not capture.mapped
    assert capture.matrix(0, 0).shape == (12, 12)


def test_bad_capture_files_give_a_readable_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(AttentionError, match="cannot read"):
        AttentionCapture.load({"path": str(bad)})
    np.savez(tmp_path / "flat.npz", attention=np.zeros((3, 3), np.float32))
    with pytest.raises(AttentionError, match="shape"):
        AttentionCapture.load({"path": str(tmp_path / "flat.npz")})
    with zipfile.ZipFile(tmp_path / "none.npz", "w") as z:
        z.writestr("tokens.npy", b"")
    with pytest.raises(AttentionError, match="no attention"):
        AttentionCapture.load({"path": str(tmp_path / "none.npz")})


def test_shrink_averages_blocks() -> None:
    m = np.arange(100 * 100, dtype=np.float32).reshape(100, 100)
    small = shrink(m, 10)
    assert small.shape == (10, 10)
    assert small[0, 0] == pytest.approx(m[:10, :10].mean())


def test_colour_ramp_gets_lighter_and_scaling_clips() -> None:
    lightness = RAMP.astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(lightness) > 0)
    out = scaled(np.array([[0.0, 0.25, 2.0]], np.float32), 1.0, sqrt=True)
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def use_whatif(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The replay function the panel will use: the real one when it exists, else the
    stand-in (patched into the adapter).  Returns it."""
    from chatapp.ui.inside import whatif_adapter

    try:
        from chatapp.core import whatif
    except ImportError:
        monkeypatch.setattr(whatif_adapter, "_replay_function", lambda: stand_in_replay)
        return stand_in_replay
    return whatif.replay
