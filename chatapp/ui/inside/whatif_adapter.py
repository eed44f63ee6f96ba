"""The one place that talks to `chatapp.core.whatif`, turning its answer into plain values.

`chatapp.core.whatif.replay(candidates, lse, settings, *, chosen, top_n[, n_vocab])` re-runs
the sampler chain on a token's recorded candidates (the top logits after penalties) with other
settings.  Its result is read here, field by field, into `Replay`; the widgets only see
`Replay`.  If the module's names change, this file is the one to adjust.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatapp.core.sampling import SamplingSettings
from chatapp.ui.inside.stage_model import StageData, candidates_of

#: Candidates kept per stage in a replay.
TOP_N = 20


@dataclass(frozen=True)
class Formula:
    """The chosen token's probability, worked out: p = exp(z / T) / Σ_j exp(z_j / T).

    Attributes:
        z: the token's logit (after penalties).
        z_max: the largest surviving logit, by which every logit was shifted (the ratio is the
            same; the numbers stay finite); None when the replay did not shift.
        temperature: T (0: greedy).
        numerator: exp((z - z_max) / T) (or exp(z / T) unshifted).
        denominator: Σ_j exp((z_j - z_max) / T) over the survivors.
        p: the result.
        survived: False when a stage cut the token (then p = 0).
    """

    z: float
    z_max: float | None
    temperature: float
    numerator: float
    denominator: float
    p: float
    survived: bool = True


@dataclass(frozen=True)
class Replay:
    """A replayed token: its stages, entropies and the worked formula.

    Attributes:
        stages: each stage's top candidates, as the stage bars take them.
        entropies: each stage's entropy in bits (None where not given).
        stage_exact: per stage, whether its numbers are exact.
        entropy_bits: the final distribution's entropy.
        exact: False when the candidates did not cover everything the settings keep, so the
            numbers are approximate (the whole vocabulary would be needed).
        formula: the chosen token's numbers, None when it is not among the candidates.
    """

    stages: tuple[StageData, ...]
    entropies: tuple[float | None, ...]
    stage_exact: tuple[bool, ...]
    entropy_bits: float | None
    exact: bool
    formula: Formula | None


def _replay_function() -> Callable[..., Any] | None:
    """`chatapp.core.whatif.replay`, or None while that module is not there."""
    try:
        module = importlib.import_module("chatapp.core.whatif")
    except ImportError:
        return None
    function = getattr(module, "replay", None)
    return function if callable(function) else None


def available() -> bool:
    """Whether what-if replays can be computed at all (the module is installed)."""
    return _replay_function() is not None


def replay(record: Mapping[str, Any], settings: SamplingSettings) -> Replay | None:
    """Replay ``record``'s candidates with ``settings``; None when the record has no
    candidates, the replay module is missing, or it refused the candidates (malformed)."""
    function = _replay_function()
    candidates = candidates_of(record)
    if function is None or candidates is None:
        return None
    lse = record.get("candidates_lse")
    chosen = record.get("token")
    extra: dict[str, Any] = {}
    n_vocab = _vocabulary_size(record)
    if n_vocab is not None and _accepts(function, "n_vocab"):
        extra["n_vocab"] = n_vocab
    try:
        result = function(
            candidates,
            float(lse) if isinstance(lse, int | float) else None,
            settings,
            chosen=chosen if isinstance(chosen, int) else None,
            top_n=TOP_N,
            **extra,
        )
    except ValueError:  # e.g. every logit -inf: nothing to replay
        return None
    return _convert(result)


def _accepts(function: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _vocabulary_size(record: Mapping[str, Any]) -> int | None:
    """The raw stage's survivors: the whole vocabulary."""
    for stage in record.get("stages") or ():
        if isinstance(stage, Mapping) and stage.get("name") == "raw":
            n = stage.get("survivors")
            return n if isinstance(n, int) and n > 0 else None
    return None


def _convert(result: Any) -> Replay:
    stages: list[StageData] = []
    entropies: list[float | None] = []
    exact_flags: list[bool] = []
    overall = bool(_field(result, "exact", default=False))
    listed = _field(result, "stage_entropies", "entropies", default=None)
    for k, stage in enumerate(_field(result, "stages", default=()) or ()):
        top = tuple((int(t), float(p)) for t, p in _field(stage, "top", default=()) or ())
        cutoff = _field(stage, "cutoff", default=None)
        stages.append(StageData(
            str(_field(stage, "name", default="?")),
            bool(_field(stage, "active", default=True)),
            int(_field(stage, "survivors", default=len(top))),
            top,
            {str(key): float(v) for key, v in cutoff.items()
             if isinstance(v, int | float)} if isinstance(cutoff, Mapping) else None,
        ))
        h = _field(stage, "entropy_bits", "entropy", default=None)
        if h is None and listed is not None and k < len(listed):
            h = listed[k]
        entropies.append(_finite(h))
        exact_flags.append(bool(_field(stage, "exact", default=overall)))
    return Replay(
        stages=tuple(stages),
        entropies=tuple(entropies),
        stage_exact=tuple(exact_flags),
        entropy_bits=_finite(_field(result, "entropy_bits", "entropy", default=None)),
        exact=overall,
        formula=_formula(_field(result, "formula", default=None)),
    )


def _formula(raw: Any) -> Formula | None:
    if raw is None:
        return None
    z = _finite(_field(raw, "logit", "z_i", "z", default=None))
    t = _finite(_field(raw, "temperature", "T", default=None))
    p = _finite(_field(raw, "p", "p_i", default=None))
    if z is None or t is None or p is None:
        return None
    numerator = _finite(_field(raw, "numerator", "exp_z", default=None))
    denominator = _finite(_field(raw, "denominator", "sum_exp", default=None))
    return Formula(
        z=z,
        z_max=_finite(_field(raw, "max_logit", "z_max", default=None)),
        temperature=t,
        numerator=numerator if numerator is not None else math.nan,
        denominator=denominator if denominator is not None else math.nan,
        p=p,
        survived=bool(_field(raw, "survived", default=True)),
    )


def _field(obj: Any, *names: str, default: Any) -> Any:
    """The first of ``names`` that ``obj`` has, as an attribute or a mapping key."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
