"""Rolling backups of the chat database, made with SQLite's online backup API.

A backup is written under a temporary name, checked with `PRAGMA integrity_check`, and only
then renamed to ``chats-YYYYmmdd-HHMMSS.db`` (UTC, so the order never jumps at a daylight-saving
change): every file with that name was good when it was made.  The newest `keep` are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

_NAME = re.compile(r"^chats-(\d{8}-\d{6})(?:-(\d+))?\.db$")
_PARTIAL = ".partial"

Check = Literal["integrity", "quick"]


class BackupError(OSError):
    """A backup could not be made or did not pass its integrity check."""


@dataclass(frozen=True)
class Backup:
    """One backup file.

    Attributes:
        path: the file.
        taken_at: when it was made (UTC), from its name.
    """

    path: Path
    taken_at: datetime

    def describe(self) -> str:
        """When it was made, for a message to the user."""
        return self.taken_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def readonly_uri(path: Path) -> str:
    """A URI that opens `path` read-only: SQLite then never writes to the file."""
    return path.resolve().as_uri() + "?mode=ro"


def inspect_connection(path: Path) -> sqlite3.Connection:
    """A connection that only reads `path` and creates nothing beside it.

    Without a write-ahead log to read, the file is opened as immutable: a plain read-only
    connection to a WAL-mode file would create empty -wal and -shm files next to it.
    """
    wal = path.with_name(path.name + "-wal")
    has_log = wal.exists() and wal.stat().st_size > 0
    uri = readonly_uri(path) if has_log else path.resolve().as_uri() + "?immutable=1"
    return sqlite3.connect(uri, uri=True)


def integrity_problem(path: Path, *, check: Check = "integrity") -> str | None:
    """None if the database file at `path` passes the check, else what is wrong, in a few
    words (the first problem SQLite reports).  Never modifies the file."""
    pragma = "integrity_check" if check == "integrity" else "quick_check"
    try:
        conn = inspect_connection(path)
        try:
            rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(10)").fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)
    if rows == ["ok"]:
        return None
    problems = [r for r in "\n".join(rows).splitlines() if r.strip() and not r.startswith("***")]
    first = problems[0] if problems else "integrity check failed"
    return first if len(problems) == 1 else f"{first}, and more"


def list_backups(backups_dir: Path) -> list[Backup]:
    """The backups in `backups_dir`, newest first."""
    found: list[tuple[datetime, int, Path]] = []
    if not backups_dir.is_dir():
        return []
    for path in backups_dir.iterdir():
        match = _NAME.match(path.name)
        if match:
            taken = datetime.strptime(match[1], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
            found.append((taken, int(match[2] or 0), path))
    found.sort(reverse=True)
    return [Backup(path, taken) for taken, _n, path in found]


def newest_good_backup(backups_dir: Path, *, check: Check = "integrity") -> Backup | None:
    """The newest backup that still passes the check now (files can rot after they are made)."""
    for backup in list_backups(backups_dir):
        if integrity_problem(backup.path, check=check) is None:
            return backup
    return None


def backed_up_today(backups_dir: Path, *, clock: Callable[[], float] = time.time) -> bool:
    """Whether a backup was made on the current UTC day."""
    backups = list_backups(backups_dir)
    today = datetime.fromtimestamp(clock(), UTC).date()
    return bool(backups) and backups[0].taken_at.date() == today


def make_backup(
    conn: sqlite3.Connection,
    backups_dir: Path,
    *,
    keep: int = 5,
    clock: Callable[[], float] = time.time,
    check: Check = "integrity",
) -> Path:
    """Copy the database open on `conn` into a new backup, verify it, drop the oldest.

    Raises BackupError if the copy fails or does not pass the check (nothing is then kept or
    pruned, so the good backups stay as they were).
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    backups_dir.mkdir(parents=True, exist_ok=True)
    final = _free_name(backups_dir, clock())
    partial = final.with_name(final.name + _PARTIAL)
    try:
        dest = sqlite3.connect(partial)
        try:
            conn.backup(dest)
            # The copy inherits WAL mode from the source; a backup is a single self-contained
            # file, which read-only checks can open without creating -wal/-shm files.
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup could not be written: {exc}") from exc
    problem = integrity_problem(partial, check=check)
    if problem is not None:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the new backup failed its integrity check: {problem}")
    os.replace(partial, final)
    fsync_dir(backups_dir)
    prune(backups_dir, keep)
    return final


def prune(backups_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups, and copies left half-written by a crash."""
    removed = [b.path for b in list_backups(backups_dir)[keep:]]
    removed += [p for p in backups_dir.glob(f"chats-*.db{_PARTIAL}")]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows cannot open a folder, nor needs to)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_name(backups_dir: Path, now: float) -> Path:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S")
    path = backups_dir / f"chats-{stamp}.db"
    n = 0
    # Two backups in the same second (backup on demand right after the one at open).
    while path.exists() or path.with_name(path.name + _PARTIAL).exists():
        n += 1
        path = backups_dir / f"chats-{stamp}-{n}.db"
    return path


def copy_file(source: Path, dest: Path) -> None:
    """Copy a closed database file to a new path, atomically: `dest` appears whole or not at
    all, and is never an existing file."""
    if dest.exists():
        raise FileExistsError(dest)
    partial = dest.with_name(dest.name + _PARTIAL)
    try:
        with source.open("rb") as src, partial.open("wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    fsync_dir(dest.parent)
