"""Screenshots of the app's main states, for review and for bug reports.

Run:  .venv/bin/python -m chatapp.ui.screenshots OUTDIR [--model PATH]

Opens the real window offscreen on a throwaway data folder (your conversations are not
touched), with the real model process and the starter model (or --model), and writes PNGs:
first run, a conversation with code, a table and math (light and dark, English and Chinese),
a reply while it streams, a long reply, the settings tabs, the shortcut sheet, and the
"Inside the model" panel (sampling and attention) on a real reply.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEMO_EN = [
    ("user", "How do I read a CSV file in Python and sum a column?"),
    ("assistant",
     "Use the standard library's `csv` module:\n\n"
     "```python\nimport csv\n\n\ndef column_total(path: str, column: str) -> float:\n"
     "    \"\"\"Sum one numeric column of a CSV file.\"\"\"\n"
     "    with open(path, newline=\"\", encoding=\"utf-8\") as f:\n"
     "        return sum(float(row[column]) for row in csv.DictReader(f))\n\n\n"
     "print(column_total(\"sales.csv\", \"amount\"))\n```\n\n"
     "| Approach | Memory | Speed |\n|---|---|---:|\n"
     "| `csv.DictReader` | one row at a time | 1× |\n"
     "| `pandas.read_csv` | whole file | 5× |\n\n"
     "The mean of $n$ values is $\\bar{x} = \\frac{1}{n}\\sum_{i=1}^{n} x_i$, and\n\n"
     "$$\\mathrm{softmax}(z)_i = \\frac{e^{z_i / T}}{\\sum_j e^{z_j / T}}$$\n\n"
     "1. Open the file with `newline=\"\"`.\n2. Convert each value with `float`.\n"
     "3. See the [csv docs](https://docs.python.org/3/library/csv.html)."),
]

DEMO_ZH = [
    ("user", "温度参数是如何影响采样的？"),
    ("assistant",
     "**温度** $T$ 在 softmax 之前把 logits 除以 $T$：\n\n"
     "$$p_i = \\frac{e^{z_i / T}}{\\sum_j e^{z_j / T}}$$\n\n"
     "- $T < 1$：分布更尖锐，回答更确定；\n- $T > 1$：分布更平坦，回答更多样；\n"
     "- $T = 0$：总是选择概率最高的词元（贪心）。\n\n"
     "| 温度 | 效果 |\n|---|---|\n| 0.2 | 稳定、重复 |\n| 0.7 | 平衡 |\n| 1.5 | 发散 |\n\n"
     "```python\nimport numpy as np\n\ndef softmax(z, T=1.0):\n    e = np.exp((z - z.max()) / T)\n"
     "    return e / e.sum()\n```"),
]


def _long_reply() -> str:
    parts = []
    for i in range(1, 41):
        parts.append(f"## Part {i}\n\nThis paragraph is part of a long reply, the kind a model "
                     f"writes when asked for a detailed guide; section {i} explains one step "
                     "with **emphasis**, `inline code` and a list:\n\n- first point\n"
                     "- second point\n")
        if i % 5 == 0:
            parts.append(f"```python\ndef step_{i}(x: int) -> int:\n    return x * {i}\n```\n")
    return "\n".join(parts)


PROVENANCE = {"model_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "seed": 1234,
              "tokens_per_s": 84.2, "time_to_first_token_ms": 212.0, "generated_tokens": 196,
              "prompt_tokens": 61, "n_ctx": 4096, "finish_reason": "stop"}


def _facts_shown(details: Callable[[], str]) -> Callable[[], bool]:
    """True once the library's details show the slow facts (hash, support check)."""
    return lambda: "computing" not in details().lower()


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m chatapp.ui.screenshots")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--model", type=Path, help="GGUF model (default: the starter model)")
    args = parser.parse_args(argv)

    from chatapp.models.starter import is_installed, starter_path

    model = args.model or (starter_path() if is_installed() else None)
    # A throwaway data and config folder: the screenshots never touch real conversations.
    scratch = Path(tempfile.mkdtemp(prefix="chatapp-shots-"))
    os.environ["CHATAPP_DATA_DIR"] = str(scratch / "data")
    os.environ["CHATAPP_CONFIG_DIR"] = str(scratch / "config")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out: Path = args.outdir
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    from chatapp.core.app_settings import AppSettings
    from chatapp.services.engine_service import EngineService
    from chatapp.services.i18n import Translations
    from chatapp.services.store_service import Changed, StoreService
    from chatapp.storage.repository import ChatStore
    from chatapp.ui.fonts import ensure_cjk_font
    from chatapp.ui.main_window import MainWindow
    from chatapp.ui.theme import apply_theme

    app = QApplication([sys.argv[0]])
    ensure_cjk_font()
    translations = Translations(app)

    def wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            app.processEvents()
            time.sleep(0.005)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def shot(widget: QWidget, name: str) -> None:
        settle()
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        print(path)

    def look(theme: str, language: str) -> None:
        dark = apply_theme(app, theme)
        translations.apply(language)
        window.chat.set_dark(dark)
        settle()

    store = StoreService()
    wait(lambda: store.is_open)
    engine = EngineService(log_path=scratch / "engine.log")
    engine.start()
    window = MainWindow(engine, store, None, app_settings=AppSettings())
    window.resize(1500, 900)
    window.show()
    look("light", "en")
    shot(window, "first-run-light-en")

    if model is not None:
        window.load_model(model)
        wait(lambda: window._ready)

    def conversation(messages: list[tuple[str, str]], title: str) -> str:
        def create(s: ChatStore) -> str:
            c = s.create_conversation(model=model.name if model else None)
            parent = None
            for role, text in messages:
                if role == "user":
                    parent = s.add_message(c.id, "user", text).id
                else:
                    assert parent is not None
                    reply = s.begin_reply(c.id, parent)
                    s.finish_reply(reply.id, text, status="complete", provenance=PROVENANCE)
            s.rename(c.id, title)
            return c.id

        box: list[str] = []
        store.write(create, Changed(lists=True), box.append)
        wait(lambda: bool(box))
        window.sidebar.select_conversation(box[0])
        window.open_conversation(box[0])
        wait(lambda: window.conversation_id == box[0] and len(window.chat.cards) > 0)
        return box[0]

    english = conversation(DEMO_EN, "Summing a CSV column")
    chinese = conversation(DEMO_ZH, "温度与采样")
    for theme in ("light", "dark"):
        for language, cid in (("en", english), ("zh_CN", chinese)):
            look(theme, language)
            window.open_conversation(cid)
            wait(lambda cid=cid: window.conversation_id == cid)  # type: ignore[misc]
            settle(0.5)
            window.chat.scroll_to_bottom()
            shot(window, f"code-{theme}-{language}")

    look("light", "en")
    conversation([("user", "Write a detailed guide in forty parts."), ("assistant",
                                                                        _long_reply())],
                 "A long reply")
    settle(0.5)
    bar = window.chat.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    shot(window, "long-reply-light-en")

    if model is not None:
        window.new_chat()
        wait(lambda: not window.chat.cards and window.conversation_id not in (english,
                                                                              chinese))
        window.composer.setPlainText("Write a short poem about the sea, then explain it.")
        window.send()
        wait(lambda: window.chat.streaming_card() is not None
             and len(window.chat.streaming_card().view.markdown) > 80)  # type: ignore[union-attr]
        shot(window, "streaming-light-en")
        wait(lambda: not window._busy and window.chat.streaming_card() is None
             and bool(window.chat.cards[-1].message.id))
        reply_id = window.chat.cards[-1].message.id
        wait(lambda: window.inside.message_id() == reply_id)
        records = window.inside.sampling.records()
        window.inside.sampling.set_following(False)
        window.inside.sampling.select(min(3, len(records) - 1))
        for theme, language in (("light", "en"), ("dark", "zh_CN")):
            look(theme, language)
            window.inside.tabs.setCurrentIndex(0)
            shot(window.inside, f"inside-sampling-{theme}-{language}")
        look("light", "en")
        window.capture_attention(reply_id)
        wait(lambda: window.inside.attention.capture is not None, timeout=120)
        window.inside.tabs.setCurrentIndex(1)
        for theme, language in (("light", "en"), ("dark", "zh_CN")):
            look(theme, language)
            shot(window.inside, f"inside-attention-{theme}-{language}")
        look("light", "en")
        shot(window, "window-with-panel-light-en")

    for theme, language in (("light", "en"), ("dark", "zh_CN")):
        look(theme, language)
        window.open_settings()
        wait(lambda: window.settings_dialog is not None)
        dialog = window.settings_dialog
        assert dialog is not None
        for index in range(dialog.tabs.count()):
            dialog.tabs.setCurrentIndex(index)
            shot(dialog, f"settings-{index}-{theme}-{language}")
        dialog.reject()
        window.show_shortcuts()
        settle()
        sheets = [w for w in app.topLevelWidgets() if type(w).__name__ == "ShortcutSheet"
                  and w.isVisible()]
        if sheets:
            shot(sheets[-1], f"shortcuts-{theme}-{language}")
            sheets[-1].close()

    if model is not None:
        from chatapp.models.library import import_model

        import_model(model)  # the scratch data folder's library: the model, imported
    for theme, language in (("light", "en"), ("dark", "zh_CN")):
        look(theme, language)
        window.models.open_window("library")
        models = window.models.models_window
        models.resize(1100, 700)
        if model is not None:
            # The SHA-256 and the engine support check arrive from a worker thread.
            wait(_facts_shown(models.library.details_text), timeout=120)
        shot(models, f"models-library-{theme}-{language}")
        models.show_hub()
        shot(models, f"models-hub-empty-{theme}-{language}")
        models.hide()

    window.close()
    engine.shutdown()
    store.close()
    QTimer.singleShot(0, QCoreApplication.quit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
