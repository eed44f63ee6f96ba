"""One process owns the chat database at a time.

SQLite 3.7.0–3.51.2 can corrupt a WAL database when two connections write or checkpoint
concurrently (see ../shared/notes/reliability.md), and CPython here links 3.40.1.  So the
store takes an exclusive OS lock on `<db>.lock` for as long as it is open.  The kernel drops
the lock when the process ends, however it ends (kill -9 included): no stale locks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from chatapp.storage.entities import StorageError


class DatabaseInUseError(StorageError):
    """Another process has the database open; str() says which and what to do."""


class OwnerLock:
    """An exclusive, non-blocking lock on a file beside the database.

    Attributes:
        path: the lock file.
    """

    def __init__(self, db_path: Path) -> None:
        """Take the lock for `db_path`, or raise DatabaseInUseError at once."""
        self.path = db_path.with_name(db_path.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DatabaseInUseError(
                f"the chat database {db_path} is in use by {holder}; close that chatapp "
                "first (or use chatapp chat --no-save)"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"chatapp (pid {os.getpid()})")
        handle.flush()
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            _unlock(handle)
            handle.close()


if sys.platform == "win32":
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
