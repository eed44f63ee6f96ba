"""Can the installed llama.cpp load these model files?  Checked in a short-lived process.

`check_support` answers for a batch of files without loading their weights: for each file, the
pre-flight header check (chatapp.engine.gguf_preflight), then llama.cpp reads the file with
`vocab_only` (the architecture and the vocabulary), then once more with `no_alloc` (the
hyper-parameters and the tensor layout, nothing allocated, no weights read).  The second
reading is there because `vocab_only` stops before the hyper-parameters: a file with
block_count = 100000 passes it and makes a real load abort() (engine.md).

All of it runs in a child process, `python -m chatapp.engine.support_check`, because a crafted
file can make llama.cpp abort() the process that reads it: that must never be the app or its
model process.  The child reads the paths as a JSON list on stdin and writes one JSON line per
event on stdout:

    {"event": "ready", "llama_cpp_python": STR}          # once, llama.cpp imported
    {"event": "start", "index": INT, "architecture": STR|null}   # the header passed
    {"event": "result", "index": INT, "status": STR, "message": STR,
     "architecture": STR|null}

When the child dies (abort, a signal) or stops answering (`timeout`), the file it was on is
reported "crashed" and the files after it are checked in a new child.  Results are cached by
real path, size, modification time and llama-cpp-python version in `cache_file`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import chatapp
from chatapp.launch import module_command

#: The statuses a SupportResult can have.
STATUSES = ("ok", "unsupported_architecture", "preflight", "load_error", "crashed")

#: Entries kept in the cache file (the most recent ones): a few hundred bytes each.
CACHE_LIMIT = 5000

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class SupportResult:
    """Whether the installed llama.cpp can load a file, and if not why.

    Attributes:
        status: "ok", "unsupported_architecture", "preflight" (the header check failed or
            the file cannot be read), "load_error" (llama.cpp refused it) or "crashed"
            (llama.cpp died or hung reading it).
        message: "" when ok; else one sentence for the user.
        architecture: the file's general.architecture, when its header could be read.
    """

    status: str
    message: str
    architecture: str | None


def check_support(
    paths: Sequence[Path], *, cache_file: Path | None = None, timeout: float = 60.0
) -> dict[Path, SupportResult]:
    """Check each file (see the module's docstring); never raises for a bad file.

    `cache_file`: where results are kept between calls (None: no cache).  `timeout`: seconds
    one file may take in the child, the child's start included; a file that takes longer is
    reported "crashed" and not cached.  The answer has one entry per distinct path given.
    """
    version = engine_version()
    results: dict[Path, SupportResult] = {}
    keys: dict[Path, str] = {}
    cache = _read_cache(cache_file) if cache_file is not None else {}
    todo: list[Path] = []
    for path in dict.fromkeys(paths):
        try:
            key = cache_key(path, version)
        except OSError as exc:
            results[path] = SupportResult(
                "preflight", f"The file cannot be read ({exc.strerror or exc}).", None)
            continue
        hit = cache.get(key)
        if hit is not None:
            results[path] = hit
        else:
            keys[path] = key
            todo.append(path)
    if todo:
        fresh, transient = _check_in_children(todo, timeout)
        results.update(fresh)
        worth_keeping = {keys[p]: r for p, r in fresh.items() if p not in transient}
        if cache_file is not None and worth_keeping:
            with contextlib.suppress(OSError):  # a cache that cannot be written is no cache
                _write_cache(cache_file, worth_keeping)
    return {path: results[path] for path in dict.fromkeys(paths)}


def engine_version() -> str:
    """The installed llama-cpp-python's version, without loading its libraries."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama_cpp_python")
    except PackageNotFoundError:
        return "unknown"


def cache_key(path: Path, version: str) -> str:
    """realpath|size|mtime_ns|version: a file replaced or changed, or another llama.cpp, is
    checked again.  Raises OSError when the file cannot be examined."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return f"{real}|{st.st_size}|{st.st_mtime_ns}|{version}"


# -- the parent side --------------------------------------------------------------------------


class _Child:
    """One checker process, its event lines (read by a thread) and the tail of its stderr."""

    def __init__(self, paths: Sequence[Path]) -> None:
        """Start `python -m chatapp.engine.support_check` on `paths`."""
        env = dict(os.environ)
        # ggml prints a backtrace on abort() by attaching gdb when it is installed: seconds
        # per crash, and nobody reads it here.
        env["GGML_NO_BACKTRACE"] = "1"
        package_root = str(Path(chatapp.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            module_command("chatapp.engine.support_check"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=100)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._out = threading.Thread(target=self._read_events, args=(self.proc.stdout,),
                                     daemon=True)
        self._err = threading.Thread(target=self._read_stderr, args=(self.proc.stderr,),
                                     daemon=True)
        self._out.start()
        self._err.start()
        assert self.proc.stdin is not None
        # The list goes in whole: a child that dies early only breaks the pipe.
        with contextlib.suppress(OSError):
            self.proc.stdin.write(json.dumps([os.fspath(p) for p in paths]).encode("utf-8"))
            self.proc.stdin.close()

    def _read_events(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue  # not ours: the child's stdout is moved to stderr, but be safe
            if isinstance(event, dict):
                self.events.put(event)
        self.events.put(None)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        """The next event; None at the end of the child's output.  Raises queue.Empty."""
        return self.events.get(timeout=max(timeout, 0.0))

    def end(self) -> int:
        """Stop the child (if it still runs) and return its exit status."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        self._err.join(timeout=5)
        self._out.join(timeout=5)
        return code


def _start_child(paths: Sequence[Path]) -> _Child:
    """A new checker process (a seam: tests count how many were started)."""
    return _Child(paths)


def _check_in_children(
    paths: Sequence[Path], timeout: float
) -> tuple[dict[Path, SupportResult], set[Path]]:
    """Check every path, in as many children as crashes need.  Returns the results and the
    paths whose result may not happen again (a hang, a kill from outside, a checker that could
    not start): those are not cached."""
    results: dict[Path, SupportResult] = {}
    transient: set[Path] = set()
    pending = list(paths)
    while pending:
        child = _start_child(pending)
        run = _collect(child, pending, timeout, results)
        code = child.end()
        if run.done == len(pending):
            break
        current = pending[run.done]
        if not run.ready:  # the child never got going: no file is to blame
            why = (f"it was not ready within {timeout:g} s" if run.timed_out
                   else _describe_exit(code, child.stderr_tail))
            for path in pending:
                results[path] = SupportResult(
                    "crashed", f"The support check could not start ({why}).", None)
            transient.update(pending)
            break
        arch = run.architecture
        if run.timed_out:
            results[current] = SupportResult(
                "crashed",
                f"llama.cpp did not finish reading this file within {timeout:g} s and was "
                "stopped; it cannot be loaded safely with this version.", arch)
            transient.add(current)
        else:
            results[current] = SupportResult(
                "crashed",
                f"llama.cpp crashed reading this file ({_describe_exit(code, child.stderr_tail)})"
                "; it cannot be loaded with this version.", arch)
            if code == -signal.SIGKILL:  # what the kernel's OOM killer sends: maybe not the file
                transient.add(current)
        pending = pending[run.done + 1:]
    return results, transient


@dataclass
class _Run:
    """How far one child got: files answered, whether it became ready, whether it stopped
    answering, and the architecture of the file it was on (from its "start" event)."""

    done: int = 0
    ready: bool = False
    timed_out: bool = False
    architecture: str | None = None


def _collect(
    child: _Child, pending: Sequence[Path], timeout: float, results: dict[Path, SupportResult]
) -> _Run:
    """Read one child's events into `results` until it ends, stops answering (`timeout`
    seconds for one file) or has answered for every path."""
    run = _Run()
    deadline = time.monotonic() + timeout
    while run.done < len(pending):
        try:
            event = child.next_event(deadline - time.monotonic())
        except queue.Empty:
            run.timed_out = True
            return run
        if event is None:
            return run
        kind = event.get("event")
        if kind == "ready":
            run.ready = True
        elif event.get("index") != run.done:
            continue  # out of order: cannot happen with this child; ignore rather than guess
        elif kind == "start":
            arch = event.get("architecture")
            run.architecture = arch if isinstance(arch, str) else None
        elif kind == "result":
            results[pending[run.done]] = _result_of(event)
            run.done += 1
            run.architecture = None
            deadline = time.monotonic() + timeout
    return run


def _result_of(event: dict[str, Any]) -> SupportResult:
    status = event.get("status")
    arch = event.get("architecture")
    return SupportResult(
        status if status in STATUSES else "load_error",
        str(event.get("message") or ""),
        arch if isinstance(arch, str) else None,
    )


def _describe_exit(code: int, stderr_tail: Iterable[str]) -> str:
    """'signal 6, SIGABRT: GGML_ASSERT(...) failed' or 'exit code 1: ...'."""
    if code < 0:
        try:
            what = f"signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            what = f"signal {-code}"
    else:
        what = f"exit code {code}"
    clue = _clue(stderr_tail)
    return f"{what}: {clue}" if clue else what


def _clue(lines: Iterable[str]) -> str:
    """The line of the child's stderr that says why it died, if one does."""
    lines = [line for line in lines if line.strip()]
    for line in reversed(lines):
        at = line.find("GGML_ASSERT")
        if at >= 0:  # drop the build path before it: "/tmp/pip-.../llama-model.cpp:1328: "
            return line[at:][:300]
    for line in reversed(lines):
        lowered = line.lower()
        if any(k in lowered for k in ("terminate called", "what():", "error", "fatal")):
            return line.strip()[:300]
    return ""


def _read_cache(cache_file: Path) -> dict[str, SupportResult]:
    try:
        data = json.loads(cache_file.read_text("utf-8"))
        entries = data["entries"] if data.get("format") == _CACHE_FORMAT else {}
        return {
            str(key): SupportResult(str(v["status"]), str(v["message"]),
                                    None if v.get("architecture") is None
                                    else str(v["architecture"]))
            for key, v in entries.items()
            if isinstance(v, dict) and v.get("status") in STATUSES
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # missing or damaged: check again


def _write_cache(cache_file: Path, new: dict[str, SupportResult]) -> None:
    """Add `new` to the cache file, atomically (read again first: another check may have
    written it meanwhile)."""
    entries = {key: asdict(r) for key, r in _read_cache(cache_file).items()}
    for key, result in new.items():
        entries.pop(key, None)  # re-inserted last: the newest survive the cap
        entries[key] = asdict(result)
    kept = dict(list(entries.items())[-CACHE_LIMIT:])
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=cache_file.name + ".", suffix=".tmp",
                               dir=cache_file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": _CACHE_FORMAT, "entries": kept}, f, ensure_ascii=False)
        os.replace(tmp, cache_file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- the child side ---------------------------------------------------------------------------

_ERROR_LEVEL, _CONT_LEVEL = 4, 5  # ggml_log_level: 4 ERROR, 5 continues the previous line


class _Checker:
    """Reads files with llama.cpp in this (child) process, one at a time."""

    def __init__(self) -> None:
        """Import llama.cpp and route its log into a list of error lines."""
        import llama_cpp
        from llama_cpp import _internals

        self._llama = llama_cpp
        self._internals = _internals
        self.version = str(llama_cpp.__version__)
        self.errors: list[str] = []
        self._last_level = 0
        # Kept on self: llama.cpp calls it for as long as the process lives.
        self._callback = llama_cpp.llama_log_callback(self._log)
        llama_cpp.llama_log_set(self._callback, None)

    def _log(self, level: int, text: bytes, _user: Any) -> None:
        if level == _CONT_LEVEL:
            level = self._last_level
        self._last_level = level
        if level >= _ERROR_LEVEL:
            line = text.decode("utf-8", "replace").strip()
            if line:
                self.errors.append(line)
                del self.errors[:-20]
        if os.environ.get("CHATAPP_ENGINE_DEBUG"):
            sys.stderr.write(text.decode("utf-8", "replace"))

    def _params(self, stage: str) -> Any:
        params = self._llama.llama_model_default_params()
        params.n_gpu_layers = 0  # nothing is computed: keep GPUs out of it
        if stage == "vocab":
            params.vocab_only = True
        else:  # hyper-parameters and tensor layout; no buffers, no reading of weights
            params.no_alloc = True
            params.load_mode = self._llama.LLAMA_LOAD_MODE_NONE  # no_alloc cannot mmap
            params.lazy_mode = self._llama.LLAMA_LAZY_MODE_OFF
        return params

    def stages(self) -> list[str]:
        """"vocab", and "layout" where this llama.cpp has the no_alloc load."""
        fields = {name for name, *_ in self._llama.llama_model_params._fields_}
        has_layout = {"no_alloc", "load_mode", "lazy_mode"} <= fields and hasattr(
            self._llama, "LLAMA_LOAD_MODE_NONE")
        return ["vocab", "layout"] if has_layout else ["vocab"]

    def check(self, path: str, architecture: str | None) -> SupportResult:
        """Read `path` with llama.cpp (the header already passed the pre-flight)."""
        for stage in self.stages():
            self.errors.clear()
            try:
                model: Any = self._internals.LlamaModel(
                    path_model=path, params=self._params(stage), verbose=True)
            except ValueError as exc:
                return self._refusal(str(exc), architecture)
            model.close()
        return SupportResult("ok", "", architecture)

    def _refusal(self, message: str, architecture: str | None) -> SupportResult:
        text = "\n".join(self.errors)
        unknown = re.search(r"unknown model architecture: '([^']*)'", text)
        if unknown:
            name = unknown.group(1)
            return SupportResult(
                "unsupported_architecture",
                f"This llama.cpp (llama-cpp-python {self.version}) does not know the "
                f"architecture '{name}'; a newer chatapp may.",
                architecture or name,
            )
        reason = _llama_reason(self.errors) or message
        return SupportResult(
            "load_error", f"llama.cpp cannot load this file: {reason.rstrip('.')}.",
            architecture)


def _llama_reason(errors: Sequence[str]) -> str:
    """llama.cpp's reason from its error lines ("error loading model: X" gives X)."""
    for line in errors:
        _, sep, rest = line.partition("error loading model: ")
        if sep and rest.strip():
            return rest.strip()
    return errors[0] if errors else ""


def _check_file(checker: _Checker, path: str,
                started: Callable[[str | None], None]) -> SupportResult:
    from chatapp.engine.gguf_preflight import GGUFPreflightError, inspect_gguf

    try:
        info = inspect_gguf(path)
    except GGUFPreflightError as exc:
        return SupportResult(
            "preflight", f"This is not a usable model file: {str(exc).rstrip('.')}.", None)
    except OSError as exc:
        return SupportResult("preflight", f"The file cannot be read ({exc.strerror or exc}).",
                             None)
    started(info.architecture)
    return checker.check(path, info.architecture)


def main() -> None:
    """Entry point of the checker process (see the module's docstring)."""
    # Keep the event channel for ourselves: anything C code prints to stdout goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    paths = json.load(sys.stdin)

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event, ensure_ascii=False) + "\n")
        out.flush()  # the parent must know which file is being read when we die

    checker = _Checker()
    emit({"event": "ready", "llama_cpp_python": checker.version})
    for index, path in enumerate(paths):
        def started(arch: str | None, index: int = index) -> None:
            emit({"event": "start", "index": index, "architecture": arch})

        try:
            result = _check_file(checker, str(path), started)
        except Exception as exc:  # anything Python-side: this file fails, the batch goes on
            result = SupportResult("load_error",
                                   f"The check failed: {type(exc).__name__}: {exc}.", None)
        emit({"event": "result", "index": index, **asdict(result)})
    out.close()


if __name__ == "__main__":
    main()
