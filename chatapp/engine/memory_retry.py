"""Out of memory at load: recognise it, say it in words, and offer settings to try next.

Pure logic over llama.cpp's error text (no llama_cpp import), so that it is unit tested
without a model and used by the model process when a load fails.

llama.cpp does not report an allocation failure with a code: the constructor fails (a
ValueError in llama-cpp-python) and the log says what happened, in words that differ by
backend.  Seen or taken from the ggml sources of 0.3.36:

* CPU: ``ggml_aligned_malloc: insufficient memory (attempted to allocate 2880.00 MB)``,
  ``failed to allocate CPU buffer of size 3019898880``,
  ``failed to initialize the context: failed to allocate buffer for kv cache``,
  ``error loading model: mmap failed: Cannot allocate memory``;
* CUDA: ``allocating 2880.00 MiB on device 0: cudaMalloc failed: out of memory``;
* Metal: ``error: failed to allocate buffer, size = 2880.00 MiB``;
* Vulkan: ``Device memory allocation of size 3019898880 failed`` /
  ``ErrorOutOfDeviceMemory``;
* model weights: ``unable to allocate CUDA0 buffer``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # runtime imports llama_cpp; this module must stay importable without it
    from chatapp.engine.runtime import LoadSettings

#: The smallest context a retry offers (below it a chat hardly fits a system prompt).
MIN_CONTEXT = 512

_MIB = 1024 * 1024

#: Lower-case fragments that mean an allocation failed (any backend).
_MEMORY_MARKERS = (
    "failed to allocate",
    "unable to allocate",
    "out of memory",
    "outofmemory",  # Vulkan's vk::Result names: ErrorOutOfDeviceMemory, ErrorOutOfHostMemory
    "outofdevicememory",
    "outofhostmemory",
    "insufficient memory",
    "cannot allocate memory",  # ENOMEM from mmap / malloc, e.g. "mmap failed: ..."
    "cudamalloc failed",
    "memory allocation of size",
    "bad_alloc",
)

# How much was asked for, as each backend writes it.  Each pattern gives (number, unit scale).
_SIZE_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"buffer of size (\d+)", re.IGNORECASE), 1),
    (re.compile(r"allocation of size (\d+)", re.IGNORECASE), 1),
    (re.compile(r"attempted to allocate\s+([\d.]+)\s*MB", re.IGNORECASE), _MIB),
    (re.compile(r"allocating\s+([\d.]+)\s*MiB", re.IGNORECASE), _MIB),
    (re.compile(r"size\s*=\s*([\d.]+)\s*MiB", re.IGNORECASE), _MIB),
)


def is_memory_error(message: str, log_lines: Sequence[str]) -> bool:
    """True when a failed load ran out of memory (RAM or a GPU's), judging from the error's
    text and llama.cpp's last logged error lines."""
    text = "\n".join([message, *log_lines]).lower()
    return any(marker in text for marker in _MEMORY_MARKERS)


def retry_options(
    settings: LoadSettings, resolved_gpu_layers: int, *, weights: bool = False
) -> list[dict[str, Any]]:
    """Settings to try after running out of memory, most useful first.

    Each option is a dict of `load` keyword overrides plus a "label" for a button.  With layers
    on a GPU: half the GPU layers, then the CPU only, then half the context (GPU memory is
    usually the scarce one, and the context stays what the user chose).  On the CPU only:
    smaller contexts, halving down to MIN_CONTEXT.  `settings.n_ctx` must be the context that
    was really asked of llama.cpp (not 0 for "the model's"); `resolved_gpu_layers` the layers
    llama.cpp was asked to offload (0 on a build without GPU offload).  `weights`: the model's
    weights were what did not fit; they are allocated before the context, so a smaller context
    is no help (and on the CPU only, nothing here is: the answer is empty).
    """
    options: list[dict[str, Any]] = []
    n_ctx = int(settings.n_ctx)
    if resolved_gpu_layers > 0:
        half = resolved_gpu_layers // 2
        if half > 0:
            options.append({"n_gpu_layers": half, "label": _layers_label(half)})
        options.append({"n_gpu_layers": 0, "label": "CPU only"})
        if n_ctx // 2 >= MIN_CONTEXT and not weights:
            options.append({"n_ctx": n_ctx // 2, "label": f"context {n_ctx // 2}"})
        return options
    smaller = n_ctx // 2
    while smaller >= MIN_CONTEXT and not weights:
        options.append({"n_ctx": smaller, "label": f"context {smaller}"})
        smaller //= 2
    return options


def resolve_gpu_layers(requested: int, n_layer: int | None, offload_supported: bool) -> int:
    """The layers llama.cpp offloads for a requested count, as LoadedModel.gpu_layers counts
    them: the model's layers plus its output layer for "all" (negative); nothing on a build
    without GPU offload.  `n_layer`: the model's block count (None when unknown: a negative
    request then counts as one layer, enough to offer the CPU as a retry)."""
    if not offload_supported:
        return 0
    if requested < 0:
        return n_layer + 1 if n_layer is not None else 1
    return requested if n_layer is None else min(requested, n_layer + 1)


def allocation_size(log_lines: Sequence[str]) -> int | None:
    """How many bytes llama.cpp failed to allocate, if its log says (the first figure)."""
    for line in log_lines:
        for pattern, scale in _SIZE_PATTERNS:
            found = pattern.search(line)
            if found:
                try:
                    return int(float(found.group(1)) * scale)
                except ValueError:  # "1.2.3": not a number after all
                    continue
    return None


#: What allocation_target says when the weights did not fit.
WEIGHTS = "the model's weights"


def allocation_target(message: str, log_lines: Sequence[str]) -> str:
    """What was being allocated, in words: WEIGHTS ("the model's weights"), "the KV cache",
    "the compute buffers", "the output buffer" or "the context".

    `message` is the failed load's error (llama-cpp-python's "Failed to load model from file:
    PATH" for the model, "Failed to create llama_context" for the context, possibly followed
    by the log lines); only llama.cpp's own lines are searched for words, not a path.
    """
    if message.lower().startswith("failed to load model"):
        return WEIGHTS
    text = "\n".join(log_lines).lower()
    if "kv cache" in text or "kv_cache" in text:
        return "the KV cache"
    if "compute" in text:
        return "the compute buffers"
    if "output buffer" in text:
        return "the output buffer"
    return "the context"


def memory_message(
    message: str, log_lines: Sequence[str], *, n_ctx: int, gpu_layers: int
) -> str:
    """One sentence for the user: memory ran out, on what (and how much, if the log says),
    and what to try.  `n_ctx` / `gpu_layers`: what the load asked of llama.cpp."""
    size = allocation_size(log_lines)
    target = allocation_target(message, log_lines)
    amount = f" {format_size(size)}" if size is not None else ""
    if gpu_layers > 0:
        advice = "try fewer GPU layers, the CPU only or a smaller context"
    elif target == WEIGHTS:
        advice = "close other programs or choose a smaller (more quantized) model file"
    else:
        advice = "try a smaller context or close other programs"
    if target != WEIGHTS:
        return (f"Not enough memory to load this model with {_article(n_ctx)} {n_ctx}-token "
                f"context (llama.cpp could not allocate{amount or ' memory'} for {target}); "
                f"{advice}.")
    if "mmap failed" in "\n".join(log_lines).lower():
        detail = "llama.cpp could not map the model file into memory"
    else:
        detail = f"llama.cpp could not allocate{amount or ' the memory'} for them"
    return f"Not enough memory to load this model's weights ({detail}); {advice}."


def format_size(n_bytes: int) -> str:
    """Bytes as "755 MB" or "3.0 GB" (decimal units, as the app shows sizes elsewhere;
    llama.cpp's own "MB" figures are MiB, read as such)."""
    if n_bytes < 1_000_000_000:
        return f"{max(n_bytes / 1e6, 1):.0f} MB"
    return f"{n_bytes / 1e9:.1f} GB"


def _article(number: int) -> str:
    """ "an" before a number said with a vowel first (8192: "eight thousand ..."; 11000 and
    18000: "eleven/eighteen thousand"), else "a"."""
    digits = str(number)
    vowel = digits.startswith("8") or (digits[:2] in ("11", "18") and len(digits) % 3 == 2)
    return "an" if vowel else "a"


def _layers_label(n: int) -> str:
    return f"{n} GPU layer" if n == 1 else f"{n} GPU layers"
