"""Composition root of the desktop app: model process, chat history, languages, window."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from chatapp import __version__

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QWidget

#: Config-file key of the models opened recently (newest first).
RECENT_KEY = "recent_models"

#: Set to the `time.time()` at which a benchmark spawned this process (benchmarks/ui.py).
STARTUP_PROBE_ENV = "CHATAPP_STARTUP_PROBE"


def icon_folder() -> Path:
    """Where the icon set lives: inside the bundle, or the repository's resources/."""
    base = getattr(sys, "_MEIPASS", None)
    root = Path(base) if base else Path(__file__).resolve().parent.parent
    return root / "resources" / "icons" / "hicolor"


def app_icon() -> QIcon:
    """chatapp's icon at every size there is (an empty icon when the files are absent, as in
    an install from a wheel: the desktop's own icon is used then)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for png in sorted(icon_folder().glob("*/apps/chatapp.png")):
        icon.addFile(str(png))
    return icon


def run_app(argv: list[str] | None = None) -> int:
    """Start the GUI (or bring the running one forward); returns the exit code.

    Order matters for a calm start: settings, language, look and fonts are applied before the
    window exists (no flash of the wrong theme or language); the window shows before the model
    process has started and before the database finished opening (both happen off the GUI
    thread or just after the first paint).
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatapp.core.app_settings import load_app_settings
    from chatapp.core.markdown_render import warm_up
    from chatapp.models.starter import is_installed, starter_path
    from chatapp.paths import data_dir, logs_dir, read_config_value, write_config_value
    from chatapp.services.engine_service import EngineService
    from chatapp.services.i18n import Translations
    from chatapp.services.store_service import StoreService
    from chatapp.ui.fonts import ensure_cjk_font
    from chatapp.ui.main_window import MainWindow
    from chatapp.ui.single_instance import SingleInstance, bring_to_front, instance_key
    from chatapp.ui.theme import apply_theme

    app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("chatapp")
    # Wayland and docks match the window to the installed chatapp.desktop (menu icon, name).
    app.setDesktopFileName("chatapp")
    app.setWindowIcon(app_icon())
    app.setApplicationVersion(__version__)
    folder = data_dir()
    instance = SingleInstance(instance_key(folder), parent=app)
    if not instance.claim():
        print("chatapp is already running: its window was brought forward.", file=sys.stderr)
        return 0
    settings = load_app_settings()
    ensure_cjk_font()
    translations = Translations(app)
    try:
        translations.apply(settings.language)
    except (FileNotFoundError, ValueError) as exc:  # a damaged install: English still works
        print(f"chatapp: {exc}", file=sys.stderr)
    dark = apply_theme(app, settings.theme)
    # Opens the database on its worker thread: the window shows before a slow open ends.
    store = StoreService(parent=app)
    engine = EngineService(log_path=logs_dir() / "engine.log")
    window = MainWindow(engine, store, None, app_settings=settings, translations=translations)
    window.chat.set_dark(dark)
    window.chat.set_font_size(settings.font_size)
    window.restore_layout()
    instance.sig_activate.connect(lambda: bring_to_front(window))
    window.show()

    def remember(path: Path) -> None:
        recent = [str(path)] + [p for p in (read_config_value(RECENT_KEY) or [])
                                if isinstance(p, str) and p != str(path)]
        with contextlib.suppress(OSError):  # a convenience, not data
            write_config_value(RECENT_KEY, recent[:10])
        window.model_bar.set_models([Path(p) for p in recent[1:]], path)

    window.sig_model_chosen.connect(remember)
    recent = [Path(p) for p in (read_config_value(RECENT_KEY) or []) if isinstance(p, str)]
    window.model_bar.set_models(recent, None)

    def engine_started() -> None:
        # The model used last, else the starter model.
        last = next((p for p in recent if p.is_file()), None)
        if last is not None:
            window.load_model(last)
        elif is_installed():
            window.load_model(starter_path())

    # Off the GUI thread: starting the model process takes ~0.2-0.3 s, the window paints meanwhile.
    engine.sig_started.connect(engine_started)
    engine.sig_start_failed.connect(window.model_bar.show_failed)
    engine.start_in_background()
    # Markdown and the code highlighter load once, when the window is idle, instead of as a
    # ~45 ms pause at the first message.
    QTimer.singleShot(300, warm_up)
    # Ctrl+C in a terminal or a polite kill: quit through the event loop, so that the database
    # and the model process are closed as on a normal exit.  Python only runs signal handlers
    # between bytecodes, so a timer gives it a chance while Qt waits for events.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.quit())
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
    if probe := os.environ.get(STARTUP_PROBE_ENV):
        _startup_probe(app, window, float(probe))
    app.aboutToQuit.connect(engine.shutdown)
    # After the window's last writes were queued: close() saves them, then the database.
    app.aboutToQuit.connect(store.close)
    return app.exec()


def _startup_probe(app: QApplication, window: QWidget, spawned_at: float) -> None:
    """Print how long after `spawned_at` the window was shown, first painted and served by the
    event loop, as `chatapp-<stage> <seconds>` lines on stdout, then quit (benchmarks/ui.py).

    The stages are timed separately because their order depends on the platform plugin: a
    zero timer is a posted event, which may run before or after the expose event that paints.
    """
    from PySide6.QtCore import QEvent, QObject, QTimer

    def say(stage: str) -> None:
        print(f"chatapp-{stage} {time.time() - spawned_at:.4f}", flush=True)

    seen: set[str] = set()

    def reached(stage: str) -> None:
        if stage not in seen:
            seen.add(stage)
            say(stage)
        if {"interactive", "painted"} <= seen:
            window.removeEventFilter(watcher)
            app.quit()

    class PaintWatcher(QObject):
        """Notices the window's first paint (the window is painted before its children, and
        a filter on it alone adds no Python call to every other event of the app)."""

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                reached("painted")
            return False

    say("shown")
    watcher = PaintWatcher(window)
    window.installEventFilter(watcher)
    QTimer.singleShot(0, lambda: reached("interactive"))
