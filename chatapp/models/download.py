"""Downloads of GGUF models from the Hugging Face Hub: resumable, verified, placed atomically.

Why not `hf_hub_download`: in huggingface_hub 2.4.0 it returned a file with a flipped byte as a
success (no SHA-256 check), restarts an interrupted download from zero across calls, and only
warns about low disk space. We use the real client for URLs, headers and its HTTP session, and
do resuming, verification and promotion here.

What lives in the models folder:

- `.partial/<key>.json`: the resume record (the `HubModelFile`, bytes kept per part, created
  time); `.partial/<key>.<i>.part`: the bytes of part i; `.partial/<key>.lock`: held while a
  download of that key runs. `.partial` is on the models folder's file system, so promotion is
  an atomic rename.
- `.sources.json`: where each installed file came from.

The library lists only `*.gguf` files at the top of the models folder: a file gets there only
by `os.replace` after its size and SHA-256 were checked, so nothing partial is ever loadable.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import get_session, hf_hub_url
from huggingface_hub.errors import OfflineModeIsEnabled

# Where it is defined: `huggingface_hub.utils` re-exports it without `as`, which strict mypy
# flags (chatapp/models/hub.py imports it the same way).
from huggingface_hub.utils._headers import build_hf_headers

from chatapp.engine.hashing import remember_sha256, sha256_file
from chatapp.models.hub_types import HubFilePart, HubModelFile
from chatapp.paths import cache_dir, models_dir

log = logging.getLogger(__name__)

PARTIAL_DIR = ".partial"
SOURCES_FILE = ".sources.json"
HASH_CACHE = "sha256.json"

_RECORD_FORMAT = 1
_WRITE_CHUNK = 1 << 20
_HASH_CHUNK = 4 << 20
_SAVE_EVERY = 2.0  # seconds between fsync + record update: what a crash can cost
_PROGRESS_EVERY = 0.1
_SPEED_WINDOW = 3.0
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 5.0
_RETRY_AFTER_MAX = 60.0
# An attempt that brought this much resets the retry count: a long download over a flaky line
# may drop many times, what must stop it is a connection that no longer brings anything.
_PROGRESS_RESETS_RETRIES = 1 << 20
_KEY_RE = re.compile(r"[0-9a-f]{16}")
_SPLIT_RE = re.compile(r"^(?P<prefix>.+)(?P<marker>-\d{5}-of-\d{5})(?P<ext>\.gguf)$", re.IGNORECASE)
_NOTE_START_OVER = "The server does not support resuming; starting over."
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DownloadError(Exception):
    """A download that did not finish; `str()` is one sentence for the user.

    Attributes:
        kind: "offline", "http", "stalled", "dropped", "no_space", "disk_full", "checksum",
            "size", "cancelled", "no_hash"; also "busy" (the same file is being downloaded
            already), "io" (the models folder cannot be written) and "bad_name" (a file name
            that cannot be placed safely).
        resumable: True when the partial bytes were kept and `download` can go on later.
    """

    def __init__(self, kind: str, message: str, *, resumable: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.resumable = resumable


@dataclass(frozen=True)
class Progress:
    """Where a download stands (sent to `on_progress`, at most ~10 times a second).

    Attributes:
        done: bytes downloaded and kept, all parts together (bytes from earlier runs included).
        total: bytes of all parts (parts of unknown size count what is known so far).
        speed: bytes per second over the last ~3 s of this run (0.0 at first).
        eta: seconds left at that speed (None while the speed is unknown).
        part: the part being fetched, from 1; parts: how many there are.
        note: an event worth showing ("Connection dropped; resuming at 41.2 MB (retry 2 of
            5)."), else None.
    """

    done: int
    total: int
    speed: float
    eta: float | None
    part: int
    parts: int
    note: str | None = None


@dataclass(frozen=True)
class PendingDownload:
    """A download left unfinished by an earlier run (its bytes are kept).

    Attributes:
        key: what `discard_download` takes.
        file: what was being downloaded (`download(file)` goes on from the kept bytes).
        done: bytes kept; total: bytes in all (None when a part's size is unknown).
    """

    key: str
    file: HubModelFile
    done: int
    total: int | None


def download_key(file: HubModelFile) -> str:
    """The name of a download's files in `.partial`: the same file gets the same key."""
    text = file.repo_id + file.revision + file.name
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def download(
    file: HubModelFile,
    *,
    folder: Path | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    retries: int = 5,
    stall_timeout: float = 30.0,
    min_free_margin: int = 64 * 2**20,
) -> Path:
    """Download, verify and install a model; returns the path of its (first) file.

    Blocking: callers run it on a worker thread and stop it with `cancel`. Bytes kept by an
    earlier call for the same file are re-hashed and continued. A file already in the models
    folder with the same SHA-256 is not downloaded again.

    Args:
        file: what to download (every part needs a SHA-256).
        folder: the models folder (None: `chatapp.paths.models_dir()`).
        endpoint: the Hub's address (None: huggingface_hub's, which honours HF_ENDPOINT).
        token: a Hugging Face token for gated or private repositories (None: the stored one).
        on_progress: called on this thread, at most ~10 times a second and at each event.
        cancel: set it to stop; the bytes are kept (`DownloadError` kind "cancelled").
        retries: attempts after a dropped or stalled connection before giving up, counted
            since the last attempt that brought at least 1 MiB.
        stall_timeout: seconds without a byte after which a connection counts as dropped.
        min_free_margin: bytes that must stay free on the disk after the download.

    Raises:
        DownloadError: see its `kind`; nothing unverified is ever left in the models folder.
    """
    job = _Job(file, folder=models_dir() if folder is None else folder, endpoint=endpoint,
               token=token, on_progress=on_progress, cancel=cancel, retries=max(0, retries),
               stall_timeout=stall_timeout, min_free_margin=min_free_margin)
    return job.run()


def pending_downloads(folder: Path | None = None) -> list[PendingDownload]:
    """Downloads left unfinished (cancelled, failed, or cut by a crash), oldest first.

    Records that cannot be read are skipped with a warning (their key is the file's stem in
    `.partial`, so `discard_download` can still remove them).
    """
    partial = (models_dir() if folder is None else folder) / PARTIAL_DIR
    found: list[tuple[str, PendingDownload]] = []
    try:
        records = sorted(partial.glob("*.json"))
    except OSError:
        return []
    for path in records:
        key = path.stem
        if not _KEY_RE.fullmatch(key):
            continue
        try:
            data = json.loads(path.read_text("utf-8"))
            file = HubModelFile.from_dict(data["file"])
            recorded = [int(n) for n in data["done"]]
            created = str(data.get("created", ""))
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("ignoring unreadable download record %s: %s", path, err)
            continue
        if download_key(file) != key or len(recorded) != len(file.parts):
            log.warning("ignoring download record %s: it does not match its name", path)
            continue
        done = sum(_kept_bytes(partial / f"{key}.{i}.part", n, part.size)
                   for i, (n, part) in enumerate(zip(recorded, file.parts, strict=True)))
        found.append((created, PendingDownload(key=key, file=file, done=done, total=file.size)))
    found.sort(key=lambda item: item[0])
    return [pending for _, pending in found]


def discard_download(key: str, folder: Path | None = None) -> None:
    """Delete what an unfinished download kept (a no-op when nothing is left).

    Raises:
        ValueError: `key` is not a download key.
        DownloadError: kind "busy" when that download is running (cancel it first).
    """
    if not _KEY_RE.fullmatch(key):
        raise ValueError(f"not a download key: {key!r}")
    partial = (models_dir() if folder is None else folder) / PARTIAL_DIR
    if not partial.is_dir():
        return
    with _exclusive(partial / f"{key}.lock") as held:
        if not held:
            raise DownloadError("busy", "This download is still running; cancel it first, "
                                "then discard it.", resumable=True)
        _remove_partial(partial, key)


# --- the download itself ----------------------------------------------------------------------


class _Retryable(Exception):
    """One attempt failed in a way a later attempt may not (a drop, a stall, a busy server)."""

    def __init__(self, kind: str, note: str, *, wait: float | None = None) -> None:
        super().__init__(note)
        self.kind = kind
        self.note = note
        self.wait = wait  # the server's Retry-After, seconds


class _StartOver(Exception):
    """The server cannot continue the part where we are: fetch it again from byte 0."""


class _Job:
    """One call of `download`: its settings and the state shared by its steps."""

    def __init__(self, file: HubModelFile, *, folder: Path, endpoint: str | None,
                 token: str | None, on_progress: Callable[[Progress], None] | None,
                 cancel: threading.Event | None, retries: int, stall_timeout: float,
                 min_free_margin: int) -> None:
        self.file = file
        self.folder = folder
        self.partial = folder / PARTIAL_DIR
        self.endpoint = endpoint
        self.token = token
        self.on_progress = on_progress
        self.cancel = cancel
        self.retries = retries
        self.stall_timeout = stall_timeout
        self.min_free_margin = min_free_margin
        self.key = download_key(file)
        self.record_path = self.partial / f"{self.key}.json"
        self.hash_cache = cache_dir() / HASH_CACHE
        self.sizes: list[int | None] = [p.size for p in file.parts]
        self.done = [0] * len(file.parts)  # bytes of each part on disk and in the record
        self.created = datetime.now(UTC).isoformat(timespec="seconds")
        self.writer: _PartWriter | None = None
        self.part = 0
        self.fetched = 0  # bytes received in this call (for the speed)
        self.samples: deque[tuple[float, int]] = deque()
        self.last_emit = 0.0
        self.last_save = 0.0

    # The steps, in order.

    def run(self) -> Path:
        """Check, fetch every part, verify, promote; see `download`."""
        self._check_file()
        names, present = _choose_names(self.file, self.folder, self.hash_cache)
        if present:
            # Already installed (a finished download whose record outlived it, or the same
            # file fetched under another listing): nothing to fetch.
            if self.partial.is_dir():
                with _exclusive(self.partial / f"{self.key}.lock") as held:
                    if held:
                        _remove_partial(self.partial, self.key)
            self._remember(names)
            return names[0]
        try:
            self.partial.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _io_error(err, self.folder) from err
        with _exclusive(self.partial / f"{self.key}.lock") as held:
            if not held:
                raise DownloadError("busy", f"{self.file.name} is already being downloaded; "
                                    "wait for that download to finish.", resumable=True)
            try:
                self._load_record()
                self._check_space()
                self._save_record()
                with _Interrupter(self.cancel) as interrupter:
                    for i in range(len(self.file.parts)):
                        self._fetch_part(i, interrupter)
                return self._promote()
            except DownloadError as err:
                self._after_failure(err)
                raise

    def _check_file(self) -> None:
        """Refuse what cannot be verified or placed safely, before anything is written."""
        for part in self.file.parts:
            if not part.sha256 or not re.fullmatch(r"[0-9a-fA-F]{64}", part.sha256):
                raise DownloadError(
                    "no_hash", f"The Hub gives no SHA-256 for {part.file_name}; chatapp installs "
                    "only files it can verify.")
            name = part.file_name
            if (not name.lower().endswith(".gguf") or name.startswith(".") or "\\" in name
                    or "\0" in name or len(name.encode("utf-8")) > 200):
                raise DownloadError(
                    "bad_name", f"The file name {name!r} cannot be used in the models folder; "
                    "chatapp installs only .gguf files with plain names.")

    def _load_record(self) -> None:
        """Take over the bytes an earlier call kept, or clear what does not belong."""
        try:
            data = json.loads(self.record_path.read_text("utf-8"))
            same = (isinstance(data, dict) and data.get("format") == _RECORD_FORMAT
                    and data.get("file") == self.file.to_dict())
            recorded = [int(n) for n in data["done"]] if same else []
            if same and len(recorded) == len(self.file.parts):
                self.created = str(data.get("created", self.created))
                self.done = [_kept_bytes(self._part_path(i), n, part.size)
                             for i, (n, part) in enumerate(zip(recorded, self.file.parts,
                                                               strict=True))]
                return
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("starting %s over: unreadable record %s: %s", self.file.name,
                        self.record_path, err)
        # Part files without a matching record hold bytes nobody can vouch for.
        _remove_partial(self.partial, self.key, keep_lock=True)

    def _check_space(self) -> None:
        """Refuse before fetching a byte when the disk cannot hold the rest."""
        missing = sum(max(0, (size or 0) - done) for size, done in zip(self.sizes, self.done,
                                                                        strict=True))
        needed = missing + self.min_free_margin
        try:
            free = shutil.disk_usage(self.partial).free
        except OSError as err:
            raise _io_error(err, self.folder) from err
        if free < needed:
            raise DownloadError(
                "no_space", f"Not enough disk space: the download needs {_fmt(needed)} more "
                f"and {_fmt(free)} are free in {self.folder}.", resumable=True)

    def _fetch_part(self, i: int, interrupter: _Interrupter) -> None:
        """Bring part i to its full size, resuming after drops, then check its SHA-256."""
        self.part = i
        path = self._part_path(i)
        part = self.file.parts[i]
        try:
            writer = _PartWriter(path)
        except OSError as err:
            raise _io_error(err, self.folder) from err
        self.writer = writer
        try:
            writer.truncate(min(self.done[i], writer.size_on_disk()))
            if writer.written:
                self._emit(note="Verifying…", force=True)
                writer.rehash(self._check_cancel)
            self._emit(force=True)
            failures = 0
            while self.sizes[i] is None or writer.received < (self.sizes[i] or 0):
                self._check_cancel()
                start = writer.received
                try:
                    self._attempt(i, part, writer, interrupter)
                except _StartOver:
                    writer.truncate(0)
                    self._emit(note=_NOTE_START_OVER, force=True)
                    continue
                except _Retryable as fail:
                    self._check_cancel()  # a cancel shuts the socket: not a dropped line
                    if writer.received - start >= _PROGRESS_RESETS_RETRIES:
                        failures = 0
                    failures += 1
                    # Refused before a byte came: offline now; waiting would only delay saying so.
                    if failures > self.retries or (fail.kind == "offline" and not self.fetched):
                        raise self._gave_up(fail, failures) from fail
                    self._sync(i)
                    delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (failures - 1))
                    if fail.wait is not None:
                        delay = max(delay, min(fail.wait, _RETRY_AFTER_MAX))
                    where = (f"resuming at {_fmt(writer.received)}" if writer.received
                             else "trying again")
                    self._emit(note=f"{fail.note}; {where} (retry {failures} of "
                               f"{self.retries}).", force=True)
                    self._sleep(delay)
                    continue
                if self.sizes[i] is None:
                    self.sizes[i] = writer.received  # the server's word is all we have
                elif writer.received < (self.sizes[i] or 0):
                    got = writer.received
                    writer.discard()
                    raise DownloadError(
                        "size", f"The Hub ended {part.file_name} at {_fmt(got)} of "
                        f"{_fmt(self.sizes[i] or 0)} and said it was complete; the partial file "
                        "was deleted — try again.")
            self._sync(i)
            if writer.hasher.hexdigest() != (part.sha256 or "").lower():
                writer.discard()
                raise DownloadError(
                    "checksum", f"{part.file_name} was damaged in transit (its SHA-256 does not "
                    "match the Hub's); the partial file was deleted — try again.")
            self._emit(force=True)
        except OSError as err:
            raise self._write_error(err) from err
        finally:
            with contextlib.suppress(OSError):
                writer.sync()
            self.done[i] = writer.written
            writer.close()
            self.writer = None

    def _attempt(self, i: int, part: HubFilePart, writer: _PartWriter,
                 interrupter: _Interrupter) -> None:
        """One GET from the current offset to the end of the body (or to a failure)."""
        offset = writer.received
        url = hf_hub_url(self.file.repo_id, part.path, revision=self.file.revision,
                         endpoint=self.endpoint)
        # identity: Range offsets must count the file's bytes, not a compressed stream's.
        headers = build_hf_headers(token=self.token) | {"Range": f"bytes={offset}-",
                                                         "Accept-Encoding": "identity"}
        try:
            with get_session().stream("GET", url, headers=headers, follow_redirects=True,
                                      timeout=httpx2.Timeout(self.stall_timeout)) as response:
                start = self._body_start(response, offset, part)
                if start != offset:
                    # A 200 to a Range request: the whole file follows; take it from byte 0.
                    writer.truncate(0)
                    self._emit(note=_NOTE_START_OVER, force=True)
                if self.sizes[i] is None:
                    self.sizes[i] = _announced_size(response, start)
                expected = self.sizes[i]
                interrupter.watch(response)
                try:
                    for chunk in response.iter_raw():
                        self._check_cancel()
                        if expected is not None and writer.received + len(chunk) > expected:
                            writer.discard()
                            raise DownloadError(
                                "size", f"The Hub sent more than the {_fmt(expected)} of "
                                f"{part.file_name}; the partial file was deleted — try again.")
                        writer.accept(chunk)
                        self.fetched += len(chunk)
                        self._tick(i)
                finally:
                    interrupter.unwatch()
        except OfflineModeIsEnabled as err:
            raise DownloadError(
                "offline", "Downloads are switched off because HF_HUB_OFFLINE is set; unset it "
                "and restart chatapp to download models.", resumable=True) from err
        except (httpx2.UnsupportedProtocol, httpx2.InvalidURL) as err:
            raise DownloadError(
                "http", f"The Hub address {self.endpoint or url} is not a valid http(s) address; "
                "check the endpoint setting.", resumable=True) from err
        except httpx2.ReadTimeout as err:
            raise _Retryable("stalled", f"No data for {self.stall_timeout:g} s") from err
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.ProxyError) as err:
            raise _Retryable("offline", "Cannot reach the Hub") from err
        except httpx2.TransportError as err:
            raise _Retryable("dropped", "Connection dropped") from err

    def _body_start(self, response: httpx2.Response, offset: int, part: HubFilePart) -> int:
        """Where the body starts in the file; raises for answers that bring no usable bytes."""
        status = response.status_code
        if status == 206:
            start = _content_range_start(response.headers.get("content-range"))
            if start == offset:
                return offset
            if offset == 0:
                raise DownloadError(
                    "http", f"The Hub sent the wrong bytes of {part.file_name} (it answered a "
                    "request for the whole file with a piece of it); try again later.",
                    resumable=True)
            raise _StartOver  # never append bytes from somewhere else in the file
        if status == 200:
            return 0
        if status == 416 and offset > 0:
            raise _StartOver  # our offset is past what the server has: its file differs
        name = part.file_name
        if status in (401, 403):
            raise DownloadError(
                "http", f"The Hub refused access to {self.file.repo_id} (HTTP {status}): the "
                "model may be gated or private — accept its terms on huggingface.co and add a "
                "token, then try again.", resumable=True)
        if status == 404:
            raise DownloadError(
                "http", f"{name} is no longer on the Hub at this revision of "
                f"{self.file.repo_id} (HTTP 404); search again for a current version.",
                resumable=True)
        if status == 429:
            raise _Retryable("http", "The Hub is limiting requests (HTTP 429)",
                             wait=_retry_after(response))
        if status >= 500:
            raise _Retryable("http", f"The Hub's server failed (HTTP {status})",
                             wait=_retry_after(response))
        raise DownloadError(
            "http", f"The Hub answered HTTP {status} for {name}; try again later.",
            resumable=True)

    def _promote(self) -> Path:
        """Move the verified parts into the models folder; the first part goes last."""
        names, _ = _choose_names(self.file, self.folder, self.hash_cache)
        order = [*range(1, len(names)), 0]  # the library shows a split model by its first part
        try:
            for i in order:
                source = self._part_path(i)
                if names[i].exists():
                    source.unlink()  # the same bytes are already there (checked above)
                else:
                    os.replace(source, names[i])
            _fsync_dir(self.folder)
        except OSError as err:
            raise _io_error(err, self.folder) from err
        _remove_partial(self.partial, self.key)
        self._remember(names)
        return names[0]

    def _remember(self, names: list[Path]) -> None:
        """Seed the hash cache and record provenance; failures only cost a later re-hash."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for path, part in zip(names, self.file.parts, strict=True):
            with contextlib.suppress(OSError):
                remember_sha256(path, part.sha256 or "", self.hash_cache)
        sources_path = self.folder / SOURCES_FILE
        try:
            loaded = json.loads(sources_path.read_text("utf-8"))
            sources: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            sources = {}
        for path, part in zip(names, self.file.parts, strict=True):
            old = sources.get(path.name)
            if isinstance(old, dict) and old.get("sha256") == (part.sha256 or "").lower():
                continue  # the same bytes: keep when and where they first came from
            sources[path.name] = {"repo_id": self.file.repo_id, "revision": self.file.revision,
                                  "path": part.path, "sha256": (part.sha256 or "").lower(),
                                  "downloaded_at": now}
        try:
            _write_json(sources_path, sources)
        except OSError as err:
            log.warning("could not record where %s came from in %s: %s", names[0].name,
                        sources_path, err)

    # Helpers of the steps.

    def _part_path(self, i: int) -> Path:
        """Where part i's bytes are kept until promotion."""
        return self.partial / f"{self.key}.{i}.part"

    def _after_failure(self, err: DownloadError) -> None:
        """Keep the record when bytes are kept; forget a download that kept nothing."""
        if sum(self.done) == 0:
            with contextlib.suppress(OSError):
                _remove_partial(self.partial, self.key)
            err.resumable = False
            return
        with contextlib.suppress(OSError):
            self._save_record()

    def _check_cancel(self) -> None:
        """Raise the "cancelled" error once the event is set."""
        if self.cancel is not None and self.cancel.is_set():
            done = self._done_bytes()
            kept = f"; the {_fmt(done)} already downloaded are kept" if done else ""
            raise DownloadError("cancelled", f"The download of {self.file.name} was cancelled"
                                f"{kept}.", resumable=True)

    def _sleep(self, seconds: float) -> None:
        """Wait before a retry; a cancel ends the wait at once."""
        if self.cancel is None:
            time.sleep(seconds)
        else:
            self.cancel.wait(seconds)
            self._check_cancel()

    def _tick(self, i: int) -> None:
        """Periodic work while bytes flow: durable progress every ~2 s, a report every ~0.1 s."""
        now = time.monotonic()
        if now - self.last_save >= _SAVE_EVERY:
            self._sync(i)
        if now - self.last_emit >= _PROGRESS_EVERY:
            self._emit()

    def _sync(self, i: int) -> None:
        """Make the part's bytes durable, then say so in the record (never the other order)."""
        if self.writer is not None:
            self.writer.sync()
            self.done[i] = self.writer.written
        self._save_record()
        self.last_save = time.monotonic()

    def _save_record(self) -> None:
        """Replace the resume record (atomically: a crash leaves the old one or the new one)."""
        _write_json(self.record_path, {"format": _RECORD_FORMAT, "file": self.file.to_dict(),
                                       "done": self.done, "created": self.created})

    def _done_bytes(self, *, on_disk: bool = False) -> int:
        """Bytes of all parts: received so far, or (`on_disk`) those that reached the disk."""
        done = list(self.done)
        if self.writer is not None:
            done[self.part] = self.writer.written if on_disk else self.writer.received
        return sum(done)

    def _emit(self, note: str | None = None, *, force: bool = False) -> None:
        """Report progress (throttled unless `force`); speed over the last ~3 s of this call."""
        now = time.monotonic()
        if not force and now - self.last_emit < _PROGRESS_EVERY:
            return
        self.last_emit = now
        self.samples.append((now, self.fetched))
        while len(self.samples) > 2 and now - self.samples[1][0] >= _SPEED_WINDOW:
            self.samples.popleft()
        if self.on_progress is None:
            return
        first_t, first_n = self.samples[0]
        speed = (self.fetched - first_n) / (now - first_t) if now - first_t > 0.2 else 0.0
        done = self._done_bytes()
        total = sum(size if size is not None else n
                    for size, n in zip(self.sizes, self.done, strict=True))
        total = max(total, done)
        eta = (total - done) / speed if speed > 0 else None
        self.on_progress(Progress(done=done, total=total, speed=speed, eta=eta,
                                  part=self.part + 1, parts=len(self.file.parts), note=note))

    def _gave_up(self, fail: _Retryable, attempts: int) -> DownloadError:
        """The error after the last retry, with what is kept."""
        done = self._done_bytes()
        then = (f"{_fmt(done)} of {_fmt(sum(s or 0 for s in self.sizes))} are kept — resume "
                "the download later" if done else "try again later")
        if fail.kind == "stalled":
            message = (f"The Hub sent nothing for {self.stall_timeout:g} s, {attempts} times in "
                       f"a row; {then}.")
        elif fail.kind == "offline":
            host = urlsplit(hf_hub_url(self.file.repo_id, self.file.parts[self.part].path,
                                       endpoint=self.endpoint)).netloc
            message = (f"Cannot reach the Hub at {host}; check the internet connection, then "
                       "resume the download.")
        elif fail.kind == "http":
            message = f"{fail.note}, {attempts} times in a row; {then}."
        else:
            message = f"The connection to the Hub dropped {attempts} times in a row; {then}."
        return DownloadError(fail.kind, message, resumable=True)

    def _write_error(self, err: OSError) -> DownloadError:
        """A failed write or read of the partial files, in words."""
        if err.errno in _DISK_FULL:
            kept = (f"{_fmt(self._done_bytes(on_disk=True))} of "
                    f"{_fmt(sum(s or 0 for s in self.sizes))}")
            if err.errno == errno.EFBIG:
                return DownloadError(
                    "disk_full", f"{self.folder} cannot hold a file this large (file too large; "
                    f"FAT32 drives stop at 4 GB); {kept} are kept — move the models folder to "
                    "another drive, then resume the download.", resumable=True)
            return DownloadError(
                "disk_full", f"The disk holding {self.folder} is full; {kept} are kept — free "
                "some space, then resume the download.", resumable=True)
        return _io_error(err, self.folder)


class _PartWriter:
    """The bytes of one part on disk, with a running SHA-256 of every byte accepted.

    Unbuffered file writes from a buffer of our own: after a failed write (disk full) we know
    exactly how many bytes reached the file, and the record never claims more. The file
    position always equals `written`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        self.buffer = bytearray()
        self.written = 0  # bytes in the file
        self.received = 0  # bytes accepted: written + buffered
        self.hasher = hashlib.sha256()

    def size_on_disk(self) -> int:
        """The file's size now (bytes past the record may be there after a crash)."""
        return os.fstat(self.fd).st_size

    def truncate(self, size: int) -> None:
        """Keep the first `size` bytes (bytes past the record cannot be vouched for)."""
        self.buffer.clear()
        os.ftruncate(self.fd, size)
        os.lseek(self.fd, size, os.SEEK_SET)
        self.written = self.received = size
        self.hasher = hashlib.sha256()

    def rehash(self, check: Callable[[], None]) -> None:
        """Hash the bytes already in the file, so the final check covers all of them."""
        hasher = hashlib.sha256()
        position = 0
        os.lseek(self.fd, 0, os.SEEK_SET)
        while position < self.written:
            check()
            chunk = os.read(self.fd, min(_HASH_CHUNK, self.written - position))
            if not chunk:
                break
            hasher.update(chunk)
            position += len(chunk)
        self.truncate(position)  # in case the file shrank under us
        self.hasher = hasher

    def accept(self, data: bytes) -> None:
        """Take the next bytes of the part (hashed now, written once ~1 MiB is buffered)."""
        self.hasher.update(data)
        self.buffer += data
        self.received += len(data)
        if len(self.buffer) >= _WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the buffer; on an error, `written` still counts exactly what reached the file."""
        view = memoryview(self.buffer)
        sent = 0
        try:
            while sent < len(view):
                n = os.write(self.fd, view[sent:])
                sent += n
                self.written += n
        finally:
            view.release()
            del self.buffer[:sent]

    def sync(self) -> None:
        """Write the buffer and fsync: only then may the record claim these bytes."""
        if self.fd < 0:
            return
        self.flush()
        os.fsync(self.fd)

    def discard(self) -> None:
        """Delete the part: its bytes cannot be trusted."""
        self.close()
        self.buffer.clear()
        self.written = self.received = 0
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def close(self) -> None:
        """Close the file (again: a no-op)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Interrupter:
    """Wakes a read blocked on a silent server when the user cancels.

    httpx2 cannot abort a read from another thread; shutting the socket down can (the read
    fails at once), so a cancel does not have to wait out `stall_timeout`.
    """

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Interrupter:
        if self.cancel is not None:
            self.thread = threading.Thread(target=self._run, name="download-cancel",
                                           daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()

    def watch(self, response: httpx2.Response) -> None:
        """Shut this response's socket if a cancel comes while its body is read."""
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self.lock:
            self.sock = sock if isinstance(sock, socket.socket) else None

    def unwatch(self) -> None:
        """The body is done: its connection may go back to the pool untouched."""
        with self.lock:
            self.sock = None

    def _run(self) -> None:
        """Poll the cancel event (threading has no wait-for-either-of-two-events)."""
        assert self.cancel is not None
        while not self.stop.wait(0.1):
            if self.cancel.is_set():
                with self.lock:
                    if self.sock is not None:
                        with contextlib.suppress(OSError):
                            self.sock.shutdown(socket.SHUT_RDWR)
                return


# --- small helpers ----------------------------------------------------------------------------


def _fmt(n: int) -> str:
    """Bytes for people (decimal units, as the Hub shows sizes)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _io_error(err: OSError, folder: Path) -> DownloadError:
    """An error of the file system other than a full disk, in words."""
    reason = err.strerror or str(err)
    return DownloadError(
        "io", f"Cannot write to the models folder {folder} ({reason}); check that it exists and "
        "is writable, then try again.", resumable=True)


def _kept_bytes(path: Path, recorded: int, size: int | None) -> int:
    """Bytes of a part that may be resumed: recorded (fsynced) and still in the file."""
    try:
        on_disk = path.stat().st_size
    except OSError:
        return 0
    kept = max(0, min(recorded, on_disk))
    return 0 if size is not None and kept > size else kept


def _content_range_start(value: str | None) -> int | None:
    """The first byte of "bytes START-END/TOTAL" (None: missing or malformed)."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*", value or "")
    return int(match.group(1)) if match else None


def _announced_size(response: httpx2.Response, start: int) -> int | None:
    """The file's size as the server tells it (only used when the Hub's metadata had none)."""
    match = re.search(r"/(\d+)\s*$", response.headers.get("content-range", ""))
    if match:
        return int(match.group(1))
    length = response.headers.get("content-length", "")
    return start + int(length) if length.isdigit() else None


def _retry_after(response: httpx2.Response) -> float | None:
    """Seconds the server asks us to wait (only the delay-seconds form)."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _candidate(name: str, n: int, split: bool) -> str:
    """The n-th name tried for a file: "model.gguf", "model (2).gguf", ...

    For split models the suffix goes before the "-00001-of-00003" marker, where llama.cpp
    still finds the other parts from the first one's name.
    """
    if n == 1:
        return name
    match = _SPLIT_RE.match(name) if split else None
    if match:
        return f"{match['prefix']} ({n}){match['marker']}{match['ext']}"
    stem, dot, ext = name.rpartition(".")
    return f"{stem} ({n}).{ext}" if dot else f"{name} ({n})"


def _choose_names(file: HubModelFile, folder: Path,
                  hash_cache: Path) -> tuple[list[Path], bool]:
    """The first set of names where every taken name holds the same bytes; and whether all of
    them are taken (then the model is installed already)."""
    for n in count(1):
        names = [folder / _candidate(p.file_name, n, file.is_split) for p in file.parts]
        taken = [_same_file(path, part, hash_cache) for path, part in
                 zip(names, file.parts, strict=True)]
        if False not in taken:
            return names, all(taken)
    raise AssertionError("unreachable")


def _same_file(path: Path, part: HubFilePart, hash_cache: Path) -> bool | None:
    """None: the name is free; True: it holds this part's bytes; False: something else."""
    try:
        if not path.is_file():
            return None if not os.path.lexists(path) else False
        if part.size is not None and path.stat().st_size != part.size:
            return False
        return sha256_file(path, hash_cache) == (part.sha256 or "").lower()
    except OSError:
        return False


def _remove_partial(partial: Path, key: str, *, keep_lock: bool = False) -> None:
    """Delete a download's record and part files (and its lock file unless kept)."""
    for path in [partial / f"{key}.json", *partial.glob(f"{key}.*.part")]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if not keep_lock:
        # Windows cannot delete a file we hold open; a leftover lock file is harmless.
        with contextlib.suppress(OSError):
            (partial / f"{key}.lock").unlink()


def _write_json(path: Path, data: object) -> None:
    """Replace a JSON file atomically and durably (a crash leaves the old or the new one)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync_dir(folder: Path) -> None:
    """Make renames in `folder` durable (not possible, nor needed, on Windows)."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if missing); yields False when another
    download (thread or process) holds it. The OS drops the lock if the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            _lock_fd(fd)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _lock_fd(fd: int) -> None:
    """Lock without waiting; OSError when another holder has it."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
