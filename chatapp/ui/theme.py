"""Light, dark and follow-the-system colour themes for the whole application.

`apply_theme` puts the Fusion style and an explicit `QPalette` on the `QApplication`.  Fusion is
used on every platform because it is the one built-in style that paints everything from the
palette (the native Windows and macOS styles ignore parts of it), so both themes look the same
everywhere and their contrast can be checked once, in the tests.  Setting the palette on the
application sends every widget a palette-change event, so open windows repaint at once.

Rendered Markdown is not painted from the palette: code blocks get inline Pygments colours, so
whoever renders a reply passes ``dark=is_dark(app)`` to `chatapp.core.markdown_render` (or
`MarkdownStream`), which picks the style named by `code_style_for`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QToolTip

from chatapp.core.markdown_render import _CODE_STYLE

#: The values `apply_theme` accepts.
THEMES = ("light", "dark", "system")

# Dynamic properties on the QApplication / QStyleHints, so the state lives and dies with the
# application object instead of in module globals that would outlive a test's QApplication.
_THEME_PROPERTY = "chatapp_theme"
_HOOKED_PROPERTY = "chatapp_theme_hooked"

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup

# Colours picked for WCAG contrast (tests/ui/test_theme.py checks the ratios): body text is
# above 7:1 on every background, links and selected text above 4.5:1, placeholder and disabled
# text above 3:1 (WCAG exempts disabled controls, but they must stay legible).
_LIGHT: dict[QPalette.ColorRole, str] = {
    _Role.Window: "#efefef",
    _Role.WindowText: "#1a1a1a",
    _Role.Base: "#ffffff",
    _Role.AlternateBase: "#f5f5f5",
    _Role.Text: "#1a1a1a",
    _Role.Button: "#e8e8e8",
    _Role.ButtonText: "#1a1a1a",
    _Role.BrightText: "#ffffff",
    _Role.Highlight: "#2660c4",
    _Role.HighlightedText: "#ffffff",
    _Role.Link: "#0b57d0",
    _Role.LinkVisited: "#6f3bb5",
    _Role.ToolTipBase: "#ffffe1",
    _Role.ToolTipText: "#1a1a1a",
    _Role.PlaceholderText: "#6e6e6e",
    _Role.Accent: "#2660c4",
}
_LIGHT_DISABLED = "#7a7a7a"

# Inputs and views are lighter than the window here, not darker: Fusion outlines fields with a
# darker shade of the window colour, and on a darker field that outline (and so an unchecked
# check box or radio button) all but disappeared.
_DARK: dict[QPalette.ColorRole, str] = {
    _Role.Window: "#202020",
    _Role.WindowText: "#e6e6e6",
    _Role.Base: "#2d2d2d",
    _Role.AlternateBase: "#333333",
    _Role.Text: "#e6e6e6",
    _Role.Button: "#3a3a3a",
    _Role.ButtonText: "#e6e6e6",
    _Role.BrightText: "#ffffff",
    _Role.Highlight: "#3a72d0",
    _Role.HighlightedText: "#ffffff",
    _Role.Link: "#8ab4f8",
    _Role.LinkVisited: "#c9a2f4",
    _Role.ToolTipBase: "#404040",
    _Role.ToolTipText: "#e6e6e6",
    _Role.PlaceholderText: "#a0a0a0",
    _Role.Accent: "#3a72d0",
}
_DARK_DISABLED = "#8c8c8c"


def light_palette() -> QPalette:
    """The palette `apply_theme` uses for the light theme."""
    return _palette(_LIGHT, _LIGHT_DISABLED)


def dark_palette() -> QPalette:
    """The palette `apply_theme` uses for the dark theme."""
    return _palette(_DARK, _DARK_DISABLED)


def _palette(colors: dict[QPalette.ColorRole, str], disabled: str) -> QPalette:
    # This constructor derives Light/Midlight/Mid/Dark/Shadow from the button colour, which is
    # what Fusion draws bevels and frames with; the roles set below then override the rest.
    palette = QPalette(QColor(colors[_Role.Button]), QColor(colors[_Role.Window]))
    for role, color in colors.items():
        palette.setColor(role, QColor(color))  # all colour groups
    grey = QColor(disabled)
    for role in (_Role.WindowText, _Role.Text, _Role.ButtonText, _Role.PlaceholderText):
        palette.setColor(_Group.Disabled, role, grey)
    # A disabled input shows the window colour behind it, a cue that it cannot be typed in.
    palette.setColor(_Group.Disabled, _Role.Base, QColor(colors[_Role.Window]))
    # A selection inside a disabled view is greyed like its text, not left in the accent colour.
    palette.setColor(_Group.Disabled, _Role.Highlight, QColor(colors[_Role.Button]))
    palette.setColor(_Group.Disabled, _Role.HighlightedText, grey)
    return palette


def system_is_dark(app: QGuiApplication) -> bool:
    """Whether the platform asks for a dark scheme (an unknown scheme counts as light)."""
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str, font_size: int | None = None) -> bool:
    """Give the application the ``theme`` ("light", "dark" or "system"); True if it is dark.

    "system" follows the platform's colour scheme now and whenever it changes later (until
    another theme is applied).  ``font_size``, in points, sets the application font's size.
    Calling this again with the same arguments changes nothing.
    """
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; expected one of {', '.join(THEMES)}")
    if font_size is not None and font_size <= 0:
        raise ValueError(f"font size must be positive, got {font_size}")
    app.setProperty(_THEME_PROPERTY, theme)
    if theme == "system":
        _follow_system(app)
        dark = system_is_dark(app)
    else:
        dark = theme == "dark"
    _apply_palette(app, dark)
    if font_size is not None and app.font().pointSize() != font_size:
        font = QFont(app.font())
        font.setPointSize(font_size)
        app.setFont(font)  # like the palette, this reaches every widget that has no own font
    return dark


def is_dark(app: QGuiApplication) -> bool:
    """Whether the application's current palette is a dark one (whoever set it).

    Compares the window with its text rather than reading back the chosen theme, so it is also
    right before `apply_theme` ran, when the platform's own palette may already be dark.
    """
    palette = app.palette()
    return _luminance(palette.color(_Role.Window)) < _luminance(palette.color(_Role.WindowText))


def code_style_for(dark: bool) -> str:
    """The Pygments style name used for code blocks in rendered replies.

    It is the one `chatapp.core.markdown_render` picks for its ``dark`` argument (read from
    there, so the two cannot drift apart); pass ``dark=is_dark(app)`` when rendering.
    """
    return _CODE_STYLE[dark]


def _apply_palette(app: QApplication, dark: bool) -> None:
    # setStyle re-creates the style object and re-polishes every widget, so only when needed:
    # that keeps a repeated call cheap and free of flicker.
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    palette = dark_palette() if dark else light_palette()
    # Comparing first keeps repeated calls from sending every widget a palette-change event.
    if app.palette() != palette:
        app.setPalette(palette)
    # Tool tips keep a palette of their own, which the application palette does not reach.
    if QToolTip.palette() != palette:
        QToolTip.setPalette(palette)


def _follow_system(app: QApplication) -> None:
    hints = app.styleHints()
    if hints.property(_HOOKED_PROPERTY):
        return  # connected once per application; the slot checks the theme is still "system"
    hints.colorSchemeChanged.connect(_on_color_scheme_changed)
    hints.setProperty(_HOOKED_PROPERTY, True)


def _on_color_scheme_changed(scheme: Qt.ColorScheme) -> None:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    theme: Any = app.property(_THEME_PROPERTY)
    if theme == "system":
        # The signal's argument is the new scheme; use it rather than asking again, so this is
        # right even while the platform is still in the middle of switching.
        _apply_palette(app, scheme == Qt.ColorScheme.Dark)


def _luminance(color: QColor) -> float:
    """WCAG relative luminance (0 black … 1 white) of an sRGB colour."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * linear(color.redF())
        + 0.7152 * linear(color.greenF())
        + 0.0722 * linear(color.blueF())
    )

