"""The chat window with a model on a real OpenAI-compatible server (llama-cpp-python's server
serving the starter model on 127.0.0.1): connect through the dialog, chat with streaming
replies saved with their endpoint, the server's top candidates in the Inside panel, the
Attention tab's note, the saved server in the model menu, errors, and back to the local
model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from chatapp.core import secrets
from chatapp.core.sampling import SamplingSettings
from chatapp.paths import config_path, read_config_value
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.entities import Message
from chatapp.ui.main_window import MainWindow
from chatapp.ui.remote_dialog import RemoteDialog
from tests.engine.test_remote import ALIAS, KEY, LlamaServer
from tests.net import free_port

GREEDY = SamplingSettings(temperature=0.0, max_tokens=12, seed=1).to_dict()


@pytest.fixture(scope="module")
def server(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The real server with the starter model and an API key."""
    running = LlamaServer(starter_model, tmp_path_factory.mktemp("server") / "server.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """No system keyring: a remembered key goes to the private file."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


@pytest.fixture
def window(qtbot: QtBot, starter_model: Path, engine: EngineService,
           store: StoreService) -> Iterator[MainWindow]:
    """The window with the local starter model loaded."""
    win = MainWindow(engine, store, starter_model)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    yield win
    win.close()


def _connect(qtbot: QtBot, window: MainWindow, server: LlamaServer, key: str) -> RemoteDialog:
    """Fill in "Connect to a server…", list the models and connect."""
    window.model_bar.connect_action.trigger()
    dialog = window.remote.dialog
    assert dialog is not None
    dialog.url_edit.setText(server.url)
    dialog.key_edit.setText(key)
    dialog.list_button.click()
    qtbot.waitUntil(lambda: not dialog.listing(), timeout=30_000)
    return dialog


def _loaded(qtbot: QtBot, window: MainWindow) -> dict[str, Any]:
    qtbot.waitUntil(lambda: window.model_bar.state in ("loaded", "failed"), timeout=60_000)
    return dict(window.model_bar._state.model)


def _conversation(qtbot: QtBot, window: MainWindow) -> str:
    box: list[str] = []
    window.store.write(lambda s: s.create_conversation(sampling=GREEDY).id,
                       Changed(lists=True), box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    window.open_conversation(box[0])
    qtbot.waitUntil(lambda: window.conversation_id == box[0], timeout=10_000)
    return box[0]


def _send(qtbot: QtBot, window: MainWindow, text: str) -> Message:
    """Send `text`, wait for the saved reply."""
    cid = window.conversation_id
    window.last_summary = None
    window.composer.setPlainText(text)
    window.send()
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window._busy and window.chat.streaming_card() is None,
                    timeout=30_000)
    got: list[list[Message]] = []
    window.store.run(lambda s: s.active_path(cid), got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    reply = got[0][-1]
    assert reply.role == "assistant"
    return reply


def test_chat_with_a_served_model_then_back_to_the_local_one(
        qtbot: QtBot, window: MainWindow, server: LlamaServer, starter_model: Path) -> None:
    endpoint = f"{server.url}/v1"
    said: list[str] = []
    window.statusBar().messageChanged.connect(said.append)
    dialog = _connect(qtbot, window, server, KEY)
    assert [dialog.model_list.item(i).text() for i in range(dialog.model_list.count())] == [
        ALIAS]
    assert dialog.model() == ALIAS  # the only model is selected
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    model = _loaded(qtbot, window)
    qtbot.waitUntil(lambda: window._ready, timeout=30_000)
    assert (model["backend"], model["name"], model["endpoint"]) == ("remote", ALIAS, endpoint)
    assert window.model_bar.model_button.text() == f"{ALIAS} @ 127.0.0.1:{server.port}"
    assert "remote" in window.model_bar.summary_text()
    assert endpoint in window.model_bar.summary_text()
    # The server is saved without its key; the key went to the private file.
    assert read_config_value("remote_servers") == [
        {"url": server.url, "model": ALIAS, "probabilities": True}]
    qtbot.waitUntil(lambda: secrets.secrets_path().exists(), timeout=10_000)
    assert secrets.load_api_key(server.url) == KEY and KEY not in config_path().read_text()
    qtbot.waitUntil(lambda: any("readable only by you" in m for m in said), timeout=10_000)

    # The Attention tab says plainly that it needs a local model.
    attention = window.inside.attention
    assert attention.needs_local_model() and attention.capture_button.isHidden()
    assert attention.status_label.text().startswith("Attention weights need a local model")

    # A reply streams (token events, shown on the card, before the end) and is saved with
    # where it came from.
    _conversation(qtbot, window)
    grew: list[int] = []

    def watch(event: dict[str, Any]) -> None:
        if event["type"] == "token" and event.get("id") == window._gen_id:
            card = window.chat.streaming_card()
            grew.append(len(card.view.markdown) if card else -1)

    window.engine.sig_event.connect(watch)
    reply = _send(qtbot, window, "Name three colors.")
    window.engine.sig_event.disconnect(watch)
    assert len(grew) > 3 and -1 not in grew and grew == sorted(grew) and grew[-1] > grew[0]
    assert reply.status == "complete" and reply.content.strip()
    prov = reply.provenance or {}
    assert (prov["endpoint"], prov["remote_model"], prov["model_file"]) == (endpoint, ALIAS,
                                                                           None)
    assert prov["generated_tokens"] == len(grew) and prov["seed"] == 1
    # The reply's footer names the served model and where it ran.
    qtbot.waitUntil(lambda: f"{ALIAS} @ 127.0.0.1:" in window.chat.cards[-1].footer.text(),
                    timeout=10_000)

    # The panel shows the stored reply: the server's top candidates for each token.
    qtbot.waitUntil(lambda: window.inside.message_id() == reply.id, timeout=10_000)
    sampling = window.inside.sampling
    records = sampling.records()
    assert len(records) == len(grew)
    sampling.select(1)
    record = records[1]
    (row,) = sampling.bars.rows
    assert row.name == "server" and row.chosen_rank == 0
    assert [b.text for b in row.bars] == [c[1] for c in record["stages"][0]["top"][:10]]
    assert [b.p for b in row.bars] == [c[2] for c in record["stages"][0]["top"][:10]]
    assert row.bars[0].chosen and len(row.bars) == 10
    header = sampling.bars.header_text(row)
    assert header.startswith("reported by the server") and "survivors" not in header
    assert sampling.note_label.text().startswith("Reported by the server")
    assert not sampling.controls.isEnabled()  # no what-if without the logits

    # The saved server is in the model menu; choosing it connects with the saved key.
    assert window.model_bar.servers() == [(server.url, ALIAS)]
    window.load_model(starter_model)
    local = _loaded(qtbot, window)
    qtbot.waitUntil(lambda: window._ready, timeout=60_000)
    assert local["backend"] != "remote" and not attention.needs_local_model()
    assert not attention.capture_button.isHidden()
    # The served reply's tokens are stand-ins: the local model cannot replay them.
    window.capture_attention(reply.id)
    qtbot.waitUntil(lambda: "written by a model on a server" in attention.status_label.text(),
                    timeout=10_000)
    local_reply = _send(qtbot, window, "Say hello.")
    assert (local_reply.provenance or {}).get("endpoint") is None
    assert (local_reply.provenance or {}).get("model_file") == starter_model.name

    menu_entry = next(a for a in window.model_bar.model_menu.actions() if "@" in a.text())
    menu_entry.trigger()
    qtbot.waitUntil(lambda: window._ready and window.engine.is_remote, timeout=30_000)
    assert window.model_bar._state.model["endpoint"] == endpoint
    # The menu was rebuilt for the loaded model: its server entry has the check mark.
    assert [a.isChecked() for a in window.model_bar.model_menu.actions() if "@" in a.text()] \
        == [True]
    again = _send(qtbot, window, "Name a fruit.")
    assert (again.provenance or {}).get("remote_model") == ALIAS


def test_token_probabilities_can_be_turned_off_per_server(
        qtbot: QtBot, window: MainWindow, server: LlamaServer) -> None:
    # Some servers generate ~3x slower with logprobs: the user may choose speed.
    dialog = _connect(qtbot, window, server, KEY)
    assert dialog.probabilities_box.isChecked()  # on unless turned off
    dialog.probabilities_box.setChecked(False)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert _loaded(qtbot, window)["probabilities"] is False
    qtbot.waitUntil(lambda: window._ready, timeout=30_000)
    assert read_config_value("remote_servers") == [
        {"url": server.url, "model": ALIAS, "probabilities": False}]
    _conversation(qtbot, window)
    reply = _send(qtbot, window, "Name three colors.")
    assert reply.status == "complete" and reply.content.strip()
    qtbot.waitUntil(lambda: window.inside.message_id() == reply.id, timeout=10_000)
    sampling = window.inside.sampling
    assert sampling.record_count() == 0
    qtbot.waitUntil(lambda: "has no token probabilities" in sampling.info_label.text(),
                    timeout=10_000)
    # The choice is remembered: the dialog opens with it, the model menu connects with it.
    window.model_bar.connect_action.trigger()
    reopened = window.remote.dialog
    assert reopened is not None and not reopened.probabilities_box.isChecked()
    reopened.reject()
    window.load_model(server.model)
    qtbot.waitUntil(lambda: window._ready and not window.engine.is_remote, timeout=60_000)
    next(a for a in window.model_bar.model_menu.actions() if "@" in a.text()).trigger()
    qtbot.waitUntil(lambda: window._ready and window.engine.is_remote, timeout=30_000)
    assert window.model_bar._state.model["probabilities"] is False


def test_errors_show_in_the_model_bar_and_the_dialog(
        qtbot: QtBot, window: MainWindow, server: LlamaServer) -> None:
    dialog = _connect(qtbot, window, server, "wrong-key")
    assert dialog.model_list.count() == 0
    assert "refused the API key" in dialog.status_label.text()
    assert "wrong-key" not in dialog.status_label.text()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.url_edit.setText("http://user:secret@127.0.0.1:1")
    dialog.list_button.click()
    assert "not in the address" in dialog.status_label.text()
    dialog.reject()

    window.load_remote(f"http://127.0.0.1:{free_port()}", ALIAS, KEY)
    _loaded(qtbot, window)
    assert window.model_bar.state == "failed" and not window._ready
    assert "connection refused" in window.model_bar.reason_view.toPlainText()
    window.load_remote(server.url, ALIAS, "wrong-key")
    qtbot.waitUntil(lambda: "refused the API key" in window.model_bar.reason_view.toPlainText(),
                    timeout=30_000)
    assert window.model_bar.state == "failed"
    assert read_config_value("remote_servers") is None  # nothing was connected through
