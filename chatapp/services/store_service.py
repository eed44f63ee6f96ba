"""The chat database as seen by the GUI: one worker thread owns the store.

Opening the database can take seconds (integrity check, migration, the daily backup) and a
query on a big history can take tens of milliseconds, so nothing touches SQLite on the GUI
thread.  A one-worker executor opens `ChatStore` and then runs every operation in the order
they were asked for (the store is not thread-safe, and SQLite here must keep one writer).
Results cross back to the GUI thread as plain values through a queued signal.

After a write, `sig_changed` carries a small `Changed` value so that each widget refreshes
only when the change concerns it (the way Anki's operations report what they changed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

from chatapp.storage.repository import ChatStore

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Changed:
    """What a write changed, for widgets to decide whether to refresh.

    Attributes:
        conversation_ids: the conversations whose content or fields changed.
        lists: True when the conversation listing may differ: a conversation created,
            deleted, restored, renamed, pinned, moved to a folder, or moved up by a new
            message.  A reply checkpoint changes no listing.
    """

    conversation_ids: frozenset[str] = frozenset()
    lists: bool = False

    def concerns(self, conversation_id: str | None) -> bool:
        """True if the change touches this conversation."""
        return conversation_id is not None and conversation_id in self.conversation_ids


class StoreUnavailableError(RuntimeError):
    """The chat history could not be opened, so no operation can run."""


@dataclass(frozen=True)
class _Outcome:
    """A finished operation on its way to the GUI thread."""

    on_done: Callable[[Any], None] | None
    on_error: Callable[[Exception], None] | None
    changed: Changed | None
    result: Any = None
    error: Exception | None = None


class StoreService(QObject):
    """The GUI's single owner of the chat database.

    Call `close()` before the application quits (connect it to `aboutToQuit`): it finishes
    the queued work and closes the database on the worker.

    Signals:
        sig_opened(str | None): the store is open; carries its notice for the user (a
            recovered or read-only database), or None when all went as expected.
        sig_changed(Changed): after every successful `write`, with what it changed.
        sig_error(str): a failure nobody else handled, in a sentence for the user (opening
            failed, or an operation without `on_error` raised).

    Attributes:
        notice: the store's notice once open, else None.
        read_only: True once open on a database written by a newer chatapp.
    """

    sig_opened = Signal(object)
    sig_changed = Signal(object)
    sig_error = Signal(str)
    _sig_outcome = Signal(object)
    _sig_open_outcome = Signal(object)

    def __init__(self, opener: Callable[[], ChatStore] = ChatStore.open_default,
                 parent: QObject | None = None) -> None:
        """Start the worker and open the store there (`opener` runs on the worker)."""
        super().__init__(parent)
        self.notice: str | None = None
        self.read_only = False
        self._is_open = False
        self._closed = False
        # Only the worker ever reads or writes `_store`: the executor runs one job at a time.
        self._store: ChatStore | None = None
        self._open_error: Exception | None = None
        self._sig_outcome.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._sig_open_outcome.connect(self._opened, Qt.ConnectionType.QueuedConnection)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatapp-store")
        self._executor.submit(self._open, opener)

    @property
    def is_open(self) -> bool:
        """True once `sig_opened` was emitted (and until `close`)."""
        return self._is_open and not self._closed

    def run(self, fn: Callable[[ChatStore], T], on_done: Callable[[T], None] | None = None,
            on_error: Callable[[Exception], None] | None = None) -> None:
        """Run `fn(store)` on the worker, after everything asked for before.

        `fn` should return plain values (the store's frozen dataclasses, tuples): they are
        handed to the GUI thread.  `on_done(result)` or `on_error(exception)` is called on
        the GUI thread; without `on_error`, a failure is reported by `sig_error`.  Nothing
        runs after `close()`.
        """
        self._submit(fn, on_done, on_error, None)

    def write(self, fn: Callable[[ChatStore], T], changed: Changed,
              on_done: Callable[[T], None] | None = None,
              on_error: Callable[[Exception], None] | None = None) -> None:
        """Like `run`, for a change: `fn` runs in one transaction (all of it is saved or,
        if it raises, none of it), then `sig_changed(changed)` is emitted before
        `on_done`."""
        def in_transaction(store: ChatStore) -> T:
            with store.transaction():
                return fn(store)

        self._submit(in_transaction, on_done, on_error, changed)

    def report(self, error: Exception) -> None:
        """Emit `sig_error` for a failure a caller caught (in its `on_error`) but wants the
        user to see."""
        self.sig_error.emit(self.tr("Something went wrong with the chat history: {0}")
                            .format(error))

    def close(self) -> None:
        """Finish the queued operations, close the database and stop the worker (blocks
        until done; idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._executor.submit(self._close_store)
        self._executor.shutdown(wait=True)

    # -- worker side ------------------------------------------------------------------------

    def _open(self, opener: Callable[[], ChatStore]) -> None:
        try:
            self._store = opener()
        except Exception as exc:
            log.exception("opening the chat history failed")
            self._open_error = exc
            self._post(self._sig_open_outcome, exc)
            return
        # Plain values cross to the GUI thread, never the store itself.
        self._post(self._sig_open_outcome, (self._store.notice, self._store.read_only))

    def _submit(self, fn: Callable[[ChatStore], Any], on_done: Callable[[Any], None] | None,
                on_error: Callable[[Exception], None] | None, changed: Changed | None) -> None:
        if self._closed:
            # A late timer or callback while the app quits: there is nobody left to tell.
            log.debug("store operation ignored after close: %r", fn)
            return

        def job() -> None:
            try:
                if self._store is None:
                    raise StoreUnavailableError(str(self._open_error))
                outcome = _Outcome(on_done, on_error, changed, result=fn(self._store))
            except Exception as exc:
                log.debug("store operation failed", exc_info=True)
                outcome = _Outcome(on_done, on_error, changed, error=exc)
            self._post(self._sig_outcome, outcome)

        self._executor.submit(job)

    def _close_store(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.exception("closing the chat history failed")
            self._store = None

    @staticmethod
    def _post(signal: Any, value: object) -> None:
        try:
            signal.emit(value)
        except RuntimeError:
            # The QObject is gone (deleted without close()): the result has no receiver.
            log.debug("store result dropped: the service was deleted")

    # -- GUI side ---------------------------------------------------------------------------

    @Slot(object)
    def _opened(self, outcome: object) -> None:
        if isinstance(outcome, Exception):
            self.sig_error.emit(self.tr("The chat history could not be opened: {0}")
                                .format(outcome))
            return
        assert isinstance(outcome, tuple)
        self.notice, self.read_only = outcome
        self._is_open = True
        self.sig_opened.emit(self.notice)

    @Slot(object)
    def _deliver(self, outcome: _Outcome) -> None:
        if outcome.error is not None:
            if outcome.on_error is not None:
                outcome.on_error(outcome.error)
            else:
                self.report(outcome.error)
            return
        if outcome.changed is not None:
            self.sig_changed.emit(outcome.changed)
        if outcome.on_done is not None:
            outcome.on_done(outcome.result)
