"""The main window's model management: the Models window, dropped files, and the retry offered
when a model does not fit in memory — with a real model process, real files, a real window."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from chatapp.core.app_settings import AppSettings
from chatapp.models.library import list_models
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import StoreService
from chatapp.ui.main_window import MainWindow
from chatapp.ui.model_management import shown_retry_options

MIB = 2**20


def _window(qtbot: QtBot, engine: EngineService, store: StoreService,
            settings: AppSettings | None = None) -> MainWindow:
    win = MainWindow(engine, store, None, app_settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _drop(target: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(target.rect().center())
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    target.dropEvent(event)


def test_the_models_window_opens_from_the_menu_and_its_load_loads(
        qtbot: QtBot, engine: EngineService, store: StoreService, starter_model: Path) -> None:
    win = _window(qtbot, engine, store)
    assert win.action_models in win.menu_file.actions()
    win.action_models.trigger()
    models = win.models.models_window
    assert models is not None and models.isVisible()
    # The model bar's menu opens the same window.
    assert win.model_bar.manage_action in win.model_bar.model_menu.actions()
    models.sig_load.emit(starter_model)
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    assert win.model_bar.state == "loaded" and win.model_path == starter_model


def test_a_dropped_model_is_imported_and_loaded_and_a_bad_one_is_named(
        qtbot: QtBot, engine: EngineService, store: StoreService, starter_model: Path,
        tmp_path: Path) -> None:
    win = _window(qtbot, engine, store)
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 20)
    _drop(win, [bad, starter_model])
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    assert win.model_path == starter_model.resolve()
    assert [e.path for e in list_models()] == [starter_model.resolve()]
    assert starter_model.resolve() in win.model_bar.models()
    boxes = [w for w in QApplication.topLevelWidgets()
             if isinstance(w, QMessageBox) and w.isVisible()]
    assert len(boxes) == 1 and "broken.gguf is not a usable model file" in boxes[0].text()
    boxes[0].close()


def test_retry_buttons_keep_three_useful_options() -> None:
    halvings = [{"n_ctx": n, "label": f"context {n}"}
                for n in (65536, 32768, 16384, 8192, 4096, 2048, 1024, 512)]
    assert [o["n_ctx"] for o in shown_retry_options(halvings)] == [65536, 32768, 4096]
    gpu = [{"n_gpu_layers": 15}, {"n_gpu_layers": 0}, {"n_ctx": 4096}]
    assert shown_retry_options(gpu) == gpu
    small = [{"n_ctx": n} for n in (2048, 1024, 512, 256)]
    assert [o["n_ctx"] for o in shown_retry_options(small)] == [2048, 1024, 256]


def _vm_size(pid: int) -> int:
    found = re.search(r"VmSize:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found
    return int(found.group(1)) * 1024


@pytest.fixture
def capped_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineService]:
    """A model process whose address space is capped 700 MB above what it maps when idle:
    the starter model loads with a 4096-token context, not with 131072 (measured in
    tests/engine/test_memory_retry.py)."""
    probe = EngineService(log_path=tmp_path / "probe.log")
    probe.start()
    pid = probe.client.pid
    assert pid is not None
    idle = _vm_size(pid)
    probe.shutdown()
    monkeypatch.setenv("CHATAPP_ENGINE_MEMORY_LIMIT", str(idle + 700 * MIB))
    service = EngineService(log_path=tmp_path / "engine.log")
    service.start()
    yield service
    service.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_out_of_memory_offers_a_retry_that_loads(
        qtbot: QtBot, capped_engine: EngineService, store: StoreService,
        starter_model: Path) -> None:
    settings = AppSettings(n_ctx=131072, n_threads=1)
    win = _window(qtbot, capped_engine, store, settings)
    win.load_model(starter_model)
    qtbot.waitUntil(lambda: win.model_bar.state == "failed", timeout=60_000)

    def retry_box() -> QMessageBox | None:
        return next((w for w in QApplication.topLevelWidgets()
                     if isinstance(w, QMessageBox) and w.isVisible()
                     and w.windowTitle() == "Not enough memory"), None)

    qtbot.waitUntil(lambda: retry_box() is not None, timeout=5_000)
    box = retry_box()
    assert box is not None
    assert "131072-token context" in box.text()
    buttons = {b.text(): b for b in box.findChildren(QPushButton)}
    assert "With a 4096-token context" in buttons
    buttons["With a 4096-token context"].click()
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    assert win._n_ctx == 4096
    # The retry was for this load only: the saved setting is still the user's.
    assert win.app_settings.n_ctx == 131072


def test_opening_the_app_and_its_models_window_sends_nothing_to_the_network(
        tmp_path: Path, starter_model: Path) -> None:
    """The app never calls home: starting it, loading a model and opening the Models window
    (library and Hub pages) opens no internet socket and resolves no host name."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import socket, sys\n"
        "seen = []\n"
        "def hook(event, args):\n"
        "    if event == 'socket.connect' and args[0].family in "
        "(socket.AF_INET, socket.AF_INET6):\n"
        "        seen.append((event, repr(args[1])))\n"
        "    elif event == 'socket.getaddrinfo':\n"
        "        seen.append((event, repr(args[0])))\n"
        "sys.addaudithook(hook)\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from chatapp.services.engine_service import EngineService\n"
        "from chatapp.services.store_service import StoreService\n"
        "from chatapp.ui.main_window import MainWindow\n"
        "app = QApplication([])\n"
        "engine = EngineService(); engine.start()\n"
        "store = StoreService()\n"
        f"win = MainWindow(engine, store, __import__('pathlib').Path({str(starter_model)!r}))\n"
        "win.show()\n"
        "def check():\n"
        "    if not win._ready:\n"
        "        return\n"
        "    win.models.open_window('library'); win.models.open_window('hub')\n"
        "    timer.stop(); QTimer.singleShot(1500, app.quit)\n"
        "timer = QTimer(); timer.timeout.connect(check); timer.start(100)\n"
        "QTimer.singleShot(90_000, app.quit)\n"
        "app.exec()\n"
        "ok = win._ready\n"
        "win.close(); store.close(); engine.shutdown()\n"
        "print('READY' if ok else 'NOT READY')\n"
        "print('NETWORK', seen)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=180, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "READY" in done.stdout and "NOT READY" not in done.stdout, done.stdout
    assert "NETWORK []" in done.stdout, done.stdout


def test_split_parts_and_partial_downloads_are_not_in_the_model_menu(
        qtbot: QtBot, engine: EngineService, store: StoreService, small_gguf: Path) -> None:
    from chatapp.paths import models_dir

    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for i in (1, 2):
        shutil.copy(small_gguf, folder / f"split-0000{i}-of-00002.gguf")
    (folder / ".partial").mkdir()
    shutil.copy(small_gguf, folder / ".partial" / "abc.0.part")
    win = _window(qtbot, engine, store)
    win.model_bar.refresh_models()
    assert [p.name for p in win.model_bar.models()] == ["split-00001-of-00002.gguf"]


@pytest.fixture
def small_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.models.conftest import write_small_gguf

    return write_small_gguf(tmp_path_factory.mktemp("gguf") / "small.gguf")

