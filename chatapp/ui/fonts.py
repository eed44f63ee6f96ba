"""Fonts: make sure Chinese text has glyphs, whatever fonts the machine has.

Windows and macOS ship CJK fonts, and desktop Linux usually does, but a minimal Linux (or a
container, or a CI machine) may have none: the Chinese interface and Chinese replies would then
be rows of empty boxes.  Noto Sans CJK ships with chatapp as a fallback and is registered only
when no installed font covers Simplified Chinese.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QFont, QFontDatabase

log = logging.getLogger(__name__)

#: The family the bundled collection registers (its Simplified Chinese face).
BUNDLED_FAMILY = "Noto Sans CJK SC"


def has_cjk_font() -> bool:
    """True if some available font covers Simplified Chinese."""
    return bool(QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese))


def ensure_cjk_font() -> str | None:
    """Register the bundled CJK font if no installed font covers Simplified Chinese.

    Returns the family registered, or None when none was needed or the bundle is missing.
    Needs a QGuiApplication.  Qt's font fallback then finds it for any Chinese text.
    """
    if has_cjk_font():
        return None
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:  # an install without the bundle: tofu, but nothing breaks
        log.warning("no CJK font found and the bundled one is not installed")
        return None
    font_id = QFontDatabase.addApplicationFont(str(FONT_PATH))
    if font_id < 0:
        log.warning("the bundled CJK font could not be loaded from %s", FONT_PATH)
        return None
    families = QFontDatabase.applicationFontFamilies(font_id)
    family = BUNDLED_FAMILY if BUNDLED_FAMILY in families else (families[0] if families else None)
    if family is not None:
        # Qt's fallback does not always consult application fonts for every script; naming the
        # family as a substitute of the default one makes Chinese text find it everywhere.
        default = QFont().family()
        QFont.insertSubstitution(default, family)
    return family
