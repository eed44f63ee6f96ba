"""The chat window: conversation sidebar, model bar, message cards, composer, context meter.

Conversations are saved as they happen: the user's message is committed before the model is
asked for a reply, and the reply is checkpointed while it streams (by a `ReplyWriter` that
lives on the store's worker thread, so saving costs the GUI thread nothing).  What the window
shows is redrawn from what the store returns, the one place that knows what was saved.

Every way of getting a reply (send, edit, regenerate, continue) ends in `_start_reply`, with
the path the reply follows and, for a continuation, the reply it extends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.app_settings import AppSettings, save_app_settings
from chatapp.core.sampling import SamplingSettings
from chatapp.engine.remote import server_label
from chatapp.models.starter import install_starter, is_installed
from chatapp.paths import (
    configured_data_dir,
    data_dir,
    read_config_value,
    set_configured_data_dir,
    write_config_value,
)
from chatapp.services.engine_service import EngineService
from chatapp.services.i18n import Translations
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.entities import Branch, Conversation, DeletedMessages, Message, Preset
from chatapp.storage.records import RecordTable
from chatapp.storage.repository import DEFAULT_SAMPLING_KEY, ChatStore
from chatapp.ui.chat_view import INITIAL_MESSAGES, ChatView
from chatapp.ui.composer import Composer
from chatapp.ui.inside import InsidePanel
from chatapp.ui.message_view import confirm_and_open
from chatapp.ui.model_bar import ModelBar
from chatapp.ui.model_management import ModelManagement, dropped_model_paths
from chatapp.ui.remote_glue import RemoteGlue
from chatapp.ui.reply_save import ReplySave
from chatapp.ui.settings_dialog import SettingsDialog, SettingsValues
from chatapp.ui.shortcut_sheet import ShortcutSection, ShortcutSheet
from chatapp.ui.sidebar import ConversationSidebar
from chatapp.ui.theme import apply_theme


@dataclass(frozen=True)
class _Shown:
    """A conversation as loaded for display (plain values from the worker)."""

    conversation: Conversation
    path: list[Message]
    earlier: int
    branches: dict[str, Branch]


def _load_shown(store: ChatStore, conversation_id: str, limit: int) -> _Shown:
    """Worker: the conversation, the tail of its active path and the alternatives' places."""
    path, earlier = store.active_path_tail(conversation_id, limit)
    return _Shown(store.get_conversation(conversation_id), path, earlier,
                  store.branches(conversation_id))


#: Config-file key of the window's layout.
LAYOUT_KEY = "window"


def _presets(presets: list[Preset]) -> dict[str, SamplingSettings]:
    """Presets as the settings dialog takes them (ones a newer chatapp wrote are skipped)."""
    result: dict[str, SamplingSettings] = {}
    for p in presets:
        try:
            result[p.name] = SamplingSettings.from_dict(p.sampling)
        except (TypeError, ValueError):
            continue
    return result


class MainWindow(QMainWindow):
    """Conversations with a local model, saved as they happen and restored at start.

    Signals:
        sig_model_chosen(Path): a model is being loaded (for the recent-models list).

    Attributes:
        store: the chat database (shared with the sidebar).
        sidebar: the conversation list.
        chat: the shown conversation's message cards.
        conversation_id: the conversation shown, or None before the first one exists.
        last_summary: the `done` event of the last reply (speed, seed, finish reason), less its
            records blob.
        context: the last context report (prompt_tokens, n_ctx, dropped_messages), or None.
        remote: models on OpenAI-compatible servers (chatapp.ui.remote_glue).
    """

    sig_model_chosen = Signal(object)
    _sig_installed = Signal(object)

    def __init__(self, engine: EngineService, store: StoreService,
                 model_path: Path | None, *, app_settings: AppSettings | None = None,
                 translations: Translations | None = None) -> None:
        """Build the widgets, restore the most recent conversation; loads `model_path` if
        given.  `app_settings` says how to load models and how the app looks (defaults when
        None); `translations` switches the language when the settings change it."""
        super().__init__()
        self.app_settings = app_settings or AppSettings()
        self.translations = translations
        self._sig_installed.connect(self._on_installed, Qt.ConnectionType.QueuedConnection)
        self.engine = engine
        self.store = store
        self.conversation_id: str | None = None
        self.last_summary: dict[str, Any] | None = None
        self.context: dict[str, int] | None = None
        self._model_name: str | None = None
        self._load_id: str | None = None
        self._gen_id: str | None = None
        self._n_ctx = 0
        #: Text and token count of the reply in flight.
        self._reply = ""
        self._generated = 0
        #: The reply in flight as a message (its id once the store created it).
        self._stream_message: Message | None = None
        #: The reply being generated and saved (None between replies).
        self._save: ReplySave | None = None
        #: True from Send until the reply ends: no second message meanwhile.
        self._busy = False
        #: Bumped on every conversation switch, so that a slow load that was overtaken by a
        #: later choice does not overwrite what is shown.
        self._load_seq = 0
        self._limit = INITIAL_MESSAGES
        self._ready = False
        #: The user message being edited in the composer, and the draft it replaced.
        self._editing: Message | None = None
        self._draft = ""
        #: The last message deletion, while its undo is offered.
        self._deleted: DeletedMessages | None = None
        self.setWindowTitle("chatapp")
        self.resize(1440, 860)

        self.model_bar = ModelBar()
        self.model_bar.sig_load_requested.connect(self.load_model)
        self.model_bar.sig_install_starter.connect(self.install_starter)
        self.model_bar.show_no_model(starter_available=not is_installed())
        #: The model file loaded or being loaded.
        self.model_path: Path | None = None
        self._installer = ThreadPoolExecutor(1, thread_name_prefix="chatapp-starter")
        #: The load settings of the last load (a retry after running out of memory
        #: starts from them).
        self._load_kwargs: dict[str, Any] = {}
        #: The Models window, downloads and imports.
        self.models = ModelManagement(self, engine, lambda: self.app_settings.n_ctx or 4096)
        self.models.sig_load.connect(self.load_model)
        self.models.sig_library_changed.connect(self.model_bar.refresh_models)
        self.model_bar.sig_manage_models.connect(self.models.open_window)
        # A .gguf file dropped anywhere on the window is imported and loaded.
        self.setAcceptDrops(True)
        #: The settings dialog while it is open.
        self.settings_dialog: SettingsDialog | None = None

        self.chat = ChatView()
        self.chat.sig_action.connect(self._on_message_action)
        self.chat.sig_show_earlier.connect(self._show_earlier)
        self.chat.sig_link_requested.connect(lambda url: confirm_and_open(self, url))

        self.undo_bar = QFrame()
        self.undo_bar.setFrameShape(QFrame.Shape.StyledPanel)
        self.undo_label = QLabel()
        self.undo_label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton()
        self.undo_button.clicked.connect(self.undo_delete)
        close_undo = QToolButton()
        close_undo.setText("×")
        close_undo.setAutoRaise(True)
        close_undo.clicked.connect(self._close_undo)
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(8, 2, 2, 2)
        undo_row.addWidget(self.undo_label, 1)
        undo_row.addWidget(self.undo_button)
        undo_row.addWidget(close_undo)
        self.undo_bar.hide()

        self.edit_banner = QLabel()
        self.edit_banner.setTextFormat(Qt.TextFormat.PlainText)
        self.edit_banner.hide()
        self.composer = Composer()
        self.composer.setMaximumHeight(120)
        self.composer.sig_send.connect(self.send)
        self.composer.sig_stop.connect(self._on_escape)
        self.composer.sig_edit_last.connect(self.edit_last_message)
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

        self.context_bar = QProgressBar()
        self.context_bar.setTextVisible(False)
        self.context_bar.setMaximumHeight(6)
        self.context_bar.setRange(0, 1)
        self.context_bar.setValue(0)
        self.context_label = QLabel()
        self.context_label.setTextFormat(Qt.TextFormat.PlainText)
        self.context_label.setForegroundRole(self.palette().ColorRole.PlaceholderText)
        meter = QHBoxLayout()
        meter.addWidget(self.context_bar, 1)
        meter.addWidget(self.context_label, 3)

        chat = QWidget()
        layout = QVBoxLayout(chat)
        layout.addWidget(self.model_bar)
        layout.addWidget(self.chat, 1)
        layout.addWidget(self.undo_bar)
        layout.addWidget(self.edit_banner)
        layout.addLayout(bottom)
        layout.addLayout(meter)

        self.sidebar = ConversationSidebar(store)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(chat)
        self.splitter.setStretchFactor(1, 1)  # a wider window widens the chat, not the list
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([260, 700])
        self.setCentralWidget(self.splitter)
        self.inside = InsidePanel(self)
        self.inside.setMinimumWidth(360)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inside)
        self.inside.sig_branch_requested.connect(self.branch_here)
        self.inside.sig_attention_requested.connect(self.capture_attention)
        #: The attention capture in flight: (request id, message id).
        self._attention_req: tuple[str, str] | None = None
        #: Models on OpenAI-compatible servers: the model menu's servers, "Connect to…".
        self.remote = RemoteGlue(self, engine, self.model_bar, self.inside, self.load_remote)
        # Ctrl+N is a window shortcut, but it only fires for actions of the active window.
        self.addAction(self.sidebar.action_new_chat)
        self.addAction(self.sidebar.action_search)
        self._make_actions()

        self._retranslate()
        self.statusBar().showMessage(self.tr("Starting the model process…"))

        self.sidebar.sig_conversation_selected.connect(self.open_conversation)
        self.sidebar.sig_new_chat.connect(self.new_chat)
        self.sidebar.sig_message_selected.connect(self.open_message)
        store.sig_error.connect(self._on_store_error)
        engine.sig_event.connect(self._on_event)
        if store.is_open:
            self._on_store_opened(store.notice)
        else:
            store.sig_opened.connect(self._on_store_opened)
        if model_path is not None:
            self.load_model(model_path)

    def _make_actions(self) -> None:
        """The window's keyboard shortcuts (listed by the shortcut sheet)."""
        def action(keys: list[QKeySequence | str], slot: Callable[[], object]) -> QAction:
            a = QAction(self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        std = QKeySequence.StandardKey
        self.action_settings = action([QKeySequence(std.Preferences), "Ctrl+,"],
                                      self.open_settings)
        self.action_open_model = action([QKeySequence(std.Open)],
                                        self.model_bar.open_action.trigger)
        self.action_models = action(["Ctrl+Shift+M"], self.models.open_window)
        self.action_stop = action(["Ctrl+."], self.stop)
        self.action_regenerate = action(["Ctrl+R"], lambda: self._on_last_reply("regenerate"))
        self.action_continue = action(["Ctrl+Shift+R"], lambda: self._on_last_reply("continue"))
        self.action_copy_reply = action(["Ctrl+Shift+C"], lambda: self._on_last_reply("copy"))
        self.action_previous = action(["Alt+Left"], lambda: self._on_last_reply("previous"))
        self.action_next = action(["Alt+Right"], lambda: self._on_last_reply("next"))
        self.action_focus_composer = action(["Ctrl+L"], self.composer.setFocus)
        self.action_toggle_sidebar = action(["Ctrl+B"], lambda: self.sidebar.setVisible(
            not self.sidebar.isVisible()))
        self.action_shortcuts = action(["Ctrl+/", QKeySequence(std.HelpContents)],
                                       self.show_shortcuts)
        self.action_quit = action([QKeySequence(std.Quit), "Ctrl+Q"], self.close)
        # The menus make every action findable without knowing its key.
        bar = self.menuBar()
        self.menu_file = bar.addMenu("")
        self.menu_file.addActions([self.sidebar.action_new_chat, self.action_open_model,
                                   self.action_models, self.action_settings])
        self.menu_file.addSeparator()
        self.menu_file.addAction(self.action_quit)
        self.menu_chat = bar.addMenu("")
        self.menu_chat.addActions([self.action_stop, self.action_regenerate,
                                   self.action_continue, self.action_copy_reply,
                                   self.action_previous, self.action_next])
        self.menu_view = bar.addMenu("")
        self.action_toggle_inside = self.inside.toggleViewAction()
        self.action_toggle_inside.setShortcut(QKeySequence("Ctrl+I"))
        self.addAction(self.action_toggle_inside)
        self.menu_view.addActions([self.sidebar.action_search, self.action_toggle_sidebar,
                                   self.action_toggle_inside, self.action_focus_composer])
        self.menu_help = bar.addMenu("")
        self.menu_help.addAction(self.action_shortcuts)

    def _on_last_reply(self, action: str) -> None:
        replies = [c for c in self.chat.cards if c.message.role == "assistant"]
        if replies and not replies[-1].streaming:
            self.chat._on_card_action(action, replies[-1].message.id)

    def show_shortcuts(self) -> None:
        """The sheet of keyboard shortcuts."""
        sheet = ShortcutSheet(self._shortcut_sections(), self)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        sheet.open()

    def _shortcut_sections(self) -> list[ShortcutSection]:
        sb = self.sidebar
        return [
            (self.tr("Conversations"), [sb.action_new_chat, sb.action_search, sb.action_rename,
                                        sb.action_delete, sb.action_undo_delete]),
            (self.tr("Writing"), [
                (self.tr("Send the message"), "Enter"),
                (self.tr("New line"), "Shift+Enter"),
                (self.tr("Stop the reply, or leave editing"), "Esc"),
                (self.tr("Edit your last message (in an empty box)"), "Up"),
                self.action_stop, self.action_focus_composer]),
            (self.tr("Replies"), [self.action_regenerate, self.action_continue,
                                  self.action_copy_reply, self.action_previous,
                                  self.action_next]),
            (self.tr("Window"), [self.action_open_model, self.action_models,
                                 self.action_settings,
                                 self.action_toggle_sidebar, self.action_toggle_inside,
                                 self.action_shortcuts,
                                 self.action_quit]),
        ]

    # -- settings -------------------------------------------------------------------------------

    def open_settings(self) -> None:
        """The settings dialog, filled with the shown conversation's sampling and system
        prompt and the saved presets (read on the store's worker first)."""
        cid = self.conversation_id

        def read(s: ChatStore) -> tuple[Conversation | None, list[Preset]]:
            return (s.get_conversation(cid) if cid else None), s.presets()

        self.store.run(read, self._show_settings)

    def _show_settings(self, result: tuple[Conversation | None, list[Preset]]) -> None:
        conversation, presets = result
        try:
            sampling = SamplingSettings.from_dict(conversation.sampling) if conversation \
                else SamplingSettings()
        except (TypeError, ValueError):
            sampling = SamplingSettings()
        dialog = SettingsDialog(
            self, app=self.app_settings, sampling=sampling,
            system_prompt=conversation.system_prompt if conversation else "",
            presets=_presets(presets), data_dir=data_dir(),
            configured_data_dir=configured_data_dir(), probe_workers=self._probe_workers)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "settings_dialog", None))
        target = conversation.id if conversation else None
        dialog.sig_applied.connect(lambda values: self.apply_settings(values, target))
        dialog.sig_save_preset.connect(lambda name, value: self._save_preset(dialog, name, value))
        self.settings_dialog = dialog
        dialog.open()

    def _probe_workers(self, endpoints: list[str]) -> list[dict[str, Any]]:
        """RPC workers' devices and free memory, asked of the model process (blocking: the
        settings dialog calls it off the GUI thread)."""
        reports = self.engine.client.workers(endpoints).get("workers") or []
        return [r for r in reports if isinstance(r, dict)]

    def _save_preset(self, dialog: SettingsDialog, name: str, sampling: SamplingSettings) -> None:
        def save(s: ChatStore) -> list[Preset]:
            s.save_preset(name, sampling.to_dict())
            return s.presets()

        self.store.write(save, Changed(), lambda presets: dialog.set_presets(_presets(presets)))

    def apply_settings(self, values: SettingsValues, conversation_id: str | None) -> None:
        """Use and save what the settings dialog says: the conversation's sampling and system
        prompt (and the sampling as the default of new conversations), the app's settings
        (saved in the config file; language and look apply at once, model settings at the
        next load) and the data folder (from the next start)."""
        sampling = values.sampling.to_dict()

        def save(s: ChatStore) -> None:
            if conversation_id is not None:
                s.set_sampling(conversation_id, sampling)
                s.set_system_prompt(conversation_id, values.system_prompt)
            s.set_setting(DEFAULT_SAMPLING_KEY, sampling)  # sticky: new chats start from it

        self.store.write(save, Changed(frozenset({conversation_id} if conversation_id else ())))
        old, self.app_settings = self.app_settings, values.app
        try:
            save_app_settings(values.app)
            if values.data_dir != configured_data_dir():
                set_configured_data_dir(values.data_dir)
        except OSError as exc:
            self.statusBar().showMessage(
                self.tr("The settings could not be saved: {reason}").format(reason=exc))
        if values.app.language != old.language and self.translations is not None:
            self.translations.apply(values.app.language)
        if (values.app.theme, values.app.font_size) != (old.theme, old.font_size):
            self.apply_look()
        if (values.app.engine_load_kwargs() != old.engine_load_kwargs()
                and self.model_path is not None and not self._busy):
            self.load_model(self.model_path)  # the model settings take effect now

    def apply_look(self) -> None:
        """Apply the theme and the chat font size of `app_settings`."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            dark = apply_theme(app, self.app_settings.theme)
            self.chat.set_dark(dark)
        self.chat.set_font_size(self.app_settings.font_size)

    # -- window layout --------------------------------------------------------------------------

    def restore_layout(self) -> None:
        """Size, position, splitter and sidebar as they were when the window last closed."""
        saved = read_config_value(LAYOUT_KEY)
        if not isinstance(saved, dict):
            return
        try:
            if isinstance(saved.get("geometry"), str):
                self.restoreGeometry(QByteArray.fromBase64(saved["geometry"].encode("ascii")))
            if isinstance(saved.get("splitter"), str):
                self.splitter.restoreState(QByteArray.fromBase64(
                    saved["splitter"].encode("ascii")))
            if saved.get("sidebar_hidden") is True:
                self.sidebar.hide()
            if isinstance(saved.get("docks"), str):  # the panel: shown, docked, its width
                self.restoreState(QByteArray.fromBase64(saved["docks"].encode("ascii")))
        except (UnicodeEncodeError, ValueError):
            pass  # a hand-edited file: the default layout is fine

    def save_layout(self) -> None:
        """Remember the window's layout (config file)."""
        layout = {
            "geometry": bytes(self.saveGeometry().toBase64().data()).decode("ascii"),
            "splitter": bytes(self.splitter.saveState().toBase64().data()).decode("ascii"),
            "sidebar_hidden": not self.sidebar.isVisible(),
            "docks": bytes(self.saveState().toBase64().data()).decode("ascii"),
        }
        # A read-only config folder: the layout is a convenience, not data.
        with contextlib.suppress(OSError):
            write_config_value(LAYOUT_KEY, layout)

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
            self._gen_id, self._save = None, None
            self._set_busy(False)
        if self.isVisible():
            self.save_layout()
        self._installer.shutdown(wait=False, cancel_futures=True)
        self.models.shutdown()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept drags that carry .gguf files."""
        if dropped_model_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Import dropped .gguf files into the library and load the first usable one."""
        paths = dropped_model_paths(event.mimeData())
        if not paths:
            super().dropEvent(event)
            return
        event.acceptProposedAction()
        imported = self.models.import_dropped(paths)
        if imported:
            self.load_model(imported[0])

    def _retranslate(self) -> None:
        for action, text in (
                (self.action_settings, self.tr("Settings…")),
                (self.action_open_model, self.tr("Open a model…")),
                (self.action_models, self.tr("Models: library and downloads…")),
                (self.action_stop, self.tr("Stop the reply")),
                (self.action_regenerate, self.tr("Regenerate the last reply")),
                (self.action_continue, self.tr("Continue the last reply")),
                (self.action_copy_reply, self.tr("Copy the last reply")),
                (self.action_previous, self.tr("Previous alternative of the last reply")),
                (self.action_next, self.tr("Next alternative of the last reply")),
                (self.action_focus_composer, self.tr("Go to the message box")),
                (self.action_toggle_sidebar, self.tr("Show or hide the conversation list")),
                (self.action_shortcuts, self.tr("Keyboard shortcuts")),
                (self.action_quit, self.tr("Quit"))):
            action.setText(text)
        self.menu_file.setTitle(self.tr("&File"))
        self.menu_chat.setTitle(self.tr("&Chat"))
        self.menu_view.setTitle(self.tr("&View"))
        self.menu_help.setTitle(self.tr("&Help"))
        self.composer.setPlaceholderText(self.tr(
            "Type a message. Enter sends, Shift+Enter starts a new line, Esc stops, "
            "Up edits your last message."))
        self.send_button.setText(self.tr("Send"))
        self.stop_button.setText(self.tr("Stop"))
        self.undo_button.setText(self.tr("Undo"))
        self.undo_label.setText(self.tr("Message deleted."))
        self.edit_banner.setText(self.tr(
            "Editing a message: Enter saves it as a new branch (the original stays), "
            "Esc cancels."))
        self._show_empty_state()
        self._show_context()

    def _show_empty_state(self) -> None:
        state = self.model_bar.state
        if state == "loaded":
            self.chat.set_empty_text(self.tr(
                "Type a message below to start. Replies stream in as the model writes them; "
                "every conversation is saved on this computer."))
        elif state in ("loading", "installing"):
            self.chat.set_empty_text(self.tr("The model is loading. You can type meanwhile."))
        else:
            self.chat.set_empty_text(self.tr(
                "No model is loaded. Open a GGUF model file (or install the starter model) "
                "to start chatting."))

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
        self._cancel_edit()
        self._show(_Shown(conversation, [], 0, {}))

    def open_conversation(self, conversation_id: str) -> None:
        """Load the conversation's active path (on the worker) and show it."""
        if conversation_id != self.conversation_id:
            self._limit = INITIAL_MESSAGES
            self._cancel_edit()
            self._close_undo()
        self._reload(conversation_id)

    def _reload(self, conversation_id: str | None = None) -> None:
        cid = conversation_id or self.conversation_id
        if cid is None:
            return
        self._load_seq += 1
        seq = self._load_seq
        self.conversation_id = cid
        limit = self._limit

        def show(shown: _Shown) -> None:
            if seq == self._load_seq:
                self._show(shown)

        self.store.run(lambda s: _load_shown(s, cid, limit), show)

    def open_message(self, conversation_id: str, message_id: str) -> None:
        """Show a message found by search: its branch becomes the active one, and the view
        scrolls to it."""
        if self._busy:
            self.open_conversation(conversation_id)
            return
        self._load_seq += 1
        seq = self._load_seq
        self.conversation_id = conversation_id

        def select(s: ChatStore) -> _Shown:
            s.select_branch(message_id)
            path = s.active_path(conversation_id)
            index = next(i for i, m in enumerate(path) if m.id == message_id)
            # Enough messages to include the hit, with a little of what led to it.
            return _load_shown(s, conversation_id, max(INITIAL_MESSAGES, len(path) - index + 2))

        def show(shown: _Shown) -> None:
            if seq != self._load_seq:
                return
            self._limit = max(INITIAL_MESSAGES, len(shown.path))
            self._show(shown)
            card = self.chat.card_for(message_id)
            if card is not None:
                self.chat.reveal(card)

        self.store.write(select, Changed(frozenset({conversation_id})), show)

    def _show_earlier(self) -> None:
        self._limit += 200
        self._reload()

    def _show(self, shown: _Shown) -> None:
        self._load_seq += 1  # a load still on its way is older than this
        self.conversation_id = shown.conversation.id
        streaming = self._showing_reply()
        # The reply in flight is shown from what the GUI received, which is ahead of its
        # last checkpoint.
        path = [m for m in shown.path if not (streaming and m.status == "streaming")]
        self.chat.show_messages(path, shown.branches, shown.earlier)
        if streaming and self._save is not None and self._stream_message is not None:
            card = self.chat.add_streaming(self._stream_message)
            card.append_text(self._reply)
        elif not self._busy:
            self._context_from(path)
            # The panel shows the conversation's last reply, unless it already does.
            last = next((m for m in reversed(path) if m.role == "assistant"), None)
            if (last is not None and self.inside.isVisible()
                    and self.inside.message_id() != last.id):
                self.inspect_reply(last.id)

    # -- actions --------------------------------------------------------------------------------

    def load_model(self, path: Path) -> None:
        """Load a model in the model process (the window stays responsive)."""
        if self._busy:
            self.statusBar().showMessage(self.tr("Stop the reply before changing the model."))
            return
        self._ready = False
        self.model_path = path
        self._model_name = path.name
        self.model_bar.show_loading(path.name)
        self._show_empty_state()
        self._load_kwargs = self.app_settings.engine_load_kwargs()
        self._load_id = self.engine.load(path, **self._load_kwargs)
        self.sig_model_chosen.emit(path)

    def load_remote(self, base_url: str, model: str, api_key: str | None = None,
                    probabilities: bool = True) -> None:
        """Chat with `model` on the OpenAI-compatible server at `base_url` (the saved key is
        used when `api_key` is None; without `probabilities`, replies come without token
        probabilities); a local `load_model` switches back."""
        if self._busy:
            self.statusBar().showMessage(self.tr("Stop the reply before changing the model."))
            return
        self._ready = False
        self.model_path = None
        self._model_name = server_label(model, base_url)
        self.model_bar.show_loading(self._model_name)
        self._show_empty_state()
        self._load_id = self.engine.load_remote(base_url, model, api_key=api_key,
                                                probabilities=probabilities)

    def _retry_load(self, overrides: dict[str, Any]) -> None:
        """Load the same model again with less memory (the user's choice after running out).

        The overrides apply to this load only: the saved settings stay as the user set them.
        """
        path = self.model_path
        if path is None or self._busy:
            return
        self._ready = False
        self.model_bar.show_loading(path.name)
        self._show_empty_state()
        self._load_kwargs = self._load_kwargs | overrides
        self._load_id = self.engine.load(path, **self._load_kwargs)

    def install_starter(self) -> None:
        """Install the starter model off the GUI thread, then load it."""
        self.model_bar.show_installing()
        self._show_empty_state()
        future = self._installer.submit(install_starter, log=False)
        future.add_done_callback(lambda f: self._sig_installed.emit(
            f.exception() if f.exception() is not None else f.result()))

    def _on_installed(self, outcome: object) -> None:
        if isinstance(outcome, Path):
            self.model_bar.refresh_models()
            self.load_model(outcome)
        else:
            self.model_bar.show_failed(self.tr("The starter model could not be installed: "
                                               "{reason}").format(reason=outcome))
            self._show_empty_state()

    def _can_start(self) -> bool:
        if self._busy:
            return False
        if not self._ready:
            self.statusBar().showMessage(self.tr("Load a model first."))
            return False
        if not self.store.is_open:
            self.statusBar().showMessage(self.tr("The chat history is not open yet."))
            return False
        return True

    def send(self) -> None:
        """Save the composer's text as the next user message (or as the edit of the message
        being edited), then ask for a reply.

        With no conversation shown, one is created first (in the same transaction).
        """
        text = self.composer.toPlainText().strip()
        if not text or not self._can_start():
            return
        editing = self._editing
        cid, model = self.conversation_id, self._model_name

        def add(s: ChatStore) -> tuple[Conversation, Message, list[Message]]:
            if editing is not None:
                user = s.edit_message(editing.id, text)
                conversation = s.get_conversation(user.conversation_id)
            else:
                conversation = (s.get_conversation(cid) if cid
                                else s.create_conversation(model=model))
                user = s.add_message(conversation.id, "user", text)
            # The prompt comes from the database, not the window: the user may have
            # switched conversations while this was on its way.
            return conversation, user, s.active_path(conversation.id)

        def failed(error: Exception) -> None:
            # Nothing was saved, so nothing is sent: the text goes back to the composer.
            self._set_busy(False)
            if not self.composer.toPlainText():
                self.composer.setPlainText(text)
            self.store.report(error)

        self._set_busy(True)
        self.composer.clear()
        self._end_edit_mode()
        self.store.write(add, Changed(frozenset({cid} if cid else ()), lists=True),
                         self._user_saved, failed)

    def _user_saved(self, result: tuple[Conversation, Message, list[Message]]) -> None:
        """The user's message is committed: only now does the model get it."""
        conversation, user, path = result
        self._start_reply(conversation, user.id, path)

    def regenerate(self, message_id: str) -> None:
        """Another reply in place of this one (which stays, as an alternative)."""
        self._reply_at(message_id, continuing=False)

    def continue_reply(self, message_id: str) -> None:
        """A longer version of this reply: a new alternative that starts with its text."""
        self._reply_at(message_id, continuing=True)

    def _reply_at(self, message_id: str, *, continuing: bool) -> None:
        if not self._can_start():
            return
        self._set_busy(True)

        def find(s: ChatStore) -> tuple[Conversation, Message, list[Message]]:
            reply = s.message(message_id)
            path = s.active_path(reply.conversation_id)
            ids = [m.id for m in path]
            return (s.get_conversation(reply.conversation_id), reply,
                    path[:ids.index(message_id)])

        def start(result: tuple[Conversation, Message, list[Message]]) -> None:
            conversation, reply, before = result
            if reply.parent_id is None:
                self._set_busy(False)
                return
            self._start_reply(conversation, reply.parent_id, before,
                              continue_from=reply if continuing else None)

        def failed(error: Exception) -> None:
            self._set_busy(False)
            self.store.report(error)

        self.store.run(find, start, failed)

    def _start_reply(self, conversation: Conversation, parent_id: str, path: list[Message],
                     *, continue_from: Message | None = None) -> None:
        """Ask the model for a reply below `parent_id`, `path` being the conversation up to it.

        The reply is saved as a new child of `parent_id` (a sibling of any earlier reply
        there); a continuation starts with the text of the reply it continues.
        """
        self._reply = ""
        self._generated = 0
        prompt = [{"role": m.role, "content": m.content} for m in path
                  if m.content and m.status != "streaming"]  # a reply stopped at once is empty
        if conversation.system_prompt:
            prompt.insert(0, {"role": "system", "content": conversation.system_prompt})
        prefix = ""
        if continue_from is not None:
            prefix = continue_from.content
            prompt.append({"role": "assistant", "content": prefix})
        try:
            sampling = SamplingSettings.from_dict(conversation.sampling)
        except (TypeError, ValueError):
            sampling = SamplingSettings()  # written by a newer chatapp or by hand
        self._gen_id = self.engine.generate(prompt, sampling,
                                            continue_reply=continue_from is not None)
        self.inside.set_reply(None, [], sampling)  # the panel follows the new reply
        save = self._save = ReplySave(conversation.id, prefix)
        provenance = {"continued_from": continue_from.id} if continue_from else None
        self._stream_message = Message(
            id="", conversation_id=conversation.id, parent_id=parent_id, role="assistant",
            content=prefix, created_at=0.0, updated_at=0.0, status="streaming",
            active_child_id=None, provenance=None, error=None)

        def begun(message: Message) -> None:
            self._stream_message = message

        # Queued after the generate command, but the worker runs it before any token's save.
        self.store.run(lambda s: save.begin(s, parent_id, provenance), begun)
        self.stop_button.setEnabled(True)
        if self.conversation_id in (None, conversation.id):
            self.sidebar.select_conversation(conversation.id)
            self.conversation_id = conversation.id
            # The shown path ends where the reply will go; alternatives' places are refreshed
            # when it ends.
            tail = path[-self._limit:]
            branches = {c.message.id: c._branch for c in self.chat.cards
                        if c._branch is not None}
            self.chat.show_messages(tail, branches, max(0, len(path) - len(tail)))
            card = self.chat.add_streaming(self._stream_message)
            card.set_busy(True)

    def stop(self) -> None:
        """Stop the reply being generated (what was written so far is kept, as cancelled)."""
        if self._gen_id is not None:
            self.engine.cancel(self._gen_id)

    def _on_escape(self) -> None:
        if self._gen_id is not None:
            self.stop()
        elif self._editing is not None:
            self._cancel_edit()

    # -- editing, deleting, alternatives --------------------------------------------------------

    def edit_message(self, message_id: str) -> None:
        """Put this user message in the composer; sending saves the edit as a new branch."""
        card = self.chat.card_for(message_id)
        if card is None or card.message.role != "user" or self._busy:
            return
        if self._editing is None:
            self._draft = self.composer.toPlainText()
        self._editing = card.message
        self.composer.setPlainText(card.message.content)
        self.composer.setFocus()
        self.composer.moveCursor(self.composer.textCursor().MoveOperation.End)
        self.edit_banner.show()

    def edit_last_message(self) -> None:
        """Edit the last user message shown (the composer's Up key)."""
        users = [c for c in self.chat.cards if c.message.role == "user"]
        if users:
            self.edit_message(users[-1].message.id)

    def _cancel_edit(self) -> None:
        if self._editing is not None:
            self.composer.setPlainText(self._draft)
        self._end_edit_mode()

    def _end_edit_mode(self) -> None:
        self._editing = None
        self._draft = ""
        self.edit_banner.hide()

    def delete_message(self, message_id: str) -> None:
        """Delete a message and everything below it; an undo bar offers it back."""
        if self._busy:
            return
        cid = self.conversation_id

        def deleted(result: DeletedMessages) -> None:
            self._deleted = result
            self.undo_bar.show()
            self._reload()

        self.store.write(lambda s: s.delete_message(message_id),
                         Changed(frozenset({cid} if cid else ()), lists=False), deleted)

    def undo_delete(self) -> None:
        """Put back the messages deleted last."""
        deleted = self._deleted
        if deleted is None:
            return
        self._close_undo()
        def restore(s: ChatStore) -> None:
            s.restore_messages(deleted)
            s.select_branch(deleted.message_id)  # show what came back

        self.store.write(restore,
                         Changed(frozenset({deleted.conversation_id})),
                         lambda _: self._reload())

    def _close_undo(self) -> None:
        self._deleted = None
        self.undo_bar.hide()

    def switch_alternative(self, message_id: str, step: int) -> None:
        """Show the previous (-1) or next (+1) alternative of a message."""
        if self._busy:
            return
        cid = self.conversation_id

        def switch(s: ChatStore) -> None:
            siblings = [m.id for m in s.siblings(message_id)]
            index = siblings.index(message_id) + step
            if 0 <= index < len(siblings):
                s.select_branch(siblings[index])

        self.store.write(switch, Changed(frozenset({cid} if cid else ())),
                         lambda _: self._reload())

    def _on_message_action(self, action: str, message_id: str) -> None:
        if action == "previous":
            self.switch_alternative(message_id, -1)
        elif action == "next":
            self.switch_alternative(message_id, +1)
        elif action == "edit":
            self.edit_message(message_id)
        elif action == "regenerate":
            self.regenerate(message_id)
        elif action == "continue":
            self.continue_reply(message_id)
        elif action == "delete":
            self.delete_message(message_id)
        elif action == "copy":
            self.statusBar().showMessage(self.tr("Copied."), 2000)
        elif action == "inspect":
            self.inspect_reply(message_id)

    # -- the panel: inside the model ------------------------------------------------------------

    def inspect_reply(self, message_id: str) -> None:
        """Show a stored reply in the panel: its per-token records and its settings."""
        # The records as a table (columns; a record is built when the panel shows it): a
        # long reply's records as dicts would be a million objects for the garbage collector.
        def read(s: ChatStore) -> tuple[Message, RecordTable | None, dict[str, Any]]:
            message = s.message(message_id)
            conversation = s.get_conversation(message.conversation_id)
            return message, s.token_record_table(message_id), conversation.sampling

        def show(result: tuple[Message, RecordTable | None, dict[str, Any]]) -> None:
            message, records, conversation_sampling = result
            if self._busy and self._gen_id is not None:
                return  # the panel follows the reply being written
            sampling_dict = (message.provenance or {}).get("sampling") or conversation_sampling
            try:
                sampling = SamplingSettings.from_dict(dict(sampling_dict))
            except (TypeError, ValueError):
                sampling = SamplingSettings()
            self.inside.set_reply(message.id, records if records is not None else [], sampling)
            self.inside.finish()

        self.store.run(read, show)

    def capture_attention(self, message_id: str) -> None:
        """Ask the model process for the attention weights of a stored reply: the prompt it
        answered (as the template renders it) followed by the reply's own tokens."""
        if not self._ready:
            self.inside.show_attention_error(self.tr("Load a model first."))
            return

        def read(s: ChatStore) -> tuple[list[dict[str, str]], list[int] | None]:
            reply = s.message(message_id)
            conversation = s.get_conversation(reply.conversation_id)
            path = s.active_path(reply.conversation_id)
            ids = [m.id for m in path]
            before = path[:ids.index(message_id)] if message_id in ids else []
            prompt = [{"role": m.role, "content": m.content} for m in before if m.content]
            if conversation.system_prompt:
                prompt.insert(0, {"role": "system", "content": conversation.system_prompt})
            records = s.token_record_table(message_id)
            return prompt, None if records is None else [int(t) for t in records.column("token")]

        def send(result: tuple[list[dict[str, str]], list[int] | None]) -> None:
            prompt, tokens = result
            if tokens is None:
                self.inside.show_attention_error(self.tr(
                    "This reply has no token records (it was imported or written by hand), "
                    "so its tokens are unknown."))
                return
            if any(t < 0 for t in tokens):  # stand-in ids (chatapp.engine.remote)
                self.inside.show_attention_error(self.tr(
                    "This reply was written by a model on a server, which does not send "
                    "token ids, so its tokens are unknown here."))
                return
            self._attention_req = (self.engine.attention(prompt, tokens), message_id)

        self.store.run(read, send)

    def branch_here(self, message_id: str, index: int, token_id: int) -> None:
        """Continue a reply as a new branch from its token `index`, with the candidate
        `token_id` in place of the token that was drawn there."""
        if not self._can_start():
            return

        # Read on the worker: the record of the token, and the text before it.
        def read(s: ChatStore) -> tuple[Conversation, Message, list[Message],
                                        tuple[dict[str, Any], str] | None]:
            reply = s.message(message_id)
            path = s.active_path(reply.conversation_id)
            ids = [m.id for m in path]
            before = path[:ids.index(message_id)] if message_id in ids else []
            records = s.token_record_table(message_id)
            token = None
            if records is not None and 0 <= index < len(records):
                token = (records.record(index),
                         "".join(str(t) for t in records.column("text", "")[:index]))
            return s.get_conversation(reply.conversation_id), reply, before, token

        def start(result: tuple[Conversation, Message, list[Message],
                                tuple[dict[str, Any], str] | None]) -> None:
            conversation, reply, before, token = result
            if token is None or reply.parent_id is None:
                self.statusBar().showMessage(self.tr("That token cannot be branched from."))
                return
            record, text_before = token
            text = next((str(t[1]) for stage in record.get("stages", [])
                         for t in stage.get("top", []) if int(t[0]) == token_id), None)
            if text is None:
                self.statusBar().showMessage(self.tr("That candidate's text is unknown."))
                return
            prefix = text_before + text
            self._set_busy(True)
            self._start_reply(conversation, reply.parent_id, before,
                              continue_from=replace(reply, content=prefix))

        self.store.run(read, start)

    # -- events from the model process ----------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, req_id = event["type"], event.get("id")
        if kind == "token" and req_id == self._gen_id:
            self._reply += event["text"]
            self._generated += 1
            if self._save is not None:
                save = self._save
                self.store.run(lambda s: save.token(event))
            if "stages" in event and self.inside.isVisible():
                # A hidden panel costs nothing; it gets the whole reply from the store at the end.
                self.inside.append_record(event)
            if self._showing_reply():
                card = self.chat.streaming_card()
                if card is not None:
                    card.append_text(event["text"])
                if self.context is not None and self._generated % 16 == 0:
                    self._show_context()
        elif kind == "done" and req_id == self._gen_id:
            self._reply += event.get("tail", "")
            if self._showing_reply():
                card = self.chat.streaming_card()
                if card is not None and event.get("tail"):
                    card.append_text(event["tail"])
            if self._save is not None:
                save = self._save
                self.store.write(lambda s: save.done(event),
                                 Changed(frozenset({save.conversation_id}), lists=True),
                                 self._reply_saved)
            self._finish_reply(event)
        elif kind == "context" and req_id == self._gen_id:
            self.context = {k: int(event.get(k) or 0)
                            for k in ("prompt_tokens", "n_ctx", "dropped_messages")}
            self._show_context()
        elif kind == "progress" and req_id == self._load_id:
            self.model_bar.show_progress(float(event["progress"]))
        elif kind == "loaded" and req_id == self._load_id:
            self._ready = True
            self._n_ctx = int(event["model"].get("n_ctx") or 0)  # a server may not say
            self.model_bar.show_loaded(event["model"])
            self._show_empty_state()
            self.statusBar().showMessage(self.tr("Ready."), 5000)
        elif kind == "attention" and self._attention_req and req_id == self._attention_req[0]:
            self._attention_req = None
            self.inside.show_attention(event)
        elif kind == "error":
            if self._attention_req and req_id == self._attention_req[0]:
                self._attention_req = None
                self.inside.show_attention_error(str(event["message"]))
                return
            self._on_error(event)

    def _showing_reply(self) -> bool:
        """True while the reply's conversation is the one shown."""
        return self._save is not None and self._save.conversation_id == self.conversation_id

    def _on_error(self, event: dict[str, Any]) -> None:
        message = str(event["message"])
        crashed = event.get("code") == "crashed"
        # A crash may carry no request id, yet it ends the reply all the same.
        if self._gen_id is not None and (event.get("id") == self._gen_id or crashed):
            if self._save is not None:
                save = self._save
                self.store.write(lambda s: save.failed(message),
                                 Changed(frozenset({save.conversation_id}), lists=True),
                                 self._reply_saved)
            self._finish_reply(None)
        if event.get("id") == self._load_id or crashed:  # no model is usable now
            self._ready = False
            self.model_bar.show_failed(message)
            self._show_empty_state()
            options = event.get("retry")
            if (event.get("code") == "load_memory" and isinstance(options, list) and options
                    and self.model_path is not None):
                self.models.offer_memory_retry(message, options, self._retry_load)
        self.statusBar().showMessage(message)

    def _reply_saved(self, message: Message | None) -> None:
        """The store has the finished reply: the card shows what was saved, and the
        alternatives' places are refreshed."""
        if message is None or message.conversation_id != self.conversation_id:
            return
        card = self.chat.streaming_card()
        if card is not None:
            card.finish(message)
        self._reload()
        if message.role == "assistant":
            self.inspect_reply(message.id)

    def _finish_reply(self, summary: dict[str, Any] | None) -> None:
        self.inside.finish()
        self._gen_id = None
        self._save = None
        self._set_busy(False)
        if summary is not None:
            # Without the records blob: the store has it, and it is megabytes for a long reply.
            self.last_summary = {k: v for k, v in summary.items() if k != "records_blob"}
            if self.context is not None:
                self.context["prompt_tokens"] = int(summary.get("prompt_tokens") or 0)
            self.statusBar().showMessage(self.tr(
                "{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}"
            ).format(n=summary["generated_tokens"], speed=summary["tokens_per_s"],
                     ttft=summary["time_to_first_token_ms"], reason=summary["finish_reason"],
                     seed=summary["seed"]), 10_000)
        self._show_context()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy and self._gen_id is not None)
        self.chat.set_busy(busy)

    # -- the context meter ----------------------------------------------------------------------

    def _context_from(self, path: list[Message]) -> None:
        """Estimate what the shown conversation uses from its last reply's record."""
        last = next((m for m in reversed(path) if m.role == "assistant" and m.provenance), None)
        p = last.provenance if last is not None else None
        if p and p.get("prompt_tokens") and p.get("n_ctx"):
            self.context = {"prompt_tokens": int(p["prompt_tokens"]),
                            "n_ctx": int(p["n_ctx"]),
                            "dropped_messages": int(p.get("dropped_messages") or 0)}
            self._generated = int(p.get("generated_tokens") or 0)
        else:
            self.context = None
            self._generated = 0
        self._show_context()

    def _show_context(self) -> None:
        c = self.context
        if c is None or not c.get("n_ctx"):
            self.context_bar.setRange(0, 1)
            self.context_bar.setValue(0)
            self.context_label.setText(self.tr("Context: nothing sent yet"))
            return
        used = min(c["prompt_tokens"] + self._generated, c["n_ctx"])
        self.context_bar.setRange(0, c["n_ctx"])
        self.context_bar.setValue(used)
        text = self.tr("Context: {used} of {total} tokens").format(
            used=f"{used:,}", total=f"{c['n_ctx']:,}")
        if c.get("dropped_messages"):
            text += " · " + self.tr(
                "{n} oldest messages left out (they no longer fit; the system prompt is kept)"
            ).format(n=c["dropped_messages"])
        self.context_label.setText(text)
        self.context_label.setToolTip(self.tr(
            "How much of the model's context window the last prompt and reply used. When a "
            "conversation outgrows it, the oldest turns are left out of what the model sees "
            "(they stay saved here); the system prompt is always kept."))
