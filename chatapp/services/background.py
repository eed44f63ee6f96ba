"""Slow calls (Hub searches, header reads, hashing, device queries) off the GUI thread.

`Background.submit(fn, on_done, on_error)` runs `fn` on a worker thread and calls `on_done` with
its result — or `on_error` with its exception — back on the GUI thread, through one queued
signal.  Results are plain values; the callbacks never run after `shutdown`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outcome:
    """A finished call on its way to the GUI thread."""

    on_done: Callable[[Any], None] | None
    on_error: Callable[[Exception], None] | None
    result: Any
    error: Exception | None


class Background(QObject):
    """A small pool of worker threads whose results come back on the GUI thread.

    Signals:
        _sig_outcome(_Outcome): internal; queued to the GUI thread.
    """

    _sig_outcome = Signal(object)

    def __init__(self, workers: int = 2, name: str = "chatapp-bg",
                 parent: QObject | None = None) -> None:
        """`workers` calls may run at once; later ones wait their turn."""
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._closed = False
        self._sig_outcome.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[Exception], None] | None = None) -> Future[Any] | None:
        """Run `fn()` on a worker; None once shut down."""
        if self._closed:
            return None

        def run() -> Any:
            try:
                result = fn()
            except Exception as exc:  # delivered to on_error, never lost in the pool
                self._emit(_Outcome(on_done, on_error, None, exc))
                raise
            self._emit(_Outcome(on_done, on_error, result, None))
            return result

        return self._pool.submit(run)

    def _emit(self, outcome: _Outcome) -> None:
        if not self._closed:
            # RuntimeError: the QObject is gone (the window closed mid-call).
            with contextlib.suppress(RuntimeError):
                self._sig_outcome.emit(outcome)

    @Slot(object)
    def _deliver(self, outcome: _Outcome) -> None:
        if self._closed:
            return
        if outcome.error is not None:
            if outcome.on_error is not None:
                outcome.on_error(outcome.error)
            else:
                log.warning("background call failed: %s", outcome.error)
        elif outcome.on_done is not None:
            outcome.on_done(outcome.result)

    def shutdown(self) -> None:
        """Stop delivering results; queued calls are dropped, running ones finish unseen."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
