"""The main window's servers: "Connect to a server…", the saved servers in the model menu, their
API keys, and the Inside panel's note that attention needs a local model.

Kept out of main_window.py so that the window only wires signals (like model_management.py).
Saved servers live in the config file under "remote_servers" as {"url", "model",
"probabilities"} entries, most recent first — never with a key: keys go through
chatapp.core.secrets.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMainWindow

from chatapp.core.secrets import SecretsError, StoredKey, forget_api_key, store_api_key
from chatapp.paths import read_config_value, write_config_value
from chatapp.services.engine_service import EngineService
from chatapp.ui.inside import InsidePanel
from chatapp.ui.model_bar import ModelBar
from chatapp.ui.remote_dialog import RemoteDialog, has_credentials

#: Config-file key of the saved servers.
SERVERS_KEY = "remote_servers"
#: Most servers kept (the oldest go first).
MAX_SERVERS = 12

#: load(base_url, model, api_key, probabilities): the window's way of switching to a served
#: model.
LoadRemote = Callable[[str, str, str | None, bool], None]


def saved_servers() -> list[tuple[str, str]]:
    """The saved servers' (base URL, model) pairs, most recent first (malformed entries, and
    any with credentials in the address, are skipped)."""
    value = read_config_value(SERVERS_KEY)
    found: list[tuple[str, str]] = []
    for entry in value if isinstance(value, list) else ():
        if not isinstance(entry, dict):
            continue
        url, model = entry.get("url"), entry.get("model")
        if (isinstance(url, str) and isinstance(model, str) and url and model
                and not has_credentials(url) and (url, model) not in found):
            found.append((url, model))
    return found


def server_probabilities(base_url: str, model: str) -> bool:
    """Whether replies from this saved server are asked for with token probabilities (yes
    unless the user turned them off for it)."""
    value = read_config_value(SERVERS_KEY)
    for entry in value if isinstance(value, list) else ():
        if isinstance(entry, dict) and (entry.get("url"), entry.get("model")) == (base_url,
                                                                                  model):
            return entry.get("probabilities") is not False
    return True


def remember_server(base_url: str, model: str, probabilities: bool = True
                    ) -> list[tuple[str, str]]:
    """Save (base URL, model) and its probabilities choice as the most recent server; returns
    the new list.  An address with credentials is not saved (the config file never holds a
    secret)."""
    choices = {s: server_probabilities(*s) for s in saved_servers()}
    servers = [s for s in choices if s != (base_url, model)]
    if not has_credentials(base_url):
        servers.insert(0, (base_url, model))
        choices[(base_url, model)] = probabilities
    servers = servers[:MAX_SERVERS]
    write_config_value(SERVERS_KEY, [{"url": u, "model": m, "probabilities": choices[(u, m)]}
                                     for u, m in servers])
    return servers


class RemoteGlue(QObject):
    """Servers on behalf of the main window.

    Attributes:
        dialog: the "Connect to a server…" dialog while it is open (None otherwise).
    """

    _sig_done = Signal(object)

    def __init__(self, window: QMainWindow, engine: EngineService, model_bar: ModelBar,
                 inside: InsidePanel, load: LoadRemote) -> None:
        """Fill the model menu with the saved servers and listen to it; `load` switches the
        window to a served model."""
        super().__init__(window)
        self._window = window
        self._model_bar = model_bar
        self._inside = inside
        self._load = load
        self.dialog: RemoteDialog | None = None
        self._sig_done.connect(self._show, Qt.ConnectionType.QueuedConnection)
        model_bar.set_servers(saved_servers())
        model_bar.sig_connect_server.connect(self.open_dialog)
        model_bar.sig_remote_requested.connect(
            lambda url, model: load(url, model, None, server_probabilities(url, model)))
        engine.sig_event.connect(self._on_event)

    def open_dialog(self) -> RemoteDialog:
        """Show "Connect to a server…", filled in with the most recent server."""
        servers = saved_servers()
        url, model = servers[0] if servers else ("", "")
        dialog = RemoteDialog(self._window, url, model,
                              server_probabilities(url, model) if servers else True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.sig_connect.connect(self.connect_to)
        dialog.sig_forget_key.connect(self.forget_key)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self) -> None:
        self.dialog = None

    def connect_to(self, base_url: str, model: str, api_key: str | None,
                   remember: bool, probabilities: bool = True) -> None:
        """Save the server (and, with `remember`, the key typed), then switch to its model."""
        self._model_bar.set_servers(remember_server(base_url, model, probabilities))
        if api_key and remember:
            self._in_background(lambda: store_api_key(base_url, api_key))
        self._load(base_url, model, api_key, probabilities)

    def forget_key(self, base_url: str) -> None:
        """Forget the key saved for `base_url` (keyring and file)."""
        self._in_background(lambda: forget_api_key(base_url))

    def _in_background(self, work: Callable[[], object]) -> None:
        # A keyring may take a while (a D-Bus round trip, an unlock prompt): not on the GUI
        # thread.
        def run() -> None:
            try:
                outcome: object = work()
            except SecretsError as exc:
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the window closed meanwhile
                self._sig_done.emit(outcome)

        threading.Thread(target=run, name="chatapp-secrets", daemon=True).start()

    def _show(self, outcome: object) -> None:
        if isinstance(outcome, StoredKey):
            if outcome.kind == "keyring":
                text = self.tr("The API key was saved in the system keyring ({0}).").format(
                    outcome.where)
            elif outcome.keyring_problem:
                text = self.tr("The system keyring failed ({0}), so the API key was saved in "
                               "{1}, readable only by you.").format(outcome.keyring_problem,
                                                                   outcome.where)
            else:
                text = self.tr("No system keyring is available, so the API key was saved in "
                               "{0}, readable only by you.").format(outcome.where)
        elif isinstance(outcome, SecretsError):
            text = self.tr("The API key was not saved: {0}").format(outcome)
        else:
            text = self.tr("The saved API key was forgotten.")
        self._window.statusBar().showMessage(text, 10_000)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "loaded":
            model = event.get("model")
            self._inside.set_remote_model(isinstance(model, dict)
                                          and model.get("backend") == "remote")
