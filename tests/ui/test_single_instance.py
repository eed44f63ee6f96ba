"""The single-instance guard: in one process, across two processes, and after a crash."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir, Qt
from PySide6.QtNetwork import QLocalServer
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from chatapp.ui.single_instance import SingleInstance, bring_to_front, instance_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def key(tmp_path: Path) -> Iterator[str]:
    """A key of its own per test (from the test's folder), so a running chatapp is not hit."""
    name = instance_key(tmp_path / "data")
    yield name
    QLocalServer.removeServer(name)  # nothing left in the temp folder whatever happened


def test_key_is_short_and_depends_on_the_folder(tmp_path: Path) -> None:
    a = instance_key(tmp_path / "a")
    assert a == instance_key(tmp_path / "x" / ".." / "a")  # the resolved folder counts
    assert a != instance_key(tmp_path / "b")
    assert a.startswith("chatapp-") and len(a) <= 24
    assert a.isascii() and a.replace("-", "").isalnum()
    # Room left under macOS's 104-byte socket path limit even with its long temp folder.
    assert len("/var/folders/xx/abcdefghijklmnopqrstuvwxyz0/T/" + a) < 104


def test_second_claim_activates_the_first(qtbot: QtBot, key: str) -> None:
    first, second = SingleInstance(key), SingleInstance(key)
    assert first.claim()
    assert first.is_listening()
    assert first.claim()  # asking again is harmless
    with qtbot.waitSignal(first.sig_activate, timeout=3000):
        started = time.monotonic()
        assert not second.claim()
    assert time.monotonic() - started < 0.9  # acknowledged, not timed out
    assert not second.is_listening()
    # Each later launch is answered, not just the first one.
    with qtbot.waitSignal(first.sig_activate, timeout=3000):
        assert not SingleInstance(key).claim()
    first.release()
    assert not first.is_listening()
    # Once the first one is gone, the next launch is first in turn.
    third = SingleInstance(key)
    assert third.claim()
    third.release()


def test_different_keys_do_not_collide(tmp_path: Path) -> None:
    a = SingleInstance(instance_key(tmp_path / "one"))
    b = SingleInstance(instance_key(tmp_path / "two"))
    try:
        assert a.claim()
        assert b.claim()
    finally:
        a.release()
        b.release()


def test_a_garbage_message_is_dropped(qtbot: QtBot, key: str) -> None:
    from PySide6.QtNetwork import QLocalSocket

    first = SingleInstance(key)
    assert first.claim()
    activations: list[None] = []
    first.sig_activate.connect(lambda: activations.append(None))
    peer = QLocalSocket()
    peer.connectToServer(key)
    qtbot.waitUntil(lambda: peer.state() == QLocalSocket.LocalSocketState.ConnectedState)
    peer.write(b"x" * 1000)
    peer.flush()
    qtbot.waitUntil(lambda: peer.state() == QLocalSocket.LocalSocketState.UnconnectedState)
    assert not activations
    first.release()


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes leave no file behind")
def test_a_stale_socket_file_does_not_block_the_start(key: str) -> None:
    # What a crashed instance leaves: a socket file at QLocalServer's path that nobody
    # listens on.
    path = os.path.join(QDir.tempPath(), key)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    assert os.path.exists(path)
    probe = QLocalServer()
    assert not probe.listen(key)  # the file alone really is in the way
    instance = SingleInstance(key)
    assert instance.claim()
    assert instance.is_listening()
    instance.release()
    assert not os.path.exists(path)


_FIRST_INSTANCE = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QCoreApplication, QTimer
    from chatapp.ui.single_instance import SingleInstance

    app = QCoreApplication([])
    guard = SingleInstance(sys.argv[1])
    print("first" if guard.claim() else "second", flush=True)

    def activated():
        print("activated", flush=True)
        app.quit()

    guard.sig_activate.connect(activated)
    QTimer.singleShot(20_000, app.quit)  # never outlive a broken test
    app.exec()
    guard.release()
""")


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's output lines, read on a thread so the test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_second_process_activates_the_first(key: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _FIRST_INSTANCE, key],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = _lines(process)
        assert lines.get(timeout=20) == "first"
        assert not SingleInstance(key).claim()
        assert lines.get(timeout=5) == "activated"
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bring_to_front_restores_a_minimized_window(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window.showMaximized()
    window.showMinimized()
    assert window.isMinimized()
    bring_to_front(window)
    assert not window.isMinimized()
    assert window.isVisible()
    assert window.windowState() & Qt.WindowState.WindowMaximized  # kept, unlike showNormal()
    hidden = QWidget()
    qtbot.addWidget(hidden)
    bring_to_front(hidden)
    assert hidden.isVisible()
