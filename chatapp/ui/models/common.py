"""Small pieces the Models window's pages share: text cleaning, figures, table set-up.

Everything shown here that comes from a model file or from the Hub (names, repository ids,
error messages) is untrusted: it goes into plain-text widgets only, made one line and
stripped of bidirectional overrides first.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QWidget

from chatapp.core.units import format_bytes

# Bidirectional overrides and isolates: a file name could use them to show its text reversed;
# no model or repository name needs them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: Characters of one untrusted value shown in a cell or a line (a hostile megabyte-long name
#: must cost nothing to lay out).
VALUE_CHARS = 2000


def one_line(text: object) -> str:
    """Text for one line of a cell or label: line breaks become spaces, bidi overrides go."""
    value = "" if text is None else str(text)
    cleaned = " ".join(_BIDI_CONTROLS.sub("", value[: VALUE_CHARS * 2]).split())
    return cleaned if len(cleaned) <= VALUE_CHARS else cleaned[: VALUE_CHARS - 1] + "…"


def plain(text: object) -> str:
    """Untrusted text for a multi-line plain-text place: bidi overrides go, lines stay."""
    value = "" if text is None else str(text)
    return _BIDI_CONTROLS.sub("", value[: VALUE_CHARS * 4])


def speed_text(bytes_per_s: float) -> str:
    """A transfer rate with one decimal, as download managers show it: "12.3 MB/s"."""
    if bytes_per_s >= 1e9:
        return f"{bytes_per_s / 1e9:.1f} GB/s"
    if bytes_per_s >= 1e6:
        return f"{bytes_per_s / 1e6:.1f} MB/s"
    if bytes_per_s >= 1e3:
        return f"{bytes_per_s / 1e3:.0f} kB/s"
    return f"{max(bytes_per_s, 0):.0f} B/s"


def size_text(n: int | None) -> str:
    """A size in decimal units ("98 MB"); "?" when unknown."""
    return "?" if n is None or n < 0 else format_bytes(n)


def gb_text(n: int | None) -> str:
    """Memory in decimal gigabytes with one decimal ("3.4 GB"): fit figures compare better
    at one precision than in a mix of MB and GB."""
    if n is None:
        return "?"
    if n < 100_000_000:
        return format_bytes(max(n, 0))
    return f"{n / 1e9:.1f} GB"


def note_label(parent: QWidget | None = None) -> QLabel:
    """A wrapped plain-text line under what it explains."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def setup_table(table: QTableWidget, stretch_column: int) -> None:
    """A read-only, row-selecting, keyboard-friendly table.

    Tab leaves the table (arrow keys move inside it), so the dialog stays navigable from the
    keyboard; one column takes the spare width, the others fit their contents.
    """
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setTabKeyNavigation(False)
    table.setWordWrap(False)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.verticalHeader().setVisible(False)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    for column in range(table.columnCount()):
        mode = (QHeaderView.ResizeMode.Stretch if column == stretch_column
                else QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(column, mode)
    # Rows as tall as one line of text plus a little air, whatever the style's default.
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 10)


def hub_host(endpoint: str | None) -> str:
    """The host a search contacts: `endpoint`, else HF_ENDPOINT, else huggingface.co.

    Read without importing huggingface_hub: showing the page must not load the client.
    """
    url = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    return urlsplit(url).netloc or url


def error_text(exc: BaseException) -> str:
    """What went wrong, in the words the exception carries (HubError's are for users)."""
    text = one_line(exc)
    return text or type(exc).__name__
