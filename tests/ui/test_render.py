"""`chatapp render`: Markdown or a stored conversation, through the window's own widgets, to a
PNG and the HTML the view was given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from chatapp.storage.repository import ChatStore

MARKDOWN = """# Title

Some **bold** text, `code`, a [link](https://example.com) and math $x^2$.

```python
print("hello")
```

| a | b |
|---|---|
| 1 | 2 |

<img src="file:///etc/passwd"> ![x](file:///etc/hostname) [bad](file:///etc/passwd)
"""


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chatapp", "render", *args],
                          capture_output=True, text=True, timeout=120)


def test_render_a_markdown_file_to_png_and_html(tmp_path: Path) -> None:
    source = tmp_path / "reply.md"
    source.write_text(MARKDOWN, encoding="utf-8")
    png, html = tmp_path / "out" / "reply.png", tmp_path / "reply.html"
    done = _render(str(source), "-o", str(png), "--html", str(html), "--width", "700")
    assert done.returncode == 0, done.stderr
    image = QImage(str(png))
    assert image.width() == 700 and 200 < image.height() < 3000
    # Not a blank picture: text was drawn (dark pixels on the light page).
    dark = sum(1 for x in range(0, 700, 7) for y in range(0, image.height(), 7)
               if image.pixelColor(x, y).lightness() < 100)
    assert dark > 20
    page = html.read_text(encoding="utf-8")
    assert "<strong>bold</strong>" in page and "<table>" in page and "print" in page
    # Hostile parts come out as text, never as a resource or a file: link.
    assert "<img" not in page and 'href="file:' not in page
    assert "&lt;img" in page


def test_render_a_stored_conversation_in_dark_and_chinese(tmp_path: Path,
                                                          data_dir: Path) -> None:
    with ChatStore.open_default() as store:
        c = store.create_conversation()
        store.add_message(c.id, "user", "你好，请解释温度。")
        store.add_message(c.id, "assistant", "温度把 logits 除以 $T$。")
    png = tmp_path / "conv.png"
    done = _render("--session", c.id, "-o", str(png), "--theme", "dark",
                   "--language", "zh_CN")
    assert done.returncode == 0, done.stderr
    image = QImage(str(png))
    assert image.width() == 900 and image.height() > 100
    assert image.pixelColor(2, 2).lightness() < 80  # the dark theme's background


def test_render_says_what_is_wrong(tmp_path: Path) -> None:
    done = _render(str(tmp_path / "missing.md"), "-o", str(tmp_path / "x.png"))
    assert done.returncode == 1 and "cannot read" in done.stderr
    done = _render("-o", str(tmp_path / "x.png"))
    assert done.returncode == 1 and "one of them" in done.stderr
