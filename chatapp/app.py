"""Composition root of the desktop app: model process, chat history, languages, window."""

from __future__ import annotations

import sys

from chatapp import __version__


def run_app(argv: list[str] | None = None) -> int:
    """Start the GUI on the starter model (if installed); returns the exit code."""
    from PySide6.QtWidgets import QApplication

    from chatapp.models.starter import is_installed, starter_path
    from chatapp.paths import logs_dir
    from chatapp.services.engine_service import EngineService
    from chatapp.services.i18n import Translations
    from chatapp.services.store_service import StoreService
    from chatapp.ui.main_window import MainWindow

    app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("chatapp")
    app.setApplicationVersion(__version__)
    # English until a language setting exists (the Chinese translation is one `apply` away).
    Translations(app)  # owned by the app; a settings dialog will call its `apply`
    # Opens the database on its worker thread: the window shows before a slow open ends.
    store = StoreService(parent=app)
    engine = EngineService(log_path=logs_dir() / "engine.log")
    engine.start()
    window = MainWindow(engine, store, starter_path() if is_installed() else None)
    window.show()
    app.aboutToQuit.connect(engine.shutdown)
    # After the window's last writes were queued: close() saves them, then the database.
    app.aboutToQuit.connect(store.close)
    return app.exec()
