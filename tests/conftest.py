"""Shared fixtures: the real starter model, an isolated data folder, one model process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

# Qt tests run without a display; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Where `chatapp models starter` put the model before the tests isolate CHATAPP_DATA_DIR.
_USER_MODELS = Path(
    os.environ.get("CHATAPP_DATA_DIR")
    or platformdirs.user_data_dir("chatapp", appauthor=False)
) / "models"


@pytest.fixture(scope="session")
def starter_model() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 file, installed (and hash-checked) if missing."""
    from chatapp.models.starter import install_starter

    return install_starter(_USER_MODELS, log=False)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data folder, and its own config folder (which can name
    another data folder: a test must never read or write the user's real one)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("CHATAPP_DATA_DIR", str(folder))
    monkeypatch.setenv("CHATAPP_CONFIG_DIR", str(tmp_path / "config"))
    return folder


@pytest.fixture(scope="module")
def engine(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A model process with the starter model loaded, shared by a test module."""
    from chatapp.engine.client import EngineClient

    log = tmp_path_factory.mktemp("engine") / "engine.log"
    client = EngineClient(log_path=log)
    client.start()
    client.load(starter_model, n_ctx=2048)
    yield client
    client.shutdown()
