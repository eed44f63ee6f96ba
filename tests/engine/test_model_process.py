"""The model process dies in every way it can; the caller hears why, survives, and goes on."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient, EngineError, describe_exit
from tests.gguf_tools import rewrite_gguf

HELLO = [{"role": "user", "content": "Tell me a long story about a dragon."}]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[EngineClient]:
    events: list[dict[str, Any]] = []
    c = EngineClient(log_path=tmp_path / "engine.log", on_event=events.append)
    c.events = events  # type: ignore[attr-defined]
    c.start()
    yield c
    c.shutdown()


@pytest.fixture(scope="module")
def huge_block_count(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real model with block_count = 100000: well-formed, and llama.cpp aborts on it."""
    dst = tmp_path_factory.mktemp("hostile") / "block_count_100000.gguf"
    return rewrite_gguf(starter_model, dst, {"llama.block_count": 100000})


def test_the_app_process_never_loads_a_model(client: EngineClient, starter_model: Path) -> None:
    loaded = client.load(starter_model, n_ctx=512)
    assert loaded["model"]["path"] == str(starter_model)
    assert client.pid != os.getpid()
    maps = Path("/proc/self/maps").read_text()
    assert starter_model.name not in maps  # the file is mapped only in the model process


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT])
def test_death_mid_reply_is_reported_within_5s(
    client: EngineClient, starter_model: Path, sig: signal.Signals
) -> None:
    client.load(starter_model, n_ctx=512)
    pid = client.pid
    assert pid is not None
    gen = client.generate(HELLO, SamplingSettings(max_tokens=400, seed=1))
    assert next(gen)["type"] == "token"
    t0 = time.monotonic()
    os.kill(pid, sig)
    with pytest.raises(EngineError) as err:
        for _ in gen:
            pass
    elapsed = time.monotonic() - t0
    assert err.value.code == "crashed"
    assert sig.name in err.value.message
    assert elapsed < 5.0
    # the caller goes on: a fresh process, and the next load works
    deadline = time.monotonic() + 10
    while not client.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.pid != pid and client.restarts == 1
    client.load(starter_model, n_ctx=512)
    reply = list(client.generate(HELLO, SamplingSettings(max_tokens=8, seed=1)))
    assert reply[-1]["type"] == "done" and reply[-1]["generated_tokens"] == 8


def test_llama_cpp_abort_on_a_hostile_file(
    client: EngineClient, starter_model: Path, huge_block_count: Path
) -> None:
    t0 = time.monotonic()
    with pytest.raises(EngineError) as err:
        client.load(huge_block_count)
    assert time.monotonic() - t0 < 5
    # structurally fine, so the pre-flight lets it through and llama.cpp itself aborts
    assert err.value.code == "crashed"
    assert "SIGABRT" in err.value.message and "GGML_ASSERT" in err.value.message
    client.load(starter_model, n_ctx=512)  # and the next load works
    assert list(client.generate(HELLO, SamplingSettings(max_tokens=4)))[-1]["type"] == "done"


def test_death_while_idle_is_reported(client: EngineClient) -> None:
    pid = client.pid
    assert pid is not None
    got = threading.Event()
    events: list[dict[str, Any]] = client.events  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not got.is_set():
        if any(e.get("code") == "crashed" for e in events):
            got.set()
        time.sleep(0.02)
    assert got.is_set()
    crash = next(e for e in events if e.get("code") == "crashed")
    assert "SIGKILL" in crash["message"] and "out of memory" in crash["message"]


def test_preflight_rejects_before_llama_cpp(client: EngineClient, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 16)
    pid = client.pid
    with pytest.raises(EngineError) as err:
        client.load(bad)
    assert err.value.code == "preflight"
    assert client.pid == pid  # no crash: llama.cpp never saw it
    with pytest.raises(EngineError) as err:
        client.load(tmp_path / "missing.gguf")
    assert err.value.code == "preflight"


def test_unload_releases_model_memory(client: EngineClient, starter_model: Path) -> None:
    before = client.status()["rss_bytes"]
    client.load(starter_model, n_ctx=2048)
    list(client.generate(HELLO, SamplingSettings(max_tokens=16, seed=1)))
    loaded = client.status()["rss_bytes"]
    after = client.unload()["rss_bytes"]
    assert loaded - before > 100 * 2**20  # weights + KV cache + compute buffers were resident
    assert after - before < 16 * 2**20, f"{(after - before) / 2**20:.1f} MiB still held"
    assert client.status()["state"] == "idle"


def test_generate_without_model(client: EngineClient) -> None:
    with pytest.raises(EngineError) as err:
        list(client.generate(HELLO))
    assert err.value.code == "not_loaded"


def test_describe_exit_names_signals_and_clues() -> None:
    msg = describe_exit(-6, ["noise", "/src/llama.cpp:123: GGML_ASSERT(n_layer < 512) failed"])
    assert "SIGABRT" in msg and "GGML_ASSERT" in msg
    assert "exited with code 3" in describe_exit(3, [])
    assert "segmentation fault" in describe_exit(-11, [])


def test_a_process_that_cannot_start_says_why_and_is_not_restarted() -> None:
    broken = EngineClient(env=dict(os.environ, PYTHONHOME="/nonexistent"))
    t0 = time.monotonic()
    with pytest.raises(EngineError) as err:
        broken.start()
    assert time.monotonic() - t0 < 10
    assert err.value.code == "crashed" and "could not start" in err.value.message
    assert "encodings" in err.value.message  # Python's own last words
    assert not broken.alive and broken.restarts == 0


CANARY_TEMPLATE = (
    "{{ cycler.__init__.__globals__.os.popen('touch CANARY').read() }}"
    "{{ ''.__class__.__mro__[1].__subclasses__() }}"
)
BURNER_TEMPLATE = (
    "{% for a in range(99999) %}{% for b in range(99999) %}{{ a }}{% endfor %}{% endfor %}"
)


@pytest.mark.parametrize("which", ["canary", "burner"])
def test_hostile_chat_template_in_a_real_model(
    client: EngineClient, starter_model: Path, tmp_path: Path, which: str
) -> None:
    canary = tmp_path / "CANARY"
    source = CANARY_TEMPLATE.replace("CANARY", str(canary)) if which == "canary" \
        else BURNER_TEMPLATE
    model = rewrite_gguf(starter_model, tmp_path / f"{which}.gguf",
                         {"tokenizer.chat_template": source})
    client.load(model, n_ctx=512)
    pid = client.pid
    results: list[BaseException] = []

    def ask() -> None:
        try:
            list(client.generate(HELLO, SamplingSettings(max_tokens=4)))
        except BaseException as exc:
            results.append(exc)

    t0 = time.monotonic()
    worker = threading.Thread(target=ask)
    worker.start()
    time.sleep(0.3)
    assert client.status(timeout=5)["state"] in ("generating", "ready")  # the caller is not frozen
    worker.join(timeout=10)
    assert not worker.is_alive(), "the template was not stopped"
    assert time.monotonic() - t0 < 6
    assert isinstance(results[0], EngineError) and results[0].code == "template"
    assert not canary.exists()
    assert client.pid == pid  # stopped inside the model process, which goes on
    client.load(starter_model, n_ctx=512)
    assert list(client.generate(HELLO, SamplingSettings(max_tokens=3)))[-1]["type"] == "done"


def test_load_reports_progress(client: EngineClient, starter_model: Path) -> None:
    client.load(starter_model, n_ctx=512)
    events: list[dict[str, Any]] = client.events  # type: ignore[attr-defined]
    progress = [e["progress"] for e in events if e["type"] == "progress"]
    assert progress and progress == sorted(progress) and progress[-1] == 1.0


def test_a_template_that_does_not_compile_falls_back_to_chatml(
    client: EngineClient, starter_model: Path, tmp_path: Path
) -> None:
    model = rewrite_gguf(starter_model, tmp_path / "broken_template.gguf",
                         {"tokenizer.chat_template": "{% for m in messages %}{{ m.content "})
    loaded = client.load(model, n_ctx=512)
    assert loaded["model"]["chat_template"] == "built-in ChatML fallback"
    assert "syntax error" in loaded["model"]["chat_template_problem"]
    done = list(client.generate(HELLO, SamplingSettings(max_tokens=4, seed=1)))[-1]
    assert done["type"] == "done" and done["generated_tokens"] >= 1
