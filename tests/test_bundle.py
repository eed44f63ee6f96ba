"""The packaged app, built for real: `packaging/build.py` makes the bundle with PyInstaller and
runs the bundle's self-test with no Python on PATH and a fresh HOME (about a minute here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux bundle")
@pytest.mark.timeout(1200)
def test_the_bundle_builds_and_passes_its_self_test_without_python(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--dist",
                           str(dist)], capture_output=True, text=True, timeout=1200,
                          env=dict(os.environ))
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    out = done.stdout
    assert "bundle self-test passed" in out, out[-3000:]
    # The self-test ran as a new user: the starter model came from the bundle's own copy.
    assert "ok   model: " in out and "chatapp-bundle-home-" in out
    assert "ok   generation: SmolLM2-135M-Instruct.Q4_1.gguf" in out
    bundle = dist / "chatapp"
    assert (bundle / "chatapp").is_file() and os.access(bundle / "chatapp", os.X_OK)
    libs = {p.name for p in (bundle / "_internal" / "llama_cpp" / "lib").iterdir()}
    assert {"libllama.so.0", "libggml.so.0", "libggml-base.so.0"} <= libs
    for name in ("install.sh", "uninstall.sh", "chatapp.desktop.in",
                 "icons/hicolor/512x512/apps/chatapp.png"):
        assert (bundle / name).is_file(), name
    print(next(line for line in out.splitlines() if line.startswith("bundle: ")))
