"""`chatapp --self-test`: check that this installation works, end to end, and say what was checked.

For installers (the packaged app's build runs it on the bundle) and for bug reports: it loads a
model in a real model process and generates a few tokens, renders a message through the app's
own widgets offscreen, opens a chat database, loads the Chinese translation and the CJK font.
Each check prints one line; the exit code is 0 only when every check passed.  None of the
user's conversations or settings is touched: the database and the picture go to a temporary
folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class SelfTestFailure(Exception):
    """A check failed; str() says what and why."""


def _find_model(given: Path | None) -> Path:
    """The model to test with: the one given, else the starter model (installed from the
    bundle's copy if there is one)."""
    if given is not None:
        if not given.is_file():
            raise SelfTestFailure(f"there is no model file at {given}")
        return given
    from chatapp.models.starter import StarterError, install_starter, is_installed, starter_path

    if is_installed():
        return starter_path()
    try:
        return install_starter(log=False)
    except StarterError as exc:
        raise SelfTestFailure(f"no model to test with ({exc}); give one with --model") from None


def _check_engine() -> str:
    from chatapp.engine.versions import engine_versions

    v = engine_versions()
    return (f"chatapp {v['chatapp']}, llama-cpp-python {v['llama_cpp_python']}, "
            f"llama.cpp ggml {v['ggml']}")


def _check_generation(model: Path) -> str:
    from chatapp.core.sampling import SamplingSettings
    from chatapp.engine.client import EngineClient, EngineError

    try:
        with EngineClient() as client:
            loaded = client.load(model, n_ctx=512)
            tokens: list[str] = []
            done: dict[str, Any] = {}
            for event in client.generate([{"role": "user", "content": "Say hello."}],
                                         SamplingSettings(temperature=0.0, max_tokens=8,
                                                          seed=1)):
                if event["type"] == "token":
                    tokens.append(str(event.get("text", "")))
                elif event["type"] == "done":
                    done = event
    except (EngineError, OSError) as exc:
        raise SelfTestFailure(f"the model process failed: {exc}") from None
    text = "".join(tokens).strip()
    if not text or not done:
        raise SelfTestFailure("the model generated nothing")
    info = loaded["model"]
    speed = done.get("tokens_per_s")
    rate = f", {float(speed):.0f} tok/s" if isinstance(speed, int | float) else ""
    return (f"{model.name} on {info.get('backend', '?')}: {len(tokens)} tokens "
            f"{text[:40]!r}{rate}")


def _qt_app() -> Any:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0]])


def _check_render(folder: Path) -> str:
    from chatapp.ui.render import markdown_message, render_messages

    _qt_app()
    text = ("# Self-test\n\nSome **bold** text, `code`, 中文, and math $x^2$.\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n")
    result = render_messages([markdown_message(text)], folder / "render.png")
    from PySide6.QtGui import QImage

    image = QImage(str(result.png))
    if image.isNull() or result.height < 40:
        raise SelfTestFailure("the rendered message is empty")
    colors = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    if len(colors) < 3:
        raise SelfTestFailure("the rendered message has no visible text")
    return f"a Markdown message drawn offscreen ({result.width}×{result.height} px)"


def _check_translation_and_font() -> str:
    from chatapp.services.i18n import Translations
    from chatapp.ui.fonts import ensure_cjk_font, has_cjk_font

    app = _qt_app()
    registered = ensure_cjk_font()
    if not has_cjk_font():
        raise SelfTestFailure("no font can show Chinese text")
    translations = Translations(app)
    translations.apply("zh_CN")
    from PySide6.QtCore import QCoreApplication

    shown = QCoreApplication.translate("MainWindow", "Quit")
    translations.apply("en")
    if shown == "Quit":
        raise SelfTestFailure("the Chinese translation did not load")
    font = f"bundled font {registered}" if registered else "a system CJK font"
    return f"Chinese interface ({shown}) with {font}"


def _check_database(folder: Path) -> str:
    from chatapp.storage.repository import ChatStore

    store = ChatStore(folder / "chats.db")
    try:
        conversation = store.create_conversation(model="self-test")
        store.add_message(conversation.id, "user", "hello")
        found = store.active_path(conversation.id)
    finally:
        store.close()
    if [m.content for m in found] != ["hello"]:
        raise SelfTestFailure("the chat database did not give back what was written")
    return "a chat database written and read back"


def run_self_test(model: Path | None = None, out: Callable[[str], None] = print) -> int:
    """Run every check, printing one line each; returns the exit code (0: all passed)."""
    started = time.perf_counter()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="chatapp-self-test-") as tmp:
        folder = Path(tmp)
        model_path: Path | None = None

        def model_check() -> str:
            nonlocal model_path
            model_path = _find_model(model)
            return str(model_path)

        checks: list[tuple[str, Callable[[], str]]] = [
            ("engine", _check_engine),
            ("model", model_check),
            ("generation", lambda: _check_generation(_need(model_path))),
            ("render", lambda: _check_render(folder)),
            ("language", _check_translation_and_font),
            ("database", lambda: _check_database(folder)),
        ]
        for name, check in checks:
            t0 = time.perf_counter()
            try:
                detail = check()
            except SelfTestFailure as exc:
                failures += 1
                out(f"FAIL {name}: {exc}")
                continue
            except Exception as exc:  # a self-test reports every failure, never a traceback
                failures += 1
                out(f"FAIL {name}: {type(exc).__name__}: {exc}")
                continue
            out(f"ok   {name}: {detail} ({time.perf_counter() - t0:.2f} s)")
    total = time.perf_counter() - started
    if failures:
        out(f"self-test FAILED: {failures} of {len(checks)} checks ({total:.1f} s)")
        return 1
    out(f"self-test passed: {len(checks)} checks in {total:.1f} s")
    return 0


def _need(path: Path | None) -> Path:
    if path is None:
        raise SelfTestFailure("skipped: no model")
    return path
