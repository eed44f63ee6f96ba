"""Settings, languages, layout and the context meter, through the real window, model process
and database."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from chatapp.core.app_settings import AppSettings, load_app_settings
from chatapp.core.sampling import SamplingSettings
from chatapp.paths import read_config_value
from chatapp.services.engine_service import EngineService
from chatapp.services.i18n import Translations
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.repository import ChatStore
from chatapp.ui.main_window import MainWindow
from chatapp.ui.settings_dialog import SettingsDialog
from chatapp.ui.theme import apply_theme, is_dark


def _window(qtbot: QtBot, engine: EngineService, store: StoreService, model: Path | None,
            settings: AppSettings | None = None,
            translations: Translations | None = None) -> MainWindow:
    win = MainWindow(engine, store, model, app_settings=settings, translations=translations)
    qtbot.addWidget(win)
    win.show()
    if model is not None:
        qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    return win


def _new_conversation(qtbot: QtBot, win: MainWindow, **fields: object) -> str:
    box: list[str] = []
    win.store.write(lambda s: s.create_conversation(**fields).id,  # type: ignore[arg-type]
                    Changed(lists=True), box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    win.open_conversation(box[0])
    qtbot.waitUntil(lambda: win.conversation_id == box[0], timeout=10_000)
    return box[0]


def _open_settings(qtbot: QtBot, win: MainWindow) -> SettingsDialog:
    win.action_settings.trigger()
    qtbot.waitUntil(lambda: win.settings_dialog is not None, timeout=10_000)
    assert win.settings_dialog is not None
    return win.settings_dialog


def _ok(dialog: SettingsDialog) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    button.click()


def test_settings_apply_to_the_conversation_and_persist(
        qtbot: QtBot, engine: EngineService, store: StoreService) -> None:
    win = _window(qtbot, engine, store, None)
    cid = _new_conversation(qtbot, win)
    dialog = _open_settings(qtbot, win)
    dialog.sampling_editor.set_sampling(SamplingSettings(temperature=0.25, top_k=7, seed=99))
    dialog.system_prompt_edit.setPlainText("Answer in one word.")
    dialog.font_size_spin.setValue(15)
    _ok(dialog)

    def read(s: ChatStore) -> tuple[dict[str, object], str, object]:
        c = s.get_conversation(cid)
        return c.sampling, c.system_prompt, s.get_setting("defaults.sampling")

    result: list[tuple[dict[str, object], str, object]] = []
    store.run(read, result.append)
    qtbot.waitUntil(lambda: bool(result), timeout=10_000)
    sampling, prompt, default = result[0]
    assert sampling["temperature"] == 0.25 and sampling["top_k"] == 7 and sampling["seed"] == 99
    assert prompt == "Answer in one word."
    assert default == sampling  # new conversations start from the last settings used
    assert load_app_settings().font_size == 15  # saved in the config file
    assert win.chat.column.font().pointSize() == 15


def test_switching_language_and_theme_applies_at_once(
        qtbot: QtBot, qapp: QApplication, engine: EngineService, store: StoreService) -> None:
    translations = Translations(qapp)
    win = _window(qtbot, engine, store, None, translations=translations)
    try:
        assert win.send_button.text() == "Send"
        dialog = _open_settings(qtbot, win)
        dialog.language_combo.setCurrentIndex(dialog.language_combo.findData("zh_CN"))
        dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
        _ok(dialog)
        qtbot.waitUntil(lambda: win.send_button.text() == "发送", timeout=5_000)
        assert win.menu_file.title() != "&File"
        assert is_dark(qapp)
        assert read_config_value("app")["language"] == "zh_CN"
    finally:
        translations.apply("en")
        apply_theme(qapp, "light")


def test_window_layout_is_restored(qtbot: QtBot, engine: EngineService,
                                   store: StoreService) -> None:
    win = _window(qtbot, engine, store, None)
    # Smaller than the offscreen screen (800x600): Qt keeps a restored window on the screen.
    win.resize(760, 560)
    win.splitter.setSizes([200, 560])
    qtbot.wait(50)
    sizes = win.splitter.sizes()
    size = (win.width(), win.height())  # at least the window's minimum (the panel is docked)
    win.close()  # saves the layout
    win2 = MainWindow(engine, store, None)
    qtbot.addWidget(win2)
    win2.restore_layout()  # as the app does: before the window shows
    win2.show()
    qtbot.wait(50)
    assert win2.splitter.sizes() == sizes
    assert (win2.width(), win2.height()) == size


def test_a_conversation_longer_than_the_context_drops_its_oldest_turns_visibly(
        qtbot: QtBot, engine: EngineService, store: StoreService, starter_model: Path) -> None:
    win = _window(qtbot, engine, store, starter_model, settings=AppSettings(n_ctx=512))
    quick = SamplingSettings(temperature=0.0, max_tokens=8, seed=1).to_dict()
    cid = _new_conversation(qtbot, win, sampling=quick, system_prompt="Be brief.")

    def fill(s: ChatStore) -> None:
        for i in range(30):
            s.add_message(cid, "user", f"Question {i}: tell me about the number {i} in detail.")
            s.add_message(cid, "assistant", f"The number {i} is a number. " * 4)

    done: list[None] = []
    store.write(fill, Changed(frozenset({cid})), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    win.composer.setPlainText("And the number 31?")
    win.last_summary = None
    win.send()
    qtbot.waitUntil(lambda: win.last_summary is not None, timeout=60_000)
    assert win.context is not None and win.context["dropped_messages"] > 0
    assert win.context["n_ctx"] == 512
    text = win.context_label.text()
    assert "oldest messages left out" in text and "system prompt is kept" in text
    assert win.context_bar.maximum() == 512 and 0 < win.context_bar.value() <= 512
