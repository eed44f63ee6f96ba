"""A loaded model and its context, over llama-cpp-python's low-level API.

Runs only inside the model process.  One thread owns a LoadedModel: llama.cpp contexts are not
thread-safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llama_cpp
from llama_cpp import _internals as internals

from chatapp.engine.chat_template import ChatTemplate, TemplateError
from chatapp.engine.gguf_preflight import GGUFInfo, inspect_gguf
from chatapp.engine.threads import ThreadChoice, choose_threads


@dataclass(frozen=True)
class LoadSettings:
    """How to load a model.

    Attributes:
        path: the GGUF file.
        n_ctx: context window in tokens (0 = the model's trained length, capped at 32768).
        n_threads / n_threads_batch: None = chosen with headroom (chatapp.engine.threads).
        n_gpu_layers: layers offloaded to the GPU (-1 = all, 0 = CPU only).
        flash_attn: flash attention (must be off to observe attention weights).
        n_batch: prompt tokens decoded per llama_decode call.
    """

    path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    n_threads_batch: int | None = None
    n_gpu_layers: int = 0
    flash_attn: bool = False
    n_batch: int = 512


class LoadError(Exception):
    """A model could not be loaded; str() says why in words a user understands."""


_log_tail: list[str] = []
# ggml_log_level (ggml.h): 1 DEBUG, 2 INFO, 3 WARN, 4 ERROR, 5 continues the previous line.
_WARN, _ERROR, _CONT = 3, 4, 5
_last_level = [0]


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _log_to_stderr(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # Warnings and errors go to stderr (the client keeps its tail to explain crashes); errors
    # are also kept to explain a failed load.  INFO/DEBUG chatter is dropped unless asked for.
    if level == _CONT:
        level = _last_level[0]
    _last_level[0] = level
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
        LoadError."""
        self.settings = settings
        self.info: GGUFInfo = inspect_gguf(settings.path)
        self.threads: ThreadChoice = choose_threads(settings.n_threads, settings.n_threads_batch)
        n_ctx = settings.n_ctx or min(self.info.context_length or 4096, 32768)

        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = settings.n_gpu_layers
        progress = _progress_callback(on_progress)
        if progress is not None:
            mparams.progress_callback = progress
        _log_tail.clear()
        try:
            model: Any = internals.LlamaModel(
                path_model=settings.path, params=mparams, verbose=True
            )
        except ValueError as exc:
            raise LoadError(_explain(str(exc))) from None

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
            raise LoadError(_explain(str(exc))) from None

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

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.piece(token, special=True).decode("utf-8", "replace")

    def describe(self) -> dict[str, Any]:
        """What the status display shows about the loaded model."""
        desc = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self.model_ptr, desc, 256)
        return {
            "path": self.settings.path,
            "description": desc.value.decode("utf-8", "replace"),
            "architecture": self.info.architecture,
            "quantization": self.info.quantization,
            "parameters": int(llama_cpp.llama_model_n_params(self.model_ptr)),
            "size_bytes": int(llama_cpp.llama_model_size(self.model_ptr)),
            "n_layer": int(llama_cpp.llama_model_n_layer(self.model_ptr)),
            "n_head": int(llama_cpp.llama_model_n_head(self.model_ptr)),
            "n_ctx": self.n_ctx,
            "n_ctx_train": int(llama_cpp.llama_model_n_ctx_train(self.model_ptr)),
            "n_vocab": self.n_vocab,
            "n_threads": self.threads.n_threads,
            "n_threads_batch": self.threads.n_threads_batch,
            "threads_reason": self.threads.reason,
            "n_gpu_layers": self.settings.n_gpu_layers,
            "gpu_offload_supported": bool(llama_cpp.llama_supports_gpu_offload()),
            "flash_attn": self.settings.flash_attn,
            "chat_template": "built-in ChatML fallback" if self.template.is_fallback
            else "from the model file",
            "chat_template_problem": self.template_problem,
            "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
        }

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
        """Free the context and the model, and give the memory back to the system."""
        self._ctx.close()
        self._model.close()
        self.cached_tokens = []
        gc.collect()
        release_free_heap()


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
