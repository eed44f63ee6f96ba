"""The downloads strip under the Models window's tabs: one row per download.

A row is running (progress, speed, time left, Cancel), paused (its bytes kept: Resume or
Discard, with the reason it stopped when it was not the user), failed for good (the reason,
Dismiss), or installed (Load).  Rows come from the `DownloadService`, which outlives the
window: opening the window again shows the downloads that ran meanwhile and the partial
downloads left from an earlier run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from chatapp.models.hub_types import HubModelFile
from chatapp.services.download_service import DownloadService
from chatapp.ui.models.common import note_label, one_line, plain, size_text, speed_text

if TYPE_CHECKING:
    from chatapp.models.download import Progress

#: Rows shown before the strip scrolls (the tabs above keep most of the window).
VISIBLE_ROWS = 3


@dataclass
class _RowState:
    """What a row shows, as data (rendered by `DownloadRow.show_state`).

    Attributes:
        kind: "running", "paused", "failed" (bytes gone, cannot resume) or "installed".
        done, total: bytes.
        speed: bytes per second; eta: seconds left (None: unknown).
        part, parts: which file of a split model.
        note: the download's own remark ("Verifying…", "resuming at …").
        error: why it stopped, in words ('' after a cancel the user asked for).
        path: the installed file.
    """

    kind: str
    done: int = 0
    total: int | None = None
    speed: float = 0.0
    eta: float | None = None
    part: int = 1
    parts: int = 1
    note: str = ""
    error: str = ""
    path: Path | None = None


class DownloadRow(QFrame):
    """One download: name, progress bar, figures, note, error, and its buttons."""

    def __init__(self, key: str, file: HubModelFile, parent: QWidget | None = None) -> None:
        """A row for the download `key` of `file`, paused until told otherwise."""
        super().__init__(parent)
        self.key = key
        self.file = file
        self.state = _RowState("paused", total=file.size)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.name_label = QLabel(self)
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)
        bold = QFont(self.name_label.font())
        bold.setBold(True)
        self.name_label.setFont(bold)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.figures = QLabel(self)
        self.figures.setTextFormat(Qt.TextFormat.PlainText)
        self.note = note_label(self)
        self.error = note_label(self)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton(self)
        self.resume_button = QPushButton(self)
        self.discard_button = QPushButton(self)
        self.load_button = QPushButton(self)
        self.dismiss_button = QPushButton(self)

        top = QHBoxLayout()
        top.addWidget(self.name_label, 1)
        top.addWidget(self.figures)
        left = QVBoxLayout()
        left.setSpacing(4)
        left.addLayout(top)
        left.addWidget(self.progress)
        left.addWidget(self.note)
        left.addWidget(self.error)
        self._buttons = QWidget(self)
        buttons = QHBoxLayout(self._buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(6)
        buttons.addStretch(1)
        for button in (self.cancel_button, self.resume_button, self.discard_button,
                       self.load_button, self.dismiss_button):
            buttons.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 4, 0, 4)
        row.setSpacing(12)
        row.addLayout(left, 1)
        row.addWidget(self._buttons, 0, Qt.AlignmentFlag.AlignTop)
        self.retranslate()

    def retranslate(self) -> None:
        """Set the button texts and render again in the current language."""
        self.cancel_button.setText(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop; what was downloaded is kept for later"))
        self.resume_button.setText(self.tr("Resume"))
        self.discard_button.setText(self.tr("Discard"))
        self.discard_button.setToolTip(self.tr("Delete what was downloaded so far"))
        self.load_button.setText(self.tr("Load"))
        self.dismiss_button.setText(self.tr("Dismiss"))
        # Every state's buttons fit the same width, so the progress bars of all rows line up.
        pairs = ((self.cancel_button,), (self.resume_button, self.discard_button),
                 (self.load_button, self.dismiss_button))
        width = max(sum(b.sizeHint().width() for b in pair) + 6 * (len(pair) - 1)
                    for pair in pairs)
        self._buttons.setFixedWidth(width)
        self.show_state()

    def show_state(self) -> None:
        """Show `self.state`."""
        s = self.state
        self.name_label.setText(one_line(self.file.name))
        self.name_label.setToolTip(one_line(f"{self.file.repo_id} · {self.file.name}"))
        total = s.total or 0
        if s.kind == "running" and total <= 0:
            self.progress.setRange(0, 0)  # size unknown: a busy bar
        else:
            self.progress.setRange(0, 1000)
            done = total if s.kind == "installed" else s.done
            self.progress.setValue(round(1000 * done / total) if total > 0 else 0)
        self.figures.setText(self.figures_text())
        self.note.setText(self._note_text())
        self.note.setVisible(bool(self.note.text()))
        self.error.setText(plain(s.error))
        self.error.setVisible(bool(s.error))
        self.cancel_button.setVisible(s.kind == "running")
        self.resume_button.setVisible(s.kind == "paused")
        self.discard_button.setVisible(s.kind == "paused")
        self.load_button.setVisible(s.kind == "installed")
        self.dismiss_button.setVisible(s.kind in ("installed", "failed"))

    def figures_text(self) -> str:
        """"41 MB of 98 MB · 12.3 MB/s · 5 s left" (the parts of it that are known)."""
        s = self.state
        if s.kind == "installed":
            return self.tr("Installed · {size}").format(size=size_text(s.total))
        parts = [self.tr("{done} of {total}").format(done=size_text(s.done),
                                                     total=size_text(s.total))]
        if s.kind == "running":
            if s.speed > 0:
                parts.append(speed_text(s.speed))
            if s.eta is not None and math.isfinite(s.eta):
                parts.append(self._eta_text(s.eta))
            if s.parts > 1:
                parts.append(self.tr("part {i} of {n}").format(i=s.part, n=s.parts))
        return " · ".join(parts)

    def _eta_text(self, seconds: float) -> str:
        s = max(0, math.ceil(seconds))
        if s < 60:
            return self.tr("{n} s left").format(n=s)
        if s < 3600:
            return self.tr("{n} min left").format(n=math.ceil(s / 60))
        return self.tr("{h} h {m} min left").format(h=s // 3600, m=(s % 3600) // 60)

    def _note_text(self) -> str:
        s = self.state
        if s.kind == "paused" and not s.error:
            return self.tr("Paused. Resume continues where it stopped.")
        if s.kind == "running":
            return plain(s.note)
        if s.kind == "paused":
            return self.tr("The bytes downloaded so far are kept; Resume continues from "
                           "there.")
        return ""


class DownloadsView(QFrame):
    """Every running, paused, failed or just-installed download, in rows.

    Hidden while there is nothing to show.

    Signals:
        sig_load(Path): the user asked to load an installed model.
        sig_installed(Path): a download finished and is in the library.
    """

    sig_load = Signal(object)
    sig_installed = Signal(object)

    def __init__(self, service: DownloadService, parent: QWidget | None = None) -> None:
        """Rows for the service's downloads; it follows the service from now on."""
        super().__init__(parent)
        self._service = service
        self.rows: dict[str, DownloadRow] = {}
        #: Downloads the user cancelled: their "failure" is a pause, not an error.
        self._cancelled: set[str] = set()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(self)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.setSpacing(2)
        self._list_layout.addStretch(1)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self._list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.scroll_area)
        service.sig_started.connect(self._on_started)
        service.sig_progress.connect(self._on_progress)
        service.sig_finished.connect(self._on_finished)
        service.sig_failed.connect(self._on_failed)
        self._retranslate()
        self.refresh()

    # -- public -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Add rows for running downloads and partial ones left from earlier; drop rows
        of partial downloads that are gone."""
        for key in self._service.running():
            file = self._service.file_of(key)
            if file is not None:
                self._row(key, file).state.kind = "running"
        pending = {p.key: p for p in self._service.pending()}
        for key, p in pending.items():
            row = self._row(key, p.file)
            if row.state.kind != "running":
                row.state.kind = "paused"
                row.state.done, row.state.total = p.done, p.total or p.file.size
        for key, row in list(self.rows.items()):
            if row.state.kind == "paused" and key not in pending:
                self._drop(key)
        self._render_all()

    def row(self, key: str) -> DownloadRow | None:
        """The row of download `key`, if shown."""
        return self.rows.get(key)

    # -- Qt -----------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.title.setText(self.tr("Downloads"))
        for row in self.rows.values():
            row.retranslate()

    # -- rows ---------------------------------------------------------------------------------

    def _row(self, key: str, file: HubModelFile) -> DownloadRow:
        row = self.rows.get(key)
        if row is None:
            row = DownloadRow(key, file, self._list)
            row.cancel_button.clicked.connect(lambda: self._cancel(key))
            row.resume_button.clicked.connect(lambda: self._resume(key))
            row.discard_button.clicked.connect(lambda: self._discard(key))
            row.load_button.clicked.connect(lambda: self._load(key))
            row.dismiss_button.clicked.connect(lambda: self._drop(key, render=True))
            self._list_layout.insertWidget(self._list_layout.count() - 1, row)
            self.rows[key] = row
        return row

    def _drop(self, key: str, *, render: bool = False) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            row.hide()
            row.deleteLater()
        if render:
            self._render_all()

    def _render_all(self) -> None:
        for row in self.rows.values():
            row.show_state()
        self.setVisible(bool(self.rows))
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as the rows, up to VISIBLE_ROWS of them; more scroll.

        Heights are taken at the width the rows have: a wrapped note is one line in a wide
        window and three in a narrow one.
        """
        width = self.scroll_area.viewport().width()
        heights = [r.heightForWidth(width) if r.hasHeightForWidth() and width > 0 else -1
                   for r in self.rows.values()]
        heights = [h if h > 0 else r.sizeHint().height()
                   for h, r in zip(heights, self.rows.values(), strict=True)]
        spacing = self._list_layout.spacing()
        top = sorted(heights, reverse=True)[:VISIBLE_ROWS]
        self.scroll_area.setFixedHeight(sum(top) + spacing * max(len(top) - 1, 0) + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Fit the height again: the notes wrap differently at the new width."""
        super().resizeEvent(event)
        self._fit_height()

    def _cancel(self, key: str) -> None:
        self._cancelled.add(key)
        self._service.cancel(key)
        row = self.rows.get(key)
        if row is not None:
            row.state.note = self.tr("Stopping…")
            row.cancel_button.setEnabled(False)
            row.show_state()

    def _resume(self, key: str) -> None:
        row = self.rows.get(key)
        if row is not None:
            row.state.error = ""
            self._service.start(row.file)

    def _discard(self, key: str) -> None:
        self._service.discard(key)
        self._drop(key, render=True)

    def _load(self, key: str) -> None:
        row = self.rows.get(key)
        if row is not None and row.state.path is not None:
            self.sig_load.emit(row.state.path)

    # -- service signals ----------------------------------------------------------------------

    def _on_started(self, key: str, file: HubModelFile) -> None:
        row = self._row(key, file)
        self._cancelled.discard(key)
        row.state.kind, row.state.error, row.state.note = "running", "", ""
        row.cancel_button.setEnabled(True)
        self._render_all()

    def _on_progress(self, key: str, progress: Progress) -> None:
        row = self.rows.get(key)
        if row is None:
            return
        s = row.state
        s.done, s.total = progress.done, progress.total or s.total
        s.speed, s.eta = progress.speed, progress.eta
        s.part, s.parts = progress.part, progress.parts
        if progress.note:
            s.note = progress.note
        shown = row.note.isVisibleTo(row)
        row.show_state()
        if row.note.isVisibleTo(row) != shown:
            self._render_all()  # a note line appeared: the strip grows to show it

    def _on_finished(self, key: str, path: Path) -> None:
        row = self.rows.get(key)
        if row is not None:
            row.state.kind, row.state.path, row.state.note = "installed", Path(path), ""
            row.state.total = row.file.size or row.state.total
            self._render_all()
        self.sig_installed.emit(Path(path))

    def _on_failed(self, key: str, message: str, resumable: bool) -> None:
        row = self.rows.get(key)
        if row is None:
            return
        asked = key in self._cancelled
        self._cancelled.discard(key)
        row.state.kind = "paused" if resumable else "failed"
        row.state.error = "" if asked and resumable else message
        row.state.note = ""
        self._render_all()
