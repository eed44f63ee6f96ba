"""The window with llama.cpp RPC workers: check them in Settings › Workers, load the starter
model split over two real `chatapp worker` processes, see where the layers went, and lose a
worker mid-reply without losing the conversation."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatapp.core.app_settings import AppSettings
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import StoreService
from chatapp.storage.repository import ChatStore
from chatapp.ui.main_window import MainWindow
from tests.engine.test_rpc import Worker, needs_rpc, start_worker, stop_worker
from tests.net import free_port


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started = [start_worker(tmp_path / "workers", f"127.0.0.1:{free_port()}")
               for _ in range(2)]
    yield started
    for worker in started:
        stop_worker(worker)


def _query(qtbot: QtBot, store: StoreService, fn: object) -> object:
    box: list[object] = []
    store.run(fn, box.append)  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    return box[0]


@needs_rpc
def test_split_over_workers_from_the_window_and_a_worker_lost_mid_reply(
        qtbot: QtBot, engine: EngineService, store: StoreService, starter_model: Path,
        two_workers: list[Worker]) -> None:
    keeper, doomed = two_workers
    endpoints = (keeper.endpoint, doomed.endpoint)
    settings = AppSettings(n_ctx=1024, n_threads=1, rpc_workers=endpoints, rpc_split="1,3")
    win = MainWindow(engine, store, None, app_settings=settings)
    qtbot.addWidget(win)
    win.show()

    # Settings › Workers › Check: both answer, with their memory, asked of the model process.
    win.open_settings()
    qtbot.waitUntil(lambda: win.settings_dialog is not None, timeout=10_000)
    dialog = win.settings_dialog
    assert dialog is not None
    page = dialog.workers_page
    assert page.workers() == endpoints and page.split() == "1,3"
    page.check_button.click()
    qtbot.waitUntil(lambda: "answered" in page.status.text(), timeout=30_000)
    assert page.status.text() == "2 of 2 workers answered."
    assert "free of" in page.list.item(0).text()
    dialog.reject()

    win.load_model(starter_model)
    qtbot.waitUntil(lambda: win._ready, timeout=120_000)
    bar = win.model_bar
    assert "split over 2 workers" in bar.summary_text()
    details = bar.details_text()
    assert f"@ {keeper.endpoint}: layers 0–" in details
    assert f"@ {doomed.endpoint}: layers " in details and "output layer" in details

    # A long reply; the second worker dies while it streams.
    win.composer.setPlainText("Write a long story about a lighthouse keeper.")
    win.send()
    qtbot.waitUntil(lambda: win.chat.streaming_card() is not None
                    and len(win.chat.streaming_card().view.markdown) > 20,  # type: ignore[union-attr]
                    timeout=60_000)
    doomed.proc.send_signal(signal.SIGKILL)
    qtbot.waitUntil(lambda: not win._busy, timeout=60_000)
    assert bar.state == "failed"
    assert (f"the worker at {doomed.endpoint} stopped answering"
            in bar.reason_view.toPlainText())

    # Nothing stored is lost: the question, and the reply up to the crash, marked failed.
    cid = win.conversation_id
    assert cid is not None

    def path(s: ChatStore) -> list[tuple[str, str, str]]:
        return [(m.role, m.status, m.content) for m in s.active_path(cid)]

    qtbot.waitUntil(lambda: _query(qtbot, store, path)[-1][1] == "error",  # type: ignore[index]
                    timeout=10_000)
    stored = _query(qtbot, store, path)
    assert isinstance(stored, list)
    assert stored[0][:2] == ("user", "complete")
    assert stored[1][0] == "assistant" and stored[1][2]

    # The model loads again on this computer alone, and answers.
    win.app_settings = AppSettings(n_ctx=1024, n_threads=1)
    win.load_model(starter_model)
    qtbot.waitUntil(lambda: win._ready, timeout=120_000)
    assert "workers" not in bar.summary_text()
    win.composer.setPlainText("Say hi.")
    win.send()
    qtbot.waitUntil(lambda: not win._busy and win.chat.streaming_card() is None,
                    timeout=60_000)
    last = _query(qtbot, store, path)
    assert isinstance(last, list) and last[-1][:2] == ("assistant", "complete")
