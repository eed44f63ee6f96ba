"""Engine benchmark: a plain llama-cpp-python decode loop vs the full path through the model
process, same model, prompt, seed, sampler settings and threads; then thread choices under load.

Run:  .venv/bin/python benchmarks/engine.py [--model FILE] [--tokens 128] [--reps 5]

Prints figures and ratios measured in this run (medians over reps, raw and app interleaved so
that machine noise hits both alike).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient
from chatapp.engine.threads import choose_threads, llama_cpp_default_threads

SAMPLING = SamplingSettings(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05, seed=1234)


@dataclass
class Run:
    """One measured generation."""

    prompt_tokens: int
    prompt_tok_s: float
    ttft_ms: float
    gen_tokens: int
    gen_tok_s: float
    cached_tokens: int = 0  # prompt tokens the app's KV cache already held


def messages(rep: int) -> list[dict[str, str]]:
    """A different system line per rep, so no run can reuse another's KV cache beyond a few
    tokens; the same conversation for the raw loop and the app."""
    return [
        {"role": "system",
         "content": f"Session {rep}. You are a storyteller who writes at length."},
        {"role": "user", "content": "Tell a long, detailed story about a lighthouse keeper and a "
                                    "storm, with many characters and places."},
    ]


class RawLoop:
    """The baseline: llama-cpp-python's low-level API, no process, no probes, no events."""

    def __init__(self, model: Path, n_ctx: int, n_threads: int, n_threads_batch: int) -> None:
        import llama_cpp
        from llama_cpp import _internals as internals

        from chatapp.engine.chat_template import ChatTemplate
        from chatapp.engine.gguf_preflight import inspect_gguf
        from chatapp.engine.runtime import install_log_handler

        self.llama_cpp = llama_cpp
        install_log_handler()  # warnings and errors only, as in the model process
        mp = llama_cpp.llama_model_default_params()
        self.model = internals.LlamaModel(path_model=str(model), params=mp, verbose=True)
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, 512, 512
        cp.n_threads, cp.n_threads_batch = n_threads, n_threads_batch
        cp.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = internals.LlamaContext(model=self.model, params=cp, verbose=True)
        self.template = ChatTemplate(inspect_gguf(model).chat_template)

    def run(self, msgs: list[dict[str, str]], max_tokens: int) -> Run:
        lc = self.llama_cpp
        t0 = time.perf_counter()
        text = self.template.render(msgs)
        tokens = self.model.tokenize(text.encode(), add_bos=False, special=True)
        lc.llama_memory_clear(lc.llama_get_memory(self.ctx.ctx), True)
        arr = (lc.llama_token * len(tokens))(*tokens)
        assert lc.llama_decode(self.ctx.ctx, lc.llama_batch_get_one(arr, len(tokens))) == 0
        t_prompt = time.perf_counter()
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        for smp in (lc.llama_sampler_init_top_k(SAMPLING.top_k),
                    lc.llama_sampler_init_top_p(SAMPLING.top_p, 1),
                    lc.llama_sampler_init_min_p(SAMPLING.min_p, 1),
                    lc.llama_sampler_init_temp(SAMPLING.temperature),
                    lc.llama_sampler_init_dist(SAMPLING.seed or 0)):
            lc.llama_sampler_chain_add(chain, smp)
        vocab = self.model.vocab
        times: list[float] = []
        one = (lc.llama_token * 1)()
        for _ in range(max_tokens):
            tok = lc.llama_sampler_sample(chain, self.ctx.ctx, -1)
            if lc.llama_vocab_is_eog(vocab, tok):
                break
            self.model.token_to_piece(tok)
            times.append(time.perf_counter())
            one[0] = tok
            assert lc.llama_decode(self.ctx.ctx, lc.llama_batch_get_one(one, 1)) == 0
        lc.llama_sampler_free(chain)
        return _summarise(len(tokens), t0, t_prompt, times)

    def close(self) -> None:
        self.ctx.close()
        self.model.close()


def _summarise(n_prompt: int, t0: float, t_prompt: float, times: list[float]) -> Run:
    n = len(times)
    return Run(
        prompt_tokens=n_prompt,
        prompt_tok_s=n_prompt / (t_prompt - t0),
        ttft_ms=(times[0] - t0) * 1000 if times else float("nan"),
        gen_tokens=n,
        gen_tok_s=(n - 1) / (times[-1] - times[0]) if n > 1 else float("nan"),
    )


def app_run(
    client: EngineClient, msgs: list[dict[str, str]], max_tokens: int, records: bool
) -> Run:
    """The full path: request → model process (template, probes, JSON) → pipe → caller."""
    settings = SamplingSettings(**(SAMPLING.to_dict() | {"max_tokens": max_tokens, "stop": ()}))
    t0 = time.perf_counter()
    times: list[float] = []
    done: dict[str, Any] = {}
    for event in client.generate(msgs, settings, records=records):
        if event["type"] == "token":
            times.append(time.perf_counter())
        else:
            done = event
    n_prompt = int(done["prompt_tokens"])
    t_prompt = t0 + float(done["prompt_ms"]) / 1000
    run = _summarise(n_prompt, t0, t_prompt, times)
    run.cached_tokens = int(done["cached_prompt_tokens"])
    return run


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def busy_core(stop: Any) -> None:
    """Keep one core busy, as a GUI laying out a long reply does."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def raw_in_subprocess(
    model: Path, n_ctx: int, n_threads: int, n_batch: int, extra_env: dict[str, str],
    rep: int, tokens: int,
) -> Run:
    """One raw-loop run in a fresh process (OpenMP reads its environment once, at start)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | extra_env
    out = subprocess.run(
        [sys.executable, __file__, "--raw-once", str(model), str(n_ctx), str(n_threads),
         str(n_batch), str(rep), str(tokens)],
        capture_output=True, text=True, env=env, check=True,
    )
    return Run(**json.loads(out.stdout.strip().splitlines()[-1]))


def raw_once(argv: list[str]) -> int:
    """Child mode: load, warm up, run once, print the Run as JSON."""
    model, n_ctx, n_threads, n_batch, rep, tokens = argv
    loop = RawLoop(Path(model), int(n_ctx), int(n_threads), int(n_batch))
    loop.run(messages(-1), 8)
    print(json.dumps(asdict(loop.run(messages(int(rep)), int(tokens)))))
    loop.close()
    return 0


def main() -> int:
    from chatapp.models.starter import starter_path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, default=starter_path())
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    chosen = choose_threads()
    default = llama_cpp_default_threads()
    print(f"machine: {chosen.cores} cores; chosen threads {chosen.n_threads}/"
          f"{chosen.n_threads_batch} ({chosen.reason}); llama-cpp-python default "
          f"{default.n_threads}/{default.n_threads_batch}")
    print(f"model: {args.model.name}; {args.tokens} tokens per run; {args.reps} reps\n")

    raw = RawLoop(args.model, args.ctx, chosen.n_threads, chosen.n_threads_batch)
    client = EngineClient()
    client.start()
    client.load(args.model, n_ctx=args.ctx, n_threads=chosen.n_threads,
                n_threads_batch=chosen.n_threads_batch)
    results: dict[str, list[Run]] = {"raw": [], "app_records_off": [], "app_records_on": []}
    raw.run(messages(-1), 16)  # warm-up both paths
    app_run(client, messages(-2), 16, True)
    for rep in range(args.reps):
        # Distinct conversations, so the app's prompt cache cannot help one run with another's.
        # (numbers of equal width: every path's prompt has the same number of tokens)
        results["raw"].append(raw.run(messages(1000 + rep), args.tokens))
        results["app_records_off"].append(app_run(client, messages(2000 + rep), args.tokens, False))
        results["app_records_on"].append(app_run(client, messages(3000 + rep), args.tokens, True))
    client.shutdown()

    base_gen = median(results["raw"], "gen_tok_s")
    base_ttft = median(results["raw"], "ttft_ms")
    print(f"{'path':<18}{'prompt tok/s':>13}{'gen tok/s':>11}{'TTFT ms':>9}"
          f"{'gen vs raw':>12}{'TTFT - raw':>12}{'prompt/cached':>15}")
    figures: dict[str, Any] = {"cores": chosen.cores}
    for name, runs in results.items():
        gen, ttft = median(runs, "gen_tok_s"), median(runs, "ttft_ms")
        figures[name] = {"prompt_tok_s": median(runs, "prompt_tok_s"), "gen_tok_s": gen,
                         "ttft_ms": ttft, "gen_ratio": gen / base_gen,
                         "ttft_overhead_ms": ttft - base_ttft,
                         "gen_tokens": [r.gen_tokens for r in runs]}
        print(f"{name:<18}{median(runs, 'prompt_tok_s'):>13.1f}{gen:>11.1f}{ttft:>9.1f}"
              f"{gen / base_gen:>11.1%}{ttft - base_ttft:>+11.1f}"
              f"{runs[0].prompt_tokens:>10}/{runs[0].cached_tokens}")

    # Under load: one core busy.  Each configuration runs in its own process with its own
    # environment: ours (chosen threads, passive OpenMP waiting, as the model process runs) and
    # llama-cpp-python's defaults (its thread counts, the default spin-waiting OpenMP).
    raw.close()
    print("\nwith one core kept busy by another process (raw loop, own process each):")
    stop = multiprocessing.Event()
    hog = multiprocessing.Process(target=busy_core, args=(stop,), daemon=True)
    hog.start()
    configs = {
        "chosen": (chosen, {"OMP_WAIT_POLICY": "PASSIVE"}),
        "default": (default, {}),
    }
    loaded: dict[str, list[Run]] = {key: [] for key in configs}
    try:
        for rep in range(args.reps):
            for key, (th, extra_env) in configs.items():
                loaded[key].append(raw_in_subprocess(
                    args.model, args.ctx, th.n_threads, th.n_threads_batch, extra_env,
                    100 + rep, args.tokens))
    finally:
        stop.set()
        hog.join(5)
    ch_gen, df_gen = median(loaded["chosen"], "gen_tok_s"), median(loaded["default"], "gen_tok_s")
    ch_pp, df_pp = (median(loaded["chosen"], "prompt_tok_s"),
                    median(loaded["default"], "prompt_tok_s"))
    for key, (th, extra_env) in configs.items():
        runs = loaded[key]
        env_note = " ".join(f"{k}={v}" for k, v in extra_env.items()) or "default environment"
        print(f"  {key:<8} threads {th.n_threads}/{th.n_threads_batch} ({env_note}): prompt "
              f"{median(runs, 'prompt_tok_s'):7.1f} tok/s, generation "
              f"{median(runs, 'gen_tok_s'):6.1f} tok/s, TTFT {median(runs, 'ttft_ms'):6.1f} ms")
    print(f"  chosen/default: prompt {ch_pp / df_pp:.2f}x, generation {ch_gen / df_gen:.2f}x")
    figures["busy_core"] = {"chosen_gen_tok_s": ch_gen, "default_gen_tok_s": df_gen,
                            "chosen_prompt_tok_s": ch_pp, "default_prompt_tok_s": df_pp}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--raw-once":
        sys.exit(raw_once(sys.argv[2:]))
    # The raw baseline runs with the environment the model process gets, so that the
    # comparison isolates the app's own overhead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
