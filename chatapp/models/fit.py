"""Will a model fit: its memory needs, and how many layers the GPU can take.

Pure arithmetic over a GGUF header (``chatapp.engine.gguf_preflight.GGUFInfo``, which can come
from the first megabytes of a file still on the Hub) and the device list the model process
reports (``chatapp.engine.runtime.backend_and_devices``). No llama_cpp and no Qt here, so the
GUI, the CLI and the download dialog can all ask before anything is loaded.

What llama.cpp (as bundled with llama-cpp-python 0.3.36) allocates for one model and one
context, and how this module counts it:

* **Weights**: every tensor, as stored in the file. Offloaded layers (the *last*
  ``n_gpu_layers`` repeating layers) go to the GPU; the output layer follows once every
  repeating layer is there (``n_gpu_layers > n_layer``); the token embeddings always stay on the
  host. A model without ``output.weight`` reuses ``token_embd.weight`` and llama.cpp then loads
  a second copy of it for the output layer.
* **KV cache**: ``n_ctx`` rounded up to 256 cells, times, per layer, ``n_head_kv`` ×
  (``head_dim_k`` + ``head_dim_v``) elements of ``kv_bytes_per_element`` (f16: 2). Each layer's
  cache lives where the layer runs. llama.cpp clears the whole cache when it creates it, so all
  of it is resident from the start. Sliding-window layers get a full-size cache too
  (``swa_full`` is on in llama-cpp-python's default context parameters), so the header's
  ``sliding_window`` does not shrink the estimate.
* **Compute buffer**: one arena sized for the worst graph, a full micro-batch (``n_batch``
  tokens) against a full cache. Its peak is the larger of two moments: the logits (``n_vocab``
  floats for every token of the batch) next to a few activations, or, without flash attention,
  the attention scores (``n_kv`` × ``n_head`` floats per token) next to the mask (``n_kv``
  floats per token), a few activations and the feed-forward block's. See ``graph_peak``.
* **Output buffer**: the logits handed back, ``n_vocab`` floats for one sequence.
* **Scheduler workspace**: ggml's scheduler reserves room for the tensors of every possible
  graph split: ``max(1024, 8 × tensors)`` splits × 30 inputs × 2 tensor structs (336 bytes).

Measured on SmolLM2-135M Q4_1 (CPU, batch 512): the compute buffer and the KV cache match what
llama.cpp logs within 1.2%, and the whole estimate was within 8% of what the model process
really allocated (tests/models/test_fit.py has the figures). What is not counted — Python, the
libraries, llama.cpp's vocabulary tables, about 25 MB for SmolLM2 — is what ``reserve_ram``
is for.

GPU figures follow the same graph: with at least one layer offloaded, the GPU holds the full
compute arena (the intermediate tensors of its layers, and llama.cpp also runs large batches of
the host's matrix products there), while the host keeps its own arena for the layers it still
runs; with every layer offloaded the host only builds the inputs (embeddings and mask). These
GPU figures are derived from how llama.cpp splits the graph, not measured here (the development
machine has no GPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chatapp.core.units import format_bytes
from chatapp.engine.gguf_preflight import GGUFInfo

__all__ = [
    "KINDS",
    "FitError",
    "FitVerdict",
    "MemoryNeed",
    "ModelShape",
    "assess",
    "best_gpu_layers",
    "estimate",
    "graph_peak",
    "kv_cells",
]

MIB: Final = 2**20
GIB: Final = 2**30

KV_CELL_PAD: Final = 256
"""llama.cpp rounds the context up to a multiple of this many KV cells."""
_F32: Final = 4
_F16: Final = 2
_LIVE_ACTIVATIONS: Final = 3
"""Activations of ``n_embd`` floats per token that stay live next to the logits or the attention
scores (the residual stream, its normalised copy, the layer input): measured in llama.cpp's
arena, see the module docstring."""
_INPUT_BYTES_PER_TOKEN: Final = 4 + 8 + 8
"""Per batch token: its position (int32) and the K and V cache cells it goes to (int64 each)."""
_SCHED_MAX_SPLIT_INPUTS: Final = 30  # GGML_SCHED_MAX_SPLIT_INPUTS
_GGML_TENSOR_BYTES: Final = 336  # sizeof(struct ggml_tensor), 64-bit
_GGML_OBJECT_BYTES: Final = 32  # sizeof(struct ggml_object)
_MIN_GRAPH_NODES: Final = 1024
_NODES_PER_TENSOR: Final = 8

KINDS: Final = ("gpu", "partial", "cpu", "too_big")
"""The values of FitVerdict.kind."""


class FitError(ValueError):
    """The model's memory needs cannot be worked out; ``str()`` says why and what to do."""


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """What memory a model needs depends on: weights, layers, KV dimensions.

    Attributes:
        weights_bytes: all tensor data (``block_bytes + other_bytes``).
        block_bytes: the repeating layers' tensors ("blk.*"), spread evenly over the layers.
        other_bytes: the rest: token embeddings, output layer, final norm.
        n_layer: repeating layers.
        n_head_kv: key/value heads (the largest per-layer count, if they differ).
        head_dim_k / head_dim_v: elements of one key / value head.
        n_embd: embedding width.
        n_vocab: vocabulary size.
        context_length: the trained context, if the file says.
        n_head: query heads (None: taken as ``n_head_kv``).
        n_ff: feed-forward width (None: taken as 4 × ``n_embd``).
        n_tensors: tensors in the model (sizes the scheduler's workspace).
        output_bytes: what llama.cpp places on the output layer's device.
        output_tied: the output layer reuses the token embeddings (so offloading it copies them
            and the host keeps its own).
    """

    weights_bytes: int
    block_bytes: int
    other_bytes: int
    n_layer: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int
    n_embd: int
    n_vocab: int
    context_length: int | None
    n_head: int | None = None
    n_ff: int | None = None
    n_tensors: int = 0
    output_bytes: int = 0
    output_tied: bool = False

    @classmethod
    def from_info(cls, info: GGUFInfo, total_file_bytes: int | None = None) -> ModelShape:
        """The shape of the model whose header is ``info``.

        ``total_file_bytes``: the size of the model's file(s), when ``info`` does not describe
        all of its tensors: for a split model (``split.count`` > 1) the size of all its parts
        together (required), or the size of another quantization of the same model whose
        header was not read. See ``_scaled_to``. Raises FitError when the header lacks what an
        estimate needs.
        """
        n_layer = info.block_count
        n_embd = info.embedding_length
        n_head = info.head_count
        if not n_layer or not n_embd:
            raise FitError(
                "The model file does not say how many layers it has or how wide they are, so "
                "its memory needs cannot be estimated; check that it is a complete GGUF model."
            )
        if not n_head:
            raise FitError(
                "The model file does not describe its attention heads, so its memory needs "
                "cannot be estimated (models without attention are not covered); it may still "
                "load, so try it with a short context."
            )
        n_head_kv = info.head_count_kv or n_head
        head_dim_k = info.key_length or n_embd // n_head
        head_dim_v = info.value_length or head_dim_k
        n_vocab = info.vocab_size or _meta_int(info, f"{info.architecture}.vocab_size")
        if not n_vocab:
            raise FitError(
                "The model file has no vocabulary, so its memory needs cannot be estimated; "
                "check that it is a complete GGUF model."
            )
        block, other = info.block_bytes, info.other_bytes
        n_tensors = info.tensor_count
        output_bytes, output_tied = info.output_bytes, info.output_tied
        parts = info.split_count or 1
        if total_file_bytes is not None:
            block, other, n_tensors, output_bytes = _scaled_to(info, parts, total_file_bytes)
            if parts > 1:
                # The output layer usually sits in the last part, so this part cannot tell
                # whether it is tied; the token embeddings' size stands in for it.
                output_tied = False
        elif parts > 1:
            raise FitError(
                f"This file is the first of {parts} parts of a split model; the sizes of all "
                "parts are needed to estimate its memory."
            )
        return cls(
            weights_bytes=block + other,
            block_bytes=block,
            other_bytes=other,
            n_layer=n_layer,
            n_head_kv=n_head_kv,
            head_dim_k=head_dim_k,
            head_dim_v=head_dim_v,
            n_embd=n_embd,
            n_vocab=n_vocab,
            context_length=info.context_length,
            n_head=n_head,
            n_ff=_meta_int(info, f"{info.architecture}.feed_forward_length"),
            n_tensors=n_tensors,
            output_bytes=output_bytes,
            output_tied=output_tied,
        )


def _meta_int(info: GGUFInfo, key: str) -> int | None:
    """A positive integer metadata value, or None (absent, an array, or not a number)."""
    value = info.metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _scaled_to(
    info: GGUFInfo, parts: int, total_file_bytes: int
) -> tuple[int, int, int, int]:
    """Block bytes, other bytes, tensor count and output bytes of a model whose file (or files,
    together) hold ``total_file_bytes``, from the header ``info``.

    Two cases meet here. A split model: the first part's header lists only the tensors stored
    in that part, and the bytes it does not describe are the other parts' tensors (their own
    headers are a few kilobytes; the first one, with the vocabulary, is subtracted exactly).
    Another quantization of the same model (the Hub lists files whose header was not fetched):
    the same tensors in more or fewer bytes. Either way the tensor bytes are shared between the
    repeating layers and the rest in the proportion this header shows: split parts are cut in
    tensor order, so this over-counts the non-repeating tensors a little (moving a little of
    the estimate from the GPU to the host, the total stays right), and quantizations often keep
    the output layer at higher precision than the blocks, which this ignores.
    """
    described = info.block_bytes + info.other_bytes
    header = info.file_size - described
    tensors_total = total_file_bytes - header
    if described <= 0 or tensors_total <= 0:
        raise FitError(
            f"The model's file{'s' if parts > 1 else ''} {'were' if parts > 1 else 'was'} said "
            f"to hold {_size(total_file_bytes)}, too little for its own header; check the "
            "download or the file listing."
        )
    scale = tensors_total / described
    block = round(info.block_bytes * scale)
    if parts > 1:
        n_tensors = _meta_int(info, "split.tensors.count") or round(info.tensor_count * scale)
        output_bytes = info.output_bytes
    else:
        n_tensors = info.tensor_count
        output_bytes = round(info.output_bytes * scale)
    return block, tensors_total - block, n_tensors, output_bytes


# --- one configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryNeed:
    """Bytes needed on the host and on the GPU(s) for one configuration."""

    weights_host: int
    weights_gpu: int
    kv_host: int
    kv_gpu: int
    compute_host: int
    compute_gpu: int

    @property
    def host(self) -> int:
        """Bytes of RAM."""
        return self.weights_host + self.kv_host + self.compute_host

    @property
    def gpu(self) -> int:
        """Bytes of GPU memory (all GPUs together)."""
        return self.weights_gpu + self.kv_gpu + self.compute_gpu

    @property
    def total(self) -> int:
        """Bytes in all."""
        return self.host + self.gpu


def kv_cells(n_ctx: int) -> int:
    """The KV cache cells llama.cpp allocates for a context of ``n_ctx`` tokens."""
    return -(-n_ctx // KV_CELL_PAD) * KV_CELL_PAD


def graph_peak(shape: ModelShape, n_ctx: int, *, n_batch: int = 512,
               flash_attn: bool = False) -> int:
    """Bytes of llama.cpp's compute arena for one full micro-batch against a full cache.

    ggml's allocator reuses memory as tensors die, so the arena is the peak of what is live at
    once. Two moments compete: the logits (``n_vocab`` floats per batch token, as llama.cpp
    reserves room for every token's logits) and the attention scores of one layer (``n_kv`` ×
    ``n_head`` floats per token, softmaxed in place, next to the ``n_kv``-float mask and the
    feed-forward block's ``n_ff`` floats whose room is not reused). Flash attention never forms
    the scores; its mask is f16. A few activations of ``n_embd`` floats and the batch inputs
    are live either way.
    """
    n_kv = kv_cells(n_ctx)
    n_ub = min(n_batch, n_kv)  # llama.cpp caps the batch at the context size
    n_head = shape.n_head or shape.n_head_kv
    n_ff = shape.n_ff or 4 * shape.n_embd
    live = _LIVE_ACTIVATIONS * shape.n_embd
    logits = n_ub * (shape.n_vocab + live) * _F32
    if flash_attn:
        attention = n_ub * ((live + n_ff) * _F32 + n_kv * _F16)
    else:
        attention = n_ub * (n_kv * (n_head + 1) + live + n_ff) * _F32
    return max(logits, attention) + n_ub * _INPUT_BYTES_PER_TOKEN


def _host_inputs(shape: ModelShape, n_ctx: int, n_batch: int, flash_attn: bool) -> int:
    """The host's arena when every layer is on the GPU: the batch's embeddings (the embedding
    table stays on the host) and the attention mask, built there and copied over."""
    n_kv = kv_cells(n_ctx)
    n_ub = min(n_batch, n_kv)
    mask = n_kv * (_F16 if flash_attn else _F32)
    return n_ub * (shape.n_embd * _F32 + mask + _INPUT_BYTES_PER_TOKEN)


def _scheduler_workspace(shape: ModelShape) -> int:
    """ggml's scheduler: room for the input copies of every possible graph split, and the
    graph's own tensor and node records."""
    nodes = max(_MIN_GRAPH_NODES, _NODES_PER_TENSOR * shape.n_tensors)
    split_inputs = _SCHED_MAX_SPLIT_INPUTS * 2 * _GGML_TENSOR_BYTES
    return nodes * (split_inputs + _GGML_TENSOR_BYTES + _GGML_OBJECT_BYTES)


def estimate(
    shape: ModelShape,
    n_ctx: int,
    n_gpu_layers: int = 0,
    *,
    kv_bytes_per_element: float = 2.0,
    n_batch: int = 512,
    flash_attn: bool = False,
) -> MemoryNeed:
    """The memory llama.cpp allocates for ``shape`` with a context of ``n_ctx`` tokens.

    ``n_gpu_layers`` counts as llama.cpp counts: the last that many repeating layers go to the
    GPU, and ``n_layer + 1`` (or any negative value: "all") also takes the output layer.
    ``kv_bytes_per_element``: 2 for an f16 cache, about 1.06 for q8_0. ``n_batch``: tokens per
    micro-batch (the model process uses 512). ``flash_attn``: see ``graph_peak``.
    """
    if n_ctx < 1 or n_batch < 1 or not kv_bytes_per_element > 0:
        raise ValueError(
            f"n_ctx ({n_ctx}) and n_batch ({n_batch}) must be at least 1 and "
            f"kv_bytes_per_element ({kv_bytes_per_element}) above 0"
        )
    n_layer = shape.n_layer
    offloaded = n_layer + 1 if n_gpu_layers < 0 else min(n_gpu_layers, n_layer + 1)
    layers_gpu = min(offloaded, n_layer)
    output_on_gpu = offloaded > n_layer

    blocks_gpu = shape.block_bytes * layers_gpu // n_layer
    weights_gpu = blocks_gpu + (shape.output_bytes if output_on_gpu else 0)
    # A tied output layer is a copy: the host keeps the embeddings it was copied from.
    weights_host = shape.weights_bytes - blocks_gpu
    if output_on_gpu and not shape.output_tied:
        weights_host -= min(shape.output_bytes, shape.other_bytes)

    per_layer_kv = (
        kv_cells(n_ctx) * shape.n_head_kv * (shape.head_dim_k + shape.head_dim_v)
        * kv_bytes_per_element
    )
    kv_gpu = math.ceil(per_layer_kv * layers_gpu)
    kv_host = math.ceil(per_layer_kv * (n_layer - layers_gpu))

    peak = graph_peak(shape, n_ctx, n_batch=n_batch, flash_attn=flash_attn)
    host_fixed = shape.n_vocab * _F32 + _scheduler_workspace(shape)  # output buffer, scheduler
    if offloaded == 0:
        compute_gpu, compute_host = 0, peak + host_fixed
    elif not output_on_gpu:
        # The host still runs some layers: it needs an arena of its own, sized the same way.
        compute_gpu, compute_host = peak, peak + host_fixed
    else:
        compute_gpu = peak
        compute_host = _host_inputs(shape, n_ctx, n_batch, flash_attn) + host_fixed
    return MemoryNeed(
        weights_host=weights_host,
        weights_gpu=weights_gpu,
        kv_host=kv_host,
        kv_gpu=kv_gpu,
        compute_host=compute_host,
        compute_gpu=compute_gpu,
    )


def best_gpu_layers(
    shape: ModelShape,
    n_ctx: int,
    vram_free: int,
    *,
    reserve_vram: int = 512 * MIB,
    kv_bytes_per_element: float = 2.0,
    n_batch: int = 512,
    flash_attn: bool = False,
) -> int:
    """The most layers (0 to ``n_layer + 1``, as llama.cpp counts) whose GPU memory fits in
    ``vram_free`` with ``reserve_vram`` left over (for the display, the driver, other apps).

    The GPU's need grows with every layer, so a binary search finds the boundary.
    """
    budget = vram_free - reserve_vram

    def fits(layers: int) -> bool:
        need = estimate(shape, n_ctx, layers, kv_bytes_per_element=kv_bytes_per_element,
                        n_batch=n_batch, flash_attn=flash_attn)
        return need.gpu <= budget

    lo, hi = 0, shape.n_layer + 1  # invariant: lo fits (0 needs nothing), everything > hi not
    if budget < 0:
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- this machine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitVerdict:
    """Whether a model fits this machine, and how.

    Attributes:
        kind: "gpu" (every layer fits in free VRAM), "partial" (some layers on the GPU, the
            rest in RAM), "cpu" (no usable GPU — none, its free memory unknown, or too little
            for one layer — and it fits in RAM), "too_big" (it does not fit in free RAM even
            with as many layers on the GPU as fit there).
        gpu_layers: the most layers that fit, as llama.cpp counts them (``n_layer + 1`` =
            all, output layer included); 0 for "cpu" and "too_big".
        n_layer: the model's repeating layers.
        need: the memory needed at ``gpu_layers``.
        ram_free / vram_free: free memory that was compared with (None: unknown; vram_free is
            None too when there is no GPU).
        n_ctx: the context the estimate is for.
        reserve_ram / reserve_vram: memory kept free for everything else.
        gpu_count: GPUs seen.
    """

    kind: str
    gpu_layers: int
    n_layer: int
    need: MemoryNeed
    ram_free: int | None
    vram_free: int | None
    n_ctx: int = 0
    reserve_ram: int = 0
    reserve_vram: int = 0
    gpu_count: int = 0

    def summary(self) -> str:
        """One English sentence with the figures (the CLI prints it; the GUI words its own)."""
        ctx = f"at {self.n_ctx:,} tokens of context" if self.n_ctx else "at this context"
        need = self.need
        ram = "free RAM unknown" if self.ram_free is None else f"{_size(self.ram_free)} free"
        if self.kind == "gpu":
            return (
                f"Fits on the GPU {ctx}: all {self.n_layer} layers take {_size(need.gpu)} of "
                f"the {_size(self.vram_free or 0)} free there, and {_size(need.host)} of RAM "
                f"({ram})."
            )
        if self.kind == "partial":
            return (
                f"Fits partly on the GPU {ctx}: {self.gpu_layers} of {self.n_layer} layers "
                f"take {_size(need.gpu)} of the {_size(self.vram_free or 0)} free there, and "
                f"the rest {_size(need.host)} of RAM ({ram})."
            )
        if self.kind == "cpu":
            return (
                f"Runs on the CPU{self._why_no_gpu()} {ctx}: it needs {_size(need.host)} of "
                f"RAM ({ram})."
            )
        advice = "choose a smaller quantization or a shorter context."
        if self.ram_free is None:  # assess never says so without a RAM figure; a caller might
            return f"Too big for this machine {ctx}: it needs about {_size(need.total)}; {advice}"
        if self.vram_free is None:
            return (
                f"Too big for this machine {ctx}: it needs {_size(need.host)} of RAM, and "
                f"{_size(self.ram_free)} is free of which {_size(self.reserve_ram)} is kept for "
                f"other programs; {advice}"
            )
        return (
            f"Too big for this machine {ctx}: it needs {_size(need.total)} in all, more than "
            f"the {_size(self.ram_free)} of RAM and {_size(self.vram_free)} of GPU memory free "
            f"allow (keeping {_size(self.reserve_ram)} and {_size(self.reserve_vram)} for other "
            f"programs); {advice}"
        )

    def _why_no_gpu(self) -> str:
        if self.gpu_count == 0:
            return " (no GPU found)"
        if self.vram_free is None:
            return " (the GPU's free memory is unknown)"
        return f" (the GPU's {_size(self.vram_free)} free is too little for one layer)"


def assess(
    shape: ModelShape,
    n_ctx: int,
    devices: Sequence[Mapping[str, Any]],
    *,
    reserve_vram: int = 512 * MIB,
    reserve_ram: int = 1024 * MIB,
    kv_bytes_per_element: float = 2.0,
    n_batch: int = 512,
    flash_attn: bool = False,
) -> FitVerdict:
    """Whether ``shape`` fits the machine described by ``devices``, and with how many layers on
    the GPU.

    ``devices``: the dicts ``backend_and_devices`` returns ("type" "CPU"/"GPU"/"iGPU",
    "memory_free" in bytes or None). GPU memory is the sum over the "GPU" devices, as llama.cpp
    spreads layers over all of them (each also holds its own compute arena, which the sum does
    not count twice; ``reserve_vram`` leaves room). Integrated GPUs share the RAM and are left
    out. RAM is the CPU device's free memory.
    """
    options: dict[str, Any] = {
        "kv_bytes_per_element": kv_bytes_per_element, "n_batch": n_batch,
        "flash_attn": flash_attn,
    }
    gpus = [d for d in devices if d.get("type") == "GPU"]
    cpu = next((d for d in devices if d.get("type") == "CPU"), None)
    ram_free = _bytes_or_none(cpu.get("memory_free")) if cpu is not None else None
    gpu_free = [_bytes_or_none(d.get("memory_free")) for d in gpus]
    vram_free = sum(v for v in gpu_free if v is not None) if gpus and None not in gpu_free \
        else None

    layers = 0
    if vram_free is not None:
        layers = best_gpu_layers(shape, n_ctx, vram_free, reserve_vram=reserve_vram, **options)
    need = estimate(shape, n_ctx, layers, **options)
    if ram_free is not None and need.host + reserve_ram > ram_free:
        kind, layers = "too_big", 0
        need = estimate(shape, n_ctx, 0, **options)
    elif layers == 0:
        kind = "cpu"
    elif layers > shape.n_layer:
        kind = "gpu"
    else:
        kind = "partial"
    return FitVerdict(
        kind=kind,
        gpu_layers=layers,
        n_layer=shape.n_layer,
        need=need,
        ram_free=ram_free,
        vram_free=vram_free,
        n_ctx=n_ctx,
        reserve_ram=reserve_ram,
        reserve_vram=reserve_vram,
        gpu_count=len(gpus),
    )


def _bytes_or_none(value: object) -> int | None:
    """A device's memory figure: a positive int, or None (unknown)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _size(n: int) -> str:
    """Bytes for people, as the rest of the app shows them ('98 MB', '7.5 GB')."""
    return format_bytes(max(n, 0))
