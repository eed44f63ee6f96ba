"""The end of a long conversation first: `active_path_tail` and `message_count`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from chatapp.storage import ChatStore, NotFoundError


def test_the_tail_is_the_end_of_the_active_path(store: ChatStore) -> None:
    c = store.create_conversation()
    assert store.active_path_tail(c.id, 50) == ([], 0)
    assert store.message_count(c.id) == 0
    q = store.add_message(c.id, "user", "q1")
    store.add_message(c.id, "assistant", "a1")
    q2 = store.add_message(c.id, "user", "q2")
    store.add_message(c.id, "assistant", "a2")
    store.edit_message(q2.id, "q2, edited")  # a branch: the tail follows the selected one
    store.add_message(c.id, "assistant", "a2 for the edit")
    store.add_message(c.id, "user", "other root", parent_id=None)
    store.select_branch(q.id)

    path = store.active_path(c.id)
    assert [m.content for m in path] == ["q1", "a1", "q2, edited", "a2 for the edit"]
    for limit in range(len(path) + 3):
        tail, before = store.active_path_tail(c.id, limit)
        assert tail == path[len(path) - min(limit, len(path)):]
        assert before == len(path) - len(tail)
    assert store.message_count(c.id) == 7  # every branch and root counted

    with pytest.raises(ValueError, match="limit"):
        store.active_path_tail(c.id, -1)
    with pytest.raises(NotFoundError):
        store.active_path_tail("nope", 5)
    with pytest.raises(NotFoundError):
        store.message_count("nope")


def best_of(runs: int, call: Callable[[], Any]) -> float:
    """The fastest of `runs` calls, in seconds (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def test_the_tail_of_20000_messages_reads_only_the_tail(
        store: ChatStore, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints both times; asserts only that the results agree (timing depends on the
    machine)."""
    n = 20_000
    paragraph = "The keeper trims the lamp and watches the storm roll in from the sea. " * 12
    provenance = {"model_file": "model.gguf", "sampling": {"temperature": 0.7, "top_k": 40},
                  "tokens_per_s": 31.5, "prompt_tokens": 812, "generated_tokens": 240}
    messages: list[dict[str, Any]] = []
    for k in range(n):
        assistant = k % 2 == 1
        messages.append({
            "id": f"m{k}", "parent_id": f"m{k - 1}" if k else None,
            "active_child_id": f"m{k + 1}" if k + 1 < n else None,
            "role": "assistant" if assistant else "user",
            "content": f"{k}: " + (paragraph if assistant else "A question of a line or two?"),
            "provenance": provenance if assistant else None})
    # An unselected branch near the end, which the tail must not follow.
    messages.append({"id": "side", "parent_id": f"m{n - 3}", "role": "assistant",
                     "content": "a regeneration that is not selected"})
    c = store.import_tree({"id": "long", "title": "long", "active_root_id": "m0"}, messages)
    assert store.message_count(c.id) == n + 1

    path = store.active_path(c.id)
    tail, before = store.active_path_tail(c.id, 50)
    assert tail == path[-50:] and before == n - 50
    assert [m.id for m in tail] == [f"m{k}" for k in range(n - 50, n)]

    full_s = best_of(3, lambda: store.active_path(c.id))
    tail_s = best_of(3, lambda: store.active_path_tail(c.id, 50))
    with capsys.disabled():
        print(f"\n20,000 messages: active_path {full_s * 1000:.0f} ms, "
              f"active_path_tail(50) {tail_s * 1000:.0f} ms ({full_s / tail_s:.1f}x faster)")
