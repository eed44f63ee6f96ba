"""The "Connect to a server…" dialog: the base URL and API key of an OpenAI-compatible server,
its model list, and the model to chat with.

The dialog asks the server for its models on a thread of its own (a server that does not answer
must not freeze the window) and hands the choice back through `sig_connect`; saving the server
and the key, and connecting, are the owner's (chatapp.ui.remote_glue).  Everything a server
sends (model names, error details) is shown as plain text.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import urllib.parse

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.secrets import SecretsError, load_api_key
from chatapp.engine.remote import RemoteError, list_models, parse_base_url


def has_credentials(base_url: str) -> bool:
    """Whether an address carries a user name or password ("http://user:pw@host")."""
    text = base_url.strip()
    try:
        parts = urllib.parse.urlsplit(text if "://" in text else "http://" + text)
    except ValueError:
        return False  # not an address at all: parse_base_url says so
    return parts.username is not None or parts.password is not None


class RemoteDialog(QDialog):
    """Choose a model on an OpenAI-compatible server.

    Signals:
        sig_connect(str, str, object, bool, bool): base URL, model, the API key typed (None
            when the field was left empty: the saved key, if any, is used), whether to remember
            the typed key, and whether to ask for token probabilities.
        sig_forget_key(str): the user asked to forget the key saved for this base URL.

    Attributes:
        url_edit, key_edit, remember_box: the server's address, its API key (a password
            field) and "Remember the key".
        probabilities_box: "Ask for token probabilities" (the sampling view's data; some
            servers generate much slower with it).
        list_button, forget_button: "List models", "Forget the saved key".
        model_list: the server's models after listing.
        status_label: what is happening, or what went wrong (plain text).
        buttons: Connect / Cancel.
    """

    sig_connect = Signal(str, str, object, bool, bool)
    sig_forget_key = Signal(str)
    _sig_listed = Signal(int, object)

    def __init__(self, parent: QWidget | None = None, base_url: str = "",
                 model: str = "", probabilities: bool = True) -> None:
        """An empty dialog, or one filled in with a saved server (its models are listed at
        once, and `model` is selected when the server still serves it)."""
        super().__init__(parent)
        self._seq = itertools.count(1)
        self._listing: int | None = None
        self._wanted = model
        self._sig_listed.connect(self._on_listed, Qt.ConnectionType.QueuedConnection)

        self.url_edit = QLineEdit(base_url, self)
        self.url_edit.setPlaceholderText("http://127.0.0.1:8080")
        self.url_edit.textChanged.connect(self._on_url_changed)
        self.url_edit.returnPressed.connect(self.list_models)
        self.key_edit = QLineEdit(self)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember_box = QCheckBox(self)
        self.remember_box.setChecked(True)
        self.probabilities_box = QCheckBox(self)
        self.probabilities_box.setChecked(probabilities)
        self.list_button = QPushButton(self)
        self.list_button.clicked.connect(self.list_models)
        self.forget_button = QPushButton(self)
        self.forget_button.clicked.connect(self._forget)
        self.model_list = QListWidget(self)
        self.model_list.itemSelectionChanged.connect(self._update_buttons)
        self.model_list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.status_label = QLabel(self)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        self.url_label = QLabel(self)
        self.key_label = QLabel(self)
        form = QFormLayout()
        form.addRow(self.url_label, self.url_edit)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.forget_button)
        form.addRow(self.key_label, key_row)
        form.addRow("", self.remember_box)
        list_row = QHBoxLayout()
        list_row.addWidget(self.list_button)
        list_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(list_row)
        layout.addWidget(self.model_list, 1)
        layout.addWidget(self.probabilities_box)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.resize(520, 420)
        self._retranslate()
        self._update_buttons()
        if base_url:
            self.list_models()

    # --- the values ----------------------------------------------------------------------------

    def base_url(self) -> str:
        """The address typed, trimmed."""
        return self.url_edit.text().strip()

    def api_key(self) -> str | None:
        """The key typed, None when the field is empty."""
        return self.key_edit.text().strip() or None

    def model(self) -> str | None:
        """The selected model."""
        item = self.model_list.currentItem()
        if item is None or not item.isSelected():
            return None
        value = item.data(Qt.ItemDataRole.UserRole)
        return value if isinstance(value, str) else None

    def _problem(self) -> str | None:
        """Why the address cannot be used, or None."""
        url = self.base_url()
        if not url:
            return self.tr("Type the server's address, such as http://127.0.0.1:8080.")
        if has_credentials(url):
            # The address is saved with the server list, which must never hold a secret.
            return self.tr("Put the password in the API key field, not in the address.")
        try:
            parse_base_url(url)
        except RemoteError:
            return self.tr("“{0}” is not a server address: give one like "
                           "http://127.0.0.1:8080.").format(url)
        return None

    # --- listing -------------------------------------------------------------------------------

    def list_models(self) -> None:
        """Ask the server for its models, off the GUI thread (the list fills in when it
        answers; a later listing overrides an earlier one still under way)."""
        problem = self._problem()
        if problem is not None:
            self.status_label.setText(problem)
            return
        seq = next(self._seq)
        self._listing = seq
        url, key = self.base_url(), self.api_key()
        self.model_list.clear()
        self.status_label.setText(self.tr("Asking {0} for its models…").format(url))
        self._update_buttons()

        def run() -> None:
            result: list[str] | Exception
            try:
                # An empty key field means the saved key (read here: a keyring can be slow).
                result = list_models(url, key if key is not None else load_api_key(url))
            except (RemoteError, SecretsError) as exc:
                result = exc
            # RuntimeError: the dialog was closed and deleted meanwhile.
            with contextlib.suppress(RuntimeError):
                self._sig_listed.emit(seq, result)

        threading.Thread(target=run, name="chatapp-list-models", daemon=True).start()

    def listing(self) -> bool:
        """Whether a listing is under way."""
        return self._listing is not None

    def _on_listed(self, seq: int, result: object) -> None:
        if seq != self._listing:
            return  # an older listing, overtaken by a later one
        self._listing = None
        if isinstance(result, Exception):
            self.status_label.setText(str(result))
        elif isinstance(result, list):
            for name in result:
                item = QListWidgetItem(" ".join(str(name).split()))
                item.setData(Qt.ItemDataRole.UserRole, str(name))
                item.setToolTip(str(name))
                self.model_list.addItem(item)
                if name == self._wanted or len(result) == 1:
                    self.model_list.setCurrentItem(item)
            self.status_label.setText(
                self.tr("The server serves {0} models.").format(len(result)) if result
                else self.tr("The server lists no models: load one there, then list again."))
        self._update_buttons()

    def _on_url_changed(self) -> None:
        # The list belongs to the address it came from.
        self._listing = None
        self.model_list.clear()
        self._update_buttons()

    def _forget(self) -> None:
        problem = self._problem()
        if problem is not None:
            self.status_label.setText(problem)
            return
        self.key_edit.clear()
        self.sig_forget_key.emit(self.base_url())
        self.status_label.setText(self.tr("The saved key of {0} will be forgotten.").format(
            self.base_url()))

    def _update_buttons(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.model() is not None and self._problem() is None)
        self.list_button.setEnabled(not self.listing())

    # --- accepting -----------------------------------------------------------------------------

    def accept(self) -> None:
        """Connect to the selected model (nothing happens without one)."""
        model = self.model()
        if model is None or self._problem() is not None:
            return
        self.sig_connect.emit(self.base_url(), model, self.api_key(),
                              self.remember_box.isChecked(), self.probabilities_box.isChecked())
        super().accept()

    # --- translation ---------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Connect to a server"))
        self.url_label.setText(self.tr("Address:"))
        self.url_edit.setToolTip(self.tr("The base URL of an OpenAI-compatible server "
                                         "(llama-server, llama-cpp-python, vLLM, Ollama …)"))
        self.key_label.setText(self.tr("API key:"))
        self.key_edit.setPlaceholderText(self.tr("optional; empty: the saved key, if any"))
        self.remember_box.setText(self.tr("Remember the key (in the system keyring, or a "
                                          "file only you can read)"))
        self.forget_button.setText(self.tr("Forget the saved key"))
        self.list_button.setText(self.tr("List models"))
        self.probabilities_box.setText(self.tr("Ask for token probabilities (for the sampling "
                                               "view)"))
        self.probabilities_box.setToolTip(self.tr(
            "The server sends each token's most likely candidates, which the Inside panel "
            "shows. Some servers generate much slower with them (llama-cpp-python's: about "
            "3 times); llama-server does not."))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("Connect"))
