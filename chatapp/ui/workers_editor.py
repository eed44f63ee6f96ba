"""The settings' Workers tab: llama.cpp RPC workers that hold part of the model, and the split.

A worker is another machine running `chatapp worker`; the model process registers it as a
device and llama.cpp places layers on it.  This editor keeps the list ("host:port"), checks the
workers on request (their devices and free memory, asked of the model process off the GUI
thread), and the split: automatic (by free memory) or proportions in device order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.app_settings import RPC_WORKERS_MAX, is_endpoint, parse_split
from chatapp.core.units import format_bytes
from chatapp.services.background import Background

#: Asks the model process about workers: endpoints → one report per endpoint, each
#: {"endpoint", "devices": [{"name", "description", "memory_free", "memory_total"}],
#: "error": str | None}.  Blocking: run in the background.
Probe = Callable[[list[str]], list[dict[str, Any]]]


def _gb(n: object) -> str:
    return format_bytes(int(n)) if isinstance(n, int | float) and n > 0 else "?"


class WorkersEditor(QWidget):
    """Edits the RPC worker list and the layer split (a page of the settings dialog).

    Attributes:
        list: the workers, one "host:port" per row (with what a check found).
        endpoint_edit: where a new worker's address is typed.
        split_auto / split_manual: the split choice; split_edit: the proportions.
    """

    def __init__(self, workers: Sequence[str], split: str, probe: Probe | None,
                 parent: QWidget | None = None) -> None:
        """Show `workers` and `split`; `probe` (None: no model process) checks workers."""
        super().__init__(parent)
        self._probe = probe
        self._background = Background(workers=1, name="chatapp-workers", parent=self)
        self._reports: dict[str, dict[str, Any]] = {}
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.list = QListWidget(self)
        self.endpoint_edit = QLineEdit(self)
        # Enter adds the worker — and must not also reach the dialog, whose default button
        # would accept it (QLineEdit passes Enter on after returnPressed).
        self.endpoint_edit.installEventFilter(self)
        self.add_button = QPushButton(self)
        self.add_button.clicked.connect(self._add)
        self.remove_button = QPushButton(self)
        self.remove_button.clicked.connect(self._remove)
        self.check_button = QPushButton(self)
        self.check_button.clicked.connect(self.check)
        self.check_button.setEnabled(probe is not None)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.split_label = QLabel(self)
        self.split_auto = QRadioButton(self)
        self.split_manual = QRadioButton(self)
        group = QButtonGroup(self)
        group.addButton(self.split_auto)
        group.addButton(self.split_manual)
        self.split_edit = QLineEdit(self)
        self.split_edit.setPlaceholderText("1,3")
        self.split_manual.toggled.connect(self.split_edit.setEnabled)
        self.split_edit.textChanged.connect(self._validate_split)
        self.warning = QLabel(self)
        self.warning.setWordWrap(True)

        add_row = QHBoxLayout()
        add_row.addWidget(self.endpoint_edit, 1)
        add_row.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        split_row = QHBoxLayout()
        split_row.addWidget(self.split_auto)
        split_row.addWidget(self.split_manual)
        split_row.addWidget(self.split_edit, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addLayout(add_row)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.split_label)
        layout.addLayout(split_row)
        layout.addWidget(self.warning)

        for endpoint in workers:
            self._append(endpoint)
        manual = split.strip().lower() != "auto"
        self.split_manual.setChecked(manual)
        self.split_auto.setChecked(not manual)
        self.split_edit.setText(split if manual else "")
        self.split_edit.setEnabled(manual)
        self._retranslate()

    # -- values ---------------------------------------------------------------------------------

    def workers(self) -> tuple[str, ...]:
        """The endpoints, in order."""
        return tuple(self.list.item(i).data(Qt.ItemDataRole.UserRole)
                     for i in range(self.list.count()))

    def split(self) -> str:
        """ "auto", or the proportions as typed when they are valid (else "auto")."""
        if not self.split_manual.isChecked():
            return "auto"
        text = self.split_edit.text().strip()
        try:
            parse_split(text)
        except ValueError:
            return "auto"
        return text

    # -- editing --------------------------------------------------------------------------------

    def _append(self, endpoint: str) -> None:
        item = QListWidgetItem(endpoint, self.list)
        item.setData(Qt.ItemDataRole.UserRole, endpoint)

    def _add(self) -> None:
        endpoint = self.endpoint_edit.text().strip()
        if not is_endpoint(endpoint):
            self.status.setText(self.tr("Type a worker as host:port, e.g. 192.168.1.20:50052."))
            return
        if endpoint in self.workers():
            self.status.setText(self.tr("{endpoint} is already in the list.")
                                .format(endpoint=endpoint))
            return
        if self.list.count() >= RPC_WORKERS_MAX:
            self.status.setText(self.tr("llama.cpp takes at most {n} workers.")
                                .format(n=RPC_WORKERS_MAX))
            return
        self._append(endpoint)
        self.endpoint_edit.clear()
        self.status.clear()

    def _remove(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def _validate_split(self) -> None:
        text = self.split_edit.text().strip()
        try:
            ok = not text or parse_split(text) is not None
        except ValueError:
            ok = False
        self.status.setText("" if ok else self.tr(
            "Proportions are numbers separated by commas, one per device in order: the "
            "workers' devices first, then this computer's GPUs (e.g. 1,3 for two workers)."))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter in the address field adds it, and goes no further."""
        if (watched is self.endpoint_edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            self._add()
            return True
        return super().eventFilter(watched, event)

    # -- checking -------------------------------------------------------------------------------

    def check(self) -> None:
        """Ask the model process about every worker (their devices and free memory)."""
        endpoints = list(self.workers())
        if self._probe is None or not endpoints:
            return
        self.check_button.setEnabled(False)
        self.status.setText(self.tr("Checking {n} workers…").format(n=len(endpoints)))
        probe = self._probe
        self._background.submit(lambda: probe(endpoints), self._checked, self._check_failed)

    def _checked(self, reports: object) -> None:
        self.check_button.setEnabled(True)
        found = [r for r in reports if isinstance(r, dict)] if isinstance(reports, list) else []
        self._reports = {str(r.get("endpoint")): r for r in found}
        reachable = 0
        for i in range(self.list.count()):
            item = self.list.item(i)
            endpoint = item.data(Qt.ItemDataRole.UserRole)
            report = self._reports.get(endpoint)
            if report is None:
                item.setText(endpoint)
                continue
            if report.get("error"):
                item.setText(self.tr("{endpoint} — not reachable: {error}")
                             .format(endpoint=endpoint, error=report["error"]))
                continue
            reachable += 1
            devices = report.get("devices") or []
            described = "; ".join(
                self.tr("{name}: {free} free of {total}").format(
                    name=d.get("description") or d.get("name") or "?",
                    free=_gb(d.get("memory_free")), total=_gb(d.get("memory_total")))
                for d in devices)
            item.setText(f"{endpoint} — {described}")
        self.status.setText(self.tr("{ok} of {n} workers answered.")
                            .format(ok=reachable, n=self.list.count()))

    def _check_failed(self, error: Exception) -> None:
        self.check_button.setEnabled(True)
        self.status.setText(self.tr("The workers could not be checked: {error}")
                            .format(error=error))

    # -- language -------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language change."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.intro.setText(self.tr(
            "Workers are other computers running “chatapp worker”. The next model load puts "
            "part of the model's layers on them (llama.cpp RPC), so a model larger than this "
            "computer's memory can run. Leave the list empty to use this computer alone."))
        self.endpoint_edit.setPlaceholderText(self.tr("host:port, e.g. 192.168.1.20:50052"))
        self.add_button.setText(self.tr("Add"))
        self.remove_button.setText(self.tr("Remove"))
        self.check_button.setText(self.tr("Check workers"))
        self.split_label.setText(self.tr("Split the layers:"))
        self.split_auto.setText(self.tr("By free memory"))
        self.split_manual.setText(self.tr("In proportions:"))
        self.warning.setText(self.tr(
            "llama.cpp's RPC has no password and no encryption: anyone who can reach a "
            "worker's port can use that computer. Use workers only on a network you trust."))
