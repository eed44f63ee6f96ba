"""Search the Hugging Face Hub for GGUF models and list a repository's GGUF files.

Everything goes through the real `huggingface_hub` client, imported only inside the functions:
the app must not load it (or touch the network) until the user searches.  `endpoint=None`
means the client's configured endpoint (`huggingface_hub.constants.ENDPOINT`, which honours
`HF_ENDPOINT`); `token=None` means the client's own choice (`HF_TOKEN` or a saved login).

Every network or HTTP failure becomes a `HubError` whose `str()` is one sentence a user can
act on; `to_hub_error` does the same translation for other modules (downloads).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from chatapp.models.hub_types import HubFilePart, HubModelFile, HubRepo

__all__ = [
    "ERROR_KINDS",
    "SORTS",
    "TIMEOUT_S",
    "HubError",
    "file_url",
    "list_gguf_files",
    "missing_parts",
    "quantization_from_name",
    "search_models",
    "to_hub_error",
]

SORTS: Final = ("downloads", "likes", "recent")
# What the Hub's /api/models calls each of our sort orders (it always sorts descending).
_SORT_PARAM: Final = {"downloads": "downloads", "likes": "likes", "recent": "lastModified"}
# Connect and read timeout of every request, in seconds.
TIMEOUT_S: Final = 15.0
# The Hub refuses larger pages.
_MAX_LIMIT: Final = 1000

ERROR_KINDS: Final = (
    "offline",          # no connection, or HF_HUB_OFFLINE is set
    "timeout",          # the server did not answer in time
    "not_found",        # no such repository, revision or file
    "gated",            # the repository needs accepted conditions and an access token
    "unauthorized",     # 401/403: the token is missing, wrong or lacks rights
    "rate_limited",     # 429
    "server",           # 5xx
    "http",             # any other HTTP error
    "bad_response",     # the server's answer is not what the Hub sends
    "invalid_name",     # the repository id is malformed
)


class HubError(Exception):
    """The Hub could not be asked, or refused; `str()` says what happened and what to do.

    Attributes:
        kind: one of `ERROR_KINDS`.
        status: the HTTP status, when there was an answer.
    """

    def __init__(self, message: str, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


# -- quantization names -------------------------------------------------------------------

_QUANT_BODY: Final = (
    r"IQ[1-4]_(?:XXS|XS|NL|XL|S|M)"
    r"|TQ[12]_0"
    r"|Q[2-8]_K(?:_(?:XXS|XS|XL|S|M|L))?"
    r"|Q[4-8]_[01](?:_[48]_[48])?"
    r"|MXFP4(?:_MOE)?"
    r"|BF16|FP16|FP32|F16|F32"
)
# A quantization name stands between separators (- . _) or at either end of the name.
_QUANT_RE: Final = re.compile(
    rf"(?:^|(?<=[-._]))(?P<ud>UD-)?(?P<q>{_QUANT_BODY})(?=[-._]|$)", re.IGNORECASE
)
_CANONICAL: Final = {"FP16": "F16", "FP32": "F32"}


def quantization_from_name(file_name: str) -> str | None:
    """The quantization a GGUF file name states ("Q4_K_M", "IQ2_XXS", "BF16", ...), or None.

    Case-insensitive; the name must stand between `-`, `.` or `_` (or at an end). Unsloth's
    dynamic quantizations keep their prefix ("UD-Q4_K_XL"): they differ from the plain ones.
    When several appear, the last wins (repositories put the quantization at the end).
    """
    name = file_name.rsplit("/", 1)[-1]
    name = re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    name = _SPLIT_RE.sub("", name)
    found = None
    for m in _QUANT_RE.finditer(name):
        found = m
    if found is None:
        return None
    quant = found.group("q").upper()
    quant = _CANONICAL.get(quant, quant)
    return f"UD-{quant}" if found.group("ud") else quant


# -- split files --------------------------------------------------------------------------

# llama.cpp's gguf-split names parts "<stem>-00001-of-00003.gguf".
_SPLIT_RE: Final = re.compile(r"-(\d{5})-of-(\d{5})(?=(?:\.gguf)?$)", re.IGNORECASE)
_SPLIT_NAME_RE: Final = re.compile(r"^(?P<stem>.+)-(?P<n>\d{5})-of-(?P<total>\d{5})\.gguf$",
                                   re.IGNORECASE)


def missing_parts(f: HubModelFile) -> int:
    """How many parts of a split model the repository lacks (0: complete, or not split).

    A split set is listed even when incomplete, so that users see it; it cannot be loaded.
    """
    m = _SPLIT_NAME_RE.match(f.parts[0].file_name)
    if m is None:
        return 0
    total = int(m.group("total"))
    present = set()
    for part in f.parts:
        pm = _SPLIT_NAME_RE.match(part.file_name)
        if pm is not None and 1 <= int(pm.group("n")) <= total:
            present.add(int(pm.group("n")))
    return total - len(present)


def _is_model_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    # Vision projectors and importance matrices ship beside models but are not models.
    return name.endswith(".gguf") and not name.startswith("mmproj") \
        and not name.endswith(".imatrix")


def _group_files(repo_id: str, revision: str, parts: list[HubFilePart]) -> list[HubModelFile]:
    """One HubModelFile per model: split parts grouped (in order), sorted by size."""
    groups: dict[tuple[str, str, str], list[tuple[int, HubFilePart]]] = {}
    files: list[HubModelFile] = []
    for part in parts:
        m = _SPLIT_NAME_RE.match(part.file_name)
        if m is None:
            files.append(HubModelFile(repo_id=repo_id, revision=revision, name=part.file_name,
                                      quantization=quantization_from_name(part.file_name),
                                      parts=(part,)))
            continue
        folder = part.path[: -len(part.file_name)]
        key = (folder, m.group("stem"), m.group("total"))
        groups.setdefault(key, []).append((int(m.group("n")), part))
    for (_, stem, _), members in groups.items():
        members.sort(key=lambda item: (item[0], item[1].path))
        name = f"{stem}.gguf"
        files.append(HubModelFile(repo_id=repo_id, revision=revision, name=name,
                                  quantization=quantization_from_name(name),
                                  parts=tuple(p for _, p in members)))
    # Unknown sizes last; ties by name, so the order is stable.
    files.sort(key=lambda f: (f.size is None, f.size or 0, f.name, f.parts[0].path))
    return files


# -- errors -------------------------------------------------------------------------------

def _host(endpoint: str | None) -> str:
    if endpoint is None:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    return urlsplit(endpoint).netloc or endpoint


def to_hub_error(exc: BaseException, *, endpoint: str | None = None,
                 repo_id: str | None = None, revision: str | None = None,
                 path: str | None = None) -> HubError:
    """Translate an exception from `huggingface_hub` or `httpx2` into a `HubError`.

    The context (`repo_id`, `revision`, `path`) only makes the message precise.  Anything that
    is not a network or HTTP error (a JSON or shape error in an answer, say) becomes
    "bad_response".
    """
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, HubError):
        return exc
    host = _host(endpoint)
    repo = f'Repository "{repo_id}"' if repo_id else "The repository"
    status = _status(exc)
    if isinstance(exc, OfflineModeIsEnabled):
        return HubError("Hugging Face Hub access is switched off (HF_HUB_OFFLINE is set): "
                        "unset it to search and download models.", "offline")
    if isinstance(exc, httpx2.TimeoutException):
        return HubError(f"{host} did not answer within {TIMEOUT_S:.0f} seconds: check your "
                        "connection and try again.", "timeout")
    if isinstance(exc, httpx2.ConnectError | httpx2.ProxyError):
        return HubError(f"Could not connect to {host}: check your internet connection "
                        "(and proxy settings) and try again.", "offline")
    if isinstance(exc, httpx2.TransportError):
        return HubError(f"The connection to {host} broke off: check your internet connection "
                        "and try again.", "offline")
    if isinstance(exc, GatedRepoError):
        return HubError(f"{repo} is gated: accept its conditions on huggingface.co, then set "
                        "an access token to download it.", "gated", status)
    if isinstance(exc, RevisionNotFoundError):
        rev = f' "{revision}"' if revision else ""
        return HubError(f"Revision{rev} of {_lower(repo)} is no longer on the Hub: list its "
                        "files again.", "not_found", status)
    if isinstance(exc, RemoteEntryNotFoundError):
        what = f'File "{path}"' if path else "This file"
        return HubError(f"{what} is no longer in {_lower(repo)}: list its files again.",
                        "not_found", status)
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(f"{repo} was not found on the Hub: check its name (private "
                        "repositories also need an access token).", "not_found", status)
    if isinstance(exc, HfHubHTTPError | httpx2.HTTPStatusError):
        return _from_status(status, host, repo, path, exc)
    if isinstance(exc, HFValidationError):
        shown = f'"{repo_id}"' if repo_id else "This name"
        return HubError(f"{shown} is not a valid repository name: use the form owner/name.",
                        "invalid_name")
    return HubError(f"{host} did not answer like the Hugging Face Hub: check the address "
                    "(HF_ENDPOINT) and try again later.", "bad_response")


def _lower(repo: str) -> str:
    return repo[0].lower() + repo[1:]


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _from_status(status: int | None, host: str, repo: str, path: str | None,
                 exc: BaseException) -> HubError:
    if status in (401, 403):
        return HubError(f"The Hub refused access to {_lower(repo)} (HTTP {status}): check "
                        "your access token, and that you accepted the repository's "
                        "conditions.", "unauthorized", status)
    if status == 404:
        what = f'File "{path}" of {_lower(repo)}' if path else repo
        return HubError(f"{what} was not found on the Hub: check the name, or list the "
                        "repository's files again.", "not_found", status)
    if status == 429:
        wait = _retry_after(exc)
        when = f"wait {wait} seconds" if wait is not None else "wait a few minutes"
        return HubError(f"The Hub is limiting requests (HTTP 429): {when} and try again.",
                        "rate_limited", status)
    if status is not None and status >= 500:
        return HubError(f"{host} had a server error (HTTP {status}): try again later.",
                        "server", status)
    shown = f"HTTP {status}" if status is not None else "an error"
    return HubError(f"{host} answered with {shown}: try again later.", "http", status)


def _retry_after(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = str(headers.get("Retry-After", "")).strip()
    if value.isdigit():
        return int(value)
    m = re.search(r"t\s*=\s*(\d+)", str(headers.get("RateLimit", "")))
    return int(m.group(1)) if m else None


def _failures() -> tuple[type[BaseException], ...]:
    """What a Hub call can raise that is the network's or the server's fault, not ours.

    Used as `except _failures()`: the tuple is built only when something was raised, so
    importing this module does not import the client.
    """
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    # ValueError covers JSON that does not parse; KeyError/TypeError, answers of the wrong shape.
    return (httpx2.HTTPError, HfHubHTTPError, HFValidationError, OfflineModeIsEnabled,
            KeyError, TypeError, ValueError)


# -- the calls ----------------------------------------------------------------------------

def search_models(query: str, *, sort: str = "downloads", limit: int = 50,
                  endpoint: str | None = None, token: str | None = None) -> list[HubRepo]:
    """GGUF repositories whose id contains `query`, best first by `sort` (one of `SORTS`).

    `limit` is capped at 1000 (the Hub's largest page).  Raises HubError.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # build_hf_headers is public (documented), but `huggingface_hub.utils` re-exports it
    # only implicitly, which strict mypy rejects: import it from where it is defined.
    from huggingface_hub import constants, get_session, hf_raise_for_status
    from huggingface_hub.utils._headers import build_hf_headers

    base = (endpoint or constants.ENDPOINT).rstrip("/")
    params: list[tuple[str, str | int | float | bool | None]] = [("filter", "gguf")]
    if query.strip():
        params.append(("search", query.strip()))
    params += [("sort", _SORT_PARAM[sort]), ("limit", min(limit, _MAX_LIMIT))]
    # The Hub's default listing has no lastModified or gated: ask for exactly what we show.
    params += [("expand", e) for e in ("downloads", "likes", "lastModified", "gated")]
    # One page, one request, with a timeout: `HfApi.list_models` sends these same parameters
    # but has no timeout and retries for ~25 s on connection errors and 5xx, which would
    # leave a user watching a search that cannot succeed.
    try:
        response = get_session().get(f"{base}/api/models", params=params, timeout=TIMEOUT_S,
                                     headers=build_hf_headers(token=token))
        hf_raise_for_status(response)
        items = response.json()
        if not isinstance(items, list):
            raise TypeError("the model list is not a JSON array")
        return [_repo(item) for item in items[:limit]]
    except _failures() as exc:
        raise to_hub_error(exc, endpoint=base) from exc


def _repo(item: object) -> HubRepo:
    """One entry of /api/models; TypeError when it is not shaped like the Hub's."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise TypeError("a model entry has no id")

    def count(key: str) -> int | None:
        value = item.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    last = item.get("lastModified")
    gated = item.get("gated")
    return HubRepo(repo_id=item["id"], downloads=count("downloads"), likes=count("likes"),
                   last_modified=last if isinstance(last, str) else None,
                   # False, or "auto"/"manual": how access requests are approved.
                   gated=gated not in (None, False, "false"))


def list_gguf_files(repo_id: str, *, revision: str | None = None, endpoint: str | None = None,
                    token: str | None = None) -> list[HubModelFile]:
    """Every model (*.gguf, any folder; not mmproj/imatrix) in a repository, smallest first.

    Sizes and SHA-256 come from the Hub's LFS metadata; every file is pinned to the commit
    the listing came from, so downloads read exactly these bytes.  Raises HubError.
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True,
                              timeout=TIMEOUT_S)
    except _failures() as exc:
        raise to_hub_error(exc, endpoint=api.endpoint, repo_id=repo_id,
                           revision=revision) from exc
    commit = info.sha
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise to_hub_error(ValueError("no commit sha"), endpoint=api.endpoint)
    parts: list[HubFilePart] = []
    for sibling in info.siblings or []:
        if not _is_model_file(sibling.rfilename):
            continue
        lfs = sibling.lfs
        size = sibling.size if sibling.size is not None else (lfs.size if lfs else None)
        parts.append(HubFilePart(path=sibling.rfilename, size=size,
                                 sha256=lfs.sha256 if lfs is not None else None))
    return _group_files(str(info.id or repo_id), commit, parts)


def file_url(file: HubModelFile, part: HubFilePart, *, endpoint: str | None = None) -> str:
    """The download ("resolve") URL of one part, pinned to the listing's commit."""
    if part not in file.parts:
        raise ValueError(f"{part.path} is not a part of {file.name}")
    from huggingface_hub import hf_hub_url

    return hf_hub_url(file.repo_id, part.path, revision=file.revision, endpoint=endpoint)
