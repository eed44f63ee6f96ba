"""A Hugging Face Hub–compatible HTTP server on 127.0.0.1, for tests of the real client.

It speaks what `huggingface_hub` 2.4.0 calls (read from its source, not guessed):

- ``GET /api/models`` (``HfApi.list_models``): ``search`` (case-insensitive substring of the
  repo id), ``filter`` (repeatable; a tag every listed repo must carry), ``author``, ``sort``
  (``downloads``, ``likes``, ``lastModified``, ``createdAt``, ``trendingScore``; always
  descending, as the Hub does), ``limit`` (page size, at most 1000), ``expand`` / ``full``
  (which fields are returned; the default set has no ``lastModified`` or ``gated``, like the
  Hub), ``cursor`` pagination through a GitHub-style ``Link: <...>; rel="next"`` header;
- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``HfApi.model_info``;
  ``blobs=true`` adds ``size``, ``blobId`` and ``lfs`` to every sibling);
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` (``HfApi.list_repo_tree``, ``recursive``,
  ``expand``, paginated like the Hub);
- ``HEAD`` / ``GET /{repo}/resolve/{rev}/{path}`` (``get_hf_file_metadata``,
  ``hf_hub_download``, plain HTTP clients): ``ETag``, ``X-Repo-Commit``, ``X-Linked-Etag``,
  ``X-Linked-Size``, ``Content-Length``, ``Accept-Ranges``; ``Range: bytes=N-`` / ``N-M`` /
  ``-K`` answered with 206 and ``Content-Range``, 416 beyond the end.

Errors carry the ``X-Error-Code`` header the client maps to its exception types
(``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``).  A gated repo's
files need an ``Authorization`` header (any bearer token is accepted); its metadata is public,
as on the Hub.  Every file is stored "in LFS": its metadata always has the SHA-256 and size of
the true content, whatever a `Fault` makes the server send.  ``add_repo`` on an existing repo
makes a new commit; older commits stay resolvable by their sha.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

__all__ = ["Fault", "HubServer", "RequestRecord"]

_CHUNK = 256 * 1024
_MAX_PAGE = 1000
# Hub: directory listings with `expand=true` are paged by 50.
_MAX_TREE_EXPAND_PAGE = 50
_SORT_KEYS = {
    "downloads": "downloads", "likes": "likes", "lastModified": "last_modified",
    "createdAt": "last_modified", "trendingScore": "likes",
}
_DEFAULT_LIST_FIELDS = ("id", "likes", "trendingScore", "private", "downloads", "tags",
                        "library_name", "createdAt", "modelId")
# Hashing the 98 MB starter model once per test would dominate short tests.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


@dataclass
class Fault:
    """Misbehaviour of one file's downloads (`HubServer.set_fault`).

    Attributes:
        drop_at: absolute byte offsets: a GET response whose body reaches one closes the
            connection there (the bytes before it are sent); each offset is used once, then
            removed from this list.
        ignore_range: answer Range requests with 200 and the whole body.
        flip_byte_at: serve the byte at this offset XOR 0xFF (every time).
        serve_size: serve this many bytes of body (truncated, or padded with zeros when
            larger) while the metadata keeps the true size and hash; Content-Length (and
            Content-Range) match what is actually sent.
        stall_at: at this offset stop sending and sleep `stall_s` (once: set to None when
            used); `HubServer.stop` cuts the sleep short and closes the connection.
        stall_s: how long a stall lasts.
        status: answer every GET/HEAD of the file with this HTTP status (and a JSON error).
    """

    drop_at: list[int] = field(default_factory=list)
    ignore_range: bool = False
    flip_byte_at: int | None = None
    serve_size: int | None = None
    stall_at: int | None = None
    stall_s: float = 60.0
    status: int | None = None


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered.

    Attributes:
        method: "GET", "HEAD", ...
        path: the URL path and query, as sent.
        range: the Range header (None: none sent).
        status: the HTTP status answered.
        headers: the request's headers (names lower-cased).
    """

    method: str
    path: str
    range: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _File:
    """One file of a commit: its true content (in memory or on disk) and its LFS identity."""

    path: str
    size: int
    sha256: str
    data: bytes | None  # None: read from `disk`
    disk: Path | None

    @property
    def pointer(self) -> bytes:
        """The Git LFS pointer file the repository's Git tree holds instead of the content."""
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {self.size}\n").encode()

    @property
    def blob_id(self) -> str:
        """Git's blob id of the pointer file."""
        pointer = self.pointer
        return hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()

    def open_stream(self, start: int, end: int) -> Iterator[bytes]:
        """The true content [start, end) in chunks, beyond the true size padded with zeros."""
        pos = start
        handle = self.disk.open("rb") if self.data is None and self.disk is not None else None
        try:
            if handle is not None:
                handle.seek(min(start, self.size))
            while pos < end:
                n = min(_CHUNK, end - pos)
                if pos >= self.size:
                    chunk = bytes(n)
                elif handle is not None:
                    chunk = handle.read(min(n, self.size - pos))
                else:
                    assert self.data is not None
                    chunk = self.data[pos:pos + min(n, self.size - pos)]
                if not chunk:  # the file on disk got shorter: pad, metadata is what counts
                    chunk = bytes(n)
                yield chunk
                pos += len(chunk)
        finally:
            if handle is not None:
                handle.close()


@dataclass
class _Commit:
    """A snapshot of a repo's files."""

    sha: str
    files: dict[str, _File]


@dataclass
class _Repo:
    """A repo: its commits ("main" is `head`) and what listings show about it."""

    repo_id: str
    commits: dict[str, _Commit]
    head: str
    downloads: int
    likes: int
    last_modified: str
    gated: bool
    tags: tuple[str, ...]

    def commit(self, revision: str) -> _Commit | None:
        """The commit a revision names ("main" or a full sha)."""
        if revision == "main":
            return self.commits[self.head]
        return self.commits.get(revision)


def _sha256_of(path: Path) -> tuple[int, str]:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _HASH_LOCK:
        cached = _HASH_CACHE.get(key)
    if cached is not None:
        return st.st_size, cached
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    digest = h.hexdigest()
    with _HASH_LOCK:
        _HASH_CACHE[key] = digest
    return st.st_size, digest


def _time_key(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class _Server(ThreadingHTTPServer):
    """One thread per connection; knows its `HubServer`."""

    daemon_threads = True
    allow_reuse_address = True
    hub: HubServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; tests read `HubServer.errors` instead.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # the client went away: normal for dropped and timed-out downloads
        self.hub.errors.append("".join(traceback.format_exception(exc)))


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server: _Server
    # Idle keep-alive connections end after this (a finished test's client may keep one).
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read `HubServer.requests`."""

    def setup(self) -> None:
        super().setup()
        self.server.hub._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.hub._track(self.connection, False)

    # -- plumbing -----------------------------------------------------------------------

    def _record(self, status: int) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.hub._record(RequestRecord(self.command, self.path,
                                              self.headers.get("Range"), status, headers))

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(self, status: int, message: str, code: str | None = None,
               headers: dict[str, str] | None = None) -> None:
        extra = dict(headers or {})
        extra["X-Error-Message"] = message
        if code is not None:
            extra["X-Error-Code"] = code
        self._json(status, {"error": message}, extra)

    def _split(self) -> tuple[list[str], dict[str, list[str]]]:
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        return segments, parse_qs(parts.query, keep_blank_values=True)

    def do_HEAD(self) -> None:
        """File metadata (resolve URLs only)."""
        segments, _ = self._split()
        if len(segments) >= 3 and "resolve" in segments[1:3]:
            self._resolve(segments)
        else:
            self._error(405, "Method not allowed")

    def do_GET(self) -> None:
        """API calls and file downloads."""
        segments, query = self._split()
        api_status = self.server.hub.api_status
        if segments[:1] == ["api"] and api_status is not None:
            # 429 with the hint the Hub sends; the client reads it for its backoff.
            extra = {"Retry-After": "7"} if api_status == 429 else None
            self._error(api_status, f"Error {api_status} (injected)", headers=extra)
        elif segments[:2] == ["api", "models"]:
            if len(segments) == 2 or segments[2:] == [""]:
                self._list_models(query)
            else:
                self._repo_api(segments[2:], query)
        elif len(segments) >= 3 and "resolve" in segments[1:3]:
            self._resolve(segments)
        else:
            self._error(404, "Not found")

    # -- API ----------------------------------------------------------------------------

    def _find_repo(self, segments: list[str]) -> tuple[_Repo | None, str, list[str]]:
        """The repo named at the start of `segments`, its id, and the segments after it."""
        hub = self.server.hub
        if len(segments) >= 2 and f"{segments[0]}/{segments[1]}" in hub._repos:
            rid = f"{segments[0]}/{segments[1]}"
            return hub._repos[rid], rid, segments[2:]
        if segments and segments[0] in hub._repos:
            return hub._repos[segments[0]], segments[0], segments[1:]
        subpaths = {"resolve", "tree", "revision", "refs", "blob", "raw", "commit"}
        if len(segments) >= 2 and segments[1] not in subpaths:
            return None, f"{segments[0]}/{segments[1]}", segments[2:]
        return None, segments[0] if segments else "", segments[1:]

    def _repo_fields(self, repo: _Repo, commit: _Commit, *, blobs: bool) -> dict[str, Any]:
        siblings: list[dict[str, Any]] = []
        for f in sorted(commit.files.values(), key=lambda f: f.path):
            entry: dict[str, Any] = {"rfilename": f.path}
            if blobs:
                entry.update(size=f.size, blobId=f.blob_id,
                             lfs={"sha256": f.sha256, "size": f.size,
                                  "pointerSize": len(f.pointer)})
            siblings.append(entry)
        return {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id, "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0] if "/" in repo.repo_id else None,
            "sha": commit.sha, "lastModified": repo.last_modified,
            "createdAt": repo.last_modified, "private": False, "disabled": False,
            "gated": "manual" if repo.gated else False,
            "downloads": repo.downloads, "likes": repo.likes, "trendingScore": 0,
            "library_name": "gguf" if "gguf" in repo.tags else None,
            "tags": list(repo.tags), "siblings": siblings,
            "usedStorage": sum(f.size for f in commit.files.values()),
        }

    def _list_models(self, query: dict[str, list[str]]) -> None:
        hub = self.server.hub
        search = query.get("search", [""])[0].lower()
        filters = [t.lower() for t in query.get("filter", []) if t]
        author = query.get("author", [None])[0]
        sort = query.get("sort", [None])[0]
        if sort is not None and sort not in _SORT_KEYS:
            self._error(400, f"Invalid sort parameter: {sort}")
            return
        try:
            limit = int(query["limit"][0]) if "limit" in query else None
            cursor = int(query.get("cursor", ["0"])[0])
        except ValueError:
            self._error(400, "Invalid limit or cursor")
            return
        with hub._lock:
            repos = list(hub._repos.values())
        found = [
            r for r in repos
            if search in r.repo_id.lower()
            and all(t in {x.lower() for x in r.tags} for t in filters)
            and (author is None or r.repo_id.split("/")[0] == author)
        ]
        found.sort(key=lambda r: r.repo_id)
        if sort is not None:
            attr = _SORT_KEYS[sort]
            found.sort(key=lambda r: (_time_key(r.last_modified) if attr == "last_modified"
                                      else getattr(r, attr)), reverse=True)
        page_size = min(limit or _MAX_PAGE, hub.page_size, _MAX_PAGE)
        page = found[cursor:cursor + page_size]
        expand = query.get("expand", [])
        full = query.get("full", ["false"])[0].lower() == "true"
        items = []
        for repo in page:
            data = self._repo_fields(repo, repo.commits[repo.head], blobs=False)
            if full:
                keep = set(data)
            elif expand:
                keep = {"_id", "id", *expand}
            else:
                keep = {"_id", *_DEFAULT_LIST_FIELDS}
            items.append({k: v for k, v in data.items() if k in keep})
        headers = {}
        if cursor + page_size < len(found):
            headers["Link"] = f'<{self._next_url(query, cursor + page_size)}>; rel="next"'
        self._json(200, items, headers)

    def _next_url(self, query: dict[str, list[str]], cursor: int) -> str:
        params = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
        params.append(("cursor", str(cursor)))
        path = urlsplit(self.path).path
        return f"{self.server.hub.endpoint}{path}?{urlencode(params)}"

    def _repo_api(self, segments: list[str], query: dict[str, list[str]]) -> None:
        repo, _, rest = self._find_repo(segments)
        if repo is None:
            self._error(404, "Repository not found", "RepoNotFound")
            return
        if not rest or rest == [""]:
            revision, tree_path = "main", None
        elif rest[0] == "revision" and len(rest) == 2:
            revision, tree_path = rest[1], None
        elif rest[0] == "tree" and len(rest) >= 2:
            revision, tree_path = rest[1], "/".join(s for s in rest[2:] if s)
        else:
            self._error(404, "Not found")
            return
        commit = repo.commit(revision)
        if commit is None:
            self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return
        if tree_path is None:
            blobs = query.get("blobs", ["false"])[0].lower() == "true"
            self._json(200, self._repo_fields(repo, commit, blobs=blobs))
        else:
            self._tree(repo, commit, tree_path, query)

    def _tree(self, repo: _Repo, commit: _Commit, base: str,
              query: dict[str, list[str]]) -> None:
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        expand = query.get("expand", ["false"])[0].lower() == "true"
        prefix = f"{base}/" if base else ""
        if base and not any(p.startswith(prefix) for p in commit.files):
            self._error(404, f"{base} does not exist on {commit.sha}", "EntryNotFound",
                        {"X-Repo-Commit": commit.sha})
            return
        folders: set[str] = set()
        files: list[_File] = []
        for path, f in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix):].split("/")
            for depth in range(1, len(rel)):
                if recursive or depth == 1:
                    folders.add(prefix + "/".join(rel[:depth]))
            if recursive or len(rel) == 1:
                files.append(f)
        entries: list[dict[str, Any]] = []
        last_commit = {"id": commit.sha, "title": "Upload", "date": repo.last_modified}
        for folder in sorted(folders):
            entry: dict[str, Any] = {
                "type": "directory", "path": folder,
                "oid": hashlib.sha1(f"{commit.sha}:{folder}".encode()).hexdigest()}
            if expand:
                entry["lastCommit"] = last_commit
            entries.append(entry)
        for f in files:
            entry = {"type": "file", "path": f.path, "size": f.size, "oid": f.blob_id,
                     "lfs": {"oid": f.sha256, "size": f.size, "pointerSize": len(f.pointer)}}
            if expand:
                entry["lastCommit"] = last_commit
            entries.append(entry)
        cursor = int(query.get("cursor", ["0"])[0])
        page_size = min(self.server.hub.page_size,
                        _MAX_TREE_EXPAND_PAGE if expand else _MAX_PAGE)
        headers = {}
        if cursor + page_size < len(entries):
            headers["Link"] = f'<{self._next_url(query, cursor + page_size)}>; rel="next"'
        self._json(200, entries[cursor:cursor + page_size], headers)

    # -- files --------------------------------------------------------------------------

    def _resolve(self, segments: list[str]) -> None:
        repo, rid, rest = self._find_repo(segments)
        if repo is None:
            self._error(404, "Repository not found", "RepoNotFound")
            return
        if len(rest) < 3 or rest[0] != "resolve":
            self._error(404, "Not found")
            return
        revision, path = rest[1], "/".join(rest[2:])
        commit = repo.commit(revision)
        if commit is None:
            self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return
        if repo.gated and not self.headers.get("Authorization"):
            self._error(401, f"Access to model {rid} is restricted. You must have access to it "
                        "and be authenticated to access it. Please log in.", "GatedRepo")
            return
        f = commit.files.get(path)
        if f is None:
            self._error(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
            return
        hub = self.server.hub
        fault = hub._faults.get((rid, path))
        if fault is not None and fault.status is not None:
            self._error(fault.status, f"Error {fault.status} (injected)")
            return
        served = f.size if fault is None or fault.serve_size is None else fault.serve_size
        etag = f'"{f.sha256}"'
        headers = {
            "ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(f.size),
            "X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{f.path.rsplit("/", 1)[-1]}"',
        }
        start, end, status = 0, served, 200
        wanted = self.headers.get("Range")
        if wanted and self.command == "GET" and not (fault is not None and fault.ignore_range):
            parsed = _parse_range(wanted, served)
            if isinstance(parsed, str):  # unsatisfiable
                self._send(416, b"", {**headers, "Content-Range": f"bytes */{served}"})
                return
            if parsed is not None:
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{served}"
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "GET":
            self._stream(rid, f, fault, start, end)

    def _stream(self, rid: str, f: _File, fault: Fault | None, start: int, end: int) -> None:
        hub = self.server.hub
        stop_at = end  # where this response ends: `end`, or a drop offset
        stall: int | None = None
        if fault is not None:
            with hub._lock:
                hits = sorted(d for d in fault.drop_at if start <= d < end)
                if hits:
                    stop_at = hits[0]
                    fault.drop_at.remove(stop_at)
                if fault.stall_at is not None and start <= fault.stall_at < stop_at:
                    stall = fault.stall_at
                    fault.stall_at = None
        flip = None if fault is None else fault.flip_byte_at
        pos = start
        try:
            for chunk in f.open_stream(start, stop_at):
                if flip is not None and pos <= flip < pos + len(chunk):
                    buf = bytearray(chunk)
                    buf[flip - pos] ^= 0xFF
                    chunk = bytes(buf)
                if stall is not None and pos <= stall < pos + len(chunk):
                    head = chunk[:stall - pos]
                    self._write(rid, f.path, head)
                    pos += len(head)
                    chunk = chunk[len(head):]
                    assert fault is not None
                    if hub._stopping.wait(fault.stall_s):
                        self._abort()
                        return
                    stall = None
                self._write(rid, f.path, chunk)
                pos += len(chunk)
        except OSError:
            self.close_connection = True
            return
        if stop_at < end:
            self._abort()

    def _write(self, rid: str, path: str, data: bytes) -> None:
        if data:
            # Counted before the write: once the client has read the bytes, a test may ask
            # how many were served, and the count must not lag behind (it did, once).
            self.server.hub._count(rid, path, len(data))
            self.wfile.write(data)

    def _abort(self) -> None:
        """End the connection mid-body: the client sees fewer bytes than Content-Length."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _parse_range(value: str, size: int) -> tuple[int, int] | str | None:
    """(start, end) of a single `bytes=` range, "unsatisfiable", or None to ignore it."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return max(0, size - n), size
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    except ValueError:
        return None
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


class HubServer:
    """A Hub-compatible server on 127.0.0.1 (see the module docstring for what it speaks).

    Attributes:
        endpoint: "http://127.0.0.1:PORT" once started.
        requests: every answered request, in order.
        errors: tracebacks of unexpected exceptions in request handlers (should stay empty).
        page_size: the most items one listing page holds (lower it to test pagination).
        api_status: when set, every /api/ request is answered with this HTTP status (429
            comes with "Retry-After: 7").
    """

    def __init__(self) -> None:
        self.endpoint = ""
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []
        self.page_size = _MAX_PAGE
        self.api_status: int | None = None
        self._repos: dict[str, _Repo] = {}
        self._faults: dict[tuple[str, str], Fault] = {}
        self._served: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen on a free port; returns the endpoint."""
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.hub = self
        self._httpd = httpd
        self.endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hubserver", daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        """Stop listening, wake stalled responses and close open connections."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HubServer:
        """Start; the server is the context value."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()

    def add_repo(self, repo_id: str, files: dict[str, bytes | Path], *, downloads: int = 0,
                 likes: int = 0, last_modified: str = "2026-01-01T00:00:00.000Z",
                 gated: bool = False, tags: Sequence[str] = ("gguf",)) -> str:
        """Add a repo (or a new commit of it, which becomes "main"); returns the commit sha."""
        stored: dict[str, _File] = {}
        for path, content in files.items():
            if isinstance(content, Path):
                size, digest = _sha256_of(content)
                stored[path] = _File(path, size, digest, None, content)
            else:
                data = bytes(content)
                stored[path] = _File(path, len(data), hashlib.sha256(data).hexdigest(), data, None)
        listing = "\n".join(f"{p} {f.sha256}" for p, f in sorted(stored.items()))
        sha = hashlib.sha1(f"{repo_id}\n{listing}".encode()).hexdigest()
        with self._lock:
            old = self._repos.get(repo_id)
            commits = dict(old.commits) if old is not None else {}
            commits[sha] = _Commit(sha, stored)
            self._repos[repo_id] = _Repo(repo_id, commits, sha, downloads, likes, last_modified,
                                         gated, tuple(tags))
        return sha

    def set_fault(self, repo_id: str, path: str, fault: Fault | None) -> None:
        """Make downloads of one file misbehave (None: behave again)."""
        with self._lock:
            if fault is None:
                self._faults.pop((repo_id, path), None)
            else:
                self._faults[(repo_id, path)] = fault

    def bytes_served(self, repo_id: str, path: str) -> int:
        """Body bytes sent so far for GETs of one file (all revisions)."""
        with self._lock:
            return self._served.get((repo_id, path), 0)

    def _count(self, repo_id: str, path: str, n: int) -> None:
        with self._lock:
            self._served[(repo_id, path)] = self._served.get((repo_id, path), 0) + n

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
