"""The chat window: model bar, transcript, composer.

This is the first, plain version: replies stream as text (Markdown rendering, conversations and
settings come with the full desktop app).  Model text is only ever inserted as plain text, so it
can neither load resources nor hide itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.sampling import SamplingSettings
from chatapp.services.engine_service import EngineService


class Composer(QPlainTextEdit):
    """Message editor: Enter sends, Shift+Enter inserts a new line, Esc stops the reply.

    Signals:
        sig_send(): the user pressed Enter.
        sig_stop(): the user pressed Esc.
    """

    sig_send = Signal()
    sig_stop = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Route Enter and Esc; everything else edits."""
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            mods & Qt.KeyboardModifier.ShiftModifier
        ):
            self.sig_send.emit()
        elif key == Qt.Key.Key_Escape:
            self.sig_stop.emit()
        else:
            super().keyPressEvent(event)


class MainWindow(QMainWindow):
    """One conversation with one model, streamed from the model process.

    Attributes:
        messages: the conversation so far, as sent to the model.
        last_summary: the `done` event of the last reply (speed, seed, finish reason).
    """

    def __init__(self, engine: EngineService, model_path: Path | None) -> None:
        """Build the widgets; loads `model_path` if given."""
        super().__init__()
        self.engine = engine
        self.messages: list[dict[str, str]] = []
        self.last_summary: dict[str, Any] | None = None
        self._load_id: str | None = None
        self._gen_id: str | None = None
        self._reply = ""
        self._ready = False
        self.setWindowTitle("chatapp")
        self.resize(900, 700)

        self.model_label = QLabel()
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)
        self.model_label.setWordWrap(True)
        self.open_button = open_button = QPushButton()
        open_button.clicked.connect(self._choose_model)
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(open_button)

        self.transcript = QTextBrowser()
        self.transcript.setOpenLinks(False)
        self.transcript.setOpenExternalLinks(False)

        self.composer = Composer()
        self.composer.setMaximumHeight(110)
        self.composer.sig_send.connect(self.send)
        self.composer.sig_stop.connect(self.stop)
        self.send_button = QPushButton()
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton()
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.composer, 1)
        bottom.addLayout(buttons)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(bottom)
        self.setCentralWidget(central)
        #: What the model bar says, as data, so that a language switch can say it again.
        self._model_state: tuple[str, str] = ("none", "")
        self._retranslate()
        self.statusBar().showMessage(self.tr("Starting the model process…"))

        engine.sig_event.connect(self._on_event)
        if model_path is not None:
            self.load_model(model_path)

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.open_button.setText(self.tr("Open model…"))
        self.transcript.setPlaceholderText(self.tr("Replies appear here."))
        self.composer.setPlaceholderText(
            self.tr("Type a message. Enter sends, Shift+Enter starts a new line, Esc stops.")
        )
        self.send_button.setText(self.tr("Send"))
        self.stop_button.setText(self.tr("Stop"))
        self._show_model_state()

    def _set_model_state(self, state: str, detail: str = "") -> None:
        self._model_state = (state, detail)
        self._show_model_state()

    def _show_model_state(self) -> None:
        state, detail = self._model_state
        texts = {
            "none": self.tr("No model yet. Install the starter model with `chatapp models "
                            "starter`, or open a GGUF file."),
            "loading": self.tr("Loading {name}…").format(name=detail),
            "ready": detail,
            "failed": self.tr("Model not loaded: {reason}").format(reason=detail),
        }
        self.model_label.setText(texts[state])

    # -- actions --------------------------------------------------------------------------------

    def load_model(self, path: Path) -> None:
        """Load a model in the model process (the window stays responsive)."""
        self._ready = False
        self._set_model_state("loading", path.name)
        self._load_id = self.engine.load(path, n_ctx=4096)

    def _choose_model(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open model"), "", self.tr("GGUF models (*.gguf)")
        )
        if name:
            self.load_model(Path(name))

    def send(self) -> None:
        """Send the composer's text as the next user message."""
        text = self.composer.toPlainText().strip()
        if not text or self._gen_id is not None:
            return
        if not self._ready:
            self.statusBar().showMessage(self.tr("Load a model first."))
            return
        self.composer.clear()
        self.messages.append({"role": "user", "content": text})
        you, assistant = self.tr("You"), self.tr("Assistant")  # (lupdate misses f-strings)
        self._append(f"\n{you}\n{text}\n\n{assistant}\n")
        self._reply = ""
        self._gen_id = self.engine.generate(self.messages, SamplingSettings())
        self.stop_button.setEnabled(True)
        self.send_button.setEnabled(False)

    def stop(self) -> None:
        """Stop the reply being generated (what was written so far is kept)."""
        if self._gen_id is not None:
            self.engine.cancel(self._gen_id)

    # -- events from the model process ----------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, req_id = event["type"], event.get("id")
        if kind == "token" and req_id == self._gen_id:
            self._reply += event["text"]
            self._append(event["text"])
        elif kind == "done" and req_id == self._gen_id:
            self._reply += event.get("tail", "")
            self._append(event.get("tail", "") + "\n")
            self._finish_reply(event)
        elif kind == "progress" and req_id == self._load_id:
            self.statusBar().showMessage(
                self.tr("Loading the model: {percent:.0f}%").format(percent=event["progress"] * 100)
            )
        elif kind == "loaded" and req_id == self._load_id:
            self._ready = True
            m = event["model"]
            self._set_model_state("ready", self.tr(
                "{name} · {arch} · {params:.0f}M parameters · {quant} · context {ctx} · "
                "threads {threads} · GPU layers {gpu}"
            ).format(name=Path(m["path"]).name, arch=m["architecture"],
                     params=m["parameters"] / 1e6, quant=m["quantization"], ctx=m["n_ctx"],
                     threads=m["n_threads"], gpu=m["n_gpu_layers"]))
            self.statusBar().showMessage(self.tr("Ready."))
        elif kind == "error":
            self._on_error(event)

    def _on_error(self, event: dict[str, Any]) -> None:
        message = str(event["message"])
        if event.get("id") == self._gen_id and self._gen_id is not None:
            self._append("\n[" + self.tr("error: {message}").format(message=message) + "]\n")
            self._finish_reply(None)
        if event.get("id") == self._load_id or event.get("code") == "crashed":
            self._ready = event.get("id") != self._load_id and self._ready
            if event.get("code") == "crashed":
                self._ready = False
            self._set_model_state("failed", message)
        self.statusBar().showMessage(message)

    def _finish_reply(self, summary: dict[str, Any] | None) -> None:
        if self._reply:
            self.messages.append({"role": "assistant", "content": self._reply})
        self._gen_id = None
        self.stop_button.setEnabled(False)
        self.send_button.setEnabled(True)
        if summary is not None:
            self.last_summary = summary
            self.statusBar().showMessage(self.tr(
                "{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}"
            ).format(n=summary["generated_tokens"], speed=summary["tokens_per_s"],
                     ttft=summary["time_to_first_token_ms"], reason=summary["finish_reason"],
                     seed=summary["seed"]))

    def _append(self, text: str) -> None:
        """Insert plain text at the end; scroll along only if the reader is at the bottom."""
        bar = self.transcript.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.transcript.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if at_bottom:
            bar.setValue(bar.maximum())
