"""Where chatapp keeps its data: `CHATAPP_DATA_DIR`, else the platform's user data folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA_DIR = "CHATAPP_DATA_DIR"


def data_dir() -> Path:
    """The data folder (created if missing)."""
    override = os.environ.get(ENV_DATA_DIR)
    path = Path(override).expanduser() if override else Path(
        platformdirs.user_data_dir("chatapp", appauthor=False)
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Where model files live."""
    return _sub("models")


def cache_dir() -> Path:
    """Recomputable data (file hashes)."""
    return _sub("cache")


def logs_dir() -> Path:
    """Logs of the model process."""
    return _sub("logs")


def _sub(name: str) -> Path:
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
