"""One running chatapp per user and data folder: a second launch brings the first to the front.

The first instance listens on a local socket (a Unix domain socket in the temp folder, a named
pipe on Windows) named by `instance_key`.  A later launch connects, sends ``activate``, waits
for ``ack`` and exits; the first instance emits `SingleInstance.sig_activate` and shows its
window with `bring_to_front`.

Two instances on one data folder would both write its SQLite file and settings; two different
data folders (or two users) are independent and get different keys.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

#: How long a second launch waits for the first instance to acknowledge, in milliseconds.
ACK_TIMEOUT_MS = 1000

_ACTIVATE = b"activate\n"
_ACK = b"ack\n"
# Nothing legitimate sends more than a line; a peer that does is dropped, not buffered.
_MAX_MESSAGE = 256


def instance_key(data_dir: Path) -> str:
    """The local socket name for this user and data folder, e.g. ``chatapp-3f2a…`` (24 chars).

    Hashed, so the name stays short whatever the path: a Unix socket path (temp folder + name)
    must fit in 104 bytes on macOS, and the temp folder there is already about 50.
    """
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):
        # No login name in the environment nor a password entry (some containers): the uid
        # still separates users where it exists.
        user = str(os.getuid()) if hasattr(os, "getuid") else ""
    # normcase: on Windows C:\Data and c:\data are the same folder and must share a key.
    folder = os.path.normcase(str(data_dir.expanduser().resolve()))
    digest = hashlib.sha256(f"{user}\0{folder}".encode()).hexdigest()
    return f"chatapp-{digest[:16]}"


class SingleInstance(QObject):
    """Claims the single-instance key, and tells the first instance about later launches.

    Usage: ``if not SingleInstance(key).claim(): sys.exit(0)``, else connect
    `sig_activate` to show the main window.  Needs a running Q(Core)Application.
    """

    #: A second launch asked this (first) instance to show itself.
    sig_activate = Signal()

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        """Prepare for ``key`` (see `instance_key`); nothing is opened until `claim`."""
        super().__init__(parent)
        self._key = key
        self._server: QLocalServer | None = None

    @property
    def key(self) -> str:
        """The local socket name."""
        return self._key

    def is_listening(self) -> bool:
        """Whether this object is the first instance and is waiting for later launches."""
        return self._server is not None and self._server.isListening()

    def claim(self) -> bool:
        """True if this is the first instance (it now listens), False if another one answered.

        A False answer means the other instance was told to come to the front.  If the socket
        cannot be created at all (an unwritable temp folder), this returns True so the app still
        starts, just without the single-instance guard.
        """
        if self._server is not None:
            return True
        if self._knock():
            return False
        server = QLocalServer(self)
        # Only this user may knock (file mode 0700 on Unix, the user's ACL on Windows).
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        listening = server.listen(self._key)
        if not listening and server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            # Either another instance started listening since the knock above (ask once more,
            # so the two don't both run), or a crashed one left its socket file behind: nobody
            # answers on it, and listen() fails until it is removed.
            if self._knock():
                server.deleteLater()
                return False
            QLocalServer.removeServer(self._key)
            listening = server.listen(self._key)
        if not listening:
            log.warning("single instance: cannot listen on %s: %s",
                        self._key, server.errorString())
            server.deleteLater()
            return True
        server.newConnection.connect(self._on_new_connection)
        self._server = server
        return True

    def release(self) -> None:
        """Stop listening and remove the socket, e.g. before quitting."""
        if self._server is not None:
            self._server.close()  # also removes the socket file on Unix
            self._server.deleteLater()
            self._server = None

    # -- second launch ----------------------------------------------------------------------

    def _knock(self) -> bool:
        """Ask a running instance to activate; True if one was there to answer."""
        socket = QLocalSocket()
        connected = False
        acked = False
        buffer = bytearray()
        # A local event loop rather than the blocking waitFor*() calls: the instance that
        # answers may live in this very thread (tests; a plug-in host), and it can only answer
        # while events are processed.
        loop = QEventLoop()

        def on_connected() -> None:
            nonlocal connected
            connected = True
            socket.write(_ACTIVATE)
            socket.flush()

        def on_ready_read() -> None:
            nonlocal acked
            buffer.extend(socket.readAll().data())
            if _ACK in buffer:
                acked = True
                loop.quit()

        socket.connected.connect(on_connected)
        socket.readyRead.connect(on_ready_read)
        socket.errorOccurred.connect(lambda _error: loop.quit())
        socket.disconnected.connect(loop.quit)
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)

        socket.connectToServer(self._key)
        # connectToServer may already have failed (no such socket) or connected before
        # returning; only wait when there is still something to wait for.
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            timer.start(ACK_TIMEOUT_MS)
            loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            timer.stop()
        if socket.state() == QLocalSocket.LocalSocketState.ConnectedState:
            connected = True
        if connected and not acked:
            # Someone accepted the connection but did not answer in time (a hung or busy
            # instance).  It is still running, and a second one must not start beside it.
            log.warning("single instance: %s connected but did not acknowledge", self._key)
        socket.abort()
        return connected

    # -- first instance ---------------------------------------------------------------------

    def _on_new_connection(self) -> None:
        server = self._server
        while server is not None and server.hasPendingConnections():
            peer = server.nextPendingConnection()
            if peer is None:
                break
            peer.setParent(self)
            peer.readyRead.connect(lambda peer=peer: self._on_peer_ready(peer))
            peer.disconnected.connect(peer.deleteLater)
            # The message may have arrived with the connection itself.
            if peer.bytesAvailable():
                self._on_peer_ready(peer)

    def _on_peer_ready(self, peer: QLocalSocket) -> None:
        if peer.bytesAvailable() > _MAX_MESSAGE:
            peer.abort()
            return
        if not peer.canReadLine():
            return  # wait for the rest of the line
        line = peer.readLine().data()
        if line == _ACTIVATE:
            peer.write(_ACK)
            peer.flush()
            peer.disconnectFromServer()  # closes once the ack is written
            self.sig_activate.emit()
        else:
            peer.abort()


def bring_to_front(window: QWidget) -> None:
    """Show ``window`` (un-minimized, keeping it maximized if it was), raise and focus it.

    Window managers may refuse to hand focus to a background app (X11/Wayland focus-stealing
    prevention, Windows' foreground lock); then the taskbar entry flashes instead.
    """
    if window.isMinimized():
        # Like showNormal(), but clearing only the minimized flag, so a maximized or full-screen
        # window comes back the way it was.
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
