"""SHA-256 of model files, cached by (path, size, mtime) so a multi-GB file is hashed once."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path

_CHUNK = 4 * 1024 * 1024


def _key(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The file's real path and its cache key (the entry lapses when the file changes)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return real, f"{real}|{st.st_size}|{st.st_mtime_ns}"


def _read_cache(cache_file: Path) -> dict[str, str]:
    try:
        loaded = json.loads(cache_file.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _store(cache_file: Path, key: str, digest: str) -> None:
    """Add one entry to the cache file (re-read first: another writer may have added some)."""
    cache = _read_cache(cache_file)
    cache[key] = digest
    # A unique temporary name: two downloads (threads) may finish at the same time.
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(cache, indent=0), "utf-8")
        os.replace(tmp, cache_file)
    except OSError:  # a cache that cannot be written only costs time
        with contextlib.suppress(OSError):
            tmp.unlink()


def sha256_file(path: str | os.PathLike[str], cache_file: Path | None = None) -> str:
    """Hex SHA-256 of a file; reuses the cached value while size and mtime are unchanged."""
    real, key = _key(path)
    if cache_file is not None:
        cached = _read_cache(cache_file).get(key)
        if cached is not None:
            return cached
    digest = hashlib.sha256()
    with open(real, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if cache_file is not None:
        _store(cache_file, key, value)
    return value


def remember_sha256(path: str | os.PathLike[str], digest: str, cache_file: Path) -> None:
    """Record the SHA-256 of a file whose bytes were just verified, so `sha256_file` with the
    same cache finds it instead of reading the whole file again."""
    _store(cache_file, _key(path)[1], digest.lower())
