"""The model process as seen by the GUI: commands in, Qt signals out.

Events arrive on the client's reader thread; a queued signal carries each one (a plain dict) to
the GUI thread.  Commands are sent without blocking the GUI.

A conversation can also use a model on an OpenAI-compatible server: `load_remote` switches the
commands to a `RemoteEngine` (chatapp.engine.remote), whose events have the same shapes and
reach the same `sig_event`; a local `load` switches back.  Only the active side's events are
relayed, so a late event of the other one cannot end a reply or a load it does not own.

The signals are declared with `object`, not `dict`: a `Signal(dict)` converts every event to a
QVariantMap and back at each hop (nested candidate lists included), which measured ~50 µs on the
GUI thread and ~80 µs on the reader thread per token, against 1–2 µs for `object`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient
from chatapp.engine.remote import RemoteEngine


class EngineService(QObject):
    """Owns the EngineClient (and, once a server is chosen, the RemoteEngine) for the GUI.

    Signals:
        sig_event(dict): every event from the active side (the model process, or the
            server), on the GUI thread.
        sig_started(): `start_in_background` finished: the model process is ready.
        sig_start_failed(str): it could not start (the reason, for the user).

    Attributes:
        client: the local model process's client (also while a server is active: the Models
            window asks it about devices).
        remote: the server's engine, None until `load_remote` first runs.
    """

    sig_event = Signal(object)
    sig_started = Signal()
    sig_start_failed = Signal(str)
    _sig_from_reader = Signal(object)

    def __init__(self, log_path: Path | None = None, parent: QObject | None = None) -> None:
        """Create the client; the model process starts on `start()`."""
        super().__init__(parent)
        self._sig_from_reader.connect(self._relay, Qt.ConnectionType.QueuedConnection)
        self.client = EngineClient(on_event=self._from_local, log_path=log_path)
        self.remote: RemoteEngine | None = None
        self._active: EngineClient | RemoteEngine = self.client

    def _from_local(self, event: dict[str, Any]) -> None:
        # On the reader thread; `_active` changes on the GUI thread only (a plain read).
        if self._active is self.client:
            self._sig_from_reader.emit(event)

    def _from_remote(self, event: dict[str, Any]) -> None:
        if self._active is self.remote:
            self._sig_from_reader.emit(event)

    @property
    def is_remote(self) -> bool:
        """True while commands go to a server."""
        return self._active is not self.client

    @Slot(object)
    def _relay(self, event: dict[str, Any]) -> None:
        self.sig_event.emit(event)

    def start(self) -> None:
        """Start the model process (returns once it is ready, ~0.3 s)."""
        self.client.start()

    def start_in_background(self) -> None:
        """Start the model process on a helper thread (the window paints meanwhile); then
        `sig_started` or `sig_start_failed` on the GUI thread."""
        def run() -> None:
            try:
                self.client.start()
            except Exception as exc:
                self.sig_start_failed.emit(str(exc))
            else:
                self.sig_started.emit()

        threading.Thread(target=run, name="chatapp-engine-start", daemon=True).start()

    def load(self, path: Path, **settings: Any) -> str:
        """Ask for a model load; returns the request id that the `loaded`/`error` event carries.
        Switches back to the model process when a server was in use."""
        self._active = self.client
        return self.client.send("load", path=str(path), **settings)

    def load_remote(self, base_url: str, model: str, *, api_key: str | None = None,
                    probabilities: bool = True) -> str:
        """Use `model` on the OpenAI-compatible server at `base_url` from now on; returns the
        request id of its `loaded`/`error` event.  Without `api_key`, the key saved for the
        server is used (read on the engine's thread: a keyring can be slow).  Without
        `probabilities`, replies come without token probabilities (faster on some servers).
        The local model is unloaded, to give its memory back."""
        if self.remote is None:
            self.remote = RemoteEngine(on_event=self._from_remote)
        was_local = not self.is_remote
        self._active = self.remote
        if was_local and self.client.alive:
            self.client.send("unload")  # its answer is not relayed: the server is active now
        return self.remote.send("load", base_url=base_url, model=model, api_key=api_key,
                                stored_key=api_key is None, probabilities=probabilities)

    def generate(self, messages: list[dict[str, str]], sampling: SamplingSettings, *,
                 continue_reply: bool = False) -> str:
        """Ask for a reply (with `continue_reply`, more of the last message, a reply);
        returns the request id of its context/token/done/error events."""
        return self._active.send(
            "generate", messages=messages, sampling=sampling.to_dict(), records=True, top_n=20,
            continue_reply=continue_reply,
        )

    def attention(self, messages: list[dict[str, str]], reply_tokens: list[int], *,
                  max_tokens: int = 1024) -> str:
        """Ask for the attention weights of a conversation's prompt and a reply's tokens;
        returns the request id of its `attention` (or `error`) event."""
        return self._active.send("attention", messages=messages, reply_tokens=reply_tokens,
                                layers=None, heads=None, max_tokens=max_tokens)

    def cancel(self, req_id: str | None = None) -> None:
        """Stop the reply within one token (a server's: at once, by closing its stream)."""
        self._active.cancel(req_id)

    def shutdown(self) -> None:
        """Stop the model process (and the server's engine, if there is one)."""
        if self.remote is not None:
            self.remote.shutdown()
        self.client.shutdown()
