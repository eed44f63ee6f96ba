"""Settings: sampling (with presets), the system prompt, model loading, look, data folder.

The dialog only edits values.  It reads nothing from disk or the database and writes nothing
(the folder chooser excepted): the caller passes the current values in, gets a
`SettingsValues` back through `sig_applied` and saves it, and carries out a "save preset"
request (`sig_save_preset`) before calling `set_presets` with the new list.  So opening it
never waits on anything slow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from chatapp.core.app_settings import (
    FONT_SIZE_MAX,
    FONT_SIZE_MIN,
    GPU_LAYERS_AUTO,
    N_CTX_MAX,
    N_CTX_MIN,
    N_GPU_LAYERS_MAX,
    N_THREADS_MAX,
    THREADS_AUTO,
    AppSettings,
)
from chatapp.core.sampling import SamplingSettings
from chatapp.engine.threads import choose_threads
from chatapp.paths import default_data_dir
from chatapp.services.i18n import LANGUAGES
from chatapp.ui.workers_editor import Probe, WorkersEditor

#: Largest seed llama.cpp accepts (2**32 - 1 itself means "random" there).
SEED_MAX = 2**32 - 2
#: Width of every number box, so the sliders beside them line up.
_BOX_WIDTH_CHARS = 12


@dataclass(frozen=True)
class SettingsValues:
    """Everything the settings dialog edits.

    Attributes:
        app: application settings.
        sampling: sampling settings of the current conversation.
        system_prompt: system prompt of the current conversation ('' for none).
        data_dir: data folder to use from the next start; None for the default.
    """

    app: AppSettings
    sampling: SamplingSettings
    system_prompt: str
    data_dir: Path | None


class _Knob:
    """A slider and a number box for one numeric sampling field, each following the other.

    Qt sliders only know whole numbers, so slider position i stands for `low + i * step`.
    Each widget updates the other with the other's signals blocked: a change never echoes
    back (no loops, and one user change is reported exactly once).

    Attributes:
        field: the SamplingSettings field.
        label: the row's label.
        slider: the slider.
        box: the number box (QSpinBox when the field is an int).
        row: slider and box side by side, for a form layout.
    """

    def __init__(self, field: str, low: float, high: float, step: float, decimals: int,
                 on_user_change: Callable[[], None], parent: QWidget) -> None:
        """A knob for `field` over [low, high] in steps of `step`; `decimals` 0 = integer."""
        self.field = field
        self._low, self._step, self._decimals = low, step, decimals
        self._on_user_change = on_user_change
        self.label = QLabel(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, parent)
        self.slider.setRange(0, round((high - low) / step))
        self.box: QSpinBox | QDoubleSpinBox
        if decimals == 0:
            ibox = QSpinBox(parent)
            ibox.setRange(int(low), int(high))
            ibox.valueChanged.connect(self._box_moved)
            self.box = ibox
        else:
            fbox = QDoubleSpinBox(parent)
            fbox.setDecimals(decimals)
            fbox.setRange(low, high)
            fbox.setSingleStep(step)
            fbox.valueChanged.connect(self._box_moved)
            self.box = fbox
        self.box.setMinimumWidth(self.box.fontMetrics().horizontalAdvance("0" * _BOX_WIDTH_CHARS))
        self.box.setAlignment(Qt.AlignmentFlag.AlignRight)
        # Ten page steps across the slider, whatever its range: PgUp/PgDn stay useful.
        self.slider.setPageStep(max(1, self.slider.maximum() // 10))
        self.slider.valueChanged.connect(self._slider_moved)
        self.label.setBuddy(self.box)
        self.row = QWidget(parent)
        layout = QHBoxLayout(self.row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.box)

    def value(self) -> float:
        """The box's value (rounded to its decimals: the box keeps a float's noise)."""
        return round(self.box.value(), self._decimals)

    def set_value(self, value: float) -> None:
        """Show `value` (clamped to the range) in both widgets, reporting no user change."""
        with QSignalBlocker(self.box), QSignalBlocker(self.slider):
            self._set_box(value)
            self.slider.setValue(self._position(self.box.value()))

    def set_tooltip(self, text: str) -> None:
        """Explain the knob wherever the pointer rests on its row."""
        for widget in (self.label, self.slider, self.box):
            widget.setToolTip(text)

    def _position(self, value: float) -> int:
        return round((value - self._low) / self._step)

    def _set_box(self, value: float) -> None:
        if isinstance(self.box, QSpinBox):
            self.box.setValue(round(value))
        else:
            self.box.setValue(value)

    def _slider_moved(self, position: int) -> None:
        with QSignalBlocker(self.box):
            self._set_box(round(self._low + position * self._step, self._decimals))
        self._on_user_change()

    def _box_moved(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(self._position(value))
        self._on_user_change()


class SamplingEditor(QWidget):
    """Sliders and number boxes for the sampling knobs, with presets above them.

    Edits temperature, top-k, top-p, min-p, repeat penalty, max tokens and the seed.  The
    other SamplingSettings fields (frequency/presence penalty, penalty_last_n, stop) have no
    widgets: `sampling()` returns them as `set_sampling` (or the chosen preset) gave them.
    Values outside a widget's range (a preset written elsewhere) are clamped to it.

    Signals:
        sig_changed(SamplingSettings): the user changed a value, chose a preset or reset.
        sig_save_preset(str, SamplingSettings): the user asked to save the current values
            under a name; the editor stores nothing itself.
    """

    sig_changed = Signal(object)
    sig_save_preset = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        """An editor showing the default settings and no presets."""
        super().__init__(parent)
        self._base = SamplingSettings()
        self._presets: dict[str, SamplingSettings] = {}

        self.preset_label = QLabel(self)
        self.preset_combo = QComboBox(self)
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.preset_label.setBuddy(self.preset_combo)
        # `activated` fires for user choices only, so refilling the combo loads nothing.
        self.preset_combo.activated.connect(self._preset_chosen)
        self.save_preset_button = QPushButton(self)
        self.save_preset_button.clicked.connect(self._ask_preset_name)

        changed = self._user_changed
        self.temperature = _Knob("temperature", 0.0, 2.0, 0.01, 2, changed, self)
        self.top_k = _Knob("top_k", 0, 200, 1, 0, changed, self)
        self.top_p = _Knob("top_p", 0.01, 1.0, 0.01, 2, changed, self)
        self.min_p = _Knob("min_p", 0.0, 1.0, 0.01, 2, changed, self)
        self.repeat_penalty = _Knob("repeat_penalty", 0.5, 2.0, 0.01, 2, changed, self)
        self.max_tokens = _Knob("max_tokens", 1, 32768, 1, 0, changed, self)
        self._knobs = (self.temperature, self.top_k, self.top_p, self.min_p,
                       self.repeat_penalty, self.max_tokens)

        self.seed_label = QLabel(self)
        self.seed_random = QCheckBox(self)
        # QSpinBox stops at 2**31 - 1; a double holds every seed up to 2**32 - 2 exactly.
        self.seed_box = QDoubleSpinBox(self)
        self.seed_box.setDecimals(0)
        self.seed_box.setRange(0, SEED_MAX)
        self.seed_box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.seed_box.setMinimumWidth(self.temperature.box.minimumWidth())
        self.seed_label.setBuddy(self.seed_box)
        self.seed_random.toggled.connect(self._seed_random_toggled)
        self.seed_box.valueChanged.connect(self._user_changed)

        self.reset_button = QPushButton(self)
        self.reset_button.clicked.connect(self._reset)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_combo, 1)
        preset_row.addWidget(self.save_preset_button)
        form.addRow(self.preset_label, preset_row)
        for knob in self._knobs:
            form.addRow(knob.label, knob.row)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_random)
        seed_row.addStretch(1)
        seed_row.addWidget(self.seed_box)
        form.addRow(self.seed_label, seed_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.set_presets({})  # the "Custom" item, so the combo is never blank
        self._retranslate()
        self.set_sampling(self._base)

    # -- public -----------------------------------------------------------------------------

    def set_sampling(self, settings: SamplingSettings) -> None:
        """Show `settings` (no sig_changed: this is not a user change)."""
        self._base = settings
        for knob in self._knobs:
            knob.set_value(getattr(settings, knob.field))
        with QSignalBlocker(self.seed_random), QSignalBlocker(self.seed_box):
            self.seed_random.setChecked(settings.seed is None)
            if settings.seed is not None:
                self.seed_box.setValue(settings.seed)
            self.seed_box.setEnabled(settings.seed is not None)
        self._sync_preset_combo()

    def sampling(self) -> SamplingSettings:
        """The settings shown; fields without a widget are those last given."""
        return replace(
            self._base,
            temperature=self.temperature.value(),
            top_k=int(self.top_k.value()),
            top_p=self.top_p.value(),
            min_p=self.min_p.value(),
            repeat_penalty=self.repeat_penalty.value(),
            max_tokens=int(self.max_tokens.value()),
            seed=None if self.seed_random.isChecked() else int(self.seed_box.value()),
        )

    def set_presets(self, presets: dict[str, SamplingSettings]) -> None:
        """List these presets (in this order); the one matching the shown values is selected."""
        self._presets = dict(presets)
        with QSignalBlocker(self.preset_combo):
            self.preset_combo.clear()
            self.preset_combo.addItem(self.tr("Custom"), None)
            for name in self._presets:
                self.preset_combo.addItem(name, name)
        self._sync_preset_combo()

    # -- Qt ---------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.preset_label.setText(self.tr("Preset"))
        self.preset_combo.setItemText(0, self.tr("Custom"))
        self.preset_combo.setToolTip(self.tr("Choosing a preset loads its values."))
        self.save_preset_button.setText(self.tr("Save as preset…"))
        self.reset_button.setText(self.tr("Reset"))
        self.reset_button.setToolTip(self.tr("Restore the default sampling settings."))
        texts = {
            "temperature": (self.tr("Temperature"), self.tr(
                "Divides the logits before softmax: lower is more focused, higher more "
                "varied, and 0 always picks the most likely token.")),
            "top_k": (self.tr("Top-k"), self.tr(
                "Keeps only the k most likely tokens before the draw; 0 turns it off.")),
            "top_p": (self.tr("Top-p"), self.tr(
                "Keeps the smallest set of likely tokens whose probabilities add up to p; "
                "1 turns it off.")),
            "min_p": (self.tr("Min-p"), self.tr(
                "Drops tokens less likely than min-p times the most likely token; "
                "0 turns it off.")),
            "repeat_penalty": (self.tr("Repeat penalty"), self.tr(
                "Makes recently used tokens less likely by scaling down their logits; "
                "1 turns it off.")),
            "max_tokens": (self.tr("Max tokens"), self.tr(
                "The reply stops after this many generated tokens.")),
        }
        for knob in self._knobs:
            label, tip = texts[knob.field]
            knob.label.setText(label)
            knob.slider.setAccessibleName(label)
            knob.set_tooltip(tip)
        self.top_k.box.setSpecialValueText(self.tr("Off"))
        self.seed_label.setText(self.tr("Seed"))
        self.seed_random.setText(self.tr("Random"))
        seed_tip = self.tr("The same seed and settings give the same reply; "
                           "Random picks a new seed for every reply.")
        for widget in (self.seed_label, self.seed_random, self.seed_box):
            widget.setToolTip(seed_tip)

    # -- internals --------------------------------------------------------------------------

    def _user_changed(self) -> None:
        self._sync_preset_combo()
        self.sig_changed.emit(self.sampling())

    def _seed_random_toggled(self, checked: bool) -> None:
        self.seed_box.setEnabled(not checked)
        self._user_changed()

    def _reset(self) -> None:
        # Only the knobs shown are reset: fields without a widget (stop strings...) stay, as
        # the user cannot see that they would change.
        defaults = SamplingSettings()
        self.set_sampling(replace(self.sampling(), **{
            f: getattr(defaults, f) for f in
            ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "max_tokens", "seed")
        }))
        self.sig_changed.emit(self.sampling())

    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name is None:  # "Custom" is a label for "no preset matches", not a preset
            return
        self.set_sampling(self._presets[name])
        self.sig_changed.emit(self.sampling())

    def _sync_preset_combo(self) -> None:
        current = self.sampling()
        index = next((i + 1 for i, s in enumerate(self._presets.values()) if s == current), 0)
        with QSignalBlocker(self.preset_combo):
            self.preset_combo.setCurrentIndex(index)

    def _ask_preset_name(self) -> None:
        name, ok = QInputDialog.getText(self, self.tr("Save preset"), self.tr("Preset name"))
        if ok and name.strip():
            self.sig_save_preset.emit(name.strip(), self.sampling())


class SettingsDialog(QDialog):
    """The settings window: Sampling, Conversation, Model, Appearance and Storage tabs.

    Signals:
        sig_applied(SettingsValues): Apply or OK was pressed; the values to save and use.
        sig_save_preset(str, SamplingSettings): save these sampling settings as a preset
            (the caller saves, then calls `set_presets`).
    """

    sig_applied = Signal(object)
    sig_save_preset = Signal(str, object)

    def __init__(self, parent: QWidget | None, *, app: AppSettings, sampling: SamplingSettings,
                 system_prompt: str, presets: dict[str, SamplingSettings], data_dir: Path,
                 configured_data_dir: Path | None, probe_workers: Probe | None = None) -> None:
        """A dialog showing these values.

        Args:
            parent: the window it belongs to.
            app: the application settings.
            sampling: the current conversation's sampling settings.
            system_prompt: the current conversation's system prompt.
            presets: the presets by name, in the order to list them.
            data_dir: the data folder in use now (shown for information).
            configured_data_dir: the data folder chosen for the next start, None = default.
            probe_workers: asks the model process about RPC workers (None: no check button).
        """
        super().__init__(parent)
        self._chosen_data_dir = configured_data_dir
        self.setMinimumWidth(560)
        self.tabs = QTabWidget(self)

        # Sampling
        self.sampling_editor = SamplingEditor(self)
        self.sampling_editor.set_presets(presets)
        self.sampling_editor.set_sampling(sampling)
        self.sampling_editor.sig_save_preset.connect(self.sig_save_preset)
        self.sampling_note = _note(self)
        self.sampling_page = QWidget(self)
        page = QVBoxLayout(self.sampling_page)
        page.addWidget(self.sampling_editor)
        page.addWidget(self.sampling_note)
        page.addStretch(1)

        # Conversation
        self.system_prompt_label = QLabel(self)
        self.system_prompt_edit = QPlainTextEdit(self)
        self.system_prompt_edit.setPlainText(system_prompt)
        self.system_prompt_label.setBuddy(self.system_prompt_edit)
        self.system_prompt_note = _note(self)
        self.conversation_page = QWidget(self)
        page = QVBoxLayout(self.conversation_page)
        page.addWidget(self.system_prompt_label)
        page.addWidget(self.system_prompt_edit, 1)
        page.addWidget(self.system_prompt_note)

        # Model
        self.n_ctx_label = QLabel(self)
        self.n_ctx_spin = QSpinBox(self)
        self.n_ctx_spin.setRange(N_CTX_MIN, N_CTX_MAX)
        self.n_ctx_spin.setSingleStep(512)
        self.n_ctx_spin.setValue(app.n_ctx)
        self.gpu_label = QLabel(self)
        self.gpu_auto = QCheckBox(self)
        self.gpu_spin = QSpinBox(self)
        self.gpu_spin.setRange(0, N_GPU_LAYERS_MAX)
        self.gpu_auto.setChecked(app.gpu_layers_auto)
        self.gpu_spin.setValue(0 if app.gpu_layers_auto else app.n_gpu_layers)
        self.threads_label = QLabel(self)
        self.threads_auto = QCheckBox(self)
        self.threads_spin = QSpinBox(self)
        self.threads_spin.setRange(1, N_THREADS_MAX)
        self.threads_auto.setChecked(app.threads_auto)
        # With Auto on, show the count auto would pick here (pure arithmetic on the core count).
        self.threads_spin.setValue(min(N_THREADS_MAX, choose_threads().n_threads)
                                   if app.threads_auto else app.n_threads)
        self.flash_attn_check = QCheckBox(self)
        self.flash_attn_check.setChecked(app.flash_attn)
        self.flash_attn_note = _note(self)
        self.model_note = _note(self)
        for auto, spin in ((self.gpu_auto, self.gpu_spin), (self.threads_auto, self.threads_spin)):
            spin.setEnabled(not auto.isChecked())
            auto.toggled.connect(lambda on, s=spin: s.setEnabled(not on))
        self.n_ctx_label.setBuddy(self.n_ctx_spin)
        self.gpu_label.setBuddy(self.gpu_spin)
        self.threads_label.setBuddy(self.threads_spin)
        self.model_page = QWidget(self)
        form = _form(grow=False)
        form.addRow(self.n_ctx_label, self.n_ctx_spin)
        form.addRow(self.gpu_label, _pair(self.gpu_spin, self.gpu_auto))
        form.addRow(self.threads_label, _pair(self.threads_spin, self.threads_auto))
        form.addRow(self.flash_attn_check)
        form.addRow(self.flash_attn_note)
        page = QVBoxLayout(self.model_page)
        page.addLayout(form)
        # Set apart: this note is about the whole tab, not the flash attention row above it.
        page.addSpacing(self.fontMetrics().height())
        page.addWidget(self.model_note)
        page.addStretch(1)

        # Appearance
        self.theme_label = QLabel(self)
        self.theme_combo = QComboBox(self)
        for code in ("system", "light", "dark"):
            self.theme_combo.addItem("", code)  # texts set by _retranslate
        self.font_size_label = QLabel(self)
        self.font_size_spin = QSpinBox(self)
        self.font_size_spin.setRange(FONT_SIZE_MIN, FONT_SIZE_MAX)
        self.font_size_spin.setValue(app.font_size)
        self.language_label = QLabel(self)
        self.language_combo = QComboBox(self)
        self.language_combo.addItem("", "system")
        for code, name in LANGUAGES.items():
            # Each language is named in itself, so a user can find theirs in any language.
            self.language_combo.addItem(name, code)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(app.theme)))
        self.language_combo.setCurrentIndex(max(0, self.language_combo.findData(app.language)))
        # One width for the short fields of Model and Appearance, so they form a column.
        width = self.fontMetrics().horizontalAdvance("0" * 20)
        for field in (self.n_ctx_spin, self.gpu_spin, self.threads_spin, self.theme_combo,
                      self.font_size_spin, self.language_combo):
            field.setMinimumWidth(width)
        self.theme_label.setBuddy(self.theme_combo)
        self.font_size_label.setBuddy(self.font_size_spin)
        self.language_label.setBuddy(self.language_combo)
        self.appearance_page = QWidget(self)
        form = _form(grow=False)
        self.appearance_page.setLayout(form)
        form.addRow(self.theme_label, self.theme_combo)
        form.addRow(self.font_size_label, self.font_size_spin)
        form.addRow(self.language_label, self.language_combo)

        # Storage
        self.current_dir_label = QLabel(self)
        self.current_dir_edit = QLineEdit(str(data_dir), self)
        self.current_dir_edit.setReadOnly(True)
        self.current_dir_edit.setCursorPosition(0)
        self.current_dir_edit.setToolTip(str(data_dir))  # a long path is cut at the right
        self.data_dir_label = QLabel(self)
        self.data_dir_edit = QLineEdit(self)
        self.data_dir_edit.setReadOnly(True)
        self.choose_dir_button = QPushButton(self)
        self.choose_dir_button.clicked.connect(self._choose_data_dir)
        self.default_dir_button = QPushButton(self)
        self.default_dir_button.clicked.connect(lambda: self._set_chosen_data_dir(None))
        self.storage_note = _note(self)
        self.current_dir_label.setBuddy(self.current_dir_edit)
        self.data_dir_label.setBuddy(self.data_dir_edit)
        self.storage_page = QWidget(self)
        form = _form(grow=True)
        self.storage_page.setLayout(form)
        form.addRow(self.current_dir_label, self.current_dir_edit)
        form.addRow(self.data_dir_label, self.data_dir_edit)
        # The buttons go under the path, not beside it: beside, they squeeze a long path.
        chooser = QHBoxLayout()
        chooser.addWidget(self.choose_dir_button)
        chooser.addWidget(self.default_dir_button)
        chooser.addStretch(1)
        form.addRow("", chooser)
        form.addRow(self.storage_note)

        # Workers (llama.cpp RPC)
        self.workers_page = WorkersEditor(app.rpc_workers, app.rpc_split, probe_workers, self)

        for tab in (self.sampling_page, self.conversation_page, self.model_page,
                    self.workers_page, self.appearance_page, self.storage_page):
            self.tabs.addTab(tab, "")

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply, self)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        self.buttons.clicked.connect(self._button_clicked)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)

        self._show_chosen_data_dir()
        self._retranslate()

    # -- public -----------------------------------------------------------------------------

    def values(self) -> SettingsValues:
        """The values shown, as they would be applied."""
        app = AppSettings(
            language=str(self.language_combo.currentData()),
            theme=str(self.theme_combo.currentData()),
            font_size=self.font_size_spin.value(),
            n_ctx=self.n_ctx_spin.value(),
            n_gpu_layers=GPU_LAYERS_AUTO if self.gpu_auto.isChecked() else self.gpu_spin.value(),
            n_threads=THREADS_AUTO if self.threads_auto.isChecked() else self.threads_spin.value(),
            flash_attn=self.flash_attn_check.isChecked(),
            rpc_workers=self.workers_page.workers(),
            rpc_split=self.workers_page.split(),
        )
        return SettingsValues(app=app, sampling=self.sampling_editor.sampling(),
                              system_prompt=self.system_prompt_edit.toPlainText(),
                              data_dir=self._chosen_data_dir)

    def set_presets(self, presets: dict[str, SamplingSettings]) -> None:
        """Refresh the preset list (after a save); the shown values stay."""
        self.sampling_editor.set_presets(presets)

    # -- Qt ---------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the language changes (Qt sends LanguageChange)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Settings"))
        for i, title in enumerate((self.tr("Sampling"), self.tr("Conversation"),
                                   self.tr("Model"), self.tr("Workers"), self.tr("Appearance"),
                                   self.tr("Storage"))):
            self.tabs.setTabText(i, title)
        self.sampling_note.setText(self.tr("These settings apply to the current conversation."))

        self.system_prompt_label.setText(self.tr("System prompt"))
        self.system_prompt_edit.setPlaceholderText(
            self.tr("Instructions the model reads before the conversation, for example: "
                    "“Answer briefly.”"))
        self.system_prompt_note.setText(self.tr("The system prompt applies to this "
                                                "conversation only."))

        self.n_ctx_label.setText(self.tr("Context length"))
        self.n_ctx_spin.setSuffix(self.tr(" tokens"))
        self.n_ctx_spin.setToolTip(self.tr(
            "How many tokens the model sees at once (system prompt, conversation and reply); "
            "more needs more memory."))
        self.gpu_label.setText(self.tr("GPU layers"))
        self.gpu_auto.setText(self.tr("Auto"))
        gpu_tip = self.tr("How many of the model's layers run on the GPU; Auto lets the "
                          "engine decide, 0 runs everything on the CPU.")
        for widget in (self.gpu_label, self.gpu_auto, self.gpu_spin):
            widget.setToolTip(gpu_tip)
        self.threads_label.setText(self.tr("CPU threads"))
        self.threads_auto.setText(self.tr("Auto"))
        threads_tip = self.tr("CPU threads used to generate text; Auto leaves a core free "
                              "so the window stays responsive.")
        for widget in (self.threads_label, self.threads_auto, self.threads_spin):
            widget.setToolTip(threads_tip)
        self.flash_attn_check.setText(self.tr("Use flash attention"))
        self.flash_attn_check.setToolTip(self.tr("A faster attention computation that "
                                                 "needs less memory, mostly on a GPU."))
        self.flash_attn_note.setText(self.tr("The attention view needs flash attention off."))
        self.model_note.setText(self.tr("These settings apply the next time a model is "
                                        "loaded."))

        self.theme_label.setText(self.tr("Theme"))
        for i, name in enumerate((self.tr("System"), self.tr("Light"), self.tr("Dark"))):
            self.theme_combo.setItemText(i, name)
        self.font_size_label.setText(self.tr("Chat font size"))
        self.font_size_spin.setSuffix(self.tr(" pt"))
        self.language_label.setText(self.tr("Language"))
        self.language_combo.setItemText(0, self.tr("System"))

        self.current_dir_label.setText(self.tr("Current data folder"))
        self.data_dir_label.setText(self.tr("Data folder after restart"))
        self.data_dir_edit.setPlaceholderText(
            self.tr("Default: {path}").format(path=default_data_dir()))
        self.choose_dir_button.setText(self.tr("Choose…"))
        self.default_dir_button.setText(self.tr("Default"))
        self.storage_note.setText(self.tr(
            "A new data folder is used after chatapp restarts. Conversations and models "
            "already saved are not moved."))

    # -- internals --------------------------------------------------------------------------

    def _button_clicked(self, button: QAbstractButton) -> None:
        if self.buttons.standardButton(button) == QDialogButtonBox.StandardButton.Apply:
            self.sig_applied.emit(self.values())

    def _ok(self) -> None:
        self.sig_applied.emit(self.values())
        self.accept()

    def _choose_data_dir(self) -> None:
        start = self._chosen_data_dir or Path(self.current_dir_edit.text())
        chosen = QFileDialog.getExistingDirectory(self, self.tr("Choose the data folder"),
                                                  str(start))
        if chosen:  # '' when the user cancelled
            self._set_chosen_data_dir(Path(chosen))

    def _set_chosen_data_dir(self, path: Path | None) -> None:
        self._chosen_data_dir = path
        self._show_chosen_data_dir()

    def _show_chosen_data_dir(self) -> None:
        # Empty (showing the "Default: …" placeholder) when no folder is chosen.
        self.data_dir_edit.setText("" if self._chosen_data_dir is None
                                   else str(self._chosen_data_dir))
        self.data_dir_edit.setCursorPosition(0)
        self.data_dir_edit.setToolTip(self.data_dir_edit.text())
        self.default_dir_button.setEnabled(self._chosen_data_dir is not None)


def _note(parent: QWidget) -> QLabel:
    """A wrapped explanatory line under the settings it explains."""
    label = QLabel(parent)
    label.setWordWrap(True)
    return label


def _form(*, grow: bool) -> QFormLayout:
    """A form whose fields take the full width (`grow`: paths) or their natural one (numbers
    and short choices, which look lost in a 500 px box); set explicitly because the default
    differs between platform styles."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow if grow
                              else QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
    return form


def _pair(spin: QSpinBox, check: QCheckBox) -> QHBoxLayout:
    """A number box with the "Auto" checkbox that overrides it (box first, so it lines up
    with the boxes of the rows without a checkbox)."""
    row = QHBoxLayout()
    row.addWidget(spin)
    row.addWidget(check)
    return row
