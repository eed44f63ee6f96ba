"""The app side of the model process: start it, talk to it, watch it, restart it.

No Qt here: the CLI and tests use the blocking methods; the GUI's service passes `on_event` and
turns events into signals.  Whatever happens to the model process (llama.cpp `abort()`, a
segfault, the OOM killer, `kill -9`), the caller gets an error event with code "crashed" naming
the cause, and a fresh process is started for the next command.
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

import chatapp
from chatapp.core.sampling import SamplingSettings
from chatapp.engine import protocol
from chatapp.launch import module_command

#: Read buffer of the events pipe (a token event with records is about 4.5 KB).
EVENT_BUFFER = 64 * 1024

EventCallback = Callable[[dict[str, Any]], None]


class EngineError(Exception):
    """The model process answered with an error, or died.

    Attributes:
        code: the protocol's error code ("preflight", "load", "load_memory", "crashed", ...).
        message: one line for the user.
        retry: with "load_memory", the settings to try next, most useful first: dicts of
            `EngineClient.load` keyword arguments with a "label" (see protocol.py); else [].
    """

    def __init__(
        self, code: str, message: str, retry: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Keep the code apart from the message."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry: list[dict[str, Any]] = [dict(option) for option in retry or ()]


class EngineClient:
    """Owns one model process at a time.

    Attributes:
        versions: versions reported by the running model process (chatapp, llama.cpp ...).
        restarts: how many times a dead model process was replaced.
        last_crash: the message of the last crash, if any.
    """

    def __init__(
        self,
        *,
        on_event: EventCallback | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        restart: bool = True,
    ) -> None:
        """`on_event` sees every event (from the reader thread); `log_path` gets its stderr."""
        self._on_event = on_event
        self._log_path = log_path
        self._env = env
        self._restart = restart
        self._send_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._pending: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._closing = False
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self.versions: dict[str, str] = {}
        self.restarts = 0
        self.last_crash: str | None = None
        # The workers of the last load sent: a crash of the process that uses them is
        # explained by the ones that stopped answering.
        self._workers_in_use: tuple[str, ...] = ()

    # -- process lifetime ---------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the model process (if not running) and wait until it is ready.

        Safe to call from two threads at once (the GUI starts it in the background while a
        command may arrive): the second caller waits for the first one's process.
        """
        with self._start_lock:
            if self.alive and self._ready.is_set():
                return
            if not self.alive:
                self._closing = False
                self._spawn()
            self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        proc = self._proc
        while not self._ready.wait(0.05):
            if proc is None or proc.poll() is not None:
                code = proc.wait() if proc is not None else -1
                time.sleep(0.1)  # let the stderr reader catch the last words
                raise EngineError("crashed", "the model process could not start: "
                                  + describe_exit(code, list(self._stderr_tail)))
            if time.monotonic() > deadline:
                raise EngineError(
                    "timeout", f"the model process did not start within {timeout:.0f} s"
                )

    @property
    def alive(self) -> bool:
        """True while a model process is running."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The model process's pid (None when not running)."""
        return self._proc.pid if self.alive and self._proc else None

    def _spawn(self) -> None:
        env = dict(os.environ if self._env is None else self._env)
        # llama.cpp's OpenMP threads spin while waiting; with a busy GUI core that collapses
        # throughput (engine.md).  Passive waiting keeps the machine responsive.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # On an abort llama.cpp runs gdb for a backtrace (seconds, and nobody reads it): the
        # crash message comes from its last log lines instead.
        env.setdefault("GGML_NO_BACKTRACE", "1")
        package_root = str(Path(chatapp.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        self._ready.clear()
        self._stderr_tail.clear()
        proc = subprocess.Popen(
            module_command("chatapp.engine.worker"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, bufsize=0,
        )
        self._proc = proc
        err_thread = threading.Thread(
            target=self._read_stderr, args=(proc,), name="engine-stderr", daemon=True
        )
        err_thread.start()
        threading.Thread(
            target=self._read_events, args=(proc, err_thread), name="engine-events", daemon=True
        ).start()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the model process (politely, then by force)."""
        self._closing = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            self._write(proc, {"op": "shutdown", "id": "shutdown"})
            proc.stdin.close() if proc.stdin else None
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    close = shutdown

    def __enter__(self) -> EngineClient:
        """Start on entering a `with` block."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Shut down on leaving it."""
        self.shutdown()

    # -- reading --------------------------------------------------------------------------------

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        log: IO[str] | None = None
        if self._log_path is not None:
            try:
                self._log_path.parent.mkdir(parents=True, exist_ok=True)
                log = open(self._log_path, "a", encoding="utf-8")  # noqa: SIM115
            except OSError:
                log = None
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self._stderr_tail.append(line)
                if log is not None:
                    log.write(line + "\n")
                    log.flush()
        finally:
            if log is not None:
                log.close()

    def _read_events(self, proc: subprocess.Popen[bytes], err_thread: threading.Thread) -> None:
        assert proc.stdout is not None
        # Read through a buffer: `for line in` an unbuffered pipe reads one byte per system
        # call, about 2 ms per token event with records (4.5 KB) and over a second for the
        # records blob in a long reply's `done`.  It adds no delay: a read returns what the
        # pipe holds, and a line comes out as soon as its newline is in.
        events = io.BufferedReader(cast(io.RawIOBase, proc.stdout), EVENT_BUFFER)
        for line in events:
            try:
                event = protocol.decode(line, protocol.EVENTS, "type")
            except protocol.ProtocolError as exc:
                self._stderr_tail.append(f"[chatapp] bad line from the model process: {exc}")
                continue
            if event["type"] == "ready":
                self.versions = dict(event.get("versions") or {})
                self._ready.set()
            self._route(event)
        # End of the channel: the process has exited (or is about to).
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        err_thread.join(timeout=2)
        if self._closing or proc is not self._proc:
            return
        was_ready = self._ready.is_set()
        tail = list(self._stderr_tail)
        workers, self._workers_in_use = self._workers_in_use, ()
        gone = None
        if workers and rpc_failure(tail):
            from chatapp.engine import rpc

            gone = [ep for ep in workers if rpc.gone(ep)]
        message = describe_exit(code, tail, workers=workers, workers_gone=gone)
        self.last_crash = message
        for req_id in list(self._pending):
            self._route(protocol.error(req_id, "crashed", message))
        if not self._pending:
            self._route(protocol.error(None, "crashed", message))
        # A process that never became ready would fail again: no restart loop; start() says why.
        if self._restart and was_ready:
            self.restarts += 1
            self._spawn()

    def _route(self, event: dict[str, Any]) -> None:
        req_id = event.get("id")
        if event.get("type") == "error" and event.get("code") in ("load", "load_memory",
                                                                  "preflight", "rpc"):
            self._workers_in_use = ()  # a failed load leaves no model on any worker
        target = self._pending.get(req_id) if isinstance(req_id, str) else None
        if target is not None:
            target.put(event)
        if self._on_event is not None:
            self._on_event(event)

    # -- commands -------------------------------------------------------------------------------

    def _write(self, proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        with self._send_lock:
            proc.stdin.write(protocol.encode(message))
            proc.stdin.flush()

    def send(self, op: str, **fields: Any) -> str:
        """Send a command without waiting; returns its id (its events reach `on_event`)."""
        if op == "load":
            # As `load` does: a model on a lost worker cannot be freed, and a crash during
            # this load must be explained with the workers it used.
            self._let_go_of_lost_workers()
            self._workers_in_use = tuple(str(e) for e in fields.get("rpc") or ())
        if not self.alive:
            self.start()
        req_id = f"r{next(self._ids)}"
        self._send_as(req_id, op, **fields)
        return req_id

    def _call(self, op: str, expect: str, timeout: float | None, **fields: Any) -> dict[str, Any]:
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        req_id = self._register(box)
        try:
            self._send_as(req_id, op, **fields)
            event = self._next(box, timeout, op)
            while event["type"] == "progress":
                event = self._next(box, timeout, op)
            if event["type"] == "error":
                raise _error_of(event)
            if event["type"] != expect:
                raise EngineError("internal", f"unexpected answer to {op}: {event['type']}")
            return event
        finally:
            self._pending.pop(req_id, None)

    def _register(self, box: queue.Queue[dict[str, Any]]) -> str:
        if not self.alive:
            self.start()
        req_id = f"r{next(self._ids)}"
        self._pending[req_id] = box
        return req_id

    def _send_as(self, req_id: str, op: str, **fields: Any) -> None:
        assert self._proc is not None
        # If the process is gone, the reader sees its end and posts a "crashed" event.
        with contextlib.suppress(OSError):
            self._write(self._proc, {"op": op, "id": req_id, **fields})

    @staticmethod
    def _next(box: queue.Queue[dict[str, Any]], timeout: float | None, op: str) -> dict[str, Any]:
        try:
            return box.get(timeout=timeout)
        except queue.Empty:
            raise EngineError("timeout", f"no answer to {op} within {timeout:.0f} s") from None

    def load(
        self,
        path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        n_gpu_layers: int = 0,
        flash_attn: bool = False,
        timeout: float | None = 600.0,
        label: str | None = None,
        rpc: Sequence[str] | None = None,
        split: str | Sequence[float] = "auto",
    ) -> dict[str, Any]:
        """Load a model (replacing any loaded one); returns the `loaded` event.

        `progress` events reach `on_event` on the way.  Raises EngineError; out of memory, its
        code is "load_memory" and its `retry` options can be passed back as they are:
        ``client.load(path, **{**settings, **error.retry[0]})``.  `label`: a retry option's
        label, accepted for that and not sent.

        `rpc`: workers ("host:port") to split the model over; `split`: "auto" (by free memory)
        or one proportion per device of the load: the workers' devices in this order, then
        this machine's GPUs (see protocol.py, "Workers").  The `loaded` event's
        model["devices_used"] says which layers went where.  A worker that cannot be used
        raises EngineError with code "rpc".
        """
        del label  # names a retry option for people; the model process needs only the values
        self._let_go_of_lost_workers()
        fields: dict[str, Any] = {}
        if rpc:
            fields["rpc"] = [str(e) for e in rpc]
            fields["split"] = split if isinstance(split, str) else [float(v) for v in split]
        elif not isinstance(split, str) or split != "auto":
            fields["split"] = split if isinstance(split, str) else [float(v) for v in split]
        # Set before the answer: a worker that dies during the load crashes the process too.
        self._workers_in_use = tuple(fields.get("rpc", ()))
        try:
            return self._call(
                "load", "loaded", timeout, path=os.fspath(path), n_ctx=n_ctx,
                n_threads=n_threads, n_threads_batch=n_threads_batch, n_gpu_layers=n_gpu_layers,
                flash_attn=flash_attn, **fields,
            )
        except EngineError:
            self._workers_in_use = ()  # a failed load leaves no model loaded
            raise

    def workers(self, endpoints: Sequence[str], timeout: float | None = 60.0) -> dict[str, Any]:
        """Probe workers without loading anything: the `workers` event, each endpoint with
        "ok", "error" (in words), "in_use" and its devices' free and total memory.  Answered
        also while a reply is generating.  Raises EngineError ("rpc": no RPC in this build, or
        a malformed endpoint)."""
        return self._call("workers", "workers", timeout, endpoints=[str(e) for e in endpoints])

    def unload(self, timeout: float | None = 60.0) -> dict[str, Any]:
        """Free the model; returns the `unloaded` event."""
        if self._let_go_of_lost_workers():
            return {"type": "unloaded", "id": None, "rss_bytes": 0}
        self._workers_in_use = ()
        return self._call("unload", "unloaded", timeout)

    def _let_go_of_lost_workers(self) -> bool:
        """Replace the model process when its model uses a worker that is gone; True if so.

        Such a model cannot be freed: llama.cpp aborts when it cannot tell a worker to free its
        part.  The model process would keep it (see LoadedModel.close), and with it its
        connections to the other workers, which serve one client at a time: a fresh process
        is the way to let go of them.  Not a crash: `restarts` does not count it.
        """
        workers = self._workers_in_use
        if not workers or not self.alive:
            return False
        from chatapp.engine import rpc

        if not any(rpc.gone(ep) for ep in workers):
            return False
        self._workers_in_use = ()
        self.shutdown()
        self.start()
        return True

    def status(self, timeout: float | None = 10.0) -> dict[str, Any]:
        """The model process's state, model, threads, memory and versions."""
        return self._call("status", "status", timeout)

    def devices(self, timeout: float | None = 30.0) -> dict[str, Any]:
        """What this llama.cpp build can run models on: the `devices` event (backend, devices
        with their memory, GPU offload support, CPU features, system info, engine versions).
        Answered at once, also while a model is loaded or a reply is generating."""
        return self._call("devices", "devices", timeout)

    def attention(
        self,
        *,
        messages: Sequence[dict[str, Any]] | None = None,
        reply_tokens: Sequence[int] | None = None,
        tokens: Sequence[int] | None = None,
        text: str | None = None,
        layers: Sequence[int] | None = None,
        heads: Sequence[int] | None = None,
        max_tokens: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = 600.0,
    ) -> dict[str, Any]:
        """Capture attention weights (see protocol.py); returns the `attention` event, whose
        `path` names the NPZ file with them.  Give one of `messages` (with `reply_tokens`),
        `tokens` or `text`.  Raises EngineError ("bad_request" for a layer or head that does not
        exist)."""
        fields: dict[str, Any] = {
            "layers": None if layers is None else [int(v) for v in layers],
            "heads": None if heads is None else [int(v) for v in heads],
        }
        if messages is not None:
            fields["messages"] = list(messages)
        if reply_tokens is not None:
            fields["reply_tokens"] = [int(t) for t in reply_tokens]
        if tokens is not None:
            fields["tokens"] = [int(t) for t in tokens]
        if text is not None:
            fields["text"] = text
        if max_tokens is not None:
            fields["max_tokens"] = max_tokens
        if max_bytes is not None:
            fields["max_bytes"] = max_bytes
        return self._call("attention", "attention", timeout, **fields)

    def cancel(self, req_id: str | None = None) -> None:
        """Stop the running generation (or the one with this id) within one token."""
        if self.alive and self._proc is not None:
            msg: dict[str, Any] = {"op": "cancel"} | ({"id": req_id} if req_id else {})
            with contextlib.suppress(OSError):
                self._write(self._proc, msg)

    def generate(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingSettings | None = None,
        *,
        records: bool = True,
        top_n: int = 20,
        timeout: float | None = None,
        continue_reply: bool = False,
        context_event: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Stream a reply: token events, then the `done` event.  Raises EngineError.

        `continue_reply`: the last message is a reply to make longer (see protocol.py).
        `context_event`: also yield the `context` event (what fitted into the context) before
        the first token; it is left out by default, so that callers counting on "tokens, then
        done" keep working.  `on_event` sees it either way.  Leaving the iteration early cancels
        the generation.
        """
        sampling = sampling or SamplingSettings()
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        req_id = self._register(box)
        finished = False
        try:
            self._send_as(
                req_id, "generate", messages=list(messages), sampling=sampling.to_dict(),
                records=records, top_n=top_n, continue_reply=continue_reply,
            )
            while True:
                event = self._next(box, timeout, "generate")
                kind = event["type"]
                if kind == "error":
                    finished = True
                    raise _error_of(event)
                if kind == "done":
                    finished = True
                    yield event
                    return
                if kind == "context" and not context_event:
                    continue
                yield event
        finally:
            if not finished:
                self.cancel(req_id)
                _drain(box, 10.0)
            self._pending.pop(req_id, None)


def _error_of(event: dict[str, Any]) -> EngineError:
    """The EngineError for an error event (with its retry options, if it has any)."""
    retry = event.get("retry")
    options = [o for o in retry if isinstance(o, dict)] if isinstance(retry, list) else []
    return EngineError(str(event["code"]), str(event["message"]), options)


def _drain(box: queue.Queue[dict[str, Any]], timeout: float) -> None:
    """Wait for a cancelled generation to end, so the next command finds the process idle."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            if box.get(timeout=left)["type"] in ("done", "error"):
                return
        except queue.Empty:
            return


#: What llama.cpp's RPC client says when it aborts (ggml-rpc.cpp).
_RPC_FAILURES = ("Remote RPC server crashed", "RPC handshake failed", "ggml-rpc")


def rpc_failure(stderr_tail: Sequence[str]) -> bool:
    """Whether the model process's last words say that llama.cpp's RPC client gave up."""
    return any(key in line for line in stderr_tail for key in _RPC_FAILURES)


def describe_exit(
    code: int,
    stderr_tail: list[str],
    *,
    workers: Sequence[str] = (),
    workers_gone: Sequence[str] | None = None,
) -> str:
    """One sentence on why the model process ended, with llama.cpp's last words if any.

    `workers`: the workers the model process was using; `workers_gone`: those that no longer
    accept connections (None: not checked).  When llama.cpp's RPC client gave up (it aborts
    when a worker stops answering), the sentence says so, names the worker, and says that the
    model can be loaded again here or with the remaining workers.
    """
    if workers and rpc_failure(stderr_tail):
        return _worker_stopped(code, workers, workers_gone)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        reasons = {
            "SIGABRT": "aborted (llama.cpp stopped on a failed check)",
            "SIGKILL": "was killed (SIGKILL): out of memory, or ended by another program",
            "SIGSEGV": "crashed with a segmentation fault",
            "SIGBUS": "crashed on a bus error (is the model file truncated or on a lost drive?)",
            "SIGTERM": "was terminated (SIGTERM)",
        }
        what = f"the model process {reasons.get(name, f'ended by {name}')} [{name}]"
    elif code == 0:
        what = "the model process exited unexpectedly"
    else:
        what = f"the model process exited with code {code}"
    clues = [ln.strip() for ln in stderr_tail if _is_clue(ln)]
    if clues:
        what += ": " + " | ".join(clues[-3:])[:600]
    return what


def _worker_stopped(code: int, workers: Sequence[str], gone: Sequence[str] | None) -> str:
    """describe_exit's sentence for a worker that stopped answering."""
    try:
        signame = signal.Signals(-code).name if code < 0 else f"exit code {code}"
    except ValueError:
        signame = f"signal {-code}"
    if gone:
        who = (f"the worker at {gone[0]} stopped answering" if len(gone) == 1 else
               f"the workers at {', '.join(gone)} stopped answering")
        left = [w for w in workers if w not in gone]
    else:
        who = f"a worker stopped answering ({', '.join(workers)})"
        left = []
    where = "on this computer" + (f" or with the remaining worker{'s' if len(left) > 1 else ''} "
                                  f"{', '.join(left)}" if left else "")
    return (f"The model ran on other computers and {who}, so llama.cpp stopped the model "
            f"process [{signame}]; the conversation is kept: load the model again, "
            f"{where}.")


def _is_clue(line: str) -> bool:
    lowered = line.lower()
    return any(
        key in lowered
        for key in ("ggml_assert", "error", "failed", "abort", "out of memory", "fatal")
    ) and "chatapp" not in lowered
