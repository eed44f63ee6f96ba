"""Read a model's header from the Hub without downloading the model.

"Will it fit?" depends on more than the file size: the KV cache grows with the context length,
the number of layers and the key/value heads, and those are in the GGUF header.  The header
sits at the start of the file (a few megabytes, mostly the vocabulary), so a Range request for
the first megabytes gives it; the same bounded pre-flight parser that guards local files reads
it, told the real file size so tensor bounds are still checked.

Every quantization of one model has the same shape, so the header of one file (the smallest)
serves the estimates of all files in a repository (`shape_for`).
"""

from __future__ import annotations

import os
import tempfile
import threading

from chatapp.engine.gguf_preflight import GGUFInfo, GGUFPreflightError, inspect_gguf
from chatapp.models.fit import ModelShape
from chatapp.models.hub import HubError, file_url, to_hub_error
from chatapp.models.hub_types import HubModelFile

FIRST_BYTES = 2 * 2**20
MAX_BYTES = 64 * 2**20


def _fetch_prefix(url: str, n: int, token: str | None, cancel: threading.Event | None, *,
                  endpoint: str | None, path: str) -> bytes:
    """The first `n` bytes at `url` (fewer if the file is shorter).  A server that ignores the
    Range header sends the whole file: reading stops after `n` bytes all the same."""
    import httpx2
    from huggingface_hub import get_session, hf_raise_for_status
    from huggingface_hub.utils._headers import build_hf_headers

    headers = build_hf_headers(token=token) | {"Range": f"bytes=0-{n - 1}"}
    chunks: list[bytes] = []
    got = 0
    try:
        with get_session().stream("GET", url, headers=headers, follow_redirects=True,
                                  timeout=httpx2.Timeout(15.0)) as response:
            if response.status_code >= 400:
                response.read()  # the error's explanation is in the body
                hf_raise_for_status(response)
            for chunk in response.iter_bytes():
                if cancel is not None and cancel.is_set():
                    break
                chunks.append(chunk)
                got += len(chunk)
                if got >= n:
                    break
    except HubError:
        raise
    except Exception as exc:  # every client and network error, in the Hub module's words
        raise to_hub_error(exc, endpoint=endpoint, path=path) from None
    return b"".join(chunks)[:n]


def fetch_header(file: HubModelFile, *, endpoint: str | None = None, token: str | None = None,
                 cancel: threading.Event | None = None) -> GGUFInfo:
    """The pre-flight facts of `file`'s first part, read from the first megabytes on the Hub.

    Raises HubError (network) or GGUFPreflightError (the header is not a usable GGUF header,
    or is larger than MAX_BYTES).
    """
    part = file.parts[0]
    url = file_url(file, part, endpoint=endpoint)
    n = FIRST_BYTES
    while True:
        data = _fetch_prefix(url, n, token, cancel, endpoint=endpoint, path=part.path)
        fd, tmp = tempfile.mkstemp(prefix="chatapp-header-", suffix=".gguf")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                return inspect_gguf(tmp, declared_size=part.size)
            except GGUFPreflightError as exc:
                complete = part.size is not None and len(data) >= part.size
                if not getattr(exc, "needs_more", False) or complete or n >= MAX_BYTES:
                    raise
        finally:
            os.unlink(tmp)
        n *= 4


def shape_for(file: HubModelFile, header: GGUFInfo) -> ModelShape:
    """The memory shape of `file`, from the header of any file of the same model.

    The layers and key/value dimensions come from the header; the weights from `file`'s own
    size (a different quantization of the same model stores the same tensors in more or
    fewer bytes).
    """
    return ModelShape.from_info(header, total_file_bytes=file.size)
