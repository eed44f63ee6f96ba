"""Incremental Markdown rendering for a reply that arrives token by token.

The text so far is split into a *finished* prefix (top-level blocks that later text can no longer
change: a paragraph followed by a blank line and a new unindented line, a closed code fence, ...)
and the *tail* (what follows).  Each finished block is rendered exactly once; only the tail is
rendered again on each update, so the cost of an update depends on the size of the current block,
never on the length of the reply.

Concatenating every finished fragment and the current tail gives exactly
``render_markdown(text_so_far, budget_us=None).html`` (while the tail is under
:data:`TAIL_LIMIT` characters, and no time limit left finished blocks pending).
"""

from __future__ import annotations

import time
from typing import NamedTuple

from chatapp.core.markdown_render import Block, render_block, scan_blocks

# Characters of the unfinished tail that are shown while it grows.
TAIL_LIMIT = 64_000


class StreamUpdate(NamedTuple):
    """What changed since the previous update.

    Attributes:
        fragments: HTML of the blocks finished since then, in order; append each once.
        tail: HTML of the unfinished rest; replaces the previous tail.
    """

    fragments: list[str]
    tail: str


class StreamingMarkdown:
    """Markdown text that grows by deltas, rendered as finished fragments plus a tail.

    Attributes:
        rendered_chars: characters of Markdown/code handed to the block renderer so far (a
            measure of work: each finished block counts once, each tail render counts again).
    """

    def __init__(self, *, dark: bool = False) -> None:
        """Start empty; ``dark`` selects the dark code highlighting style."""
        self._dark = dark
        self._chunks: list[str] = []  # the whole text, for .text
        self._region = ""  # the text not yet in a finished block
        self._held_cr = False  # a CR at the end of a delta may be the first half of CRLF
        self._final = False
        self._finished: list[Block] = []  # every finished block, in order
        self._unrendered: list[Block] = []  # finished blocks not yet given out as fragments
        self._finished_code: list[str] = []
        self._tail_code: list[str] = []
        # Renders of the current tail's blocks: a block that then finishes unchanged is reused.
        self._tail_cache: dict[tuple[Block, int], str] = {}
        self.rendered_chars = 0

    @property
    def text(self) -> str:
        """All the text appended so far (newlines normalized to LF)."""
        return "".join(self._chunks) + self._region

    @property
    def code_blocks(self) -> list[str]:
        """Text of every code block so far, finished ones first, as of the last update."""
        return self._finished_code + self._tail_code

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` was called."""
        return self._final

    def append(self, delta: str) -> None:
        """Add text at the end (cheap: the work happens in :meth:`take_update`)."""
        if self._final:
            raise ValueError("append after finish")
        if self._held_cr:
            delta = "\r" + delta
            self._held_cr = False
        if delta.endswith("\r"):
            delta, self._held_cr = delta[:-1], True
        self._region += delta.replace("\r\n", "\n").replace("\r", "\n")

    def finish(self) -> None:
        """No more text will come: the last block is finished too."""
        if self._held_cr:
            self._region += "\n"
            self._held_cr = False
        self._final = True

    def blocks(self) -> tuple[list[Block], str]:
        """The finished blocks so far, and the text of the tail (the unfinished rest)."""
        self._advance()
        return list(self._finished), self._region

    @property
    def pending(self) -> bool:
        """Whether finished blocks wait to be rendered (a time limit cut the last update)."""
        return bool(self._unrendered)

    def take_update(self, time_limit: float | None = None) -> StreamUpdate:
        """Render what changed: newly finished blocks (once each) and the whole current tail.

        With ``time_limit`` (seconds), rendering finished blocks stops once it is exceeded (at
        least one is rendered); the rest stay :attr:`pending` and the tail is then empty, since
        it must come after them.
        """
        self._advance()
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        fragments: list[str] = []
        done = 0
        for block in self._unrendered:
            if deadline is not None and done and time.perf_counter() > deadline:
                break
            fragments.append(self._render(block, len(self._finished_code)))
            if block.kind == "code":
                self._finished_code.append(block.source)
            done += 1
        del self._unrendered[:done]
        if self._unrendered:
            self._tail_code = []
            return StreamUpdate(fragments, "")
        tail_blocks, _ = scan_blocks(self._region[:TAIL_LIMIT], final=True)
        if len(self._region) > TAIL_LIMIT:
            # Re-showing a huge unfinished block on every update would stall the window; the
            # rest appears once the block is finished (or the reply is).
            more = len(self._region) - TAIL_LIMIT
            tail_blocks.append(Block("text", f"… ({more:,} more characters)"))
        cache, self._tail_cache = self._tail_cache, {}
        parts: list[str] = []
        self._tail_code = []
        for block in tail_blocks:
            index = len(self._finished_code) + len(self._tail_code)
            html = cache.get((block, index)) or self._render(block, index)
            self._tail_cache[(block, index)] = html
            parts.append(html)
            if block.kind == "code":
                self._tail_code.append(block.source)
        return StreamUpdate(fragments, "".join(parts))

    def _advance(self) -> None:
        """Move the blocks that later text can no longer change out of the tail."""
        found, consumed = scan_blocks(self._region, final=self._final)
        if consumed:
            self._chunks.append(self._region[:consumed])
            self._region = self._region[consumed:]
        self._finished += found
        self._unrendered += found

    def _render(self, block: Block, code_index: int) -> str:
        cached = self._tail_cache.get((block, code_index))
        if cached is not None:
            return cached
        self.rendered_chars += len(block.source)
        return render_block(block, dark=self._dark, code_index=code_index)
