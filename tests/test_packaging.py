"""The packaged app's parts: icons, the desktop entry, the install scripts, child processes of a
bundle, and `chatapp --self-test`.  (Building the whole bundle: tests/test_bundle.py.)"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chatapp import launch

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_icons_exist_at_every_standard_size(qapp: object) -> None:
    # pytest-qt's QApplication: a bare QGuiApplication made here would outlive the test, and
    # the next test's widgets abort without a QApplication.
    from PySide6.QtGui import QImage

    for size in SIZES:
        image = QImage(str(ROOT / "resources/icons/hicolor" / f"{size}x{size}/apps/chatapp.png"))
        assert not image.isNull() and (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0  # rounded corners: transparent outside
        assert image.pixelColor(size // 2, size // 2).alpha() == 255
    for name in ("chatapp.ico", "chatapp.icns"):
        assert not QImage(str(ROOT / "resources/icons" / name)).isNull()


def _desktop_file(tmp_path: Path, exe: str = "/opt/chatapp/chatapp") -> Path:
    text = (LINUX / "chatapp.desktop.in").read_text(encoding="utf-8")
    out = tmp_path / "chatapp.desktop"
    out.write_text(text.replace("@EXEC@", exe), encoding="utf-8")
    return out


def test_the_desktop_entry_is_well_formed(tmp_path: Path) -> None:
    entry = _desktop_file(tmp_path)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(entry, encoding="utf-8")
    group = parser["Desktop Entry"]
    assert group["Type"] == "Application" and group["Exec"] == "/opt/chatapp/chatapp"
    assert group["Icon"] == "chatapp" and group["Terminal"] == "false"
    assert group["StartupWMClass"] == "chatapp"  # app.py sets the desktop file name to match
    assert "Comment[zh_CN]" in group and group["Categories"].endswith(";")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (desktop-file-utils) is not installed")
def test_desktop_file_validate_accepts_the_entry(tmp_path: Path) -> None:
    done = subprocess.run(["desktop-file-validate", str(_desktop_file(tmp_path))],
                          capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _fake_bundle(tmp_path: Path) -> Path:
    """A folder laid out like dist/chatapp, with a stand-in executable."""
    bundle = tmp_path / "dist" / "chatapp"
    bundle.mkdir(parents=True)
    exe = bundle / "chatapp"
    exe.write_text("#!/bin/sh\necho chatapp-stand-in \"$@\"\n")
    exe.chmod(0o755)
    shutil.copy(LINUX / "chatapp.desktop.in", bundle)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy(LINUX / script, bundle)
    shutil.copytree(ROOT / "resources/icons/hicolor", bundle / "icons/hicolor")
    return bundle


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux installer")
def test_install_and_uninstall_for_the_current_user(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    done = subprocess.run(["sh", str(bundle / "install.sh")], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    data = home / ".local/share"
    app = data / "chatapp-app"
    entry = data / "applications/chatapp.desktop"
    assert (app / "chatapp").is_file() and entry.is_file()
    assert f"Exec={app / 'chatapp'}" in entry.read_text(encoding="utf-8")
    for size in SIZES:
        assert (data / f"icons/hicolor/{size}x{size}/apps/chatapp.png").is_file()
    command = home / ".local/bin/chatapp"
    assert command.is_symlink()
    ran = subprocess.run([str(command), "--version"], capture_output=True, text=True)
    assert ran.stdout.strip() == "chatapp-stand-in --version"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout

    # Installing again (an update) replaces the app folder; the data folder is never touched.
    (data / "chatapp").mkdir()
    (data / "chatapp/chats.db").write_text("conversations")
    again = subprocess.run(["sh", str(bundle / "install.sh")], env=env, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr

    gone = subprocess.run(["sh", str(app / "uninstall.sh")], env=env, capture_output=True,
                          text=True)
    assert gone.returncode == 0, gone.stderr
    assert not app.exists() and not entry.exists() and not command.exists()
    assert not list(data.glob("icons/hicolor/*/apps/chatapp.png"))
    assert (data / "chatapp/chats.db").read_text() == "conversations"


def test_install_refuses_to_run_outside_a_bundle(tmp_path: Path) -> None:
    lone = tmp_path / "install.sh"
    shutil.copy(LINUX / "install.sh", lone)
    done = subprocess.run(["sh", str(lone)], env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert done.returncode == 1 and "bundle folder" in done.stderr


def test_children_of_a_bundle_are_started_through_its_own_executable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert launch.module_command("chatapp.engine.worker") == [
        sys.executable, "-m", "chatapp.engine.worker"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch.module_command("chatapp.engine.worker") == [
        sys.executable, "--run-module", "chatapp.engine.worker"]
    assert not launch.run_module_if_asked(["chatapp", "--self-test"])
    with pytest.raises(SystemExit, match="chatapp's own modules only"):
        launch.run_module_if_asked(["chatapp", "--run-module", "os"])


def test_run_module_runs_a_chatapp_module_as_main(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    with pytest.raises(SystemExit) as exited:
        launch.run_module_if_asked(["chatapp", "--run-module", "chatapp", "--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("chatapp ")


def test_self_test_passes_on_this_installation(starter_model: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "chatapp", "--self-test", "--model",
                           str(starter_model)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for check in ("engine", "model", "generation", "render", "language", "database"):
        assert any(line.startswith(f"ok   {check}: ") for line in lines), done.stdout
    assert lines[-1].startswith("self-test passed: 6 checks")


def test_self_test_fails_clearly_with_a_broken_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 100)
    done = subprocess.run([sys.executable, "-m", "chatapp", "--self-test", "--model", str(bad)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 1
    assert "FAIL generation: the model process failed" in done.stdout
    assert "ok   render" in done.stdout  # the other checks still ran
    assert done.stdout.splitlines()[-1].startswith("self-test FAILED: 1 of 6 checks")
    assert "Traceback" not in done.stdout + done.stderr
