"""Session controller: the form's edits into the document, New/Open/Save, recent files,
presets. It knows the document and calls the window's intent methods only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from engine.config import GUI_SOURCE
from engine.errors import EngineError

from .dialogs import Dialogs
from .document import SessionDocument
from .feature_controller import FeatureController
from .main_window import MainWindow
from .recent import RecentFiles


class SessionController(FeatureController):
    """Edits, files and presets of the :class:`SessionDocument` shown in a window.

    Signals
    -------
    data_path_edited()
        The user edited a ``data.*`` field (the data preview follows, debounced).
    session_replaced()
        New or Open replaced the session (stale data views and messages must go).
    """

    data_path_edited = Signal()
    session_replaced = Signal()

    def __init__(self, window: MainWindow, document: SessionDocument, dialogs: Dialogs,
                 settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(window, document, dialogs, parent)
        self.recent = RecentFiles(settings)
        w = window
        w.form.value_edited.connect(self._on_form_value_edited)
        w.advanced_box.toggled.connect(w.set_show_advanced)
        document.replaced.connect(self._on_document_replaced)
        w.action_new.triggered.connect(self.new_session)
        w.action_open.triggered.connect(self._on_action_open_triggered)
        w.action_save.triggered.connect(lambda: self.save_session())
        w.action_save_as.triggered.connect(self._on_action_save_as_triggered)
        w.preset_menu.aboutToShow.connect(self._on_preset_menu_about_to_show)
        w.load_config(document.config)
        self._show_recent()

    # -- edits ----------------------------------------------------------------------------
    def _on_form_value_edited(self, key: str, value: Any) -> None:
        self.document.set_value(key, value)
        if key.startswith("data."):
            self.data_path_edited.emit()

    def set_field(self, key: str, value: Any, label: str = GUI_SOURCE) -> None:
        """Set ``section.field`` in the session and show it (an edit: marks modified)."""
        self.document.set_value(key, value, label)
        self.window.show_value(key, value)

    def _on_document_replaced(self) -> None:
        self.window.load_config(self.document.config)

    def apply_preset(self, name: str) -> bool:
        """Set the fields of simulation preset ``name`` (e.g. "tiny") in the session."""
        from engine.config import preset_layer

        try:
            layer = preset_layer(name)
        except EngineError as exc:
            self.dialogs.show_error(self.window, f"Cannot apply preset {name}", str(exc), "")
            return False
        self.document.set_values({key: (value, f"{GUI_SOURCE} {label}")
                                  for key, (value, label) in layer.items()})
        self.window.log("info", f"Preset {name} applied" + (
            f": {', '.join(layer)}" if layer else " (the defaults)"))
        return True

    def _on_preset_menu_about_to_show(self) -> None:
        from engine.config import PRESETS

        self.window.set_presets(PRESETS, self.apply_preset)

    # -- files ----------------------------------------------------------------------------
    def new_session(self) -> bool:
        """Defaults, after asking about unsaved changes; False when the user cancelled."""
        if not self.maybe_save():
            return False
        self.document.new()
        self.session_replaced.emit()
        self.window.log("info", "New session (defaults)")
        return True

    def open_session(self, path: str | Path) -> bool:
        """Open ``path``; a bad file shows its problems and changes nothing."""
        try:
            self.document.open(path)
        except EngineError as exc:
            self.window.log("error", str(exc))
            self.dialogs.show_error(self.window, "Cannot open session", str(exc), "")
            return False
        self.session_replaced.emit()
        self.recent.add(path)
        self._show_recent()
        self.window.log("info", f"Opened {path}")
        return True

    def save_session(self, path: str | Path | None = None) -> bool:
        """Save (to ``path``, or the current file, or ask); False when nothing was written."""
        if path is None and self.document.path is None:
            chosen = self.dialogs.choose_save_session(self.window,
                                                      self.document.folder / "session.toml")
            if not chosen:
                return False
            path = chosen
        try:
            written = self.document.save(path)
        except EngineError as exc:
            self._save_failed(str(exc))
            return False
        except OSError as exc:
            self._save_failed(f"cannot write {path or self.document.path}: {exc.strerror or exc}")
            return False
        self.recent.add(written)
        self._show_recent()
        self.window.log("info", f"Saved {written}")
        return True

    def _save_failed(self, message: str) -> None:
        self.window.log("error", message)
        self.dialogs.show_error(self.window, "Cannot save session", message, "")

    def maybe_save(self) -> bool:
        """Ask about unsaved changes: True to go on (saved or discarded), False to stay."""
        if not self.document.modified:
            return True
        answer = self.dialogs.ask_save_changes(self.window, self.document.display_name)
        if answer == "save":
            return self.save_session()
        return answer == "discard"

    def _on_action_open_triggered(self) -> None:
        if not self.maybe_save():
            return
        path = self.dialogs.choose_open_session(self.window, self.document.folder)
        if path:
            self.open_session(path)

    def _on_action_save_as_triggered(self) -> None:
        name = self.document.path.name if self.document.path else "session.toml"
        chosen = self.dialogs.choose_save_session(self.window, self.document.folder / name)
        if chosen:
            self.save_session(chosen)

    def _show_recent(self) -> None:
        self.window.set_recent_files(self.recent.paths(), self._on_recent_triggered,
                                     self._on_recent_clear_triggered)

    def _on_recent_triggered(self, path: str) -> None:
        if not Path(path).is_file():
            self.recent.remove(path)
            self._show_recent()
            self.dialogs.show_error(self.window, "Cannot open session",
                                    f"{path}: file not found", "")
            return
        if self.maybe_save():
            self.open_session(path)

    def _on_recent_clear_triggered(self) -> None:
        self.recent.clear()
        self._show_recent()
