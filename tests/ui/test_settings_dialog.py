"""The settings dialog and its sampling editor, offscreen (no files, no database)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTranslator
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QInputDialog
from pytestqt.qtbot import QtBot

from chatapp.core.app_settings import AppSettings
from chatapp.core.sampling import SamplingSettings
from chatapp.ui.settings_dialog import SamplingEditor, SettingsDialog, SettingsValues

PRESETS = {
    "Balanced": SamplingSettings(),
    "Precise": SamplingSettings(temperature=0.2, top_k=20, top_p=0.9, seed=7),
}
# Fields without a widget, which the editor must hand back untouched.
HIDDEN = SamplingSettings(frequency_penalty=0.3, presence_penalty=-0.2, penalty_last_n=-1,
                          stop=("###", "User:"))


@pytest.fixture
def editor(qtbot: QtBot) -> SamplingEditor:
    widget = SamplingEditor()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def dialog(qtbot: QtBot, tmp_path: Path) -> SettingsDialog:
    dlg = SettingsDialog(None, app=AppSettings(), sampling=HIDDEN, system_prompt="Be brief.",
                         presets=PRESETS, data_dir=tmp_path / "now", configured_data_dir=None)
    qtbot.addWidget(dlg)
    return dlg


def emissions(signal: Any) -> list[tuple[Any, ...]]:
    """Every emission of `signal` from now on (synchronous, so no waiting is needed)."""
    got: list[tuple[Any, ...]] = []
    signal.connect(lambda *args: got.append(args))
    return got


def test_slider_and_box_follow_each_other_once(editor: SamplingEditor) -> None:
    changed = emissions(editor.sig_changed)
    knob = editor.temperature
    knob.slider.setValue(150)  # what a drag does
    assert knob.box.value() == pytest.approx(1.5)
    assert len(changed) == 1 and changed[0][0].temperature == 1.5

    knob.box.setValue(0.33)  # what typing does
    assert knob.slider.value() == 33
    assert len(changed) == 2 and changed[1][0].temperature == 0.33

    editor.top_p.slider.setValue(0)  # the slider's first step is the range's low end
    assert editor.top_p.box.value() == pytest.approx(0.01)
    editor.repeat_penalty.box.setValue(2.0)
    assert editor.repeat_penalty.slider.value() == editor.repeat_penalty.slider.maximum()
    editor.max_tokens.slider.setValue(editor.max_tokens.slider.maximum())
    assert editor.max_tokens.box.value() == 32768
    editor.top_k.box.setValue(0)
    assert editor.top_k.box.text() == "Off" and editor.top_k.slider.value() == 0
    assert len(changed) == 6  # one report per user change: no echo between the two widgets


def test_keyboard_on_the_slider(qtbot: QtBot, editor: SamplingEditor) -> None:
    editor.show()
    qtbot.waitExposed(editor)
    before = editor.min_p.value()
    qtbot.keyClick(editor.min_p.slider, Qt.Key.Key_Right)
    assert editor.min_p.value() == pytest.approx(before + 0.01)
    assert editor.sampling().min_p == pytest.approx(before + 0.01)


def test_set_sampling_is_silent_and_round_trips(editor: SamplingEditor) -> None:
    changed = emissions(editor.sig_changed)
    rng = random.Random(1234)
    for _ in range(200):
        s = SamplingSettings(
            temperature=rng.randint(0, 200) / 100, top_k=rng.randint(0, 200),
            top_p=rng.randint(1, 100) / 100, min_p=rng.randint(0, 100) / 100,
            repeat_penalty=rng.randint(50, 200) / 100, max_tokens=rng.randint(1, 32768),
            seed=rng.choice([None, 0, rng.randint(0, 2**32 - 2), 2**32 - 2]),
            frequency_penalty=rng.uniform(-2, 2), penalty_last_n=rng.randint(-1, 512),
            stop=tuple(rng.sample(["a", "b", "\n\n"], rng.randint(0, 2))),
        )
        editor.set_sampling(s)
        assert editor.sampling() == s
        assert editor.seed_box.isEnabled() == (s.seed is not None)
    assert changed == []
    assert editor.preset_combo.currentText() == "Custom"  # on its own: no presets, never blank


def test_hidden_fields_survive_edits_and_reset(editor: SamplingEditor) -> None:
    editor.set_sampling(replace(HIDDEN, temperature=1.3, seed=99))
    editor.temperature.box.setValue(0.9)
    assert editor.sampling() == replace(HIDDEN, temperature=0.9, seed=99)

    changed = emissions(editor.sig_changed)
    editor.reset_button.click()
    assert editor.sampling() == HIDDEN  # the knobs at their defaults, the rest kept
    assert editor.seed_random.isChecked() and not editor.seed_box.isEnabled()
    assert editor.temperature.slider.value() == 70
    assert [args[0] for args in changed] == [HIDDEN]


def test_seed_random_checkbox(editor: SamplingEditor) -> None:
    changed = emissions(editor.sig_changed)
    editor.seed_random.setChecked(False)
    assert editor.seed_box.isEnabled()
    editor.seed_box.setValue(2**32 - 2)
    assert editor.sampling().seed == 2**32 - 2
    editor.seed_random.setChecked(True)
    assert editor.sampling().seed is None
    assert [args[0].seed for args in changed] == [0, 2**32 - 2, None]


def test_out_of_range_values_are_clamped(editor: SamplingEditor) -> None:
    editor.set_sampling(SamplingSettings(temperature=5.0, top_k=1000, max_tokens=100_000))
    got = editor.sampling()
    assert (got.temperature, got.top_k, got.max_tokens) == (2.0, 200, 32768)


def test_choosing_a_preset_loads_it(qtbot: QtBot, dialog: SettingsDialog) -> None:
    ed = dialog.sampling_editor
    combo = ed.preset_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["Custom", "Balanced", "Precise"]
    assert combo.currentText() == "Custom"  # HIDDEN matches no preset
    with qtbot.waitSignal(ed.sig_changed) as changed:
        combo.activated.emit(combo.findText("Precise"))  # what a user's pick emits
    assert changed.args == [PRESETS["Precise"]]
    assert ed.sampling() == PRESETS["Precise"] and not ed.seed_random.isChecked()
    assert ed.temperature.slider.value() == 20
    assert combo.currentText() == "Precise"

    ed.temperature.box.setValue(0.25)  # an edit leaves the preset
    assert combo.currentText() == "Custom"
    with qtbot.assertNotEmitted(ed.sig_changed):
        combo.activated.emit(0)  # "Custom" is not a preset: nothing to load
    assert ed.sampling().temperature == 0.25
    ed.temperature.box.setValue(0.2)  # back on the preset's values
    assert combo.currentText() == "Precise"

    # After a save the caller refreshes the list; the values shown stay.
    mine = replace(PRESETS["Precise"], top_k=5)
    ed.top_k.box.setValue(5)
    dialog.set_presets({**PRESETS, "Mine": mine})
    assert combo.currentText() == "Mine" and ed.sampling() == mine


def test_save_as_preset_asks_a_name_and_only_emits(qtbot: QtBot, dialog: SettingsDialog,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([("  Night owl ", True), ("ignored", False), ("   ", True)])
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: next(answers))
    dialog.sampling_editor.temperature.box.setValue(1.2)
    with qtbot.waitSignal(dialog.sig_save_preset) as saved:
        dialog.sampling_editor.save_preset_button.click()
    assert saved.args == ["Night owl", replace(HIDDEN, temperature=1.2)]
    with qtbot.assertNotEmitted(dialog.sig_save_preset):
        dialog.sampling_editor.save_preset_button.click()  # cancelled
        dialog.sampling_editor.save_preset_button.click()  # blank name


def test_ok_and_apply_emit_the_edited_values(qtbot: QtBot, dialog: SettingsDialog,
                                             tmp_path: Path) -> None:
    dialog.show()
    ed = dialog.sampling_editor
    ed.max_tokens.box.setValue(2048)
    dialog.system_prompt_edit.setPlainText("Answer in French.")
    dialog.n_ctx_spin.setValue(8192)
    dialog.flash_attn_check.setChecked(True)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.font_size_spin.setValue(14)
    dialog.language_combo.setCurrentIndex(dialog.language_combo.findData("zh_CN"))
    expected = SettingsValues(
        app=AppSettings(language="zh_CN", theme="dark", font_size=14, n_ctx=8192,
                        flash_attn=True),
        sampling=replace(HIDDEN, max_tokens=2048), system_prompt="Answer in French.",
        data_dir=None)
    apply = dialog.buttons.button(QDialogButtonBox.StandardButton.Apply)
    with qtbot.waitSignal(dialog.sig_applied) as applied:
        apply.click()
    assert applied.args == [expected] and dialog.isVisible()

    with qtbot.waitSignal(dialog.sig_applied) as applied, \
            qtbot.waitSignal(dialog.accepted):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert applied.args == [expected] and dialog.values() == expected


def test_cancel_emits_nothing(qtbot: QtBot, dialog: SettingsDialog) -> None:
    dialog.show()
    with qtbot.assertNotEmitted(dialog.sig_applied), qtbot.waitSignal(dialog.rejected):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()


def test_auto_checkboxes(dialog: SettingsDialog) -> None:
    assert dialog.gpu_auto.isChecked() and not dialog.gpu_spin.isEnabled()
    assert dialog.threads_auto.isChecked() and not dialog.threads_spin.isEnabled()
    assert dialog.values().app.n_gpu_layers == -1 and dialog.values().app.n_threads == 0

    dialog.gpu_auto.setChecked(False)
    dialog.threads_auto.setChecked(False)
    assert dialog.gpu_spin.isEnabled() and dialog.threads_spin.isEnabled()
    dialog.gpu_spin.setValue(33)
    dialog.threads_spin.setValue(3)
    app = dialog.values().app
    assert (app.n_gpu_layers, app.n_threads) == (33, 3)
    assert app.engine_load_kwargs()["n_threads"] == 3

    dialog.gpu_auto.setChecked(True)
    dialog.threads_auto.setChecked(True)
    assert not dialog.gpu_spin.isEnabled() and not dialog.threads_spin.isEnabled()
    assert dialog.values().app == AppSettings()


def test_the_dialog_shows_the_values_it_was_given(qtbot: QtBot, tmp_path: Path) -> None:
    app = AppSettings(language="en", theme="light", font_size=20, n_ctx=131072,
                      n_gpu_layers=0, n_threads=256, flash_attn=True)
    dlg = SettingsDialog(None, app=app, sampling=PRESETS["Precise"], system_prompt="",
                         presets={}, data_dir=tmp_path / "a", configured_data_dir=tmp_path / "b")
    qtbot.addWidget(dlg)
    assert dlg.values() == SettingsValues(app=app, sampling=PRESETS["Precise"],
                                          system_prompt="", data_dir=tmp_path / "b")
    assert not dlg.gpu_auto.isChecked() and dlg.gpu_spin.value() == 0
    assert dlg.current_dir_edit.text() == str(tmp_path / "a")
    assert dlg.current_dir_edit.isReadOnly() and dlg.data_dir_edit.isReadOnly()
    assert dlg.sampling_editor.preset_combo.currentText() == "Custom"  # no presets at all
    assert dlg.language_combo.itemText(2) == "简体中文"


def test_data_folder_choose_and_default(dialog: SettingsDialog, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert dialog.values().data_dir is None
    assert dialog.data_dir_edit.text() == "" and "Default" in dialog.data_dir_edit.placeholderText()
    assert not dialog.default_dir_button.isEnabled()

    answers = iter([str(tmp_path / "elsewhere"), ""])  # a folder, then Cancel
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: next(answers))
    dialog.choose_dir_button.click()
    assert dialog.values().data_dir == tmp_path / "elsewhere"
    assert dialog.data_dir_edit.text() == str(tmp_path / "elsewhere")
    assert dialog.default_dir_button.isEnabled()
    dialog.choose_dir_button.click()  # cancelled: the choice stays
    assert dialog.values().data_dir == tmp_path / "elsewhere"

    dialog.default_dir_button.click()
    assert dialog.values().data_dir is None and dialog.data_dir_edit.text() == ""
    assert not any(tmp_path.iterdir())  # the dialog wrote nothing


class _Brackets(QTranslator):
    """A stand-in translation: every string of the settings dialog becomes <string>."""

    def translate(self, context: str, source: str, disambiguation: str | None = None,
                  n: int = -1) -> str:
        return f"<{source}>" if context in ("SettingsDialog", "SamplingEditor") else ""

    def isEmpty(self) -> bool:
        return False


def test_language_change_retranslates_everything(qtbot: QtBot, dialog: SettingsDialog) -> None:
    QApplication.sendEvent(dialog, QEvent(QEvent.Type.LanguageChange))  # same language: no-op
    assert dialog.tabs.tabText(0) == "Sampling" and dialog.windowTitle() == "Settings"

    ed = dialog.sampling_editor
    translator = _Brackets()
    app = QCoreApplication.instance()
    assert app is not None
    app.installTranslator(translator)  # posts LanguageChange to every widget
    try:
        qtbot.waitUntil(lambda: dialog.tabs.tabText(0) == "<Sampling>")
        assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
            "<Sampling>", "<Conversation>", "<Model>", "<Workers>", "<Appearance>",
            "<Storage>"]
        assert dialog.windowTitle() == "<Settings>"
        assert ed.temperature.label.text() == "<Temperature>"
        assert ed.temperature.slider.toolTip().startswith("<Divides the logits")
        assert ed.preset_combo.itemText(0) == "<Custom>"
        assert ed.reset_button.text() == "<Reset>" and ed.seed_random.text() == "<Random>"
        assert dialog.theme_combo.itemText(2) == "<Dark>"
        assert dialog.language_combo.itemText(0) == "<System>"
        assert dialog.language_combo.itemText(2) == "简体中文"  # a language's own name stays
        assert dialog.gpu_auto.text() == "<Auto>" and dialog.n_ctx_spin.suffix() == "< tokens>"
        assert dialog.storage_note.text().startswith("<A new data folder")
    finally:
        app.removeTranslator(translator)
    qtbot.waitUntil(lambda: dialog.tabs.tabText(0) == "Sampling")
    assert ed.temperature.label.text() == "Temperature"


def test_workers_tab_edits_the_worker_list_and_the_split(qtbot: QtBot) -> None:
    asked: list[list[str]] = []

    def probe(endpoints: list[str]) -> list[dict[str, Any]]:
        asked.append(endpoints)
        return [{"endpoint": endpoints[0], "error": None,
                 "devices": [{"name": "RPC0", "description": "CPU", "memory_free": 8e9,
                              "memory_total": 16e9}]},
                {"endpoint": endpoints[1], "error": "connection refused", "devices": []}]

    app = AppSettings(rpc_workers=("10.0.0.2:50052",), rpc_split="auto")
    dlg = SettingsDialog(None, app=app, sampling=HIDDEN, system_prompt="", presets={},
                         data_dir=Path("/data"), configured_data_dir=None, probe_workers=probe)
    qtbot.addWidget(dlg)
    page = dlg.workers_page
    assert page.workers() == ("10.0.0.2:50052",) and page.split() == "auto"
    assert not page.split_edit.isEnabled()

    page.endpoint_edit.setText("not an address")
    page.add_button.click()
    assert "host:port" in page.status.text() and page.workers() == ("10.0.0.2:50052",)
    dlg.show()
    page.endpoint_edit.setText("10.0.0.3:50052")
    qtbot.keyClick(page.endpoint_edit, Qt.Key.Key_Return)
    assert page.workers() == ("10.0.0.2:50052", "10.0.0.3:50052")
    assert dlg.isVisible()  # Enter added the worker; it did not press OK
    page.endpoint_edit.setText("10.0.0.3:50052")
    page.add_button.click()
    assert "already" in page.status.text() and len(page.workers()) == 2

    page.check_button.click()
    qtbot.waitUntil(lambda: "answered" in page.status.text(), timeout=5000)
    assert asked == [["10.0.0.2:50052", "10.0.0.3:50052"]]
    assert "CPU: 8 GB free of 16 GB" in page.list.item(0).text()
    assert "not reachable: connection refused" in page.list.item(1).text()
    assert page.status.text() == "1 of 2 workers answered."

    page.split_manual.setChecked(True)
    page.split_edit.setText("1,-2")
    assert "numbers separated by commas" in page.status.text() and page.split() == "auto"
    page.split_edit.setText("1,3")
    assert page.split() == "1,3"
    values = dlg.values().app
    assert values.rpc_workers == ("10.0.0.2:50052", "10.0.0.3:50052")
    assert values.rpc_split == "1,3"
    page.list.setCurrentRow(0)
    page.remove_button.click()
    assert dlg.values().app.rpc_workers == ("10.0.0.3:50052",)
    assert "no password and no encryption" in page.warning.text()
