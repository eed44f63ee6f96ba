"""Export and import: Markdown, lossless JSON round trips, the llama.cpp web UI's format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.storage import exchange
from chatapp.storage.repository import ChatStore


def record(i: int, token: int) -> dict[str, Any]:
    top = [[token + k, f"t{token + k}", round(0.5 / (k + 1), 6)] for k in range(5)]
    stages = [{"name": n, "active": True, "survivors": 100 - 10 * j, "top": top}
              for j, n in enumerate(("raw", "penalties", "top_k", "top_p", "min_p",
                                     "temperature"))]
    return {"i": i, "token": token, "piece": f"t{token}", "text": f"t{token} ",
            "t_ms": 10.0 * i, "sample_ms": 0.4, "stages": stages, "chosen_rank": 0,
            "chosen_p": 0.5, "raw_rank": 0, "raw_p": 0.4}


def reply(store: ChatStore, conv_id: str, parent_id: str, text: str, status: str = "complete",
          n_records: int = 2) -> str:
    msg = store.begin_reply(conv_id, parent_id)
    store.checkpoint_reply(msg.id, text[: len(text) // 2])
    store.finish_reply(msg.id, text, status=status,
                       provenance={"model_file": "m.gguf", "seed": 7, "tokens_per_s": 80.5,
                                   "generated_tokens": n_records,
                                   "time_to_first_token_ms": 120.0},
                       records=[record(i, 100 + i) for i in range(n_records)] or None)
    return msg.id


# one step of building a tree: (kind, which message it applies to, text)
steps = st.lists(
    st.tuples(st.sampled_from(["say", "regenerate", "edit", "select"]), st.integers(0, 50),
              st.text(max_size=40)),
    min_size=1, max_size=12,
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_json_round_trip_of_random_trees_is_identical(tmp_path: Path, plan: list[Any]) -> None:
    folder = tmp_path / f"rt{abs(hash(repr(plan)))}"
    with ChatStore(folder / "a.db") as a:
        conv = a.create_conversation(model="m.gguf", system_prompt="Be brief.",
                                     sampling={"temperature": 0.3})
        for kind, pick, text in plan:
            path = a.active_path(conv.id)
            if kind == "say" or not path:
                user = a.add_message(conv.id, "user", text or "hi")
                reply(a, conv.id, user.id, text[::-1], n_records=pick % 3)
                continue
            target = path[pick % len(path)]
            if kind == "edit" and target.role == "user":
                a.edit_message(target.id, text + " (edited)")
            elif kind == "regenerate" and target.role == "assistant" and target.parent_id:
                reply(a, conv.id, target.parent_id, text, status="cancelled")
            elif kind == "select":
                a.select_branch(target.id)
        first = exchange.to_json(a, conv.id)
        first_md = exchange.to_markdown(a, conv.id)
    with ChatStore(folder / "b.db") as b:
        (imported,) = exchange.import_any(b, json.loads(json.dumps(first)))
        assert exchange.to_json(b, imported.id) == first
        assert exchange.to_markdown(b, imported.id) == first_md


def test_importing_twice_gives_new_ids_and_the_same_text(tmp_path: Path) -> None:
    with ChatStore(tmp_path / "c.db") as store:
        conv = store.create_conversation()
        user = store.add_message(conv.id, "user", "What is 2+2?")
        reply(store, conv.id, user.id, "4")
        doc = exchange.to_json(store, conv.id)
        (copy,) = exchange.import_any(store, doc)
        assert copy.id != conv.id
        assert [m.content for m in store.active_path(copy.id)] == ["What is 2+2?", "4"]
        assert {m.id for m in store.tree(copy.id)}.isdisjoint(m.id for m in store.tree(conv.id))


def webui_export() -> dict[str, Any]:
    """The shape the llama.cpp web UI exports: a root node, an edited question (two branches),
    the second branch selected (currNode)."""
    def msg(mid: str, parent: str | None, role: str, content: str, children: list[str],
            kind: str = "text", ts: int = 1_700_000_000_000) -> dict[str, Any]:
        return {"id": mid, "convId": "c1", "type": kind, "timestamp": ts, "role": role,
                "content": content, "parent": parent, "thinking": "", "children": children}
    messages = [
        msg("r", None, "system", "", ["u1", "u2"], kind="root"),
        msg("u1", "r", "user", "Hello?", ["a1"]),
        msg("a1", "u1", "assistant", "Hi there.", []),
        msg("u2", "r", "user", "Hello, who are you?", ["a2"], ts=1_700_000_100_000),
        msg("a2", "u2", "assistant", "A llama.", [], ts=1_700_000_101_000) | {
            "model": "llama-3.gguf", "thinking": "be short",
            "timings": {"predicted_n": 3, "predicted_ms": 40.0}},
    ]
    return {"conv": {"id": "c1", "name": "Greetings", "lastModified": 1_700_000_102_000,
                     "currNode": "a2"}, "messages": messages}


def test_llama_cpp_webui_import(tmp_path: Path) -> None:
    with ChatStore(tmp_path / "w.db") as store:
        (conv,) = exchange.import_any(store, [webui_export()])
        assert conv.title == "Greetings"
        path = store.active_path(conv.id)
        assert [(m.role, m.content) for m in path] == [
            ("user", "Hello, who are you?"), ("assistant", "A llama.")]
        assert path[1].provenance is not None and path[1].provenance["thinking"] == "be short"
        assert len(store.tree(conv.id)) == 4  # the other branch is kept, the root node is not
        assert abs(path[0].created_at - 1_700_000_100.0) < 1e-6
        assert store.search("llama")[0].conversation_id == conv.id


@pytest.mark.parametrize("bad", [
    {}, [], {"format": "chatapp.conversation", "version": 99},
    {"format": "chatapp.conversation", "version": 1, "conversation": {}, "messages": [{"id": 1}]},
    {"format": "chatapp.conversation", "version": 1, "conversation": {},
     "messages": [{"id": "a", "role": "user", "content": "x", "parent_id": "nowhere"}]},
    {"conv": {}, "messages": [{"id": "x", "role": "tool", "content": "", "children": []}]},
])
def test_bad_documents_are_refused_and_write_nothing(tmp_path: Path, bad: Any) -> None:
    with ChatStore(tmp_path / "bad.db") as store:
        with pytest.raises(exchange.ImportFormatError) as err:
            exchange.import_any(store, bad)
        assert str(err.value)
        assert store.list_conversations() == []


def test_markdown_export(tmp_path: Path) -> None:
    with ChatStore(tmp_path / "m.db") as store:
        conv = store.create_conversation(system_prompt="Be kind.")
        user = store.add_message(conv.id, "user", "Say *hi*")
        reply(store, conv.id, user.id, "**hi**")
        text = exchange.to_markdown(store, conv.id)
    assert text.startswith("# Say *hi*\n")
    assert "**System:** Be kind." in text
    assert "### You\n\nSay *hi*" in text and "### Assistant\n\n**hi**" in text
    assert "m.gguf · seed 7 · 2 tokens · 80.5 tok/s · first token 120 ms" in text
