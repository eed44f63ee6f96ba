"""English and Simplified Chinese: every visible string translated, switching at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatapp.services.engine_service import EngineService
from chatapp.services.i18n import QM_DIR, Translations
from chatapp.services.store_service import StoreService
from chatapp.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "resources" / "i18n" / "chatapp_zh_CN.ts"
TOOLS = Path(sys.executable).parent


def _messages(ts: Path) -> dict[tuple[str, str], ET.Element]:
    found = {}
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for msg in context.iter("message"):
            found[(name, msg.findtext("source") or "")] = msg
    return found


def test_every_string_in_the_code_has_a_chinese_translation(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.ts"
    shutil.copy(TS, fresh)
    sources = [str(p) for p in sorted((ROOT / "chatapp").rglob("*.py"))]
    subprocess.run([str(TOOLS / "pyside6-lupdate"), *sources, "-ts", str(fresh),
                    "-no-obsolete", "-silent"], check=True, capture_output=True)
    now, committed = _messages(fresh), _messages(TS)
    assert set(now) == set(committed), (
        f"strings changed: new {sorted(set(now) - set(committed))}, "
        f"gone {sorted(set(committed) - set(now))} — run the commands in resources/i18n")
    untranslated = []
    for (_ctx, src), msg in now.items():
        translation = msg.find("translation")
        # plural entries keep their text in <numerusform> children, hence itertext()
        text = "".join(translation.itertext()).strip() if translation is not None else ""
        if translation is None or translation.get("type") == "unfinished" or not text:
            untranslated.append(src)
    assert not untranslated


def test_the_compiled_translation_is_current(tmp_path: Path) -> None:
    qm = tmp_path / "chatapp_zh_CN.qm"
    subprocess.run([str(TOOLS / "pyside6-lrelease"), str(TS), "-qm", str(qm), "-silent"],
                   check=True, capture_output=True)
    assert qm.read_bytes() == (QM_DIR / "chatapp_zh_CN.qm").read_bytes()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    engine = EngineService(log_path=tmp_path / "engine.log")
    engine.start()
    store = StoreService()
    win = MainWindow(engine, store, None)
    qtbot.addWidget(win)
    yield win
    engine.shutdown()
    store.close()


def test_switching_language_applies_at_once(qtbot: QtBot, window: MainWindow) -> None:
    translations = Translations()
    try:
        translations.apply("zh_CN")
        qtbot.waitUntil(lambda: window.send_button.text() == "发送", timeout=2000)
        assert window.stop_button.text() == "停止"
        english_status = "No model loaded." if window.model_bar.models() else "No model yet."
        assert window.model_bar.status_label.text() != english_status
        assert window.menu_file.title() == "文件(&F)"
        assert "上下文" in window.context_label.text()
        translations.apply("en")
        qtbot.waitUntil(lambda: window.send_button.text() == "Send", timeout=2000)
        assert window.model_bar.status_label.text() == english_status
        assert window.menu_file.title() == "&File"
    finally:
        translations.apply("en")
    with pytest.raises(ValueError):
        translations.apply("xx")
