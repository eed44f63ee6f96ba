"""The "Sampling" tab: the reply shaded by probability, one token's stages, what-if, branch.

Streaming appends are cheap: a token goes into the text view's incremental layout and a 50 ms
timer repaints (and, while following, selects the newest token) once per batch.  The stages of
the selected token are recomputed only when the selection or a what-if knob changes.  The
records are kept compactly (see `token_records`): a record is rebuilt from its compact form
when its token is selected or hovered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.remote import SERVER_STAGE
from chatapp.storage.records import RecordTable
from chatapp.ui.inside import whatif_adapter
from chatapp.ui.inside.explanations import Explanations, WhatIsThis
from chatapp.ui.inside.plain_text import plain_label
from chatapp.ui.inside.stage_bars import StageBars
from chatapp.ui.inside.stage_model import (
    StageData,
    branch_choices,
    build_rows,
    candidates_of,
    stages_of,
    texts_of,
)
from chatapp.ui.inside.token_records import TokenRecords
from chatapp.ui.inside.token_text import TokenTextView
from chatapp.ui.inside.visible_text import quoted
from chatapp.ui.inside.whatif_adapter import Replay
from chatapp.ui.inside.whatif_controls import WhatIfControls

#: How often streamed tokens are shown (ms).
FLUSH_MS = 50


class SamplingView(QWidget):
    """How each token of a reply was sampled, and what other settings would have done.

    Signals:
        sig_token_selected(int): the selected token changed (its index in the reply).
        sig_branch_requested(str, int, int): message id, token index, the candidate's token id
            to continue from instead of the one drawn.

    Attributes:
        token_view: the reply, token by token.
        bars: the selected token's stages (``bars.rows`` is what is drawn).
        controls: the what-if knobs.
        formula_label, note_label, info_label: plain-text lines.
        branch_combo, branch_button: "Branch here".
        follow_box, shade_box: the "Follow" and "Shade by probability" check boxes.
        explanation: the collapsible "What am I looking at?" box.
        last_replay: the what-if replay behind the bars, None when they show the record.
    """

    sig_token_selected = Signal(int)
    sig_branch_requested = Signal(str, int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty view."""
        super().__init__(parent)
        self._message_id: str | None = None
        self._records = TokenRecords()
        self._settings = SamplingSettings()
        self._selected: int | None = None
        self._streaming = False
        self._reply_replay: Replay | None = None  # the selected token at the reply's settings
        self.last_replay: Replay | None = None
        self._explain = Explanations(self)

        self.follow_box = QCheckBox(self)
        self.follow_box.setChecked(True)
        self.follow_box.toggled.connect(self._on_follow_toggled)
        self.shade_box = QCheckBox(self)
        self.shade_box.setChecked(True)
        self.shade_box.toggled.connect(self._on_shade_toggled)
        self.info_label = plain_label(self)

        self.token_view = TokenTextView(self)
        self.token_view.setMinimumHeight(80)
        self.token_view.sig_token_clicked.connect(self._on_token_clicked)
        self.token_view.set_tooltip_provider(self.token_tooltip)

        self.controls = WhatIfControls(self)
        self.controls.sig_changed.connect(self._update_distribution)
        self.note_label = plain_label(self)
        self.bars = StageBars(self)
        self.bars.sig_candidate_clicked.connect(self._offer_candidate)
        self.formula_label = plain_label(self)
        self.formula_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.branch_label = QLabel(self)
        self.branch_combo = QComboBox(self)
        self.branch_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.branch_combo.setMinimumContentsLength(14)
        self.branch_combo.currentIndexChanged.connect(self._update_branch_button)
        self.branch_button = QPushButton(self)
        self.branch_button.clicked.connect(self._request_branch)
        self.explanation = WhatIsThis(self)

        top = QHBoxLayout()
        top.addWidget(self.follow_box)
        top.addWidget(self.shade_box)
        top.addStretch(1)

        lower = QWidget()
        lower_box = QVBoxLayout(lower)
        lower_box.setContentsMargins(4, 4, 4, 4)
        lower_box.addWidget(self.controls)
        lower_box.addWidget(self.note_label)
        lower_box.addWidget(self.bars)
        lower_box.addWidget(self.formula_label)
        branch = QHBoxLayout()
        branch.addWidget(self.branch_label)
        branch.addWidget(self.branch_combo, 1)
        branch.addWidget(self.branch_button)
        lower_box.addLayout(branch)
        lower_box.addWidget(self.explanation)
        lower_box.addStretch(1)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidget(lower)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.token_view)
        self.splitter.addWidget(self.scroll_area)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)

        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(self.info_label)
        box.addWidget(self.splitter, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self._retranslate()
        self._show_selection()

    # --- the reply -----------------------------------------------------------------------------

    def set_reply(self, message_id: str | None,
                  records: Iterable[Mapping[str, Any]] | RecordTable,
                  settings: SamplingSettings) -> None:
        """Show a stored reply, or the start of a streaming one (``records`` empty; a stored
        reply without records is shown by calling `finish` right after).

        ``records``: dicts (converted to the compact form at once; they are not kept) or the
        stored reply's `RecordTable` (kept as it is: no record is built until it is shown)."""
        self._timer.stop()
        self._message_id = message_id
        self._records = TokenRecords.of(records)
        self._settings = settings
        self._streaming = message_id is not None and not self._records
        self.controls.set_settings(settings)
        self.token_view.set_tokens(self._records.pieces(), self._records.shades())
        self._selected = None
        if self._records:
            self._select(len(self._records) - 1 if self.following() else 0)
        else:
            self._show_selection()

    def append_record(self, record: Mapping[str, Any]) -> None:
        """One more streamed token (cheap; shown by the next timer tick).  The record is kept
        in compact form, not as the dict given."""
        self._records.append(record)
        last = len(self._records) - 1
        self.token_view.append_token(self._records.piece(last), self._records.shade(last))
        if not self._timer.isActive():
            self._timer.start()

    def finish(self) -> None:
        """The streamed reply ended: show everything now."""
        self._streaming = False
        self._timer.stop()
        self._flush()
        if not self._records:  # say why there is nothing to show, now that nothing will come
            self._show_selection()
        self._update_branch_button()

    def clear(self) -> None:
        """Show nothing."""
        self.set_reply(None, [], self._settings)

    def records(self) -> list[dict[str, Any]]:
        """The reply's token records, rebuilt from their compact form (a new list of new dicts
        at each call: for tests and tools)."""
        return self._records.records()

    def record_count(self) -> int:
        """How many token records the reply has (so far, while it streams)."""
        return len(self._records)

    def message_id(self) -> str | None:
        """The reply shown."""
        return self._message_id

    def streaming(self) -> bool:
        """Whether the reply is still being generated."""
        return self._streaming

    # --- selection -----------------------------------------------------------------------------

    def selected(self) -> int | None:
        """The selected token's index."""
        return self._selected

    def select(self, index: int) -> None:
        """Select token ``index`` (as a click would, without stopping Follow)."""
        self._select(index)

    def set_following(self, on: bool) -> None:
        """While following, the newest token is the selected one."""
        self.follow_box.setChecked(on)

    def following(self) -> bool:
        """Whether the newest token is followed."""
        return self.follow_box.isChecked()

    def _on_follow_toggled(self, on: bool) -> None:
        if on and self._records:
            self._select(len(self._records) - 1)
            self.token_view.scroll_to_end()

    def _on_shade_toggled(self, on: bool) -> None:
        self.token_view.set_shading(on)

    def _on_token_clicked(self, index: int) -> None:
        if self.following() and index != len(self._records) - 1:
            self.follow_box.setChecked(False)  # a look at an older token stops following
        self._select(index)

    def _flush(self) -> None:
        self.token_view.flush()
        if self.following() and self._records:
            self._select(len(self._records) - 1)
            self.token_view.scroll_to_end()

    def _select(self, index: int) -> None:
        if not 0 <= index < len(self._records):
            return
        changed = index != self._selected
        self._selected = index
        self.token_view.set_selected(index)
        if changed:
            self._show_selection()
            self.sig_token_selected.emit(index)

    def _show_selection(self) -> None:
        record = self._current()
        self._reply_replay = (whatif_adapter.replay(record, self._settings)
                              if record is not None else None)
        self._fill_branch(record)
        self._update_distribution()

    def _current(self) -> dict[str, Any] | None:
        if self._selected is None or not 0 <= self._selected < len(self._records):
            return None
        return self._records.record(self._selected)

    # --- the distribution ----------------------------------------------------------------------

    def _update_distribution(self) -> None:
        """Redraw the selected token's stages for the knobs' settings (the what-if path)."""
        record = self._current()
        settings = self.controls.settings()
        self._update_explanation(settings)
        if record is None:
            if self._records:
                info = self.tr("Select a token of the reply to see how it was drawn.")
            elif self._message_id is not None and not self._streaming:
                info = self.tr("This reply has no token probabilities: it was imported or "
                               "written by hand, or a server sent none (ask for them in "
                               "Connect to a server…).")
            else:
                info = self.tr("No reply selected.")
            self.info_label.setText(info)
            self.bars.set_rows([])
            self.formula_label.clear()
            self.note_label.clear()
            self.last_replay = None
            self.controls.setEnabled(False)
            return
        self.info_label.setText(self._info_text(record))
        chosen = record.get("token") if isinstance(record.get("token"), int) else None
        texts = texts_of(record)
        has_candidates = candidates_of(record) is not None
        available = whatif_adapter.available()
        self.controls.setEnabled(has_candidates and available)
        replay: Replay | None = None
        if self.controls.is_modified() and has_candidates:
            replay = whatif_adapter.replay(record, settings)
        self.last_replay = replay
        if replay is not None:
            rows = build_rows(replay.stages, settings, chosen, texts, replay.entropies,
                              replay.stage_exact)
            caption = self.tr("What-if: T = {0}, top-k = {1}, top-p = {2}, min-p = {3}").format(
                f"{settings.temperature:.2f}", settings.top_k, f"{settings.top_p:.3g}",
                f"{settings.min_p:.3g}")
        else:
            recorded = stages_of(record)
            entropies, exact = _entropies_for(recorded, self._reply_replay)
            rows = build_rows(recorded, self._settings, chosen, texts, entropies, exact)
            caption = self.tr("What the model did")
        self.bars.set_rows(rows, caption)
        shown = replay if replay is not None else self._reply_replay
        self.formula_label.setText(self._formula_text(record, shown))
        if _from_server(record):
            note = self.tr("Reported by the server: only its top candidates for each token, "
                           "no sampler stages and no what-if. llama.cpp-based servers and vLLM "
                           "compute them from the raw logits, before the sampling settings.")
        elif not available:
            note = self.tr("The what-if needs the replay module, which is not installed.")
        elif not has_candidates:
            note = self.tr("What-if unavailable: this reply was recorded without the "
                           "candidates' scores.")
        elif self.controls.is_modified() and replay is None:
            note = self.tr("The what-if could not be computed for this token's candidates.")
        elif shown is not None and not shown.exact:
            note = self.tr("Approximate: the whole vocabulary would be needed.")
        else:
            note = ""
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))

    def _formula_text(self, record: dict[str, Any], replay: Replay | None) -> str:
        piece = quoted(str(record.get("piece", "")), 24)
        formula = replay.formula if replay is not None else None
        if formula is None:
            p = record.get("chosen_p")
            value = f"{float(p):.4f}" if isinstance(p, int | float) else "?"
            return self.tr("{0}: p = {1}. The logits were not recorded for this reply, so the "
                           "formula cannot be filled in.").format(piece, value)
        if formula.temperature == 0.0:
            return self.tr("{0}: T = 0 is greedy: no division, the most likely token is taken "
                           "with p = 1.").format(piece)
        if not formula.survived:
            return self.tr("{0} was cut by a stage with these settings: p = 0.").format(piece)
        t = f"{formula.temperature:.2f}"
        lines = [self.tr("{0}, with its logit z_i and T:").format(piece),
                 "p_i = exp(z_i / T) / Σ_j exp(z_j / T)"]
        if formula.z_max is not None:
            lines += [
                "    = exp((z_i − z_max) / T) / Σ_j exp((z_j − z_max) / T)",
                f"    = exp(({formula.z:.3f} − {formula.z_max:.3f}) / {t})"
                f" / Σ_j exp((z_j − {formula.z_max:.3f}) / {t})",
            ]
        else:
            lines.append(f"    = exp({formula.z:.3f} / {t}) / Σ_j exp(z_j / {t})")
        lines += [f"    = {_num(formula.numerator)} / {_num(formula.denominator)}",
                  f"    = {formula.p:.4f}"]
        if formula.z_max is not None:
            lines.append(self.tr("(Every logit is shifted by the largest, z_max: the ratio "
                                 "stays the same and the numbers stay finite.)"))
        return "\n".join(lines)

    def _info_text(self, record: dict[str, Any]) -> str:
        index = (self._selected or 0) + 1
        p, rank = record.get("chosen_p"), record.get("chosen_rank")
        return self.tr("Token {0} of {1}: {2}   p = {3}, rank {4}").format(
            index, len(self._records), quoted(str(record.get("piece", "")), 24),
            f"{float(p):.4f}" if isinstance(p, int | float) else "?",
            int(rank) + 1 if isinstance(rank, int) and rank >= 0 else "?")

    def token_tooltip(self, index: int) -> str:
        """The hover text of token ``index``: its text, p and rank (plain text)."""
        if not 0 <= index < len(self._records):
            return ""
        r = self._records.record(index)
        lines = [quoted(str(r.get("piece", "")), 60),
                 self.tr("token {0} of {1}").format(index + 1, len(self._records))]
        p, rank = r.get("chosen_p"), r.get("chosen_rank")
        if isinstance(p, int | float):
            lines.append(self.tr("p = {0} (rank {1})").format(
                f"{float(p):.4f}", int(rank) + 1 if isinstance(rank, int) and rank >= 0
                else "?"))
        raw_p, raw_rank = r.get("raw_p"), r.get("raw_rank")
        if isinstance(raw_p, int | float):
            lines.append(self.tr("before the settings: p = {0} (rank {1})").format(
                f"{float(raw_p):.4f}",
                int(raw_rank) + 1 if isinstance(raw_rank, int) and raw_rank >= 0 else "?"))
        return "\n".join(lines)

    def _update_explanation(self, s: SamplingSettings) -> None:
        self.explanation.set_text(self._explain.sampling(s.temperature, s.top_k, s.top_p,
                                                         s.min_p))

    # --- branch --------------------------------------------------------------------------------

    def _fill_branch(self, record: dict[str, Any] | None) -> None:
        combo = self.branch_combo
        combo.blockSignals(True)
        combo.clear()
        if record is not None:
            chosen = record.get("token")
            for token, text, p in branch_choices(record):
                label = f"{quoted(text, 20)}   p = {p:.3f}"
                if token == chosen:
                    label += "   " + self.tr("(chosen)")
                combo.addItem(label, token)
            for i in range(combo.count()):
                if combo.itemData(i) != chosen:
                    combo.setCurrentIndex(i)
                    break
        combo.blockSignals(False)
        self._update_branch_button()

    def _offer_candidate(self, token: int) -> None:
        i = self.branch_combo.findData(token)
        if i >= 0:
            self.branch_combo.setCurrentIndex(i)

    def _update_branch_button(self) -> None:
        record = self._current()
        token = self.branch_combo.currentData()
        self.branch_button.setEnabled(
            record is not None and self._message_id is not None and not self._streaming
            and isinstance(token, int) and token != record.get("token"))

    def _request_branch(self) -> None:
        token = self.branch_combo.currentData()
        if self._message_id is None or self._selected is None or not isinstance(token, int):
            return
        self.sig_branch_requested.emit(self._message_id, self._selected, token)

    # --- translation ---------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.follow_box.setText(self.tr("Follow"))
        self.follow_box.setToolTip(self.tr("Select the newest token while the reply streams"))
        self.shade_box.setText(self.tr("Shade by probability"))
        self.shade_box.setToolTip(self.tr("The less likely a token was, the stronger its "
                                          "shade"))
        self.branch_label.setText(self.tr("Instead:"))
        self.branch_button.setText(self.tr("Branch here"))
        self.branch_button.setToolTip(self.tr("Continue the reply from the chosen candidate, "
                                              "as a new branch"))
        self._fill_branch(self._current())
        self._update_distribution()



def _from_server(record: Mapping[str, Any]) -> bool:
    """Whether a record is a server's report (chatapp.engine.remote), not llama.cpp's stages."""
    stages = record.get("stages")
    return isinstance(stages, list) and any(
        isinstance(s, Mapping) and s.get("name") == SERVER_STAGE for s in stages)


def _num(value: float) -> str:
    return f"{value:.4g}" if value == value else "—"  # NaN: not given


def _entropies_for(
    stages: list[StageData], replay: Replay | None
) -> tuple[list[float | None] | None, list[bool] | None]:
    """Entropies for the recorded stages, from a replay at the reply's own settings (the
    replay sees the whole distribution through the log-sum-exp; the record lists 20)."""
    if replay is None:
        return None, None
    by_name = {s.name: (h, e) for s, h, e in zip(replay.stages, replay.entropies,
                                                  replay.stage_exact, strict=False)}
    # The replay starts after the penalties: its first stage is the recorded "penalties"
    # stage, and also the raw one when the penalties were off.
    if "input" in by_name:
        by_name.setdefault("penalties", by_name["input"])
        if not any(s.name == "penalties" and s.active for s in stages):
            by_name.setdefault("raw", by_name["input"])
    found = [by_name.get(s.name) for s in stages]
    return ([f[0] if f is not None else None for f in found],
            [f[1] if f is not None else False for f in found])
