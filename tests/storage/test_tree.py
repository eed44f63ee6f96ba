"""The message tree: random add / edit / regenerate / select sequences keep its invariants."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from chatapp.storage import ChatStore, Message

words = st.text(alphabet="abc xyz你好", min_size=0, max_size=12)


class TreeMachine(RuleBasedStateMachine):
    """Drives one conversation; the model is what each message must hold forever."""

    messages = Bundle("messages")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="chatapp-tree-"))
        self.store = ChatStore(self.folder / "chats.db")
        self.conversation = self.store.create_conversation().id
        self.content: dict[str, str] = {}          # id -> content it must keep
        self.parent: dict[str, str | None] = {}    # id -> parent id
        self.order: list[str] = []                 # creation order

    def teardown(self) -> None:
        """Close the store and remove its folder."""
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _added(self, m: Message, parent: str | None) -> str:
        assert m.parent_id == parent
        self.content[m.id] = m.content
        self.parent[m.id] = parent
        self.order.append(m.id)
        return m.id

    def _path_ids(self) -> list[str]:
        return [m.id for m in self.store.active_path(self.conversation)]

    @initialize(target=messages, text=words)
    def first(self, text: str) -> str:
        m = self.store.add_message(self.conversation, "user", text)
        return self._added(m, None)

    @rule(target=messages, text=words, role=st.sampled_from(["user", "assistant"]))
    def add_at_end(self, text: str, role: str) -> str:
        leaf = self._path_ids()[-1]
        m = self.store.add_message(self.conversation, role, text)  # type: ignore[arg-type]
        assert self._path_ids()[-1] == m.id
        return self._added(m, leaf)

    @rule(target=messages, parent=messages, text=words)
    def add_below(self, parent: str, text: str) -> str:
        m = self.store.add_message(self.conversation, "user", text, parent_id=parent)
        path = self._path_ids()
        assert path[-1] == m.id and path[-2] == parent
        return self._added(m, parent)

    @rule(target=messages, original=messages, text=words)
    def edit(self, original: str, text: str) -> object:
        m = self.store.edit_message(original, text)
        path = self._path_ids()
        if m.id == original:  # same text: the original is selected, nothing added
            assert text == self.content[original] and original in path
            return multiple()
        assert m.content == text and m.id in path and original not in path
        assert path[-1] == m.id  # a new version starts a branch of its own
        return self._added(m, self.parent[original])

    @rule(target=messages, parent=messages, chunks=st.lists(words, max_size=3),
          status=st.sampled_from(["complete", "cancelled", "error"]))
    def regenerate(self, parent: str, chunks: list[str], status: str) -> str:
        before = len(self.store.children(parent))
        r = self.store.begin_reply(self.conversation, parent)
        text = ""
        for chunk in chunks:
            text += chunk
            self.store.checkpoint_reply(r.id, text)
        done = self.store.finish_reply(r.id, text + "!", status=status, provenance={"n": 1})
        assert len(self.store.children(parent)) == before + 1
        assert self._path_ids()[-1] == r.id and done.status == status
        self.content[r.id] = text + "!"
        self.parent[r.id] = parent
        self.order.append(r.id)
        return r.id

    @rule(target=messages, m=consumes(messages))
    def select(self, m: str) -> str:
        self.store.select_branch(m)
        assert m in self._path_ids()
        return m

    @precondition(lambda self: len(self.order) > 1)
    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = ChatStore(self.folder / "chats.db")

    @invariant()
    def path_is_a_chain_from_a_root_to_a_leaf(self) -> None:
        path = self.store.active_path(self.conversation)
        if not self.order:
            return
        assert path and path[0].parent_id is None
        for above, below in itertools.pairwise(path):
            assert below.parent_id == above.id and above.active_child_id == below.id
        assert self.store.children(path[-1].id) == []

    @invariant()
    def nothing_is_ever_overwritten_or_lost(self) -> None:
        for mid, text in self.content.items():
            m = self.store.message(mid)
            assert (m.content, m.parent_id) == (text, self.parent[mid])

    @invariant()
    def every_message_reaches_a_root(self) -> None:
        for mid in self.order:
            seen = set()
            while mid is not None:
                assert mid not in seen
                seen.add(mid)
                mid = self.parent[mid]

    @invariant()
    def sibling_counts_match(self) -> None:
        branches = self.store.branches(self.conversation)
        for m in self.store.active_path(self.conversation):
            kids = [k for k in self.order if self.parent[k] == m.parent_id]
            assert (branches[m.id].index, branches[m.id].count) == (kids.index(m.id), len(kids))
            assert [s.id for s in self.store.siblings(m.id)] == kids


TreeMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25,
                                         deadline=None)
test_tree = TreeMachine.TestCase
