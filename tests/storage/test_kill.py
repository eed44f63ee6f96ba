"""`kill -9` at a random moment while `chatapp chat` streams: nothing committed is ever lost.

50 runs in the suite; a soak: `CHATAPP_KILL_RUNS=500 pytest tests/storage/test_kill.py`.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from chatapp.storage.reply_writer import CHECKPOINT_SECONDS, CHECKPOINT_TOKENS
from chatapp.storage.repository import ChatStore

RUNS = int(os.environ.get("CHATAPP_KILL_RUNS", "50"))


def _stream_and_kill(model: Path, run: int, delay: float) -> list[dict[str, object]]:
    """Start a saving chat, kill -9 it `delay` seconds after its first token; returns the
    token events it had printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatapp", "chat", "-m", str(model), "--json", "--no-records",
         "--max-tokens", "600", "--temperature", "1.2", "--seed", str(run),
         f"Run {run}: write a long story about the sea."],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    first = threading.Event()

    def read() -> None:  # drain continuously: a full pipe would stall the reply
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert first.wait(60), "no token within 60 s"
    time.sleep(delay)
    proc.kill()
    proc.wait()
    reader.join(10)
    events = [json.loads(line) for line in lines if line.strip()]
    return [e for e in events if e.get("type") == "token"]


def test_kill_9_while_streaming_loses_nothing(starter_model: Path, data_dir: Path) -> None:
    rng = random.Random(20261123)
    committed: dict[str, str] = {}
    db = data_dir / "chats.db"
    for run in range(RUNS):
        tokens = _stream_and_kill(starter_model, run, rng.uniform(0.0, 1.2))

        # The file is sound before anything opens it again.
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()

        with ChatStore(db) as store:  # the restart: marks the cut-off reply
            assert store.notice is None, store.notice
            # no message committed by an earlier run is lost or changed
            for conv in store.list_conversations(limit=1000):
                for m in store.tree(conv.id):
                    if m.id in committed:
                        assert m.content == committed[m.id]
            conv = store.list_conversations(limit=1)[0]
            path = store.active_path(conv.id)
            assert [m.role for m in path] == ["user", "assistant"]
            assert path[0].content.startswith(f"Run {run}:")
            reply = path[1]
            shown = "".join(str(t["text"]) for t in tokens)
            if reply.status == "complete":  # it finished before the kill
                assert shown and reply.content.startswith(shown)
            else:
                assert reply.status == "interrupted"
                # what was saved is what was shown, up to a token boundary ...
                texts = [str(t["text"]) for t in tokens]
                prefixes = {"".join(texts[:k]): k for k in range(len(texts) + 1)}
                assert reply.content in prefixes, "the saved text is not a prefix of the shown text"
                saved = prefixes[reply.content]
                # ... and every shown token that was not saved came fewer than 64 tokens and
                # less than 250 ms after the last checkpoint (its clock is the CLI's; the token
                # times are the model process's, hence some slack)
                unsaved = tokens[saved:]
                assert len(unsaved) < CHECKPOINT_TOKENS
                if unsaved:
                    t_checkpoint = float(tokens[saved - 1]["t_ms"] if saved else unsaved[0]["t_ms"])
                    late = float(unsaved[-1]["t_ms"]) - t_checkpoint
                    assert late <= CHECKPOINT_SECONDS * 1000 + 150, (
                        f"{len(unsaved)} shown tokens over {late:.0f} ms were not saved")
            for conv in store.list_conversations(limit=1000):
                for m in store.tree(conv.id):
                    if m.status in ("complete", "interrupted"):
                        committed[m.id] = m.content
    assert len(committed) >= 2 * RUNS
