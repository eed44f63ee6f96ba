"""Full-text search: highlighted snippets, Chinese, hostile input, the trash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.storage import ChatStore
from chatapp.storage.search import match_expression


@pytest.fixture
def filled(store: ChatStore) -> ChatStore:
    """A store with a few conversations in English and Chinese."""
    a = store.create_conversation()
    store.add_message(a.id, "user", "How does a lighthouse keeper survive a storm?")
    store.add_message(a.id, "assistant", "The keeper trims the lamp and watches the storm.")
    b = store.create_conversation()
    store.add_message(b.id, "user", "我说你好世界")
    store.add_message(b.id, "assistant", "こんにちは、世界。Café au lait?")
    return store


def test_snippet_highlights_the_term(filled: ChatStore) -> None:
    hits = filled.search("storm")
    assert len(hits) == 2
    assert all("«storm»" in h.snippet for h in hits)
    assert hits[0].conversation_title.startswith("How does a lighthouse")
    assert {h.role for h in hits} == {"user", "assistant"}
    assert hits[0].rank <= hits[1].rank  # bm25: lower is better


def test_words_are_prefixes_and_all_must_match(filled: ChatStore) -> None:
    assert len(filled.search("light")) == 1
    assert len(filled.search("keeper lamp")) == 1
    assert filled.search("keeper dragon") == []
    assert len(filled.search("CAFE")) == 1  # case and accents folded


def test_chinese_and_japanese_are_found_inside_runs(filled: ChatStore) -> None:
    [hit] = filled.search("你好")
    assert hit.snippet == "我说«你好»世界"
    assert len(filled.search("世界")) == 2
    assert len(filled.search("にち")) == 1
    assert filled.search("好你") == []


@pytest.mark.parametrize("query", ['"', '""', '"storm', "*", "storm*", "AND OR", "OR",
                                   "NOT storm", "NEAR(", "NEAR(storm keeper)", "col:x",
                                   "content:storm", "^storm", "{content}: storm", "(", ")",
                                   "storm -keeper", "'", "\\", "%", "_", "\x00", "\ud800",
                                   "a\x00b", "storm\ud800"])
def test_hostile_queries_never_raise(filled: ChatStore, query: str) -> None:
    filled.search(query)


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "...", "!!! ???"])
def test_nothing_to_search_gives_nothing(filled: ChatStore, query: str) -> None:
    assert filled.search(query) == []


def test_operators_are_plain_words(filled: ChatStore) -> None:
    c = filled.create_conversation()
    filled.add_message(c.id, "user", "cats AND dogs OR birds NEAR the col:umn")
    assert len(filled.search("AND OR")) == 1
    assert len(filled.search("col:umn")) == 1
    assert len(filled.search('"dogs')) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=30))
def test_any_text_makes_a_valid_query(text: str) -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2')")
    query = match_expression(text)
    if query is not None:
        conn.execute("SELECT * FROM t WHERE t MATCH ?", (query,)).fetchall()


def test_trashed_conversations_are_not_found_until_restored(filled: ChatStore) -> None:
    [hit] = filled.search("你好")
    filled.delete(hit.conversation_id)
    assert filled.search("你好") == []
    filled.restore(hit.conversation_id)
    assert [h.message_id for h in filled.search("你好")] == [hit.message_id]
    filled.delete(hit.conversation_id)
    filled.empty_trash()
    assert filled.search("你好") == []


def test_index_follows_checkpoints_and_finish(store: ChatStore) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "question")
    r = store.begin_reply(c.id, q.id)
    store.checkpoint_reply(r.id, "first draft")
    assert [h.message_id for h in store.search("draft")] == [r.id]
    store.checkpoint_reply(r.id, "second version")
    assert store.search("draft") == [] and len(store.search("version")) == 1
    store.finish_reply(r.id, "final answer", status="complete", provenance=None)
    assert store.search("version") == [] and len(store.search("final")) == 1
    store._conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


def test_many_trashed_matches_do_not_hide_live_ones(store: ChatStore) -> None:
    """The best matches are in the trash: search asks the index for more until it has
    enough live ones."""
    trashed = store.create_conversation()
    for n in range(120):
        store.add_message(trashed.id, "user", f"needle needle needle {n}")
    live = store.create_conversation()
    for n in range(5):
        store.add_message(live.id, "user", f"one needle among many other words here {n}")
    store.delete(trashed.id)
    hits = store.search("needle", limit=3)
    assert len(hits) == 3 and {h.conversation_id for h in hits} == {live.id}
    assert len(store.search("needle", limit=50)) == 5
