"""Sampling settings: the knobs of llama.cpp's sampler chain, as one plain value.

The chain runs in this order (the order llama-cpp-python uses):
penalties → top-k → top-p → min-p → temperature → draw.  At temperature 0 the draw is greedy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

#: Names of the observed sampler stages, in chain order; "raw" is softmax(logits) at T=1.
STAGES: tuple[str, ...] = ("raw", "penalties", "top_k", "top_p", "min_p", "temperature")


@dataclass(frozen=True)
class SamplingSettings:
    """Every setting that decides which token is drawn.

    Attributes:
        temperature: divides logits before the draw; 0 means greedy (arg-max).
        top_k: keep the k most likely tokens; 0 disables.
        top_p: keep the smallest set whose probability reaches p; 1 disables.
        min_p: keep tokens with p >= min_p * p_max; 0 disables.
        repeat_penalty: divides recent tokens' logits (multiplies negative ones); 1 disables.
        frequency_penalty: subtracted once per earlier occurrence; 0 disables.
        presence_penalty: subtracted once if the token occurred; 0 disables.
        penalty_last_n: how many recent tokens the penalties look at; 0 disables, -1 = context.
        seed: random seed of the draw; None picks one (and the reply records it).
        max_tokens: stop after this many generated tokens.
        stop: extra strings that end the reply (they are not shown).
    """

    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    penalty_last_n: int = 64
    seed: int | None = None
    max_tokens: int = 512
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Reject values llama.cpp would misbehave on, with a message a user can act on."""
        checks: list[tuple[bool, str]] = [
            (_finite(self.temperature) and 0.0 <= self.temperature <= 100.0,
             "temperature must be between 0 and 100"),
            (self.top_k >= 0, "top_k must be 0 (off) or a positive count"),
            (_finite(self.top_p) and 0.0 < self.top_p <= 1.0, "top_p must be in (0, 1]"),
            (_finite(self.min_p) and 0.0 <= self.min_p <= 1.0, "min_p must be in [0, 1]"),
            (_finite(self.repeat_penalty) and self.repeat_penalty > 0.0,
             "repeat_penalty must be > 0 (1 = off)"),
            (_finite(self.frequency_penalty), "frequency_penalty must be a finite number"),
            (_finite(self.presence_penalty), "presence_penalty must be a finite number"),
            (self.penalty_last_n >= -1, "penalty_last_n must be -1, 0 or a positive count"),
            (self.seed is None or 0 <= self.seed < 2**32 - 1,
             "seed must be between 0 and 4294967294"),
            (1 <= self.max_tokens <= 1_000_000, "max_tokens must be between 1 and 1000000"),
            (all(isinstance(s, str) and s for s in self.stop),
             "stop strings must be non-empty text"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def greedy(self) -> bool:
        """True when the draw is the arg-max (temperature 0)."""
        return self.temperature == 0.0

    def with_seed(self, seed: int) -> SamplingSettings:
        """The same settings with a fixed seed."""
        return replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stop strings as a list)."""
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingSettings:
        """Build from a dict; unknown keys are an error (a typo must not be silently ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sampling setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "stop" in values:
            values["stop"] = tuple(values["stop"])
        return cls(**values)


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
