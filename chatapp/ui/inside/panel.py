"""The dockable "Inside the model" panel: how a reply was sampled, and what it attended to.

Plain values go in (token records, sampling settings, attention events) and signals come out
(branch here, capture attention, token selected); the panel never talks to the model process
or the store itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QDockWidget, QTabWidget, QWidget

from chatapp.core.sampling import SamplingSettings
from chatapp.storage.records import RecordTable
from chatapp.ui.inside.attention_view import AttentionView
from chatapp.ui.inside.sampling_view import SamplingView


class InsidePanel(QDockWidget):
    """A dock with two tabs, "Sampling" and "Attention", for one reply at a time.

    Signals:
        sig_branch_requested(str, int, int): message id, token index, and the candidate's token
            id: continue the reply from that candidate instead, as a new branch.
        sig_attention_requested(str): message id: capture attention for this reply (answer
            with `show_attention` or `show_attention_error`).
        sig_token_selected(int): the selected token of the reply changed (its index).

    Attributes:
        tabs: the tab widget.
        sampling: the "Sampling" tab.
        attention: the "Attention" tab.
    """

    sig_branch_requested = Signal(str, int, int)
    sig_attention_requested = Signal(str)
    sig_token_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty panel."""
        super().__init__(parent)
        self.setObjectName("inside-panel")
        self._message_id: str | None = None
        self.tabs = QTabWidget(self)
        self.sampling = SamplingView(self.tabs)
        self.attention = AttentionView(self.tabs)
        self.tabs.addTab(self.sampling, "")
        self.tabs.addTab(self.attention, "")
        self.setWidget(self.tabs)
        self.sampling.sig_branch_requested.connect(self.sig_branch_requested)
        self.sampling.sig_token_selected.connect(self.sig_token_selected)
        self.attention.sig_capture_requested.connect(self._on_capture_requested)
        self._retranslate()

    # --- the reply -----------------------------------------------------------------------------

    def set_reply(self, message_id: str | None,
                  records: Iterable[Mapping[str, Any]] | RecordTable,
                  settings: SamplingSettings) -> None:
        """Show a stored reply, or the start of a streaming one (``records`` empty; for a
        stored reply that has no records, call `finish` right after).  ``records``: dicts, or
        the stored reply's `RecordTable` (see `SamplingView.set_reply`)."""
        if message_id != self._message_id:
            self.attention.clear()
        self._message_id = message_id
        self.sampling.set_reply(message_id, records, settings)
        self.attention.set_can_capture(message_id is not None and not self.sampling.streaming())

    def append_record(self, record: Mapping[str, Any]) -> None:
        """One more token of the streaming reply (cheap: repaints are batched; the record is
        kept in compact form, not as the dict given)."""
        self.sampling.append_record(record)

    def finish(self) -> None:
        """The streaming reply ended."""
        self.sampling.finish()
        self.attention.set_can_capture(self._message_id is not None)

    def clear(self) -> None:
        """Show nothing (no reply)."""
        self._message_id = None
        self.sampling.clear()
        self.attention.clear()
        self.attention.set_can_capture(False)

    def message_id(self) -> str | None:
        """The reply shown."""
        return self._message_id

    def set_following(self, on: bool) -> None:
        """While following, the newest token is the selected one (the "Follow" box)."""
        self.sampling.set_following(on)

    def following(self) -> bool:
        """Whether the newest token is followed."""
        return self.sampling.following()

    # --- attention -----------------------------------------------------------------------------

    def set_remote_model(self, on: bool) -> None:
        """Whether the model in use is on a server (chatapp.engine.remote): its attention
        cannot be captured, and the Attention tab says so."""
        self.attention.set_needs_local_model(on)

    def show_attention(self, event: dict[str, Any]) -> None:
        """Show an "attention" event's capture (its NPZ is read lazily)."""
        self.attention.show_capture(event)

    def show_attention_error(self, message: str) -> None:
        """The capture failed; ``message`` says why."""
        self.attention.show_error(message)

    def _on_capture_requested(self) -> None:
        if self._message_id is None:
            return
        self.attention.set_capturing()
        self.sig_attention_requested.emit(self._message_id)

    # --- translation ---------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Inside the model"))
        self.tabs.setTabText(0, self.tr("Sampling"))
        self.tabs.setTabText(1, self.tr("Attention"))
