"""Light, dark and system themes: contrast, following the platform, idempotence, font size."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pygments.styles import get_style_by_name
from PySide6.QtCore import SIGNAL, QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from chatapp.core.markdown_render import render_markdown
from chatapp.ui.theme import (
    apply_theme,
    code_style_for,
    dark_palette,
    is_dark,
    light_palette,
)

Role = QPalette.ColorRole
Group = QPalette.ColorGroup
SCHEME_CHANGED = SIGNAL("colorSchemeChanged(Qt::ColorScheme)")


def luminance(color: QColor) -> float:
    """WCAG 2 relative luminance, computed here independently of the module under test."""
    channels = []
    for c in (color.redF(), color.greenF(), color.blueF()):
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    """The test's QApplication, with its style, palettes, font and scheme restored afterwards."""
    style = qapp.style().name()
    palette = QPalette(qapp.palette())
    tip_palette = QPalette(QToolTip.palette())
    font = qapp.font()
    yield qapp
    qapp.setProperty("chatapp_theme", None)  # stop following the system scheme
    qapp.styleHints().unsetColorScheme()
    if qapp.style().name() != style:
        qapp.setStyle(style)
    qapp.setPalette(palette)
    QToolTip.setPalette(tip_palette)
    qapp.setFont(font)


def test_both_palettes_are_readable() -> None:
    for palette in (light_palette(), dark_palette()):
        for fg, bg in (
            (Role.Text, Role.Base),
            (Role.Text, Role.AlternateBase),
            (Role.WindowText, Role.Window),
            (Role.ButtonText, Role.Button),
            (Role.ToolTipText, Role.ToolTipBase),
        ):
            assert contrast(palette.color(fg), palette.color(bg)) >= 7, (fg, bg)
        for fg, bg in (
            (Role.HighlightedText, Role.Highlight),
            (Role.Link, Role.Base),
            (Role.LinkVisited, Role.Base),
            (Role.Link, Role.Window),
        ):
            assert contrast(palette.color(fg), palette.color(bg)) >= 4.5, (fg, bg)
        # Placeholder and disabled text: at least 3:1 on whatever they are drawn over.
        assert contrast(palette.color(Role.PlaceholderText), palette.color(Role.Base)) >= 3
        for fg, bg in (
            (Role.Text, Role.Base),
            (Role.WindowText, Role.Window),
            (Role.ButtonText, Role.Button),
            (Role.PlaceholderText, Role.Base),
        ):
            ratio = contrast(palette.color(Group.Disabled, fg), palette.color(Group.Disabled, bg))
            assert ratio >= 3, ("disabled", fg, bg)
        # Disabled text must still look different from enabled text.
        assert palette.color(Group.Disabled, Role.Text) != palette.color(Role.Text)


def test_dark_theme(app: QApplication) -> None:
    assert apply_theme(app, "dark") is True
    assert is_dark(app)
    palette = app.palette()
    assert app.style().name().lower() == "fusion"
    assert luminance(palette.color(Role.Window)) < 0.05
    assert luminance(palette.color(Role.Base)) < 0.05
    assert luminance(palette.color(Role.Text)) > 0.7
    assert luminance(palette.color(Role.WindowText)) > 0.7
    assert palette == dark_palette()
    assert QToolTip.palette() == dark_palette()  # tool tips do not follow the app palette
    # Widgets pick it up (a new one, and so an existing one after its palette-change event).
    label = QLabel("x")
    assert label.palette().color(Role.WindowText) == dark_palette().color(Role.WindowText)


def test_light_theme(app: QApplication) -> None:
    apply_theme(app, "dark")
    assert apply_theme(app, "light") is False
    assert not is_dark(app)
    assert app.palette() == light_palette()
    assert luminance(app.palette().color(Role.Base)) > 0.9


def test_unknown_theme_or_size_is_refused(app: QApplication) -> None:
    with pytest.raises(ValueError, match="unknown theme"):
        apply_theme(app, "sepia")
    with pytest.raises(ValueError, match="font size"):
        apply_theme(app, "light", font_size=0)


class EventCounter(QObject):
    """Counts the style and palette changes a widget is told about."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.PaletteChange,
            QEvent.Type.StyleChange,
            QEvent.Type.ApplicationFontChange,
        ):
            self.count += 1
        return False


def test_applying_twice_changes_nothing(qtbot: QtBot, app: QApplication) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    apply_theme(app, "dark", font_size=13)
    QApplication.processEvents()  # deliver the change events of the first call
    counter = EventCounter()
    widget.installEventFilter(counter)
    style = app.style()
    assert apply_theme(app, "dark", font_size=13) is True
    QApplication.processEvents()
    assert counter.count == 0  # no repaint storm, no re-polish
    assert app.style() is style
    assert app.palette() == dark_palette()
    # ... while a real change does reach the widget.
    apply_theme(app, "light")
    QApplication.processEvents()
    assert counter.count >= 1
    assert widget.palette().color(Role.Window) == light_palette().color(Role.Window)


def test_font_size(app: QApplication) -> None:
    before = app.font()
    apply_theme(app, "light")
    assert app.font() == before  # no size given: the font is left alone
    apply_theme(app, "light", font_size=17)
    assert app.font().pointSize() == 17
    assert app.font().family() == before.family()
    assert QLabel("x").font().pointSize() == 17


def test_system_theme_follows_scheme_changes(app: QApplication) -> None:
    hints = app.styleHints()
    expected = hints.colorScheme() == Qt.ColorScheme.Dark  # Unknown (offscreen) counts as light
    assert apply_theme(app, "system") is expected
    apply_theme(app, "system")
    assert hints.receivers(SCHEME_CHANGED) == 1  # connected once, however often it is applied
    # What the platform reports when the user switches (the offscreen platform never does, so
    # the signal is sent here the way Qt sends it).
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert is_dark(app)
    assert app.palette() == dark_palette()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not is_dark(app)
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Unknown)
    assert not is_dark(app)
    # An explicit theme stops the following.
    apply_theme(app, "light")
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not is_dark(app)
    assert hints.receivers(SCHEME_CHANGED) == 1


def test_system_theme_follows_a_forced_scheme(app: QApplication) -> None:
    hints = app.styleHints()
    if not hasattr(hints, "setColorScheme"):
        pytest.skip("QStyleHints.setColorScheme needs Qt 6.8")
    hints.setColorScheme(Qt.ColorScheme.Dark)
    QApplication.processEvents()
    if hints.colorScheme() != Qt.ColorScheme.Dark:
        pytest.skip(f"the {QApplication.platformName()} platform ignores setColorScheme")
    assert apply_theme(app, "system") is True
    hints.setColorScheme(Qt.ColorScheme.Light)
    QApplication.processEvents()
    assert not is_dark(app)


def test_code_style_matches_the_theme() -> None:
    assert code_style_for(True) != code_style_for(False)
    for dark in (False, True):
        style = get_style_by_name(code_style_for(dark))
        assert (luminance(QColor(style.background_color)) < 0.2) is dark
        # It is the style the renderer really uses for that flag.
        html = render_markdown("```python\nx = 1\n```", dark=dark).html
        assert f"background-color:{style.background_color}" in html.replace(" ", "")
