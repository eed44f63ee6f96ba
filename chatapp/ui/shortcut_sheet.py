"""A dialog listing the keyboard shortcuts, read from the application's own QActions.

Reading the actions (rather than keeping a second list of keys) means the sheet can never
disagree with what the keys really do: it shows each action's current text and shortcuts, in
the platform's notation (``Ctrl+N``; ``⌘N`` on macOS), and follows them when they change.

Rows that are not actions, such as "Send the message: Enter", are given as ``(description,
key text)`` tuples.  Actions that have no shortcut, or are hidden (Qt disables the shortcut of
an invisible action), are not listed: the sheet answers "which keys do what", and a row
without a key would only be noise.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TypeAlias

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: One row: an action (its text and shortcuts are read from it) or a (description, keys) pair.
ShortcutEntry: TypeAlias = QAction | tuple[str, str]
#: A section: its title ("" for none) and its rows.
ShortcutSection: TypeAlias = tuple[str, list[ShortcutEntry]]

_NATIVE = QKeySequence.SequenceFormat.NativeText
_PORTABLE = QKeySequence.SequenceFormat.PortableText

# Translations of languages without Latin letters put the mnemonic in brackets: "新建(&N)".
_BRACKETED_MNEMONIC = re.compile(r"\s*\(&[^&\s]\)")
# "&&" is a literal ampersand; any other "&" only marks the next letter as the mnemonic.
_AMPERSAND = re.compile(r"&(&?)")
# A menu's "…" means "opens a dialog"; out of a menu it is clutter.
_ELLIPSIS = re.compile(r"\s*(\.\.\.|…)$")


def strip_mnemonic(text: str) -> str:
    """An action's text as plain words: "&Save…" → "Save", "新建(&N)" → "新建", "&&" → "&"."""
    text = text.split("\t", 1)[0]  # a menu text may carry its shortcut after a tab
    text = _BRACKETED_MNEMONIC.sub("", text)
    text = _AMPERSAND.sub(r"\1", text)
    return _ELLIPSIS.sub("", text).strip()


def native_key_text(text: str) -> str:
    """Key text given as "Shift+Enter" in the platform's notation; other text as it is.

    Only text that Qt reads back exactly as a key sequence is converted, so descriptions such
    as "Ctrl+Click" (not a key) are shown unchanged.
    """
    sequence = QKeySequence.fromString(text, _PORTABLE)
    portable = sequence.toString(_PORTABLE)
    if portable and portable.replace(" ", "").casefold() == text.replace(" ", "").casefold():
        return sequence.toString(_NATIVE)
    return text


@dataclass(slots=True)
class _Row:
    """What one table row shows and where it comes from."""

    source: ShortcutEntry
    section: int
    description: str = ""
    keys: str = ""
    search: str = ""  # casefolded text the filter matches against
    available: bool = True  # False: no shortcut, hidden, or the action was deleted


class ShortcutSheet(QDialog):
    """Lists the shortcuts of the given actions (and extra key rows), grouped and filterable.

    Section titles and the tuple rows are shown as given, already translated by the caller; on
    a language change the sheet retranslates its own labels and re-reads the actions' texts.
    For new section titles call `set_sections` again.
    """

    def __init__(self, sections: list[ShortcutSection], parent: QWidget | None = None) -> None:
        """Show ``sections``: (title, rows) pairs, in order."""
        super().__init__(parent)
        self._rows: list[_Row] = []
        # Per section: its title and the table row of its heading (None when untitled).
        self._sections: list[tuple[str, int | None]] = []
        self._row_of: dict[int, _Row] = {}  # table row -> entry row
        self._watched: list[QAction] = []  # actions whose `changed` is connected, once each

        self.filter_box = QLineEdit(self)
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self._apply_filter)

        self.table = QTableWidget(0, 2, self)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Sized by `_fit_keys_column` from every row, hidden or not, so filtering does not make
        # the column jump.
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # An action with several shortcuts lists one per line, so rows grow to fit.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        self.empty_label = QLabel(self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        close = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        # QDialog would otherwise make Close the default button, and Enter in the filter box
        # would close the sheet.
        close.setAutoDefault(False)
        close.setDefault(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_box)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.buttons)
        self.resize(480, 520)

        self._retranslate()
        self.set_sections(sections)
        self.filter_box.setFocus()  # typing filters at once

    # -- public -----------------------------------------------------------------------------

    def set_sections(self, sections: list[ShortcutSection]) -> None:
        """Replace what the sheet lists (the filter text is kept and applied)."""
        for action in self._watched:
            with contextlib.suppress(RuntimeError):  # RuntimeError: the action is gone
                action.changed.disconnect(self._on_action_changed)
        self._rows, self._sections, self._row_of, self._watched = [], [], {}, []
        self.table.clearSpans()
        self.table.setRowCount(0)
        for index, (title, entries) in enumerate(sections):
            heading: int | None = None
            if title:
                heading = self.table.rowCount()
                self.table.insertRow(heading)
                self.table.setSpan(heading, 0, 1, 2)
                self.table.setItem(heading, 0, self._title_item(title, first=heading == 0))
            self._sections.append((title, heading))
            for entry in entries:
                table_row = self.table.rowCount()
                self.table.insertRow(table_row)
                row = _Row(entry, index)
                self._rows.append(row)
                self._row_of[table_row] = row
                self._fill(table_row, row)
                if isinstance(entry, QAction) and entry not in self._watched:
                    self._watched.append(entry)
                    # Live: a retranslated text or a changed shortcut shows at once, whatever
                    # order the widgets handle the language change in.
                    entry.changed.connect(self._on_action_changed)
        self._apply_filter()

    def shown_rows(self) -> list[tuple[str, str]]:
        """The (description, keys) rows visible now, top to bottom (titles left out)."""
        return [
            (row.description, row.keys)
            for table_row, row in sorted(self._row_of.items())
            if not self.table.isRowHidden(table_row)
        ]

    # -- Qt ---------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
            self._refresh_all()
        super().changeEvent(event)

    # -- internals --------------------------------------------------------------------------

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Keyboard Shortcuts"))
        self.filter_box.setPlaceholderText(self.tr("Filter by action or key…"))
        self.filter_box.setAccessibleName(self.tr("Filter shortcuts"))
        self.table.setAccessibleName(self.tr("Keyboard shortcuts"))
        self.table.setHorizontalHeaderLabels([self.tr("Action"), self.tr("Shortcut")])
        self.empty_label.setText(self.tr("No shortcut matches the filter."))

    def _title_item(self, title: str, *, first: bool) -> QTableWidgetItem:
        item = QTableWidgetItem(title)
        font = QFont(self.table.font())
        font.setBold(True)
        item.setFont(font)
        if not first:
            # Room above a heading, so each section reads as a group and not as one more row.
            height = QFontMetrics(font).height()
            item.setSizeHint(QSize(0, height * 2))
            item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        # A heading: not selectable, so arrow keys and the selection skip it.
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        return item

    def _fill(self, table_row: int, row: _Row) -> None:
        """Read the row's source into the row and its two cells."""
        source = row.source
        if isinstance(source, QAction):
            try:
                row.description = strip_mnemonic(source.text())
                sequences = source.shortcuts()
                visible = source.isVisible()
            except RuntimeError:  # the QAction was deleted while the sheet is open
                row.description, sequences, visible = "", [], False
            row.keys = "\n".join(s.toString(_NATIVE) for s in sequences if not s.isEmpty())
            portable = " ".join(s.toString(_PORTABLE) for s in sequences)
            row.available = visible and bool(row.keys)
        else:
            row.description, keys = source
            row.keys = native_key_text(keys)
            portable = keys
            row.available = True
        # Matched case-blind against the description and both notations of the keys, so
        # "ctrl" finds ⌘ shortcuts on macOS too.
        row.search = f"{row.description}\n{row.keys}\n{portable}".casefold()
        description_item = QTableWidgetItem(row.description)
        # The whole text is readable in the tool tip if the column is too narrow.
        description_item.setToolTip(row.description)
        keys_item = QTableWidgetItem(row.keys)
        for column, item in enumerate((description_item, keys_item)):
            # Not editable even by a double click: the sheet reports the keys, it does not set
            # them (NoEditTriggers alone would still let code or delegates open an editor).
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            # Top, so a description lines up with the first of several shortcuts.
            item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            self.table.setItem(table_row, column, item)

    def _refresh_all(self) -> None:
        for table_row, row in self._row_of.items():
            self._fill(table_row, row)
        self._apply_filter()

    def _on_action_changed(self) -> None:
        action = self.sender()
        for table_row, row in self._row_of.items():
            if row.source is action:
                self._fill(table_row, row)
        self._apply_filter()

    def _apply_filter(self) -> None:
        needle = self.filter_box.text().strip().casefold()
        shown_per_section: dict[int, int] = {}
        for table_row, row in self._row_of.items():
            # Typing a section's title lists the whole section.
            title_matches = bool(needle) and needle in self._sections[row.section][0].casefold()
            shown = row.available and (not needle or needle in row.search or title_matches)
            self.table.setRowHidden(table_row, not shown)
            if shown:
                shown_per_section[row.section] = shown_per_section.get(row.section, 0) + 1
        for index, (_title, heading) in enumerate(self._sections):
            if heading is not None:  # a heading over nothing would look like an empty section
                self.table.setRowHidden(heading, not shown_per_section.get(index, 0))
        self._fit_keys_column()
        anything = bool(shown_per_section)
        self.table.setVisible(anything or not needle)
        self.empty_label.setVisible(not anything and bool(needle))

    def _fit_keys_column(self) -> None:
        metrics = QFontMetrics(self.table.font())
        header = self.table.horizontalHeader()
        lines = [line for row in self._rows for line in row.keys.split("\n")]
        widest = max([header.sectionSizeFromContents(1).width()]
                     + [metrics.horizontalAdvance(line) for line in lines])
        # The cell's own margins plus some air before the frame (the keys are the last column).
        self.table.setColumnWidth(1, widest + 3 * metrics.averageCharWidth())
