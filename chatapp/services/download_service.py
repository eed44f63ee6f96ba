"""Model downloads for the GUI: one thread per download, results as Qt signals.

`chatapp.models.download.download` is blocking and does the real work (resume, verify,
atomic promotion into the models folder).  This service runs each call on a thread of its
own with a cancel event, and relays what happens to the GUI thread through queued signals
carrying plain values.  It belongs to the main window, not to the Models window: closing
that window leaves downloads running, and `shutdown` (on quit) cancels them, which keeps
their bytes for a resume at the next start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot

from chatapp.models.hub_types import HubModelFile
from chatapp.paths import models_dir

if TYPE_CHECKING:
    from chatapp.models.download import PendingDownload, Progress

log = logging.getLogger(__name__)

#: Least time between two progress signals of one download (at most 10 per second).
PROGRESS_INTERVAL_S = 0.1
#: Where `chatapp.models.download` keeps partial downloads, inside the models folder.
PARTIAL_DIR = ".partial"


def download_key(file: HubModelFile) -> str:
    """The key `chatapp.models.download` files a download's partial record under (its own
    function: a download started here and the record it leaves are one thing).

    Imported here, not at the top: that module loads the Hub client, which the app loads
    only once the user reaches for the Hub.
    """
    from chatapp.models.download import download_key as key_of

    return key_of(file)


@dataclass
class _Job:
    """A running download: its file, thread and cancel event."""

    file: HubModelFile
    thread: threading.Thread
    cancel: threading.Event


class DownloadService(QObject):
    """Runs model downloads off the GUI thread and reports on them.

    Signals (all on the GUI thread, plain values only):
        sig_started(str key, object HubModelFile): a download started (or resumed).
        sig_progress(str key, object Progress): how far it is (at most 10 a second).
        sig_finished(str key, object Path): verified and in the models folder.
        sig_failed(str key, str message, bool resumable): it stopped; `message` says why in
            words, `resumable` that its bytes were kept (a cancel is a resumable failure).
    """

    sig_started = Signal(str, object)
    sig_progress = Signal(str, object)
    sig_finished = Signal(str, object)
    sig_failed = Signal(str, str, bool)
    # Worker threads emit these; queued connections deliver them on the GUI thread, where the
    # bookkeeping of `_jobs` happens (so it needs no lock).
    _sig_progress_w = Signal(str, object)
    _sig_finished_w = Signal(str, object)
    _sig_failed_w = Signal(str, str, bool)

    def __init__(self, parent: QObject | None = None, *, folder: Path | None = None,
                 endpoint: str | None = None, token: str | None = None) -> None:
        """Downloads go into `folder` (None: the models folder) from `endpoint` (None: the
        Hub the client is configured for, HF_ENDPOINT included)."""
        super().__init__(parent)
        self._folder = folder
        self._endpoint = endpoint
        self._token = token
        self._jobs: dict[str, _Job] = {}
        #: Running downloads to discard once they have stopped.
        self._discard_after: set[str] = set()
        self._closed = False
        queued = Qt.ConnectionType.QueuedConnection
        self._sig_progress_w.connect(self._on_progress, queued)
        self._sig_finished_w.connect(self._on_finished, queued)
        self._sig_failed_w.connect(self._on_failed, queued)

    # -- public -------------------------------------------------------------------------------

    def start(self, file: HubModelFile) -> str:
        """Start downloading `file` (or resume it from its partial record); returns its key.

        A download of the same file that is already running is not started twice.
        """
        key = download_key(file)
        if self._closed or key in self._jobs:
            return key
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(key, file, cancel),
                                  name=f"chatapp-download-{key}", daemon=True)
        self._jobs[key] = _Job(file, thread, cancel)
        thread.start()
        self.sig_started.emit(key, file)
        return key

    def cancel(self, key: str) -> None:
        """Ask a running download to stop; `sig_failed` follows, resumable when some bytes
        had arrived (they are kept for `start` to go on from)."""
        job = self._jobs.get(key)
        if job is not None:
            job.cancel.set()

    def running(self) -> list[str]:
        """Keys of the downloads running now, oldest first."""
        return list(self._jobs)

    def file_of(self, key: str) -> HubModelFile | None:
        """The file a running download fetches (None when it is not running)."""
        job = self._jobs.get(key)
        return job.file if job is not None else None

    def pending(self) -> list[PendingDownload]:
        """Partial downloads that are not running (left from an earlier run, cancelled, or
        stopped by an error that kept the bytes): `PendingDownload` values."""
        # No partial folder, nothing pending: answered without loading the download module
        # (and with it the Hub client) when the window opens.
        if not ((self._folder or models_dir()) / PARTIAL_DIR).is_dir():
            return []
        from chatapp.models.download import pending_downloads

        try:
            found = pending_downloads(self._folder)
        except OSError as exc:  # an unreadable folder has nothing to offer, not a crash
            log.warning("could not list partial downloads: %s", exc)
            return []
        return [p for p in found if p.key not in self._jobs]

    def discard(self, key: str) -> None:
        """Delete a partial download's bytes and record; a running one is cancelled, and
        discarded once it has stopped (its `sig_failed` then says it cannot resume)."""
        job = self._jobs.get(key)
        if job is not None:
            # The thread writes its record once more as it stops: discard after that, when
            # its end reaches the GUI thread, rather than wait for it here.
            self._discard_after.add(key)
            job.cancel.set()
            return
        self._discard_now(key)

    def _discard_now(self, key: str) -> None:
        from chatapp.models.download import discard_download

        try:
            discard_download(key, self._folder)
        except OSError as exc:  # a file in use (Windows): it stays pending, listed again
            log.warning("could not discard download %s: %s", key, exc)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Cancel every download and wait up to `timeout` seconds in all for them to stop.

        Their bytes stay, so the next start offers to resume them.  A thread blocked in a
        read that does not come back in time is left behind (it is a daemon thread and has
        nothing to commit but its record).
        """
        self._closed = True
        for job in self._jobs.values():
            job.cancel.set()
        deadline = time.monotonic() + timeout
        for job in list(self._jobs.values()):
            job.thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- the worker threads -------------------------------------------------------------------

    def _run(self, key: str, file: HubModelFile, cancel: threading.Event) -> None:
        from chatapp.models.download import DownloadError, download

        last_time = 0.0
        last_note: str | None = None

        def on_progress(progress: Progress) -> None:
            nonlocal last_time, last_note
            now = time.monotonic()
            # A new note or the end always gets through: they say something the numbers don't.
            if (now - last_time < PROGRESS_INTERVAL_S and progress.note == last_note
                    and progress.done < progress.total):
                return
            last_time, last_note = now, progress.note
            self._emit(self._sig_progress_w, key, progress)

        try:
            path = download(file, folder=self._folder, endpoint=self._endpoint,
                            token=self._token, on_progress=on_progress, cancel=cancel)
        except DownloadError as exc:
            self._emit(self._sig_failed_w, key, str(exc), bool(exc.resumable))
        except Exception as exc:  # a bug must end as a message on the row, not a dead thread
            log.exception("download %s failed", key)
            self._emit(self._sig_failed_w, key,
                       f"The download stopped because of an unexpected error "
                       f"({type(exc).__name__}: {exc}).", False)
        else:
            self._emit(self._sig_finished_w, key, path)

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> None:
        # RuntimeError: the service was deleted while a download ran (the app is quitting).
        with contextlib.suppress(RuntimeError):
            signal.emit(*args)

    # -- back on the GUI thread ---------------------------------------------------------------

    @Slot(str, object)
    def _on_progress(self, key: str, progress: object) -> None:
        if key in self._jobs:
            self.sig_progress.emit(key, progress)

    @Slot(str, object)
    def _on_finished(self, key: str, path: object) -> None:
        self._jobs.pop(key, None)
        self._discard_after.discard(key)  # it finished first: the model is installed
        self.sig_finished.emit(key, path)

    @Slot(str, str, bool)
    def _on_failed(self, key: str, message: str, resumable: bool) -> None:
        self._jobs.pop(key, None)
        if key in self._discard_after:
            self._discard_after.discard(key)
            self._discard_now(key)
            resumable = False  # its bytes are gone now
        self.sig_failed.emit(key, message, resumable)
