"""The application as launched: a second launch brings the running window forward and exits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtNetwork import QLocalSocket

from chatapp.ui.single_instance import instance_key


def _listening(key: str) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(key)
    ok = socket.waitForConnected(200)
    socket.abort()
    return ok


def test_a_second_launch_brings_the_first_forward_and_exits(tmp_path: Path) -> None:
    env = dict(os.environ, CHATAPP_DATA_DIR=str(tmp_path / "data"),
               CHATAPP_CONFIG_DIR=str(tmp_path / "config"), QT_QPA_PLATFORM="offscreen")
    (tmp_path / "data").mkdir()
    key = instance_key(tmp_path / "data")
    first = subprocess.Popen([sys.executable, "-m", "chatapp"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _listening(key):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first instance never started listening"
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "chatapp"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0
        assert "already running" in second.stderr
        assert first.poll() is None  # the first one is still there
    finally:
        first.terminate()
        first.communicate(timeout=30)
