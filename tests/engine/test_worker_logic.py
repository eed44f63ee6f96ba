"""The model process's command handling, without a model (fast, deterministic)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from chatapp.engine.worker import Worker


class _FakeModel:
    def close(self) -> None:
        pass


def test_final_event_is_sent_only_when_the_worker_is_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller that sends the next command as soon as it sees `done` must not get "busy"."""
    worker = Worker(io.BytesIO())
    seen: list[tuple[str, str, bool]] = []
    monkeypatch.setattr(worker, "emit", lambda m: seen.append(
        (m["type"], worker.state, bool(worker._cancels))
    ))
    worker._model = _FakeModel()

    def fake_generate(req_id: str, _cmd: dict[str, Any]) -> dict[str, Any]:
        worker.state = "generating"
        worker.emit({"type": "token", "id": req_id})
        return {"type": "done", "id": req_id}

    monkeypatch.setattr(worker, "_do_generate", fake_generate)
    worker._dispatch({"op": "generate", "id": "g1", "messages": []})
    worker._jobs.put(None)
    worker._run_jobs()
    assert seen == [("token", "generating", True), ("done", "ready", False)]


def test_second_generate_while_one_is_queued_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = Worker(io.BytesIO())
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(worker, "emit", sent.append)
    worker._dispatch({"op": "generate", "id": "a", "messages": []})
    worker._dispatch({"op": "generate", "id": "b", "messages": []})
    assert sent == [{"type": "error", "id": "b", "code": "busy",
                     "message": "a reply is already being generated"}]
    worker._dispatch({"op": "cancel", "id": "a"})
    assert worker._cancels["a"].is_set()


def test_records_blob_fits_a_protocol_line_or_says_why() -> None:
    """The records ride in `done` only while the line stays under the protocol's limit; a
    blob too long is replaced by a reason (the app then encodes what it kept)."""
    import base64

    from chatapp.engine.generator import _records_blob
    from chatapp.storage import records

    recs = [{"i": n, "token": n, "piece": "x", "text": "x", "chosen_p": 1.0} for n in range(50)]
    fields = _records_blob(recs, 1_000_000)
    assert records.decode(base64.b64decode(fields["records_blob"])) == recs
    assert fields["records_encode_ms"] >= 0 and "records_error" not in fields
    small = _records_blob(recs, 10)
    assert "records_blob" not in small and "would not fit" in small["records_error"]
    bad = _records_blob([{"i": object()}], 1_000_000)
    assert "records_blob" not in bad and "not JSON" in bad["records_error"]


def test_devices_is_answered_on_the_reading_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like status, `devices` never waits behind a queued load or reply."""
    worker = Worker(io.BytesIO())
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(worker, "emit", sent.append)
    worker._dispatch({"op": "generate", "id": "g", "messages": []})  # queued, not run
    worker._dispatch({"op": "devices", "id": "d"})
    assert [m["type"] for m in sent] == ["devices"] and sent[0]["id"] == "d"
    assert worker._jobs.qsize() == 1  # only the generation
    event = sent[0]
    assert {"backend", "devices", "devices_note", "gpu_offload", "cpu_features",
            "system_info", "engine"} <= set(event)
    assert event["devices"] and isinstance(event["gpu_offload"], bool)


def test_cpu_features_come_from_the_cpu_section_only() -> None:
    from chatapp.engine.runtime import cpu_features

    x86 = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 0 | AVX2 = 1 | F16C = 1 | FMA = 1 "
           "| LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
    assert cpu_features(x86) == ["SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA"]
    cuda_arm = ("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | "
                "CPU : NEON = 1 | ARM_FMA = 1 | SVE = 1 | SVE_CNT = 16 | KLEIDIAI = 1 | ")
    assert cpu_features(cuda_arm) == ["NEON", "ARM_FMA", "SVE"]
    assert cpu_features("Metal : EMBED_LIBRARY = 1 | CPU : ACCELERATE = 1 | DOTPROD = 1 |") == [
        "DOTPROD"]
    assert cpu_features("") == [] and cpu_features("garbage") == []


def test_the_memory_cap_refuses_bad_values_and_leaves_the_limit_alone() -> None:
    import resource

    from chatapp.engine.worker import apply_memory_limit

    before = resource.getrlimit(resource.RLIMIT_AS)
    assert apply_memory_limit(None) is None and apply_memory_limit("  ") is None
    for bad in ("lots", "-5", "0", "1.5e9"):
        reason = apply_memory_limit(bad)
        assert reason is not None and "not a positive number of bytes" in reason
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_a_memory_failure_becomes_load_memory_with_retries(
    monkeypatch: pytest.MonkeyPatch, starter_model: Any
) -> None:
    """The worker's classification of a failed load, with llama.cpp's real log lines; n_ctx 0
    (the model's own length) is resolved to the context that was really asked for."""
    from chatapp.engine import runtime
    from chatapp.engine.runtime import LoadSettings
    from chatapp.engine.worker import _load_failure

    monkeypatch.setattr(runtime, "_log_tail", [
        "ggml_aligned_malloc: insufficient memory (attempted to allocate 180.00 MB)",
        "llama_init_from_model: failed to initialize the context: failed to allocate buffer "
        "for kv cache",
    ])
    settings = LoadSettings(path=str(starter_model), n_ctx=0)
    event = _load_failure("r1", settings, "Failed to create llama_context")
    assert event["code"] == "load_memory" and event["id"] == "r1"
    # SmolLM2 was trained with 8192 tokens: that was the context asked for
    assert event["message"].startswith("Not enough memory to load this model with an 8192-token "
                                       "context (llama.cpp could not allocate 189 MB for the KV "
                                       "cache)")
    assert event["retry"][0] == {"n_ctx": 4096, "label": "context 4096"}

    monkeypatch.setattr(runtime, "_log_tail", [
        "llama_model_load: error loading model: missing tensor 'output_norm.weight'"])
    other = _load_failure("r2", settings, "Failed to load model from file: x")
    assert other["code"] == "load" and "retry" not in other
