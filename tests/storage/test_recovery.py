"""A damaged database is never written to; work goes on from the newest good backup.
Backups: verified, rolling, one a day at open."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from chatapp.storage import ChatStore, open_database
from chatapp.storage.backups import (
    backed_up_today,
    integrity_problem,
    list_backups,
    make_backup,
    newest_good_backup,
)

DAY = 86_400.0


def digest(path: Path) -> str:
    """SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill(store: ChatStore, n: int, word: str) -> str:
    """A conversation of n long messages (many pages), returns its id."""
    c = store.create_conversation()
    for i in range(n):
        store.add_message(c.id, "user" if i % 2 == 0 else "assistant",
                          f"{word} {i} " + "lorem ipsum dolor sit amet " * 40)
    return c.id


def corrupt(path: Path) -> None:
    """Overwrite eight pages in the middle of the file with garbage."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek((size // 2) // 4096 * 4096)
        f.write(bytes(range(256)) * 128)


def test_damaged_database_is_left_untouched_and_the_newest_backup_opened(db_path: Path) -> None:
    with ChatStore(db_path) as store:
        kept = fill(store, 120, "saved")
        store.backup_now()
        fill(store, 120, "after")  # not in the backup: lost with the damaged file, as expected
    assert not Path(f"{db_path}-wal").exists()
    corrupt(db_path)
    assert integrity_problem(db_path) is not None
    damaged = digest(db_path)

    with ChatStore(db_path) as store:
        assert store.path != db_path and store.path.parent == db_path.parent
        assert store.open_result.damaged_path == db_path
        assert store.open_result.restored_from is not None
        assert store.notice is not None and store.notice.count(".") >= 1
        assert store.notice.startswith("chats.db is damaged (")
        assert "left untouched" in store.notice and store.path.name in store.notice
        assert [c.id for c in store.list_conversations()] == [kept]
        assert len(store.active_path(kept)) == 120
        fresh = store.create_conversation()
        store.add_message(fresh.id, "user", "written after the recovery")
    assert digest(db_path) == damaged

    # Next start: the same recovered copy, with what was written to it since.
    with ChatStore(db_path) as store:
        assert "recovered earlier" in (store.notice or "")
        assert {c.id for c in store.list_conversations()} == {kept, fresh.id}
    assert digest(db_path) == damaged
    assert sorted(p.name for p in db_path.parent.glob("chats*.db")) == sorted(
        ["chats.db", store.path.name])


def test_damaged_database_without_backup_starts_a_new_file_beside_it(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.write_bytes(b"this is not an SQLite file at all" * 200)
    damaged = digest(db_path)
    with ChatStore(db_path) as store:
        assert store.path != db_path
        assert store.notice is not None and "no good backup was found" in store.notice
        assert store.list_conversations() == []
        store.create_conversation()
    assert digest(db_path) == damaged


def test_a_foreign_sqlite_file_is_not_taken_over(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE photos (x)")
    conn.commit()
    conn.close()
    before = digest(db_path)
    with ChatStore(db_path) as store:
        assert store.path != db_path
        assert "not a chatapp database" in (store.notice or "")
    assert digest(db_path) == before


def test_a_damaged_backup_is_skipped(tmp_path: Path, db_path: Path) -> None:
    with ChatStore(db_path) as store:
        fill(store, 60, "one")
        good = make_backup(store._conn, tmp_path / "b", clock=lambda: 1_000_000.0)
        fill(store, 60, "two")
        bad = make_backup(store._conn, tmp_path / "b", clock=lambda: 2_000_000.0)
    corrupt(bad)
    found = newest_good_backup(tmp_path / "b")
    assert found is not None and found.path == good


def test_backups_roll_and_are_verified(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "backups"
    with ChatStore(db_path) as store:
        fill(store, 5, "x")
        made = [make_backup(store._conn, folder, keep=3, clock=lambda n=n: 1e9 + n * DAY)
                for n in range(5)]
        # Twice in one second: both kept, in order.
        twin = make_backup(store._conn, folder, keep=3, clock=lambda: 1e9 + 4 * DAY)
    assert [b.path for b in list_backups(folder)] == [twin, made[4], made[3]]
    assert made[0].name == "chats-20010909-014640.db"
    assert all(integrity_problem(p) is None for p in folder.iterdir())
    # A backup is one self-contained file, not in WAL mode.
    assert sqlite3.connect(twin).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not list(folder.glob("*.partial"))


def test_one_backup_a_day_at_open(db_path: Path) -> None:
    folder = db_path.parent / "backups"
    day1 = 1_800_000_000.0
    r = open_database(db_path, clock=lambda: day1)  # new: nothing to back up
    assert r.backup is None
    r.connection.close()
    r = open_database(db_path, clock=lambda: day1 + 60)
    assert r.backup is not None and backed_up_today(folder, clock=lambda: day1 + 60)
    r.connection.close()
    r = open_database(db_path, clock=lambda: day1 + 120)
    assert r.backup is None
    r.connection.close()
    r = open_database(db_path, clock=lambda: day1 + DAY)
    assert r.backup is not None
    r.connection.close()
    assert len(list_backups(folder)) == 2


def test_recovered_copy_is_kept_when_the_damaged_file_is_deleted(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.write_bytes(b"garbage" * 1000)
    with ChatStore(db_path) as store:
        c = store.create_conversation()
        recovered = store.path
    db_path.unlink()  # the user cleans up the damaged file
    with ChatStore(db_path) as store:
        assert store.path == recovered and store.notice is None
        assert [x.id for x in store.list_conversations()] == [c.id]
    # A good file put back in place is the database again.
    with ChatStore(db_path.with_name("other.db")) as other:
        other.create_conversation()
    db_path.with_name("other.db").rename(db_path)
    with ChatStore(db_path) as store:
        assert store.path == db_path and [x.id for x in store.list_conversations()] != [c.id]
    assert recovered.exists()
