"""Fixtures for the storage tests: a store in the test's own data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatapp.storage import ChatStore


@pytest.fixture
def db_path(data_dir: Path) -> Path:
    """Where the test's database lives."""
    return data_dir / "chats.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ChatStore]:
    """A fresh store, closed after the test."""
    with ChatStore(db_path) as opened:
        yield opened
