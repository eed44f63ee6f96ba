"""Attention capture benchmark: all layers and heads of 512 tokens, against a plain decode.

Run:  .venv/bin/python benchmarks/attention.py [--model FILE] [--tokens 512] [--reps 3]
                                              [--threads N]

Measures, in this run and on this machine:
- capture: `capture_attention` (its own context, the instrumented decode, the copies), all
  layers × all heads, `--reps` times; median and max seconds against the 3 s target;
- baseline: a plain decode of the same tokens in a context built the same way but without the
  eval callback (interleaved with the captures, so machine noise hits both alike); the ratio;
- the NPZ file the model process would write (size, write time), and the process's peak
  resident memory;
- end to end: the `attention` op through the model process (capture + NPZ + event), once.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import llama_cpp

from chatapp.engine.attention import capture_attention, capture_threads, save_npz
from chatapp.engine.runtime import LoadedModel, LoadSettings, install_log_handler

TARGET_S = 3.0
TEXT = ("The lighthouse keeper climbed the spiral stairs at dusk, counting each step as his "
        "father had taught him, while the storm gathered over the grey water and the gulls "
        "fell silent one by one. ")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def plain_decode(model: LoadedModel, tokens: list[int]) -> float:
    """Seconds for the same context setup and decode, without the eval callback."""
    t0 = time.perf_counter()
    params = llama_cpp.llama_context_default_params()
    chunk = min(len(tokens), model.settings.n_batch)
    params.n_ctx = -(-len(tokens) // 256) * 256
    params.n_batch = params.n_ubatch = chunk
    params.n_seq_max = 1
    # The same threads as a capture uses (every core), so that the ratio compares like with like.
    params.n_threads = params.n_threads_batch = capture_threads(model.threads.n_threads_batch)
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    params.no_perf = True
    ctx = llama_cpp.llama_init_from_model(model.model_ptr, params)
    assert ctx, "no context"
    try:
        for s in range(0, len(tokens), chunk):
            part = tokens[s:s + chunk]
            arr = (llama_cpp.llama_token * len(part))(*part)
            rc = llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(part)))
            assert rc == 0, rc
    finally:
        llama_cpp.llama_free(ctx)
    return time.perf_counter() - t0


def end_to_end(model_path: Path, tokens: list[int], threads: int | None) -> dict[str, Any]:
    from chatapp.engine.client import EngineClient

    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, CHATAPP_DATA_DIR=folder)
        with EngineClient(env=env) as client:
            client.load(model_path, n_ctx=512, n_threads=threads, n_threads_batch=threads)
            t0 = time.perf_counter()
            event = client.attention(tokens=tokens, max_tokens=len(tokens))
            seconds = time.perf_counter() - t0
            size = Path(event["path"]).stat().st_size
    return {"seconds": seconds, "capture_ms": event["capture_ms"], "npz_bytes": size,
            "left_out": event["left_out"]}


def main() -> int:
    from chatapp.models.starter import starter_path

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads (default: the app's choice, which leaves a core free)")
    args = ap.parse_args()
    model_path = args.model or starter_path()
    install_log_handler()  # llama.cpp's INFO chatter off, as in the model process
    model = LoadedModel(LoadSettings(path=str(model_path), n_ctx=512, n_threads=args.threads,
                                     n_threads_batch=args.threads))
    tokens = model.tokenize(TEXT * (1 + args.tokens // 30))[:args.tokens]
    assert len(tokens) == args.tokens, "text too short"
    n_layer = int(llama_cpp.llama_model_n_layer(model.model_ptr))
    n_head = int(llama_cpp.llama_model_n_head(model.model_ptr))
    print(f"model: {model_path.name} ({n_layer} layers x {n_head} heads), {len(tokens)} tokens, "
          f"capture threads {capture_threads(model.threads.n_threads_batch)} "
          f"(chat uses {model.threads.n_threads_batch}), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    rss_loaded = rss_mb()

    plain_decode(model, tokens[:32])  # warm-up: first-use costs out of the figures
    captures: list[float] = []
    plains: list[float] = []
    cap = None
    for rep in range(args.reps):
        plains.append(plain_decode(model, tokens))
        del cap  # free the previous result first: peak memory is one capture's
        t0 = time.perf_counter()
        cap = capture_attention(model, tokens)
        captures.append(time.perf_counter() - t0)
        print(f"  rep {rep + 1}: capture {captures[-1]:.2f} s, plain decode {plains[-1]:.2f} s")
    assert cap is not None and cap.left_out is None, cap and cap.left_out
    peak = peak_mb()

    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        path = save_npz(cap, Path(folder) / "bench.npz")
        write_s = time.perf_counter() - t0
        npz_bytes = path.stat().st_size

    med, worst = statistics.median(captures), max(captures)
    plain_med = statistics.median(plains)
    print(f"capture, all {n_layer}x{n_head} heads, {len(tokens)} tokens: median {med:.2f} s, "
          f"max {worst:.2f} s (target <= {TARGET_S:.0f} s: "
          f"{'met' if worst <= TARGET_S else 'NOT met'})")
    print(f"plain decode (no callback), same tokens: median {plain_med:.2f} s; "
          f"capture / plain = {med / plain_med:.2f}x "
          f"(+{med - plain_med:.2f} s for the callback and the copies)")
    print(f"result: {cap.attention.nbytes / 2**20:.0f} MiB float32 {list(cap.shape)}; NPZ "
          f"{npz_bytes / 2**20:.0f} MiB, written in {write_s:.2f} s")
    print(f"memory: {rss_loaded:.0f} MiB resident with the model loaded, peak {peak:.0f} MiB "
          f"(+{peak - rss_loaded:.0f} MiB)")
    del cap
    model.close()

    e2e = end_to_end(model_path, tokens, args.threads)
    print(f"end to end (attention op: capture + NPZ + event): {e2e['seconds']:.2f} s "
          f"(capture {e2e['capture_ms'] / 1000:.2f} s), NPZ {e2e['npz_bytes'] / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
