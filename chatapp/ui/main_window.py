"""The chat window: conversation sidebar, model bar, transcript, composer.

Conversations are saved as they happen: the user's message is committed before the model is
asked for a reply, and the reply is checkpointed while it streams (by a `ReplyWriter` that
lives on the store's worker thread, so saving costs the GUI thread nothing).  The transcript
is plain text for now (Markdown rendering comes later); model text is only ever inserted as
plain text, so it can neither load resources nor hide itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.sampling import SamplingSettings
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.entities import Conversation, Message
from chatapp.storage.reply_writer import ReplyWriter
from chatapp.storage.repository import ChatStore
from chatapp.ui.sidebar import ConversationSidebar


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


class _ReplySave:
    """One reply's saving, touched only on the store's worker thread.

    The GUI thread creates this empty and queues `begin`, then `token`, `done` or `failed`
    through `StoreService.run`/`write`; the worker runs them in that order, so the
    `ReplyWriter` inside is never shared between threads.

    Attributes:
        conversation_id: the conversation the reply belongs to.
        writer: the reply's writer once `begin` ran (None if it failed).
    """

    def __init__(self, conversation_id: str) -> None:
        """A save for a reply in `conversation_id` (nothing written yet)."""
        self.conversation_id = conversation_id
        self.writer: ReplyWriter | None = None

    def begin(self, store: ChatStore, parent_id: str) -> None:
        """Worker: create the 'streaming' reply below the user's message."""
        message = store.begin_reply(self.conversation_id, parent_id)
        self.writer = ReplyWriter(store, message.id)

    def token(self, event: dict[str, Any]) -> None:
        """Worker: one token (checkpointed when due)."""
        if self.writer is not None:
            self.writer.token(event)

    def done(self, event: dict[str, Any]) -> Message | None:
        """Worker: the reply's end (complete, or cancelled by Stop)."""
        return self.writer.done(event) if self.writer is not None else None

    def failed(self, message: str, *, cancelled: bool = False) -> Message | None:
        """Worker: the reply ended without a `done` event."""
        if self.writer is None:
            return None
        return self.writer.failed(message, cancelled=cancelled)


class MainWindow(QMainWindow):
    """Conversations with a local model, saved as they happen and restored at start.

    Attributes:
        store: the chat database (shared with the sidebar).
        sidebar: the conversation list.
        conversation_id: the conversation shown, or None before the first one exists.
        messages: the shown conversation's active path (role, content), as sent to the model.
        last_summary: the `done` event of the last reply (speed, seed, finish reason).
    """

    def __init__(self, engine: EngineService, store: StoreService,
                 model_path: Path | None) -> None:
        """Build the widgets, restore the most recent conversation; loads `model_path` if
        given."""
        super().__init__()
        self.engine = engine
        self.store = store
        self.conversation_id: str | None = None
        self.messages: list[dict[str, str]] = []
        self.last_summary: dict[str, Any] | None = None
        self._model_name: str | None = None
        self._load_id: str | None = None
        self._gen_id: str | None = None
        self._reply = ""
        #: The status bar's text for the last reply ('' before one).
        self._summary_text = ""
        #: The reply being generated and saved (None between replies).
        self._save: _ReplySave | None = None
        #: True from Send until the reply ends: no second message meanwhile.
        self._busy = False
        #: Bumped on every conversation switch, so that a slow load that was overtaken by a
        #: later choice does not overwrite the transcript.
        self._load_seq = 0
        self._ready = False
        self.setWindowTitle("chatapp")
        self.resize(1100, 700)

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

        chat = QWidget()
        layout = QVBoxLayout(chat)
        layout.addLayout(top)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(bottom)

        self.sidebar = ConversationSidebar(store)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(chat)
        self.splitter.setStretchFactor(1, 1)  # a wider window widens the chat, not the list
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([280, 820])
        self.setCentralWidget(self.splitter)
        # Ctrl+N is a window shortcut, but it only fires for actions of the active window.
        self.addAction(self.sidebar.action_new_chat)
        self.addAction(self.sidebar.action_search)

        #: What the model bar says, as data, so that a language switch can say it again.
        self._model_state: tuple[str, str] = ("none", "")
        self._retranslate()
        self.statusBar().showMessage(self.tr("Starting the model process…"))

        self.sidebar.sig_conversation_selected.connect(self.open_conversation)
        self.sidebar.sig_new_chat.connect(self.new_chat)
        store.sig_error.connect(self._on_store_error)
        engine.sig_event.connect(self._on_event)
        if store.is_open:
            self._on_store_opened(store.notice)
        else:
            store.sig_opened.connect(self._on_store_opened)
        if model_path is not None:
            self.load_model(model_path)

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop a reply in flight and save it as cancelled: its `done` event would come
        after the store is closed."""
        if self._gen_id is not None and self._save is not None:
            self.engine.cancel(self._gen_id)
            save = self._save
            self.store.run(lambda s: save.failed("", cancelled=True))
            self._gen_id, self._save, self._busy = None, None, False
        super().closeEvent(event)

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

    # -- the store ------------------------------------------------------------------------------

    def _on_store_opened(self, notice: str | None) -> None:
        if notice:
            # Non-modal: a recovered or read-only history is news, not a question, and the
            # window should stay usable behind it.
            self.statusBar().showMessage(notice)
            box = QMessageBox(QMessageBox.Icon.Information, self.tr("Chat history"), notice,
                              QMessageBox.StandardButton.Ok, self)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        # Restart restores everything: show the conversation written last.
        self.store.run(lambda s: s.list_conversations(limit=1), self._restore_latest)

    def _restore_latest(self, latest: list[Conversation]) -> None:
        if latest and self.conversation_id is None and not self._busy:
            self.sidebar.select_conversation(latest[0].id)
            self.open_conversation(latest[0].id)

    def _on_store_error(self, message: str) -> None:
        self.statusBar().showMessage(message)

    # -- conversations --------------------------------------------------------------------------

    def new_chat(self) -> None:
        """Create an empty conversation (the loaded model, default sampling) and show it."""
        model = self._model_name

        def create(s: ChatStore) -> Conversation:
            return s.create_conversation(model=model)

        self.store.write(create, Changed(lists=True), self._show_new)

    def _show_new(self, conversation: Conversation) -> None:
        self.sidebar.select_conversation(conversation.id)
        self._show_conversation(conversation, [])

    def open_conversation(self, conversation_id: str) -> None:
        """Load the conversation's active path (on the worker) and show it."""
        self._load_seq += 1
        seq = self._load_seq
        self.conversation_id = conversation_id

        def load(s: ChatStore) -> tuple[Conversation, list[Message]]:
            return s.get_conversation(conversation_id), s.active_path(conversation_id)

        def show(result: tuple[Conversation, list[Message]]) -> None:
            if seq == self._load_seq:
                self._show_conversation(*result)

        self.store.run(load, show)

    def _show_conversation(self, conversation: Conversation, path: list[Message]) -> None:
        self._load_seq += 1  # a load still on its way is older than this
        self.conversation_id = conversation.id
        streaming = self._busy and self._save is not None \
            and self._save.conversation_id == conversation.id
        # The reply in flight is shown from what the GUI received, which is ahead of its
        # last checkpoint; it joins `messages` when it ends.
        shown = [m for m in path if not (streaming and m.status == "streaming")]
        self.messages = [{"role": m.role, "content": m.content} for m in shown]
        if self._summary_text and self.statusBar().currentMessage() == self._summary_text:
            # The speed and seed of a reply elsewhere would read as this conversation's.
            self.statusBar().clearMessage()
        self.transcript.clear()
        for m in shown:
            self._append(self._header(m.role) + m.content + self._status_note(m) + "\n")
        if streaming:
            self._append(self._header("assistant") + self._reply)

    def _header(self, role: str) -> str:
        names = {"user": self.tr("You"), "assistant": self.tr("Assistant"),
                 "system": self.tr("System")}
        return f"\n{names.get(role, role)}\n"

    def _status_note(self, message: Message) -> str:
        if message.status == "error":
            return "\n[" + self.tr("error: {message}").format(message=message.error or "") + "]"
        if message.status == "cancelled":
            return "\n[" + self.tr("stopped") + "]"
        if message.status == "interrupted":
            return "\n[" + self.tr("interrupted: chatapp closed during this reply") + "]"
        return ""

    # -- actions --------------------------------------------------------------------------------

    def load_model(self, path: Path) -> None:
        """Load a model in the model process (the window stays responsive)."""
        self._ready = False
        self._model_name = path.name
        self._set_model_state("loading", path.name)
        self._load_id = self.engine.load(path, n_ctx=4096)

    def _choose_model(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open model"), "", self.tr("GGUF models (*.gguf)")
        )
        if name:
            self.load_model(Path(name))

    def send(self) -> None:
        """Save the composer's text as the next user message, then ask for a reply.

        With no conversation shown, one is created first (in the same transaction).
        """
        text = self.composer.toPlainText().strip()
        if not text or self._busy:
            return
        if not self._ready:
            self.statusBar().showMessage(self.tr("Load a model first."))
            return
        if not self.store.is_open:
            self.statusBar().showMessage(self.tr("The chat history is not open yet."))
            return
        self._busy = True
        self.send_button.setEnabled(False)
        cid, model = self.conversation_id, self._model_name

        def add(s: ChatStore) -> tuple[Conversation, Message, list[Message]]:
            conversation = s.get_conversation(cid) if cid else s.create_conversation(model=model)
            user = s.add_message(conversation.id, "user", text)
            # The prompt comes from the database, not the transcript: the user may have
            # switched conversations while this was on its way.
            return conversation, user, s.active_path(conversation.id)

        def failed(error: Exception) -> None:
            # Nothing was saved, so nothing is sent: the text goes back to the composer.
            self._busy = False
            self.send_button.setEnabled(True)
            if not self.composer.toPlainText():
                self.composer.setPlainText(text)
            self.store.report(error)

        self.composer.clear()
        self.store.write(add, Changed(frozenset({cid} if cid else ()), lists=True),
                         self._user_saved, failed)

    def _user_saved(self, result: tuple[Conversation, Message, list[Message]]) -> None:
        """The user's message is committed: only now does the model get it."""
        conversation, user, path = result
        self._reply = ""
        prompt = [{"role": m.role, "content": m.content} for m in path
                  if m.content and m.status != "streaming"]  # a reply stopped at once is empty
        if conversation.system_prompt:
            prompt.insert(0, {"role": "system", "content": conversation.system_prompt})
        try:
            sampling = SamplingSettings.from_dict(conversation.sampling)
        except (TypeError, ValueError):
            sampling = SamplingSettings()  # written by a newer chatapp or by hand
        self._gen_id = self.engine.generate(prompt, sampling)
        save = self._save = _ReplySave(conversation.id)
        # Queued after the generate command, but the worker runs it before any token's save.
        self.store.run(lambda s: save.begin(s, user.id))
        self.stop_button.setEnabled(True)
        if self.conversation_id in (None, conversation.id):
            self.sidebar.select_conversation(conversation.id)
            # Redrawn from the database: the one place that knows what was saved.
            self._show_conversation(conversation, path)

    def stop(self) -> None:
        """Stop the reply being generated (what was written so far is kept, as cancelled)."""
        if self._gen_id is not None:
            self.engine.cancel(self._gen_id)

    # -- events from the model process ----------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, req_id = event["type"], event.get("id")
        if kind == "token" and req_id == self._gen_id:
            self._reply += event["text"]
            if self._save is not None:
                save = self._save
                self.store.run(lambda s: save.token(event))
            if self._showing_reply():
                self._append(event["text"])
        elif kind == "done" and req_id == self._gen_id:
            self._reply += event.get("tail", "")
            if self._showing_reply():
                self._append(event.get("tail", "") + "\n")
            if self._save is not None:
                save = self._save
                self.store.write(lambda s: save.done(event),
                                 Changed(frozenset({save.conversation_id}), lists=True))
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

    def _showing_reply(self) -> bool:
        """True while the reply's conversation is the one shown."""
        return self._save is not None and self._save.conversation_id == self.conversation_id

    def _on_error(self, event: dict[str, Any]) -> None:
        message = str(event["message"])
        crashed = event.get("code") == "crashed"
        # A crash may carry no request id, yet it ends the reply all the same.
        if self._gen_id is not None and (event.get("id") == self._gen_id or crashed):
            if self._showing_reply():
                self._append("\n[" + self.tr("error: {message}").format(message=message) + "]\n")
            if self._save is not None:
                save = self._save
                self.store.write(lambda s: save.failed(message),
                                 Changed(frozenset({save.conversation_id}), lists=True))
            self._finish_reply(None)
        if event.get("id") == self._load_id or crashed:  # no model is usable now
            self._ready = False
            self._set_model_state("failed", message)
        self.statusBar().showMessage(message)

    def _finish_reply(self, summary: dict[str, Any] | None) -> None:
        if self._reply and self._showing_reply():
            self.messages.append({"role": "assistant", "content": self._reply})
        self._gen_id = None
        self._save = None
        self._busy = False
        self.stop_button.setEnabled(False)
        self.send_button.setEnabled(True)
        if summary is not None:
            self.last_summary = summary
            self._summary_text = self.tr(
                "{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}"
            ).format(n=summary["generated_tokens"], speed=summary["tokens_per_s"],
                     ttft=summary["time_to_first_token_ms"], reason=summary["finish_reason"],
                     seed=summary["seed"])
            self.statusBar().showMessage(self._summary_text)

    def _append(self, text: str) -> None:
        """Insert plain text at the end; scroll along only if the reader is at the bottom."""
        bar = self.transcript.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        document = self.transcript.document()
        if document.isEmpty():
            text = text.lstrip("\n")  # the blank line before a header separates, not leads
        cursor = QTextCursor(document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if at_bottom:
            bar.setValue(bar.maximum())
