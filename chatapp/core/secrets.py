"""API keys of model servers: in the system keyring when there is one, else in a private file.

No Qt here.  A key is filed under its server's base URL (normalised: scheme and host in lower
case, no trailing slash, no final "/v1", no credentials), so "http://Host:8080/" and
"http://host:8080/v1" share one key.

Where a key goes: the system keyring (the `keyring` package: macOS Keychain, Windows Credential
Locker, the Secret Service of GNOME/KDE ...) when it has a usable backend, under the service
name "chatapp"; else — or when the keyring fails — `secrets.json` beside the config file
(`chatapp.paths.config_path().parent`), written atomically (a temporary file, then a rename)
with mode 0600, and refused when read if other users could read it (POSIX).  `store_api_key`
says which happened.  Keys are never logged, and the config file never holds one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from chatapp.paths import config_path

log = logging.getLogger(__name__)

#: The keyring's service name for chatapp's keys.
SERVICE = "chatapp"
#: Name of the fallback file (beside the config file).
FILE_NAME = "secrets.json"
_FORMAT = 1


class SecretsError(Exception):
    """A key could not be stored or read; `str()` says what to do."""


@dataclass(frozen=True)
class StoredKey:
    """Where `store_api_key` put a key.

    Attributes:
        kind: "keyring" (the system keyring) or "file" (the private file).
        where: the keyring backend's name, or the file's path.
        keyring_problem: why the keyring was not used, when it exists but failed (None
            otherwise).
    """

    kind: Literal["keyring", "file"]
    where: str
    keyring_problem: str | None = None

    @property
    def message(self) -> str:
        """One sentence saying where the key went."""
        if self.kind == "keyring":
            return f"The API key was saved in the system keyring ({self.where})."
        if self.keyring_problem:
            return (f"The system keyring failed ({self.keyring_problem}), so the API key was "
                    f"saved in {self.where}, readable only by you.")
        return (f"No system keyring is available, so the API key was saved in {self.where}, "
                "readable only by you.")


def key_name(base_url: str) -> str:
    """The name a server's key is filed under (see the module docstring)."""
    text = base_url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:  # "http://[::1" and the like: filed under the text itself
        return text.rstrip("/")
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme.lower()}://{host}{f':{port}' if port else ''}{path}"


def secrets_path() -> Path:
    """The fallback file's path (it may not exist)."""
    return config_path().parent / FILE_NAME


def store_api_key(base_url: str, key: str) -> StoredKey:
    """Keep `key` for the server at `base_url` (replacing any earlier one); says where it went.
    Raises SecretsError when neither the keyring nor the file can take it."""
    if not key:
        raise SecretsError("An empty API key cannot be saved: type the key, or forget it.")
    name = key_name(base_url)
    backend = _keyring()
    problem: str | None = None
    if backend is not None:
        try:
            backend.set_password(SERVICE, name, key)
        except Exception as exc:  # every backend has its own errors (locked, D-Bus gone ...)
            problem = _reason(exc)
            log.warning("the system keyring could not store a key: %s", problem)
        else:
            # An older copy in the file would be found after the keyring's: remove it.
            _file_remove(name)
            return StoredKey("keyring", _backend_name(backend))
    keys = _read_file(strict=False)
    keys[name] = key
    _write_file(keys)
    return StoredKey("file", str(secrets_path()), problem)


def load_api_key(base_url: str) -> str | None:
    """The key kept for the server at `base_url`, None when there is none.  Raises
    SecretsError when the file holding keys is readable by other users."""
    name = key_name(base_url)
    backend = _keyring()
    if backend is not None:
        try:
            found = backend.get_password(SERVICE, name)
        except Exception as exc:
            log.warning("the system keyring could not be read: %s", _reason(exc))
        else:
            if found:
                return str(found)
    return _read_file(strict=True).get(name)


def forget_api_key(base_url: str) -> None:
    """Remove the key of the server at `base_url` from the keyring and the file (no error when
    there is none)."""
    name = key_name(base_url)
    backend = _keyring()
    if backend is not None:
        with contextlib.suppress(Exception):  # not there, or no keyring after all
            backend.delete_password(SERVICE, name)
    _file_remove(name)


# -- the keyring ------------------------------------------------------------------------------


def _keyring() -> Any | None:
    """The keyring backend when it is a usable one; None without the package, with the
    "fail" or "null" backend, or a chainer of no backends."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        log.warning("no system keyring: %s", _reason(exc))
        return None
    if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith(".null"):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def _backend_name(backend: Any) -> str:
    name = getattr(backend, "name", None)
    return name if isinstance(name, str) and name else type(backend).__name__


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- the file ---------------------------------------------------------------------------------


def _read_file(*, strict: bool) -> dict[str, str]:
    """The file's keys ({} when it is missing).  `strict`: refuse a file other users could
    read (loading a key); not strict: read it anyway (it is about to be rewritten private)."""
    path = secrets_path()
    try:
        with open(path, "rb") as f:
            if strict:
                _check_private(path, os.fstat(f.fileno()))
            data = f.read(1024 * 1024)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SecretsError(f"The API key file {path} could not be read "
                           f"({exc.strerror or exc}): check its permissions.") from None
    try:
        parsed = json.loads(data)
    except ValueError:
        if strict:
            raise SecretsError(f"The API key file {path} is damaged: forget the key and "
                               "enter it again.") from None
        return {}
    keys = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(keys, dict):
        return {}
    return {str(k): v for k, v in keys.items() if isinstance(v, str)}


def _check_private(path: Path, st: os.stat_result) -> None:
    if os.name == "nt":
        return  # mode bits mean nothing there; the profile folder is private by default
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"The API key file {path} can be read by other users (mode "
            f"{stat.S_IMODE(st.st_mode):04o}): make it private with “chmod 600 {path}”, or "
            "forget the key and enter it again.")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise SecretsError(f"The API key file {path} belongs to another user: remove it and "
                           "enter the key again.")


def _write_file(keys: dict[str, str]) -> None:
    """Replace the file atomically with `keys` (an empty dict removes it); mode 0600."""
    path = secrets_path()
    if not keys:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file 0600 from the start: the key is never readable by others,
        # not even for the moment before a chmod.
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SecretsError(f"The API key could not be saved in {path.parent} "
                           f"({exc.strerror or exc}): check that the folder is "
                           "writable.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if os.name != "nt":
                os.fchmod(f.fileno(), 0o600)
                _check_private(path, os.fstat(f.fileno()))
            json.dump({"format": _FORMAT, "keys": keys}, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SecretsError(f"The API key could not be saved in {path} "
                           f"({exc.strerror or exc}): check that the folder is "
                           "writable.") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _file_remove(name: str) -> None:
    keys = _read_file(strict=False)
    if name in keys:
        del keys[name]
        _write_file(keys)
