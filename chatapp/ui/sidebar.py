"""The conversation sidebar: new chat, search, folders, pin, rename, delete with undo.

Every read and write goes through `StoreService`, so the GUI thread never waits on SQLite:
the list shows the newest `PAGE_SIZE` conversations and asks for more as the user scrolls
(`fetchMore`), which keeps a history of 10,000 conversations as quick as one of ten.

Titles and search snippets come from user and model text.  They are painted as plain text by
`ConversationDelegate` (the « » match markers become bold ranges of a `QTextLayout`, so no
markup is ever interpreted); the one place that builds HTML, the tooltip, escapes first.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QDateTime,
    QEvent,
    QItemSelection,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.entities import Conversation, SearchHit
from chatapp.storage.repository import ChatStore

#: Conversations per page of the list.
PAGE_SIZE = 200
#: Search hits asked for (several may fall in one conversation, which is listed once).
SEARCH_LIMIT = 100
SEARCH_DEBOUNCE_MS = 150
UNDO_MS = 8000
#: Characters of a title and of a snippet that are shown.
MAX_TITLE = 300
MAX_SNIPPET = 600

#: The conversation (a ConversationRow) of a list item.
ROW_ROLE = Qt.ItemDataRole.UserRole + 1

_MARKED = re.compile("«([^«»]*)»")
# Built once: Qt asks for the flags of every selected row, and 10,000 enum ORs add up.
_ITEM_FLAGS = (Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
               | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemNeverHasChildren)
#: The invisible root of a list model (a default argument must not be built per call).
_ROOT = QModelIndex()


@dataclass(frozen=True)
class ConversationRow:
    """One item of the sidebar: a conversation, or the best search hit in one.

    Attributes:
        conversation_id: the conversation.
        title: its title ('' until the first user message gives one).
        pinned: listed first, with a pin.
        folder: its folder, or None.
        updated_at: unix seconds of its last message.
        snippet: for a search hit, the excerpt with matches between « and »; else None.
        message_id: for a search hit, the message found; else None.
    """

    conversation_id: str
    title: str
    pinned: bool
    folder: str | None
    updated_at: float
    snippet: str | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class _Page:
    """What one request for rows brings back from the worker."""

    rows: list[ConversationRow]
    folders: list[str] | None  # None: not looked up (search results)


def parse_snippet(snippet: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The snippet's text without markers (whitespace runs made one space), and the
    (start, length) of each match in it, in code points.

    Only a « with a » after it is a marker pair; a lone one (the text may hold French
    quotes) stays as it is.
    """
    flat = " ".join(snippet.split())
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = length = 0
    for match in _MARKED.finditer(flat):
        before, inner = flat[pos:match.start()], match.group(1)
        parts += (before, inner)
        spans.append((length + len(before), len(inner)))
        length += len(before) + len(inner)
        pos = match.end()
    parts.append(flat[pos:])
    return "".join(parts), tuple(spans)


def snippet_html(snippet: str) -> str:
    """The snippet as HTML with the matches in <b>: the text is escaped first, so model
    output can add no markup of its own."""
    text, spans = parse_snippet(snippet)
    out: list[str] = []
    pos = 0
    for start, length in spans:
        out += (html.escape(text[pos:start]), "<b>", html.escape(text[start:start + length]),
                "</b>")
        pos = start + length
    out.append(html.escape(text[pos:]))
    return "".join(out)


def format_when(timestamp: float) -> str:
    """A short local time for today, else a short local date."""
    when = QDateTime.fromMSecsSinceEpoch(int(timestamp * 1000))
    locale = QLocale()
    if when.date() == QDateTime.currentDateTime().date():
        return locale.toString(when.time(), QLocale.FormatType.ShortFormat)
    return locale.toString(when.date(), QLocale.FormatType.ShortFormat)


def _utf16(text: str) -> int:
    # Qt counts positions in UTF-16 units: an emoji before a match is two of them.
    return len(text.encode("utf-16-le")) // 2


# -- worker-side reads (they run on the store's thread and return plain values) -------------

def _row(c: Conversation, snippet: str | None = None,
         message_id: str | None = None) -> ConversationRow:
    # Bounded here, off the GUI thread: eliding a 100 KB title at every paint would stutter.
    return ConversationRow(c.id, c.title[:MAX_TITLE], c.pinned, c.folder, c.updated_at,
                           None if snippet is None else snippet[:MAX_SNIPPET], message_id)


def _folders(store: ChatStore) -> list[str]:
    # The store has no "distinct folders" query: walk the listing in pages (worker time only).
    found: set[str] = set()
    offset, page = 0, 2000
    while True:
        batch = store.list_conversations(limit=page, offset=offset)
        found.update(c.folder for c in batch if c.folder)
        if len(batch) < page:
            return sorted(found, key=str.casefold)
        offset += page


def _list_job(folder: str | None, offset: int, limit: int,
              with_folders: bool) -> Callable[[ChatStore], _Page]:
    def job(store: ChatStore) -> _Page:
        rows = [_row(c) for c in store.list_conversations(limit=limit, offset=offset,
                                                          folder=folder)]
        return _Page(rows, _folders(store) if with_folders else None)
    return job


def _search_job(text: str, folder: str | None) -> Callable[[ChatStore], _Page]:
    def job(store: ChatStore) -> _Page:
        best: dict[str, SearchHit] = {}  # in rank order (dicts keep insertion order)
        for hit in store.search(text, limit=SEARCH_LIMIT):
            chosen = best.get(hit.conversation_id)
            # The first message usually ranks best but only repeats the title: a lower-ranked
            # hit in the same conversation says more.
            if chosen is None or (_repeats_title(chosen) and not _repeats_title(hit)):
                best[hit.conversation_id] = hit
        rows: list[ConversationRow] = []
        for hit in best.values():
            c = store.get_conversation(hit.conversation_id)
            if folder is None or c.folder == folder:
                rows.append(_row(c, hit.snippet, hit.message_id))
        return _Page(rows, None)
    return job


def _repeats_title(hit: SearchHit) -> bool:
    return parse_snippet(hit.snippet)[0].strip("… ") == " ".join(hit.conversation_title.split())


class ConversationListModel(QAbstractListModel):
    """The conversations of the sidebar, loaded a page at a time through the store service.

    Two views: the listing (pinned first, then the most recent; one folder or all), paged
    with `fetchMore`, or the results of a full-text search.  Each request bumps a
    generation number, so a late answer for an older view is dropped.

    Signals:
        sig_loaded(): the rows were replaced (a first page or search results arrived).

    Attributes:
        folders: every folder name in use (from the last listing), sorted.
        loaded: True once the first answer arrived.
        apply_seconds: GUI-thread time of the last replacement of the rows (reset and
            selection restore).
    """

    sig_loaded = Signal()

    def __init__(self, service: StoreService, parent: QWidget | None = None) -> None:
        """Empty until `show_view` or `reload`."""
        super().__init__(parent)
        self._service = service
        self._rows: list[ConversationRow] = []
        self._folder: str | None = None
        self._search = ""
        self._generation = 0
        self._exhausted = True
        self._fetching = False
        self._in_flight = False
        self._dirty = False
        self.folders: list[str] = []
        self.loaded = False
        self.apply_seconds = 0.0

    @property
    def searching(self) -> str:
        """The search text in effect ('' for the listing)."""
        return self._search

    @property
    def folder(self) -> str | None:
        """The folder shown, or None for all."""
        return self._folder

    def row_at(self, row: int) -> ConversationRow:
        """The conversation of a row."""
        return self._rows[row]

    def rows_of(self, ids: list[str]) -> list[int]:
        """The rows of those conversations that are loaded."""
        wanted = set(ids)
        return [i for i, r in enumerate(self._rows) if r.conversation_id in wanted]

    def find(self, conversation_id: str) -> QModelIndex:
        """The index of a loaded conversation, or an invalid one."""
        for i, r in enumerate(self._rows):
            if r.conversation_id == conversation_id:
                return self.index(i)
        return QModelIndex()

    # -- Qt model interface -----------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        """Loaded rows (a list has no children)."""
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Title for display, raw title for editing, an escaped tooltip, or the row."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return " ".join(row.title.split()) or self.tr("New conversation")
        if role == Qt.ItemDataRole.EditRole:
            return row.title
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"<p>{html.escape(row.title)}</p>"
            if row.snippet is not None:
                tip += f"<p>{snippet_html(row.snippet)}</p>"
            return tip
        if role == Qt.ItemDataRole.AccessibleTextRole:
            title = self.data(index)
            return self.tr("Pinned: {0}").format(title) if row.pinned else title
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        """Rows can be renamed in place."""
        return _ITEM_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Rename (from the inline editor)."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        return self.rename(index.row(), str(value))

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:
        """More of the listing exists and nothing is being fetched."""
        return (not parent.isValid() and not self._search and not self._exhausted
                and not self._fetching and not self._in_flight)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:
        """Ask for the next page; the rows arrive later."""
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        generation = self._generation
        self._service.run(_list_job(self._folder, len(self._rows), PAGE_SIZE, False),
                          lambda page: self._more(generation, page), self._failed)

    # -- loading ----------------------------------------------------------------------------

    def show_view(self, folder: str | None, search: str) -> None:
        """Show the listing of `folder` (None: all), or the hits of `search` if not ''."""
        self._folder, self._search = folder, search
        self._dirty = False
        self._request(keep=0)

    def reload(self) -> None:
        """Read the current view again (after a change), as many rows as are loaded.

        Bursts of changes coalesce: one request at a time, and one more after it.
        """
        if self._in_flight:
            self._dirty = True
            return
        self._request(keep=len(self._rows))

    def rename(self, row: int, title: str) -> bool:
        """Give the conversation of `row` a title; the row shows it at once."""
        title = title.strip()
        current = self._rows[row]
        if not title or title == current.title:
            return False
        self._rows[row] = ConversationRow(current.conversation_id, title, current.pinned,
                                          current.folder, current.updated_at,
                                          current.snippet, current.message_id)
        self.dataChanged.emit(self.index(row), self.index(row))
        cid = current.conversation_id
        self._service.write(lambda s: s.rename(cid, title), Changed(frozenset({cid}), True))
        return True

    def _request(self, keep: int) -> None:
        # A new generation drops answers (pages too) that were asked for the older rows.
        self._generation += 1
        generation = self._generation
        self._fetching = False
        self._in_flight = True
        limit = max(PAGE_SIZE, keep)
        job = (_search_job(self._search, self._folder) if self._search
               else _list_job(self._folder, 0, limit, True))
        self._service.run(job, lambda page: self._replace(generation, page, limit),
                          self._failed)

    def _replace(self, generation: int, page: _Page, limit: int) -> None:
        if generation != self._generation:
            return
        self._in_flight = False
        if self._dirty:
            # These rows are already out of date: show them anyway (the user sees progress)
            # and ask again at once.
            self._dirty = False
            QTimer.singleShot(0, self.reload)
        started = time.perf_counter()
        self.beginResetModel()
        self._rows = page.rows
        self._exhausted = bool(self._search) or len(page.rows) < limit
        if page.folders is not None:
            self.folders = page.folders
        self.endResetModel()
        self.loaded = True
        self.sig_loaded.emit()
        self.apply_seconds = time.perf_counter() - started

    def _more(self, generation: int, page: _Page) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        self._exhausted = len(page.rows) < PAGE_SIZE
        known = {r.conversation_id for r in self._rows}
        # A conversation written to since the first page may have moved into this one.
        rows = [r for r in page.rows if r.conversation_id not in known]
        if rows:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()

    def _failed(self, error: Exception) -> None:
        self._fetching = self._in_flight = False
        self._service.report(error)


class ConversationDelegate(QStyledItemDelegate):
    """Paints a conversation: pin, title, then its folder and date, or the search snippet
    with the matches in bold (two lines at most, then "…").

    Signals:
        (none of its own)

    Attributes:
        PAD_X, PAD_Y: padding inside a row, in pixels.
        GAP: space between the title and the second line.
        PIN_WIDTH: room for the pin before a pinned title.
        SNIPPET_LINES: lines of snippet shown for a search hit.
    """

    PAD_X = 10
    PAD_Y = 7
    GAP = 3
    PIN_WIDTH = 14
    SNIPPET_LINES = 2

    def fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        """The title font and the smaller one of the second line."""
        title = QFont(option.font)
        small = QFont(option.font)
        size = small.pointSizeF()
        if size > 0:
            small.setPointSizeF(max(7.0, size * 0.9))
        return title, small

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        """Two lines for a conversation, three for a search hit."""
        title, small = self.fonts(option)
        row = index.data(ROW_ROLE)
        lines = self.SNIPPET_LINES if row is not None and row.snippet is not None else 1
        height = (2 * self.PAD_Y + QFontMetrics(title).height() + self.GAP
                  + lines * QFontMetrics(small).lineSpacing())
        return QSize(100, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        """Background and selection from the style, then the text as plain text."""
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        row: ConversationRow | None = index.data(ROW_ROLE)
        if row is None:
            return
        state = opt.state
        palette: QPalette = opt.palette
        selected = bool(state & QStyle.StateFlag.State_Selected)
        group = (QPalette.ColorGroup.Active if state & QStyle.StateFlag.State_Active
                 else QPalette.ColorGroup.Inactive)
        fg = palette.color(group, QPalette.ColorRole.HighlightedText if selected
                           else QPalette.ColorRole.Text)
        muted = QColor(fg)
        muted.setAlphaF(0.68)
        title_font, small_font = self.fonts(opt)
        tfm, sfm = QFontMetrics(title_font), QFontMetrics(small_font)
        rect: QRect = opt.rect.adjusted(
            self.PAD_X, self.PAD_Y, -self.PAD_X, -self.PAD_Y)

        painter.save()
        x, y = rect.left(), rect.top()
        if row.pinned:
            accent = fg if selected else palette.color(group, QPalette.ColorRole.Highlight)
            _paint_pin(painter, QRectF(x, y, self.PIN_WIDTH, tfm.height()), accent)
            x += self.PIN_WIDTH + 4
        title = str(index.data(Qt.ItemDataRole.DisplayRole))
        if not row.title:
            title_font.setItalic(True)
        painter.setFont(title_font)
        painter.setPen(fg if row.title else muted)
        width = rect.right() - x
        painter.drawText(QRect(x, y, width, tfm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         tfm.elidedText(title, Qt.TextElideMode.ElideRight, width))
        y += tfm.height() + self.GAP
        painter.setFont(small_font)
        if row.snippet is None:
            self._paint_meta(painter, row, QRect(rect.left(), y, rect.width(), sfm.height()),
                             muted, sfm)
        else:
            self._paint_snippet(painter, row.snippet, QRectF(rect.left(), y, rect.width(),
                                                             sfm.lineSpacing() * 2),
                                small_font, muted, fg)
        painter.restore()

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem,
                             index: QModelIndex | QPersistentModelIndex) -> None:
        """The rename editor covers the title line only."""
        title, _small = self.fonts(option)
        r: QRect = option.rect
        editor.setGeometry(QRect(r.left() + self.PAD_X - 4, r.top() + self.PAD_Y - 4,
                                 r.width() - 2 * self.PAD_X + 8,
                                 QFontMetrics(title).height() + 8))

    def _paint_meta(self, painter: QPainter, row: ConversationRow, rect: QRect, color: QColor,
                    fm: QFontMetrics) -> None:
        x = rect.left()
        if row.folder:
            # The folder as a small outlined tag, so it does not read as part of the date.
            name = fm.elidedText(row.folder, Qt.TextElideMode.ElideRight, rect.width() // 2)
            tag = QRectF(x, rect.top(), fm.horizontalAdvance(name) + 10, rect.height())
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(color, 1))
            painter.drawRoundedRect(tag.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, name)
            painter.restore()
            x = int(tag.right()) + 6
        painter.setPen(color)
        painter.drawText(QRect(x, rect.top(), rect.right() - x, rect.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         format_when(row.updated_at))

    def _paint_snippet(self, painter: QPainter, snippet: str, rect: QRectF, font: QFont,
                       color: QColor, strong: QColor) -> None:
        text, spans = parse_snippet(snippet)
        layout = QTextLayout(text, font)
        bold = QTextCharFormat()
        bold.setFontWeight(QFont.Weight.Bold)
        bold.setForeground(strong)
        ranges = []
        for start, length in spans:
            fr = QTextLayout.FormatRange()
            fr.start, fr.length, fr.format = (_utf16(text[:start]),
                                              _utf16(text[start:start + length]), bold)
            ranges.append(fr)
        layout.setFormats(ranges)
        wrap = QTextOption()
        wrap.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(wrap)
        ellipsis = "…"
        ellipsis_width = QFontMetrics(font).horizontalAdvance(ellipsis)
        total = _utf16(text)
        layout.beginLayout()
        y = 0.0
        cut = False
        for n in range(self.SNIPPET_LINES):
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(rect.width())
            if (n == self.SNIPPET_LINES - 1
                    and line.textStart() + line.textLength() < total):
                # Text is left over: shorten the last line to make room for "…".
                line.setLineWidth(rect.width() - ellipsis_width)
                cut = True
            line.setPosition(QPointF(0, y))
            y += line.height()
        layout.endLayout()
        painter.setPen(color)
        layout.draw(painter, rect.topLeft())
        if cut and layout.lineCount():
            last = layout.lineAt(layout.lineCount() - 1)
            painter.drawText(QPointF(rect.left() + last.naturalTextWidth(),
                                     rect.top() + last.y() + last.ascent()), ellipsis)


def _paint_pin(painter: QPainter, rect: QRectF, color: QColor) -> None:
    # Drawn, not a glyph: emoji fonts are missing on many Linux desktops.
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(rect.center())
    painter.rotate(35)
    painter.setPen(QPen(color, 1.3))
    painter.drawLine(QPointF(0, 1.5), QPointF(0, 6.5))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(-2.5, -6.0, 5.0, 5.5), 1.2, 1.2)
    painter.drawRoundedRect(QRectF(-4.5, -1.0, 9.0, 2.2), 1.0, 1.0)
    painter.restore()


class ConversationSidebar(QWidget):
    """The list of conversations beside the chat.

    The window adds the actions to its menus and shortcut sheet; Delete and F2 act only
    while the list has focus, Ctrl+N anywhere in the window.  "New chat" only emits
    `sig_new_chat`: the window decides when the conversation is created, then calls
    `select_conversation`.

    Signals:
        sig_conversation_selected(str): the user chose a conversation (its id).
        sig_message_selected(str, str): the user chose a search hit (conversation id,
            message id), right after `sig_conversation_selected`.
        sig_new_chat(): the user asked for a new chat.

    Attributes:
        model: the rows (ConversationListModel).
        view: the list.
        search_box: the search field (debounced).
        folder_combo: the folder filter (hidden while there are no folders).
        empty_label: what is shown instead of an empty list.
        undo_label: the "Deleted …" message of the undo bar.
        action_new_chat: Ctrl+N.
        action_search: Ctrl+K, to the search field.
        action_rename: F2, the selected conversation.
        action_delete: Delete, the selected conversations (to the trash, with undo).
        action_pin: pin or unpin the selected conversations.
        action_move_to_folder: ask for a folder and move the selection there.
        action_undo_delete: restore what was just deleted (while the undo bar shows).
    """

    sig_conversation_selected = Signal(str)
    sig_message_selected = Signal(str, str)
    sig_new_chat = Signal()

    def __init__(self, service: StoreService, parent: QWidget | None = None) -> None:
        """Build the widgets and load the first page (it arrives once the store is open)."""
        super().__init__(parent)
        self._service = service
        self._current_id: str | None = None
        self._chosen_message: str | None = None
        self._restoring = False
        self._undo_ids: list[str] = []
        self._undo_title = ""
        self._saved: tuple[list[str], str | None] = ([], None)

        self.model = ConversationListModel(service, self)
        self.view = QListView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(ConversationDelegate(self.view))
        # Uniform rows let the view lay out 10,000 of them without asking each for its size.
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        self.new_button = QPushButton(self)
        self.search_box = QLineEdit(self)
        self.search_box.setClearButtonEnabled(True)
        self.folder_combo = QComboBox(self)
        self.folder_combo.setVisible(False)

        self.empty_label = QLabel(self)
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setContentsMargins(16, 16, 16, 16)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.view)
        self._stack.addWidget(self.empty_label)

        self._undo_bar = QFrame(self)
        self._undo_bar.setFrameShape(QFrame.Shape.StyledPanel)
        self._undo_bar.setAutoFillBackground(True)
        self._undo_bar.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.undo_label = QLabel(self._undo_bar)
        self.undo_label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton(self._undo_bar)
        close_undo = self._close_undo = QToolButton(self._undo_bar)
        close_undo.setText("×")
        close_undo.setAutoRaise(True)
        bar = QHBoxLayout(self._undo_bar)
        bar.setContentsMargins(8, 4, 4, 4)
        bar.addWidget(self.undo_label, 1)
        bar.addWidget(self.undo_button)
        bar.addWidget(close_undo)
        self._undo_bar.setVisible(False)
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.setInterval(UNDO_MS)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search_box)
        layout.addWidget(self.folder_combo)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self._undo_bar)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)

        # The order a user tabs through, whatever the order the widgets were made in.
        QWidget.setTabOrder(self.new_button, self.search_box)
        QWidget.setTabOrder(self.search_box, self.folder_combo)
        QWidget.setTabOrder(self.folder_combo, self.view)
        self._make_actions()
        self._connect(close_undo)
        self._retranslate()
        self.model.show_view(None, "")

    # -- public -----------------------------------------------------------------------------

    @property
    def current_conversation_id(self) -> str | None:
        """The conversation shown as current (the open one), or None."""
        return self._current_id

    def select_conversation(self, conversation_id: str | None) -> None:
        """Show this conversation as the open one (None: none), without emitting a signal;
        if it is not loaded yet, it is selected when it arrives."""
        self._current_id, self._chosen_message = conversation_id, None
        self._restore_selection([conversation_id] if conversation_id else [], None)

    def selected_ids(self) -> list[str]:
        """The selected conversations, in list order."""
        return [self.model.row_at(r).conversation_id for r in self._selected_rows()]

    def _selected_rows(self) -> list[int]:
        # From the ranges, not selectedIndexes(): that asks the model for each row's flags.
        rows: set[int] = set()
        selection = self.view.selectionModel().selection()
        for i in range(selection.count()):
            r = selection.at(i)
            rows.update(range(r.top(), r.bottom() + 1))
        return sorted(rows)

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        """Rename a conversation."""
        index = self.model.find(conversation_id)
        if index.isValid():
            self.model.rename(index.row(), title)
        else:
            self._service.write(lambda s: s.rename(conversation_id, title),
                                Changed(frozenset({conversation_id}), True))

    def set_pinned(self, ids: list[str], pinned: bool) -> None:
        """Pin or unpin conversations."""
        def pin(store: ChatStore) -> None:
            for cid in ids:
                store.set_pinned(cid, pinned)
        self._service.write(pin, Changed(frozenset(ids), True))

    def move_to_folder(self, ids: list[str], folder: str | None) -> None:
        """Move conversations to a folder (None or '': out of any folder)."""
        target = (folder or "").strip() or None

        def move(store: ChatStore) -> None:
            for cid in ids:
                store.set_folder(cid, target)
        self._service.write(move, Changed(frozenset(ids), True))

    def delete_conversations(self, ids: list[str]) -> None:
        """Move conversations to the trash and offer to undo it for a few seconds."""
        if not ids:
            return
        first = self.model.find(ids[0])
        title = str(first.data()) if first.isValid() else ""

        def delete(store: ChatStore) -> None:
            for cid in ids:
                store.delete(cid)
        self._service.write(delete, Changed(frozenset(ids), True),
                            lambda _none: self._offer_undo(ids, title))

    def undo_delete(self) -> None:
        """Restore the conversations of the undo bar."""
        ids, self._undo_ids = self._undo_ids, []
        self._hide_undo()
        if not ids:
            return

        def restore(store: ChatStore) -> None:
            for cid in ids:
                store.restore(cid)
        self._service.write(restore, Changed(frozenset(ids), True))

    def set_folder_filter(self, folder: str | None) -> None:
        """Show one folder (None: all)."""
        i = self.folder_combo.findData(folder) if folder is not None else 0
        if i >= 0:
            self.folder_combo.setCurrentIndex(i)

    # -- building ---------------------------------------------------------------------------

    def _make_actions(self) -> None:
        def action(shortcut: QKeySequence | None, owner: QWidget,
                   context: Qt.ShortcutContext, slot: Callable[[], None]) -> QAction:
            a = QAction(self)
            if shortcut is not None:
                a.setShortcut(shortcut)
                a.setShortcutContext(context)
            a.triggered.connect(slot)
            owner.addAction(a)
            return a

        widget = Qt.ShortcutContext.WidgetShortcut
        window = Qt.ShortcutContext.WindowShortcut
        self.action_new_chat = action(QKeySequence(QKeySequence.StandardKey.New), self,
                                      window, self._new_chat)
        self.action_search = action(QKeySequence("Ctrl+K"), self, window, self._focus_search)
        # Delete and F2 belong to the list only: Delete in the composer edits text.
        self.action_rename = action(QKeySequence(Qt.Key.Key_F2), self.view, widget,
                                    self._rename_current)
        self.action_delete = action(QKeySequence(QKeySequence.StandardKey.Delete), self.view,
                                    widget, self._delete_selected)
        self.action_pin = action(None, self.view, widget, self._toggle_pin)
        self.action_move_to_folder = action(None, self.view, widget, self._ask_folder)
        self.action_undo_delete = action(QKeySequence(QKeySequence.StandardKey.Undo), self,
                                         Qt.ShortcutContext.WidgetWithChildrenShortcut,
                                         self.undo_delete)
        self.action_undo_delete.setEnabled(False)

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.view.setAccessibleName(self.tr("Conversations"))
        self.new_button.setText(self.tr("New chat"))
        self.search_box.setPlaceholderText(self.tr("Search messages…"))
        self.search_box.setAccessibleName(self.tr("Search messages"))
        self.folder_combo.setAccessibleName(self.tr("Folder"))
        self.undo_button.setText(self.tr("Undo"))
        self._close_undo.setToolTip(self.tr("Dismiss"))
        self.action_new_chat.setText(self.tr("New chat"))
        self.action_search.setText(self.tr("Search conversations"))
        self.action_rename.setText(self.tr("Rename…"))
        self.action_delete.setText(self.tr("Delete"))
        self.action_move_to_folder.setText(self.tr("Move to folder…"))
        self.action_undo_delete.setText(self.tr("Undo delete"))
        shortcut = self.action_new_chat.shortcut().toString(
            QKeySequence.SequenceFormat.NativeText)
        self.new_button.setToolTip(self.tr("Start a new chat ({0})").format(shortcut))
        self._set_folders(self.model.folders)
        self._update_actions()
        self._update_empty()
        self._update_undo_text()
        self.view.viewport().update()  # "New conversation" is painted from the model

    def _connect(self, close_undo: QToolButton) -> None:
        self.new_button.clicked.connect(self.action_new_chat.trigger)
        self.search_box.textChanged.connect(self._search_timer.start)
        self.search_box.returnPressed.connect(self._apply_search)
        self._search_timer.timeout.connect(self._apply_search)
        escape = QAction(self.search_box)
        escape.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        escape.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        escape.triggered.connect(self.search_box.clear)
        self.search_box.addAction(escape)
        self.folder_combo.currentIndexChanged.connect(self._apply_search)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(self._on_choice)
        self.view.selectionModel().selectionChanged.connect(self._on_choice)
        self.view.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.modelAboutToBeReset.connect(self._save_selection)
        self.model.sig_loaded.connect(self._on_loaded)
        self.model.rowsInserted.connect(self._update_empty)
        self.undo_button.clicked.connect(self.undo_delete)
        close_undo.clicked.connect(self._hide_undo)
        self._undo_timer.timeout.connect(self._hide_undo)
        self._service.sig_changed.connect(self._on_changed)
        self._update_actions()

    # -- reacting ---------------------------------------------------------------------------

    def _on_changed(self, changed: Changed) -> None:
        if changed.lists:
            self.model.reload()

    def _apply_search(self) -> None:
        self._search_timer.stop()
        folder = self.folder_combo.currentData()
        self.model.show_view(folder if isinstance(folder, str) else None,
                             self.search_box.text().strip())

    def _save_selection(self) -> None:
        top = self.view.indexAt(QPoint(1, 1))
        top_id = self.model.row_at(top.row()).conversation_id if top.isValid() else None
        self._saved = (self.selected_ids(), top_id)

    def _on_loaded(self) -> None:
        self._set_folders(self.model.folders)
        selected, top_id = self._saved
        if self._current_id and self._current_id not in selected:
            selected = [self._current_id]
        self._restore_selection(selected, top_id)
        self._update_empty()

    def _restore_selection(self, ids: list[str], top_id: str | None) -> None:
        # Programmatic: the user did not choose anything, so no signal.
        self._restoring = True
        try:
            selection = self.view.selectionModel()
            selection.clearSelection()
            current = self.model.find(self._current_id) if self._current_id else QModelIndex()
            if current.isValid():
                selection.setCurrentIndex(current, selection.SelectionFlag.NoUpdate)
            else:
                # Else a click on the former current row would change nothing, emit nothing.
                selection.clearCurrentIndex()
            # One lookup table and contiguous ranges: after Ctrl+A on 10,000 rows, a search
            # per id and a range per row would freeze the window on every refresh.
            rows = sorted(self.model.rows_of(ids))
            ranges = QItemSelection()
            start = 0
            for i in range(1, len(rows) + 1):
                if i == len(rows) or rows[i] != rows[i - 1] + 1:
                    ranges.select(self.model.index(rows[start]), self.model.index(rows[i - 1]))
                    start = i
            selection.select(ranges, selection.SelectionFlag.Select)
            top = self.model.find(top_id) if top_id else QModelIndex()
            if top.isValid():
                self.view.scrollTo(top, QAbstractItemView.ScrollHint.PositionAtTop)
            elif current.isValid():
                self.view.scrollTo(current)
        finally:
            self._restoring = False
        self._update_actions()

    def _on_choice(self) -> None:
        # A user's choice makes an item current and selected (a click selects it after
        # making it current, the arrow keys before); the view also moves the current item
        # alone (on focus, Ctrl+arrows), which opens nothing.
        current = self.view.currentIndex()
        if (self._restoring or not current.isValid()
                or not self.view.selectionModel().isSelected(current)):
            return
        row = self.model.row_at(current.row())
        if row.conversation_id != self._current_id:
            self._current_id, self._chosen_message = row.conversation_id, None
            self.sig_conversation_selected.emit(row.conversation_id)
        if row.message_id is not None and row.message_id != self._chosen_message:
            self._chosen_message = row.message_id
            self.sig_message_selected.emit(row.conversation_id, row.message_id)

    def _update_empty(self) -> None:
        if not self.model.loaded:
            return
        empty = self.model.rowCount() == 0
        if empty:
            if self.model.searching:
                text = self.tr("No messages match “{0}”.").format(self.model.searching)
            elif self.model.folder is not None:
                text = self.tr("No conversations in this folder.")
            else:
                text = self.tr("No conversations yet. Start one with New chat.")
            self.empty_label.setText(text)
        self._stack.setCurrentWidget(self.empty_label if empty else self.view)

    def _update_actions(self) -> None:
        rows = [self.model.row_at(r) for r in self._selected_rows()]
        self.action_rename.setEnabled(len(rows) == 1)
        self.action_delete.setEnabled(bool(rows))
        self.action_move_to_folder.setEnabled(bool(rows))
        self.action_pin.setEnabled(bool(rows))
        unpin = bool(rows) and all(r.pinned for r in rows)
        self.action_pin.setText(self.tr("Unpin") if unpin else self.tr("Pin"))

    def _set_folders(self, folders: list[str]) -> None:
        current = self.folder_combo.currentData()
        self.folder_combo.blockSignals(True)  # rebuilding is not a choice of the user's
        self.folder_combo.clear()
        self.folder_combo.addItem(self.tr("All folders"), None)
        for name in folders:
            self.folder_combo.addItem(name, name)
        i = self.folder_combo.findData(current) if isinstance(current, str) else 0
        self.folder_combo.setCurrentIndex(max(i, 0))
        self.folder_combo.blockSignals(False)
        self.folder_combo.setVisible(bool(folders))
        if isinstance(current, str) and i < 0:
            self._apply_search()  # the folder shown is gone: back to all

    # -- actions ----------------------------------------------------------------------------

    def _new_chat(self) -> None:
        self.select_conversation(None)
        self.sig_new_chat.emit()

    def _focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def _rename_current(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            self.view.edit(index)

    def _delete_selected(self) -> None:
        self.delete_conversations(self.selected_ids())

    def _toggle_pin(self) -> None:
        rows = [self.model.row_at(r) for r in self._selected_rows()]
        if rows:
            self.set_pinned([r.conversation_id for r in rows], not all(r.pinned for r in rows))

    def _ask_folder(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        none = self.tr("(No folder)")
        current = self.model.row_at(self.view.currentIndex().row()).folder \
            if self.view.currentIndex().isValid() else None
        items = [none, *self.model.folders]
        folder, ok = QInputDialog.getItem(
            self, self.tr("Move to folder"), self.tr("Folder (type a new name to create one):"),
            items, items.index(current) if current in items else 0, True)
        if ok:
            self.move_to_folder(ids, None if folder == none else folder)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        if not self.view.selectionModel().isSelected(index):
            self.view.setCurrentIndex(index)
        menu = QMenu(self)
        for a in (self.action_rename, self.action_pin, self.action_move_to_folder):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.action_delete)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def _offer_undo(self, ids: list[str], title: str) -> None:
        self._undo_ids = list(ids)
        self._undo_title = title
        self._update_undo_text()
        self._undo_bar.setVisible(True)
        self.action_undo_delete.setEnabled(True)
        self._undo_timer.start()

    def _update_undo_text(self) -> None:
        if len(self._undo_ids) == 1:
            short = self.undo_label.fontMetrics().elidedText(
                self._undo_title, Qt.TextElideMode.ElideMiddle, max(80, self.width() // 2))
            self.undo_label.setText(self.tr("Deleted “{0}”").format(short))
        elif self._undo_ids:
            self.undo_label.setText(self.tr("Deleted %n conversations", "", len(self._undo_ids)))

    def _hide_undo(self) -> None:
        self._undo_timer.stop()
        self._undo_bar.setVisible(False)
        self.action_undo_delete.setEnabled(False)
        self._undo_ids = []
