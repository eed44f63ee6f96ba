"""Generation through the real model process on the real starter model."""

from __future__ import annotations

import base64
import itertools
import math
import threading
import time
from typing import Any

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient, EngineError
from chatapp.storage import records

QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]


Events = list[dict[str, Any]]


def run(engine: EngineClient, settings: SamplingSettings, **kw: Any) -> tuple[Events, Any]:
    events = list(engine.generate(QUESTION, settings, **kw))
    return events[:-1], events[-1]


def stage(event: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in event["stages"] if s["name"] == name)


def test_same_seed_same_text_and_records_do_not_change_it(engine: EngineClient) -> None:
    s = SamplingSettings(temperature=1.0, seed=1234, max_tokens=48)
    tokens_a, done_a = run(engine, s)
    tokens_b, done_b = run(engine, s, records=False)
    _tokens_c, done_c = run(engine, s.with_seed(99))
    assert done_a["text"] == done_b["text"]
    assert [t["token"] for t in tokens_a] == [t["token"] for t in tokens_b]
    assert done_a["seed"] == 1234 and done_a["generated_tokens"] > 5
    assert done_c["text"] != done_a["text"]  # the seed does matter at T=1
    assert "stages" not in tokens_b[0] and "stages" in tokens_a[0]


def test_done_carries_the_records_encoded(engine: EngineClient) -> None:
    """The `done` event's records blob is the token events' records, as the store's codec
    encodes them (made after the last token: not counted in the speed); none without records."""
    s = SamplingSettings(temperature=0.8, seed=21, max_tokens=30)
    tokens, done = run(engine, s)
    decoded = records.decode(base64.b64decode(done["records_blob"]))
    assert decoded == records.decode(records.encode(
        [{k: v for k, v in t.items() if k not in ("type", "id")} for t in tokens]))
    assert len(decoded) == done["generated_tokens"] == len(tokens)
    assert decoded[0]["candidates"] and decoded[0]["stages"]
    assert 0 <= done["records_encode_ms"] < 1000 and "records_error" not in done
    _tokens, plain = run(engine, s, records=False)
    assert not {"records_blob", "records_encode_ms", "records_error"} & set(plain)


def test_temperature_zero_is_argmax_of_raw_logits(engine: EngineClient) -> None:
    tokens, _done = run(engine, SamplingSettings(temperature=0.0, max_tokens=40))
    assert len(tokens) >= 10
    for t in tokens:
        raw = stage(t, "raw")
        assert raw["top"][0][0] == t["token"], "greedy must pick the most likely raw token"
        assert t["raw_rank"] == 0
        last = t["stages"][-1]
        assert last["name"] == "temperature" and last["survivors"] == 1
        assert last["top"][0][0] == t["token"] and last["top"][0][2] == 1.0


def test_stage_records_obey_their_definitions(engine: EngineClient) -> None:
    k, p, min_p = 30, 0.8, 0.05
    s = SamplingSettings(temperature=0.8, top_k=k, top_p=p, min_p=min_p, seed=7, max_tokens=40)
    tokens, _ = run(engine, s, top_n=k + 5)  # the top-k stage is shown whole
    assert len(tokens) >= 10
    for t in tokens:
        names = [st["name"] for st in t["stages"]]
        assert names == ["raw", "penalties", "top_k", "top_p", "min_p", "temperature"]
        raw, top_k, top_p, mp, temp = (stage(t, n) for n in
                                       ("raw", "top_k", "top_p", "min_p", "temperature"))
        assert raw["survivors"] == 49152
        # top-k leaves at most k survivors, and they are the k most likely raw tokens
        assert top_k["survivors"] <= k
        assert [c[0] for c in top_k["top"]] == [c[0] for c in raw["top"][: top_k["survivors"]]]
        # top-p keeps the smallest prefix of the (renormalised) top-k list reaching p
        probs = [c[2] for c in top_k["top"]]
        n = top_p["survivors"]
        before = sum(probs[: n - 1])
        assert before < p + 1e-5, "a smaller set already reached p"
        assert sum(probs[:n]) >= p - 1e-4, "the kept set does not reach p"
        # min-p keeps exactly the tokens with p >= min_p * p_max
        pmax = top_p["top"][0][2]
        kept = [c[2] for c in top_p["top"][: mp["survivors"]]]
        assert all(q >= min_p * pmax * (1 - 1e-4) for q in kept)
        if mp["survivors"] < top_p["survivors"]:
            assert top_p["top"][mp["survivors"]][2] < min_p * pmax * (1 + 1e-4)
        # every stage with all its survivors shown is a probability distribution
        for st in t["stages"]:
            ps = [c[2] for c in st["top"]]
            assert all(0.0 <= q <= 1.0 for q in ps)
            assert ps == sorted(ps, reverse=True)
            if st["survivors"] <= len(st["top"]):
                assert math.isclose(sum(ps), 1.0, abs_tol=1e-4)
            else:
                assert sum(ps) <= 1.0 + 1e-4
        # temperature < 1 sharpens: the top token gains probability
        assert temp["top"][0][2] >= mp["top"][0][2] - 1e-6
        # the chosen token survived the last stage, with the rank and p reported
        ids = [c[0] for c in temp["top"]]
        assert t["token"] in ids
        assert ids.index(t["token"]) == t["chosen_rank"]
        assert math.isclose(temp["top"][t["chosen_rank"]][2], t["chosen_p"], abs_tol=1e-5)


def test_penalties_stage_changes_the_distribution(engine: EngineClient) -> None:
    s = SamplingSettings(repeat_penalty=1.5, presence_penalty=0.5, seed=3, max_tokens=30)
    tokens, _ = run(engine, s)
    changed = [t for t in tokens if stage(t, "penalties")["top"] != stage(t, "raw")["top"]]
    assert stage(tokens[0], "penalties")["active"]
    assert changed, "penalties on the prompt's tokens must move some probabilities"


def test_max_tokens_and_stop_strings(engine: EngineClient) -> None:
    tokens, done = run(engine, SamplingSettings(temperature=0.0, max_tokens=5))
    assert done["finish_reason"] == "length" and done["generated_tokens"] == 5
    full = done["text"]
    # stop at a word that greedy decoding is known to produce: the text ends before it
    _, longer = run(engine, SamplingSettings(temperature=0.0, max_tokens=40))
    word = longer["text"].split()[3]
    tokens, stopped = run(engine, SamplingSettings(temperature=0.0, max_tokens=40, stop=(word,)))
    assert stopped["finish_reason"] == "stop_string"
    shown = "".join(t["text"] for t in tokens) + stopped["tail"]
    assert word not in shown
    assert shown == stopped["text"] and longer["text"].startswith(shown)
    assert full == longer["text"][: len(full)] or longer["text"].startswith(full)


def test_streamed_text_is_the_reply(engine: EngineClient) -> None:
    tokens, done = run(engine, SamplingSettings(seed=5, max_tokens=60))
    assert "".join(t["text"] for t in tokens) + done["tail"] == done["text"]
    assert done["finish_reason"] in ("stop", "length")
    assert done["prompt_tokens"] > 10 and done["tokens_per_s"] > 0
    assert done["model_sha256"] == (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    )
    assert set(done["versions"]) >= {"chatapp", "llama_cpp_python", "llama_cpp_commit"}


def test_utf8_pieces_are_never_split(engine: EngineClient) -> None:
    msgs = [{"role": "user", "content": "Write 你好世界 and 🙂🎉 ten times."}]
    events = list(engine.generate(msgs, SamplingSettings(seed=11, max_tokens=80)))
    for t in events[:-1]:
        assert "\ufffd" not in t["text"]
        t["text"].encode("utf-8")  # no lone surrogates


def test_cancel_stops_within_one_token(engine: EngineClient) -> None:
    gen = engine.generate(QUESTION, SamplingSettings(max_tokens=400, temperature=1.5, seed=2))
    first = next(gen)
    assert first["type"] == "token"
    t0 = time.perf_counter()
    engine.cancel()
    rest = list(gen)
    elapsed = time.perf_counter() - t0
    done = rest[-1]
    assert done["type"] == "done" and done["finish_reason"] == "cancelled"
    assert done["generated_tokens"] < 400
    assert elapsed < 2.0
    # In the model process, the reply stops within one token of the cancel's arrival.
    times = [t["t_ms"] for t in [first, *rest[:-1]]]
    gaps = sorted(b - a for a, b in itertools.pairwise(times)) or [20.0]
    one_token_ms = gaps[len(gaps) // 2]
    assert done["cancel_latency_ms"] <= 1.5 * one_token_ms + 10, (done["cancel_latency_ms"],
                                                                  one_token_ms)


def test_busy_and_status(engine: EngineClient) -> None:
    gen = engine.generate(QUESTION, SamplingSettings(max_tokens=200, seed=1))
    next(gen)
    status = engine.status()
    assert status["state"] == "generating"
    with pytest.raises(EngineError) as err:
        list(engine.generate(QUESTION, SamplingSettings(max_tokens=5)))
    assert err.value.code == "busy"
    gen.close()  # leaving early cancels
    status = engine.status()
    assert status["state"] == "ready"
    model = status["model"]
    assert model["n_threads"] >= 1 and model["threads_reason"]
    assert model["architecture"] == "llama" and model["n_layer"] == 30


def test_bad_requests_are_named(engine: EngineClient) -> None:
    with pytest.raises(EngineError) as err:
        list(engine.generate([{"role": "user"}], SamplingSettings()))
    assert err.value.code in ("template", "bad_request")
    with pytest.raises(ValueError, match="top_p"):
        SamplingSettings(top_p=0.0)


def test_prompt_longer_than_context_is_refused(engine: EngineClient) -> None:
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(EngineError) as err:
        list(engine.generate(huge, SamplingSettings()))
    assert err.value.code == "generation" and "context" in err.value.message


def test_cancel_from_another_thread(engine: EngineClient) -> None:
    timer = threading.Timer(0.3, engine.cancel)
    timer.start()
    events = list(engine.generate(QUESTION, SamplingSettings(max_tokens=1000, temperature=2.0,
                                                             top_k=0, top_p=1.0, min_p=0.0)))
    timer.join()
    assert events[-1]["finish_reason"] in ("cancelled", "stop")


def test_next_command_right_after_done_is_never_busy(engine: EngineClient) -> None:
    """`done` leaves the model process only once it is ready for the next command."""
    for i in range(40):
        events = list(engine.generate(QUESTION, SamplingSettings(max_tokens=1, seed=i),
                                      records=False))
        assert events[-1]["type"] == "done"
        if i % 10 == 0:
            assert engine.status()["state"] == "ready"
