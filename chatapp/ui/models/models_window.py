"""The Models window: the library, the Hub, and the downloads, in one non-modal window.

The window is a view: downloads belong to the `DownloadService` the main window owns, so
closing this window stops nothing.  Dropping .gguf files anywhere on it imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QDialog, QTabWidget, QVBoxLayout, QWidget

from chatapp.services.download_service import DownloadService
from chatapp.ui.models.downloads_view import DownloadsView
from chatapp.ui.models.hub_page import HubPage
from chatapp.ui.models.library_page import LibraryPage


def dropped_files(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    """The local files a drag carries (other URLs are ignored)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class ModelsWindow(QDialog):
    """Library and Hub tabs above a downloads strip.

    Signals:
        sig_load(Path): the user asked to load this model.
        sig_library_changed(): a model was imported, removed or downloaded.

    Attributes:
        tabs: the Library and Download tabs.
        library: the Library tab.
        hub: the Download (Hub) tab.
        downloads_view: the downloads strip (hidden while empty).
    """

    sig_load = Signal(object)
    sig_library_changed = Signal()

    def __init__(self, downloads: DownloadService, devices: Callable[[], dict[str, Any]],
                 n_ctx: int, endpoint: str | None = None,
                 parent: QWidget | None = None) -> None:
        """`devices` answers what the model process sees (blocking: it runs in the
        background, once per window); `n_ctx` is the context length the fit is judged for;
        `endpoint` a Hub-compatible server (None: huggingface.co, or HF_ENDPOINT)."""
        super().__init__(parent)
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.setAcceptDrops(True)
        self.library = LibraryPage(self)
        self.hub = HubPage(downloads, devices, n_ctx, endpoint, self)
        self.downloads_view = DownloadsView(downloads, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.library, "")
        self.tabs.addTab(self.hub, "")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.downloads_view)

        self.library.sig_load.connect(self.sig_load.emit)
        self.library.sig_changed.connect(self._library_changed)
        self.downloads_view.sig_load.connect(self.sig_load.emit)
        self.downloads_view.sig_installed.connect(self._installed)
        self.resize(1100, 700)
        self._retranslate()
        self.refresh()

    # -- public -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the library and the downloads again (cheap; the slow facts follow)."""
        self.library.refresh()
        self.hub.set_library(self.library.entries())
        self.downloads_view.refresh()

    def show_library(self) -> None:
        """Bring the Library tab to the front."""
        self.tabs.setCurrentWidget(self.library)

    def show_hub(self) -> None:
        """Bring the Download tab to the front, with the cursor in the search box."""
        self.tabs.setCurrentWidget(self.hub)
        self.hub.search_edit.setFocus()

    def set_n_ctx(self, n_ctx: int) -> None:
        """The context length the fit verdicts are for (after a settings change)."""
        self.hub.set_n_ctx(n_ctx)

    def import_files(self, paths: list[Path]) -> int:
        """Import files into the library, showing it; returns how many were added."""
        self.show_library()
        return len(self.library.import_paths(paths))

    def shutdown(self) -> None:
        """Stop the window's background work (downloads go on: they are the service's)."""
        self.library.shutdown()
        self.hub.shutdown()

    # -- Qt -----------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept drags of local files (each is checked when dropped)."""
        if dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Import the dropped files; a file that is refused gets its line in one message."""
        paths = dropped_files(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_files(paths)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter never presses a button of the window: in the search box it searches, on a
        library row it loads that model; a dialog's "default button" would instead press
        whatever button Qt picked (Download, Load) from wherever the cursor is."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Models"))
        self.tabs.setTabText(0, self.tr("Library"))
        self.tabs.setTabText(1, self.tr("Download"))
        self.tabs.setTabToolTip(0, self.tr("The models on this computer"))
        self.tabs.setTabToolTip(1, self.tr("Find and download models from the Hugging Face "
                                           "Hub"))

    # -- internals ----------------------------------------------------------------------------

    def _library_changed(self) -> None:
        self.hub.set_library(self.library.entries())
        self.sig_library_changed.emit()

    def _installed(self, path: Path) -> None:
        self.library.refresh()
        self.library.select_path(path)
        self._library_changed()
