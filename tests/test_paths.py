"""The data folder: environment variable, then the config file, then the platform default."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import platformdirs
import pytest

from chatapp import paths


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The isolated config folder tests/conftest.py sets up."""
    folder = Path(os.environ[paths.ENV_CONFIG_DIR])
    assert folder.is_relative_to(tmp_path)  # never the user's real config
    return folder


def test_config_path_follows_the_variable(monkeypatch: pytest.MonkeyPatch,
                                          config_dir: Path) -> None:
    assert paths.config_path() == config_dir / "config.json"
    monkeypatch.delenv(paths.ENV_CONFIG_DIR)
    assert paths.config_path() == Path(
        platformdirs.user_config_dir("chatapp", appauthor=False)) / "config.json"


def test_precedence_env_then_config_then_default(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path, data_dir: Path) -> None:
    assert paths.configured_data_dir() is None
    assert paths.data_dir() == data_dir and data_dir.is_dir()  # the variable wins

    chosen = tmp_path / "chosen"
    paths.set_configured_data_dir(chosen)
    assert paths.configured_data_dir() == chosen
    assert paths.data_dir() == data_dir  # still the variable

    monkeypatch.delenv(paths.ENV_DATA_DIR)
    assert paths.data_dir() == chosen and chosen.is_dir()
    assert paths.models_dir() == chosen / "models"

    default = tmp_path / "platform-default"
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(default))
    paths.set_configured_data_dir(None)
    assert paths.configured_data_dir() is None
    assert paths.data_dir() == default == paths.default_data_dir()


def test_writes_are_atomic_and_keep_other_keys(config_dir: Path, tmp_path: Path) -> None:
    config_dir.mkdir(parents=True)
    paths.config_path().write_text(json.dumps({"window": {"w": 800}}), encoding="utf-8")
    paths.set_configured_data_dir(tmp_path / "x")
    assert json.loads(paths.config_path().read_text("utf-8")) == {
        "window": {"w": 800}, "data_dir": str(tmp_path / "x")}
    paths.set_configured_data_dir(None)
    assert json.loads(paths.config_path().read_text("utf-8")) == {"window": {"w": 800}}
    assert sorted(p.name for p in config_dir.iterdir()) == ["config.json"]  # no temp left


def test_a_failed_write_leaves_the_old_file(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path, config_dir: Path) -> None:
    paths.set_configured_data_dir(tmp_path / "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        paths.set_configured_data_dir(tmp_path / "new")
    assert paths.configured_data_dir() == tmp_path / "old"
    assert sorted(p.name for p in config_dir.iterdir()) == ["config.json"]


def test_a_relative_choice_is_stored_absolute(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    paths.set_configured_data_dir(Path("rel"))
    assert paths.configured_data_dir() == tmp_path / "rel"


@pytest.mark.parametrize("content", [
    b"{not json", b"[1, 2]", b'"text"', b'{"data_dir": 5}', b'{"data_dir": ""}',
    b'{"data_dir": "relative/path"}', b"\xff\xfe\x00garbage", b"[" * 100_000,
])
def test_a_broken_config_is_ignored_with_a_warning(
        content: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    config_dir.mkdir(parents=True)
    paths.config_path().write_bytes(content)
    default = tmp_path / "platform-default"
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(default))
    monkeypatch.delenv(paths.ENV_DATA_DIR)
    with caplog.at_level(logging.WARNING, logger="chatapp.paths"):
        assert paths.configured_data_dir() is None
        assert paths.data_dir() == default
    assert "ignoring" in caplog.text
    # Choosing a folder again repairs the file.
    paths.set_configured_data_dir(tmp_path / "fixed")
    assert paths.configured_data_dir() == tmp_path / "fixed"


def test_a_missing_config_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chatapp.paths"):
        assert paths.configured_data_dir() is None
    assert not caplog.records
