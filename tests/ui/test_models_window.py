"""The Models window with real files, a real Hub-compatible server and real downloads.

The library reads the real starter model (and a broken file) from the test's models folder;
the Hub tab searches `hub_server` through the real huggingface_hub client; downloads run
through the real download manager.  Only the device report is a fixed value: it is the
logic input of the fit verdict (a CPU with a known amount of free RAM).
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QObject, QPointF, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QToolTip
from pytestqt.qtbot import QtBot

from chatapp.core.units import format_bytes
from chatapp.models.library import list_models
from chatapp.paths import models_dir
from chatapp.services.download_service import DownloadService, download_key
from chatapp.ui.models import ModelsWindow
from chatapp.ui.theme import apply_theme
from tests.hubserver import Fault, HubServer
from tests.models import conftest as models_conftest

# The Hub server and the small GGUF are tests/models' fixtures; bound here so pytest finds
# them for this module too (an import of the names would be shadowed by the parameters).
hub_server = models_conftest.hub_server
small_gguf = models_conftest.small_gguf

STARTER_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SHOTS = Path("/tmp/models_shots")
REPO = "tester/Tiny-Llama-GGUF"
SMALL = "tiny-llama-F32.gguf"
BIG = "tiny-llama-BF16.gguf"
#: The "big" file only needs a size: its header is never read (the smallest file's is).
BIG_BYTES = 24 * 2**20
N_CTX = 2048


def _link(src: Path, dst: Path) -> Path:
    """A hard link where possible (the starter model is 98 MB), a copy otherwise."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy(src, dst)
    return dst


def _cpu_devices(ram_free: int) -> Callable[[], dict[str, Any]]:
    """What the model process would report for a machine with only a CPU."""
    def devices() -> dict[str, Any]:
        return {"backend": "CPU", "gpu_offload": False, "cpu_features": ["AVX2"],
                "devices": [{"name": "CPU", "description": "Test CPU", "type": "CPU",
                             "backend": "CPU", "memory_total": 64 * 2**30,
                             "memory_free": ram_free}]}
    return devices


@pytest.fixture
def service(hub_server: HubServer) -> Iterator[DownloadService]:
    """Downloads from this test's Hub server (the app's service uses HF_ENDPOINT's)."""
    svc = DownloadService(endpoint=hub_server.endpoint)
    yield svc
    svc.shutdown(timeout=10.0)


@pytest.fixture
def open_window(qtbot: QtBot, service: DownloadService) -> Iterator[Callable[..., ModelsWindow]]:
    """Opens Models windows on `service`; each is shut down after the test."""
    made: list[ModelsWindow] = []

    def make(endpoint: str | None = None,
             devices: Callable[[], dict[str, Any]] | None = None,
             svc: DownloadService | None = None) -> ModelsWindow:
        win = ModelsWindow(svc or service, devices or _cpu_devices(64 * 2**30), N_CTX,
                           endpoint=endpoint)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield make
    for win in made:
        win.shutdown()


def _drop(win: ModelsWindow, paths: list[Path]) -> tuple[bool, bool]:
    """Drag local files onto the window and drop them, as the platform would; returns
    whether the drag was accepted and whether the drop was."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(win.width() / 2, win.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, drop)
    return enter.isAccepted(), drop.isAccepted()


def _answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton,
            shown: list[str]) -> None:
    """Make the next confirmations answer `button`, recording what they said."""
    def exec_(box: QMessageBox) -> int:
        shown.append(box.text())
        assert box.textFormat() == Qt.TextFormat.PlainText
        return int(button.value)

    monkeypatch.setattr(QMessageBox, "exec", exec_)


# -- the library ------------------------------------------------------------------------------

def test_library_lists_models_with_facts_and_broken_files_as_unusable(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], starter_model: Path) -> None:
    _link(starter_model, models_dir() / starter_model.name)
    (models_dir() / "broken.gguf").write_bytes(b"GGUF" + b"\x00" * 10)
    win = open_window()
    page = win.library

    rows = page.row_texts()
    assert [r[0] for r in rows] == ["broken.gguf", starter_model.name]
    broken, starter = rows
    assert broken[6].startswith("Not usable:") and len(broken[6]) > len("Not usable: ")
    assert starter[1:6] == ["llama", "135M", "Q4_1", "8,192", "98 MB"], starter

    page.select_path(models_dir() / "broken.gguf")
    assert not page.load_button.isEnabled()
    assert "Problem" in page.details_text()

    page.select_path(models_dir() / starter_model.name)
    assert "computing…" in page.details_text() or STARTER_SHA256 in page.details_text()
    qtbot.waitUntil(lambda: STARTER_SHA256 in page.details_text(), timeout=90_000)
    text = page.details_text()
    assert "supported" in text and "not supported" not in text
    assert "Chat template" in text and "yes (SHA-256 " in text
    assert str(models_dir() / starter_model.name) in text
    assert "Put in the models folder by hand" in text
    assert page.row_texts()[1][6] == "Ready"
    assert page.load_button.isEnabled()
    with qtbot.waitSignal(win.sig_load) as loaded:
        page.load_button.click()
    assert loaded.args == [models_dir() / starter_model.name]
    # Enter on a row loads it, once (a dialog would also press its default button).
    loads: list[object] = []
    win.sig_load.connect(loads.append)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert loads == [models_dir() / starter_model.name]

    # The broken file never became loadable, facts or not.
    page.select_path(models_dir() / "broken.gguf")
    assert not page.load_button.isEnabled()
    assert page.row_texts()[0][6].startswith("Not usable:")


def test_show_in_folder_opens_the_models_folder(
        open_window: Callable[..., ModelsWindow], small_gguf: Path) -> None:
    shutil.copy(small_gguf, models_dir() / "tiny.gguf")
    win = open_window()
    opened: list[QUrl] = []

    class Catcher(QObject):
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url)

    catcher = Catcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        win.library.folder_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in opened] == [models_dir()]


def test_dropped_files_are_imported_and_refusals_named_per_file(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], small_gguf: Path,
        tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    good = Path(shutil.copy(small_gguf, elsewhere / "mine.gguf"))
    bad = elsewhere / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    text = elsewhere / "notes.txt"
    text.write_text("hello")
    win = open_window()
    win.show_hub()
    changed: list[bool] = []
    win.sig_library_changed.connect(lambda: changed.append(True))

    accepted, dropped = _drop(win, [good, bad, text])
    assert accepted and dropped
    assert win.tabs.currentWidget() is win.library
    entries = win.library.entries()
    assert [(e.path, e.origin) for e in entries] == [(good.resolve(), "imported")]
    assert win.library.selected() == entries[0]
    assert changed
    box = win.library.problem_box
    # One message for all the files, shown without a nested event loop (`open`, not `exec`).
    assert box is not None and box.isVisible()
    assert box.windowModality() != Qt.WindowModality.ApplicationModal
    message = box.informativeText()
    assert "bad.gguf" in message and "notes.txt" in message and "mine.gguf" not in message
    box.close()

    # A drag of something that is not a local file is not accepted at all.
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/model.gguf")])
    enter = QDragEnterEvent(win.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    assert not enter.isAccepted()


def test_import_through_the_api(open_window: Callable[..., ModelsWindow],
                                small_gguf: Path, tmp_path: Path) -> None:
    other = Path(shutil.copy(small_gguf, tmp_path / "other.gguf"))
    win = open_window()
    assert win.import_files([other]) == 1
    assert [e.path for e in list_models()] == [other.resolve()]
    assert win.library.row_texts()[0][0] == "other.gguf"
    assert "Imported: the file stays where it is" in win.library.details_text()


def test_remove_deletes_folder_files_but_only_forgets_imported_ones(
        open_window: Callable[..., ModelsWindow], small_gguf: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    in_folder = Path(shutil.copy(small_gguf, models_dir() / "local.gguf"))
    imported = Path(shutil.copy(small_gguf, tmp_path / "theirs.gguf"))
    win = open_window()
    win.import_files([imported])
    page = win.library
    shown: list[str] = []

    # Cancel removes nothing.
    _answer(monkeypatch, QMessageBox.StandardButton.Cancel, shown)
    assert page.select_path(in_folder)
    assert page.remove_selected() is False
    assert in_folder.exists() and len(page.entries()) == 2

    _answer(monkeypatch, QMessageBox.StandardButton.Yes, shown)
    page.select_path(in_folder)
    page.remove_button.click()
    assert "deleted" in shown[-1] and "cannot be undone" in shown[-1]
    assert not in_folder.exists()
    assert [e.path for e in page.entries()] == [imported.resolve()]

    page.select_path(imported.resolve())
    assert page.remove_selected() is True
    assert "not deleted" in shown[-1] and str(tmp_path) in shown[-1]
    assert imported.exists()  # the user's file stays
    assert page.entries() == [] and list_models() == []
    assert "still there" in page.message.text()


# -- the Hub ----------------------------------------------------------------------------------

def _serve(server: HubServer, small: Path, tmp_path: Path) -> str:
    """Three repositories: ours (a small file and a big one), another, and a gated one."""
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(BIG_BYTES // 2**20):
            f.write(os.urandom(2**20))
    sha = server.add_repo(REPO, {SMALL: small, f"more/{BIG}": big}, downloads=1234, likes=5,
                          last_modified="2026-02-03T04:05:06.000Z")
    server.add_repo("someone/Other-GGUF", {"other-Q4_0.gguf": small}, downloads=50, likes=90)
    server.add_repo("tester/Gated-GGUF", {"gated-Q8_0.gguf": small}, downloads=7, gated=True)
    return sha


def _ram_between(small: Path) -> int:
    """Free RAM enough for the small file at N_CTX but not for the big one.

    The verdict's arithmetic is `chatapp.models.fit`'s (tested there); what is tested here is
    that the window feeds it the right header, devices and context, and says what it decided.
    """
    from chatapp.engine.gguf_preflight import inspect_gguf
    from chatapp.models.fit import ModelShape, assess

    info = inspect_gguf(small)
    cpu = _cpu_devices(0)()["devices"]
    needs = []
    for size in (small.stat().st_size, BIG_BYTES):
        shape = ModelShape.from_info(info, total_file_bytes=size)
        needs.append(assess(shape, N_CTX, [dict(cpu[0], memory_free=2**50)]).need.total)
    ram = 1024 * 2**20 + (needs[0] + needs[1]) // 2  # assess keeps 1 GiB of RAM in reserve
    for size, kind in ((small.stat().st_size, "cpu"), (BIG_BYTES, "too_big")):
        shape = ModelShape.from_info(info, total_file_bytes=size)
        assert assess(shape, N_CTX, [dict(cpu[0], memory_free=ram)]).kind == kind
    return ram


def _search(qtbot: QtBot, win: ModelsWindow, query: str, count: int) -> None:
    """Type a query and press Enter, as a user would; wait for `count` results."""
    win.show_hub()
    win.hub.search_edit.clear()
    qtbot.keyClicks(win.hub.search_edit, query)
    qtbot.keyClick(win.hub.search_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(win.hub.repos()) == count
                    and "Searching" not in win.hub.status_text(), timeout=20_000)


def _open_repo(qtbot: QtBot, win: ModelsWindow, repo_id: str, files: int) -> None:
    assert win.hub.select_repo(repo_id)
    qtbot.waitUntil(lambda: len(win.hub.files()) == files, timeout=20_000)


def test_search_lists_repos_and_files_with_a_fit_verdict(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], service: DownloadService,
        hub_server: HubServer, small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    asked: list[int] = []
    ram = _ram_between(small_gguf)
    devices = _cpu_devices(ram)

    def counted() -> dict[str, Any]:
        asked.append(1)
        return devices()

    win = open_window(endpoint=hub_server.endpoint, devices=counted)
    hub = win.hub
    host = hub_server.endpoint.split("//", 1)[1]
    note = hub.privacy_note.text()
    assert host in note and "nothing is sent otherwise" in note
    assert hub_server.requests == []  # opening the window asked the Hub nothing

    _search(qtbot, win, "gguf", 3)
    assert [r.repo_id for r in hub.repos()] == [REPO, "someone/Other-GGUF", "tester/Gated-GGUF"]
    assert hub.repo_table.item(0, 1).text() == "1.2K"
    assert hub.repo_table.item(0, 3).text() == "2026-02-03"
    assert hub.repo_table.item(2, 4).text() == "Gated"
    assert hub.repo_table.item(0, 4).text() == ""

    hub.sort_combo.setCurrentIndex(1)  # most liked
    hub.search_button.click()
    qtbot.waitUntil(lambda: hub.repos()[0].repo_id == "someone/Other-GGUF", timeout=20_000)
    _search(qtbot, win, "tester/", 2)

    # The tables work from the keyboard: the arrows move through the repositories, and the
    # one reached is opened.
    hub.repo_table.setFocus()
    qtbot.keyClick(hub.repo_table, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: [f.name for f in hub.files()] == ["gated-Q8_0.gguf"],
                    timeout=20_000)
    qtbot.keyClick(hub.repo_table, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: len(hub.files()) == 2, timeout=20_000)
    assert [f.name for f in hub.files()] == [SMALL, BIG]  # smallest first
    qtbot.waitUntil(lambda: hub.fit_cell(SMALL)[0] not in ("Estimating…", ""), timeout=20_000)
    small_fit, small_tip = hub.fit_cell(SMALL)
    big_fit, big_tip = hub.fit_cell(BIG)
    assert small_fit == "Fits in RAM", small_tip
    assert big_fit == "Too big", big_tip
    assert "Needs about" in big_tip and "2,048-token context" in big_tip and "of RAM" in big_tip
    assert hub.file_table.item(1, 2).text() == "25 MB"
    assert asked == [1]

    # The header came from the smallest file, once; the big one was never read.
    def resolves(name: str) -> int:
        return sum(1 for r in hub_server.requests if r.method == "GET" and "/resolve/" in r.path
                   and r.path.endswith(name))

    assert resolves(SMALL) == 1 and resolves(BIG) == 0
    _search(qtbot, win, "gguf", 3)
    _open_repo(qtbot, win, "someone/Other-GGUF", 1)
    qtbot.waitUntil(lambda: hub.fit_cell("other-Q4_0.gguf")[0] == "Fits in RAM", timeout=20_000)
    _open_repo(qtbot, win, REPO, 2)
    assert hub.fit_cell(BIG)[0] == "Too big"
    assert resolves(SMALL) == 1 and asked == [1]  # per repository, per window

    # Enter in the search box searches; it never presses Download for the selected file.
    assert hub.select_file(BIG) and hub.download_button.isEnabled()
    _search(qtbot, win, "other", 1)
    assert service.running() == [] and service.pending() == []
    assert hub_server.errors == []


def test_hub_errors_are_a_line_on_the_page_not_dialogs(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], hub_server: HubServer,
        small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    win = open_window(endpoint=hub_server.endpoint)
    _search(qtbot, win, "no-such-model", 0)
    assert "No GGUF repositories match “no-such-model”" in win.hub.status_text()

    hub_server.api_status = 500
    win.hub.search()
    qtbot.waitUntil(lambda: "Searching" not in win.hub.status_text(), timeout=30_000)
    assert "500" in win.hub.status_text() or "server" in win.hub.status_text().lower()
    assert win.hub.status_label.font().bold()

    hub_server.stop()  # now nothing listens there: offline
    win.hub.search()
    qtbot.waitUntil(lambda: "Searching" not in win.hub.status_text(), timeout=30_000)
    assert win.hub.status_text() and win.hub.status_label.font().bold()
    assert not [w for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible()]


# -- downloads --------------------------------------------------------------------------------

#: Per file name: its path in the repository, and the bytes the server had sent of it (the
#: header read) when its download started.
_baseline: dict[str, tuple[str, int]] = {}


def _download_bytes(server: HubServer, name: str = SMALL) -> int:
    """Bytes of `name` the server has sent to the download (not to the header read)."""
    path, before = _baseline[name]
    return server.bytes_served(REPO, path) - before


def _start_download(qtbot: QtBot, win: ModelsWindow, name: str,
                    server: HubServer | None = None, fault: Fault | None = None) -> str:
    """Search, open our repository, select `name` and press Download; returns the key.

    `fault` is set on `server` only once the window has read the model's header (from the
    same file): it is meant for the download.
    """
    _search(qtbot, win, "tiny", 1)
    _open_repo(qtbot, win, REPO, 2)
    qtbot.waitUntil(lambda: win.hub.fit_cell(name)[0] not in ("Estimating…", ""),
                    timeout=20_000)
    assert win.hub.select_file(name)
    assert win.hub.download_button.isEnabled()
    file = win.hub.selected_file()
    assert file is not None
    path = file.parts[0].path
    if server is not None:
        server.set_fault(REPO, path, fault)
        _baseline[name] = (path, server.bytes_served(REPO, path))
    win.hub.download_button.click()
    key = download_key(file)
    assert win.downloads_view.isVisible() and win.downloads_view.row(key) is not None
    return key


def test_download_through_the_window_ends_in_the_library(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], service: DownloadService,
        hub_server: HubServer, small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    win = open_window(endpoint=hub_server.endpoint)
    assert not win.downloads_view.isVisible()  # nothing to show yet
    with qtbot.waitSignal(service.sig_finished, timeout=30_000) as finished:
        key = _start_download(qtbot, win, SMALL)
    path = models_dir() / SMALL
    assert finished.args == [key, path]
    assert path.read_bytes() == small_gguf.read_bytes()

    row = win.downloads_view.row(key)
    assert row is not None and row.state.kind == "installed"
    assert row.figures.text().startswith("Installed")
    assert row.load_button.isVisible() and not row.cancel_button.isVisible()
    with qtbot.waitSignal(win.sig_load) as loaded:
        row.load_button.click()
    assert loaded.args == [path]

    # The library lists it, with where it came from, and the Hub tab knows it is there.
    assert [e.path for e in win.library.entries()] == [path]
    assert win.library.selected() is not None and win.library.selected().path == path
    assert f"Downloaded from {REPO}" in win.library.details_text()
    win.hub.select_file(SMALL)
    assert win.hub.file_table.item(0, 5).text() == "In library"
    assert not win.hub.download_button.isEnabled()
    row.dismiss_button.click()
    assert win.downloads_view.row(key) is None and not win.downloads_view.isVisible()


def test_a_stalled_download_keeps_the_gui_turning_and_cancel_leaves_it_pending(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], service: DownloadService,
        hub_server: HubServer, small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    stall_at = 100_000
    win = open_window(endpoint=hub_server.endpoint)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    progress: list[object] = []
    service.sig_progress.connect(lambda _k, p: progress.append(p))
    timer.start()
    began = time.monotonic()

    key = _start_download(qtbot, win, SMALL, hub_server, Fault(stall_at=stall_at, stall_s=3))
    qtbot.waitUntil(lambda: _download_bytes(hub_server) >= stall_at, timeout=20_000)
    # Sent is not yet received: give the client a moment to take in the bytes before the
    # stall, so the cancel has something to keep; the event loop must turn all along.
    qtbot.wait(1500)
    row = win.downloads_view.row(key)
    assert row is not None and row.state.kind == "running" and row.cancel_button.isVisible()
    assert key in service.running()
    with qtbot.waitSignal(service.sig_failed, timeout=20_000) as failed:
        row.cancel_button.click()
    timer.stop()
    elapsed = time.monotonic() - began

    assert failed.args[0] == key and failed.args[2] is True, failed.args  # resumable
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert ticks and max(gaps) < 1.0, max(gaps)
    # Throttled: at most ten progress signals a second (plus the first and the last).
    assert len(progress) <= 10 * elapsed + 3
    assert row.state.kind == "paused" and row.state.error == ""
    assert row.resume_button.isVisible() and row.discard_button.isVisible()
    assert not row.cancel_button.isVisible()
    assert [p.key for p in service.pending()] == [key]  # the same key as the partial record
    assert service.running() == []
    assert not (models_dir() / SMALL).exists()
    assert win.library.entries() == []

    # Resume continues from the kept bytes and installs the model.
    kept = service.pending()[0].done
    with qtbot.waitSignal(service.sig_finished, timeout=30_000):
        row.resume_button.click()
    ranges = [r.range for r in hub_server.requests if r.method == "GET"
              and r.path.endswith(f"/{SMALL}") and r.range]
    if kept:
        assert f"bytes={kept}-" in ranges
    assert [e.name for e in win.library.entries()] == [SMALL]
    assert row.state.kind == "installed" and service.pending() == []


def test_quitting_cancels_downloads_and_the_next_start_resumes_them(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], hub_server: HubServer,
        small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    first = DownloadService(endpoint=hub_server.endpoint)
    win = open_window(endpoint=hub_server.endpoint, svc=first)
    key = _start_download(qtbot, win, SMALL, hub_server, Fault(stall_at=100_000, stall_s=3))
    qtbot.waitUntil(lambda: _download_bytes(hub_server) >= 100_000, timeout=20_000)
    qtbot.wait(500)  # for the client to take in the bytes sent before the stall
    win.close()  # closing the window stops nothing
    assert first.running() == [key]
    first.shutdown(timeout=10.0)  # what quitting does
    assert not (models_dir() / SMALL).exists()

    second = DownloadService(endpoint=hub_server.endpoint)  # the next start
    try:
        assert [p.key for p in second.pending()] == [key]
        again = open_window(endpoint=hub_server.endpoint, svc=second)
        row = again.downloads_view.row(key)
        assert row is not None and row.state.kind == "paused" and row.resume_button.isVisible()
        assert row.figures.text().endswith(f" of {format_bytes(small_gguf.stat().st_size)}")
        with qtbot.waitSignal(second.sig_finished, timeout=30_000):
            row.resume_button.click()
        assert [e.name for e in again.library.entries()] == [SMALL]
    finally:
        second.shutdown()


def test_discard_deletes_the_kept_bytes_paused_or_running(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], service: DownloadService,
        hub_server: HubServer, small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    win = open_window(endpoint=hub_server.endpoint)
    key = _start_download(qtbot, win, SMALL, hub_server, Fault(stall_at=100_000, stall_s=3))
    qtbot.waitUntil(lambda: _download_bytes(hub_server) >= 100_000, timeout=20_000)
    qtbot.wait(500)  # for the client to take in the bytes sent before the stall
    row = win.downloads_view.row(key)
    assert row is not None
    with qtbot.waitSignal(service.sig_failed, timeout=20_000):
        row.cancel_button.click()
    assert [p.key for p in service.pending()] == [key]
    row.discard_button.click()
    assert win.downloads_view.row(key) is None and not win.downloads_view.isVisible()
    assert service.pending() == []
    assert list((models_dir() / ".partial").glob(f"{key}.*part")) == []

    # A running download is cancelled, then discarded once it has stopped; the GUI thread
    # does not wait for it.
    hub_server.set_fault(REPO, SMALL, Fault(stall_at=100_000, stall_s=3))
    before = hub_server.bytes_served(REPO, SMALL)
    with qtbot.waitSignal(service.sig_failed, timeout=20_000) as failed:
        assert service.start(win.hub.files()[0]) == key
        qtbot.waitUntil(lambda: hub_server.bytes_served(REPO, SMALL) >= before + 100_000,
                        timeout=20_000)
        qtbot.wait(500)  # bytes received: a cancel alone would keep them
        service.discard(key)
        assert key in service.running()  # not waited for
    assert failed.args[2] is False  # nothing left to resume
    assert service.pending() == [] and service.running() == []
    assert win.downloads_view.row(key) is not None
    assert win.downloads_view.row(key).state.kind == "failed"


def test_unknown_devices_make_the_fit_unknown_with_the_reason(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], hub_server: HubServer,
        small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)

    def no_devices() -> dict[str, Any]:
        raise RuntimeError("the model process is not running")

    win = open_window(endpoint=hub_server.endpoint, devices=no_devices)
    _search(qtbot, win, "tiny", 1)
    _open_repo(qtbot, win, REPO, 2)
    qtbot.waitUntil(lambda: win.hub.fit_cell(SMALL)[0] == "Unknown", timeout=20_000)
    assert "the model process is not running" in win.hub.fit_cell(BIG)[1]
    assert win.hub.select_file(SMALL) and win.hub.download_button.isEnabled()


def test_a_damaged_download_shows_an_error_and_nothing_enters_the_library(
        qtbot: QtBot, open_window: Callable[..., ModelsWindow], service: DownloadService,
        hub_server: HubServer, small_gguf: Path, tmp_path: Path) -> None:
    _serve(hub_server, small_gguf, tmp_path)
    win = open_window(endpoint=hub_server.endpoint)
    with qtbot.waitSignal(service.sig_failed, timeout=30_000) as failed:
        key = _start_download(qtbot, win, SMALL, hub_server, Fault(flip_byte_at=1000))
    assert failed.args[0] == key and failed.args[2] is False
    row = win.downloads_view.row(key)
    assert row is not None and row.state.kind == "failed"
    assert row.error.isVisible() and "SHA-256" in row.error.text()
    assert not row.resume_button.isVisible() and row.dismiss_button.isVisible()
    assert win.library.entries() == [] and list(models_dir().glob("*.gguf")) == []
    assert service.pending() == []


# -- how it looks -----------------------------------------------------------------------------

@pytest.fixture
def themed(qapp: QApplication) -> Iterator[QApplication]:
    """The application, with its style and palettes restored after the test."""
    style = qapp.style().name()
    palette = QPalette(qapp.palette())
    tip_palette = QPalette(QToolTip.palette())
    yield qapp
    qapp.setProperty("chatapp_theme", None)
    if qapp.style().name() != style:
        qapp.setStyle(style)
    qapp.setPalette(palette)
    QToolTip.setPalette(tip_palette)


def test_screenshots_of_both_tabs_light_and_dark(
        qtbot: QtBot, themed: QApplication, open_window: Callable[..., ModelsWindow],
        service: DownloadService, hub_server: HubServer, small_gguf: Path,
        starter_model: Path, tmp_path: Path) -> None:
    """Both tabs with content, a running and an installed download, in both themes: saved
    to /tmp/models_shots for a person to look at; the test checks they were drawn."""
    _link(starter_model, models_dir() / starter_model.name)
    (models_dir() / "broken.gguf").write_bytes(b"GGUF" + b"\x00" * 10)
    mine = Path(shutil.copy(small_gguf, tmp_path / "my-own-model.gguf"))
    _serve(hub_server, small_gguf, tmp_path)
    ram = _ram_between(small_gguf)
    win = open_window(endpoint=hub_server.endpoint, devices=_cpu_devices(ram))
    win.import_files([mine])
    win.library.select_path(models_dir() / starter_model.name)
    qtbot.waitUntil(lambda: STARTER_SHA256 in win.library.details_text(), timeout=90_000)

    with qtbot.waitSignal(service.sig_finished, timeout=30_000):
        _start_download(qtbot, win, SMALL)
    # A dropped connection (which the download resumes, with a note) and then a stall keep
    # the row running, with figures and a note, while the pictures are taken.
    big_key = _start_download(qtbot, win, BIG, hub_server,
                              Fault(drop_at=[9 * 2**20], stall_at=12 * 2**20, stall_s=30))
    row = win.downloads_view.row(big_key)
    assert row is not None
    qtbot.waitUntil(lambda: row.state.done > 0 and bool(row.state.note), timeout=20_000)
    win.library.select_path(models_dir() / starter_model.name)
    win.hub.select_file(SMALL)

    SHOTS.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        apply_theme(themed, theme)
        for tab, show in (("library", win.show_library), ("hub", win.show_hub)):
            show()
            qtbot.wait(50)
            path = SHOTS / f"{tab}-{theme}.png"
            assert win.grab().save(str(path))
            assert path.stat().st_size > 10_000
    service.cancel(big_key)
