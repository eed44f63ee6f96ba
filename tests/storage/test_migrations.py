"""Schema versions: a database of the first release upgrades with nothing lost; a newer one
opens read-only."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatapp.storage import (
    SCHEMA_VERSION,
    ChatStore,
    DeletedMessages,
    DeletedRow,
    ReadOnlyError,
)
from chatapp.storage.backups import list_backups
from chatapp.storage.schema import migrate

FIXTURE = Path(__file__).parent / "fixtures" / "chats-v1.db"
V1_TABLES = ("conversations", "messages", "token_records", "presets", "settings")


def dump(path: Path, tables: tuple[str, ...] = V1_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the version-1 tables, with the version-1 columns only, in a stable order."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {}
        for table in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            out[table] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(),
                                key=repr)
        return out
    finally:
        conn.close()


def schema_sql(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """The schema as SQLite stores it."""
    return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))


def test_the_fixture_is_of_the_released_version_1_schema() -> None:
    """Migration 1 is frozen: the committed fixture has exactly the schema it builds today."""
    fresh = sqlite3.connect(":memory:")
    migrate(fresh, target=1)
    fixture = sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True)
    assert fixture.execute("PRAGMA user_version").fetchone()[0] == 1
    assert schema_sql(fixture) == schema_sql(fresh)


def test_version_1_upgrades_with_nothing_lost(tmp_path: Path, data_dir: Path) -> None:
    db = data_dir / "chats.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURE, db)
    before = dump(FIXTURE)

    with ChatStore(db) as store:
        result = store.open_result
        assert (result.migrated_from, result.schema_version) == (1, SCHEMA_VERSION)
        assert store.notice is None and not store.read_only
        # A backup of the version-1 file was made before the upgrade.
        assert result.backup is not None and dump(result.backup) == before
        assert sqlite3.connect(result.backup).execute("PRAGMA user_version").fetchone()[0] == 1

        # The tree and everything on it came through.
        c1 = store.get_conversation("c1" * 16)
        assert [m.content for m in store.active_path(c1.id)] == [
            "How do lighthouses work in a storm?", "With a Fresnel lens and a lamp."]
        assert [m.id for m in store.siblings("m1" * 16)] == ["m1" * 16, "m4" * 16]
        assert len(store.children("m1" * 16)) == 2
        reply = store.message("m3" * 16)
        assert reply.provenance is not None and reply.provenance["seed"] == 42
        recs = store.token_records(reply.id)
        assert recs is not None and [r["text"] for r in recs] == ["With", " a"]
        assert [c.title for c in store.list_conversations()] == ["问候", "Lighthouses in storms"]
        assert [c.id for c in store.trash()] == ["c3" * 16]
        assert [p.name for p in store.presets()] == ["Precise", "Balanced", "Creative", "Mine"]
        assert store.get_setting("defaults.sampling") == {"temperature": 0.5}

        # Version 2 indexed the old messages: search works on them, Chinese included.
        assert [h.message_id for h in store.search("Fresnel")] == ["m3" * 16]
        assert {h.message_id for h in store.search("你好")} == {"n1" * 16, "n2" * 16}
        assert store.search("forgotten") == []  # in the trash

    # Every row of every version-1 table is unchanged.
    assert dump(db) == before


def test_each_migration_is_one_transaction(tmp_path: Path) -> None:
    """A migration that fails leaves the previous version whole."""
    db = tmp_path / "v1.db"
    shutil.copyfile(FIXTURE, db)
    conn = sqlite3.connect(db)
    # No fts function registered: migration 2's rebuild fails half-way through its statements.
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'messages_fts%'"
                        ).fetchone()[0] == 0
    conn.close()
    assert dump(db) == dump(FIXTURE)


def make_newer(db: Path) -> None:
    """A database as a future chatapp would leave it: schema SCHEMA_VERSION + 1."""
    with ChatStore(db) as store:
        c = store.create_conversation()
        store.add_message(c.id, "user", "from the future")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future_things (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


def test_newer_schema_opens_read_only_and_writes_raise(db_path: Path) -> None:
    make_newer(db_path)
    before = db_path.read_bytes()
    with ChatStore(db_path) as store:
        assert store.read_only
        assert store.notice == (f"This database was written by a newer chatapp "
                                f"(schema {SCHEMA_VERSION + 1}); opened read-only.")
        [conversation] = store.list_conversations()
        assert store.active_path(conversation.id)[0].content == "from the future"
        assert store.search("future")
        with pytest.raises(ReadOnlyError, match=r"newer chatapp .* read-only"):
            store.create_conversation()
        with pytest.raises(ReadOnlyError):
            store.add_message(conversation.id, "user", "hi")
        with pytest.raises(ReadOnlyError):
            store.rename(conversation.id, "x")
        with pytest.raises(ReadOnlyError):
            store.set_setting("k", 1)
        first = store.active_path(conversation.id)[0]
        with pytest.raises(ReadOnlyError):
            store.delete_message(first.id)
        row = DeletedRow(1, "gone", conversation.id, None, "user", "x", 0.0, 0.0, "complete",
                         None, None, None, None, None)
        with pytest.raises(ReadOnlyError):
            store.restore_messages(DeletedMessages(conversation.id, "gone", None, (row,), None))
        # Even a raw write on its connection is refused by SQLite (mode=ro).
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store._conn.execute("DELETE FROM settings")
    assert db_path.read_bytes() == before
    assert list_backups(db_path.parent / "backups") == []  # read-only touches nothing


def test_new_database_is_created_at_the_current_version(db_path: Path) -> None:
    with ChatStore(db_path) as store:
        assert store.open_result.created and store.open_result.migrated_from is None
        assert store.open_result.backup is None  # nothing to back up yet
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
