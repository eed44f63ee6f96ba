"""Application-wide settings (language, look, model loading), as one plain value.

The per-conversation sampling knobs live in `chatapp.core.sampling`; these are the settings
that belong to the installation, not to a conversation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

#: The key of the config file that holds these settings (they are needed before the chat
#: database opens: language, theme, how to load the model).
CONFIG_KEY = "app"

#: Allowed values of `AppSettings.language`; "system" follows the system's language.
LANGUAGES: tuple[str, ...] = ("system", "en", "zh_CN")
#: Allowed values of `AppSettings.theme`; "system" follows the system's colour scheme.
THEMES: tuple[str, ...] = ("system", "light", "dark")

FONT_SIZE_MIN, FONT_SIZE_MAX = 8, 32
N_CTX_MIN, N_CTX_MAX = 512, 131_072
#: `n_gpu_layers` value meaning "let the engine decide".
GPU_LAYERS_AUTO = -1
N_GPU_LAYERS_MAX = 999
#: `n_threads` value meaning "let the engine decide".
THREADS_AUTO = 0
N_THREADS_MAX = 256


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but `True` as a font size is a bug in whatever wrote it.
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(low: int, high: int) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        # isinstance again (not _is_int) so the type checker knows `value` is an int here.
        return isinstance(value, int) and _is_int(value) and low <= value <= high

    return check


#: At most this many RPC workers (llama.cpp's GGML_RPC_MAX_SERVERS).
RPC_WORKERS_MAX = 16
_ENDPOINT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$")


def is_endpoint(value: object) -> bool:
    """True for "host:port" (a name, an IPv4 address or a bracketed IPv6 one; port 1–65535)."""
    if not isinstance(value, str):
        return False
    match = _ENDPOINT.match(value)
    return match is not None and 1 <= int(match.group(2)) <= 65535


def parse_split(value: str) -> list[float] | None:
    """The proportions of a split setting ("1,3" → [1.0, 3.0]); None for "auto".

    Raises ValueError for anything else (negative, zero in total, not numbers).
    """
    if value.strip().lower() == "auto":
        return None
    parts = [float(p) for p in value.split(",")]
    if not parts or any(not math.isfinite(p) or p < 0 for p in parts) or sum(parts) <= 0:
        raise ValueError(f"not a split: {value!r}")
    return parts


def _is_split(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_split(value)
    except ValueError:
        return False
    return True


def _one_of(choices: tuple[str, ...]) -> Callable[[object], bool]:
    return lambda v: isinstance(v, str) and v in choices


#: One validity check per field; both __post_init__ and the tolerant from_dict use them,
#: so the two can never disagree about what is valid.
_VALID: dict[str, Callable[[object], bool]] = {
    "language": _one_of(LANGUAGES),
    "theme": _one_of(THEMES),
    "font_size": _int_in(FONT_SIZE_MIN, FONT_SIZE_MAX),
    "n_ctx": _int_in(N_CTX_MIN, N_CTX_MAX),
    "n_gpu_layers": lambda v: v == GPU_LAYERS_AUTO or _int_in(0, N_GPU_LAYERS_MAX)(v),
    "n_threads": _int_in(THREADS_AUTO, N_THREADS_MAX),
    "flash_attn": lambda v: isinstance(v, bool),
    # Endpoints first: a JSON list may hold anything, and only strings can go into a set.
    "rpc_workers": lambda v: (isinstance(v, tuple) and len(v) <= RPC_WORKERS_MAX
                              and all(is_endpoint(e) for e in v) and len(set(v)) == len(v)),
    "rpc_split": _is_split,
}


@dataclass(frozen=True)
class AppSettings:
    """Settings of the whole application (not of one conversation).

    Attributes:
        language: "system", "en" or "zh_CN".
        theme: "system", "light" or "dark".
        font_size: point size of the chat text, 8–32.
        n_ctx: context length (tokens) of the next model load, 512–131072.
        n_gpu_layers: layers offloaded to the GPU, 0–999, or -1 for "auto".
        n_threads: CPU threads for generation, 1–256, or 0 for "auto".
        flash_attn: use flash attention (the attention view needs it off).
        rpc_workers: llama.cpp RPC workers ("host:port") that hold part of the model; empty
            for this machine alone.
        rpc_split: how layers are split over the workers and this machine: "auto" (by free
            memory) or proportions in device order ("1,3").
    """

    language: str = "system"
    theme: str = "system"
    font_size: int = 11
    n_ctx: int = 4096
    n_gpu_layers: int = GPU_LAYERS_AUTO
    n_threads: int = THREADS_AUTO
    flash_attn: bool = False
    rpc_workers: tuple[str, ...] = ()
    rpc_split: str = "auto"

    def __post_init__(self) -> None:
        """Refuse out-of-range values, naming the field (code that builds one has a bug)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not _VALID[f.name](value):
                raise ValueError(f"invalid {f.name}: {value!r}")

    @property
    def gpu_layers_auto(self) -> bool:
        """True when the engine chooses how many layers go to the GPU."""
        return self.n_gpu_layers == GPU_LAYERS_AUTO

    @property
    def threads_auto(self) -> bool:
        """True when the engine chooses the number of CPU threads."""
        return self.n_threads == THREADS_AUTO

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> AppSettings:
        """Build from a stored dict, never failing.

        Unknown keys are ignored (a newer chatapp may have written them), and a missing or
        invalid value falls back to that field's default: a settings row edited by hand must
        not stop the app from starting.  Anything but a mapping gives the defaults.
        """
        if not isinstance(data, Mapping):
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            # JSON writers may store 12 as 12.0; accept a float only when it is a whole number.
            if (isinstance(value, float) and math.isfinite(value) and value.is_integer()
                    and _is_int(f.default)):
                value = int(value)
            if isinstance(value, list) and isinstance(f.default, tuple):
                value = tuple(value)  # JSON has lists, the settings hold tuples
            if _VALID[f.name](value):
                values[f.name] = value
        return cls(**values)

    def engine_load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `EngineClient.load` / `EngineService.load`.

        `n_gpu_layers` is passed as it is, -1 included: resolving "auto" is the caller's or
        the engine's job (llama.cpp itself reads -1 as "offload every layer").  `n_threads`
        is None for "auto", which lets the engine pick a count for this machine.  With RPC
        workers, "rpc" (their endpoints) and "split" ("auto" or proportions) are added.
        """
        kwargs: dict[str, Any] = {
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self.n_gpu_layers,
            "n_threads": None if self.threads_auto else self.n_threads,
            "flash_attn": self.flash_attn,
        }
        if self.rpc_workers:
            # Workers hold layers too (llama.cpp RPC); the split is over the load's devices.
            kwargs["rpc"] = list(self.rpc_workers)
            kwargs["split"] = parse_split(self.rpc_split) or "auto"
        return kwargs


def load_app_settings() -> AppSettings:
    """The saved settings (the config file's "app" object), defaults where absent or broken."""
    from chatapp.paths import read_config_value

    return AppSettings.from_dict(read_config_value(CONFIG_KEY) or {})


def save_app_settings(settings: AppSettings) -> None:
    """Save the settings to the config file (read at the next start before anything shows)."""
    from chatapp.paths import write_config_value

    write_config_value(CONFIG_KEY, settings.to_dict())
