"""Turning token bytes into showable text: UTF-8 never split, stop strings never shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatapp.engine.generator import TextStream


def feed_all(stream: TextStream, chunks: list[bytes]) -> str:
    return "".join(stream.feed(c) for c in chunks) + stream.finish()


def test_multibyte_characters_split_across_tokens() -> None:
    data = "你好🙂".encode()
    stream = TextStream(())
    pieces = [stream.feed(data[i:i + 1]) for i in range(len(data))]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) + stream.finish() == "你好🙂"


def test_stop_string_is_cut_and_never_shown() -> None:
    stream = TextStream(("<END>",))
    shown = [stream.feed(b) for b in (b"Hello <", b"EN", b"D> tail")]
    assert "".join(shown) == "Hello "
    assert stream.stopped and stream.text == "Hello "


def test_false_alarm_prefix_is_released() -> None:
    stream = TextStream(("<END>",))
    assert stream.feed(b"a <E") == "a "
    assert stream.feed(b"X") == "<EX"
    assert not stream.stopped


def test_invalid_bytes_become_replacement_at_the_end() -> None:
    stream = TextStream(())
    assert stream.feed(b"ok \xe4\xbd") == "ok "
    assert stream.finish() == "\ufffd"


@given(st.text(max_size=60), st.lists(st.integers(1, 6), max_size=30),
       st.sampled_from(["", "\n\n", "STOP", "🙂x"]))
def test_shown_text_is_the_text_up_to_the_first_stop(text: str, cuts: list[int], stop: str) -> None:
    data = text.encode()
    chunks, i = [], 0
    for c in cuts:
        chunks.append(data[i:i + c])
        i += c
    chunks.append(data[i:])
    stream = TextStream((stop,) if stop else ())
    shown = feed_all(stream, chunks)
    expected = text.split(stop)[0] if stop else text
    assert shown == expected == stream.text
