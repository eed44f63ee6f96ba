"""The Library tab: the models on this computer, what is known about each, and actions.

Listing reads headers only (fast, on the GUI thread).  The slow facts (SHA-256, whether this
llama.cpp can load the file) come from `file_facts` on a background thread; until they
arrive the details say "computing…".  A file whose header failed the pre-flight check is
listed with its problem and cannot be loaded from here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QTextOption
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.units import format_bytes, format_params
from chatapp.models.library import (
    FileFacts,
    LibraryEntry,
    LibraryError,
    file_facts,
    import_model,
    list_models,
    remove_model,
)
from chatapp.services.background import Background
from chatapp.ui.models.common import note_label, one_line, plain, setup_table
from chatapp.ui.models.library_details import NOT_LOADABLE, LibraryDetails, rows_html

_COLUMNS = 7
#: Widest the name column starts (longer names are elided in the middle, keeping ".gguf").
NAME_MAX_PX = 240


class LibraryPage(QWidget):
    """The library table, the selected model's details, and Load / Import / Remove / Show.

    Signals:
        sig_load(Path): the user asked to load this model.
        sig_changed(): a model was imported or removed.

    Attributes:
        table: one row per model (name, architecture, parameters, quantization, context, size,
            status).
        details: everything known about the selected model (read-only, selectable).
        message: a line for the outcome of the last action (a failed removal, imports).
        problem_box: the last "could not import" message, while it is open.
    """

    sig_load = Signal(object)
    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty page; `refresh` fills it."""
        super().__init__(parent)
        self._entries: list[LibraryEntry] = []
        self._facts: dict[Path, FileFacts] = {}
        self._facts_error: str | None = None
        self._facts_running = False
        self._facts_again = False
        self._background = Background(workers=1, name="chatapp-library")
        self.problem_box: QMessageBox | None = None
        self._describe = LibraryDetails(self)

        self.table = QTableWidget(0, _COLUMNS, self)
        # The status takes the spare width (a problem is a sentence); the name column is as
        # wide as the names, up to NAME_MAX_PX, and the user can widen it.
        setup_table(self.table, stretch_column=_COLUMNS - 1)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        # The quantization has its own column, so a long name may lose its end; a status
        # keeps its start ("Not usable: …"), the full text is in the tooltip and the details.
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.itemSelectionChanged.connect(self._show_details)
        # Enter or a double click on a row loads it, as the Load button does.
        self.table.activated.connect(lambda _index: self._load())
        self.details = QTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setAcceptRichText(False)
        self.details.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.details.setTabChangesFocus(True)

        self.load_button = QPushButton(self)
        self.load_button.clicked.connect(self._load)
        self.import_button = QPushButton(self)
        self.import_button.clicked.connect(self._choose_files)
        self.remove_button = QPushButton(self)
        self.remove_button.clicked.connect(self.remove_selected)
        self.folder_button = QPushButton(self)
        self.folder_button.clicked.connect(self._show_in_folder)
        self.message = note_label(self)
        self.message.hide()

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        split.setSizes([720, 340])
        split.setChildrenCollapsible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._retranslate()
        self._update_buttons()

    # -- public -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the library again (keeping the selection) and ask for the slow facts."""
        keep = self.selected()
        self._entries = list_models()
        self._fill()
        if keep is None or not self.select_path(keep.path):
            if self._entries:
                self.table.selectRow(0)
            else:
                self._show_details()
        self._request_facts()

    def entries(self) -> list[LibraryEntry]:
        """The models listed, in table order."""
        return list(self._entries)

    def facts(self) -> dict[Path, FileFacts]:
        """The slow facts known so far, by model path."""
        return dict(self._facts)

    def selected(self) -> LibraryEntry | None:
        """The selected model, if any."""
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._entries):
            return None
        return self._entries[rows[0].row()]

    def select_path(self, path: Path) -> bool:
        """Select the model at `path`; False when it is not listed."""
        for row, entry in enumerate(self._entries):
            if entry.path == path:
                self.table.selectRow(row)
                item = self.table.item(row, 0)
                if item is not None:
                    self.table.scrollToItem(item)
                return True
        return False

    def row_texts(self) -> list[list[str]]:
        """What each row shows, cell by cell (for tests and accessibility checks)."""
        return [[self._cell(r, c) for c in range(_COLUMNS)] for r in range(self.table.rowCount())]

    def details_text(self) -> str:
        """The details pane as plain text."""
        return self.details.toPlainText()

    def can_load(self, entry: LibraryEntry) -> bool:
        """Whether `entry` may be loaded: a usable header, every part present, and not known
        to be unsupported by this llama.cpp."""
        facts = self._facts.get(entry.path)
        return entry.usable and (facts is None or facts.support not in NOT_LOADABLE)

    def import_paths(self, paths: list[Path]) -> list[LibraryEntry]:
        """Import files (by reference); returns the entries added.

        Each refused file gets one line, naming it and why, in one non-modal message: the
        other files are still imported.
        """
        added: list[LibraryEntry] = []
        problems: list[str] = []
        for path in paths:
            try:
                added.append(import_model(path))
            except LibraryError as exc:
                problems.append(plain(str(exc)))
        if added:
            self.refresh()
            self.select_path(added[-1].path)
            self.sig_changed.emit()
        if problems:
            self._show_problems(problems)
        return added

    def remove_selected(self) -> bool:
        """Ask, then take the selected model out of the library; True when it was removed."""
        entry = self.selected()
        if entry is None or not self._confirm_remove(entry):
            return False
        try:
            remove_model(entry)
        except LibraryError as exc:
            self._say(str(exc))
            return False
        self._say(self.tr("{name} was deleted.").format(name=one_line(entry.name))
                  if entry.origin == "folder" else
                  self.tr("{name} was removed from the library; the file is still there.")
                  .format(name=one_line(entry.name)))
        self.refresh()
        self.sig_changed.emit()
        return True

    def remove_question(self, entry: LibraryEntry) -> str:
        """What the removal confirmation says: whether the file is deleted or only forgotten."""
        name = one_line(entry.name)
        if entry.origin == "imported":
            return self.tr("Remove {name} from the library? The file is not deleted: it stays "
                           "in {folder}, and you can import it again.").format(
                name=name, folder=one_line(entry.path.parent))
        if len(entry.parts) > 1:
            return self.tr("Delete {name}? Its {n} files ({size}) are deleted from the models "
                           "folder; this cannot be undone.").format(
                name=name, n=len(entry.parts), size=format_bytes(entry.size))
        return self.tr("Delete {name}? The file ({size}) is deleted from the models folder; "
                       "this cannot be undone.").format(name=name, size=format_bytes(entry.size))

    def shutdown(self) -> None:
        """Stop background work (results that come later are dropped)."""
        self._background.shutdown()

    # -- Qt -----------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.table.setHorizontalHeaderLabels([
            self.tr("Name"), self.tr("Architecture"), self.tr("Parameters"),
            self.tr("Quantization"), self.tr("Context"), self.tr("Size"), self.tr("Status")])
        self.table.setAccessibleName(self.tr("Models in the library"))
        self.details.setAccessibleName(self.tr("Model details"))
        self.load_button.setText(self.tr("Load"))
        self.load_button.setToolTip(self.tr("Load the selected model for chatting"))
        self.import_button.setText(self.tr("Import…"))
        self.import_button.setToolTip(self.tr(
            "Add GGUF files from elsewhere; they stay where they are. You can also drop "
            "them on this window."))
        self.remove_button.setText(self.tr("Remove…"))
        self.folder_button.setText(self.tr("Show in folder"))
        if self._entries:
            self._fill()

    # -- filling ------------------------------------------------------------------------------

    def _fill(self) -> None:
        keep = self.selected()
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(self._entries))
            for row, entry in enumerate(self._entries):
                self._fill_row(row, entry)
            metrics = self.table.fontMetrics()
            widest = max((metrics.horizontalAdvance(one_line(e.name)) for e in self._entries),
                         default=0)
            self.table.setColumnWidth(0, max(120, min(NAME_MAX_PX, widest + 24)))
        if keep is not None:
            with QSignalBlocker(self.table):
                self.select_path(keep.path)
        self._show_details()

    def _fill_row(self, row: int, entry: LibraryEntry) -> None:
        info = entry.info
        name_tip = (self.tr("Imported: {path}") if entry.origin == "imported"
                    else self.tr("In the models folder: {path}")).format(path=one_line(entry.path))
        cells = [
            (one_line(entry.name), name_tip),
            (one_line(info.architecture) if info and info.architecture else "", ""),
            (format_params(info.parameter_count) if info and info.parameter_count else "", ""),
            (one_line(info.quantization) if info else "", ""),
            (f"{info.context_length:,}" if info and info.context_length else "", ""),
            (format_bytes(entry.size), ""),
            self._status(entry),
        ]
        for column, (text, tip) in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(tip or text)
            if column in (2, 4, 5):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)
        if not self.can_load(entry):
            warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            status = self.table.item(row, _COLUMNS - 1)
            if status is not None:
                status.setIcon(warn)

    def _status(self, entry: LibraryEntry) -> tuple[str, str]:
        """The status cell's text and tooltip."""
        if entry.problem is not None:
            problem = one_line(entry.problem)
            return self.tr("Not usable: {problem}").format(problem=problem), problem
        facts = self._facts.get(entry.path)
        if facts is None:
            if self._facts_error:
                return self.tr("Not checked"), self._facts_error
            return self.tr("Checking…"), self.tr("Checking the file against this llama.cpp")
        if facts.support == "ok":
            return self.tr("Ready"), self.tr("This llama.cpp can load it")
        if facts.support in NOT_LOADABLE:
            why = one_line(facts.support_message)
            return self.tr("Not supported"), why
        return self.tr("Not checked"), one_line(facts.support_message)

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def _show_details(self) -> None:
        entry = self.selected()
        self._update_buttons()
        if entry is None:
            self.details.setPlainText(self.tr("No models yet. Download one from the Hub, "
                                              "import a GGUF file, or drop one here.")
                                      if not self._entries else "")
            return
        self.details.setHtml(rows_html(self._describe.rows(
            entry, self._facts.get(entry.path), self._facts_error)))

    def _update_buttons(self) -> None:
        entry = self.selected()
        self.load_button.setEnabled(entry is not None and self.can_load(entry))
        self.remove_button.setEnabled(entry is not None)
        self.folder_button.setEnabled(entry is not None)

    # -- background facts ---------------------------------------------------------------------

    def _request_facts(self) -> None:
        if self._facts_running:
            self._facts_again = True  # the folder changed while hashing: once more after
            return
        entries = list(self._entries)
        if not entries:
            return
        self._facts_running = True
        self._background.submit(lambda: file_facts(entries), self._got_facts,
                                self._facts_failed)

    def _got_facts(self, facts: dict[Path, FileFacts]) -> None:
        self._facts_running = False
        self._facts_error = None
        self._facts.update(facts)
        self._fill()
        if self._facts_again:
            self._facts_again = False
            self._request_facts()

    def _facts_failed(self, exc: Exception) -> None:
        self._facts_running = False
        self._facts_error = self.tr("could not be checked ({error})").format(
            error=one_line(f"{type(exc).__name__}: {exc}"))
        self._fill()

    # -- actions ------------------------------------------------------------------------------

    def _load(self) -> None:
        entry = self.selected()
        if entry is not None and self.can_load(entry):
            self.sig_load.emit(entry.path)

    def _choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, self.tr("Import models"), str(Path.home()),
            self.tr("GGUF models (*.gguf);;All files (*)"))
        if names:
            self.import_paths([Path(n) for n in names])

    def _show_in_folder(self) -> None:
        entry = self.selected()
        if entry is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(entry.path.parent)))

    def _confirm_remove(self, entry: LibraryEntry) -> bool:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Remove model"))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(self.remove_question(entry))
        yes, cancel = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel
        box.setStandardButtons(yes | cancel)
        # The button names the consequence: "Delete" erases the file, "Remove" forgets it.
        box.button(yes).setText(self.tr("Delete") if entry.origin == "folder"
                                else self.tr("Remove"))
        box.setDefaultButton(cancel)
        return QMessageBox.StandardButton(box.exec()) == yes

    def _say(self, text: str) -> None:
        self.message.setText(plain(text))
        self.message.setVisible(bool(text))

    def _show_problems(self, problems: list[str]) -> None:
        if self.problem_box is not None:
            self.problem_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Import models"),
                          self.tr("Some files could not be imported:") if len(problems) > 1
                          else self.tr("The file could not be imported:"),
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("\n\n".join(problems))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "problem_box", None))
        self.problem_box = box
        # One message for all the files; `open` shows it without a nested event loop.
        box.open()
