"""On the real starter model: a conversation longer than the context, continuing a reply, and
where the model runs (backend and devices in the `loaded` event).

What the model process sent to llama.cpp is checked against prompts built here, independently:
rendered with the model's own template (chatapp.engine.chat_template, in this process) and
tokenized by llama.cpp in a separate process (this one never loads a model; see
test_model_process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.chat_template import ChatTemplate
from chatapp.engine.client import EngineClient, EngineError
from chatapp.engine.gguf_preflight import inspect_gguf

N_CTX = 512
SYSTEM = "You are a pirate. Always answer like a pirate."
QUESTION = "What is your favourite ship?"
ROOT = Path(__file__).resolve().parents[2]

Msgs = list[dict[str, Any]]


@pytest.fixture(scope="module")
def small(starter_model: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineClient, Any]]:
    """A model process with the starter model in a small context, and its `loaded` event."""
    client = EngineClient(log_path=tmp_path_factory.mktemp("engine") / "engine.log")
    client.start()
    loaded = client.load(starter_model, n_ctx=N_CTX)
    yield client, loaded
    client.shutdown()


@pytest.fixture(scope="module")
def template(starter_model: Path) -> ChatTemplate:
    """The model's own chat template (SmolLM2's uses neither bos_token nor eos_token)."""
    return ChatTemplate(inspect_gguf(starter_model).chat_template)


def token_counts(model: Path, texts: list[str]) -> list[int]:
    """Lengths in tokens of `texts`, as llama.cpp tokenizes a prompt (BOS if the model wants
    it, special tokens parsed), computed in a separate process from the vocabulary alone."""
    script = textwrap.dedent("""
        import json, sys
        import llama_cpp
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        model = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), params)
        vocab = llama_cpp.llama_model_get_vocab(model)
        add_bos = llama_cpp.llama_vocab_get_add_bos(vocab)
        counts = []
        for text in json.load(sys.stdin):
            data = text.encode("utf-8")
            # With no room for tokens, llama_tokenize returns minus the number needed.
            counts.append(-llama_cpp.llama_tokenize(vocab, data, len(data), None, 0, add_bos,
                                                    True))
        llama_cpp.llama_model_free(model)
        print(json.dumps(counts))
    """)
    out = subprocess.run([sys.executable, "-c", script, str(model)], input=json.dumps(texts),
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert isinstance(counts, list)
    return [int(n) for n in counts]


def long_conversation(turns: int) -> Msgs:
    """A system prompt, `turns` question/answer pairs (~45 tokens each), then a question."""
    msgs: Msgs = [{"role": "system", "content": SYSTEM}]
    for i in range(turns):
        msgs += [
            {"role": "user", "content": f"Question {i}: tell me something about the number {i} "
                                        "and why it matters to sailors."},
            {"role": "assistant", "content": f"Arr, the number {i} be a fine number, matey, and "
                                             "every sailor knows it well from long voyages."},
        ]
    return [*msgs, {"role": "user", "content": QUESTION}]


def split(events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                 dict[str, Any]]:
    """context event, token events, done event (and nothing else, in that order)."""
    context, *tokens, done = events
    assert context["type"] == "context" and done["type"] == "done"
    assert tokens and all(t["type"] == "token" for t in tokens)
    return context, tokens, done


# -- context fitting ----------------------------------------------------------------------------


def test_oldest_turns_are_left_out_and_the_system_prompt_stays(
    small: tuple[EngineClient, Any], template: ChatTemplate, starter_model: Path
) -> None:
    client, _ = small
    msgs = long_conversation(20)  # ~1,000 tokens: twice the context
    greedy = SamplingSettings(temperature=0.0, seed=1, max_tokens=16)
    context, tokens, done = split(list(client.generate(msgs, greedy, records=False,
                                                       context_event=True)))
    dropped = context["dropped_messages"]
    assert context["n_ctx"] == N_CTX and context["reserve"] == 16  # min(max_tokens, n_ctx/4)
    assert 0 < dropped < len(msgs) - 2 and dropped % 2 == 0  # whole question/answer turns
    assert context["prompt_tokens"] + context["reserve"] <= N_CTX
    assert (done["dropped_messages"], done["prompt_tokens"]) == (dropped,
                                                                 context["prompt_tokens"])
    assert done["generated_tokens"] == len(tokens) > 0 and done["text"].strip()

    # What was sent: the system prompt, then the conversation from a question on.
    kept = [msgs[0], *msgs[1 + dropped:]]
    assert kept[1]["role"] == "user" and kept[-1]["content"] == QUESTION
    sent = template.render(kept)
    assert sent.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>")  # ours, not the default
    one_more_turn = template.render([msgs[0], *msgs[1 + dropped - 2:]])
    n_sent, n_one_more = token_counts(starter_model, [sent, one_more_turn])
    assert n_sent == context["prompt_tokens"]
    assert n_one_more + context["reserve"] > N_CTX  # the fewest turns were left out

    # Sending exactly the kept messages is the same request: nothing to drop, same greedy reply,
    # and the prompt is all in the KV cache already (but its last token).
    context2, _, done2 = split(list(client.generate(kept, greedy, records=False,
                                                    context_event=True)))
    assert context2["dropped_messages"] == 0
    assert context2["prompt_tokens"] == context["prompt_tokens"]
    assert done2["text"] == done["text"]
    assert done2["cached_prompt_tokens"] == context["prompt_tokens"] - 1


def test_a_last_message_longer_than_the_context_is_a_clear_error(
    small: tuple[EngineClient, Any],
) -> None:
    client, _ = small
    huge = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Ahoy!"}, {"role": "user", "content": "word " * 600}]
    with pytest.raises(EngineError) as err:
        list(client.generate(huge, SamplingSettings(max_tokens=64)))
    assert err.value.code == "generation"
    message = err.value.message
    assert message.startswith("the system prompt and the last message alone are "), message
    assert f"the context holds {N_CTX}" in message and "larger context" in message
    # The model process goes on.
    done = list(client.generate(huge[:2], SamplingSettings(max_tokens=2, seed=1)))[-1]
    assert done["type"] == "done" and done["dropped_messages"] == 0


def test_chat_command_says_when_messages_were_left_out(starter_model: Path,
                                                       tmp_path: Path) -> None:
    """A saved conversation continued with `chatapp chat --session` in a small context."""
    msgs = long_conversation(15)[1:-1]  # the web UI format has no system message of its own
    nodes = [{"id": f"m{i}", "parent": f"m{i - 1}" if i else None, "role": m["role"],
              "content": m["content"], "children": [f"m{i + 1}"] if i + 1 < len(msgs) else [],
              "timestamp": 1_700_000_000_000 + i}
             for i, m in enumerate(msgs)]
    export = tmp_path / "long.json"
    export.write_text(json.dumps({"conv": {"name": "long", "currNode": nodes[-1]["id"],
                                           "lastModified": 1_700_000_000_000},
                                  "messages": nodes}))

    def chatapp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chatapp", *args], capture_output=True,
                              text=True, timeout=180, cwd=ROOT)

    imported = chatapp("sessions", "import", str(export), "--json")
    assert imported.returncode == 0, imported.stderr
    conv_id = json.loads(imported.stdout)[0]["id"]
    out = chatapp("chat", "-m", str(starter_model), "--session", conv_id, "--ctx", str(N_CTX),
                  "--max-tokens", "8", "--temperature", "0", QUESTION)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    note = next(line for line in out.stderr.splitlines() if "left out" in line)
    assert note.startswith("(the ") and f"in the {N_CTX}-token context)" in note, note
    dropped = int(note.split()[1])
    assert 0 < dropped < len(msgs) and dropped % 2 == 0


# -- continuing a reply -------------------------------------------------------------------------


def test_continue_a_reply(small: tuple[EngineClient, Any], template: ChatTemplate,
                          starter_model: Path) -> None:
    client, _ = small
    question = [{"role": "user", "content": "Write a short story about a cat."}]
    first = list(client.generate(question, SamplingSettings(temperature=0.0, seed=7,
                                                            max_tokens=30), records=False))
    done1 = first[-1]
    assert done1["generated_tokens"] == 30 and done1["finish_reason"] == "length"
    reply = done1["text"]
    assert reply.strip()

    msgs = [*question, {"role": "assistant", "content": reply}]
    context, tokens, done2 = split(list(client.generate(
        msgs, SamplingSettings(temperature=0.0, seed=7, max_tokens=20), continue_reply=True,
        context_event=True)))
    continuation = done2["text"]
    assert continuation.strip() and 1 <= done2["generated_tokens"] <= 20
    assert "".join(t["text"] for t in tokens) + done2["tail"] == continuation  # only the new text
    assert context["dropped_messages"] == 0 and context["reserve"] == 20

    # The prompt: the question rendered with the generation prompt, then the reply verbatim.
    (expected,) = token_counts(starter_model, [template.render(question) + reply])
    assert done2["prompt_tokens"] == context["prompt_tokens"] == expected
    # The first reply's prompt (and most of the reply) was still in the KV cache.
    assert done2["cached_prompt_tokens"] >= done1["prompt_tokens"] > 0


def test_continue_needs_a_reply_to_continue(small: tuple[EngineClient, Any]) -> None:
    client, _ = small
    with pytest.raises(EngineError) as err:
        list(client.generate([{"role": "user", "content": "Hi"}], SamplingSettings(max_tokens=2),
                             continue_reply=True))
    assert err.value.code == "bad_request" and "assistant" in err.value.message
    with pytest.raises(EngineError) as err:
        list(client.generate([], SamplingSettings(max_tokens=2), continue_reply=True))
    assert err.value.code == "bad_request"


def test_continue_in_a_full_context_keeps_the_question_and_the_reply(
    small: tuple[EngineClient, Any],
) -> None:
    client, _ = small
    msgs = [*long_conversation(20), {"role": "assistant", "content": "Arr, my favourite ship"}]
    context, _, done = split(list(client.generate(
        msgs, SamplingSettings(temperature=0.0, seed=3, max_tokens=8), records=False,
        continue_reply=True, context_event=True)))
    assert context["dropped_messages"] > 0 and context["dropped_messages"] % 2 == 0
    assert context["prompt_tokens"] + context["reserve"] <= N_CTX
    assert done["generated_tokens"] >= 1


# -- backend and devices ------------------------------------------------------------------------


def test_loaded_event_names_backend_and_devices(small: tuple[EngineClient, Any],
                                                starter_model: Path) -> None:
    client, loaded = small
    model = loaded["model"]
    assert model["size_bytes"] == starter_model.stat().st_size
    assert 0 < model["weights_bytes"] <= model["size_bytes"]
    # This machine: llama-cpp-python built for the CPU only, nothing offloaded.
    assert model["backend"] == "CPU"
    assert model["devices_note"] is None  # ggml's own device list was read
    devices = model["devices"]
    assert devices, "llama.cpp always registers the CPU device"
    for dev in devices:
        assert {"name", "description", "type", "backend", "memory_total",
                "memory_free"} <= set(dev)
        assert isinstance(dev["name"], str) and dev["name"]
        assert isinstance(dev["description"], str)
        for key in ("memory_total", "memory_free"):
            assert dev[key] is None or (isinstance(dev[key], int) and dev[key] > 0)
    cpu = next(d for d in devices if d["type"] == "CPU")
    assert cpu["backend"] == "CPU" and cpu["description"]
    assert cpu["memory_total"] and cpu["memory_free"]
    assert cpu["memory_free"] <= cpu["memory_total"]
    # The status answer describes the same model.
    status = client.status()["model"]
    assert status["backend"] == "CPU" and status["devices"][0]["name"] == devices[0]["name"]


def test_missing_device_bindings_fall_back_to_the_cpu() -> None:
    """A llama.cpp without ggml's device functions must still load (in-process: no model)."""
    from chatapp.engine.runtime import backend_and_devices

    info = backend_and_devices(0, lib=types.SimpleNamespace())
    assert info["backend"] == "CPU"
    assert "could not be read" in info["devices_note"]
    (cpu,) = info["devices"]
    assert cpu["name"] == "CPU" and cpu["type"] == "CPU" and cpu["description"]
    assert cpu["memory_total"] is None or cpu["memory_total"] > 0
    # Offloading asked for on a CPU-only build: still the CPU.
    assert backend_and_devices(-1, lib=types.SimpleNamespace(),
                               system_info="CPU : SSE3 = 1 | AVX = 1 |")["backend"] == "CPU"


def test_backend_is_the_first_gpus_only_when_layers_are_offloaded() -> None:
    from chatapp.engine.runtime import choose_backend

    devices = [{"type": "CPU", "backend": "CPU"}, {"type": "GPU", "backend": "CUDA"},
               {"type": "GPU", "backend": "Vulkan"}]
    assert choose_backend(devices, n_gpu_layers=-1) == "CUDA"
    assert choose_backend(devices, n_gpu_layers=0) == "CPU"
    assert choose_backend(devices[:1], n_gpu_layers=99) == "CPU"
    assert choose_backend(devices[:1], n_gpu_layers=99, built_with=["Metal", "CPU"]) == "Metal"
