"""Storage benchmark: a chat history of 10,000 conversations and 1,000,000 messages.

Run:  .venv/bin/python benchmarks/storage.py [--conversations 10000] [--messages 1000000]
                                              [--runs 15] [--keep DIR] [--skip-checks]

Builds the database in a temporary folder with the real schema (triggers, full-text index),
one conversation of 2,000 messages and the rest spread evenly, then measures what the GUI does
most: list the newest 100 conversations, search (a word in ~1% of messages, and a rare word),
open the long conversation's active path.  Prints medians of several runs and the ratio to the
target; then what the checks at open cost on a database of this size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatapp.storage import ChatStore
from chatapp.storage.backups import integrity_problem

COMMON = "lighthouse"  # in ~1% of messages
RARE = "zanzibarite"   # in 10 messages
LONG = 2_000           # messages in the long conversation


def vocabulary(rng: np.random.Generator, size: int = 8_000) -> list[str]:
    """Made-up words with an English-like length distribution."""
    letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
    weights = np.linspace(2.0, 0.1, letters.size)
    weights /= weights.sum()
    words = {"".join(rng.choice(letters, size=int(rng.integers(2, 11)), p=weights))
             for _ in range(size * 2)}
    words -= {COMMON, RARE}
    return sorted(words)[:size]


class Texts:
    """Message texts: Zipf-distributed words; users write ~15 words, the model ~60."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.words = np.array(vocabulary(rng))

    def make(self, n: int, assistant: bool) -> list[str]:
        """n texts."""
        lengths = self.rng.poisson(60 if assistant else 15, size=n) + 1
        ranks = np.minimum(self.rng.zipf(1.3, size=int(lengths.sum())), len(self.words)) - 1
        tokens = self.words[ranks].tolist()
        out: list[str] = []
        at = 0
        for length in lengths.tolist():
            out.append(" ".join(tokens[at:at + length]))
            at += length
        # One message in a hundred is Chinese, as a real history in several languages has.
        for i in np.flatnonzero(self.rng.random(n) < 0.01).tolist():
            out[i] = "我说你好世界，今天的天气很好。" + out[i][:40]
        return out


def build(store: ChatStore, n_conv: int, n_msg: int, rng: np.random.Generator) -> str:
    """Fill the store; returns the long conversation's id."""
    conn = store.open_result.connection
    texts = Texts(rng)
    per = max(1, (n_msg - LONG) // max(1, n_conv - 1))
    sizes = [LONG] + [per] * (n_conv - 1)
    sizes[-1] += n_msg - sum(sizes)
    common = set(rng.choice(n_msg, size=n_msg // 100, replace=False).tolist())
    rare = set(rng.choice(n_msg, size=10, replace=False).tolist())
    now = time.time()
    long_id = ""
    counter = 0
    batch = 500
    for start in range(0, n_conv, batch):
        conv_rows: list[tuple[Any, ...]] = []
        msg_rows: list[tuple[Any, ...]] = []
        for n in range(start, min(n_conv, start + batch)):
            cid = uuid.uuid4().hex
            long_id = long_id or cid
            size = sizes[n]
            ids = [uuid.uuid4().hex for _ in range(size)]
            user = texts.make((size + 1) // 2, assistant=False)
            model = texts.make(size // 2, assistant=True)
            t0 = now - (n_conv - n) * 3600.0
            for k in range(size):
                content = user[k // 2] if k % 2 == 0 else model[k // 2]
                if counter in common:
                    content = f"{content} {COMMON} ahead"
                if counter in rare:
                    content = f"{RARE} {content}"
                counter += 1
                msg_rows.append((ids[k], cid, ids[k - 1] if k else None,
                                 "user" if k % 2 == 0 else "assistant", content, t0 + k,
                                 t0 + k, "complete", ids[k + 1] if k + 1 < size else None))
            deleted = t0 if n % 100 == 99 else None  # 1% in the trash
            conv_rows.append((cid, f"Conversation {n}", 0, t0, t0 + size, "model.gguf", "",
                              '{"temperature": 0.7}', None, int(n % 500 == 7), deleted,
                              ids[0] if ids else None))
        with store.transaction():
            conn.executemany(
                "INSERT INTO conversations (id, title, title_is_auto, created_at, updated_at, "
                "model, system_prompt, sampling, folder, pinned, deleted_at, active_root_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", conv_rows)
            conn.executemany(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, "
                "created_at, updated_at, status, active_child_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", msg_rows)
        print(f"\r  {counter:,} messages", end="", flush=True)
    print()
    return long_id


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(first run, median of the next `runs`) in milliseconds."""
    t = time.perf_counter()
    fn()
    first = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return first, statistics.median(times)


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", type=Path,
                        help="build here and keep the files (an existing build is reused)")
    parser.add_argument("--skip-checks", action="store_true",
                        help="do not time integrity_check, quick_check and a backup")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="chatapp-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "chats.db"
    rng = np.random.default_rng(1234)
    if db.exists():
        print(f"reusing {db}")
        with ChatStore(db, backups_dir=folder / "backups") as store:
            long_id = store.open_result.connection.execute(
                "SELECT id FROM conversations WHERE title = 'Conversation 0'").fetchone()[0]
    else:
        print(f"building {args.conversations:,} conversations, {args.messages:,} messages "
              f"in {folder}")
        t0 = time.perf_counter()
        with ChatStore(db, backups_dir=folder / "backups") as store:
            long_id = build(store, args.conversations, args.messages, rng)
        build_s = time.perf_counter() - t0
        print(f"build: {build_s:.1f} s ({args.messages / build_s:,.0f} messages/s)")
    print(f"file: {db.stat().st_size / 1e6:,.0f} MB")

    t = time.perf_counter()
    store = ChatStore(db, backups_dir=folder / "backups")
    open_s = time.perf_counter() - t
    backup_note = "with" if store.open_result.backup else "without"
    try:
        hits = {w: len(store.search(w, limit=1_000_000)) for w in (COMMON, RARE)}
        print(f"matches: {COMMON!r} {hits[COMMON]:,} (live conversations), {RARE!r} "
              f"{hits[RARE]}")
        rows = [
            ("list newest 100 conversations", 50.0,
             lambda: store.list_conversations(limit=100)),
            (f"search {COMMON!r} (~1%), top 50", 100.0, lambda: store.search(COMMON)),
            (f"search {RARE!r} (rare), top 50", 100.0, lambda: store.search(RARE)),
            ("search two words 'lighthouse ahead'", 100.0,
             lambda: store.search(f"{COMMON} ahead")),
            (f"active path of the {LONG:,}-message conversation", 100.0,
             lambda: store.active_path(long_id)),
            ("add a message to it (committed)", 100.0,
             lambda: store.add_message(long_id, "user", "one more question")),
        ]
        print(f"\n{'operation':<50} {'first':>9} {'median':>9} {'target':>8} {'ratio':>7}")
        for name, target, fn in rows:
            first, median = median_ms(fn, args.runs)
            print(f"{name:<50} {first:>7.1f}ms {median:>7.2f}ms {target:>6.0f}ms "
                  f"{median / target:>7.3f}")
        assert len(store.active_path(long_id)) >= LONG
        t = time.perf_counter()
        gone = store.empty_trash()
        print(f"\nempty the trash ({gone} conversations): {time.perf_counter() - t:.2f} s")
    finally:
        t = time.perf_counter()
        store.close()
        print(f"close (PRAGMA optimize): {time.perf_counter() - t:.2f} s")

    print(f"open (quick_check, {backup_note} the daily backup): {open_s:.1f} s")
    if not args.skip_checks:
        print(f"integrity_check: {timed(lambda: integrity_problem(db, check='integrity')):.1f} s")
        print(f"quick_check:     {timed(lambda: integrity_problem(db, check='quick')):.1f} s")
        with ChatStore(db, backups_dir=folder / "other-backups") as store:
            print(f"backup_now (copy + integrity_check of the copy): "
                  f"{timed(store.backup_now):.1f} s")
        t = time.perf_counter()
        ChatStore(db, backups_dir=folder / "other-backups").close()
        print(f"open (quick_check, backup of the day already made): "
              f"{time.perf_counter() - t:.1f} s")
    if args.keep is None:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
