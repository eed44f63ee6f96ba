"""The main window's model management: the Models window, downloads, dropped files, and the
retry offered when a model does not fit in memory.

Kept out of main_window.py so that the window only wires signals: everything about where models
come from lives here and in chatapp/ui/models/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from chatapp.models.library import LibraryError, import_model
from chatapp.services.download_service import DownloadService
from chatapp.services.engine_service import EngineService


def dropped_model_paths(mime: QMimeData) -> list[Path]:
    """The local .gguf files in a drag (other URLs and files are ignored)."""
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() == ".gguf"]


#: A context length that loads on nearly any machine: offered when halving is not enough.
SAFE_CONTEXT = 4096


def shown_retry_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most three of the engine's retry options, as buttons.

    The engine lists every halving (131072 → 65536 → … → 512); a person wants the nearest two
    and one that will almost surely load, not eight buttons or a chain of failures.
    """
    if len(options) <= 3:
        return options
    safe = next((o for o in options if o.get("n_ctx") == SAFE_CONTEXT), options[-1])
    return [*options[:2], safe] if safe not in options[:2] else options[:3]


class ModelManagement(QObject):
    """Owns the downloads and the Models window on behalf of the main window.

    Signals:
        sig_load(Path): the user asked to load this model (from the Models window, or by
            dropping a file).
        sig_library_changed(): a model was added or removed (refresh model lists).
        sig_message(str): a one-line notice for the status bar.
    """

    sig_load = Signal(object)
    sig_library_changed = Signal()
    sig_message = Signal(str)

    def __init__(self, window: QWidget, engine: EngineService,
                 n_ctx: Callable[[], int]) -> None:
        """`n_ctx`: the context length the user loads models with (for fit estimates)."""
        super().__init__(window)
        self._window = window
        self._engine = engine
        self._n_ctx = n_ctx
        self.downloads = DownloadService(self)
        self.downloads.sig_finished.connect(lambda _key, _path: self.sig_library_changed.emit())
        self.models_window: Any = None

    def _devices(self) -> dict[str, Any]:
        # Asked of the model process: the GUI process never loads llama.cpp (a GPU backend
        # would claim GPU memory here too).
        return self._engine.client.devices()

    def open_window(self, page: str = "library") -> None:
        """Show the Models window (created once, then raised), on the library or the Hub."""
        from chatapp.ui.models.models_window import ModelsWindow

        if self.models_window is None:
            win = ModelsWindow(self.downloads, self._devices, self._n_ctx(), parent=self._window)
            win.sig_load.connect(self.sig_load.emit)
            win.sig_library_changed.connect(self.sig_library_changed.emit)
            self.models_window = win
        win = self.models_window
        win.set_n_ctx(self._n_ctx())  # the setting may have changed since the last time
        win.refresh()
        if page == "hub":
            win.show_hub()
        else:
            win.show_library()
        win.show()
        win.raise_()
        win.activateWindow()

    def import_dropped(self, paths: list[Path]) -> list[Path]:
        """Import dropped files into the library; returns the ones that are usable.

        A refused file (not GGUF, broken header) gets one message naming it and why; the
        others are still imported.
        """
        imported: list[Path] = []
        problems: list[str] = []
        for path in paths:
            try:
                entry = import_model(path)
            except LibraryError as exc:
                problems.append(str(exc))
                continue
            imported.append(entry.path)
        if imported:
            self.sig_library_changed.emit()
            if self.models_window is not None:
                self.models_window.refresh()
        if problems:
            box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Import models"),
                              "\n\n".join(problems), QMessageBox.StandardButton.Ok,
                              self._window)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        return imported

    def offer_memory_retry(self, message: str, options: list[dict[str, Any]],
                           retry: Callable[[dict[str, Any]], None]) -> QMessageBox:
        """Say that the model did not fit, and offer the engine's retry options as buttons.

        `retry(overrides)` is called with the chosen option (its load-keyword overrides,
        without the label).  Non-modal: the window stays usable behind it.
        """
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Not enough memory"), message,
                          QMessageBox.StandardButton.Cancel, self._window)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText(self.tr("Try again with less memory:"))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for option in shown_retry_options(options):
            overrides = {k: v for k, v in option.items() if k != "label"}
            button = QPushButton(self._option_text(option), box)
            box.addButton(button, QMessageBox.ButtonRole.AcceptRole)
            button.clicked.connect(lambda _=False, o=overrides: retry(o))
        box.open()
        return box

    def _option_text(self, option: dict[str, Any]) -> str:
        if option.get("n_gpu_layers") == 0:
            return self.tr("On the CPU only")
        if "n_gpu_layers" in option:
            return self.tr("With {n} GPU layers").format(n=option["n_gpu_layers"])
        if "n_ctx" in option:
            return self.tr("With a {n}-token context").format(n=option["n_ctx"])
        return str(option.get("label", ""))

    def shutdown(self) -> None:
        """Cancel running downloads (they stay resumable) and close the window."""
        self.downloads.shutdown()
        if self.models_window is not None:
            self.models_window.shutdown()
            self.models_window.close()
