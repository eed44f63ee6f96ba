"""Benchmark of the "Inside the model" panel: what-if redraws, and generation speed with the
panel following a reply live.

Run:  .venv/bin/python benchmarks/inside.py [--moves 200] [--reps 3] [--tokens 200]

1. Redraw while dragging a slider: the panel shows a real reply's records (40 token events of
   the starter model with their 64 candidates, tests/storage/fixtures/), a token is selected,
   and the temperature slider is moved step by step; each step replays the sampler chain on the
   stored logits and repaints the bars synchronously (`repaint()`).  Target: ≤ 16 ms per step.
   Top-k, top-p and min-p are dragged too.
2. Generation speed with the sampling view following the reply live, against the same window
   with the panel closed, on the starter model (greedy, same prompt, interleaved repetitions):
   median tokens/s of each, and the ratio.  Target: ≥ 0.90.
Attention capture speed has its own benchmark: benchmarks/attention.py.
"""

from __future__ import annotations

import os
import sys
import tempfile

# Throwaway data and config folders before chatapp is imported: nothing of the user's is touched.
_USER_DATA = os.environ.get("CHATAPP_DATA_DIR", "")
_SCRATCH = tempfile.mkdtemp(prefix="chatapp-bench-inside-")
os.environ["CHATAPP_CONFIG_DIR"] = os.path.join(_SCRATCH, "config")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from PySide6.QtWidgets import QApplication  # noqa: E402

from chatapp.core.sampling import SamplingSettings  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests/storage/fixtures" \
    / "token_records_whatif_40.json.gz"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def redraws(app: QApplication, moves: int) -> dict[str, list[float]]:
    """Milliseconds per slider step, per knob."""
    from chatapp.ui.inside import InsidePanel

    records: list[dict[str, Any]] = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    panel = InsidePanel()
    panel.resize(520, 900)
    panel.show()
    panel.set_reply("bench", records, SamplingSettings(temperature=1.0, seed=1))
    panel.finish()
    panel.set_following(False)
    panel.sampling.select(len(records) // 2)
    app.processEvents()
    controls = panel.sampling.controls
    times: dict[str, list[float]] = {}
    for name in ("temperature", "top_k", "top_p", "min_p"):
        slider = getattr(controls, name).slider
        low, high = slider.minimum(), slider.maximum()
        steps = [low + (high - low) * (i % 100) // 99 for i in range(moves)]
        took: list[float] = []
        for value in steps:
            start = time.perf_counter()
            slider.setValue(value)
            panel.sampling.bars.repaint()  # synchronously: the cost a user waits for
            took.append((time.perf_counter() - start) * 1000)
        times[name] = took
        controls.reset()
    panel.close()
    return times


def generation(app: QApplication, reps: int, tokens: int) -> dict[str, list[float]]:
    """tokens/s of real replies with the panel following live, and with it closed."""
    from chatapp.models.starter import is_installed, starter_path
    from chatapp.services.engine_service import EngineService
    from chatapp.services.store_service import Changed, StoreService
    from chatapp.ui.main_window import MainWindow

    if _USER_DATA:
        os.environ["CHATAPP_DATA_DIR"] = _USER_DATA
    model = starter_path() if is_installed() else None
    os.environ["CHATAPP_DATA_DIR"] = os.path.join(_SCRATCH, "data")
    if model is None:
        print("  the starter model is not installed: skipped")
        return {}

    def wait(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise TimeoutError("timed out")
            app.processEvents()
            time.sleep(0.002)

    store = StoreService()
    wait(lambda: store.is_open)
    engine = EngineService(log_path=Path(_SCRATCH) / "engine.log")
    engine.start()
    window = MainWindow(engine, store, model)
    window.resize(1500, 900)
    window.show()
    wait(lambda: window._ready)
    sampling = SamplingSettings(temperature=0.0, max_tokens=tokens, seed=1).to_dict()
    speeds: dict[str, list[float]] = {"following": [], "closed": []}
    for rep in range(reps + 1):  # the first round warms up and is not counted
        for mode in ("following", "closed"):
            window.inside.setVisible(mode == "following")
            window.inside.set_following(True)
            box: list[str] = []
            store.write(lambda s: s.create_conversation(sampling=sampling).id,
                        Changed(lists=True), box.append)
            wait(lambda box=box: bool(box))  # type: ignore[misc]
            cid = box[0]
            window.open_conversation(cid)
            wait(lambda cid=cid: window.conversation_id == cid)  # type: ignore[misc]
            window.last_summary = None
            window.composer.setPlainText("Write a long story about a lighthouse keeper.")
            window.send()
            wait(lambda: window.last_summary is not None)
            wait(lambda: not window._busy)
            if rep:
                speeds[mode].append(float(window.last_summary["tokens_per_s"]))
    window.close()
    engine.shutdown()
    store.close()
    return speeds


def main() -> int:
    """Run both parts and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=200, help="slider steps per knob")
    ap.add_argument("--reps", type=int, default=3, help="replies per mode")
    ap.add_argument("--tokens", type=int, default=200, help="tokens per reply")
    args = ap.parse_args()
    app = QApplication([sys.argv[0]])
    print(f"platform: {app.platformName()}, {os.cpu_count()} cores")
    print("[1] what-if redraw per slider step (replay + synchronous repaint), ms")
    worst = 0.0
    for name, took in redraws(app, args.moves).items():
        worst = max(worst, percentile(took, 99))
        print(f"  {name:12s} median {statistics.median(took):6.2f}  p99 "
              f"{percentile(took, 99):6.2f}  max {max(took):6.2f}")
    print(f"  target: p99 <= 16 ms: {'PASS' if worst <= 16 else 'FAIL'} (worst p99 {worst:.2f})")
    print("[2] generation tokens/s, panel following live vs panel closed (greedy, "
          f"{args.tokens} tokens)")
    speeds = generation(app, args.reps, args.tokens)
    if speeds:
        on, off = statistics.median(speeds["following"]), statistics.median(speeds["closed"])
        print(f"  following: median {on:.1f} {speeds['following']}")
        print(f"  closed:    median {off:.1f} {speeds['closed']}")
        print(f"  ratio {on / off:.3f}; target >= 0.90: {'PASS' if on / off >= 0.9 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
