"""Remote benchmark: tokens/s through an OpenAI-compatible server vs the local model process,
same model, prompt and greedy settings, measured the same way at the client.

Run:  .venv/bin/python benchmarks/remote.py [--remote URL [--model ID] [--api-key KEY]]
                                            [--local FILE] [--tokens 64] [--reps 3]

Without --remote, llama-cpp-python's server is started on 127.0.0.1 with the local model file
(the starter model by default), with the same thread count as the local model process, so the
two figures differ only by the path: HTTP + server-sent events vs the model process's pipe.
With --remote, the figure is for that server (whatever model it runs; --local still names the
file the local side loads).  Each rep is one reply on each side, interleaved, with a fresh
system line (no prompt cache across reps); the median of the reps is printed.  Two modes: plain
(no per-token records), and with records — top-20 logprobs from the server, the sampler probes
locally — which is what the app asks for.

tokens/s here: (tokens - 1) / (time from the first token event to `done`), at the client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient
from chatapp.engine.remote import RemoteEngine


def messages(rep: int) -> list[dict[str, str]]:
    """A different system line per rep; the same conversation on both sides."""
    return [
        {"role": "system", "content": f"Session {rep}. You are a storyteller who writes at "
                                      "length."},
        {"role": "user", "content": "Tell a long, detailed story about a lighthouse keeper "
                                    "and a storm, with many characters and places."},
    ]


def measure(events: Any) -> tuple[float, int, float]:
    """(client tokens/s, tokens, the engine's own tokens/s) of one reply's events."""
    first: float | None = None
    n = 0
    for event in events:
        if event["type"] == "token":
            n += 1
            if first is None:
                first = time.perf_counter()
        elif event["type"] == "done":
            end = time.perf_counter()
            rate = 0.0
            if first is not None and n > 1 and end > first:
                rate = (n - 1) / (end - first)
            return rate, n, float(event.get("tokens_per_s") or 0.0)
    raise RuntimeError("no done event")


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--remote", help="base URL of a running OpenAI-compatible server")
    parser.add_argument("--model", default="", help="model id on the server (default: the "
                        "only one it serves)")
    parser.add_argument("--api-key", default=os.environ.get("CHATAPP_API_KEY"),
                        help="the server's API key (default: $CHATAPP_API_KEY)")
    parser.add_argument("--local", type=Path, help="local model file (default: the starter)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of the local model process and of a server started here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chatapp-bench-remote-"))
    from chatapp.models.starter import install_starter
    from tests.engine.test_remote import LlamaServer

    local_model = args.local or install_starter(log=False)
    started: LlamaServer | None = None
    url = args.remote
    if url is None:
        started = LlamaServer(local_model, work / "server.log", alias=local_model.name,
                              api_key=None, threads=args.threads).start()
        url = started.url
    sampling = SamplingSettings(temperature=0.0, max_tokens=args.tokens, seed=1)
    results: dict[tuple[str, bool], list[tuple[float, int, float]]] = {}
    try:
        with EngineClient() as local, RemoteEngine() as remote:
            local.load(local_model, n_ctx=2048, n_threads=args.threads,
                       n_threads_batch=args.threads)
            model = remote.load(url, args.model, args.api_key)["model"]
            print(f"server: {model['endpoint']}, model {model['name']}"
                  f"{' (started here)' if started else ''}")
            print(f"local:  {local_model.name}, {args.threads} thread(s)")
            print(f"greedy, up to {args.tokens} tokens, median of {args.reps}\n")
            # One unmeasured reply each: first-use costs (page faults, allocations).
            measure(local.generate(messages(-1), sampling, records=False))
            measure(remote.generate(messages(-1), sampling, records=False))
            for records in (False, True):
                for rep in range(args.reps):
                    for side, engine in (("local", local), ("remote", remote)):
                        run = measure(engine.generate(messages(rep), sampling,
                                                      records=records, top_n=20))
                        results.setdefault((side, records), []).append(run)
    finally:
        if started is not None:
            started.stop()

    print(f"{'mode':<14}{'side':<8}{'tok/s (client)':>16}{'tok/s (engine)':>16}{'tokens':>8}")
    for records in (False, True):
        rates = {}
        for side in ("local", "remote"):
            runs = results[(side, records)]
            rate = statistics.median(r[0] for r in runs)
            rates[side] = rate
            print(f"{'records' if records else 'plain':<14}{side:<8}{rate:>16.1f}"
                  f"{statistics.median(r[2] for r in runs):>16.1f}"
                  f"{statistics.median(r[1] for r in runs):>8.0f}")
        if rates["local"] > 0:
            print(f"{'':<14}remote / local: {rates['remote'] / rates['local']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
