"""The database schema, as the list of migrations that builds it.

Migration n (1-based) takes a database from schema n - 1 to n.  Each runs in one transaction
together with the `PRAGMA user_version` that records it, so a crash mid-migration leaves the
previous version intact.  Released migrations are never edited: a change is a new migration.

Version 1: conversations, messages (a tree), token records, presets, settings.
Version 2: full-text search over messages (FTS5), the listing index, and triggers that refuse
to overwrite a message's text or move it in the tree.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Callable
from typing import Any

#: Built-in sampling presets (inserted by migration 1; cannot be deleted or changed).
BUILTIN_PRESETS: dict[str, dict[str, Any]] = {
    "Precise": {"temperature": 0.2, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
                "repeat_penalty": 1.0},
    "Balanced": {"temperature": 0.7, "top_k": 40, "top_p": 0.95, "min_p": 0.05,
                 "repeat_penalty": 1.0},
    "Creative": {"temperature": 1.1, "top_k": 100, "top_p": 0.98, "min_p": 0.02,
                 "repeat_penalty": 1.05},
}

#: SQL function that prepares text for the full-text index (see `fts_text`).
FTS_FUNCTION = "chatapp_fts_text"

_V1 = [
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        title_is_auto INTEGER NOT NULL DEFAULT 1 CHECK (title_is_auto IN (0, 1)),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        model TEXT,
        system_prompt TEXT NOT NULL DEFAULT '',
        sampling TEXT NOT NULL DEFAULT '{}',
        folder TEXT,
        pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
        deleted_at REAL,
        active_root_id TEXT
    )""",
    # `seq` is an explicit INTEGER PRIMARY KEY because VACUUM may renumber an implicit rowid,
    # and the full-text index refers to messages by rowid; it also orders siblings.
    # parent_id has no ON DELETE CASCADE: a cascade recurses once per level of the tree and
    # SQLite stops at 1,000 levels, so a long conversation could not be deleted.  Messages go
    # all at once with their conversation (conversation_id's cascade), which leaves no orphan.
    """CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id TEXT REFERENCES messages(id),
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'complete'
            CHECK (status IN ('complete', 'streaming', 'interrupted', 'cancelled', 'error')),
        active_child_id TEXT,
        provenance TEXT,
        error TEXT
    )""",
    "CREATE INDEX messages_by_conversation ON messages(conversation_id)",
    "CREATE INDEX messages_by_parent ON messages(parent_id)",
    # Only streaming messages are looked up by status (at open); a partial index stays tiny.
    "CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming'",
    """CREATE TABLE token_records (
        message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        n_tokens INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    """CREATE TABLE presets (
        name TEXT PRIMARY KEY,
        sampling TEXT NOT NULL,
        builtin INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1))
    )""",
    """CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
]

# External-content FTS5 over a view, so the index stores no second copy of the text.  The view
# passes content through `fts_text`, which splits runs of Chinese, Japanese, Korean and Thai
# (scripts written without spaces) into one token per character: unicode61 alone keeps such a
# run as a single token, and the trigram tokenizer finds nothing for queries shorter than three
# characters (measured on SQLite 3.40.1: "你好" does not match "我说你好世界").
_V2 = [
    f"""CREATE VIEW messages_fts_source AS
        SELECT seq, {FTS_FUNCTION}(content) AS content FROM messages""",
    """CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages_fts_source', content_rowid='seq',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    f"""CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, {FTS_FUNCTION}(new.content));
    END""",
    f"""CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.seq, {FTS_FUNCTION}(old.content));
    END""",
    f"""CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.seq, {FTS_FUNCTION}(old.content));
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, {FTS_FUNCTION}(new.content));
    END""",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
    # Nothing is overwritten, enforced below the code: text changes only while a reply
    # streams (checkpoints and its final text), and a message never moves in the tree.
    """CREATE TRIGGER messages_content_is_kept BEFORE UPDATE OF content ON messages
        WHEN old.status <> 'streaming' BEGIN
        SELECT RAISE(ABORT, 'a message keeps its text once written (add a sibling instead)');
    END""",
    """CREATE TRIGGER messages_stay_in_place
        BEFORE UPDATE OF id, conversation_id, parent_id, role ON messages BEGIN
        SELECT RAISE(ABORT, 'a message cannot move in the tree or change its role');
    END""",
    # The sidebar lists live conversations, pinned first, newest first.
    """CREATE INDEX conversations_listing ON conversations(pinned DESC, updated_at DESC)
        WHERE deleted_at IS NULL""",
]


def _run(statements: list[str]) -> Callable[[sqlite3.Connection], None]:
    def migrate(conn: sqlite3.Connection) -> None:
        for sql in statements:
            conn.execute(sql)
    return migrate


def _v1(conn: sqlite3.Connection) -> None:
    _run(_V1)(conn)
    conn.executemany(
        "INSERT INTO presets (name, sampling, builtin) VALUES (?, ?, 1)",
        [(name, json.dumps(values)) for name, values in BUILTIN_PRESETS.items()],
    )


#: MIGRATIONS[n] takes the schema from version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _run(_V2)]

SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database file."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing migrations up to `target`, each in its own transaction.

    The connection must have no transaction open and `fts_text` registered (see
    `register_functions`).  Returns the versions reached, in order.
    """
    reached: list[int] = []
    version = user_version(conn)
    while version < target:
        # Explicit BEGIN/COMMIT: sqlite3's implicit transactions do not cover DDL reliably.
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version += 1
        reached.append(version)
    return reached


# Scripts written without spaces between words.  Each character becomes its own token.
_UNSPACED = re.compile(
    "["
    "\u0e00-\u0eff"          # Thai, Lao
    "\u1000-\u109f"          # Myanmar
    "\u1780-\u17ff"          # Khmer
    "\u1100-\u11ff"          # Hangul Jamo
    "\u2e80-\u2fdf"          # CJK radicals
    "\u3040-\u30ff"          # Hiragana, Katakana
    "\u3100-\u31ff"          # Bopomofo, Hangul compatibility Jamo, Katakana extensions
    "\u3400-\u4dbf"          # CJK extension A
    "\u4e00-\u9fff"          # CJK unified ideographs
    "\ua960-\ua97f"          # Hangul Jamo extended A
    "\uac00-\ud7ff"          # Hangul syllables, Jamo extended B
    "\uf900-\ufaff"          # CJK compatibility ideographs
    "\uff66-\uff9f"          # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B–G
    "]+"
)

#: Inserted around each character of an unspaced script; unicode61 treats it as a separator
#: (category Cf), and search results drop it from snippets.
SEPARATOR = "\u200b"


def fts_text(text: str | None) -> str | None:
    """Text as the full-text index sees it: one token per character of unspaced scripts.

    Deterministic by contract: the index deletes an entry by re-tokenising the old text, so a
    change here needs a migration that rebuilds the index.
    """
    if text is None or text.isascii():
        return text
    return _UNSPACED.sub(lambda m: SEPARATOR + SEPARATOR.join(m.group()) + SEPARATOR, text)


def is_token_char(ch: str) -> bool:
    """Whether unicode61 keeps `ch` inside a token (its default categories: L*, N*, Co)."""
    category = unicodedata.category(ch)
    return category[0] in "LN" or category == "Co"


def register_functions(conn: sqlite3.Connection) -> None:
    """Register the SQL functions the schema's view and triggers call."""
    conn.create_function(FTS_FUNCTION, 1, fts_text, deterministic=True)
