"""The base of the window's feature controllers (session, run, preview, runs, cluster)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from .dialogs import Dialogs
    from .document import SessionDocument
    from .main_window import MainWindow


class FeatureController(QObject):
    """Holds what every feature controller acts on: the main window (its views and actions),
    the session document and the dialogs (questions and messages to the user)."""

    def __init__(self, window: MainWindow, document: SessionDocument, dialogs: Dialogs,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.document = document
        self.dialogs = dialogs
