"""Fixtures shared by the Qt tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from chatapp.services.store_service import StoreService


@pytest.fixture
def service(qtbot: QtBot) -> Iterator[StoreService]:
    svc = StoreService()
    with qtbot.waitSignal(svc.sig_opened, timeout=10_000):
        pass
    yield svc
    svc.close()
