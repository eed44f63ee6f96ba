"""Following the selected branch through a conversation's message tree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Node(NamedTuple):
    """The links of one message: enough to walk the tree without its text."""

    id: str
    parent_id: str | None
    active_child_id: str | None


def walk_active(root_id: str | None, nodes: Iterable[Node]) -> list[Node]:
    """The active path, root to leaf, through `nodes` (in creation order).

    Starts at `root_id` and follows each node's `active_child_id`.  A pointer that names no
    child (NULL, or a hand-edited database) falls back to the newest child, so every message
    that has a parent on the path is reachable and the walk always ends at a leaf.
    """
    by_id: dict[str, Node] = {}
    newest_child: dict[str | None, Node] = {}
    for node in nodes:
        by_id[node.id] = node
        newest_child[node.parent_id] = node
    path: list[Node] = []
    wanted, parent = root_id, None
    seen: set[str] = set()
    while parent in newest_child:
        chosen = by_id.get(wanted) if wanted is not None else None
        node = chosen if chosen is not None and chosen.parent_id == parent \
            else newest_child[parent]
        if node.id in seen:  # a cycle cannot be built through the store; guard anyway
            break
        seen.add(node.id)
        path.append(node)
        wanted, parent = node.active_child_id, node.id
    return path
