"""The questions and messages the GUI shows, as plain functions the controller can swap.

Tests replace these (``controller.ask_save_changes = ...``) so that nothing waits for a click.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

SESSION_FILTER = "Session files (*.toml);;All files (*)"
EXPORT_FILTER = "Ptychodus product (*.h5);;PNG images (*.png)"


def ask_save_changes(parent: QWidget, name: str) -> str:
    """Ask whether to save ``name``: "save", "discard" or "cancel"."""
    Button = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, "Unsaved changes", f"The session {name} has unsaved changes. Save them?",
        Button.Save | Button.Discard | Button.Cancel, Button.Save)
    return {Button.Save: "save", Button.Discard: "discard"}.get(answer, "cancel")


def error_box(parent: QWidget, title: str, message: str, details: str = "") -> QMessageBox:
    """Show an error without blocking: the message, and the traceback under "Show Details"."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, message,
                      QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setObjectName("error-box")
    box.open()  # window-modal, returns at once: the event loop (and runs) keep going
    return box


def choose_open_session(parent: QWidget, start: Path) -> str:
    return QFileDialog.getOpenFileName(parent, "Open session", str(start), SESSION_FILTER)[0]


def choose_save_session(parent: QWidget, start: Path) -> str:
    path = QFileDialog.getSaveFileName(parent, "Save session as", str(start), SESSION_FILTER)[0]
    if path and not Path(path).suffix:
        path += ".toml"
    return path


def choose_folder(parent: QWidget, caption: str, start: Path) -> str:
    return QFileDialog.getExistingDirectory(parent, caption, str(start))


def choose_export_path(parent: QWidget, start: Path) -> str:
    return QFileDialog.getSaveFileName(parent, "Export reconstruction", str(start),
                                       EXPORT_FILTER)[0]
