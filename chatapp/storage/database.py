"""Opening the chat database safely: check, recover, upgrade, back up.

Order at open, and why:

1. The file is checked on a read-only connection (`PRAGMA quick_check`), so that a damaged
   file is never written to, not even by the WAL checkpoint SQLite runs when a read-write
   connection closes.
2. A damaged file (or one that is not a chatapp database) stays where it is, byte for byte.
   Work goes on in a new file beside it: the copy recovered on an earlier start if there is one
   (named in ``<name>.redirect``), else a copy of the newest good backup, else a new empty
   database.  The notice says so in one sentence.  The redirect is followed while the file is
   damaged or missing, and dropped once a good file is back in its place.
3. A file written by a newer chatapp opens read-only: this version does not know its schema.
4. An older schema is backed up, then migrated, one transaction per version.
5. One backup a day (UTC), at open.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chatapp.storage import backups
from chatapp.storage.backups import BackupError, Check
from chatapp.storage.schema import SCHEMA_VERSION, migrate, register_functions

#: How long a statement waits for a lock held by another connection (a backup reader).
BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class OpenResult:
    """What `open_database` did.

    Attributes:
        connection: the open connection (read-write unless `read_only`).
        path: the file that is open; differs from `requested_path` after a recovery.
        requested_path: the file that was asked for.
        read_only: True when the schema is newer than this chatapp knows.
        notice: what to tell the user (sentences), or None when all went as expected.
        created: True when the file was new (or empty).
        schema_version: the schema version of the open file (after any migration).
        migrated_from: the version before migration, or None if none ran.
        damaged_path: the damaged file that was left untouched, if any.
        restored_from: the backup copied to `path`, if any.
        backup: the backup made at this open, if any.
    """

    connection: sqlite3.Connection
    path: Path
    requested_path: Path
    read_only: bool
    notice: str | None
    created: bool
    schema_version: int
    migrated_from: int | None = None
    damaged_path: Path | None = None
    restored_from: Path | None = None
    backup: Path | None = None


@dataclass(frozen=True)
class _Inspection:
    problem: str | None
    version: int
    empty: bool


def open_database(
    path: Path,
    *,
    backups_dir: Path | None = None,
    keep_backups: int = 5,
    check: Check = "quick",
    backup_check: Check = "integrity",
    clock: Callable[[], float] = time.time,
) -> OpenResult:
    """Open (creating, recovering or upgrading as needed) the chat database at `path`.

    `backups_dir` defaults to ``backups`` beside the file.  `check` is how the file is checked
    at every open: quick_check by default, because integrity_check, which also compares every
    index with its table, took 5.6 s against 0.6 s on a history of 1,000,000 messages (672 MB,
    benchmarks/storage.py).  Backups, made at most once a day, get the full `backup_check`.
    See the module docstring.
    """
    path = Path(path)
    backups_dir = backups_dir if backups_dir is not None else path.parent / "backups"
    path.parent.mkdir(parents=True, exist_ok=True)
    notices: list[str] = []
    target, damaged, restored = path, None, None
    found = _inspect(path, check)
    redirect = _redirect_file(path)
    if found.problem is not None:
        damaged = path
        target, restored, sentence = _recover(path, found.problem, backups_dir, backup_check,
                                              clock)
        notices.append(sentence)
        found = _inspect(target, check)
    elif redirect.exists() and not path.exists():
        # The damaged file was deleted: the recovered copy is still where the work is.
        earlier = _redirected(path, check)
        if earlier is not None:
            target, found = earlier, _inspect(earlier, check)
    elif redirect.exists():
        # A good file is back at `path` (the user replaced the damaged one): it is the
        # database again, and the recovered copy stays on disk, unused.
        redirect.unlink()

    if found.version > SCHEMA_VERSION:
        notices.append(f"This database was written by a newer chatapp (schema {found.version}); "
                       "opened read-only.")
        conn = _connect(target, read_only=True)
        return OpenResult(conn, target, path, True, " ".join(notices), False, found.version,
                          damaged_path=damaged, restored_from=restored)

    conn = _connect(target, read_only=False)
    made: Path | None = None
    migrated_from = None
    try:
        if found.version < SCHEMA_VERSION:
            if not found.empty and restored is None:
                # A restored copy needs no backup: it is itself a backup.
                made = _try_backup(conn, backups_dir, keep_backups, clock, backup_check,
                                   notices, "before the upgrade")
            migrated_from = None if found.empty else found.version
            migrate(conn)
        if (not found.empty and made is None
                and not backups.backed_up_today(backups_dir, clock=clock)):
            made = _try_backup(conn, backups_dir, keep_backups, clock, backup_check,
                               notices, "of the day")
    except BaseException:
        conn.close()
        raise
    return OpenResult(conn, target, path, False, " ".join(notices) or None, found.empty,
                      SCHEMA_VERSION, migrated_from, damaged, restored, made)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    # check_same_thread=False: the store is made on one thread and used on its worker thread;
    # ChatStore documents that one thread at a time uses it.
    if read_only:
        conn = sqlite3.connect(backups.readonly_uri(path), uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
    try:
        register_functions(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            # WAL: committed transactions survive an application crash; NORMAL: may lose the
            # last commits only on power loss or an OS crash (see notes/reliability.md).
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _inspect(path: Path, check: Check) -> _Inspection:
    """Check the file read-only; a missing or empty file is a new database."""
    if not path.exists() or path.stat().st_size == 0:
        return _Inspection(None, 0, True)
    problem = backups.integrity_problem(path, check=check)
    if problem is not None:
        return _Inspection(problem, 0, False)
    conn = backups.inspect_connection(path)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]
    finally:
        conn.close()
    if version == 0 and tables:
        return _Inspection("it is not a chatapp database", 0, False)
    return _Inspection(None, version, version == 0)


def _recover(
    path: Path, problem: str, backups_dir: Path, check: Check, clock: Callable[[], float],
) -> tuple[Path, Path | None, str]:
    """Where to work instead of the damaged `path`: (file, backup copied or None, sentence)."""
    lead = f"{path.name} is damaged ({problem}) and was left untouched"
    earlier = _redirected(path, check)
    if earlier is not None:
        return earlier, None, f"{lead}; the copy recovered earlier, {earlier.name}, is open."
    fresh = _fresh_path(path, clock)
    good = backups.newest_good_backup(backups_dir, check=check)
    if good is not None:
        backups.copy_file(good.path, fresh)
        sentence = (f"{lead}; the backup of {good.describe()} was copied to {fresh.name} "
                    "and opened instead.")
    else:
        sentence = (f"{lead}; no good backup was found, so a new empty database, {fresh.name}, "
                    "was started.")
    _write_redirect(_redirect_file(path), fresh.name)
    return fresh, good.path if good else None, sentence


def _redirected(path: Path, check: Check) -> Path | None:
    """The good copy that an earlier recovery put in place of `path`, if any."""
    redirect = _redirect_file(path)
    if not redirect.exists():
        return None
    earlier = path.with_name(redirect.read_text("utf-8").strip())
    if earlier.name and earlier != path and earlier.exists() \
            and _inspect(earlier, check).problem is None:
        return earlier
    return None


def _redirect_file(path: Path) -> Path:
    """Names the file that replaces a damaged `path` (the damaged file cannot move)."""
    return path.with_name(path.name + ".redirect")


def _write_redirect(redirect: Path, name: str) -> None:
    partial = redirect.with_name(redirect.name + ".partial")
    partial.write_text(name + "\n", "utf-8")
    partial.replace(redirect)
    backups.fsync_dir(redirect.parent)


def _fresh_path(path: Path, clock: Callable[[], float]) -> Path:
    stamp = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%d-%H%M%S")
    fresh = path.with_name(f"{path.stem}-recovered-{stamp}{path.suffix}")
    n = 0
    while fresh.exists():
        n += 1
        fresh = path.with_name(f"{path.stem}-recovered-{stamp}-{n}{path.suffix}")
    return fresh


def _try_backup(
    conn: sqlite3.Connection, backups_dir: Path, keep: int, clock: Callable[[], float],
    check: Check, notices: list[str], which: str,
) -> Path | None:
    """A backup; a failure is told to the user but does not stop the open."""
    try:
        return backups.make_backup(conn, backups_dir, keep=keep, clock=clock, check=check)
    except BackupError as exc:
        notices.append(f"The backup {which} could not be made ({exc}).")
        return None
