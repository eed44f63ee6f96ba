"""Attention weights, captured from llama.cpp's compute graph.

llama.cpp has no attention API.  Its graph eval callback (`llama_context_params.cb_eval`) is
asked about every node of the compute graph, and called again with the data of the nodes it
asked for.  The post-softmax attention of layer `il` is the node named `kq_soft_max-<il>`
(`kq_soft_max_ext-<il>` in older builds): F32, ne = [n_kv, n_tokens, n_head, n_stream], one row
per query token and query head (grouped-query attention included), over the KV cache's cells,
whose count is padded to a multiple of 256 (padded and future cells are 0).

`capture_attention` replays tokens in a context of its own on the same loaded model (weights
shared, flash attention off: it fuses the softmax away), decodes them in chunks of the model's
batch size, and copies the rows of the asked layers and heads straight into one preallocated
[L, H, T, T] array.  The chat context and its KV cache are not touched; the capture context is
freed before returning.

Two rules from engine.md shape the callback: in the data phase it must always return True (False,
or an exception escaping into C, silently skips the rest of the graph split and corrupts the
computation), so every error is recorded and reported after the decode; and tensors in GPU
memory are read with `ggml_backend_tensor_get` from the ggml-base library, not through their
data pointer.

Runs in the model process, on the thread that owns the LoadedModel.  No Qt here.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import re
import struct
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from chatapp.engine.runtime import LoadedModel

DEFAULT_MAX_BYTES = 512 * 2**20
DEFAULT_MAX_TOKENS = 1024
#: llama.cpp pads the number of KV cells an attention step sees to a multiple of this.
CELL_PAD = 256
#: NPZ files kept in the attention cache folder (the newest ones).
CACHE_KEEP = 3

_F32 = 0  # GGML_TYPE_F32
_FLOAT = 4  # bytes
_NODE_NAME = re.compile(rb"kq_soft_max(?:_ext)?-(\d+)")


class AttentionRequestError(ValueError):
    """A capture that cannot be made as asked (a layer or head that does not exist, no tokens,
    a memory budget too small for even one head); str() says why in one sentence."""


class AttentionError(RuntimeError):
    """The capture failed: llama.cpp refused the context or the decode, or the compute graph
    did not look as expected (an architecture without the softmax node, flash attention)."""


@dataclass(frozen=True)
class AttentionCapture:
    """Post-softmax attention weights of one token sequence.

    Attributes:
        tokens: the token ids, np.int32, shape (T,).
        attention: np.float32, shape (L, H, T, T): [layer slot, head slot, query position, key
            position]; row i is query position i's attention over positions 0..i (rows sum to
            1, zero above the diagonal).
        layers: the layer index of each layer slot.
        heads: the head index of each head slot (query heads).
        n_layer: layers of the model.
        n_head: query heads per layer of the model.
        left_out: what was not kept because of the memory budget, in a sentence; None when
            everything asked for is there.
        capture_ms: wall time of the capture (context, decode, copies).
    """

    tokens: npt.NDArray[np.int32]
    attention: npt.NDArray[np.float32]
    layers: list[int]
    heads: list[int]
    n_layer: int
    n_head: int
    left_out: str | None
    capture_ms: float

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(L, H, T, T)."""
        L, H, T, T2 = self.attention.shape
        return int(L), int(H), int(T), int(T2)


# -- what to capture ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CapturePlan:
    """The layers and heads a capture keeps within its memory budget.

    Attributes:
        layers: layer indices, in the order asked.
        heads: head indices, in the order asked.
        left_out: what was dropped to fit the budget, or None.
    """

    layers: list[int]
    heads: list[int]
    left_out: str | None


def plan_capture(
    n_layer: int,
    n_head: int,
    n_tokens: int,
    layers: Sequence[int] | None,
    heads: Sequence[int] | None,
    max_bytes: int,
) -> CapturePlan:
    """Check the asked layers and heads, and keep as many as `max_bytes` allows.

    Layers go first (the first ones asked are kept); when not even one layer of all the asked
    heads fits, one layer with as many heads as fit.  Raises AttentionRequestError for an index
    out of range, an empty selection, or a budget too small for one head of one layer.
    """
    want_layers = _check_indices(layers, n_layer, "layer")
    want_heads = _check_indices(heads, n_head, "head")
    if n_tokens < 1:
        raise AttentionRequestError("no tokens to capture attention for")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) \
            or max_bytes < 1:
        raise AttentionRequestError(f"max_bytes must be a positive integer, not {max_bytes!r}")
    max_bytes = int(max_bytes)
    per_head = n_tokens * n_tokens * _FLOAT
    per_layer = per_head * len(want_heads)
    total = per_layer * len(want_layers)
    if total <= max_bytes:
        return CapturePlan(want_layers, want_heads, None)
    asked = (f"{len(want_layers)} layer(s) × {len(want_heads)} head(s) × {n_tokens}² float32 "
             f"weights would take {_mb(total)}, over the {_mb(max_bytes)} budget")
    if per_layer <= max_bytes:
        keep = max_bytes // per_layer
        dropped = want_layers[keep:]
        return CapturePlan(
            want_layers[:keep], want_heads,
            f"{asked}: kept {_list('layer', want_layers[:keep])}; left out "
            f"{_list('layer', dropped)}",
        )
    if per_head <= max_bytes:
        keep = max_bytes // per_head
        other_layers = (f" and {_list('layer', want_layers[1:])}" if len(want_layers) > 1
                        else "")
        return CapturePlan(
            want_layers[:1], want_heads[:keep],
            f"{asked}: kept {_list('head', want_heads[:keep])} of layer {want_layers[0]}; "
            f"left out {_list('head', want_heads[keep:])}{other_layers}",
        )
    raise AttentionRequestError(
        f"{n_tokens} tokens need {_mb(per_head)} for a single head of a single layer, over the "
        f"{_mb(max_bytes)} budget: capture fewer tokens or allow more memory"
    )


def _check_indices(values: Sequence[int] | None, count: int, what: str) -> list[int]:
    if values is None:
        return list(range(count))
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise AttentionRequestError(f"{what}s must be a list of {what} indices")
    chosen: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise AttentionRequestError(f"{what} {value!r} is not an index")
        if not 0 <= int(value) < count:
            raise AttentionRequestError(
                f"{what} {value} does not exist: the model has {count} {what}s "
                f"(0–{count - 1})")
        if int(value) not in chosen:
            chosen.append(int(value))
    if not chosen:
        raise AttentionRequestError(f"no {what}s asked for")
    return chosen


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _list(what: str, values: Sequence[int]) -> str:
    """'layer 3', 'layers 0–12', 'layers 1, 5, 7'."""
    if len(values) == 1:
        return f"{what} {values[0]}"
    if list(values) == list(range(values[0], values[0] + len(values))):
        return f"{what}s {values[0]}–{values[-1]}"
    return f"{what}s " + ", ".join(str(v) for v in values)


def keep_tail(tokens: Sequence[int], max_tokens: int) -> tuple[list[int], str | None]:
    """The last `max_tokens` tokens, and a sentence saying what was cut (None if nothing)."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise AttentionRequestError(f"max_tokens must be a positive integer, not {max_tokens!r}")
    kept = list(tokens)
    if len(kept) <= max_tokens:
        return kept, None
    cut = len(kept) - max_tokens
    return kept[cut:], (f"the first {cut} of {len(kept)} tokens were left out: only the last "
                        f"{max_tokens} are captured (max_tokens)")


# -- ggml through ctypes -----------------------------------------------------------------------


class GGMLTensor(ctypes.Structure):
    """The head of `struct ggml_tensor` (ggml.h) on a 64-bit build, as engine.md lays it out.

    Only read, never written; the layout is checked once at import (336 bytes, name at 256)
    and each captured node is checked against what it must be (F32, contiguous, its shape).
    """

    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * 4),
        ("nb", ctypes.c_size_t * 4),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * 16),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * 10),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * 64),
        ("extra", ctypes.c_void_p),
        ("padding", ctypes.c_char * 8),
    ]


_NAME_OFFSET = GGMLTensor.name.offset
_LAYOUT_OK = ctypes.sizeof(ctypes.c_void_p) == 8 and ctypes.sizeof(GGMLTensor) == 336 \
    and _NAME_OFFSET == 256


class BackendApi:
    """The ggml-backend functions a capture needs to read tensors in device memory.

    `ggml_backend_buffer_is_host(buffer)` says whether a buffer's memory is the CPU's (then a
    tensor's data pointer can be read directly); `ggml_backend_tensor_get(tensor, dst, offset,
    size)` copies from any backend's memory (CUDA, Metal, Vulkan ...).  llama-cpp-python does
    not bind them; they are looked up on a ctypes handle of our own, so setting prototypes does
    not touch llama-cpp-python's function objects.
    """

    def __init__(self, lib: Any) -> None:
        """Declare the prototypes on `lib`; raises AttributeError when one is missing."""
        vp = ctypes.c_void_p
        self._is_host = getattr(lib, "ggml_backend_buffer_is_host")  # noqa: B009
        self._is_host.argtypes = [vp]
        self._is_host.restype = ctypes.c_bool
        self._get = getattr(lib, "ggml_backend_tensor_get")  # noqa: B009
        self._get.argtypes = [vp, vp, ctypes.c_size_t, ctypes.c_size_t]
        self._get.restype = None

    def is_host(self, buffer: int) -> bool:
        """True when the buffer's memory can be read by the CPU through a data pointer."""
        return bool(self._is_host(buffer))

    def tensor_get(self, tensor: int, dst: int, offset: int, size: int) -> None:
        """Copy `size` bytes of the tensor's data, from byte `offset`, to host memory `dst`."""
        self._get(tensor, dst, offset, size)


_api_cache: list[BackendApi | None] = []


def backend_api() -> BackendApi | None:
    """The ggml-base library's backend functions (bound once), or None when not found."""
    if not _api_cache:
        _api_cache.append(_bind_backend_api())
    return _api_cache[0]


def _bind_backend_api() -> BackendApi | None:
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).resolve().parent / "lib"
    names = ["libggml-base.so", "libggml-base.dylib", "ggml-base.dll"]
    candidates = [lib_dir / n for n in names if (lib_dir / n).exists()]
    candidates += sorted(p for p in lib_dir.glob("*ggml-base*") if p not in candidates)
    libllama = getattr(getattr(llama_cpp.llama_cpp, "_lib", None), "_name", None)
    if isinstance(libllama, str):  # its dependencies export the symbols too (dlsym searches)
        candidates.append(Path(libllama))
    for path in candidates:
        try:
            return BackendApi(ctypes.CDLL(str(path)))
        except (OSError, AttributeError):
            continue
    return None


def _gpu_build() -> bool:
    from chatapp.engine.runtime import gpu_offload_supported

    return gpu_offload_supported()


def tensor_is_host(buffer: int | None, api: BackendApi | None, gpu_build: bool) -> bool:
    """Whether a tensor in `buffer` can be read through its data pointer.

    No buffer: memory the CPU allocated itself.  Otherwise ggml says; when its function could
    not be bound, only a build without GPU support is known to hold everything in host memory,
    and reading a device pointer would crash the process, so AttentionError.
    """
    if not buffer:
        return True
    if api is not None:
        return api.is_host(buffer)
    if not gpu_build:
        return True
    raise AttentionError("this llama.cpp build can use a GPU, and ggml_backend_buffer_is_host "
                         "could not be found in the ggml-base library to tell where the "
                         "attention weights are")


# -- the eval callback -------------------------------------------------------------------------


class AttentionRecorder:
    """The graph eval callback's state: which nodes to observe and where their rows go.

    Attributes:
        out: the [L, H, T, T] float32 array being filled.
        start / count: positions of the chunk being decoded (its rows in `out`).
        active: observe nodes only while one of our decodes runs.
        error: the first failure inside the callback (reported after the decode).
        seen: per layer index, how many chunks gave its attention node.
    """

    def __init__(
        self,
        out: npt.NDArray[np.float32],
        layers: Sequence[int],
        heads: Sequence[int],
        n_head: int,
        *,
        api: BackendApi | None,
        gpu_build: bool,
    ) -> None:
        """`out` has one slot per entry of `layers` and of `heads`."""
        self.out = out
        self.slots = {layer: i for i, layer in enumerate(layers)}
        self.heads = list(heads)
        self.n_head = n_head
        self.api = api
        self.gpu_build = gpu_build
        self.start = 0
        self.count = 0
        self.active = False
        self.error: str | None = None
        self.seen: dict[int, int] = dict.fromkeys(self.slots, 0)
        self._names: dict[bytes, int] = {}
        self._scratch: npt.NDArray[np.float32] = np.empty(0, np.float32)
        self.c_callback: Any = None  # the ctypes function object; keep it alive with the context

    def callback(self, tensor: int | None, ask: bool, _user_data: Any) -> bool:
        """The function llama.cpp calls; never raises, and returns True in the data phase."""
        if ask:
            try:
                return self.active and self.error is None and tensor is not None \
                    and self._layer_of(tensor) in self.slots
            except BaseException:  # never into C; not asking is harmless
                return False
        try:
            if self.active and self.error is None and tensor is not None:
                self.take(tensor)
        except BaseException as exc:  # never into C: recorded, raised later
            self.error = f"{type(exc).__name__}: {exc}"
        return True

    def _layer_of(self, tensor: int) -> int:
        name = ctypes.string_at(tensor + _NAME_OFFSET)
        layer = self._names.get(name)
        if layer is None:
            match = _NODE_NAME.fullmatch(name)
            layer = self._names[name] = int(match.group(1)) if match else -1
        return layer

    def take(self, tensor: int) -> None:
        """Copy the asked heads' rows of an attention node into `out` (raises on surprises)."""
        layer = self._layer_of(tensor)
        slot = self.slots.get(layer)
        if slot is None:
            return
        t = GGMLTensor.from_address(tensor)
        n_kv, n_tokens, n_head, n_stream = (int(v) for v in t.ne)
        s, c, width = self.start, self.count, self.out.shape[-1]
        if t.type != _F32:
            raise AttentionError(f"layer {layer}'s attention is ggml type {t.type}, not F32")
        if n_head != self.n_head or n_tokens != c or n_stream != 1 or n_kv < s + c:
            raise AttentionError(
                f"layer {layer}'s attention has shape [{n_kv}, {n_tokens}, {n_head}, "
                f"{n_stream}]; expected [>={s + c}, {c}, {self.n_head}, 1]")
        nb = [int(v) for v in t.nb]
        if nb[0] != _FLOAT or nb[1] != _FLOAT * n_kv or nb[2] != nb[1] * n_tokens:
            raise AttentionError(f"layer {layer}'s attention is not contiguous (nb={nb})")
        cols = min(n_kv, width)
        rows = self.out[slot, :, s:s + c, :cols]
        if tensor_is_host(t.buffer, self.api, self.gpu_build):
            if not t.data:
                raise AttentionError(f"layer {layer}'s attention has no data")
            node = np.ctypeslib.as_array(ctypes.cast(t.data, ctypes.POINTER(ctypes.c_float)),
                                         shape=(n_head, n_tokens, n_kv))
            for k, h in enumerate(self.heads):
                rows[k] = node[h, :, :cols]
        else:
            assert self.api is not None  # tensor_is_host says host without one
            size = n_tokens * n_kv
            if self._scratch.size < size:
                self._scratch = np.empty(size, np.float32)
            block = self._scratch[:size]
            for k, h in enumerate(self.heads):
                self.api.tensor_get(tensor, block.ctypes.data, h * nb[2], nb[2])
                rows[k] = block.reshape(n_tokens, n_kv)[:, :cols]
        self.seen[layer] += 1


# -- the capture -------------------------------------------------------------------------------


def capture_attention(
    model: LoadedModel,
    tokens: Sequence[int],
    *,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> AttentionCapture:
    """The attention weights the model computes over `tokens`, for the asked layers and heads
    (all by default), within `max_bytes` for the result (fewer layers, then fewer heads are
    kept, and `left_out` says so).

    Raises AttentionRequestError (a bad index or token, a budget too small for one head) or
    AttentionError (the capture failed).
    """
    import llama_cpp

    t0 = time.perf_counter()
    if not _LAYOUT_OK:
        raise AttentionError("this platform's ggml_tensor layout is not the one this capture "
                             "reads (64-bit builds only)")
    ids = _check_tokens(tokens, model.n_vocab)
    n_layer = int(llama_cpp.llama_model_n_layer(model.model_ptr))
    n_head = int(llama_cpp.llama_model_n_head(model.model_ptr))
    T = len(ids)
    plan = plan_capture(n_layer, n_head, T, layers, heads, max_bytes)
    out = np.zeros((len(plan.layers), len(plan.heads), T, T), np.float32)
    recorder = AttentionRecorder(out, plan.layers, plan.heads, n_head, api=backend_api(),
                                 gpu_build=_gpu_build())
    chunk = max(1, min(T, model.settings.n_batch))
    ctx = _attention_context(model, T, chunk, recorder)
    try:
        for s in range(0, T, chunk):
            part = ids[s:s + chunk]
            arr = (llama_cpp.llama_token * len(part))(*part.tolist())
            recorder.start, recorder.count, recorder.active = s, len(part), True
            try:
                rc = llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(part)))
            finally:
                recorder.active = False
            if recorder.error is not None:
                raise AttentionError(f"reading the attention weights failed: {recorder.error}")
            if rc != 0:
                raise AttentionError(f"llama_decode failed with code {rc} while replaying "
                                     f"tokens {s}–{s + len(part) - 1}")
    finally:
        llama_cpp.llama_free(ctx)
        recorder.c_callback = None
    n_chunks = math.ceil(T / chunk)
    missing = [layer for layer, n in recorder.seen.items() if n != n_chunks]
    if missing:
        raise AttentionError(
            f"llama.cpp's graph gave no attention weights for {_list('layer', missing)} "
            "(is this architecture's attention fused, or computed without a softmax node?)")
    return AttentionCapture(
        tokens=ids, attention=out, layers=plan.layers, heads=plan.heads, n_layer=n_layer,
        n_head=n_head, left_out=plan.left_out,
        capture_ms=round((time.perf_counter() - t0) * 1000, 1),
    )


def _check_tokens(tokens: Sequence[int], n_vocab: int) -> npt.NDArray[np.int32]:
    if isinstance(tokens, np.ndarray):
        tokens = tokens.tolist()
    values = list(tokens)
    if not all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in values):
        raise AttentionRequestError("tokens must be a list of integer token ids")
    try:
        ids = np.asarray(values, dtype=np.int64)
    except OverflowError:
        raise AttentionRequestError("a token id is far out of the vocabulary's range") from None
    if ids.size == 0:
        raise AttentionRequestError("no tokens to capture attention for")
    bad = ids[(ids < 0) | (ids >= n_vocab)]
    if bad.size:
        raise AttentionRequestError(
            f"token id {int(bad[0])} is not in the model's vocabulary (0–{n_vocab - 1})")
    return ids.astype(np.int32)


def capture_threads(chat_threads: int) -> int:
    """Threads for a capture: every core when the machine has one to spare, else the chat's.

    A capture is a batch job the user waits on (the window is idle meanwhile): 512 tokens on 2
    idle cores took 1.8 s with 2 threads against 3.6 s with the chat's 1.  But llama.cpp's
    threads collapse when a core is busy elsewhere (the same capture with 2 threads took 9.4 s
    while another process kept a core busy), so all cores are used only while the load average
    leaves at least one core idle.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average: stay with the chat's
        return chat_threads
    return max(chat_threads, cores) if load <= cores - 1 else chat_threads


def _attention_context(model: LoadedModel, n_tokens: int, chunk: int,
                       recorder: AttentionRecorder) -> Any:
    """A llama context on the model's weights, with the recorder as its eval callback."""
    import llama_cpp

    params = llama_cpp.llama_context_default_params()
    params.n_ctx = -(-n_tokens // CELL_PAD) * CELL_PAD
    params.n_batch = chunk
    params.n_ubatch = chunk  # one graph per chunk: the callback knows which rows it sees
    params.n_seq_max = 1
    threads = capture_threads(model.threads.n_threads_batch)
    params.n_threads = threads
    params.n_threads_batch = threads
    # Flash attention fuses the softmax away (and a quantized V cache would force it on).
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    params.type_k = params.type_v = 1  # GGML_TYPE_F16
    params.swa_full = True  # cache cell j is position j for sliding-window models too
    params.embeddings = False
    params.no_perf = True
    recorder.c_callback = llama_cpp.ggml_backend_sched_eval_callback(recorder.callback)
    params.cb_eval = recorder.c_callback
    params.cb_eval_user_data = None
    ctx = llama_cpp.llama_init_from_model(model.model_ptr, params)
    if not ctx:
        recorder.c_callback = None
        raise AttentionError(f"llama.cpp could not create a {params.n_ctx}-token context to "
                             "capture attention (out of memory?)")
    return ctx


# -- files --------------------------------------------------------------------------------------


def save_npz(capture: AttentionCapture, path: str | os.PathLike[str]) -> Path:
    """Write tokens (int32 T), attention (float32 L×H×T×T), layers and heads (int32) to an
    uncompressed NPZ, atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".attention-", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, tokens=capture.tokens.astype(np.int32),
                     attention=capture.attention,
                     layers=np.asarray(capture.layers, np.int32),
                     heads=np.asarray(capture.heads, np.int32))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def prune_cache(folder: Path, keep: int = CACHE_KEEP) -> list[Path]:
    """Delete all but the newest `keep` NPZ files in `folder`; returns those deleted."""
    files: list[tuple[float, Path]] = []
    for p in folder.glob("*.npz"):
        with contextlib.suppress(OSError):
            files.append((p.stat().st_mtime, p))
    files.sort(key=lambda item: item[0], reverse=True)
    deleted: list[Path] = []
    for _, p in files[keep:]:
        with contextlib.suppress(OSError):
            p.unlink()
            deleted.append(p)
    return deleted


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def cache_file_name(req_id: str) -> str:
    """`<id>.npz`, with characters that do not belong in a file name replaced."""
    name = _SAFE_NAME.sub("_", req_id)[:80].lstrip(".") or "attention"
    return f"{name}.npz"


# -- pictures -----------------------------------------------------------------------------------

#: Colour stops of the heatmap (dark violet → blue → teal → green → yellow), for sqrt(weight).
_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                  np.float32)
_MASKED = np.array([236, 236, 236], np.uint8)  # above the diagonal: positions not attended to


def heatmap_rgb(matrix: npt.NDArray[np.floating[Any]], cell: int | None = None
                ) -> npt.NDArray[np.uint8]:
    """A T×T attention matrix as an RGB picture (rows = query positions, top to bottom).

    The colour follows sqrt(weight) (attention is dominated by a few large weights); cells above
    the diagonal (future positions) are light grey.  `cell`: pixels per token (default: about
    512 pixels in all, at least 1).
    """
    m = np.asarray(matrix, np.float32)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"need a square matrix, not shape {m.shape}")
    T = m.shape[0]
    cell = cell or max(1, min(32, 512 // T))
    x = np.sqrt(np.clip(m, 0.0, 1.0)) * (len(_STOPS) - 1)
    lo = np.minimum(x.astype(np.int64), len(_STOPS) - 2)
    frac = (x - lo)[..., None]
    rgb = (_STOPS[lo] * (1 - frac) + _STOPS[lo + 1] * frac + 0.5).astype(np.uint8)
    rgb[np.triu(np.ones((T, T), bool), 1)] = _MASKED
    return np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)


def write_png(path: str | os.PathLike[str], rgb: npt.NDArray[np.uint8]) -> None:
    """Write an H×W×3 uint8 array as an 8-bit RGB PNG (zlib + struct, no imaging library)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("need an H×W×3 uint8 array")
    h, w = rgb.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
           + chunk(b"IEND", b""))
    Path(path).write_bytes(png)

