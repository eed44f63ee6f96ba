"""Composition root of the desktop app: paths, model process, window."""

from __future__ import annotations

import sys

from chatapp import __version__


def run_app(argv: list[str] | None = None) -> int:
    """Start the GUI on the starter model (if installed); returns the exit code."""
    from PySide6.QtWidgets import QApplication

    from chatapp.models.starter import is_installed, starter_path
    from chatapp.paths import logs_dir
    from chatapp.services.engine_service import EngineService
    from chatapp.ui.main_window import MainWindow

    app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("chatapp")
    app.setApplicationVersion(__version__)
    engine = EngineService(log_path=logs_dir() / "engine.log")
    engine.start()
    window = MainWindow(engine, starter_path() if is_installed() else None)
    window.show()
    app.aboutToQuit.connect(engine.shutdown)
    return app.exec()
