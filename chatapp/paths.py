"""Where chatapp keeps its data.

The data folder is, first match wins:

1. `CHATAPP_DATA_DIR` (tests and portable installs);
2. the "data_dir" the user chose in Settings, kept in a small JSON file
   (`config_path()`: the platform's user config folder, or `CHATAPP_CONFIG_DIR`);
3. the platform's user data folder.

The choice lives in a file of its own, not in the database, because the database is *inside*
the data folder: it cannot say where itself is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

ENV_DATA_DIR = "CHATAPP_DATA_DIR"
ENV_CONFIG_DIR = "CHATAPP_CONFIG_DIR"
CONFIG_FILE = "config.json"
_KEY_DATA_DIR = "data_dir"

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """The platform's user data folder (not created; no setting or variable consulted)."""
    return Path(platformdirs.user_data_dir("chatapp", appauthor=False))


def data_dir() -> Path:
    """The data folder (created if missing).

    Raises OSError when a chosen folder cannot be created (a drive that is gone): falling
    back to another folder silently would show the user an empty history.
    """
    override = os.environ.get(ENV_DATA_DIR)
    # Only read the config file when the variable does not decide anyway.
    path = (Path(override).expanduser() if override
            else configured_data_dir() or default_data_dir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_path() -> Path:
    """The JSON file holding settings needed before the database opens (not created)."""
    override = os.environ.get(ENV_CONFIG_DIR)
    folder = Path(override).expanduser() if override else Path(
        platformdirs.user_config_dir("chatapp", appauthor=False)
    )
    return folder / CONFIG_FILE


def configured_data_dir() -> Path | None:
    """The data folder chosen in Settings, or None for the default.

    A config file that is unreadable, not JSON, or holds a bad value is ignored with a
    warning: a broken file must never stop the app from starting.
    """
    value = _read_config().get(_KEY_DATA_DIR)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        log.warning("ignoring %s in %s: not a folder name: %r", _KEY_DATA_DIR, config_path(),
                    value)
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        # A relative path would depend on the folder chatapp was started from.
        log.warning("ignoring %s in %s: not an absolute path: %r", _KEY_DATA_DIR,
                    config_path(), value)
        return None
    return path


def set_configured_data_dir(path: Path | None) -> None:
    """Choose the data folder used from the next start (None: back to the default)."""
    write_config_value(_KEY_DATA_DIR,
                       None if path is None else str(path.expanduser().absolute()))


def read_config_value(key: str) -> Any:
    """One value of the config file (None when absent, or when the file is missing or
    broken)."""
    return _read_config().get(key)


def write_config_value(key: str, value: Any) -> None:
    """Set one key of the config file (None removes it); the other keys are kept.

    The file is replaced atomically (temporary file + os.replace), so a crash mid-write leaves
    the old file, never half a file.
    """
    config = _read_config()
    if value is None:
        config.pop(key, None)
    else:
        config[key] = value
    target = config_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_config() -> dict[str, Any]:
    """The config file's object; {} when it is missing or broken (a warning says which)."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        log.warning("ignoring unreadable config file %s: %s", path, err)
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        log.warning("ignoring corrupt config file %s: %s", path, err)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring config file %s: not a JSON object", path)
        return {}
    return data


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
