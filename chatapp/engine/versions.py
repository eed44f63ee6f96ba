"""Versions of chatapp and of the inference engine it runs, for provenance and `--version`."""

from __future__ import annotations

import ctypes
import pathlib
from functools import cache

from chatapp import __version__


@cache
def engine_versions() -> dict[str, str]:
    """chatapp, llama-cpp-python, ggml version and the llama.cpp (ggml) commit it was built from.

    Importing llama_cpp loads its shared libraries (no model); callers in the GUI process should
    take these values from the model process's `ready` event instead.
    """
    import llama_cpp

    versions = {
        "chatapp": __version__,
        "llama_cpp_python": str(llama_cpp.__version__),
        "ggml": "unknown",
        "llama_cpp_commit": "unknown",
    }
    lib_dir = pathlib.Path(llama_cpp.__file__).parent / "lib"
    for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
        path = lib_dir / name
        if not path.exists():
            continue
        lib = ctypes.CDLL(str(path))
        for symbol, key in (("ggml_version", "ggml"), ("ggml_commit", "llama_cpp_commit")):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                fn.argtypes = []
                value = fn()
                if value:
                    versions[key] = value.decode("utf-8", "replace")
        break
    return versions
