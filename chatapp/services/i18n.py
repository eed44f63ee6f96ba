"""Languages: English (the source strings) and Simplified Chinese, switched at run time.

Every visible string goes through Qt's translation system (`self.tr`).  Installing a
translator makes Qt send a LanguageChange event to every widget, which retranslates itself,
so a switch applies at once, without a restart.

Translators edit `resources/i18n/chatapp_<code>.ts`; the app loads the compiled
`chatapp/i18n/chatapp_<code>.qm` (see resources/i18n/README.md for the two commands).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QObject, QTranslator

#: Language codes and their names, each in its own language.
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
QM_DIR = Path(__file__).resolve().parent.parent / "i18n"


def system_language() -> str:
    """The supported language closest to the system's (English otherwise)."""
    name = QLocale.system().name()  # e.g. "zh_CN", "en_US"
    return "zh_CN" if name.startswith("zh") else "en"


class Translations(QObject):
    """Installs the translators of one language into the application.

    Attributes:
        language: the code in use ("en", "zh_CN").
    """

    def __init__(self, parent: QObject | None = None) -> None:
        """Start in English (no translators)."""
        super().__init__(parent)
        self.language = "en"
        self._installed: list[QTranslator] = []

    def apply(self, code: str) -> None:
        """Switch to `code` ("system" picks the system's); every widget retranslates at once."""
        if code == "system":
            code = system_language()
        if code not in LANGUAGES:
            raise ValueError(f"unsupported language {code!r}")
        app = QCoreApplication.instance()
        assert app is not None, "a QApplication must exist"
        for old in self._installed:
            app.removeTranslator(old)
        self._installed = []
        if code != "en":
            ours = QTranslator(self)
            if not ours.load(str(QM_DIR / f"chatapp_{code}.qm")):
                raise FileNotFoundError(f"missing translation file chatapp_{code}.qm")
            qt_own = QTranslator(self)  # Qt's own dialogs and buttons
            if qt_own.load(f"qtbase_{code}", QLibraryInfo.path(QLibraryInfo.LibraryPath
                                                               .TranslationsPath)):
                app.installTranslator(qt_own)
                self._installed.append(qt_own)
            app.installTranslator(ours)
            self._installed.append(ours)
        # Installing or removing a translator posts LanguageChange to every widget.
        self.language = code
