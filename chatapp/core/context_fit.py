"""Fit a conversation into the context window by leaving out its oldest turns.

A conversation that has outgrown the model's context cannot be sent whole.  What is kept:

* the leading system message(s): the instructions the user chose stay in effect;
* the last `keep_last` messages: the question being answered (and, when continuing a reply,
  that reply);
* as many of the most recent turns before those as fit.

What goes: the oldest *whole* turns.  A turn is a user message and every message after it up to
the next user message, so the kept conversation still starts with a user message after the
system prompt (a template or a model can trip over a conversation that opens with a reply).

The prompt's length is only known by rendering the template and tokenizing the result, which
costs time proportional to the whole conversation; the number of turns to drop is therefore found
by binary search (a few renders even for a conversation of thousands of messages), not by dropping
one turn at a time.  No model, no Qt: pure logic, tested without either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: Renders and tokenizes a whole candidate conversation; returns its length in tokens.
CountTokens = Callable[[Sequence[dict[str, Any]]], int]


class ContextOverflowError(ValueError):
    """Even the messages that are always kept do not fit; str() is a sentence for the user.

    Attributes:
        prompt_tokens: length of the smallest prompt that could be built.
        n_ctx: the context size.
        reserve: tokens kept free for the reply.
    """

    def __init__(self, message: str, *, prompt_tokens: int, n_ctx: int, reserve: int) -> None:
        """Keep the numbers next to the sentence (the caller may show them)."""
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        self.reserve = reserve


@dataclass(frozen=True)
class ContextFit:
    """The conversation that fits.

    Attributes:
        messages: the messages kept, in order (system message(s) first).
        dropped: how many messages were left out (all of them from the oldest turns).
        prompt_tokens: the prompt's length in tokens with exactly these messages.
    """

    messages: list[dict[str, Any]]
    dropped: int
    prompt_tokens: int


def leading_system_count(messages: Sequence[dict[str, Any]]) -> int:
    """How many messages at the start are system messages."""
    n = 0
    while n < len(messages) and messages[n].get("role") == "system":
        n += 1
    return n


def turn_cuts(messages: Sequence[dict[str, Any]], keep_last: int = 1) -> list[int]:
    """Where the kept conversation may start after the system prompt, oldest first.

    `cuts[k]` is the index of the first message kept when the `k` oldest turns are dropped:
    `cuts[0]` drops nothing; every later cut is a user message at or before the first of the
    last `keep_last` messages.  When those last messages begin in the middle of a turn, that
    whole turn is kept: turns are never split.
    """
    if keep_last < 0:
        raise ValueError("keep_last must be 0 or more")
    lead = leading_system_count(messages)
    protected = max(lead, len(messages) - keep_last)  # first index that must be kept
    cuts = [lead]
    for i in range(lead + 1, protected + 1):
        # i == len(messages) only with keep_last=0: everything after the system prompt may go.
        if i == len(messages) or messages[i].get("role") == "user":
            cuts.append(i)
    return cuts


def fit_messages(
    messages: Sequence[dict[str, Any]],
    count_tokens: CountTokens,
    n_ctx: int,
    reserve: int,
    keep_last: int = 1,
) -> ContextFit:
    """Drop the fewest oldest turns so that `prompt_tokens + reserve <= n_ctx`.

    `count_tokens` gets each candidate conversation (system message(s) followed by a suffix of
    the rest) and must not grow when turns are dropped; every template that renders messages
    one after another satisfies that.  Raises ContextOverflowError when even the system
    message(s) and the last `keep_last` messages (with the rest of their turn) do not fit.
    """
    if n_ctx <= 0:
        raise ValueError("n_ctx must be positive")
    if reserve < 0:
        raise ValueError("reserve must be 0 or more")
    lead = leading_system_count(messages)
    cuts = turn_cuts(messages, keep_last)
    counted: dict[int, int] = {}  # k (turns dropped) -> prompt tokens: each render costs

    def kept(k: int) -> list[dict[str, Any]]:
        return [*messages[:lead], *messages[cuts[k]:]]

    def tokens(k: int) -> int:
        if k not in counted:
            counted[k] = count_tokens(kept(k))
        return counted[k]

    def fits(k: int) -> bool:
        return tokens(k) + reserve <= n_ctx

    last = len(cuts) - 1
    if fits(0):  # the usual case: one render, nothing dropped
        best = 0
    elif not fits(last):
        raise _overflow(len(messages) - cuts[last], lead, tokens(last), n_ctx, reserve)
    else:
        # Invariant: dropping `lo` turns does not fit, dropping `hi` does.
        lo, hi = 0, last
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                hi = mid
            else:
                lo = mid
        best = hi
    return ContextFit(kept(best), cuts[best] - lead, tokens(best))


def _overflow(n_tail: int, n_system: int, tokens: int, n_ctx: int,
              reserve: int) -> ContextOverflowError:
    """The error for a conversation whose smallest form is still too long, in plain words."""
    if n_tail == 0:
        what = "the system prompt alone is" if n_system else "the prompt alone is"
    else:
        last = "the last message" if n_tail == 1 else f"the last {n_tail} messages"
        what = f"the system prompt and {last} alone are" if n_system else (
            f"{last} alone {'is' if n_tail == 1 else 'are'}"
        )
    room = f" (with {reserve} more kept free for the reply)" if reserve else ""
    return ContextOverflowError(
        f"{what} {tokens} tokens{room}; the context holds {n_ctx} — load the model with a "
        "larger context, or shorten the message",
        prompt_tokens=tokens, n_ctx=n_ctx, reserve=reserve,
    )
