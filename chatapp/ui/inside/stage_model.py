"""What the stage bars show, computed from token records or a what-if replay (no Qt here).

A token record (see `chatapp.engine.protocol`) lists, for every sampler stage in chain order,
the top candidates renormalised over the stage's survivors.  A `StageRow` is one stage ready to
draw: up to `MAX_BARS` bars (the survivors first, then the candidates this stage removed, shown
with the probability they had before it), the stage's cut-off, survivors and entropy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatapp.core.sampling import SamplingSettings

#: Most bars drawn per stage.
MAX_BARS = 10
#: Stages that only remove candidates (the others change probabilities).
TRUNCATING = frozenset({"top_k", "top_p", "min_p"})


@dataclass(frozen=True)
class StageData:
    """One stage as recorded or replayed: its top candidates as (token id, p).

    A replayed stage also brings its cut-off numbers (``cutoff``: "reached" for top-p,
    "p_threshold" for min-p), which are exact even where the listed candidates end.
    """

    name: str
    active: bool
    survivors: int
    top: tuple[tuple[int, float], ...]
    cutoff: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Bar:
    """One candidate in one stage.

    Attributes:
        token_id: the candidate's token.
        text: its text (raw, untrusted: shown through `visible_text`).
        p: its probability in this stage; for a candidate this stage cut, the one it had before.
        cut: this stage removed it.
        chosen: it is the token the reply went on with.
    """

    token_id: int
    text: str
    p: float
    cut: bool
    chosen: bool


@dataclass(frozen=True)
class Cutoff:
    """What a stage's setting was and where it cut.

    Attributes:
        kind: the stage name ("penalties", "top_k", "top_p", "min_p", "temperature").
        setting: k, p, min-p, temperature, or the repeat penalty.
        reached: top-p: the probability the kept candidates add up to; min-p: the threshold
            probability (min-p × the largest p); None where it cannot be told from the data.
        extra: penalties: (frequency, presence).
    """

    kind: str
    setting: float
    reached: float | None = None
    extra: tuple[float, ...] = ()


@dataclass(frozen=True)
class StageRow:
    """One stage, ready to draw.

    Attributes:
        name: stage name (see `chatapp.core.sampling.STAGES`).
        active: the settings switched the stage on (an off stage repeats the one before).
        survivors: candidates left after the stage (-1: not known, as in a server's report).
        bars: at most `MAX_BARS` bars.
        cutoff: the stage's setting and cut, None for the raw distribution.
        entropy_bits: Shannon entropy of the stage's distribution, in bits (None: unknown).
        entropy_exact: False when it was estimated from the listed candidates only.
        chosen_rank: the chosen token's rank here (0 = most likely), -1 when the stage cut it,
            None when it is below the listed candidates.
    """

    name: str
    active: bool
    survivors: int
    bars: tuple[Bar, ...]
    cutoff: Cutoff | None
    entropy_bits: float | None
    entropy_exact: bool
    chosen_rank: int | None


def stages_of(record: Mapping[str, Any]) -> list[StageData]:
    """The record's stages as `StageData` (malformed entries are skipped)."""
    found: list[StageData] = []
    for stage in record.get("stages") or ():
        if not isinstance(stage, Mapping):
            continue
        top: list[tuple[int, float]] = []
        for item in stage.get("top") or ():
            try:
                top.append((int(item[0]), float(item[2])))
            except (TypeError, ValueError, IndexError):
                continue
        found.append(StageData(str(stage.get("name", "?")), bool(stage.get("active", True)),
                               _int(stage.get("survivors"), len(top)), tuple(top)))
    return found


def texts_of(record: Mapping[str, Any]) -> dict[int, str]:
    """Token id → text, from every stage's list (and the chosen token's piece)."""
    texts: dict[int, str] = {}
    for stage in record.get("stages") or ():
        if not isinstance(stage, Mapping):
            continue
        for item in stage.get("top") or ():
            try:
                texts.setdefault(int(item[0]), str(item[1]))
            except (TypeError, ValueError, IndexError):
                continue
    token = record.get("token")
    if isinstance(token, int):
        texts[token] = str(record.get("piece", texts.get(token, "")))
    return texts


def candidates_of(record: Mapping[str, Any]) -> list[tuple[int, float]] | None:
    """The record's (token id, logit) candidates, None when it has none (older replies)."""
    raw = record.get("candidates")
    if not raw:
        return None
    try:
        return [(int(c[0]), float(c[1])) for c in raw]
    except (TypeError, ValueError, IndexError):
        return None


def approx_entropy(ps: Sequence[float], survivors: int) -> tuple[float, bool]:
    """Entropy in bits of a distribution known by its top probabilities; (bits, exact).

    The mass not listed is taken as spread evenly over the unlisted survivors, which gives the
    largest entropy those survivors could have: an upper estimate, marked as not exact.
    """
    h = -sum(p * math.log2(p) for p in ps if p > 0.0)
    rest = max(0.0, 1.0 - sum(ps))
    unlisted = survivors - len(ps)
    if unlisted <= 0 or rest < 1e-9:
        return h, unlisted <= 0
    return h - rest * math.log2(rest / unlisted), False


def build_rows(
    stages: Sequence[StageData],
    settings: SamplingSettings,
    chosen: int | None,
    texts: Mapping[int, str],
    entropies: Sequence[float | None] | None = None,
    entropies_exact: Sequence[bool] | None = None,
) -> list[StageRow]:
    """Rows for ``stages``; ``entropies`` (one per stage, bits) where known, exact unless
    ``entropies_exact`` says otherwise; the others are estimated from the listed candidates."""
    rows: list[StageRow] = []
    prev: StageData | None = None
    for k, stage in enumerate(stages):
        shown = stage.top[:MAX_BARS]
        ids = {t for t, _p in stage.top}
        cut: list[tuple[int, float]] = []
        if prev is not None and stage.active and stage.survivors < prev.survivors:
            cut = [(t, p) for t, p in prev.top[:MAX_BARS] if t not in ids]
        keep = max(1, MAX_BARS - len(cut))
        bars = [Bar(t, texts.get(t, f"#{t}"), p, False, t == chosen) for t, p in shown[:keep]]
        bars += [Bar(t, texts.get(t, f"#{t}"), p, True, t == chosen)
                 for t, p in cut[:MAX_BARS - len(bars)]]
        exact_h = entropies[k] if entropies is not None and k < len(entropies) else None
        if exact_h is not None:
            entropy: float | None = exact_h
            exact = entropies_exact[k] if entropies_exact is not None and k < len(
                entropies_exact) else True
        elif stage.top and stage.survivors >= 0:
            entropy, exact = approx_entropy([p for _t, p in stage.top], stage.survivors)
        else:
            entropy, exact = None, False
        rows.append(StageRow(
            name=stage.name, active=stage.active, survivors=stage.survivors,
            bars=tuple(bars), cutoff=_cutoff(stage, prev, settings) if stage.active else None,
            entropy_bits=entropy, entropy_exact=exact,
            chosen_rank=_rank(stage, chosen),
        ))
        prev = stage
    return rows


def branch_choices(record: Mapping[str, Any]) -> list[tuple[int, str, float]]:
    """Candidates one could branch to: (token id, text, raw p), most likely first."""
    stages = stages_of(record)
    texts = texts_of(record)
    raw = dict(stages[0].top) if stages else {}
    listed: dict[int, float] = {}
    for stage in stages:
        for t, _p in stage.top:
            listed.setdefault(t, raw.get(t, 0.0))
    return sorted(((t, texts.get(t, f"#{t}"), p) for t, p in listed.items()),
                  key=lambda c: -c[2])


def _cutoff(stage: StageData, prev: StageData | None, s: SamplingSettings) -> Cutoff | None:
    name = stage.name
    if name == "top_k":
        return Cutoff(name, float(s.top_k))
    given = stage.cutoff or {}
    if name == "top_p":
        reached = given.get("reached")
        if reached is None and prev is not None and 0 < stage.survivors <= len(prev.top):
            reached = sum(p for _t, p in prev.top[:stage.survivors])
        return Cutoff(name, s.top_p, reached)
    if name == "min_p":
        threshold = given.get("p_threshold")
        if threshold is None and prev is not None and prev.top:
            threshold = s.min_p * prev.top[0][1]
        return Cutoff(name, s.min_p, threshold)
    if name == "temperature":
        return Cutoff(name, s.temperature)
    if name == "penalties":
        return Cutoff(name, s.repeat_penalty, None, (s.frequency_penalty, s.presence_penalty))
    return None


def _rank(stage: StageData, chosen: int | None) -> int | None:
    if chosen is None:
        return None
    for rank, (t, _p) in enumerate(stage.top):
        if t == chosen:
            return rank
    # Survivors < 0: not known (a server's report), so an unlisted token may still be there.
    return -1 if 0 <= stage.survivors <= len(stage.top) else None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
