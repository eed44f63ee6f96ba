"""UI benchmark: the chat window streaming a long reply, generation speed with the window open,
and how long the app takes to show an interactive window.

Run:  .venv/bin/python benchmarks/ui.py [--tokens 4000] [--rate 250] [--reps 3] [--quick]
                                        [--only stream|speed|cold] [--profile] [--check]

1. Streaming through the window.  A real MainWindow (1200x800, offscreen) on a real StoreService
   in a throwaway data folder, driven like a user (text in the composer, `send()`), with a
   `ScriptedEngine` in place of the model process: it plays a 4,000-token Markdown reply (code
   blocks, tables, lists, math; token events with top-20 stage records like the real ones) at
   `--rate` tokens/s through the same queued signal the real client's reader thread uses, and
   ends it with a `done` event that carries the records blob, as the model process does.  A
   10 ms heartbeat on the GUI thread measures stalls (each long one is printed with the
   Python garbage collection inside it, if any); the streaming card's renders and the window's
   event handler are timed; the saved reply is checked against what was streamed.  Also
   measured: what carrying one token event through a `Signal(dict)` costs.
2. Generation speed with the GUI open vs headless, on the starter model (skipped if it is not
   installed): greedy, 200 tokens, the same prompt; median `tokens_per_s` of each, interleaved.
3. Cold start: `python -m chatapp` spawned with CHATAPP_STARTUP_PROBE (see chatapp/app.py),
   which prints when the window was shown, when the event loop first ran a zero timer queued
   after show() ("interactive": every zero timer queued before it, such as the app's own
   start-up work, has run) and when the window was first painted; then the app quits.  The
   order of the last two is printed: offscreen, the zero timer runs before the first paint.

Prints the figures and a summary with each target; exits 0 unless --check is given and a
target was missed.
"""

from __future__ import annotations

import os
import sys
import tempfile

# chatapp reads its folders from the environment whenever it needs them: they must point into a
# throwaway folder before anything of chatapp is imported, so that the benchmark never reads or
# writes the user's history or settings.  The user's own values are kept aside only to find an
# installed starter model.
os.environ["CHATAPP_BENCH_USER_DATA_DIR"] = os.environ.get("CHATAPP_DATA_DIR", "")
os.environ["CHATAPP_BENCH_USER_CONFIG_DIR"] = os.environ.get("CHATAPP_CONFIG_DIR", "")
os.environ["CHATAPP_BENCH_SCRATCH"] = tempfile.mkdtemp(prefix="chatapp-bench-ui-")
os.environ["CHATAPP_DATA_DIR"] = os.path.join(os.environ["CHATAPP_BENCH_SCRATCH"], "data")
os.environ["CHATAPP_CONFIG_DIR"] = os.path.join(os.environ["CHATAPP_BENCH_SCRATCH"], "config")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import base64
import cProfile
import gc
import itertools
import pstats
import random
import re
import resource
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from markdown_stream import make_reply, percentile
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from chatapp.core.markdown_render import warm_up
from chatapp.core.sampling import SamplingSettings
from chatapp.engine import protocol
from chatapp.engine.client import EngineClient
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage import records as record_codec
from chatapp.storage.entities import Conversation, Message
from chatapp.storage.repository import ChatStore
from chatapp.ui.chat_view import MessageCard
from chatapp.ui.main_window import MainWindow
from chatapp.ui.message_view import SLICE_S

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(os.environ["CHATAPP_BENCH_SCRATCH"])
HEARTBEAT_MS = 10
WINDOW_SIZE = (1200, 800)
#: A vocabulary the size of SmolLM2's, for the scripted records' token ids and survivors.
N_VOCAB = 49_152
#: What the user types in part 1 (the reply is scripted, so any question does).
STREAM_PROMPT = "Explain, with code, a table, a list and some math, how Fibonacci numbers grow."
#: Part 2: a prompt that makes the model write at length, and the settings both paths use.
SPEED_PROMPT = ("Write a long, detailed story about a lighthouse keeper and a storm, with many "
                "characters and places.")
SPEED_SAMPLING = SamplingSettings(temperature=0.0, seed=1, max_tokens=200)

T = TypeVar("T")


# -- measuring -----------------------------------------------------------------------------------


class Heartbeat:
    """A 10 ms precise timer on the GUI thread that notes when each beat ran.

    A gap between two beats beyond 10 ms is time the window could not react (a stall).  The
    GUI thread's CPU time is noted with each beat too: it tells how busy the thread was between
    beats even when it never stalled, which is what grows first when work is not flat.

    Attributes:
        times: perf_counter() of each beat, in seconds.
        cpu: the GUI thread's CPU time (time.thread_time()) at each beat, in seconds.
    """

    def __init__(self) -> None:
        """A stopped heartbeat."""
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._timer = QTimer()
        # A coarse timer may fire up to 5% early or late by design: that would read as stalls.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        self.times.append(time.perf_counter())
        self.cpu.append(time.thread_time())

    def start(self) -> None:
        """Beat every 10 ms from now."""
        self._beat()
        self._timer.start(HEARTBEAT_MS)

    def stop(self) -> None:
        """Stop beating (the beats so far stay)."""
        self._timer.stop()

    def stalls_ms(self, start: float, end: float) -> list[float]:
        """Each gap between beats that overlaps [start, end], minus the 10 ms period."""
        return [max(0.0, (b - a) * 1000 - HEARTBEAT_MS)
                for a, b in itertools.pairwise(self.times) if b > start and a < end]

    def worst(self, start: float, end: float, n: int) -> list[tuple[float, float, float]]:
        """The `n` longest stalls overlapping [start, end]: (stall ms, gap start, gap end)."""
        gaps = [((b - a) * 1000 - HEARTBEAT_MS, a, b)
                for a, b in itertools.pairwise(self.times) if b > start and a < end]
        return sorted(gaps, reverse=True)[:n]

    def busy_share(self, start: float, end: float) -> float:
        """The GUI thread's CPU time over wall time, between the beats inside [start, end]."""
        inside = [i for i, t in enumerate(self.times) if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        first, last = inside[0], inside[-1]
        wall = self.times[last] - self.times[first]
        return (self.cpu[last] - self.cpu[first]) / wall if wall > 0 else float("nan")


class GcPauses:
    """Python's garbage collections while installed: a collection holds the GIL, so it stalls
    the GUI thread whichever thread triggered it.

    Attributes:
        pauses: (generation, start perf_counter(), seconds) of each collection.
    """

    def __init__(self) -> None:
        """Not yet installed."""
        self.pauses: list[tuple[int, float, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], self._started,
                                time.perf_counter() - self._started))

    def __enter__(self) -> GcPauses:
        """Start recording."""
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop recording."""
        gc.callbacks.remove(self._callback)


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 and max (nan for no values)."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    return percentile(list(values), 50), percentile(list(values), 99), max(values)


def rss_mb() -> float:
    """This process's resident memory now, in MiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until `predicate()` holds.

    A nested QEventLoop with a 20 ms poll, not a processEvents() spin: a spinning GUI thread
    would compete for the GIL and the cores with the very work being measured.
    """
    if predicate():
        return
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    timed_out = False

    def poll() -> None:
        nonlocal timed_out
        if predicate():
            loop.quit()
        elif time.monotonic() > deadline:
            timed_out = True
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    loop.exec()
    timer.stop()
    if timed_out:
        raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def query(store: StoreService, fn: Callable[[ChatStore], T], what: str) -> T:
    """Run `fn` on the store's worker after everything queued before it; wait for the result."""
    box: list[T] = []
    failures: list[Exception] = []
    store.run(fn, box.append, failures.append)
    wait_until(lambda: bool(box or failures), 30, what)
    if failures:
        raise failures[0]
    return box[0]


def barrier(store: StoreService) -> None:
    """Wait until every store operation queued so far ran and its result was delivered."""
    query(store, lambda _s: None, "the store's queue to drain")


def write(store: StoreService, fn: Callable[[ChatStore], T], what: str) -> T:
    """`query` for a change (one transaction, reported through sig_changed like the window's)."""
    box: list[T] = []
    failures: list[Exception] = []
    store.write(fn, Changed(lists=True), box.append, failures.append)
    wait_until(lambda: bool(box or failures), 30, what)
    if failures:
        raise failures[0]
    return box[0]


@contextmanager
def data_folder(name: str) -> Iterator[Path]:
    """Point chatapp at a fresh data folder of the scratch space for the duration (each part
    gets its own, so that one part's history or hash cache cannot help another)."""
    folder = SCRATCH / name
    saved = os.environ["CHATAPP_DATA_DIR"]
    os.environ["CHATAPP_DATA_DIR"] = str(folder)
    try:
        yield folder
    finally:
        os.environ["CHATAPP_DATA_DIR"] = saved


def user_starter_model() -> Path | None:
    """The starter model where the user's own chatapp finds it, or None if not installed.

    Computed without `paths.data_dir()`, which would create the user's data folder.
    """
    from chatapp import paths
    from chatapp.models.starter import is_installed, starter_path

    data = os.environ["CHATAPP_BENCH_USER_DATA_DIR"]
    if data:
        folder = Path(data).expanduser()
    else:
        saved = os.environ["CHATAPP_CONFIG_DIR"]
        os.environ["CHATAPP_CONFIG_DIR"] = os.environ["CHATAPP_BENCH_USER_CONFIG_DIR"]
        try:
            folder = paths.configured_data_dir() or paths.default_data_dir()
        finally:
            os.environ["CHATAPP_CONFIG_DIR"] = saved
    models = folder / "models"
    return starter_path(models) if is_installed(models) else None


# -- the scripted model process ------------------------------------------------------------------


@dataclass
class Script:
    """A reply to play: its deltas, and its token events already encoded as protocol lines.

    Encoding happens before the measurement, as the model process does it in another process;
    decoding each line happens while playing, on the emitting thread, as the real client's reader
    thread does (the GIL makes that cost the GUI thread's business too).

    Attributes:
        deltas: each token's text; they add up to the reply.
        lines: one encoded token event per delta (id and t_ms are filled in when played).
        records_blob: the whole reply's records as the model process sends them in `done`
            (chatapp.storage.records.encode, base64; t_ms as encoded, 0).
        encode_ms: what encoding them took here.
    """

    deltas: list[str]
    lines: list[bytes]
    records_blob: str
    encode_ms: float

    @property
    def text(self) -> str:
        """The whole reply."""
        return "".join(self.deltas)


def _probabilities(rng: random.Random, n: int, mass: float) -> list[float]:
    """`n` decreasing probabilities adding up to `mass`, shaped like a model's top candidates."""
    weights = sorted((rng.random() ** 3 for _ in range(n)), reverse=True)
    weights[0] += rng.random() * 2  # the favourite usually stands out
    total = sum(weights)
    return [round(w / total * mass, 6) for w in weights]


def _stages(rng: random.Random, chosen: tuple[int, str],
            vocabulary: list[tuple[int, str]]) -> tuple[list[dict[str, Any]], int, float]:
    """Stage records like the model process sends with the default (Balanced) settings:
    raw, penalties (off, so a copy of raw), top-k 40, top-p, min-p, temperature."""
    others = [c for c in rng.sample(vocabulary, min(len(vocabulary), 24)) if c != chosen][:19]
    rank = 0 if rng.random() < 0.7 else rng.randint(1, 4)
    candidates = [*others[:rank], chosen, *others[rank:]]
    raw_p = _probabilities(rng, 20, rng.uniform(0.55, 0.97))
    top_p_survivors = rng.randint(1, 30)
    min_p_survivors = rng.randint(1, top_p_survivors)

    def stage(name: str, active: bool, survivors: int, probs: list[float]) -> dict[str, Any]:
        kept = min(20, survivors, len(candidates))
        scale = 1.0 / sum(probs[:kept]) if survivors <= 20 else 1.0
        return {"name": name, "active": active, "survivors": survivors,
                "top": [[cid, text, min(1.0, round(p * scale, 6))]
                        for (cid, text), p in zip(candidates[:kept], probs[:kept], strict=True)]}

    k_p = [min(1.0, round(p / sum(raw_p) * 0.98, 6)) for p in raw_p]
    sharpened = [p ** (1 / 0.7) for p in k_p]
    stages = [
        stage("raw", True, N_VOCAB, raw_p),
        stage("penalties", False, N_VOCAB, raw_p),
        stage("top_k", True, 40, k_p),
        stage("top_p", True, top_p_survivors, k_p),
        stage("min_p", True, min_p_survivors, k_p),
        stage("temperature", True, min_p_survivors, sharpened),
    ]
    chosen_p = stages[-1]["top"][rank][2] if rank < len(stages[-1]["top"]) else 0.0
    return stages, rank, float(chosen_p)


def _candidates(rng: random.Random, chosen: int, rank: int) -> list[list[float]]:
    """64 [token id, logit] pairs, highest first, with `chosen` at `rank`."""
    ids = [rng.randrange(N_VOCAB) for _ in range(64)]
    ids[min(rank, 63)] = chosen
    logit = rng.uniform(12.0, 20.0)
    out: list[list[float]] = []
    for token in ids:
        out.append([token, float(np.float32(logit))])
        logit -= rng.uniform(0.0, 0.6)
    return out


def make_script(tokens: int, seed: int) -> Script:
    """Exactly `tokens` token events of markdown_stream's Markdown reply (about 4 characters a
    token, cut at random points as a tokenizer would cut words)."""
    rng = random.Random(seed)
    text = "".join(make_reply(tokens, seed))
    cuts = sorted(rng.sample(range(1, len(text)), tokens - 1))
    deltas = [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]
    ids: dict[str, int] = {}
    for piece in deltas:
        ids.setdefault(piece, rng.randrange(N_VOCAB))
    # The other candidates of each stage are drawn from the reply's own pieces.
    vocabulary = [(token_id, piece) for piece, token_id in ids.items()]
    lines: list[bytes] = []
    for i, piece in enumerate(deltas):
        chosen = (ids[piece], piece)
        stages, rank, chosen_p = _stages(rng, chosen, vocabulary)
        raw = stages[0]["top"]
        event: dict[str, Any] = {
            "type": "token", "id": "", "i": i, "token": chosen[0], "piece": piece,
            "text": piece, "t_ms": 0.0, "sample_ms": round(rng.uniform(0.15, 0.6), 3),
            "stages": stages, "chosen_rank": rank, "chosen_p": round(chosen_p, 6),
            "raw_rank": rank, "raw_p": float(raw[rank][2]) if rank < len(raw) else 0.0,
            # Like the model process: the 64 highest post-penalty logits (float32 values), the
            # chosen token among them, and the vocabulary's log-sum-exp.
            "candidates": _candidates(rng, chosen[0], rank),
            "candidates_lse": round(rng.uniform(8.0, 14.0), 6),
        }
        lines.append(protocol.encode(event))
    start = time.perf_counter()
    blob = record_codec.encode(_records_of(lines))
    encode_ms = (time.perf_counter() - start) * 1000
    return Script(deltas, lines, base64.b64encode(blob).decode("ascii"), encode_ms)


def _records_of(lines: Sequence[bytes]) -> Iterator[dict[str, Any]]:
    """The records of encoded token events (the events without "type" and "id")."""
    for line in lines:
        event = protocol.decode(line, protocol.EVENTS, "type")
        yield {k: v for k, v in event.items() if k not in ("type", "id")}


class ScriptedEngine(EngineService):
    """An EngineService that plays a scripted reply instead of running a model process.

    `start`, `load`, `generate` and `cancel` never start a process.  Events leave through
    `_sig_from_reader` from a Python thread, exactly as the real client's reader thread sends
    them, so the window receives them the way it receives real ones.

    Attributes:
        script: the reply every `generate` plays.
        rate: tokens per second to play it at.
        sent_at: perf_counter() at which each token event of the last reply was emitted.
        last_prompt: the messages of the last `generate`.
    """

    def __init__(self, script: Script, rate: float) -> None:
        """Play `script` at `rate` tokens/s on every `generate`."""
        super().__init__()
        self.script = script
        self.rate = rate
        self.sent_at: list[float] = []
        self.last_prompt: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._n_ctx = 4096
        self._model_path = ""
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Nothing to start: there is no model process."""

    def load(self, path: Path, **settings: Any) -> str:
        """Answer at once with a `loaded` event shaped like the model process's."""
        req_id = f"s{next(self._ids)}"
        # Room for the whole scripted reply: a real model would stop at a full context.
        self._n_ctx = max(int(settings.get("n_ctx", 4096)), len(self.script.deltas) + 512)
        self._model_path = str(path)
        model = {
            "path": str(path), "description": "llama 135M Q4_1", "architecture": "llama",
            "quantization": "Q4_1", "parameters": 134_515_008, "size_bytes": 98_362_432,
            "n_layer": 30, "n_head": 9, "n_ctx": self._n_ctx, "n_ctx_train": 8192,
            "n_vocab": N_VOCAB, "n_threads": 2, "n_threads_batch": 2,
            "threads_reason": "scripted", "n_gpu_layers": 0, "gpu_offload_supported": False,
            "flash_attn": False, "chat_template": "from the model file",
            "chat_template_problem": None, "system_info": "scripted",
        }
        for progress in (0.0, 0.5, 1.0):
            self._sig_from_reader.emit({"type": "progress", "id": req_id, "progress": progress})
        self._sig_from_reader.emit({"type": "loaded", "id": req_id, "model": model,
                                    "sha256": "0" * 64, "load_ms": 120.0})
        return req_id

    def generate(self, messages: list[dict[str, str]], sampling: SamplingSettings, *,
                 continue_reply: bool = False) -> str:
        """Start playing the script on a thread; returns the reply's request id."""
        self.cancel()
        if self._thread is not None:
            self._thread.join()
        req_id = f"s{next(self._ids)}"
        self.last_prompt = list(messages)
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._play, args=(req_id, list(messages), sampling, self._cancel),
            name="scripted-engine", daemon=True)
        self._thread.start()
        return req_id

    def cancel(self, req_id: str | None = None) -> None:
        """Stop the reply being played (it ends with a `done` event, as a real one does)."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Stop playing."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _play(self, req_id: str, messages: list[dict[str, str]], sampling: SamplingSettings,
              cancel: threading.Event) -> None:
        emit = self._sig_from_reader.emit
        t0 = time.perf_counter()
        prompt_tokens = 8 * len(messages) + sum(len(m["content"]) for m in messages) // 4
        emit({"type": "context", "id": req_id, "prompt_tokens": prompt_tokens,
              "n_ctx": self._n_ctx, "reserve": max(1, min(sampling.max_tokens, self._n_ctx // 4)),
              "dropped_messages": 0})
        cancel.wait(0.03)  # a short prompt's decoding, before the first token
        self.sent_at = []
        start = time.perf_counter()
        for i, line in enumerate(self.script.lines):
            # Catch up with the schedule after any delay (a busy GIL), as a model that
            # generated on meanwhile would.
            delay = start + i / self.rate - time.perf_counter()
            if (delay > 0 and cancel.wait(delay)) or cancel.is_set():
                break
            event = protocol.decode(line, protocol.EVENTS, "type")
            now = time.perf_counter()
            event["id"] = req_id
            event["t_ms"] = round((now - t0) * 1000, 3)
            self.sent_at.append(now)
            emit(event)
        end = time.perf_counter()
        n = len(self.sent_at)
        ttft = (self.sent_at[0] - t0) if n else end - t0
        seed = sampling.seed if sampling.seed is not None else 1234
        # The model process encodes the records after the last token, in its own process: the
        # whole reply's blob is ready-made (a stopped one's is made now, off the measurement).
        blob = self.script.records_blob if n == len(self.script.lines) else base64.b64encode(
            record_codec.encode(_records_of(self.script.lines[:n]))).decode("ascii")
        emit({
            "type": "done", "id": req_id,
            "finish_reason": "cancelled" if cancel.is_set() else "stop",
            "text": "".join(self.script.deltas[:n]), "tail": "",
            "generated_tokens": n, "prompt_tokens": prompt_tokens, "cached_prompt_tokens": 0,
            "dropped_messages": 0,
            "time_to_first_token_ms": round(ttft * 1000, 2), "prompt_ms": 30.0,
            "prompt_tokens_per_s": round(prompt_tokens / 0.03, 2),
            "total_ms": round((end - t0) * 1000, 2),
            "tokens_per_s": round((n - 1) / (end - t0 - ttft), 2) if n > 1 else 0.0,
            "seed": seed, "sampling": sampling.to_dict() | {"seed": seed},
            "model_sha256": "0" * 64, "model_path": self._model_path, "n_ctx": self._n_ctx,
            "n_threads": 2, "n_threads_batch": 2, "n_gpu_layers": 0,
            "versions": {"chatapp": "scripted"},
            "records_blob": blob, "records_encode_ms": round(self.script.encode_ms, 2),
        })


# -- part 1: streaming through the window --------------------------------------------------------


class _Carriers(QObject):
    """Signals declared the two ways an event dict can cross: `Signal(dict)`, as EngineService
    declares its signals, and `Signal(object)`."""

    as_dict = Signal(dict)
    as_object = Signal(object)


def signal_cost_us(event: dict[str, Any], n: int = 500, rounds: int = 3) -> dict[str, float]:
    """Microseconds per event, on the calling (GUI) thread, of emitting `event` through a
    direct `Signal(dict)` (EngineService's relay), and of receiving it from another thread
    through a queued `Signal(dict)` (the reader thread's hop); each against `Signal(object)`.

    PySide6 converts a dict through a QVariantMap at each `Signal(dict)` emission, nested lists
    and all: the stage records make that the costly part of a token event's trip.
    """
    carriers = _Carriers()
    received: list[object] = []
    costs: dict[str, float] = {}
    # The best of a few rounds: a garbage collection in a round says nothing about signals.
    for name in ("as_dict", "as_object") * rounds:
        signal = getattr(carriers, name)
        signal.connect(received.append)
        # CPU time throughout: other processes share the cores and must not count.
        start = time.thread_time()
        for _ in range(n):
            signal.emit(event)
        cost = (time.thread_time() - start) / n * 1e6
        costs[f"direct {name}"] = min(cost, costs.get(f"direct {name}", cost))
        signal.disconnect()
        received.clear()
        signal.connect(received.append, Qt.ConnectionType.QueuedConnection)
        sent: list[float] = []

        def send(signal: Any = signal, sent: list[float] = sent) -> None:
            start = time.thread_time()
            for _ in range(n):
                signal.emit(event)
            sent.append((time.thread_time() - start) / n * 1e6)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join()
        costs[f"sender {name}"] = min(sent[0], costs.get(f"sender {name}", sent[0]))
        # (and the wait's own poll period does not count either)
        start = time.thread_time()
        wait_until(lambda: len(received) >= n, 30, "queued events")
        cost = (time.thread_time() - start) / n * 1e6
        costs[f"queued {name}"] = min(cost, costs.get(f"queued {name}", cost))
        signal.disconnect()
        received.clear()
    return costs


@dataclass
class Render:
    """One call of the streaming view's render, as timed by the benchmark."""

    at: float
    tokens: int
    seconds: float


@dataclass
class Watch:
    """What the window received, seen from a slot connected after the window's own (so each
    event reaches it once the window has handled it).

    Attributes:
        window: the window whose streaming card gets its renders timed.
        token_times: when each token event was handled, perf_counter() seconds.
        handling: seconds the window's own handler spent on each token event.
        renders: the streaming card's render calls.
        loaded: True once a `loaded` event arrived.
        done: the last `done` event, with when it arrived.
        card: the streaming card whose renders are timed.
    """

    window: MainWindow | None = None
    token_times: list[float] = field(default_factory=list)
    handling: list[float] = field(default_factory=list)
    renders: list[Render] = field(default_factory=list)
    loaded: bool = False
    done: dict[str, Any] | None = None
    done_at: float = 0.0
    card: MessageCard | None = None

    def attach(self, engine: EngineService, window: MainWindow, *, time_handler: bool) -> None:
        """Follow the events after the window has handled them; with `time_handler`, also time
        the window's handler."""
        self.window = window
        if time_handler:
            # The window's handler is swapped for a timed call of itself.
            engine.sig_event.disconnect(window._on_event)
            engine.sig_event.connect(self._timed_handler)
        # Qt calls slots in the order they were connected: this one comes after the window's.
        engine.sig_event.connect(self._on_event)

    def _timed_handler(self, event: dict[str, Any]) -> None:
        assert self.window is not None
        start = time.perf_counter()
        self.window._on_event(event)
        if event["type"] == "token":
            self.handling.append(time.perf_counter() - start)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "token":
            self.token_times.append(time.perf_counter())
            if self.card is None:
                self._time_renders()
        elif kind == "done":
            self.done, self.done_at = event, time.perf_counter()
        elif kind == "loaded":
            self.loaded = True

    def _time_renders(self) -> None:
        """Wrap the streaming card view's render (its timer's slot and the attribute that
        `flush` calls) with a timer of its own."""
        assert self.window is not None
        card = self.window.chat.streaming_card()
        if card is None:
            return
        self.card = card
        view = card.view
        render = view._render_pending

        def timed(time_limit: float | None = SLICE_S) -> None:
            start = time.perf_counter()
            render(time_limit)
            self.renders.append(Render(start, len(self.token_times),
                                       time.perf_counter() - start))

        view._timer.timeout.disconnect()
        view._timer.timeout.connect(timed)
        view._render_pending = timed  # type: ignore[method-assign]


@dataclass
class StreamResult:
    """Part 1's figures (times in ms unless named otherwise)."""

    tokens: int
    characters: int
    rate_delivered: float
    latency: tuple[float, float, float]
    stall_whole: tuple[float, float, float]
    stall_sending: tuple[float, float, float]
    stall_streaming: tuple[float, float, float]
    stall_finishing: tuple[float, float, float]
    finishing_ms: float
    render_calls: tuple[int, int]
    render_mean: tuple[float, float]
    render_total: tuple[float, float]
    handling_mean: tuple[float, float]
    busy_share: tuple[float, float]
    busy_share_streaming: float
    rss_before: float
    rss_after: float
    peak_rss: float
    worst: list[str]
    gc: tuple[int, int, float, float]
    tracked: tuple[int, int, int]
    gc_count: tuple[int, int, int]
    signal_us: dict[str, float]
    checks: dict[str, bool]
    notes: list[str]


def _segment(times: list[float], fraction_start: float, fraction_end: float) -> tuple[float, float]:
    """The time span of the token events from one fraction of the reply to another."""
    n = len(times)
    first = times[min(n - 1, int(fraction_start * n))]
    last = times[min(n - 1, max(0, int(fraction_end * n) - 1))]
    return first, last


def stream_through_window(tokens: int, rate: float, seed: int, profile: bool) -> StreamResult:
    """Part 1: stream the scripted reply into a real window and measure it."""
    print(f"[1] building a {tokens}-token scripted reply with stage records ...", flush=True)
    script = make_script(tokens, seed)
    notes: list[str] = []
    with data_folder("stream"):
        store = StoreService()
        engine = ScriptedEngine(script, rate)
        window = MainWindow(engine, store, SCRATCH / "SmolLM2-135M-Instruct.Q4_1.gguf")
        watch = Watch()
        watch.attach(engine, window, time_handler=True)
        window.resize(*WINDOW_SIZE)
        window.show()
        wait_until(lambda: store.is_open and watch.loaded, 30, "the store and the model")
        barrier(store)  # the restore-at-start query ran: the window is settled
        # What the app does 300 ms after start (chatapp/app.py), before any message can be
        # sent: Markdown and the code highlighter load once (~50 ms), not at the first card.
        warm_up()
        heartbeat = Heartbeat()
        heartbeat.start()
        wait_until(lambda: len(heartbeat.times) >= 30, 10, "a calm stretch before sending")
        rss_before = rss_mb()
        tracked_before = len(gc.get_objects())
        profiler = cProfile.Profile() if profile else None
        print(f"[1] sending; the reply streams at {rate:.0f} tokens/s ...", flush=True)
        t_send = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        with GcPauses() as collections:
            window.composer.setPlainText(STREAM_PROMPT)
            window.send()
            wait_until(lambda: watch.done is not None, tokens / rate * 4 + 60,
                       "the reply's end")
            t_done = watch.done_at
            # The save of `done`, the card's finish and the window's reload, in the store's
            # order.
            barrier(store)
            barrier(store)
            wait_until(lambda: window.chat.streaming_card() is None
                       and not any(c.view.rendering for c in window.chat.cards), 30,
                       "the finished reply to render")
            t_settled = time.perf_counter()
        if profiler is not None:
            profiler.disable()
        wait_until(lambda: time.perf_counter() > t_settled + 0.1, 5, "a last beat")
        heartbeat.stop()
        rss_after = rss_mb()
        peak = peak_rss_mb()
        # What every full collection has to walk now that the reply is saved and shown (the
        # window, the panel and the store still hold it): as found, then once the garbage
        # that was waiting for a collection is gone.
        gc_count = gc.get_count()
        tracked_after = len(gc.get_objects())
        gc.collect()
        tracked = (tracked_before, tracked_after, len(gc.get_objects()))

        # What the store saved, against what was streamed.
        cid = window.conversation_id
        assert cid is not None
        path = query(store, lambda s: s.active_path(cid), "the saved conversation")
        reply: Message = path[-1]
        records = query(store, lambda s: s.token_records(reply.id), "the saved records")
        streamed = script.text
        checks = {
            "the prompt reached the engine":
                engine.last_prompt[-1:] == [{"role": "user", "content": STREAM_PROMPT}],
            "every token event reached the window": len(watch.token_times) == tokens,
            "the window showed the whole reply":
                window.chat.cards[-1].view.markdown == streamed,
            "the store saved the full reply text (== the concatenated deltas)":
                reply.content == streamed,
            "the saved reply is complete": reply.status == "complete",
            "the store saved one record per token": records is not None
                and len(records) == tokens,
        }
        if watch.card is not None and window.chat.streaming_card() not in (None, watch.card):
            notes.append("the streaming card was replaced while streaming: renders of the "
                         "replacement were not timed")
        window.close()
        engine.shutdown()
        store.close()
        window.deleteLater()
    signal_us = signal_cost_us(protocol.decode(script.lines[len(script.lines) // 2],
                                               protocol.EVENTS, "type"))

    if profiler is not None:
        print("\n[1] GUI thread profile, send to settled (top 30 by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)

    times = watch.token_times
    n = len(times)
    sent = engine.sent_at
    latency = [(got - out) * 1000 for got, out in zip(times, sent, strict=False)]
    early = _segment(times, 0.0, 0.2)
    late = _segment(times, 0.8, 1.0)
    early_renders = [r.seconds * 1000 for r in watch.renders if early[0] <= r.at <= early[1]]
    late_renders = [r.seconds * 1000 for r in watch.renders if late[0] <= r.at <= late[1]]
    k20, k80 = max(1, n // 5), n - max(1, n // 5)
    # Where the longest stalls fell: time since send, and how far the reply had come.
    gc_at = {round(start, 4): (gen, sec) for gen, start, sec in collections.pauses}

    def during(a: float, b: float) -> str:
        # A collection inside the gap explains the stall (it holds the GIL).
        inside = [f"gen{gen} GC {sec * 1000:.0f} ms" for start, (gen, sec) in gc_at.items()
                  if a <= start <= b and sec > 0.005]
        return f", {', '.join(inside)}" if inside else ""

    worst = [f"{stall:.0f} ms at {(a - t_send) * 1000:+.0f} ms "
             f"({sum(1 for t in times if t <= b)} tokens in{during(a, b)})"
             for stall, a, b in heartbeat.worst(t_send, t_settled, 5)]
    full = [sec * 1000 for gen, _, sec in collections.pauses if gen == 2]
    gc_summary = (len(collections.pauses), len(full), max(full, default=0.0), sum(full))
    return StreamResult(
        tokens=n, characters=len(script.text),
        rate_delivered=(n - 1) / (times[-1] - times[0]) if n > 1 else 0.0,
        latency=spread(latency),
        stall_whole=spread(heartbeat.stalls_ms(t_send, t_settled)),
        stall_sending=spread(heartbeat.stalls_ms(t_send, times[0] if times else t_done)),
        stall_streaming=spread(heartbeat.stalls_ms(times[0] if times else t_send, t_done)),
        stall_finishing=spread(heartbeat.stalls_ms(t_done, t_settled)),
        finishing_ms=(t_settled - t_done) * 1000,
        render_calls=(len(early_renders), len(late_renders)),
        render_mean=(statistics.fmean(early_renders) if early_renders else float("nan"),
                     statistics.fmean(late_renders) if late_renders else float("nan")),
        render_total=(sum(early_renders), sum(late_renders)),
        handling_mean=(statistics.fmean(watch.handling[:k20]) * 1000,
                       statistics.fmean(watch.handling[k80:]) * 1000),
        busy_share=(heartbeat.busy_share(*early), heartbeat.busy_share(*late)),
        busy_share_streaming=heartbeat.busy_share(times[0], times[-1]) if n > 1 else 0.0,
        rss_before=rss_before, rss_after=rss_after, peak_rss=peak,
        worst=worst, gc=gc_summary, tracked=tracked, gc_count=gc_count, signal_us=signal_us,
        checks=checks, notes=notes,
    )


def print_stream(r: StreamResult, rate: float) -> None:
    """Part 1's figures."""
    def trio(values: tuple[float, float, float]) -> str:
        return f"p50 {values[0]:.1f} / p99 {values[1]:.1f} / max {values[2]:.1f} ms"

    print(f"\n[1] streaming through the window: {r.tokens} token events, {r.characters} "
          f"characters, played at {rate:.0f} tokens/s")
    print(f"  delivered to the window: {r.rate_delivered:.1f} tokens/s; emit-to-window latency "
          f"{trio(r.latency)}")
    print(f"  GUI stalls, whole reply (send to saved & shown): {trio(r.stall_whole)}")
    print(f"    sending (send to first token):  {trio(r.stall_sending)}")
    print(f"    streaming (first token to done): {trio(r.stall_streaming)}")
    print(f"    finishing (done to saved & shown, {r.finishing_ms:.0f} ms): "
          f"{trio(r.stall_finishing)}")
    print(f"  longest stalls: {'; '.join(r.worst)}")
    print(f"  Python GC, send to settled: {r.gc[0]} collections, {r.gc[1]} of the oldest "
          f"generation: longest {r.gc[2]:.0f} ms, {r.gc[3]:.0f} ms in all")
    print(f"  GC-tracked objects: {r.tracked[0]:,} before sending, {r.tracked[1]:,} once "
          f"settled ({r.tracked[2]:,} after a full collection); gc.get_count() once settled "
          f"{r.gc_count}")
    print(f"  streaming card renders, first vs last 20% of the reply: "
          f"{r.render_calls[0]} vs {r.render_calls[1]} calls, mean {r.render_mean[0]:.2f} vs "
          f"{r.render_mean[1]:.2f} ms, total {r.render_total[0]:.0f} vs "
          f"{r.render_total[1]:.0f} ms")
    print(f"  window's handler per token event, first vs last 20%: {r.handling_mean[0]:.3f} vs "
          f"{r.handling_mean[1]:.3f} ms")
    c = r.signal_us
    print(f"  one token event through a Signal(dict), GUI thread: direct emit "
          f"{c['direct as_dict']:.0f} us (Signal(object): {c['direct as_object']:.0f} us), "
          f"queued delivery {c['queued as_dict']:.0f} us ({c['queued as_object']:.0f} us); "
          f"the emitting thread's side of the queued hop {c['sender as_dict']:.0f} us "
          f"({c['sender as_object']:.0f} us)")
    print(f"  GUI thread busy (CPU time / wall time): {r.busy_share_streaming:.0%} while "
          f"streaming; first vs last 20%: {r.busy_share[0]:.0%} vs {r.busy_share[1]:.0%}")
    print(f"  memory: RSS {r.rss_before:.0f} MiB before sending, {r.rss_after:.0f} MiB after; "
          f"peak {r.peak_rss:.0f} MiB")
    for name, ok in r.checks.items():
        print(f"  check: {name}: {'yes' if ok else 'NO'}")
    for note in r.notes:
        print(f"  note: {note}")


# -- part 2: generation speed, GUI vs headless ---------------------------------------------------


@dataclass
class SpeedResult:
    """Part 2's figures: tokens/s of each measured run, and the generated token counts."""

    model: str
    headless: list[float]
    gui: list[float]
    headless_tokens: list[int]
    gui_tokens: list[int]

    @property
    def ratio(self) -> float:
        """Median GUI speed over median headless speed."""
        return statistics.median(self.gui) / statistics.median(self.headless)


def _headless_run(client: EngineClient) -> tuple[float, int]:
    """One reply through EngineClient alone; its tokens/s and token count."""
    done: dict[str, Any] = {}
    # The same records and candidates as the window's EngineService asks for, so that the
    # comparison isolates the window.
    for event in client.generate([{"role": "user", "content": SPEED_PROMPT}], SPEED_SAMPLING,
                                 records=True, top_n=20):
        if event["type"] == "done":
            done = event
    return float(done["tokens_per_s"]), int(done["generated_tokens"])


def _gui_run(window: MainWindow, store: StoreService, watch: Watch) -> tuple[float, int]:
    """One reply in the window, in a new greedy conversation (the prompt is the same every
    time); its tokens/s and token count from `last_summary`."""
    sampling = SPEED_SAMPLING.to_dict()
    conversation: Conversation = write(
        store, lambda s: s.create_conversation(sampling=sampling), "a new conversation")
    window.open_conversation(conversation.id)
    barrier(store)  # the conversation is shown
    watch.done = None
    window.composer.setPlainText(SPEED_PROMPT)
    window.send()
    wait_until(lambda: watch.done is not None, 300, "the reply")
    barrier(store)
    barrier(store)
    summary = window.last_summary
    assert summary is not None and window.conversation_id == conversation.id
    return float(summary["tokens_per_s"]), int(summary["generated_tokens"])


def generation_speed(model: Path, reps: int) -> SpeedResult:
    """Part 2: the same greedy reply headless and in the window, interleaved."""
    with data_folder("speed") as folder:
        store = StoreService()
        engine = EngineService(log_path=folder / "gui-engine.log")
        engine.start()
        window = MainWindow(engine, store, model)
        client = EngineClient(log_path=folder / "headless-engine.log")
        client.start()
        # The load settings the window's load_model uses (context, threads, GPU layers).
        client.load(model, **window.app_settings.engine_load_kwargs())
        watch = Watch()
        # Nothing in the window's path is wrapped here: this part measures the real thing.
        watch.attach(engine, window, time_handler=False)
        window.resize(*WINDOW_SIZE)
        window.show()
        wait_until(lambda: store.is_open and watch.loaded, 300, "the model to load")
        barrier(store)
        result = SpeedResult(model.name, [], [], [], [])
        try:
            print(f"[2] warming up, then {reps} x (headless, GUI) ...", flush=True)
            _headless_run(client)
            _gui_run(window, store, watch)
            for rep in range(reps):
                # Interleaved, so that machine noise hits both paths alike.
                speed, n = _headless_run(client)
                result.headless.append(speed)
                result.headless_tokens.append(n)
                speed, n = _gui_run(window, store, watch)
                result.gui.append(speed)
                result.gui_tokens.append(n)
                print(f"    rep {rep + 1}: headless {result.headless[-1]:.1f}, GUI "
                      f"{result.gui[-1]:.1f} tokens/s", flush=True)
        finally:
            window.close()
            engine.shutdown()
            store.close()
            client.shutdown()
            window.deleteLater()
    return result


def print_speed(r: SpeedResult) -> None:
    """Part 2's figures."""
    print(f"\n[2] generation speed, {r.model}, greedy, {SPEED_SAMPLING.max_tokens} tokens max, "
          f"{len(r.gui)} reps")
    print(f"  headless (EngineClient): median {statistics.median(r.headless):.1f} tokens/s "
          f"{[round(x, 1) for x in r.headless]}, tokens {r.headless_tokens}")
    print(f"  GUI (MainWindow):        median {statistics.median(r.gui):.1f} tokens/s "
          f"{[round(x, 1) for x in r.gui]}, tokens {r.gui_tokens}")
    print(f"  GUI / headless: {r.ratio:.3f}")


# -- part 3: cold start --------------------------------------------------------------------------


@dataclass
class ColdResult:
    """Part 3's figures: seconds from spawn to each stage, per measured run."""

    with_model: bool
    first_start: dict[str, float]
    runs: list[dict[str, float]]

    def stage(self, name: str) -> list[float]:
        """That stage's seconds over the measured runs."""
        return [run[name] for run in self.runs if name in run]


_PROBE_LINE = re.compile(r"^chatapp-(\w+) ([0-9.]+)$")


def _spawn_app(env: dict[str, str]) -> dict[str, float]:
    """Start `python -m chatapp` with the startup probe; its stages' seconds since the spawn."""
    spawned_at = time.time()
    # The probe subtracts this from its own clock: the figure includes the interpreter's start.
    env = env | {"CHATAPP_STARTUP_PROBE": f"{spawned_at:.6f}"}
    proc = subprocess.run([sys.executable, "-m", "chatapp"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    stages = {m[1]: float(m[2]) for line in proc.stdout.splitlines()
              if (m := _PROBE_LINE.match(line.strip()))}
    if "interactive" not in stages:
        raise RuntimeError(f"the app printed no probe (exit code {proc.returncode}): "
                           f"{proc.stdout[-500:]} {proc.stderr[-1500:]}")
    return stages


def cold_start(runs: int, model: Path | None) -> ColdResult:
    """Part 3: spawn the app `runs` times (after one first start in a new data folder)."""
    folder = SCRATCH / "cold"
    if model is not None:
        # Installed the way `chatapp models starter` installs it, so that the app loads it at
        # start as it does for a user (a link: the file is 98 MB).
        (folder / "models").mkdir(parents=True, exist_ok=True)
        (folder / "models" / model.name).symlink_to(model)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATAPP_BENCH_")}
    env |= {"CHATAPP_DATA_DIR": str(folder), "CHATAPP_CONFIG_DIR": str(SCRATCH / "cold-config")}
    print(f"[3] spawning `python -m chatapp` 1 + {runs} times ...", flush=True)
    # The first start creates the database (and hashes the model): reported on its own.
    first = _spawn_app(env)
    return ColdResult(model is not None, first, [_spawn_app(env) for _ in range(runs)])


def print_cold(r: ColdResult) -> None:
    """Part 3's figures."""
    model = "the starter model installed" if r.with_model else "no model installed"
    print(f"\n[3] cold start (`python -m chatapp`, offscreen, {model}), seconds from spawn:")
    labels = {"shown": "window.show() returned",
              "interactive": "event loop running (QTimer.singleShot(0) after show)",
              "painted": "first paint (the window's first Paint event)"}
    for stage, label in labels.items():
        values = r.stage(stage)
        if values:
            print(f"  {label:<55} median {statistics.median(values):.3f}, max {max(values):.3f} "
                  f"{[round(v, 3) for v in values]}")
    first = ", ".join(f"{k} {v:.3f}" for k, v in r.first_start.items())
    print(f"  first start in a new data folder (not counted): {first}")
    order = [sorted(run, key=run.__getitem__) for run in r.runs]
    print(f"  order of the stages: {sorted({' < '.join(o) for o in order})}")
    early = sum(1 for run in r.runs if run.get("interactive", 0) < run.get("painted", 0))
    if early:
        # Worth saying: a zero timer after show() is often taken to run after the first paint.
        print(f"  note: in {early} of {len(r.runs)} runs the zero timer ran BEFORE the first "
              f"paint: on this platform QTimer.singleShot(0) after show() does not wait for "
              f"it, and whatever a zero timer does at start delays the first paint")


# -- summary -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary: a figure, its target and whether it met it."""

    figure: str
    value: str
    target: str
    ok: bool | None  # None: no target (information only)


def summary_rows(stream: StreamResult | None, speed: SpeedResult | None,
                 cold: ColdResult | None) -> list[Row]:
    """The summary's rows for the parts that ran."""
    rows: list[Row] = []
    if stream is not None:
        p99, worst = stream.stall_whole[1], stream.stall_whole[2]
        mean_ratio = stream.render_mean[1] / stream.render_mean[0]
        busy_ratio = stream.busy_share[1] / stream.busy_share[0]
        rows += [
            Row("stream: GUI stall p99 (whole reply)", f"{p99:.1f} ms", "<= 16 ms", p99 <= 16),
            Row("stream: GUI stall max (whole reply)", f"{worst:.1f} ms", "<= 50 ms",
                worst <= 50),
            Row("stream: tokens/s delivered to the window", f"{stream.rate_delivered:.1f}",
                ">= 200", stream.rate_delivered >= 200),
            Row("stream: render ms per update, last/first 20%", f"{mean_ratio:.2f}x", "<= 2x",
                mean_ratio <= 2),
            Row("stream: GUI thread busy, last/first 20%", f"{busy_ratio:.2f}x", "<= 2x",
                busy_ratio <= 2),
            Row("stream: saved reply == streamed text",
                "yes" if stream.checks["the store saved the full reply text (== the "
                                       "concatenated deltas)"] else "no", "yes",
                all(stream.checks.values())),
            Row("stream: peak RSS", f"{stream.peak_rss:.0f} MiB", "-", None),
        ]
    if speed is not None:
        rows.append(Row("speed: GUI / headless tokens/s (median)", f"{speed.ratio:.3f}",
                        ">= 0.95", speed.ratio >= 0.95))
    if cold is not None:
        for stage, name in (("interactive", "interactive (singleShot 0)"),
                            ("painted", "first paint")):
            values = cold.stage(stage)
            if values:
                med, worst = statistics.median(values), max(values)
                rows += [Row(f"cold start: {name}, median", f"{med:.3f} s", "<= 1.5 s",
                             med <= 1.5),
                         Row(f"cold start: {name}, max", f"{worst:.3f} s", "<= 1.5 s",
                             worst <= 1.5)]
    return rows


def print_summary(rows: list[Row]) -> None:
    """The rows as a table."""
    width = max(len(r.figure) for r in rows)
    print(f"\nsummary\n  {'figure':<{width}}  {'value':>10}  {'target':>9}  result")
    for r in rows:
        result = "-" if r.ok is None else "PASS" if r.ok else "FAIL"
        print(f"  {r.figure:<{width}}  {r.value:>10}  {r.target:>9}  {result}")


def main() -> int:
    """Parse the arguments, run the parts, print; non-zero only with --check and a FAIL."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, help="tokens in the scripted reply (4000)")
    parser.add_argument("--rate", type=float, default=250.0, help="scripted tokens per second")
    parser.add_argument("--reps", type=int, help="generations per path in part 2 (3)")
    parser.add_argument("--cold-runs", type=int, help="measured app starts in part 3 (5)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the scripted reply")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller run for debugging: 1000 tokens, 1 rep, 2 starts")
    parser.add_argument("--only", action="append", choices=("stream", "speed", "cold"),
                        help="run only this part (repeatable)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the GUI thread during part 1 (the stalls then grow)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    tokens = args.tokens or (1000 if args.quick else 4000)
    reps = args.reps or (1 if args.quick else 3)
    cold_runs = args.cold_runs or (2 if args.quick else 5)
    parts = set(args.only or ("stream", "speed", "cold"))

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    # Closing a part's window must not end the waits of the next part.
    app.setQuitOnLastWindowClosed(False)
    print(f"platform: {QApplication.platformName()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}; scratch folder {SCRATCH}")
    model = user_starter_model()
    stream = speed = cold = None
    try:
        if "stream" in parts:
            stream = stream_through_window(tokens, args.rate, args.seed, args.profile)
            print_stream(stream, args.rate)
        if "speed" in parts:
            if model is None:
                print("\n[2] skipped: the starter model is not installed "
                      "(`chatapp models starter`)")
            else:
                speed = generation_speed(model, reps)
                print_speed(speed)
        if "cold" in parts:
            cold = cold_start(cold_runs, model)
            print_cold(cold)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    rows = summary_rows(stream, speed, cold)
    print_summary(rows)
    return 1 if args.check and any(r.ok is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
