"""The session being edited: its config, its file and whether it has unsaved changes.

The file is the same TOML the CLI reads (``engine.config.load_session`` / ``save_session``).
Window geometry and recent files are *not* session content; they live in QSettings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.config import SessionConfig, config_to_dict, copy_config, load_session, save_session


class SessionDocument(QObject):
    """A :class:`SessionConfig` with a file path and a saved snapshot.

    Signals
    -------
    changed()
        The config, the path or the modified state changed.
    replaced()
        The whole config was replaced (New, Open): every view should reload it.
    """

    changed = Signal()
    replaced = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._config = SessionConfig()
        self._path: Path | None = None
        self._saved = config_to_dict(self._config)

    # -- state ----------------------------------------------------------------------------
    @property
    def config(self) -> SessionConfig:
        """A copy of the current config (edit through :meth:`set_value`)."""
        return copy_config(self._config)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def modified(self) -> bool:
        """True when the config differs from what was last opened or saved."""
        return config_to_dict(self._config) != self._saved

    @property
    def display_name(self) -> str:
        return self._path.name if self._path is not None else "untitled"

    @property
    def folder(self) -> Path:
        """Where relative paths of this session resolve: its file's folder, else the cwd."""
        return self._path.parent if self._path is not None else Path.cwd()

    # -- edits ----------------------------------------------------------------------------
    def set_value(self, key: str, value: Any) -> None:
        """Set ``section.field`` to ``value`` (validation is the caller's display concern)."""
        section, name = key.split(".", 1)
        if getattr(getattr(self._config, section), name) == value and type(
            getattr(getattr(self._config, section), name)
        ) is type(value):
            return
        setattr(getattr(self._config, section), name, value)
        self.changed.emit()

    def set_config(self, config: SessionConfig) -> None:
        """Replace the config (an edit: the document becomes modified)."""
        self._config = copy_config(config)
        self.replaced.emit()
        self.changed.emit()

    # -- files ----------------------------------------------------------------------------
    def new(self) -> None:
        """Defaults, no file."""
        self._config = SessionConfig()
        self._path = None
        self._saved = config_to_dict(self._config)
        self.replaced.emit()
        self.changed.emit()

    def open(self, path: str | os.PathLike[str]) -> None:
        """Load ``path``; on any problem raise ``ConfigError`` and keep the current session."""
        config = load_session(path)  # raises before anything here changes
        self._config = config
        self._path = Path(path).resolve()
        self._saved = config_to_dict(config)
        self.replaced.emit()
        self.changed.emit()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write to ``path`` (default: the current file); raise ``ConfigError`` when invalid."""
        target = Path(path) if path is not None else self._path
        if target is None:
            raise ValueError("no file to save to: use Save As")
        save_session(self._config, target)
        self._path = target.resolve()
        self._saved = config_to_dict(self._config)
        self.changed.emit()
        return self._path
