"""A reply cut off (app closed or killed while streaming) keeps its last checkpoint and is
marked 'interrupted' at the next open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chatapp.storage import ChatStore, ConflictError

ROOT = Path(__file__).resolve().parents[2]


def test_reply_left_streaming_is_interrupted_at_next_open(db_path: Path) -> None:
    store = ChatStore(db_path)
    c = store.create_conversation()
    question = store.add_message(c.id, "user", "Tell me a story")
    reply = store.begin_reply(c.id, question.id, provenance={"model": "m.gguf"})
    for text in ("Once", "Once upon", "Once upon a time"):
        store.checkpoint_reply(reply.id, text)
    store.close()  # no finish_reply: the app went away mid-reply

    with ChatStore(db_path) as store:
        assert store.interrupted == 1
        got = store.message(reply.id)
        assert (got.status, got.content) == ("interrupted", "Once upon a time")
        assert got.provenance == {"model": "m.gguf"}
        assert [m.id for m in store.active_path(c.id)] == [question.id, reply.id]
        with pytest.raises(ConflictError, match="not streaming"):
            store.checkpoint_reply(reply.id, "more")
        with pytest.raises(ConflictError, match="interrupted, not streaming"):
            store.finish_reply(reply.id, "x", status="complete", provenance=None)
    with ChatStore(db_path) as store:
        assert store.interrupted == 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_killed_process_loses_no_committed_checkpoint(db_path: Path) -> None:
    child = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from chatapp.storage import ChatStore
        store = ChatStore(Path({str(db_path)!r}))
        c = store.create_conversation()
        q = store.add_message(c.id, "user", "question saved before generation")
        r = store.begin_reply(c.id, q.id)
        for n in range(1, 51):
            store.checkpoint_reply(r.id, "token " * n)
        print(c.id, r.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == -signal.SIGKILL, out.stderr
    conversation_id, reply_id = out.stdout.split()
    assert Path(f"{db_path}-wal").stat().st_size > 0  # the commits are still in the log

    with ChatStore(db_path) as store:
        assert store.notice is None and store.interrupted == 1
        path = store.active_path(conversation_id)
        assert [m.content for m in path] == ["question saved before generation", "token " * 50]
        assert path[1].id == reply_id and path[1].status == "interrupted"
    assert os.path.getsize(db_path) > 0
