"""Benchmark: a model on this machine vs the same model split over two workers on loopback.

Run:  .venv/bin/python benchmarks/rpc.py [--model FILE] [--tokens 128] [--reps 3] [--threads 1]
      [--json FILE]

Starts two `chatapp worker` processes on 127.0.0.1 (llama.cpp's RPC backend), loads the model
twice: in one model process on this machine's CPU, in another split over the two workers
("auto": by free memory), and measures both with the same greedy prompts, interleaved so that
machine noise hits both alike.  Prints prompt and generation tokens/s (medians of --reps runs),
time to the first token, and the split's ratio to the local figures.  Every figure is measured
in this run; the workers and both model processes share this machine's cores, so loopback
shows the protocol's cost (each token's computation crosses two TCP connections in turn), not
what more machines add.

Another figure can join the table (a remote server, for instance): `measure(label, reply)`
takes any callable `reply(messages, max_tokens)` that yields one item per generated token as it
arrives, and optionally, last, a dict {"type": "done", "prompt_tokens": INT, "prompt_ms": FLOAT}
(without it, prompt tokens/s is taken from the time to the first token and `prompt_tokens=`).
`run_benchmark(..., extra={"remote": reply})` puts it in the same table, interleaved with the
others.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatapp.core.sampling import SamplingSettings  # noqa: E402
from chatapp.engine.client import EngineClient  # noqa: E402

#: A reply to time: called with the messages and the most tokens to generate, it yields one
#: item per token as it arrives (anything), then optionally the `done` dict described above.
Reply = Callable[[list[dict[str, str]], int], Iterable[Any]]


@dataclass
class Run:
    """One measured reply."""

    prompt_tokens: int
    prompt_tok_s: float
    ttft_ms: float
    gen_tokens: int
    gen_tok_s: float


@dataclass
class Figures:
    """Medians over the runs of one path."""

    label: str
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float:
        """The median of one Run field."""
        return float(statistics.median(getattr(r, name) for r in self.runs))


def messages(rep: int) -> list[dict[str, str]]:
    """A different first line per rep (no run reuses another's prompt cache) and a prompt long
    enough for its processing to be measured; the same for every path."""
    return [
        {"role": "system",
         "content": f"Session {rep:04d}. You are a storyteller who writes at length, with many "
                    "characters, places, colours, sounds and small details of everyday life."},
        {"role": "user",
         "content": "Tell a long, detailed story about a lighthouse keeper, a storm that lasts "
                    "three days, a ship in trouble, the keeper's daughter, an old dog, a radio "
                    "that no longer works, and the village on the hill that watches the light. "
                    "Describe the sea, the weather, the tower, the lamp and the people, one "
                    "scene after another, and do not stop early."},
    ]


def measure_once(reply: Reply, msgs: list[dict[str, str]], max_tokens: int,
                 prompt_tokens: int | None = None) -> Run:
    """Time one reply from the outside: the first token's arrival, then every later one."""
    t0 = time.perf_counter()
    times: list[float] = []
    done: dict[str, Any] = {}
    for item in reply(msgs, max_tokens):
        if isinstance(item, dict) and item.get("type") == "done":
            done = item
        else:
            times.append(time.perf_counter())
    n_prompt = int(done.get("prompt_tokens") or prompt_tokens or 0)
    ttft = times[0] - t0 if times else float("nan")
    prompt_s = float(done["prompt_ms"]) / 1000 if done.get("prompt_ms") else ttft
    n = len(times)
    return Run(
        prompt_tokens=n_prompt,
        prompt_tok_s=n_prompt / prompt_s if n_prompt and prompt_s > 0 else float("nan"),
        ttft_ms=ttft * 1000,
        gen_tokens=n,
        gen_tok_s=(n - 1) / (times[-1] - times[0]) if n > 1 else float("nan"),
    )


def measure(label: str, reply: Reply, *, reps: int = 3, tokens: int = 128,
            prompt_tokens: int | None = None, first_rep: int = 0) -> Figures:
    """`reps` runs of one path (for a path measured on its own)."""
    figures = Figures(label)
    for rep in range(reps):
        figures.runs.append(measure_once(reply, messages(first_rep + rep), tokens, prompt_tokens))
    return figures


def engine_reply(client: EngineClient, texts: list[str] | None = None) -> Reply:
    """A loaded EngineClient as a Reply (greedy, records off); collects each reply's text."""
    def reply(msgs: list[dict[str, str]], max_tokens: int) -> Iterator[Any]:
        sampling = SamplingSettings(temperature=0.0, seed=1, max_tokens=max_tokens)
        for event in client.generate(msgs, sampling, records=False):
            if event["type"] == "done" and texts is not None:
                texts.append(event["text"])
            yield event
    return reply


# -- workers ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker(threads: int, log_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """`chatapp worker` on a free loopback port; returns once it says it is ready."""
    endpoint = f"127.0.0.1:{_free_port()}"
    err = open(log_dir / f"worker-{endpoint.replace(':', '_')}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatapp", "worker", "--listen", endpoint, "--threads",
         str(threads)], stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
        env=dict(os.environ, CHATAPP_DATA_DIR=str(log_dir / "data")))
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            raise SystemExit(f"the worker on {endpoint} ended: see {err.name}")
        if line.startswith("Ready:"):
            return proc, endpoint


def stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    """SIGTERM each (a worker exits 0 on it)."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- the benchmark --------------------------------------------------------------------------------


def run_benchmark(model: Path, *, tokens: int, reps: int, threads: int, ctx: int,
                  extra: dict[str, Reply] | None = None) -> dict[str, Any]:
    """Local vs two loopback workers (and `extra` paths), interleaved; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="chatapp-rpc-bench-") as tmp:
        procs: list[subprocess.Popen[str]] = []
        clients: list[EngineClient] = []
        try:
            endpoints = []
            for _ in range(2):
                proc, endpoint = start_worker(threads, Path(tmp))
                procs.append(proc)
                endpoints.append(endpoint)
            local, split = EngineClient(), EngineClient()
            clients += [local, split]
            local.start()
            split.start()
            local.load(model, n_ctx=ctx, n_threads=threads, n_threads_batch=threads)
            loaded = split.load(model, n_ctx=ctx, n_threads=threads, n_threads_batch=threads,
                                rpc=endpoints)
            texts: dict[str, list[str]] = {"local": [], "two workers": []}
            paths: dict[str, Reply] = {"local": engine_reply(local, texts["local"]),
                                       "two workers": engine_reply(split, texts["two workers"])}
            paths.update(extra or {})
            results = {name: Figures(name) for name in paths}
            for reply in paths.values():  # warm-up: first-use costs stay out of the runs
                measure_once(reply, messages(9999), 8)
            for name in texts:
                texts[name].clear()
            prompt_tokens: int | None = None
            for rep in range(reps):
                for name, reply in paths.items():
                    run = measure_once(reply, messages(rep), tokens, prompt_tokens)
                    prompt_tokens = prompt_tokens or run.prompt_tokens
                    results[name].runs.append(run)
        finally:
            for client in clients:
                client.shutdown()
            stop_workers(procs)
    return {"results": results, "placement": loaded["model"]["devices_used"],
            "same_text": texts["local"] == texts["two workers"], "endpoints": endpoints}


def main() -> int:
    """Run it and print the table."""
    from chatapp.models.starter import starter_path

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of each model process and each worker (default 1)")
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    model = args.model or starter_path()

    out = run_benchmark(model, tokens=args.tokens, reps=args.reps, threads=args.threads,
                        ctx=args.ctx)
    results: dict[str, Figures] = out["results"]
    print(f"model: {model.name}; {args.tokens} tokens a run, greedy; {args.reps} runs a path "
          f"(medians); {args.threads} thread(s) per model process and per worker; "
          f"{os.cpu_count()} cores")
    for dev in out["placement"]:
        where = dev["endpoint"] or "this machine"
        layers = f"layers {dev['layers'][0]}-{dev['layers'][1]}" if dev["layers"] else "-"
        print(f"  {dev['name']:<5} {where:<17} {layers:<13}"
              f"{'+ output ' if dev['output_layer'] else ''}"
              f"{(dev['weights_bytes'] or 0) / 1e6:.0f} MB of weights")
    print(f"same greedy text local and split: {'yes' if out['same_text'] else 'NO'}\n")
    base = results["local"]
    print(f"{'path':<14}{'prompt tok/s':>13}{'gen tok/s':>11}{'TTFT ms':>9}"
          f"{'prompt vs local':>17}{'gen vs local':>14}")
    figures: dict[str, Any] = {}
    for name, fig in results.items():
        prompt, gen, ttft = fig.median("prompt_tok_s"), fig.median("gen_tok_s"), \
            fig.median("ttft_ms")
        figures[name] = {"prompt_tok_s": prompt, "gen_tok_s": gen, "ttft_ms": ttft,
                         "prompt_ratio": prompt / base.median("prompt_tok_s"),
                         "gen_ratio": gen / base.median("gen_tok_s"),
                         "runs": [asdict(r) for r in fig.runs]}
        print(f"{name:<14}{prompt:>13.1f}{gen:>11.1f}{ttft:>9.1f}"
              f"{figures[name]['prompt_ratio']:>16.0%}{figures[name]['gen_ratio']:>14.0%}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "placement": out["placement"],
                                         "same_text": out["same_text"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
