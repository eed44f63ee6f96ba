"""Write tests/storage/fixtures/chats-v1.db: a database of the first released schema.

Run:  .venv/bin/python tests/storage/make_fixture_v1.py

Only migration 1 is applied, and rows are written with plain SQL as chatapp 0.1 wrote them, so
the file stays what a user of that version has on disk whatever the current code does.  The
file is committed; the migration tests open a copy with the current code.  Ids and times are
fixed, so running this again gives the same rows.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chatapp.storage import records  # noqa: E402
from chatapp.storage.schema import migrate  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "chats-v1.db"
T0 = 1_700_000_000.0


def record(i: int, token: int, text: str) -> dict[str, Any]:
    """One per-token record shaped like the engine's."""
    top = [[token, text, 0.5], [token + 1, text.upper(), 0.25], [7, "x", 0.125]]
    return {"i": i, "token": token, "piece": text, "text": text, "t_ms": 10.0 * (i + 1),
            "sample_ms": 0.5, "stages": [
                {"name": "raw", "active": True, "survivors": 49152, "top": top},
                {"name": "top_k", "active": True, "survivors": 40, "top": top[:2]}],
            "chosen_rank": 0, "chosen_p": 0.5, "raw_rank": 0, "raw_p": 0.5}


def build(path: Path) -> None:
    """Create the fixture at `path` (which must not exist)."""
    conn = sqlite3.connect(path)
    migrate(conn, target=1)

    def conversation(cid: str, title: str, n: int, **extra: Any) -> None:
        row = {"id": cid, "title": title, "title_is_auto": 1, "created_at": T0 + n,
               "updated_at": T0 + n + 100, "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
               "system_prompt": "Be brief.", "sampling": json.dumps({"temperature": 0.7}),
               "folder": None, "pinned": 0, "deleted_at": None, "active_root_id": None, **extra}
        conn.execute(f"INSERT INTO conversations ({', '.join(row)}) "
                     f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    seq = iter(range(1, 1000))

    def message(mid: str, cid: str, parent: str | None, role: str, content: str,
                status: str = "complete", provenance: dict[str, Any] | None = None) -> None:
        t = T0 + next(seq)
        conn.execute(
            "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at, "
            "updated_at, status, active_child_id, provenance, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
            (mid, cid, parent, role, content, t, t, status,
             None if provenance is None else json.dumps(provenance)))
        if parent is None:
            conn.execute("UPDATE conversations SET active_root_id = ? WHERE id = ?", (mid, cid))
        else:
            conn.execute("UPDATE messages SET active_child_id = ? WHERE id = ?", (mid, parent))

    prov = {"model": "SmolLM2-135M-Instruct.Q4_1.gguf", "model_sha256": "b179c952", "seed": 42,
            "sampling": {"temperature": 0.7}, "tokens_per_s": 60.7, "finish_reason": "stop"}
    # A conversation with a regenerated reply and an edited question (three branches).
    conversation("c1" * 16, "Lighthouses in storms", 1)
    message("m1" * 16, "c1" * 16, None, "user", "How do lighthouses work in a storm?")
    message("m2" * 16, "c1" * 16, "m1" * 16, "assistant", "A lighthouse lens focuses light.",
            provenance=prov)
    message("m3" * 16, "c1" * 16, "m1" * 16, "assistant", "With a Fresnel lens and a lamp.",
            provenance=prov)
    message("m4" * 16, "c1" * 16, None, "user", "How do lighthouses work?")
    message("m5" * 16, "c1" * 16, "m4" * 16, "assistant", "They shine a rotating beam.",
            provenance=prov)
    conn.execute("INSERT INTO token_records (message_id, n_tokens, data) VALUES (?, ?, ?)",
                 ("m3" * 16, 2, records.encode([record(0, 1001, "With"), record(1, 264, " a")])))
    # Select the regenerated reply of the first question.
    conn.execute("UPDATE conversations SET active_root_id = ? WHERE id = ?", ("m1" * 16, "c1" * 16))
    # Chinese text, pinned, in a folder.
    conversation("c2" * 16, "问候", 2, pinned=1, folder="Languages", title_is_auto=0)
    message("n1" * 16, "c2" * 16, None, "user", "我说你好世界")
    message("n2" * 16, "c2" * 16, "n1" * 16, "assistant", "你好！", status="interrupted")
    # In the trash.
    conversation("c3" * 16, "Old chat", 3, deleted_at=T0 + 500)
    message("o1" * 16, "c3" * 16, None, "user", "forgotten words")
    conn.execute("INSERT INTO presets (name, sampling, builtin) VALUES (?, ?, 0)",
                 ("Mine", json.dumps({"temperature": 0.4, "top_k": 20})))
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)",
                 ("defaults.sampling", json.dumps({"temperature": 0.5})))
    conn.commit()
    # One self-contained file (no -wal), small and stable for git.
    conn.execute("VACUUM")
    conn.close()


def main() -> int:
    """Rebuild the fixture file."""
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.unlink(missing_ok=True)
    build(FIXTURE)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
