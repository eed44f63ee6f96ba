"""SHA-256 of model files, cached by (path, size, mtime) so a multi-GB file is hashed once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

_CHUNK = 4 * 1024 * 1024


def sha256_file(path: str | os.PathLike[str], cache_file: Path | None = None) -> str:
    """Hex SHA-256 of a file; reuses the cached value while size and mtime are unchanged."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    cache: dict[str, str] = {}
    if cache_file is not None:
        try:
            loaded = json.loads(cache_file.read_text("utf-8"))
            if isinstance(loaded, dict):
                cache = {str(k): str(v) for k, v in loaded.items()}
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
    digest = hashlib.sha256()
    with open(real, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if cache_file is not None:
        cache[key] = value
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(cache, indent=0), "utf-8")
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return value
