"""The model process: `python -m chatapp.engine.worker`.

Reads commands from stdin and writes events to stdout (see chatapp.engine.protocol).  The main
thread reads commands, so `cancel`, `status` and `devices` are answered while a reply is
generating; one engine thread owns the model and runs load / generate / attention / unload in
order.  When stdin closes (the app is gone) the process exits.

CHATAPP_ENGINE_MEMORY_LIMIT=<bytes> caps the process's address space at start (RLIMIT_AS): a
way to keep a model process from taking the whole machine (a load that would pass the cap fails
with "load_memory" instead); see protocol.py.  Unset, nothing is capped.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import gc
import os
import queue
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from chatapp.engine import protocol


class Worker:
    """State and command handling of the model process.

    Attributes:
        state: "idle", "loading", "ready", "generating" or "capturing" (attention).
    """

    def __init__(self, out: BinaryIO) -> None:
        """`out` is the protocol channel (the original stdout)."""
        self._out = out
        # Events are encoded and written by their own thread, so that the JSON work of one
        # token overlaps the next token's llama_decode (which releases the GIL).
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="writer", daemon=True)
        self._jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        # One cancel flag per queued or running generation, so an early cancel is not lost.
        self._cancels: dict[str, threading.Event] = {}
        self._cancelled_at: dict[str, float] = {}  # when a cancel arrived (perf_counter)
        self.state = "idle"
        self._model: Any = None  # LoadedModel, owned by the engine thread
        self._model_info: dict[str, Any] | None = None
        # llama_print_system_info() fills a static buffer: read it once, before the engine
        # thread (whose describe() calls it too) can race the reading thread's `devices`.
        self._system_info: str | None = None
        self._engine = threading.Thread(target=self._engine_loop, name="engine", daemon=True)

    def emit(self, message: dict[str, Any]) -> None:
        """Send one event (thread-safe; events leave in the order they were emitted)."""
        self._outbox.put(message)

    def _write_loop(self) -> None:
        while (message := self._outbox.get()) is not None:
            self._out.write(protocol.encode(message))
            if self._outbox.empty():
                self._out.flush()
        self._out.flush()

    def serve(self, stdin: BinaryIO) -> None:
        """Run until `shutdown` or the end of stdin."""
        from chatapp.engine.versions import engine_versions

        self._system_info_text()
        self._writer.start()
        self._engine.start()
        self.emit({"type": "ready", "pid": os.getpid(), "versions": engine_versions()})
        for line in stdin:
            if not line.strip():
                continue
            try:
                cmd = protocol.decode(line, protocol.OPS, "op")
            except protocol.ProtocolError as exc:
                self.emit(protocol.error(None, "bad_request", str(exc)))
                continue
            if not self._dispatch(cmd):
                break
        self._cancel_all()
        self._jobs.put(None)
        self._engine.join(timeout=10)
        self._outbox.put(None)
        self._writer.join(timeout=10)

    def _dispatch(self, cmd: dict[str, Any]) -> bool:
        """Handle one command on the reading thread; False means stop serving."""
        op, req_id = cmd["op"], str(cmd.get("id", ""))
        if op == "shutdown":
            return False
        if op == "status":
            self.emit(self._status(req_id))
        elif op == "devices":  # cheap like status: never queued behind a reply
            self.emit(self._devices(req_id))
        elif op == "workers":  # not queued either; probes may wait on the network, so a
            # thread of its own keeps this one reading (a cancel must not wait for them)
            threading.Thread(target=lambda: self.emit(self._workers(req_id, cmd)),
                             name="workers", daemon=True).start()
        elif op == "cancel":
            for key, flag in list(self._cancels.items()):
                if cmd.get("id") in (None, key) and not flag.is_set():
                    self._cancelled_at[key] = time.perf_counter()
                    flag.set()
        elif op == "generate" and self._cancels:
            self.emit(protocol.error(req_id, "busy", "a reply is already being generated"))
        else:
            if op == "generate":
                self._cancels[req_id] = threading.Event()
            elif op != "attention":  # a capture waits for the reply; it does not stop it
                self._cancel_all()  # switching or unloading the model stops the reply
            self._jobs.put(cmd)
        return True

    def _cancel_all(self) -> None:
        for flag in list(self._cancels.values()):
            flag.set()

    def _status(self, req_id: str) -> dict[str, Any]:
        from chatapp.engine.versions import engine_versions

        return {
            "type": "status", "id": req_id, "state": self.state, "model": self._model_info,
            "pid": os.getpid(), "rss_bytes": rss_bytes(), "versions": engine_versions(),
        }

    def _system_info_text(self) -> str:
        if self._system_info is None:
            import llama_cpp

            raw = llama_cpp.llama_print_system_info()
            self._system_info = raw.decode("utf-8", "replace").strip()
        return self._system_info

    def _devices(self, req_id: str) -> dict[str, Any]:
        """The `devices` event (see protocol.py)."""
        try:
            from chatapp.engine.runtime import (
                backend_and_devices,
                cpu_features,
                gpu_offload_supported,
            )
            from chatapp.engine.versions import engine_versions

            system_info = self._system_info_text()
            return {
                "type": "devices", "id": req_id,
                **backend_and_devices(-1, system_info=system_info),
                "gpu_offload": gpu_offload_supported(),
                "cpu_features": cpu_features(system_info),
                "system_info": system_info, "engine": engine_versions(),
            }
        except Exception as exc:  # the reading thread must go on reading
            return protocol.error(req_id, "internal", f"{type(exc).__name__}: {exc}")

    def _workers(self, req_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """The `workers` event: each endpoint probed in plain Python (see rpc.probe_worker),
        never through llama.cpp, which aborts on a worker it cannot reach.  A worker the loaded
        model uses is serving this process and cannot answer a probe: it is reported from the
        load, with a check that it still accepts connections."""
        from chatapp.engine import rpc

        try:
            if not rpc.rpc_supported():
                raise rpc.RpcError(rpc.NO_RPC_MESSAGE)
            endpoints = cmd.get("endpoints")
            if isinstance(endpoints, str):
                endpoints = endpoints.split(",")
            if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
                return protocol.error(req_id, "bad_request",
                                      "endpoints must be a list of \"host:port\" strings")
            names = rpc.parse_endpoints(endpoints)
        except rpc.RpcError as exc:
            return protocol.error(req_id, "rpc", str(exc))
        model = self._model
        in_use: dict[str, list[dict[str, Any]]] = {}
        for dev in getattr(model, "workers", None) or []:
            in_use.setdefault(dev["endpoint"], []).append(dev)
        found = []
        for name in names:
            if name in in_use:
                alive = not rpc.gone(name)
                found.append({
                    "endpoint": name, "ok": alive, "in_use": True, "protocol": None,
                    "error": None if alive else f"The worker at {name} no longer accepts "
                    "connections; the model loaded with it will fail at its next reply.",
                    "devices": [{"index": d["index"], "name": d["name"],
                                 "description": d["description"],
                                 "memory_free": d["memory_free"],
                                 "memory_total": d["memory_total"]} for d in in_use[name]],
                })
            else:
                found.extend(w | {"in_use": False} for w in rpc.probe_workers([name]))
        return {"type": "workers", "id": req_id, "workers": found}

    def _engine_loop(self) -> None:
        try:
            self._run_jobs()
        except BaseException:
            # Nothing may leave the app waiting on a dead thread: die loudly instead, and the
            # app reports the crash with this traceback's last line.
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(70)  # exit now: other threads may hold locks

    def _run_jobs(self) -> None:
        from chatapp.engine.runtime import install_log_handler

        install_log_handler()
        while (cmd := self._jobs.get()) is not None:
            req_id = str(cmd.get("id", ""))
            try:
                final = getattr(self, f"_do_{cmd['op']}")(req_id, cmd)
            except Exception as exc:  # report, never die silently
                final = protocol.error(req_id, "internal", f"{type(exc).__name__}: {exc}")
            # The final event goes out only once the worker is ready for the next command:
            # a caller that acts on `done` at once must not be told "busy".
            self.state = "ready" if self._model is not None else "idle"
            self._cancels.pop(req_id, None)
            self._cancelled_at.pop(req_id, None)
            self.emit(final)
        self._unload()

    def _do_load(self, req_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        from chatapp.engine.gguf_preflight import GGUFPreflightError
        from chatapp.engine.hashing import sha256_file
        from chatapp.engine.rpc import RpcError, SplitError
        from chatapp.engine.runtime import LoadedModel, LoadError, LoadSettings
        from chatapp.paths import cache_dir

        self._unload()
        self.state = "loading"
        t0 = time.perf_counter()
        try:
            settings = LoadSettings(
                path=str(cmd["path"]), n_ctx=int(cmd.get("n_ctx", 4096)),
                n_threads=_opt_int(cmd.get("n_threads")),
                n_threads_batch=_opt_int(cmd.get("n_threads_batch")),
                n_gpu_layers=int(cmd.get("n_gpu_layers", 0)),
                flash_attn=bool(cmd.get("flash_attn", False)),
                **_rpc_settings(cmd),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return protocol.error(req_id, "bad_request", f"bad load settings: {exc}")
        with ThreadPoolExecutor(1) as pool:
            # Hash while llama.cpp loads: both mostly wait on the disk, and a cached hash is free.
            digest = pool.submit(sha256_file, settings.path, cache_dir() / "sha256.json")
            try:
                model = LoadedModel(settings, lambda p: self.emit(
                    {"type": "progress", "id": req_id, "progress": p}
                ))
            except GGUFPreflightError as exc:
                return protocol.error(req_id, "preflight", f"not a usable model file: {exc}")
            except RpcError as exc:
                return protocol.error(req_id, "rpc", str(exc))
            except SplitError as exc:
                return protocol.error(req_id, "bad_request", str(exc))
            except LoadError as exc:
                return _load_failure(req_id, settings, str(exc), exc.gpu_layers)
            except MemoryError:
                return _load_failure(req_id, settings, "out of memory (MemoryError)")
            except Exception as exc:
                return protocol.error(req_id, "load", f"{type(exc).__name__}: {exc}")
            try:
                sha256 = digest.result()
            except OSError as exc:
                sha256 = f"unavailable ({exc})"
        self._model = model
        self._model_info = model.describe() | {"sha256": sha256}
        return {
            "type": "loaded", "id": req_id, "model": self._model_info, "sha256": sha256,
            "load_ms": round((time.perf_counter() - t0) * 1000, 1),
        }

    def _do_generate(self, req_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        from chatapp.core.sampling import SamplingSettings
        from chatapp.engine.chat_template import TemplateError
        from chatapp.engine.generator import GenerateRequest, GenerationError, Generator

        if self._model is None:
            return protocol.error(req_id, "not_loaded", "no model is loaded")
        try:
            messages = cmd["messages"]
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise ValueError("messages must be a list of {role, content} objects")
            req = GenerateRequest(
                messages=messages,
                sampling=SamplingSettings.from_dict(dict(cmd.get("sampling") or {})),
                records=bool(cmd.get("records", True)),
                top_n=max(1, min(int(cmd.get("top_n", 20)), 1000)),
                continue_reply=cmd.get("continue_reply", False),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return protocol.error(req_id, "bad_request", str(exc))
        self.state = "generating"
        cancel = self._cancels.get(req_id) or threading.Event()
        try:
            generator = Generator(self._model)
            summary = generator.run(req_id, req, cancel, self.emit)
            cancelled_at = self._cancelled_at.get(req_id)
            if summary["finish_reason"] == "cancelled" and cancelled_at is not None:
                # How long the reply ran on after the cancel arrived: at most one token.
                summary["cancel_latency_ms"] = round(
                    (time.perf_counter() - cancelled_at) * 1000, 2)
            # The reply's records, encoded here once it is over, so that the app stores them
            # as they are (records_blob, see protocol.py).
            summary.update(generator.records_fields(summary))
        except TemplateError as exc:
            return protocol.error(req_id, "template", f"chat template: {exc}")
        except GenerationError as exc:
            return protocol.error(req_id, "generation", str(exc))
        from chatapp.engine.versions import engine_versions

        return {
            "type": "done", "id": req_id, **summary,
            "model_sha256": (self._model_info or {}).get("sha256"),
            "model_path": self._model.settings.path,
            "n_ctx": self._model.n_ctx, "n_threads": self._model.threads.n_threads,
            "n_threads_batch": self._model.threads.n_threads_batch,
            "n_gpu_layers": self._model.gpu_layers,
            "versions": engine_versions(),
        }

    def _do_attention(self, req_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        from chatapp.engine import attention as att
        from chatapp.engine.chat_template import TemplateError
        from chatapp.paths import cache_dir

        model = self._model
        if model is None:
            return protocol.error(req_id, "not_loaded", "no model is loaded")
        try:
            tokens = _attention_tokens(model, cmd)
            tokens, cut = att.keep_tail(
                tokens, _positive_int(cmd, "max_tokens", att.DEFAULT_MAX_TOKENS))
            max_bytes = _positive_int(cmd, "max_bytes", att.DEFAULT_MAX_BYTES)
            layers, heads = cmd.get("layers"), cmd.get("heads")
            for key, value in (("layers", layers), ("heads", heads)):
                if value is not None and not isinstance(value, list):
                    raise ValueError(f"{key} must be a list of indices or null")
        except TemplateError as exc:
            return protocol.error(req_id, "template", f"chat template: {exc}")
        except (KeyError, TypeError, ValueError) as exc:  # AttentionRequestError included
            return protocol.error(req_id, "bad_request", str(exc))
        self.state = "capturing"
        try:
            capture = att.capture_attention(model, tokens, layers=layers, heads=heads,
                                            max_bytes=max_bytes)
        except att.AttentionRequestError as exc:
            return protocol.error(req_id, "bad_request", str(exc))
        except att.AttentionError as exc:
            return protocol.error(req_id, "generation", f"attention capture failed: {exc}")
        folder = cache_dir() / "attention"
        try:
            path = att.save_npz(capture, folder / att.cache_file_name(req_id))
            att.prune_cache(folder)
        except OSError as exc:
            return protocol.error(req_id, "generation",
                                  f"the attention weights could not be saved: {exc}")
        left_out = "; ".join(note for note in (cut, capture.left_out) if note) or None
        ids = capture.tokens.tolist()
        return {
            "type": "attention", "id": req_id, "path": str(path), "tokens": ids,
            "pieces": [model.piece(t, special=True).decode("utf-8", "replace") for t in ids],
            "n_layer": capture.n_layer, "n_head": capture.n_head,
            "layers": capture.layers, "heads": capture.heads, "shape": list(capture.shape),
            "left_out": left_out, "capture_ms": capture.capture_ms,
        }

    def _do_unload(self, req_id: str, _cmd: dict[str, Any]) -> dict[str, Any]:
        self._unload()
        return {"type": "unloaded", "id": req_id, "rss_bytes": rss_bytes()}

    def _unload(self) -> None:
        if self._model is not None:
            model, self._model, self._model_info = self._model, None, None
            model.close()
        self.state = "idle"


def _load_failure(req_id: str, settings: Any, message: str,
                  resolved_gpu_layers: int | None = None) -> dict[str, Any]:
    """The error event for a load llama.cpp refused: "load_memory" with retry options when it
    ran out of memory, else "load".  Frees what the failed attempt left behind first, so that
    a retry in this process has all the memory there is."""
    from chatapp.engine import memory_retry, runtime

    # llama.cpp's own error lines from this load (runtime keeps them to explain failures).
    lines = list(runtime._log_tail)
    gc.collect()
    runtime.release_free_heap()
    if not memory_retry.is_memory_error(message, lines):
        return protocol.error(req_id, "load", f"llama.cpp could not load it: {message}")
    n_ctx, gpu_layers = _asked_of_llama(settings)
    if resolved_gpu_layers is not None:  # what the load really gave the GPU ("auto" resolved)
        gpu_layers = resolved_gpu_layers
    event = protocol.error(req_id, "load_memory", memory_retry.memory_message(
        message, lines, n_ctx=n_ctx, gpu_layers=gpu_layers))
    weights = memory_retry.allocation_target(message, lines) == memory_retry.WEIGHTS
    event["retry"] = memory_retry.retry_options(
        dataclasses.replace(settings, n_ctx=n_ctx), gpu_layers, weights=weights)
    if getattr(settings, "rpc", ()):
        # With workers every layer goes to them whatever n_gpu_layers says: only the other
        # options can help (a split that favours the workers with memory is the user's call).
        event["retry"] = [o for o in event["retry"] if "n_gpu_layers" not in o]
    return event


def _asked_of_llama(settings: Any) -> tuple[int, int]:
    """The context size and GPU layers a failed load asked for (0 context = the model's
    trained length capped at 32768, as LoadedModel resolves it).  When the load did not say
    how many layers it gave the GPU, a negative count ("auto") counts as every layer and the
    output layer: the most it can have been, so that the retry offers half of that and the
    CPU.  The header is read again: the failed load kept
    nothing."""

    from chatapp.engine.gguf_preflight import GGUFPreflightError, inspect_gguf
    from chatapp.engine.memory_retry import resolve_gpu_layers
    from chatapp.engine.runtime import gpu_offload_supported

    try:
        info = inspect_gguf(settings.path)
        context_length, n_layer = info.context_length, info.block_count
    except (GGUFPreflightError, OSError):
        context_length = n_layer = None
    n_ctx = settings.n_ctx or min(context_length or 4096, 32768)
    offload = gpu_offload_supported()
    return n_ctx, resolve_gpu_layers(settings.n_gpu_layers, n_layer, offload)


def _rpc_settings(cmd: dict[str, Any]) -> dict[str, Any]:
    """The `rpc` and `split` fields of a load as LoadSettings fields; ValueError when malformed.

    `split` is "auto" (or absent) or a list of proportions, one per device of the load's device
    list (the workers' devices in the order given, then this machine's GPUs); it needs `rpc`.
    """
    endpoints = cmd.get("rpc") or []
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        raise ValueError("rpc must be a list of \"host:port\" strings")
    split = cmd.get("split", "auto")
    if split is None or split == "auto":
        proportions = None
    elif isinstance(split, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in split):
        proportions = tuple(float(v) for v in split)
    else:
        raise ValueError('split must be "auto" or a list of numbers, one per device')
    if proportions is not None and not endpoints:
        raise ValueError("a split needs workers (rpc): without them llama.cpp's device list is "
                         "this machine's GPUs, which n_gpu_layers covers")
    return {"rpc": tuple(endpoints), "tensor_split": proportions}


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _positive_int(cmd: dict[str, Any], key: str, default: int) -> int:
    value = cmd.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a positive integer, not {value!r}")
    return value


def _int_list(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{key} must be a list of token ids")
    return list(value)


def _attention_tokens(model: Any, cmd: dict[str, Any]) -> list[int]:
    """The tokens an `attention` command asks about: the chat template's rendering of
    `messages` (with the generation prompt) followed by `reply_tokens`, or `tokens` as they are,
    or `text` tokenized without a template.  Raises ValueError (a bad request) or
    TemplateError."""
    given = [key for key in ("messages", "tokens", "text") if cmd.get(key) is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of messages, tokens or text")
    if cmd.get("reply_tokens") is not None and given != ["messages"]:
        raise ValueError("reply_tokens go with messages")
    if given == ["tokens"]:
        return _int_list(cmd["tokens"], "tokens")
    if given == ["text"]:
        if not isinstance(cmd["text"], str) or not cmd["text"]:
            raise ValueError("text must be a non-empty string")
        return list(model.tokenize(cmd["text"]))
    messages = cmd["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages) \
            or not messages:
        raise ValueError("messages must be a non-empty list of {role, content} objects")
    reply = _int_list(cmd.get("reply_tokens") or [], "reply_tokens")
    return list(model.tokenize(model.template.render(messages))) + reply


def rss_bytes() -> int:
    """Resident memory of this process (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def apply_memory_limit(value: str | None) -> str | None:
    """Cap this process's address space at `value` bytes (CHATAPP_ENGINE_MEMORY_LIMIT).

    Returns why nothing was capped (None when capped, or when `value` is unset or empty): a
    value that is not a positive whole number, a platform without RLIMIT_AS, or a cap the
    system refused.  The cap never exceeds the hard limit already in force.
    """
    if not value or not value.strip():
        return None
    try:
        limit = int(value.strip())
    except ValueError:
        limit = 0
    if limit <= 0:
        return f"CHATAPP_ENGINE_MEMORY_LIMIT={value!r} is not a positive number of bytes"
    try:
        import resource
    except ImportError:  # Windows
        return "CHATAPP_ENGINE_MEMORY_LIMIT is ignored: this platform has no RLIMIT_AS"
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (AttributeError, OSError, ValueError) as exc:  # no RLIMIT_AS (macOS lacks it)
        return f"CHATAPP_ENGINE_MEMORY_LIMIT could not be applied: {exc}"
    return None


def main() -> None:
    """Entry point of the model process."""
    # First, before the engine maps anything: the cap is meant to cover all of it.
    refused = apply_memory_limit(os.environ.get("CHATAPP_ENGINE_MEMORY_LIMIT"))
    if refused:
        print(f"[chatapp] {refused}", file=sys.stderr, flush=True)
    # The app owns cancellation; Ctrl+C in a terminal reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the protocol channel for ourselves: anything C code prints to stdout goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    faulthandler.enable(sys.stderr)  # a segfault leaves a Python stack in the app's log
    # Import the whole engine now: a broken installation fails before `ready`, with its reason.
    import chatapp.engine.attention
    import chatapp.engine.generator
    import chatapp.engine.runtime  # noqa: F401

    Worker(out).serve(sys.stdin.buffer)
    out.close()


if __name__ == "__main__":
    main()
