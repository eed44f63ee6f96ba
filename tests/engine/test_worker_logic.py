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
