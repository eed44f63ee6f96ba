"""Streaming benchmark: a 4,000-token reply rendered live into a MessageView.

Run:  .venv/bin/python benchmarks/markdown_stream.py [--tokens 4000] [--rate 220] [--seed 1]

A QTimer feeds the reply (paragraphs, code blocks, tables, lists; deltas of 1-6 characters, about
4 characters a token) at ``--rate`` tokens/s or faster, while a 10 ms heartbeat QTimer measures
how long the main thread was busy: a gap between two beats minus 10 ms is a stall.  Prints the
stall p99 and max (targets: 16 ms and 50 ms), the time per view update early and late in the reply
(it must stay flat), and what re-rendering the whole reply once costs, for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QApplication

from chatapp.core.markdown_render import render_markdown
from chatapp.ui.message_view import MessageView

HEARTBEAT_MS = 10
PIECES = [
    "Here is **an explanation** with `inline code`, a [link](https://example.com/docs) and "
    "some math $e^{i\\pi} + 1 = 0$. It goes on for a while so that the paragraph has a "
    "realistic length, the way a model writes.\nA second line follows.\n\n",
    "```python\nimport sys\n\n\ndef fib(n: int) -> int:\n    \"\"\"Return the nth number.\"\"\"\n"
    "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\n"
    "if __name__ == '__main__':\n    print(fib(int(sys.argv[1])))\n```\n\n",
    "| Language | Typing | Speed |\n|----------|--------|------:|\n| Python | dynamic | 1 |\n"
    "| Rust | static | 40 |\n| Go | static | 30 |\n| JavaScript | dynamic | 10 |\n\n",
    "1. **First**, install the package.\n2. Then *configure* it:\n   - set the path\n"
    "   - restart\n\n3. Finally, run `make test`.\n\n> Note: this is a quote.\n\n",
    "### A heading\n\nShort paragraph.\n\n",
]


def make_reply(tokens: int, seed: int) -> list[str]:
    """Deltas of 1-6 characters adding up to about ``tokens`` tokens of Markdown."""
    rng = random.Random(seed)
    text = ""
    while len(text) < tokens * 4:
        text += rng.choice(PIECES)
    text = text[: tokens * 4]
    deltas: list[str] = []
    i = 0
    while i < len(text):
        step = rng.randint(1, 6)
        deltas.append(text[i : i + step])
        i += step
    return deltas


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run(tokens: int, rate: float, seed: int) -> dict[str, float]:
    """Stream the reply and return the figures."""
    app = QApplication.instance() or QApplication(sys.argv)
    deltas = make_reply(tokens, seed)
    view = MessageView()
    view.resize(800, 600)
    view.show()

    updates: list[tuple[int, float]] = []  # (characters so far, seconds)
    render = view._render_pending

    def timed_render() -> None:
        start = time.perf_counter()
        render()
        updates.append((len(view.markdown), time.perf_counter() - start))

    view._timer.timeout.disconnect()
    view._timer.timeout.connect(timed_render)

    beats: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(lambda: beats.append(clock.nsecsElapsed() / 1e6))
    heartbeat.start(HEARTBEAT_MS)

    fed = 0
    per_token = len(deltas) / tokens
    feeder = QTimer()
    feeder.setTimerType(Qt.TimerType.PreciseTimer)

    def feed() -> None:
        # Catch up with the target rate, whatever the timer's jitter.
        nonlocal fed
        due = min(len(deltas), int(clock.nsecsElapsed() / 1e9 * rate * per_token) + 1)
        while fed < due:
            view.append_text(deltas[fed])
            fed += 1
        if fed >= len(deltas):
            feeder.stop()
            view.finish()
            QTimer.singleShot(200, app.quit)

    feeder.timeout.connect(feed)
    feeder.start(5)
    started = time.perf_counter()
    app.exec()
    wall = time.perf_counter() - started - 0.2
    heartbeat.stop()

    stalls = [max(0.0, b - a - HEARTBEAT_MS) for a, b in itertools.pairwise(beats)]
    if os.environ.get("BENCH_DEBUG"):
        worst = sorted(zip(stalls, beats, strict=False), reverse=True)[:5]
        print("worst stalls (ms, at ms):", [(round(s, 1), round(t)) for s, t in worst])
    quarter = max(1, len(updates) // 4)
    early = [t * 1000 for _, t in updates[:quarter]]
    late = [t * 1000 for _, t in updates[-quarter:]]
    text = view.markdown
    start = time.perf_counter()
    whole = render_markdown(text, budget_us=None)
    whole_render = time.perf_counter() - start
    start = time.perf_counter()
    probe = MessageView()
    probe.resize(800, 600)
    probe.show()
    probe.setHtml(whole.html)
    probe.document().size()
    whole_view = time.perf_counter() - start
    return {
        "tokens": tokens,
        "characters": len(text),
        "tokens_per_s": tokens / wall,
        "updates": len(updates),
        "stall_p99_ms": percentile(stalls, 99),
        "stall_max_ms": max(stalls),
        "update_early_mean_ms": statistics.mean(early),
        "update_late_mean_ms": statistics.mean(late),
        "update_early_p95_ms": percentile(early, 95),
        "update_late_p95_ms": percentile(late, 95),
        "whole_render_ms": whole_render * 1000,
        "whole_render_and_show_ms": (whole_render + whole_view) * 1000,
    }


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=220.0, help="tokens per second")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    r = run(args.tokens, args.rate, args.seed)
    print(f"reply: {r['tokens']:.0f} tokens, {r['characters']:.0f} characters, "
          f"streamed at {r['tokens_per_s']:.0f} tokens/s in {r['updates']:.0f} view updates")
    print(f"main-thread stall: p99 {r['stall_p99_ms']:.1f} ms (target <= 16), "
          f"max {r['stall_max_ms']:.1f} ms (target <= 50)")
    print(f"time per update: first quarter mean {r['update_early_mean_ms']:.2f} ms "
          f"(p95 {r['update_early_p95_ms']:.2f}), last quarter mean "
          f"{r['update_late_mean_ms']:.2f} ms (p95 {r['update_late_p95_ms']:.2f})")
    print(f"for comparison, rendering the whole reply once: {r['whole_render_ms']:.1f} ms "
          f"({r['whole_render_and_show_ms']:.1f} ms with Qt's setHtml)")
    ok = r["stall_p99_ms"] <= 16 and r["stall_max_ms"] <= 50
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
