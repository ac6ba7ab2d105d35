"""The session being edited: its file, the edits made in the form and the resolved config.

The document holds a :class:`engine.config.ResolvedConfig` built by the engine's one resolver
(``engine.config.resolve_layers``) from the session file plus the edits of the form (the
"gui" layer: defaults < session file < GUI edits), so validation and path resolution happen
once, there, and a run records where each value came from. The file is the same TOML the CLI
reads. Window geometry and recent files are *not* session content; they live in QSettings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.config import (
    GUI_SOURCE,
    ConfigIssue,
    ResolvedConfig,
    SessionConfig,
    SessionFile,
    config_to_dict,
    copy_config,
    field_specs,
    resolve_config,
    resolve_layers,
    save_session,
)
from engine.errors import ConfigError

Layer = Mapping[str, tuple[Any, str]]
"""``{"section.field": (value, source label)}``, the resolver's GUI layer."""


class SessionDocument(QObject):
    """A session file, the GUI edits over it and their resolution.

    Signals
    -------
    changed()
        A value, the file or the modified state changed.
    replaced()
        Many values changed at once (New, Open, a preset): every view should reload them.
    """

    changed = Signal()
    replaced = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._file: SessionFile | None = None
        self._edits: dict[str, tuple[Any, str]] = {}
        self._resolved, self._issues = resolve_layers()
        self._saved = config_to_dict(self._resolved.config)

    # -- state ----------------------------------------------------------------------------
    @property
    def resolved(self) -> ResolvedConfig:
        """The config shown and the source of each value (it may have :attr:`issues`)."""
        return self._resolved

    @property
    def config(self) -> SessionConfig:
        """A copy of the current config (edit through :meth:`set_value`)."""
        return copy_config(self._resolved.config)

    @property
    def issues(self) -> list[ConfigIssue]:
        """Every problem of the file and the edits (empty: the session can run)."""
        return list(self._issues)

    @property
    def path(self) -> Path | None:
        return self._file.path if self._file is not None else None

    @property
    def edits(self) -> dict[str, tuple[Any, str]]:
        """The GUI layer: ``{"section.field": (value, label)}`` over the session file."""
        return dict(self._edits)

    @property
    def modified(self) -> bool:
        """True when the config differs from what was last opened or saved."""
        uncoerced = any(issue.key in self._edits and "(from gui" in issue.message
                        for issue in self._issues)
        return uncoerced or config_to_dict(self._resolved.config) != self._saved

    @property
    def display_name(self) -> str:
        return self.path.name if self.path is not None else "untitled"

    @property
    def folder(self) -> Path:
        """Where relative paths of this session resolve: its file's folder, else the cwd."""
        return self.path.parent if self.path is not None else Path.cwd()

    def source_of(self, key: str) -> str:
        """Where ``section.field`` comes from: "default", "session <path>", "gui"..."""
        return self._resolved.sources[key]

    def run_config(self, extra: Layer | None = None) -> ResolvedConfig:
        """The resolved config for a run, with ``extra`` GUI values (e.g. a new run folder).

        Raises
        ------
        ConfigError
            With every problem, when the session cannot run.
        """
        return resolve_config(self._file, gui={**self._edits, **(extra or {})},
                              cwd=self.folder)

    # -- edits ----------------------------------------------------------------------------
    def set_value(self, key: str, value: Any, label: str = GUI_SOURCE) -> None:
        """Edit ``section.field`` (a value equal to the file's or default one drops the edit)."""
        below = self._below(key)
        if value == below and type(value) is type(below):
            changed = self._edits.pop(key, None) is not None
        else:
            changed = self._edits.get(key) != (value, label)
            self._edits[key] = (value, label)
        if changed:
            self._resolve()
            self.changed.emit()

    def set_values(self, layer: Layer) -> None:
        """Edit several fields at once (a preset); views reload every value."""
        self._edits.update(layer)
        self._resolve()
        self.replaced.emit()
        self.changed.emit()

    def _below(self, key: str) -> Any:
        """The value of ``key`` without GUI edits (session file, else default)."""
        if self._file is not None and key in self._file.values:
            return self._file.values[key]
        return field_specs()[key].default

    def _resolve(self) -> None:
        self._resolved, self._issues = resolve_layers(self._file, gui=self._edits,
                                                      cwd=self.folder)

    # -- files ----------------------------------------------------------------------------
    def new(self) -> None:
        """Defaults, no file."""
        self._load(None)

    def open(self, path: str | os.PathLike[str]) -> None:
        """Read ``path``; on any problem raise ``ConfigError`` and keep the current session."""
        file = SessionFile.read(path)  # raises before anything here changes
        resolve_config(file)  # a session file that cannot run is refused, naming the file
        self._load(file)

    def _load(self, file: SessionFile | None) -> None:
        self._file = file
        self._edits = {}
        self._resolve()
        self._saved = config_to_dict(self._resolved.config)
        self.replaced.emit()
        self.changed.emit()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write to ``path`` (default: the current file); raise ``ConfigError`` when invalid.

        Afterwards the values come from the file written (the GUI layer is empty).
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no file to save to: use Save As")
        if self._issues:
            raise ConfigError(self._issues, source=str(target))
        save_session(self._resolved.config, target)
        self._file = SessionFile.read(target)
        self._edits = {}
        self._resolve()
        self._saved = config_to_dict(self._resolved.config)
        self.changed.emit()
        return target.resolve()
