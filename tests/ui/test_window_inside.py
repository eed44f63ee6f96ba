"""The "Inside the model" panel through the real window, model process and database: it
follows a streaming reply, shows a stored one, captures its attention, and branches from a
chosen candidate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from chatapp.core.sampling import SamplingSettings
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.entities import Message
from chatapp.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, starter_model: Path) -> Iterator[MainWindow]:
    engine = EngineService(log_path=tmp_path / "engine.log")
    engine.start()
    store = StoreService()
    qtbot.waitUntil(lambda: store.is_open, timeout=10_000)
    win = MainWindow(engine, store, starter_model)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    yield win
    win.close()
    engine.shutdown()
    store.close()


def _reply(qtbot: QtBot, win: MainWindow, prompt: str) -> Message:
    box: list[str] = []
    settings = SamplingSettings(temperature=0.8, max_tokens=16, seed=3).to_dict()
    win.store.write(lambda s: s.create_conversation(sampling=settings).id, Changed(lists=True),
                    box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    win.open_conversation(box[0])
    qtbot.waitUntil(lambda: win.conversation_id == box[0], timeout=10_000)
    win.last_summary = None
    win.composer.setPlainText(prompt)
    win.send()
    qtbot.waitUntil(lambda: win.last_summary is not None, timeout=60_000)
    cid = box[0]
    got: list[list[Message]] = []
    win.store.run(lambda s: s.active_path(cid), got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    return got[0][-1]


def test_the_panel_follows_the_reply_then_shows_it_stored(qtbot: QtBot,
                                                          window: MainWindow) -> None:
    seen: list[int] = []
    window.engine.sig_event.connect(
        lambda e: seen.append(len(window.inside.sampling.records()))
        if e["type"] == "token" else None)
    reply = _reply(qtbot, window, "Name three colors.")
    assert seen and seen[-1] >= 1  # records reached the panel while streaming
    n = window.last_summary["generated_tokens"] if window.last_summary else 0
    qtbot.waitUntil(lambda: window.inside.message_id() == reply.id, timeout=10_000)
    records = window.inside.sampling.records()
    assert len(records) == n and all("candidates" in r for r in records)
    assert not window.inside.sampling.streaming()


def test_attention_of_a_stored_reply(qtbot: QtBot, window: MainWindow) -> None:
    reply = _reply(qtbot, window, "Say hello.")
    qtbot.waitUntil(lambda: window.inside.message_id() == reply.id, timeout=10_000)
    window.capture_attention(reply.id)
    qtbot.waitUntil(lambda: window.inside.attention.capture is not None, timeout=60_000)
    capture = window.inside.attention.capture
    assert capture is not None
    matrix = capture.matrix(0, 0)
    t = matrix.shape[0]
    assert matrix.shape == (t, t) and t > 5
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-3)
    assert np.all(np.triu(matrix, 1) == 0)


def test_branch_here_continues_from_the_chosen_candidate(qtbot: QtBot,
                                                         window: MainWindow) -> None:
    reply = _reply(qtbot, window, "Name a fruit.")
    qtbot.waitUntil(lambda: window.inside.message_id() == reply.id, timeout=10_000)
    records = window.inside.sampling.records()
    index = 1
    chosen = int(records[index]["token"])
    final = next(s for s in records[index]["stages"] if s["name"] == "raw")
    other_id, other_text = next((int(t[0]), str(t[1])) for t in final["top"]
                                if int(t[0]) != chosen)
    window.last_summary = None
    window.branch_here(reply.id, index, other_id)
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window._busy, timeout=10_000)
    cid = window.conversation_id
    got: list[list[Message]] = []
    window.store.run(lambda s: s.siblings(reply.id), got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    siblings = got[0]
    assert len(siblings) == 2
    branch = siblings[1]
    prefix = str(records[0]["text"]) + other_text
    assert branch.content.startswith(prefix)
    assert branch.provenance is not None and branch.provenance["continued_from"] == reply.id
    assert cid is not None
