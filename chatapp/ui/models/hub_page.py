"""The Download tab: search the Hugging Face Hub, see a repository's files, and whether
each fits this computer.

Nothing is sent to the Hub until the user searches or opens a repository.  Every call runs
on a background thread; a result that comes back after the user moved on is kept (for
when they come back) but not shown.  Errors go into one line on the page, never a dialog.

"Will it fit" needs three things: the model's shape (from the header of one file of the
repository, the smallest, read once per repository), this machine's devices (asked once per
window), and the context length the user loads models with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.units import format_params
from chatapp.engine.gguf_preflight import GGUFInfo
from chatapp.models.hub_types import HubModelFile, HubRepo
from chatapp.models.library import LibraryEntry
from chatapp.services.background import Background
from chatapp.services.download_service import DownloadService, download_key
from chatapp.ui.models.common import (
    error_text,
    hub_host,
    note_label,
    one_line,
    setup_table,
    size_text,
)
from chatapp.ui.models.fit_text import FitText

_REPO_COLUMNS = 5
_FILE_COLUMNS = 6
_FIT_COLUMN = 4


class HubPage(QWidget):
    """Search box, repositories, a repository's files with a fit verdict, Download.

    Attributes:
        search_edit: the query (Enter searches).
        sort_combo: most downloaded / most liked / recently updated.
        search_button: searches.
        privacy_note: what contacts the Hub, and that nothing else does.
        status_label: "Searching…", how many results, or the last error in words.
        repo_table: the repositories found.
        file_table: the selected repository's GGUF files.
        download_button: downloads the selected file.
    """

    def __init__(self, downloads: DownloadService, devices: Callable[[], dict[str, Any]],
                 n_ctx: int, endpoint: str | None = None,
                 parent: QWidget | None = None) -> None:
        """`devices` is blocking (the model process answers it): it runs in the background."""
        super().__init__(parent)
        self._downloads = downloads
        self._devices_fn = devices
        self._n_ctx = n_ctx
        self._endpoint = endpoint
        self._background = Background(workers=3, name="chatapp-hub")
        self._search_serial = 0
        self._repos: list[HubRepo] = []
        self._repo_id: str | None = None
        self._files: dict[str, list[HubModelFile]] = {}
        self._headers: dict[str, GGUFInfo | str] = {}  # repo id → header, or why none
        self._asked: set[str] = set()  # listings and headers asked for and not back yet
        self._devices: list[dict[str, Any]] | None = None
        self._devices_error: str | None = None
        self._library: list[LibraryEntry] = []
        self._fit_text = FitText(self)

        self.search_edit = QLineEdit(self)
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.returnPressed.connect(self.search)
        self.sort_combo = QComboBox(self)
        for sort in ("downloads", "likes", "recent"):
            self.sort_combo.addItem("", sort)
        self.search_button = QPushButton(self)
        self.search_button.clicked.connect(self.search)
        self.privacy_note = note_label(self)
        self.status_label = note_label(self)
        self.repo_table = QTableWidget(0, _REPO_COLUMNS, self)
        setup_table(self.repo_table, stretch_column=0)
        self.repo_table.itemSelectionChanged.connect(self._repo_selected)
        self.file_table = QTableWidget(0, _FILE_COLUMNS, self)
        setup_table(self.file_table, stretch_column=0)
        self.file_table.itemSelectionChanged.connect(self._update_download_button)
        self.fit_note = note_label(self)
        self.download_button = QPushButton(self)
        self.download_button.clicked.connect(self.download_selected)
        downloads.sig_started.connect(lambda *_: self._fill_files())
        downloads.sig_finished.connect(lambda *_: self._fill_files())
        downloads.sig_failed.connect(lambda *_: self._fill_files())

        row = QHBoxLayout()
        row.addWidget(self.search_edit, 1)
        row.addWidget(self.sort_combo)
        row.addWidget(self.search_button)
        files_box = QWidget(self)
        files_layout = QVBoxLayout(files_box)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.fit_note, 1)
        bottom.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignTop)
        files_layout.addLayout(bottom)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.repo_table)
        split.addWidget(files_box)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.privacy_note)
        layout.addWidget(self.status_label)
        layout.addWidget(split, 1)
        self._retranslate()
        self._update_download_button()

    # -- public -------------------------------------------------------------------------------

    def search(self) -> None:
        """Search the Hub for the query in the box, in the chosen order."""
        from chatapp.models.hub import search_models

        query = self.search_edit.text().strip()
        sort = str(self.sort_combo.currentData())
        self._search_serial += 1
        serial = self._search_serial
        self._set_status(self.tr("Searching the Hub…"))
        self._background.submit(
            lambda: search_models(query, sort=sort, endpoint=self._endpoint),
            lambda repos: self._got_repos(serial, query, repos),
            lambda exc: self._failed(exc) if serial == self._search_serial else None)

    def repos(self) -> list[HubRepo]:
        """The repositories listed."""
        return list(self._repos)

    def files(self) -> list[HubModelFile]:
        """The files of the selected repository, as listed."""
        return list(self._files.get(self._repo_id or "", []))

    def select_repo(self, repo_id: str) -> bool:
        """Select a listed repository (its files are then listed); False if not listed."""
        for row, repo in enumerate(self._repos):
            if repo.repo_id == repo_id:
                self.repo_table.selectRow(row)
                return True
        return False

    def select_file(self, name: str) -> bool:
        """Select a listed file by name; False if not listed."""
        for row, f in enumerate(self.files()):
            if f.name == name:
                self.file_table.selectRow(row)
                return True
        return False

    def selected_file(self) -> HubModelFile | None:
        """The selected file, if any."""
        rows = self.file_table.selectionModel().selectedRows()
        files = self.files()
        return files[rows[0].row()] if rows and rows[0].row() < len(files) else None

    def fit_cell(self, name: str) -> tuple[str, str]:
        """The fit column's text and tooltip for the file called `name` ('' if not listed)."""
        for row, f in enumerate(self.files()):
            item = self.file_table.item(row, _FIT_COLUMN)
            if f.name == name and item is not None:
                return item.text(), item.toolTip()
        return "", ""

    def status_text(self) -> str:
        """The page's status line (an error, when the last call failed)."""
        return self.status_label.text()

    def set_library(self, entries: list[LibraryEntry]) -> None:
        """The library's models, to mark the files already downloaded."""
        self._library = list(entries)
        self._fill_files()

    def set_n_ctx(self, n_ctx: int) -> None:
        """The context length the fit verdicts are for."""
        self._n_ctx = n_ctx
        self._retranslate()

    def download_selected(self) -> str | None:
        """Start downloading the selected file; returns the download's key."""
        f = self.selected_file()
        if f is None or not self._can_download(f):
            return None
        key = self._downloads.start(f)
        self._fill_files()
        return key

    def shutdown(self) -> None:
        """Stop background work (results that come later are dropped)."""
        self._background.shutdown()

    # -- Qt -----------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.search_edit.setPlaceholderText(self.tr("Search GGUF models, e.g. “qwen” or "
                                                    "“llama 3b”"))
        self.search_edit.setAccessibleName(self.tr("Search the Hub"))
        for i, text in enumerate((self.tr("Most downloaded"), self.tr("Most liked"),
                                  self.tr("Recently updated"))):
            self.sort_combo.setItemText(i, text)
        self.sort_combo.setAccessibleName(self.tr("Sort by"))
        self.search_button.setText(self.tr("Search"))
        self.privacy_note.setText(self.tr(
            "Searching and opening a repository contact the Hugging Face Hub ({host}); "
            "nothing is sent otherwise.").format(host=hub_host(self._endpoint)))
        self.repo_table.setHorizontalHeaderLabels([
            self.tr("Repository"), self.tr("Downloads"), self.tr("Likes"), self.tr("Updated"),
            self.tr("Access")])
        self.repo_table.setAccessibleName(self.tr("Repositories found"))
        self.file_table.setHorizontalHeaderLabels([
            self.tr("File"), self.tr("Quantization"), self.tr("Size"), self.tr("Parts"),
            self.tr("Fits here?"), self.tr("Status")])
        self.file_table.setAccessibleName(self.tr("Model files in the repository"))
        self.fit_note.setText(self.tr(
            "“Fits here?” estimates the memory each file needs on this computer with a "
            "{n}-token context (Settings › Model); the tooltip has the figures.").format(
            n=f"{self._n_ctx:,}"))
        self.download_button.setText(self.tr("Download"))
        self._fill_repos()
        self._fill_files()

    # -- results ------------------------------------------------------------------------------

    def _got_repos(self, serial: int, query: str, repos: list[HubRepo]) -> None:
        if serial != self._search_serial:
            return  # a later search is on its way
        self._repos = repos
        if len(repos) == 1:
            self._set_status(self.tr("1 repository with GGUF files."))
        elif repos:
            self._set_status(self.tr("{n} repositories with GGUF files.").format(n=len(repos)))
        elif query:
            self._set_status(self.tr("No GGUF repositories match “{query}”.").format(
                query=one_line(query)))
        else:
            self._set_status(self.tr("The Hub listed no GGUF repositories."))
        self._repo_id = None
        self._fill_repos()
        self._fill_files()

    def _repo_selected(self) -> None:
        rows = self.repo_table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._repos):
            return
        repo = self._repos[rows[0].row()]
        self._repo_id = repo.repo_id
        self._fill_files()
        self._ask_devices()
        if repo.repo_id in self._files:
            self._ask_header(repo.repo_id)
            return
        if f"files:{repo.repo_id}" in self._asked:
            return
        from chatapp.models.hub import list_gguf_files

        rid = repo.repo_id
        self._asked.add(f"files:{rid}")
        self._set_status(self.tr("Listing the files of {repo}…").format(repo=one_line(rid)))
        self._background.submit(lambda: list_gguf_files(rid, endpoint=self._endpoint),
                                lambda files: self._got_files(rid, files),
                                lambda exc: self._files_failed(rid, exc))

    def _got_files(self, repo_id: str, files: list[HubModelFile]) -> None:
        self._asked.discard(f"files:{repo_id}")
        self._files[repo_id] = files
        if repo_id != self._repo_id:
            return
        if len(files) == 1:
            status = self.tr("{repo}: 1 model file.")
        elif files:
            status = self.tr("{repo}: {n} model files.")
        else:
            status = self.tr("{repo} has no GGUF model files.")
        self._set_status(status.format(repo=one_line(repo_id), n=len(files)))
        self._fill_files()
        self._ask_header(repo_id)

    def _files_failed(self, repo_id: str, exc: Exception) -> None:
        self._asked.discard(f"files:{repo_id}")
        if repo_id == self._repo_id:
            self._failed(exc)

    def _ask_header(self, repo_id: str) -> None:
        files = self._files.get(repo_id) or []
        if not files or repo_id in self._headers or f"header:{repo_id}" in self._asked:
            return
        from chatapp.models.remote_header import fetch_header

        # Every quantization has the same shape: the smallest file's header serves them all.
        smallest = min(files, key=lambda f: f.size if f.size is not None else 2**63)
        self._asked.add(f"header:{repo_id}")
        self._background.submit(lambda: fetch_header(smallest, endpoint=self._endpoint),
                                lambda info: self._got_header(repo_id, info),
                                lambda exc: self._got_header(repo_id, error_text(exc)))

    def _got_header(self, repo_id: str, header: GGUFInfo | str) -> None:
        self._asked.discard(f"header:{repo_id}")
        self._headers[repo_id] = header
        if repo_id == self._repo_id:
            self._fill_files()

    def _ask_devices(self) -> None:
        if self._devices is not None or self._devices_error or "devices" in self._asked:
            return
        self._asked.add("devices")
        self._background.submit(self._devices_fn, self._got_devices,
                                lambda exc: self._got_devices(error_text(exc)))

    def _got_devices(self, report: dict[str, Any] | str) -> None:
        self._asked.discard("devices")
        devices = report.get("devices") if isinstance(report, dict) else None
        if isinstance(devices, list):
            self._devices = [d for d in devices if isinstance(d, dict)]
        else:
            self._devices_error = (report if isinstance(report, str)
                                   else self.tr("the model process gave no device list"))
        self._fill_files()

    def _failed(self, exc: Exception) -> None:
        self._set_status(error_text(exc), error=True)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        font = self.status_label.font()
        font.setBold(error)  # an error is the one line that needs the eye
        self.status_label.setFont(font)
        self.status_label.setText(text)

    # -- tables -------------------------------------------------------------------------------

    def _fill_repos(self) -> None:
        with QSignalBlocker(self.repo_table):
            self.repo_table.clearContents()
            self.repo_table.setRowCount(len(self._repos))
            for row, repo in enumerate(self._repos):
                gated = repo.gated
                cells = [one_line(repo.repo_id),
                         format_params(repo.downloads) if repo.downloads is not None else "",
                         format_params(repo.likes) if repo.likes is not None else "",
                         (repo.last_modified or "")[:10],
                         self.tr("Gated") if gated else ""]
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if column in (1, 2):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    item.setToolTip(self.tr(
                        "The authors ask you to accept their conditions on the Hub first; "
                        "downloading needs an access token (HF_TOKEN).") if gated else text)
                    self.repo_table.setItem(row, column, item)
            if self._repo_id is not None:
                for row, repo in enumerate(self._repos):
                    if repo.repo_id == self._repo_id:
                        self.repo_table.selectRow(row)

    def _fill_files(self) -> None:
        keep = self.selected_file()
        files = self.files()
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        with QSignalBlocker(self.file_table):
            self.file_table.clearContents()
            self.file_table.setRowCount(len(files))
            for row, f in enumerate(files):
                fit, fit_tip = self._fit(f)
                status, status_tip = self._file_status(f)
                cells = [(one_line(f.name), one_line(" + ".join(p.path for p in f.parts))),
                         (f.quantization or "?", ""), (size_text(f.size), ""),
                         (str(len(f.parts)), ""), (fit, fit_tip), (status, status_tip)]
                for column, (text, tip) in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setToolTip(tip or text)
                    if column in (2, 3):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    if column == _FIT_COLUMN and text == self._fit_text.too_big():
                        item.setIcon(warning)
                    self.file_table.setItem(row, column, item)
                if keep is not None and f.name == keep.name:
                    self.file_table.selectRow(row)
        self._update_download_button()

    def _fit(self, f: HubModelFile) -> tuple[str, str]:
        """The fit column for `f`: a verdict in words, and the figures as tooltip."""
        header = self._headers.get(self._repo_id or "")
        if isinstance(header, str):
            return self.tr("Unknown"), self.tr("The model's header could not be read: "
                                               "{why}").format(why=header)
        if self._devices_error:
            return self.tr("Unknown"), self.tr("This computer's memory is unknown: "
                                               "{why}").format(why=self._devices_error)
        if header is None or self._devices is None:
            return self.tr("Estimating…"), ""
        from chatapp.models.fit import assess
        from chatapp.models.remote_header import shape_for

        try:
            verdict = assess(shape_for(f, header), self._n_ctx, self._devices)
        except (ValueError, TypeError, ZeroDivisionError) as exc:
            return self.tr("Unknown"), one_line(exc)
        return self._fit_text.verdict(verdict, self._n_ctx)

    def _file_status(self, f: HubModelFile) -> tuple[str, str]:
        from chatapp.models.hub import missing_parts

        missing = missing_parts(f)
        if missing:
            return (self.tr("Incomplete: {n} parts missing").format(n=missing),
                    self.tr("Some parts of this split model are not in the repository; it "
                            "cannot be loaded."))
        if download_key(f) in self._downloads.running():
            return self.tr("Downloading…"), ""
        if self._in_library(f):
            return self.tr("In library"), ""
        return "", ""

    def _in_library(self, f: HubModelFile) -> bool:
        for entry in self._library:
            src = entry.source or {}
            if src.get("repo_id") == f.repo_id and src.get("path") == f.parts[0].path:
                return True
            if entry.origin == "folder" and entry.name == f.first_file_name:
                return True
        return False

    def _can_download(self, f: HubModelFile) -> bool:
        from chatapp.models.hub import missing_parts

        return (missing_parts(f) == 0 and not self._in_library(f)
                and download_key(f) not in self._downloads.running())

    def _update_download_button(self) -> None:
        f = self.selected_file()
        self.download_button.setEnabled(f is not None and self._can_download(f))
        if f is not None and not self._can_download(f):
            self.download_button.setToolTip(self._file_status(f)[0])
        else:
            self.download_button.setToolTip(
                self.tr("Download {name} ({size}) into the models folder").format(
                    name=one_line(f.name), size=size_text(f.size)) if f is not None else "")
