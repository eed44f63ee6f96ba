"""The model bar: its states, its list of models, hostile model data, and a language switch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTranslator
from PySide6.QtWidgets import QApplication, QFileDialog, QTextBrowser, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from chatapp.core.units import format_bytes, format_params
from chatapp.engine.client import EngineClient
from chatapp.paths import models_dir
from chatapp.ui.model_bar import ModelBar

HOSTILE_HTML = "<img src=file:///etc/passwd>"


def fake_model(**changes: Any) -> dict[str, Any]:
    """A `loaded` event's model dict as the model process sends it (without the newer
    size/backend/devices fields unless given)."""
    model: dict[str, Any] = {
        "path": "/models/SmolLM2-135M-Instruct.Q4_1.gguf",
        "description": "llama ?B Q4_1",
        "architecture": "llama",
        "quantization": "Q4_1",
        "parameters": 134_515_008,
        "n_layer": 30,
        "n_head": 9,
        "n_ctx": 4096,
        "n_ctx_train": 8192,
        "n_vocab": 49152,
        "n_threads": 2,
        "n_threads_batch": 2,
        "threads_reason": "2 physical cores",
        "n_gpu_layers": 0,
        "gpu_offload_supported": False,
        "flash_attn": False,
        "chat_template": "from the model file",
        "chat_template_problem": None,
        "system_info": "CPU : SSE3 = 1 | AVX2 = 1 |",
    }
    model.update(changes)
    return model


GPU = {
    "size_bytes": 98_362_432,
    "backend": "CUDA",
    "devices": [{"name": "CUDA0", "description": "NVIDIA H100 80GB HBM3",
                 "memory_total": 80 * 2**30, "memory_free": 3 * 2**29}],
}


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    """A 1000 px window with the bar above a transcript, as in the app."""
    win = QWidget()
    layout = QVBoxLayout(win)
    win.bar = ModelBar()  # type: ignore[attr-defined]
    layout.addWidget(win.bar)  # type: ignore[attr-defined]
    layout.addWidget(QTextBrowser(), 1)
    qtbot.addWidget(win)
    win.resize(1000, 400)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def bar(window: QWidget) -> ModelBar:
    b: ModelBar = window.bar  # type: ignore[attr-defined]
    return b


# -- the pure helpers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1 kB"), (1536, "1.5 kB"), (98_362_432, "98 MB"),
    (999_960, "1 MB"), (4_100_000_000, "4.1 GB"), (12_345_678_901, "12 GB"),
    (2 * 10**15, "2 PB"), (5 * 10**18, "5000 PB"),
])
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize(("n", "text"), [
    (0, "0"), (950, "950"), (12_000, "12K"), (134_515_008, "135M"), (494_032_768, "494M"),
    (999_600_000, "1B"), (1_711_376_384, "1.7B"), (6_738_415_616, "6.7B"),
    (70_553_706_496, "71B"), (1_000_000_000_000, "1T"),
])
def test_format_params(n: int, text: str) -> None:
    assert format_params(n) == text


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        format_bytes(-1)
    with pytest.raises(ValueError):
        format_params(-5)


# -- states -------------------------------------------------------------------------------------

def test_first_run_offers_the_starter_model(qtbot: QtBot, bar: ModelBar) -> None:
    bar.show_no_model(starter_available=True)
    assert bar.state == "no_model"
    assert bar.status_label.full_text() == "No model yet."
    assert bar.install_button.isVisible()
    assert bar.install_button.text() == "Install the starter model (98 MB)"
    assert bar.open_button.isVisible() and bar.open_button.text() == "Open model…"
    assert not bar.progress.isVisible() and not bar.details_button.isVisible()
    assert not bar.summary_label.isVisible() and not bar.reason_view.isVisible()
    assert bar.model_button.text() == "Choose a model"
    with qtbot.waitSignal(bar.sig_install_starter, timeout=1000):
        qtbot.mouseClick(bar.install_button, Qt.MouseButton.LeftButton)

    bar.show_no_model(starter_available=False)
    assert not bar.install_button.isVisible()
    assert bar.status_label.full_text() == "No model yet."
    assert bar.open_button.isVisible()


def test_installing_shows_a_busy_bar(bar: ModelBar) -> None:
    bar.show_no_model(True)
    bar.show_installing()
    assert bar.state == "installing"
    assert bar.status_label.full_text() == "Installing the starter model…"
    assert bar.progress.isVisible()
    assert (bar.progress.minimum(), bar.progress.maximum()) == (0, 0)  # no progress known
    assert not bar.install_button.isVisible()  # no second install meanwhile


def test_loading_shows_progress(bar: ModelBar) -> None:
    bar.show_loading("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert bar.state == "loading"
    assert bar.model_button.text() == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert bar.status_label.full_text() == "Loading… 0%"
    assert bar.progress.isVisible() and bar.progress.maximum() == 100
    bar.show_progress(0.424)
    assert bar.progress.value() == 42
    assert bar.status_label.full_text() == "Loading… 42%"
    bar.show_progress(7.0)  # clamped
    assert bar.progress.value() == 100
    bar.show_progress(float("nan"))
    assert bar.progress.value() == 0
    assert not bar.open_button.isVisible() and not bar.install_button.isVisible()


def test_progress_after_the_load_ended_changes_nothing(bar: ModelBar) -> None:
    bar.show_loading("a.gguf")
    bar.show_loaded(fake_model())
    bar.show_progress(0.5)
    assert bar.state == "loaded"
    assert not bar.progress.isVisible()


def test_loaded_summary_with_backend_and_devices(qtbot: QtBot, bar: ModelBar) -> None:
    bar.show_loaded(fake_model(**GPU))
    assert bar.state == "loaded"
    assert bar.model_button.text() == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert bar.summary_text() == ("llama · 135M · Q4_1 · 98 MB · context 4096 · CUDA · "
                                  "threads 2 · GPU layers 0")
    assert bar.summary_label.isVisible() and bar.details_button.isVisible()
    assert not bar.status_label.isVisible() and not bar.progress.isVisible()
    details = bar.details_text()
    assert "Name: SmolLM2-135M-Instruct.Q4_1.gguf" in details
    assert "File: /models/SmolLM2-135M-Instruct.Q4_1.gguf" in details
    assert "Size: 98 MB (98362432 bytes)" in details
    assert "Backend: CUDA" in details
    assert ("Device 1: CUDA0 — NVIDIA H100 80GB HBM3 — 80.0 GiB total, 1.5 GiB free"
            in details)
    assert "Flash attention: no" in details
    assert "Chat template problem" not in details  # None: nothing to say
    tooltip = bar.summary_label.toolTip()
    assert "NVIDIA H100 80GB HBM3" in tooltip and "CUDA" in tooltip

    qtbot.mouseClick(bar.details_button, Qt.MouseButton.LeftButton)
    dialog = bar.details_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "Model details"
    assert bar._details_text is not None
    assert bar._details_text.toPlainText() == details
    bar.show_no_model(False)  # the model is gone: so are its details
    assert not dialog.isVisible()


def test_loaded_summary_without_the_newer_fields(bar: ModelBar) -> None:
    bar.show_loaded(fake_model())
    assert bar.summary_text() == "llama · 135M · Q4_1 · context 4096 · threads 2 · GPU layers 0"
    assert "Device" not in bar.details_text() and "Backend" not in bar.details_text()
    # A dict with almost nothing, or with values of the wrong type, still shows.
    bar.show_loaded({"path": "/m/x.gguf", "parameters": "many", "size_bytes": True,
                     "devices": ["odd", {"name": 3}], "new_field": [1, 2]})
    assert bar.summary_text() == ""
    details = bar.details_text()
    assert "Parameters: many" in details and "Size: yes" in details
    assert "Device 1: odd" in details and "Device 2: 3" in details
    assert "new_field: [1, 2]" in details
    bar.show_loaded({})
    assert bar.model_button.text() == "Unnamed model"


def test_failed_shows_the_reason_in_full(qtbot: QtBot, bar: ModelBar) -> None:
    bar.show_loading("broken.gguf")
    reason = ("llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' has wrong "
              "shape\n" + HOSTILE_HTML + " <b>not bold</b>")
    bar.show_failed(reason)
    assert bar.state == "failed"
    assert bar.status_label.full_text() == "Could not load the model:"
    assert bar.status_label.font().bold()
    assert bar.model_button.text() == "broken.gguf"  # which model failed
    assert bar.reason_view.isVisible()
    assert bar.reason_view.toPlainText() == reason
    assert "<img" not in bar.reason_view.document().toHtml()  # escaped, never an image
    assert bar.reason_view.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    assert bar.reason_view.isReadOnly()
    assert bar.open_button.isVisible() and not bar.progress.isVisible()
    # Three lines of text: sized to them, not to a fixed block.
    qtbot.waitUntil(lambda: bar.reason_view.height()
                    < 6 * bar.reason_view.fontMetrics().lineSpacing())

    bar.show_loaded(fake_model())
    bar.show_failed("the model process died (SIGKILL)")
    assert bar.status_label.full_text() == "The model stopped:"
    bar.show_no_model(True)
    assert not bar.reason_view.isVisible() and not bar.status_label.font().bold()


# -- the list of models -------------------------------------------------------------------------

def test_choosing_a_listed_model_requests_its_load(qtbot: QtBot, bar: ModelBar) -> None:
    folder = models_dir()
    for name in ("b.gguf", "A.GGUF", "R&D.gguf", "notes.txt", "c.gguf.partial"):
        (folder / name).write_bytes(b"GGUF")
    elsewhere = Path("/elsewhere/qwen.gguf")
    bar.set_models([elsewhere, folder / "b.gguf"], current=folder / "b.gguf")
    # The folder was listed before the files came: only the recent paths so far.
    assert bar.models() == [elsewhere, folder / "b.gguf"]
    bar.refresh_models()
    assert bar.models() == [folder / "A.GGUF", folder / "b.gguf", folder / "R&D.gguf",
                            elsewhere]
    actions = [a for a in bar.model_menu.actions() if a.isCheckable()]
    assert [a.text() for a in actions] == ["A.GGUF", "b.gguf", "R&&D.gguf", "qwen.gguf"]
    assert [a.isChecked() for a in actions] == [False, True, False, False]
    assert bar.model_menu.actions()[-3:] == [bar.open_action, bar.manage_action,
                                             bar.connect_action]
    assert bar.open_action.text() == "Open model…"
    with qtbot.waitSignal(bar.sig_manage_models, timeout=1000):
        bar.manage_action.trigger()
    with qtbot.waitSignal(bar.sig_load_requested, timeout=1000) as sig:
        actions[3].trigger()
    assert sig.args == [elsewhere]
    # A loaded model carries the check mark.
    bar.show_loaded(fake_model(path=str(folder / "R&D.gguf")))
    actions = [a for a in bar.model_menu.actions() if a.isCheckable()]
    assert [a.isChecked() for a in actions] == [False, False, True, False]


def test_an_empty_folder_says_so(bar: ModelBar) -> None:
    bar.refresh_models()
    texts = [a.text() for a in bar.model_menu.actions() if not a.isSeparator()]
    assert texts == ["No models in the models folder yet", "Open model…",
                     "Manage and download models…", "Connect to a server…"]
    (models_dir() / "m.gguf").write_bytes(b"GGUF")
    bar.refresh_models()
    bar.show_no_model(True)  # models to choose from: none loaded, rather than none at all
    assert bar.status_label.full_text() == "No model loaded."


def test_open_model_asks_for_a_gguf_file(
    qtbot: QtBot, bar: ModelBar, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str, str]] = []

    def fake_dialog(parent: QWidget, caption: str, folder: str, filter_: str) -> tuple[str, str]:
        asked.append((caption, folder, filter_))
        return "/somewhere/model.gguf", filter_

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_dialog)
    bar.show_no_model(False)
    with qtbot.waitSignal(bar.sig_load_requested, timeout=1000) as sig:
        qtbot.mouseClick(bar.open_button, Qt.MouseButton.LeftButton)
    assert sig.args == [Path("/somewhere/model.gguf")]
    assert asked == [("Open model", str(models_dir()), "GGUF models (*.gguf)")]
    with qtbot.waitSignal(bar.sig_load_requested, timeout=1000):
        bar.open_action.trigger()


# -- hostile text -------------------------------------------------------------------------------

def test_hostile_model_text_is_plain_and_does_not_widen_the_window(
    qtbot: QtBot, window: QWidget, bar: ModelBar
) -> None:
    long = "A" * 100_000
    bar.show_loaded(fake_model(
        path=f"/m/{HOSTILE_HTML}{long}.gguf", architecture=HOSTILE_HTML + long,
        quantization="<b>Q</b>", backend="<i>CUDA</i>",
        devices=[{"name": HOSTILE_HTML, "description": long}]))
    QApplication.processEvents()
    assert window.width() == 1000
    assert bar.width() <= 1000 and bar.minimumSizeHint().width() < 1000
    assert bar.summary_label.textFormat() == Qt.TextFormat.PlainText
    assert bar.status_label.textFormat() == Qt.TextFormat.PlainText
    assert bar.summary_label.full_text().startswith(HOSTILE_HTML)  # shown as the text it is
    assert len(bar.summary_label.text()) < 300  # elided to the room there is
    assert bar.summary_label.text().endswith("…")
    assert len(bar.model_button.text()) < 100
    tooltip = bar.summary_label.toolTip()
    assert "<img" not in tooltip and "&lt;img src=file:///etc/passwd&gt;" in tooltip
    assert "<b>Q" not in tooltip and len(tooltip) < 10_000
    assert "<img" not in bar.model_button.toolTip()
    assert HOSTILE_HTML in bar.details_text()  # plain text for a plain-text view

    bar.show_loading(HOSTILE_HTML + long)
    bar.show_failed(HOSTILE_HTML + long + " " + "B" * 50_000 + "\n" * 500)
    QApplication.processEvents()
    assert window.width() == 1000 and bar.minimumSizeHint().width() < 1000
    assert bar.reason_view.toPlainText().startswith(HOSTILE_HTML + long)
    # A page of log scrolls inside a few lines instead of pushing the chat away.
    assert bar.reason_view.height() < 12 * bar.reason_view.fontMetrics().lineSpacing()


# -- language -----------------------------------------------------------------------------------

GERMAN_TS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>ModelBar</name>
    <message><source>Details</source><translation>Einzelheiten</translation></message>
    <message><source>context {n}</source><translation>Kontext {n}</translation></message>
    <message><source>Open model…</source><translation>Modell öffnen…</translation></message>
    <message><source>Could not load the model:</source>
        <translation>Modell konnte nicht geladen werden:</translation></message>
</context>
</TS>
"""


@pytest.fixture
def german(tmp_path: Path) -> Iterator[QTranslator]:
    """A translator for a few of the bar's strings, built with the real lrelease."""
    ts, qm = tmp_path / "de.ts", tmp_path / "de.qm"
    ts.write_text(GERMAN_TS, encoding="utf-8")
    lrelease = Path(sys.executable).parent / "pyside6-lrelease"
    subprocess.run([str(lrelease), str(ts), "-qm", str(qm), "-silent"], check=True,
                   capture_output=True)
    translator = QTranslator()
    assert translator.load(str(qm))
    yield translator
    QCoreApplication.removeTranslator(translator)


def test_language_change_retranslates_without_losing_state(
    qtbot: QtBot, bar: ModelBar, german: QTranslator
) -> None:
    bar.show_loaded(fake_model(**GPU))
    before = bar.summary_text()
    QCoreApplication.installTranslator(german)  # Qt sends LanguageChange to every widget
    qtbot.waitUntil(lambda: bar.details_button.text() == "Einzelheiten", timeout=2000)
    assert bar.state == "loaded"
    assert bar.summary_text() == before.replace("context 4096", "Kontext 4096")
    assert bar.open_action.text() == "Modell öffnen…"
    assert bar.model_button.text() == "SmolLM2-135M-Instruct.Q4_1.gguf"

    bar.show_loading("x.gguf")
    bar.show_failed("llama.cpp said no")
    assert bar.status_label.full_text() == "Modell konnte nicht geladen werden:"
    QCoreApplication.removeTranslator(german)
    qtbot.waitUntil(lambda: bar.status_label.full_text() == "Could not load the model:",
                    timeout=2000)
    assert bar.reason_view.toPlainText() == "llama.cpp said no"
    assert bar.model_button.text() == "x.gguf"
    # An explicit LanguageChange (what the app's language switch causes) does the same.
    QApplication.sendEvent(bar, QEvent(QEvent.Type.LanguageChange))
    assert bar.state == "failed" and bar.reason_view.toPlainText() == "llama.cpp said no"


# -- the real model -----------------------------------------------------------------------------

def test_summary_of_the_real_starter_model(
    qtbot: QtBot, bar: ModelBar, starter_model: Path, tmp_path: Path
) -> None:
    events: list[dict[str, Any]] = []  # appended on the client's reader thread
    with EngineClient(log_path=tmp_path / "engine.log", on_event=events.append) as client:
        loaded = client.load(starter_model, n_ctx=1024)
    bar.show_loading(starter_model.name)
    for event in events:
        if event["type"] == "progress":
            bar.show_progress(event["progress"])
    bar.show_loaded(loaded["model"])
    summary = bar.summary_text()
    assert summary.startswith("llama · ")
    assert "context 1024" in summary
    assert "135M" in summary and "Q4_1" in summary
    assert bar.model_button.text() == starter_model.name
    assert f"File: {starter_model}" in bar.details_text()
