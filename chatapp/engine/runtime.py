"""A loaded model and its context, over llama-cpp-python's low-level API.

Runs only inside the model process.  One thread owns a LoadedModel: llama.cpp contexts are not
thread-safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
from llama_cpp import _internals as internals

from chatapp.engine import rpc
from chatapp.engine.chat_template import ChatTemplate, TemplateError
from chatapp.engine.gguf_preflight import GGUFInfo, inspect_gguf
from chatapp.engine.threads import ThreadChoice, choose_threads
from chatapp.models.fit import FitVerdict, ModelShape, assess, best_gpu_layers


@dataclass(frozen=True)
class LoadSettings:
    """How to load a model.

    Attributes:
        path: the GGUF file.
        n_ctx: context window in tokens (0 = the model's trained length, capped at 32768).
        n_threads / n_threads_batch: None = chosen with headroom (chatapp.engine.threads).
        n_gpu_layers: layers offloaded to the GPU (-1 = auto: as many as fit in free GPU
            memory, see choose_gpu_layers; 0 = CPU only).
        flash_attn: flash attention (must be off to observe attention weights).
        n_batch: prompt tokens decoded per llama_decode call.
        rpc: workers ("host:port", see chatapp.engine.rpc) to split the model over.  With
            workers every layer goes to the device list (the workers' devices, then this
            machine's GPUs) and n_gpu_layers is not used: the layers it would leave behind
            would land on this machine's CPU, a part of the split nobody asked for, and the
            workers are there because this machine is not enough.
        tensor_split: with workers, one proportion per device of that list, in its order
            (None: "auto", by each device's free memory, as llama.cpp does).
    """

    path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    n_threads_batch: int | None = None
    n_gpu_layers: int = 0
    flash_attn: bool = False
    n_batch: int = 512
    rpc: tuple[str, ...] = ()
    tensor_split: tuple[float, ...] | None = None


class LoadError(Exception):
    """A model could not be loaded; str() says why in words a user understands.

    Attributes:
        gpu_layers: the layers the failed load gave the GPU (the resolved "auto"), or None
            when the failure came before that was decided.
    """

    def __init__(self, message: str, gpu_layers: int | None = None) -> None:
        super().__init__(message)
        self.gpu_layers = gpu_layers


_log_tail: list[str] = []
# ggml_log_level (ggml.h): 1 DEBUG, 2 INFO, 3 WARN, 4 ERROR, 5 continues the previous line.
_WARN, _ERROR, _CONT = 3, 4, 5
_last_level = [0]
#: While a model loads: llama.cpp's lines on where layers and buffers go (rpc.LOG_MARKERS,
#: at DEBUG and INFO level, which are otherwise dropped); see LoadedModel.placement.
_placement_log: list[list[str]] = []


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _log_to_stderr(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # Warnings and errors go to stderr (the client keeps its tail to explain crashes); errors
    # are also kept to explain a failed load.  INFO/DEBUG chatter is dropped unless asked for.
    if level == _CONT:
        level = _last_level[0]
    _last_level[0] = level
    if _placement_log and any(marker in text for marker in rpc.LOG_MARKERS):
        _placement_log[-1].append(text.decode("utf-8", "replace").strip())
    if level >= _WARN or os.environ.get("CHATAPP_ENGINE_DEBUG"):
        line = text.decode("utf-8", "replace")
        sys.stderr.write(line)
        sys.stderr.flush()
        if level == _ERROR:
            _log_tail.append(line.strip())
            del _log_tail[:-8]


def install_log_handler() -> None:
    """Route llama.cpp's log through our filter (replaces llama-cpp-python's handler)."""
    llama_cpp.llama_log_set(_log_to_stderr, ctypes.c_void_p(0))


class LoadedModel:
    """A model, its single context, its chat template and a token-piece cache.

    Attributes:
        settings: what was asked for.
        threads: the thread counts in use.
        info: the pre-flight result of the file.
        n_ctx: the context size in tokens.
        n_vocab: vocabulary size.
        template: the sandboxed chat template (the model's, or the ChatML fallback).
    """

    def __init__(
        self, settings: LoadSettings, on_progress: Callable[[float], None] | None = None
    ) -> None:
        """Pre-flight, then load (reporting progress 0..1).  Raises GGUFPreflightError or
        LoadError; with workers, also rpc.RpcError (a worker cannot be used) or
        rpc.SplitError (a split that does not match the devices)."""
        self.settings = settings
        self.info: GGUFInfo = inspect_gguf(settings.path)
        self.threads: ThreadChoice = choose_threads(settings.n_threads, settings.n_threads_batch)
        n_ctx = settings.n_ctx or min(self.info.context_length or 4096, 32768)

        #: The workers' devices (rpc.add_workers), and the device list of the load: the
        #: workers' devices, then this machine's GPUs.  Empty without workers.
        self.workers: list[dict[str, Any]] = []
        self.split_devices: list[dict[str, Any]] = []
        #: Where the layers and buffers went, per device ("devices_used", see rpc.placement).
        self.placement: list[dict[str, Any]] = []
        local = backend_and_devices(0)
        mparams = llama_cpp.llama_model_default_params()
        keep: list[Any] = []  # ctypes arrays llama.cpp reads while it loads
        #: True when the layers on the GPU were chosen here ("auto"), not by the user.
        self.gpu_layers_auto = settings.n_gpu_layers < 0 and not settings.rpc
        if settings.rpc:
            # Probes every worker before llama.cpp touches one: it aborts on a worker it
            # cannot reach.  RpcError / SplitError go to the caller as they are.
            self.workers = rpc.add_workers(settings.rpc)
            self.split_devices = self.workers + rpc.local_gpus()
            devices = rpc.device_array([d["handle"] for d in self.split_devices])
            keep.append(devices)
            mparams.devices = ctypes.addressof(devices)
            self._n_gpu_layers, self.fit = -1, None  # every layer to the device list
            if settings.tensor_split is not None:
                split = rpc.check_split(settings.tensor_split, self.split_devices)
                array = rpc.tensor_split_array(split, int(llama_cpp.llama_max_devices()))
                keep.append(array)
                mparams.tensor_split = ctypes.cast(array, ctypes.POINTER(ctypes.c_float))
        else:
            # llama.cpp reads -1 as "every layer", which fails to load (or crawls) when the GPU
            # is too small: "auto" is decided here, before the load, from the GPUs' free memory.
            self._n_gpu_layers, self.fit = choose_gpu_layers(
                settings.n_gpu_layers, self.info, n_ctx,
                local["devices"], offload_supported=gpu_offload_supported(),
                path=settings.path, n_batch=settings.n_batch, flash_attn=settings.flash_attn,
            )

        mparams.n_gpu_layers = self._n_gpu_layers
        progress = _progress_callback(on_progress)
        if progress is not None:
            mparams.progress_callback = progress
        _log_tail.clear()
        _placement_log[:] = [[]]
        try:
            model: Any = internals.LlamaModel(
                path_model=settings.path, params=mparams, verbose=True
            )
        except ValueError as exc:
            _placement_log.clear()
            raise LoadError(_explain(str(exc)), self._n_gpu_layers) from None
        # llama.cpp copied them; kept anyway, as the params that point at them are kept too.
        self._load_arrays = keep

        self._model: Any = model
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = settings.n_batch
        cparams.n_ubatch = settings.n_batch
        cparams.n_threads = self.threads.n_threads
        cparams.n_threads_batch = self.threads.n_threads_batch
        cparams.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if settings.flash_attn
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        cparams.no_perf = True
        try:
            self._ctx: Any = internals.LlamaContext(model=model, params=cparams, verbose=True)
        except ValueError as exc:
            model.close()
            raise LoadError(_explain(str(exc)), self._n_gpu_layers) from None
        finally:
            placement_lines = _placement_log.pop() if _placement_log else []
            _placement_log.clear()

        self.model_ptr: Any = self._model.model
        self.ctx_ptr: Any = self._ctx.ctx
        self.vocab_ptr: Any = self._model.vocab
        self.memory: Any = llama_cpp.llama_get_memory(self.ctx_ptr)
        self.n_ctx = int(llama_cpp.llama_n_ctx(self.ctx_ptr))
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab_ptr))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab_ptr))
        self._pieces: dict[int, bytes] = {}
        self._texts: dict[int, str] = {}
        bos = self._special_text(int(llama_cpp.llama_vocab_bos(self.vocab_ptr)))
        eos = self._special_text(int(llama_cpp.llama_vocab_eos(self.vocab_ptr)))
        #: Why the model's own template is not used, if it is not (shown in the status).
        self.template_problem: str | None = None
        try:
            self.template = ChatTemplate(self.info.chat_template, bos_token=bos, eos_token=eos)
        except TemplateError as exc:
            # A template that does not even compile must not make the model unusable.
            self.template_problem = str(exc)
            self.template = ChatTemplate(None, bos_token=bos, eos_token=eos)
        #: Tokens whose keys/values are in the KV cache, in positions 0..len-1.
        self.cached_tokens: list[int] = []
        self.placement = self._placement(placement_lines, local["devices"])

    def _placement(self, lines: list[str], local: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Which device got which layers and how much memory, from llama.cpp's load log (see
        rpc.placement); with workers, also the layers its split rule gives, for a log that
        names none."""
        n_layer = int(llama_cpp.llama_model_n_layer(self.model_ptr))
        cpu = next((d for d in local if d["type"] == "CPU"), None)
        if self.split_devices:
            shares = list(self.settings.tensor_split or ())
            if not shares:  # "auto": free memory, as llama.cpp reads it at load time
                shares = [float(d.get("memory_free") or 0) for d in self.split_devices]
            computed = rpc.split_layers(shares, n_layer) if sum(shares) > 0 else None
            return rpc.placement(lines, self.split_devices, n_layer, cpu, computed)
        offloadable = [d for d in local if d["type"] != "CPU"]
        used = rpc.placement(lines, offloadable, n_layer, cpu)
        # Without workers, list the devices that got something, and always this machine's CPU.
        return [d for d in used if d["input_layer"] or d["n_layers"] or d["output_layer"]
                or d["weights_bytes"]]

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.piece(token, special=True).decode("utf-8", "replace")

    def describe(self) -> dict[str, Any]:
        """What the status display shows about the loaded model."""
        desc = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self.model_ptr, desc, 256)
        system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
        return {
            "path": self.settings.path,
            "description": desc.value.decode("utf-8", "replace"),
            "architecture": self.info.architecture,
            "quantization": self.info.quantization,
            "parameters": int(llama_cpp.llama_model_n_params(self.model_ptr)),
            "size_bytes": _file_size(self.settings.path),
            "weights_bytes": int(llama_cpp.llama_model_size(self.model_ptr)),
            "n_layer": int(llama_cpp.llama_model_n_layer(self.model_ptr)),
            "n_head": int(llama_cpp.llama_model_n_head(self.model_ptr)),
            "n_ctx": self.n_ctx,
            "n_ctx_train": int(llama_cpp.llama_model_n_ctx_train(self.model_ptr)),
            "n_vocab": self.n_vocab,
            "n_threads": self.threads.n_threads,
            "n_threads_batch": self.threads.n_threads_batch,
            "threads_reason": self.threads.reason,
            # What runs on the GPU, not what was asked: "auto" (-1) is the most layers that fit
            # in free GPU memory (gpu_layers_auto), and nothing on a CPU-only build.
            "n_gpu_layers": self.gpu_layers,
            "n_gpu_layers_requested": self.settings.n_gpu_layers,
            "gpu_layers_auto": self.gpu_layers_auto,
            "fit": fit_fields(self.fit),
            "gpu_offload_supported": gpu_offload_supported(),
            "flash_attn": self.settings.flash_attn,
            "chat_template": "built-in ChatML fallback" if self.template.is_fallback
            else "from the model file",
            "chat_template_problem": self.template_problem,
            "system_info": system_info,
            **backend_and_devices(self.gpu_layers, system_info=system_info),
            # Workers (as normalised) and the split asked for; where the layers went.
            "rpc": [d["endpoint"] for d in self.workers if d["index"] == 0],
            "split": "auto" if self.settings.tensor_split is None
            else list(self.settings.tensor_split),
            "devices_used": self.placement,
        }

    @property
    def gpu_layers(self) -> int:
        """How many layers llama.cpp offloads (its count includes the output layer); "auto" as
        it was resolved before the load."""
        if not llama_cpp.llama_supports_gpu_offload():
            return 0
        n_layer = int(llama_cpp.llama_model_n_layer(self.model_ptr))
        requested = self._n_gpu_layers
        return n_layer + 1 if requested < 0 else min(requested, n_layer + 1)

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt (special tokens parsed; BOS added if the model wants it)."""
        data = text.encode("utf-8")
        n_max = len(data) + 16
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(
            self.vocab_ptr, data, len(data), buf, n_max, self.add_bos, True
        )
        if n < 0:  # buffer too small: -n is the size needed
            n_max = -n
            buf = (llama_cpp.llama_token * n_max)()
            n = llama_cpp.llama_tokenize(
                self.vocab_ptr, data, len(data), buf, n_max, self.add_bos, True
            )
        return list(buf[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (may be part of a UTF-8 character); cached per token id."""
        key = token if not special else -1 - token
        cached = self._pieces.get(key)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab_ptr, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab_ptr, token, buf, -n, 0, special)
        value = buf.raw[:n]
        self._pieces[key] = value
        return value

    def piece_text(self, token: int) -> str:
        """A token's text for display (partial UTF-8 shown as U+FFFD); cached per token id."""
        text = self._texts.get(token)
        if text is None:
            text = self._texts[token] = self.piece(token).decode("utf-8", "replace")
        return text

    def is_eog(self, token: int) -> bool:
        """True for end-of-generation tokens (EOS, EOT, <|im_end|> ...)."""
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab_ptr, token))

    def close(self) -> None:
        """Free the context and the model, and give the memory back to the system.

        With a worker gone, nothing is freed: freeing sends each worker a message, and
        llama.cpp aborts when one cannot be sent.  What the model holds (its memory here, its
        connections to the other workers, which serve one client at a time) stays until this
        process ends: EngineClient replaces such a process before its next load or unload.
        (`_exit_stack` is llama-cpp-python 0.3.36's own; the version is pinned.)
        """
        gone = [ep for ep in dict.fromkeys(d["endpoint"] for d in self.workers)
                if rpc.gone(ep)]
        if gone:
            self._ctx._exit_stack.pop_all()  # disarm llama-cpp-python's frees (and __del__'s)
            self._model._exit_stack.pop_all()
            sys.stderr.write(f"[chatapp] the model is left in memory unfreed: worker "
                             f"{', '.join(gone)} is gone, and freeing would make llama.cpp "
                             "abort\n")
            sys.stderr.flush()
            self.cached_tokens = []
            return
        self._ctx.close()
        self._model.close()
        self.cached_tokens = []
        gc.collect()
        release_free_heap()


# -- "auto" GPU layers -------------------------------------------------------------------------


def choose_gpu_layers(
    requested: int,
    info: GGUFInfo,
    n_ctx: int,
    devices: Sequence[dict[str, Any]],
    *,
    offload_supported: bool,
    path: str | None = None,
    n_batch: int = 512,
    flash_attn: bool = False,
) -> tuple[int, FitVerdict | None]:
    """The n_gpu_layers to give llama.cpp for `requested`, and the fit verdict behind it.

    A request of 0 or more is the user's and stands. A negative one ("auto") becomes the most
    layers whose estimated memory fits in the GPUs' free memory (chatapp.models.fit), and 0
    without a GPU, with a GPU whose free memory is unknown, or on a build without offload.
    When even all those layers leave too little RAM, it is still the most the GPU takes: that
    is the least RAM the model can need. `devices`: backend_and_devices()["devices"]. `path`:
    the model file, to find the other parts of a split model. The verdict is None when the
    header does not allow an estimate; "auto" then keeps llama.cpp's own "all layers" where
    offload works (the behaviour before estimates existed).
    """
    usable = list(devices) if offload_supported else [
        d for d in devices if d.get("type") not in _GPU_TYPES
    ]
    shape: ModelShape | None
    verdict: FitVerdict | None
    try:
        shape = ModelShape.from_info(info, _split_total(path, info.split_count))
        verdict = assess(shape, n_ctx, usable, n_batch=n_batch, flash_attn=flash_attn)
    except ValueError:  # FitError (the header lacks what it takes), or settings llama.cpp
        shape, verdict = None, None  # will refuse itself, in its own words
    if requested >= 0:
        return requested, verdict
    if not offload_supported:
        return 0, verdict
    if shape is None or verdict is None:
        return -1, verdict
    if verdict.kind == "too_big" and verdict.vram_free is not None:
        return best_gpu_layers(shape, n_ctx, verdict.vram_free, reserve_vram=verdict.reserve_vram,
                               n_batch=n_batch, flash_attn=flash_attn), verdict
    return verdict.gpu_layers, verdict


#: The names llama.cpp's gguf-split gives the parts of a model: NAME-00001-of-00003.gguf.
_SPLIT_NAME = re.compile(r"^(?P<stem>.*)-00001-of-(?P<n>\d{5})\.gguf$")


def _split_total(path: str | None, parts: int | None) -> int | None:
    """The size of all parts of a split model whose first part is `path` (None: not split, or
    a part is missing or not named the way gguf-split names them)."""
    if path is None or not parts or parts < 2:
        return None
    found = _SPLIT_NAME.match(os.path.basename(path))
    if found is None or int(found["n"]) != parts:
        return None
    folder, stem = os.path.dirname(path), found["stem"]
    total = 0
    for i in range(1, parts + 1):
        size = _file_size(os.path.join(folder, f"{stem}-{i:05d}-of-{parts:05d}.gguf"))
        if size is None:
            return None
        total += size
    return total


def fit_fields(verdict: FitVerdict | None) -> dict[str, Any] | None:
    """The fit verdict as the `loaded` event carries it (see describe())."""
    if verdict is None:
        return None
    return {
        "kind": verdict.kind,
        "gpu_layers": verdict.gpu_layers,
        "n_layer": verdict.n_layer,
        "need_host_bytes": verdict.need.host,
        "need_gpu_bytes": verdict.need.gpu,
        "ram_free": verdict.ram_free,
        "vram_free": verdict.vram_free,
        "summary": verdict.summary(),
    }


def _file_size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:  # the file went away after loading (it is mapped): not worth failing for
        return None


# -- backends and devices ---------------------------------------------------------------------

#: enum ggml_backend_dev_type (ggml-backend.h), in words for the model picker.
_DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "iGPU", 3: "accelerator", 4: "meta"}
_GPU_TYPES = frozenset({"GPU", "iGPU"})


class _DeviceApi:
    """ggml's device enumeration through ctypes (llama-cpp-python 0.3.36 does not bind it).

    The functions are exported by the ggml libraries that libllama links, so they are looked up
    through a handle of our own on libllama: setting argtypes on llama-cpp-python's function
    objects would change them under its feet.  Raises AttributeError (a function is missing) or
    OSError (the library cannot be opened) from the constructor; nothing is called before all
    functions are found.
    """

    def __init__(self, lib: Any = None) -> None:
        """Declare the prototypes on `lib` (default: a fresh handle on libllama)."""
        if lib is None:
            name = getattr(getattr(llama_cpp.llama_cpp, "_lib", None), "_name", None)
            if not isinstance(name, str):
                raise OSError("llama-cpp-python does not say where libllama is")
            lib = ctypes.CDLL(name)
        vp, text = ctypes.c_void_p, ctypes.c_char_p
        size_p = ctypes.POINTER(ctypes.c_size_t)
        self.count = self._fn(lib, "ggml_backend_dev_count", [], ctypes.c_size_t)
        self.get = self._fn(lib, "ggml_backend_dev_get", [ctypes.c_size_t], vp)
        self.name = self._fn(lib, "ggml_backend_dev_name", [vp], text)
        self.description = self._fn(lib, "ggml_backend_dev_description", [vp], text)
        self.memory = self._fn(lib, "ggml_backend_dev_memory", [vp, size_p, size_p], None)
        self.type = self._fn(lib, "ggml_backend_dev_type", [vp], ctypes.c_int)
        self.reg = self._fn(lib, "ggml_backend_dev_backend_reg", [vp], vp)
        self.reg_name = self._fn(lib, "ggml_backend_reg_name", [vp], text)

    @staticmethod
    def _fn(lib: Any, name: str, argtypes: list[Any], restype: Any) -> Any:
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = restype
        return fn

    def devices(self) -> list[dict[str, Any]]:
        """Every device registered with ggml, in its order (the order llama.cpp uses)."""
        found: list[dict[str, Any]] = []
        for i in range(int(self.count())):
            dev = self.get(i)
            if not dev:
                continue
            free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
            self.memory(dev, ctypes.byref(free), ctypes.byref(total))
            reg = self.reg(dev)
            kind = int(self.type(dev))
            found.append({
                "name": _text(self.name(dev)),
                "description": _text(self.description(dev)),
                "type": _DEVICE_TYPES.get(kind, f"type {kind}"),
                "backend": _text(self.reg_name(reg)) if reg else "",
                # A backend that cannot tell reports 0 bytes: unknown, not empty.
                "memory_total": int(total.value) or None,
                "memory_free": int(free.value) or None,
            })
        return found


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def backend_and_devices(
    n_gpu_layers: int, *, system_info: str = "", lib: Any = None
) -> dict[str, Any]:
    """Where the model runs: {"backend", "devices", "devices_note"} (see protocol.py).

    Never raises: when ggml's device list cannot be read, the CPU is described from what the
    operating system says, the backend is guessed from `system_info` (llama_print_system_info
    names each compiled-in backend), and `devices_note` says why.  `lib`: the library to look
    the device functions up in (default: libllama's).
    """
    note: str | None = None
    try:
        devices = _DeviceApi(lib).devices()
    except Exception as exc:  # a missing symbol or a changed ABI must not fail the load
        devices = []
        note = (f"llama.cpp's device list could not be read ({type(exc).__name__}: {exc}); "
                "the CPU is described from the operating system")
    if not devices:
        note = note or "llama.cpp reported no devices; the CPU is described from the system"
        devices = [_os_cpu_device()]
    available = _available_memory()
    for dev in devices:
        if dev["type"] == "CPU" and available is not None:
            # ggml's CPU device calls all of RAM free on Linux ("ill-defined", it says); what the
            # kernel can hand out without swapping is the figure a model picker needs.
            dev["memory_free"] = available
    built_with: list[str] = []
    if note is not None and gpu_offload_supported():
        # No device list: the backends llama.cpp was built with are the next best clue.
        built_with = _SYSTEM_INFO_BACKEND.findall(system_info)
    return {"backend": choose_backend(devices, n_gpu_layers, built_with), "devices": devices,
            "devices_note": note}


def choose_backend(
    devices: Sequence[dict[str, Any]], n_gpu_layers: int, built_with: Sequence[str] = ()
) -> str:
    """The backend that runs the model's layers: the first GPU's when layers are offloaded
    (llama.cpp offloads to the GPUs in device order), else "CPU", which also runs whatever is
    not offloaded.  `built_with`: backend names to fall back on when no GPU device is listed."""
    if n_gpu_layers == 0:
        return "CPU"
    gpu = next((d for d in devices if d.get("type") in _GPU_TYPES and d.get("backend")), None)
    if gpu is not None:
        return str(gpu["backend"])
    return next((name for name in built_with if name != "CPU"), "CPU")


#: "CUDA : ARCHS = 890 | ... | CPU : SSE3 = 1 | ..." -> CUDA, CPU
_SYSTEM_INFO_BACKEND = re.compile(r"(?:^|\|)\s*([A-Za-z][\w-]*) : ")


#: Backend registries that run on the CPU or elsewhere, not on a local GPU.
_NOT_GPU_BACKENDS = frozenset({"CPU", "RPC", "BLAS"})


def gpu_backends(lib: Any = None) -> list[str]:
    """The GPU backends this llama.cpp was built with ("CUDA", "Metal", "Vulkan"...).

    Read from ggml's backend registry: `llama_supports_gpu_offload()` alone also says yes
    for a build with RPC, which can offload to other machines but has no GPU of its own.
    """
    try:
        if lib is None:
            name = getattr(getattr(llama_cpp.llama_cpp, "_lib", None), "_name", None)
            if not isinstance(name, str):
                return []
            lib = ctypes.CDLL(name)
        count = _DeviceApi._fn(lib, "ggml_backend_reg_count", [], ctypes.c_size_t)
        get = _DeviceApi._fn(lib, "ggml_backend_reg_get", [ctypes.c_size_t], ctypes.c_void_p)
        reg_name = _DeviceApi._fn(lib, "ggml_backend_reg_name", [ctypes.c_void_p],
                                  ctypes.c_char_p)
        names = [_text(reg_name(get(i))) for i in range(int(count()))]
    except (AttributeError, OSError):  # a changed ABI: the device list still tells the truth
        return []
    return [n for n in names if n and n not in _NOT_GPU_BACKENDS]


def gpu_offload_supported() -> bool:
    """True when this llama.cpp can put layers on a GPU of this machine."""
    try:
        if not llama_cpp.llama_supports_gpu_offload():
            return False
    except Exception:  # a binding gone missing: assume the plain CPU build
        return False
    return bool(gpu_backends())


def _os_cpu_device() -> dict[str, Any]:
    """The CPU as the operating system describes it (when ggml cannot)."""
    description = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8",
                                             errors="replace") as f:
        for line in f:
            if line.startswith("model name"):  # Linux; elsewhere platform's answer stands
                description = line.split(":", 1)[1].strip()
                break
    total = None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"name": "CPU", "description": description, "type": "CPU", "backend": "CPU",
            "memory_total": total, "memory_free": None}


def _available_memory() -> int | None:
    """Bytes of RAM available to a new allocation (Linux's MemAvailable); None if unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB
    return None


def _progress_callback(on_progress: Callable[[float], None] | None) -> Any:
    """Wrap `on_progress` for llama.cpp: report every 5%, never raise into C.

    llama.cpp aborts the load when the callback returns False, which is also what ctypes
    returns when a Python callback raises; hence the blanket guard.
    """
    if on_progress is None:
        return None
    last = [-1.0]

    def report(progress: float, _user: Any) -> bool:
        try:
            if progress >= 1.0 or progress - last[0] >= 0.05:
                last[0] = progress
                on_progress(round(float(progress), 3))
        except Exception:  # a failed report must not fail the load
            pass
        return True

    return llama_cpp.llama_progress_callback(report)


def release_free_heap() -> None:
    """Ask glibc to return freed heap pages to the OS (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _explain(message: str) -> str:
    """Turn llama.cpp's load failure into a sentence, using the errors it logged."""
    detail = " / ".join(line for line in _log_tail if line)
    if detail:
        return f"{message}: {detail}"
    return message


#: Entries of the CPU section of llama_print_system_info() that are build options, not
#: instruction sets (llamafile's kernels, OpenMP threads, weight repacking, Arm's KleidiAI).
_CPU_BUILD_OPTIONS = frozenset({"LLAMAFILE", "OPENMP", "REPACK", "KLEIDIAI", "ACCELERATE"})


def cpu_features(system_info: str) -> list[str]:
    """The CPU instruction-set features llama.cpp's CPU backend was built to use ("AVX2",
    "FMA", "F16C", "NEON" ...), in the order llama_print_system_info() lists them.

    Reads the "CPU : SSE3 = 1 | AVX = 1 | ..." section (other backends' sections, such as
    "CUDA : ARCHS = 890 | ...", are skipped); a feature counts when its value is 1.  Counts
    such as "SVE_CNT = 16" and build options such as OPENMP are left out.
    """
    features: list[str] = []
    section = ""
    for part in system_info.split("|"):
        entry = part.strip()
        if " : " in entry:  # "CPU : SSE3 = 1": a backend's section starts with its first entry
            section, entry = (s.strip() for s in entry.split(" : ", 1))
        name, sep, value = entry.partition("=")
        name = name.strip()
        if (section == "CPU" and sep and value.strip() == "1" and name
                and name not in _CPU_BUILD_OPTIONS):
            features.append(name)
    return features
