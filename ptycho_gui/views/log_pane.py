"""The log pane: every engine log line and GUI event, with time and level."""

from __future__ import annotations

import time

from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QPlainTextEdit, QWidget

_LEVEL_COLOURS = {"warning": "#b26a00", "error": "#c62828"}


class LogPane(QPlainTextEdit):
    """Read-only text, newest at the bottom, bounded so long runs cannot grow it forever."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.setObjectName("log-pane")

    def append_line(self, level: str, message: str) -> None:
        """Add ``message`` at ``level`` ("info", "warning", "error")."""
        stamp = time.strftime("%H:%M:%S")
        tag = "" if level == "info" else f"[{level}] "
        fmt = QTextCharFormat()
        if level in _LEVEL_COLOURS:
            fmt.setForeground(QColor(_LEVEL_COLOURS[level]))
        cursor = self.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if not self.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(f"{stamp} {tag}{message}", fmt)
        self.setTextCursor(cursor)
        self.ensureCursorVisible()

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()
