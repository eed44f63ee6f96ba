"""Fitting a conversation into the context window (pure logic, a counting stand-in for the model).

The stand-in counts what a chat template does: a fixed cost for the prompt, and per message a
header plus its content.  The real model's path is tested in tests/engine/test_context_fit_engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.core.context_fit import (
    ContextFit,
    ContextOverflowError,
    fit_messages,
    leading_system_count,
    turn_cuts,
)

Msgs = list[dict[str, Any]]

PROMPT_COST = 5  # e.g. BOS and the generation prompt
HEADER_COST = 3  # e.g. <|im_start|>role\n ... <|im_end|>


class Counter:
    """Counts tokens as `len(content)` plus fixed costs, and how often it was asked."""

    def __init__(self) -> None:
        """No calls yet."""
        self.calls = 0

    def __call__(self, messages: Sequence[dict[str, Any]]) -> int:
        """The stand-in prompt length of `messages`."""
        self.calls += 1
        return cost(messages)


def cost(messages: Sequence[dict[str, Any]]) -> int:
    return PROMPT_COST + sum(HEADER_COST + len(m["content"]) for m in messages)


def msg(role: str, size: int, tag: str = "") -> dict[str, Any]:
    return {"role": role, "content": (tag + "x" * size)[:max(size, len(tag))]}


def conversation(turns: int, size: int = 10, system: bool = True) -> Msgs:
    msgs: Msgs = [msg("system", size, "sys")] if system else []
    for i in range(turns):
        msgs += [msg("user", size, f"u{i}"), msg("assistant", size, f"a{i}")]
    return msgs


def test_a_conversation_that_fits_is_sent_whole_with_one_count() -> None:
    msgs = conversation(3)
    counter = Counter()
    fit = fit_messages(msgs, counter, n_ctx=1000, reserve=100)
    assert fit == ContextFit(msgs, 0, cost(msgs))
    assert counter.calls == 1


def test_oldest_whole_turns_go_first_and_the_system_prompt_stays() -> None:
    msgs = [*conversation(5), msg("user", 10, "last")]  # 1 + 10 + 1 messages, 13 tokens each
    # Room for the system prompt, the last question and exactly two earlier turns:
    budget = cost([msgs[0], *msgs[-5:]])
    fit = fit_messages(msgs, Counter(), n_ctx=budget + 20, reserve=20)
    assert fit.dropped == 6
    assert fit.messages == [msgs[0], *msgs[7:]]
    assert fit.messages[1]["content"].startswith("u3")
    assert fit.prompt_tokens == budget


def test_the_search_is_logarithmic_on_a_long_conversation() -> None:
    msgs = [*conversation(500), msg("user", 10, "last")]
    counter = Counter()
    fit = fit_messages(msgs, counter, n_ctx=2000, reserve=100)
    assert 0 < fit.dropped < len(msgs)
    assert fit.prompt_tokens + 100 <= 2000
    assert counter.calls <= 2 + math.ceil(math.log2(501)) + 1


def test_continuing_keeps_the_question_and_the_reply_being_continued() -> None:
    msgs = [*conversation(4), msg("user", 10, "q"), msg("assistant", 10, "partial")]
    fit = fit_messages(msgs, Counter(), n_ctx=cost([msgs[0], *msgs[-2:]]), reserve=0,
                       keep_last=2)
    assert fit.messages == [msgs[0], *msgs[-2:]]
    assert fit.dropped == 8


def test_a_turn_is_never_split_even_when_keep_last_starts_inside_it() -> None:
    # keep_last=1 on a conversation that ends with a reply: its question stays with it.
    msgs = [*conversation(3), msg("user", 10, "q"), msg("assistant", 10, "r")]
    fit = fit_messages(msgs, Counter(), n_ctx=cost([msgs[0], *msgs[-2:]]), reserve=0)
    assert fit.messages == [msgs[0], *msgs[-2:]]
    assert turn_cuts(msgs, keep_last=1)[-1] == len(msgs) - 2


def test_replies_before_the_first_question_form_a_turn_of_their_own() -> None:
    msgs = [msg("system", 5), msg("assistant", 50, "hello"), *conversation(2, system=False)]
    assert turn_cuts(msgs) == [1, 2, 4]
    fit = fit_messages(msgs, Counter(), n_ctx=cost(msgs) - 1, reserve=0)
    assert fit.dropped == 1 and fit.messages[1]["role"] == "user"


@pytest.mark.parametrize(
    ("msgs", "keep_last", "words"),
    [
        ([msg("user", 5000)], 1, "the last message alone is 5008 tokens"),
        ([msg("system", 10), msg("user", 10), msg("assistant", 10), msg("user", 5000)], 1,
         "the system prompt and the last message alone are 5021 tokens"),
        ([msg("user", 10), msg("assistant", 5000)], 2, "the last 2 messages alone are 5021"),
    ],
)
def test_too_long_even_at_the_minimum_is_a_sentence(msgs: Msgs, keep_last: int,
                                                    words: str) -> None:
    with pytest.raises(ContextOverflowError) as err:
        fit_messages(msgs, Counter(), n_ctx=4096, reserve=512, keep_last=keep_last)
    text = str(err.value)
    assert text.startswith(words), text
    assert "the context holds 4096" in text and "larger context" in text
    assert isinstance(err.value, ValueError)
    assert (err.value.n_ctx, err.value.reserve) == (4096, 512)


def test_the_reserve_counts() -> None:
    msgs = conversation(2)
    exact = cost(msgs)
    assert fit_messages(msgs, Counter(), n_ctx=exact + 7, reserve=7).dropped == 0
    assert fit_messages(msgs, Counter(), n_ctx=exact + 6, reserve=7).dropped == 2


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="n_ctx"):
        fit_messages([], Counter(), n_ctx=0, reserve=0)
    with pytest.raises(ValueError, match="reserve"):
        fit_messages([], Counter(), n_ctx=10, reserve=-1)
    with pytest.raises(ValueError, match="keep_last"):
        fit_messages([], Counter(), n_ctx=10, reserve=0, keep_last=-1)


# -- properties ---------------------------------------------------------------------------------


def allowed_starts(msgs: Msgs, keep_last: int) -> list[int]:
    """Where the kept rest may start, by the rule stated plainly (independent of turn_cuts)."""
    lead = 0
    while lead < len(msgs) and msgs[lead]["role"] == "system":
        lead += 1
    must_keep = max(lead, len(msgs) - keep_last)
    return [i for i in range(lead, must_keep + 1)
            if i == lead or i == len(msgs) or msgs[i]["role"] == "user"]


messages_strategy = st.tuples(
    st.lists(st.integers(0, 40), max_size=2),  # system messages' sizes
    st.lists(st.tuples(st.sampled_from([*["user", "assistant"] * 3, "tool", "system"]),
                       st.integers(0, 40)), max_size=30),
).map(lambda parts: [msg("system", n) for n in parts[0]] + [msg(r, n) for r, n in parts[1]])


@settings(max_examples=400, deadline=None)
@given(msgs=messages_strategy, room=st.floats(0.2, 1.2), reserve=st.integers(0, 30),
       keep_last=st.integers(0, 3))
def test_fit_properties(msgs: Msgs, room: float, reserve: int, keep_last: int) -> None:
    # The context is sized relative to the whole conversation, so that most examples have to
    # drop something (an absolute size would mostly fit whole or not at all).
    n_ctx = max(1, round((cost(msgs) + reserve) * room))
    lead = leading_system_count(msgs)
    starts = allowed_starts(msgs, keep_last)
    try:
        fit = fit_messages(msgs, Counter(), n_ctx=n_ctx, reserve=reserve, keep_last=keep_last)
    except ContextOverflowError:
        # Only when even the smallest allowed conversation is too long.
        assert cost([*msgs[:lead], *msgs[starts[-1]:]]) + reserve > n_ctx
        return
    start = lead + fit.dropped
    # It fits, and the count is the count of what is kept.
    assert fit.prompt_tokens == cost(fit.messages)
    assert fit.prompt_tokens + reserve <= n_ctx
    # System message(s) kept, then an unbroken suffix: a prefix of whole turns was dropped.
    assert fit.messages == [*msgs[:lead], *msgs[start:]]
    assert start in starts
    # The last keep_last messages are kept.
    assert fit.dropped <= max(0, len(msgs) - lead - keep_last)
    # Minimal: keeping one more turn would not fit.
    earlier = [i for i in starts if i < start]
    if earlier:
        assert cost([*msgs[:lead], *msgs[earlier[-1]:]]) + reserve > n_ctx
