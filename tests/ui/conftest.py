"""Fixtures shared by the Qt tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import StoreService
from chatapp.ui.inside import InsidePanel


@pytest.fixture
def service(qtbot: QtBot) -> Iterator[StoreService]:
    svc = StoreService()
    with qtbot.waitSignal(svc.sig_opened, timeout=10_000):
        pass
    yield svc
    svc.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineService]:
    """A started model process for a window (no model loaded); overrides the root `engine`."""
    service = EngineService(log_path=tmp_path / "engine.log")
    service.start()
    yield service
    service.shutdown()


@pytest.fixture
def store(qtbot: QtBot) -> Iterator[StoreService]:
    """The chat history of this test's data folder, open."""
    service = StoreService()
    qtbot.waitUntil(lambda: service.is_open, timeout=10_000)
    yield service
    service.close()


@pytest.fixture
def panel(qtbot: QtBot) -> InsidePanel:
    """The "Inside the model" panel, shown at its usual size, empty."""
    made = InsidePanel()
    qtbot.addWidget(made)
    made.resize(520, 900)
    made.show()
    qtbot.waitExposed(made)
    return made
