"""The questions and messages the GUI shows, as plain functions the controllers can swap.

The controllers share one :class:`Dialogs`; tests replace its functions
(``controller.dialogs.ask_save_changes = ...``) so that nothing waits for a click.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

SESSION_FILTER = "Session files (*.toml);;All files (*)"
EXPORT_FILTER = ("Ptychodus product (*.h5);;CXI reconstruction (*.cxi);;PNG images (*.png);;"
                 "Float32 TIFF, amplitude and phase with pixel size (*.tif *.tiff)")
PRODUCT_FILTER = "Ptychodus product (*.h5 *.hdf5);;All files (*)"


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


def choose_product(parent: QWidget, start: Path) -> str:
    return QFileDialog.getOpenFileName(parent, "Open reconstruction", str(start),
                                       PRODUCT_FILTER)[0]


def ask_stop_run(parent: QWidget, kind: str) -> bool:
    """Ask whether to stop the running ``kind`` and quit (its files are kept as cancelled)."""
    Button = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, "A job is running",
        f"{kind.capitalize()} is running. Stop it and quit? The run's files are kept "
        "(marked cancelled) and it can be resumed later.",
        Button.Yes | Button.Cancel, Button.Cancel)
    return answer == Button.Yes


def ask_confirm(parent: QWidget, title: str, message: str) -> bool:
    """Ask before doing something a user may not expect (Yes / Cancel, Cancel the default)."""
    Button = QMessageBox.StandardButton
    return QMessageBox.question(parent, title, message, Button.Yes | Button.Cancel,
                                Button.Cancel) == Button.Yes


def show_text(parent: QWidget, title: str, markdown: str, folder: Path | None = None,
              ) -> QDialog:
    """Show Markdown in a window that does not block (images resolve against ``folder``)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setObjectName("text-dialog")
    browser = QTextBrowser(dialog)
    browser.setOpenExternalLinks(True)
    if folder is not None:
        browser.document().setBaseUrl(QUrl.fromLocalFile(str(folder) + "/"))
    browser.setMarkdown(markdown)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(760, 620)
    dialog.open()
    return dialog


@dataclass
class Dialogs:
    """The dialogs the controllers open; every attribute can be replaced (tests do)."""

    ask_save_changes: Callable[[QWidget, str], str] = ask_save_changes
    ask_stop_run: Callable[[QWidget, str], bool] = ask_stop_run
    ask_confirm: Callable[[QWidget, str, str], bool] = ask_confirm
    show_error: Callable[..., object] = error_box
    show_text: Callable[..., object] = show_text
    choose_open_session: Callable[[QWidget, Path], str] = choose_open_session
    choose_save_session: Callable[[QWidget, Path], str] = choose_save_session
    choose_folder: Callable[[QWidget, str, Path], str] = choose_folder
    choose_export_path: Callable[[QWidget, Path], str] = choose_export_path
    choose_product: Callable[[QWidget, Path], str] = choose_product
