"""One process owns the chat database: a second one is refused with a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatapp.storage.owner_lock import DatabaseInUseError
from chatapp.storage.repository import ChatStore

HOLD = """
import sys, time
from pathlib import Path
from chatapp.storage.repository import ChatStore
store = ChatStore(Path(sys.argv[1]))
print("open", flush=True)
time.sleep(60)
"""


def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    with ChatStore(db):
        with pytest.raises(DatabaseInUseError) as err:
            ChatStore(db)
        assert f"pid {os.getpid()}" in str(err.value)
    with ChatStore(db) as again:  # closed: free again
        assert again.list_conversations() == []


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(DatabaseInUseError) as err:
            ChatStore(db)
        assert f"pid {holder.pid}" in str(err.value)
        out = subprocess.run([sys.executable, "-m", "chatapp", "sessions", "list"],
                             capture_output=True, text=True,
                             env=dict(os.environ, CHATAPP_DATA_DIR=str(tmp_path)))
        assert out.returncode == 1 and "in use by" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 5
    while True:  # the kernel released the lock with the process
        try:
            ChatStore(db).close()
            break
        except DatabaseInUseError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
