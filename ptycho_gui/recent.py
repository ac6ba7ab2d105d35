"""Recently used session files, kept in QSettings (never in session files)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

KEY = "session/recent_files"


class RecentFiles:
    """An ordered, bounded list of paths, newest first."""

    def __init__(self, settings: QSettings, limit: int = 8) -> None:
        self.settings = settings
        self.limit = limit

    def paths(self) -> list[str]:
        value = self.settings.value(KEY, [])
        if isinstance(value, str):  # QSettings returns a lone entry as a string
            return [value]
        return [str(p) for p in value] if isinstance(value, (list, tuple)) else []

    def add(self, path: str | os.PathLike[str]) -> None:
        text = str(Path(path).resolve())
        paths = [text] + [p for p in self.paths() if p != text]
        self.settings.setValue(KEY, paths[: self.limit])
        self.settings.sync()

    def remove(self, path: str) -> None:
        self.settings.setValue(KEY, [p for p in self.paths() if p != path])

    def clear(self) -> None:
        self.settings.setValue(KEY, [])
