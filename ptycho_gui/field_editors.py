"""One editor per schema field, chosen from the field's type and metadata.

Nothing here names a field: :func:`make_editor` looks only at a
:class:`engine.config.FieldSpec` (type, min, max, step, choices, path, group), so a field added
to the schema gets a fitting widget without any GUI change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QToolButton,
    QWidget,
)

from engine.config import FieldSpec, coerce

from .spinboxes import NumberBox, parse_number

INVALID_STYLE = "border: 2px solid #d32f2f; border-radius: 3px;"

# Tokens that end a field name and only repeat its unit ("detector_distance_m" in m).
_UNIT_SUFFIXES = {"m", "ev", "px", "s", "mb", "min", "rad"}


def field_label(spec: FieldSpec) -> str:
    """A field's label with its unit: ``detector_distance_m`` -> ``Detector distance (m)``."""
    words = spec.name.split("_")
    if spec.meta.unit and len(words) > 1 and words[-1].lower() in _UNIT_SUFFIXES:
        words = words[:-1]
    text = " ".join(words)
    if text.islower():
        text = text[0].upper() + text[1:]
    return f"{text} ({spec.meta.unit})" if spec.meta.unit else text


def allowed_range(spec: FieldSpec) -> str:
    """``"1e-08 .. 10"`` with the unit, or "" for a field without bounds."""
    meta = spec.meta
    if meta.min is None and meta.max is None:
        return ""
    low = "-inf" if meta.min is None else f"{meta.min:g}"
    high = "inf" if meta.max is None else f"{meta.max:g}"
    return f"{low} .. {high}" + (f" {meta.unit}" if meta.unit else "")


def field_tooltip(spec: FieldSpec) -> str:
    """The field's help text with its key, range and default, for tooltips."""
    meta = spec.meta
    lines = [meta.help, "", f"Key: {spec.key}"]
    if allowed_range(spec):
        lines.append(f"Range: {allowed_range(spec)}")
    if meta.choices:
        lines.append("Choices: " + ", ".join(str(c) for c in meta.choices))
    lines.append(f"Default: {spec.default!r}")
    return "\n".join(lines)


class FieldEditor(QObject):
    """Binds one schema field to one widget, both ways.

    Signals
    -------
    edited(object)
        The user changed the value (not emitted by :meth:`set_value`).
    """

    edited = Signal(object)

    def __init__(self, spec: FieldSpec, widget: QWidget) -> None:
        super().__init__(widget)
        self.spec = spec
        self.widget = widget
        self._updating = False
        self._base_tooltip = field_tooltip(spec)
        self.widget.setToolTip(self._base_tooltip)
        self.widget.setObjectName(f"field:{spec.key}")

    def value(self) -> Any:
        """The value shown, as the schema type."""
        raise NotImplementedError

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting :attr:`edited`."""
        self._updating = True
        try:
            self._show(value)
        finally:
            self._updating = False

    def set_issue(self, message: str | None) -> None:
        """Mark the widget invalid (red border, reason in the tooltip) or clear the mark."""
        self.widget.setProperty("invalid", bool(message))
        self._style_target().setStyleSheet(INVALID_STYLE if message else "")
        tip = self._base_tooltip if not message else f"Problem: {message}\n\n{self._base_tooltip}"
        self.widget.setToolTip(tip)

    def _style_target(self) -> QWidget:
        return self.widget

    def _emit(self, *_: Any) -> None:
        if not self._updating:
            self.edited.emit(self.value())


class BoolEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        self.box = QCheckBox(parent)
        super().__init__(spec, self.box)
        self.box.toggled.connect(self._emit)

    def value(self) -> bool:
        return self.box.isChecked()

    def _show(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class ChoiceEditor(FieldEditor):
    """A combo box of ``meta.choices``; an unlisted value is shown (and flagged by validation)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        self.box = QComboBox(parent)
        super().__init__(spec, self.box)
        for choice in spec.meta.choices or ():
            self.box.addItem(str(choice), choice)
        self.box.currentIndexChanged.connect(self._emit)

    def value(self) -> Any:
        return self.box.currentData()

    def _show(self, value: Any) -> None:
        index = self.box.findData(value)
        if index < 0:
            self.box.addItem(f"{value} (not allowed)", value)
            index = self.box.count() - 1
        self.box.setCurrentIndex(index)


class NumberEditor(FieldEditor):
    """An int or float field (:class:`NumberBox`): any text while typing, read on commit,
    never clamped; text that is no number is passed on as typed, so validation marks it."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        self.box = NumberBox(spec.types == (int,), parent)
        super().__init__(spec, self.box)
        low, high = _bounds(spec, -math.inf, math.inf)
        self.box.setRange(low, high)
        step = spec.meta.step or 1
        self.box.setSingleStep(int(step) if self.box.integer else float(step))
        self.box.valueChanged.connect(self._emit)
        self.box.textCommitted.connect(self._emit)

    def value(self) -> Any:
        """The number shown, or the text when it is no number."""
        text = self.box.lineEdit().text()
        number = parse_number(text, self.box.integer)
        return text if number is None else number

    def _show(self, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.box.setValue(value)
        else:
            self.box.lineEdit().setText(str(value))


class TextEditor(FieldEditor):
    """Free text; union fields (``int | str``) parse it as their types allow ("2" -> 2)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        self.line = QLineEdit(parent)
        super().__init__(spec, self.line)
        self.line.setPlaceholderText(str(spec.default))
        self.line.textChanged.connect(self._emit)

    def value(self) -> Any:
        return _parse_text(self.spec, self.line.text())

    def _show(self, value: Any) -> None:
        self.line.setText(str(value))


FileDialog = Callable[[QWidget, str, str], str]
"""(parent, caption, start) -> chosen path or "" (replaceable in tests)."""


def _open_file(parent: QWidget, caption: str, start: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, start)[0]


DATA_FILE_KEYS = ("data.path", "data.diffraction_path", "inference.data_path")
"""Settings naming a data file: their dialogs filter by the engine's format registry."""


def data_file_filter() -> str:
    """The data-file dialogs' filter: every format of :data:`engine.io.FORMATS` (compressed
    forms included), then each format, then all files."""
    from engine.io import file_dialog_filters

    return ";;".join(file_dialog_filters())


def open_data_file(parent: QWidget, caption: str, start: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, start, data_file_filter())[0]


def _save_file(parent: QWidget, caption: str, start: str) -> str:
    return QFileDialog.getSaveFileName(parent, caption, start)[0]


def _folder(parent: QWidget, caption: str, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption, start)


class PathEditor(FieldEditor):
    """A line edit with a browse button.

    The dialog follows the metadata: names ending in ``_dir`` pick a folder, fields of the
    "output" group a file to write, others a file to read; the button's menu offers a folder
    too (a ptychodus standard layout is a folder).
    """

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        box = QWidget(parent)
        super().__init__(spec, box)
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.line = QLineEdit(box)
        self.line.setPlaceholderText(str(spec.default) or "(none)")
        self.button = QToolButton(box)
        self.button.setText("…")
        self.button.setToolTip(f"Browse for {field_label(spec).lower()}")
        layout.addWidget(self.line, 1)
        layout.addWidget(self.button)
        if spec.name.endswith("_dir"):
            self.dialog: FileDialog = _folder
        elif spec.meta.group == "output":
            self.dialog = _save_file
        else:
            self.dialog = open_data_file if spec.key in DATA_FILE_KEYS else _open_file
            menu = QMenu(self.button)
            menu.addAction("Choose a file…", lambda: self.browse(self.dialog))
            menu.addAction("Choose a folder…", lambda: self.browse(_folder))
            self.button.setMenu(menu)
            self.button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.button.clicked.connect(lambda: self.browse(self.dialog))
        self.line.textChanged.connect(self._emit)

    def browse(self, dialog: FileDialog | None = None) -> None:
        """Ask for a path with ``dialog`` and show it (an edit, so ``edited`` fires)."""
        chosen = (dialog or self.dialog)(self.widget, field_label(self.spec), self.line.text())
        if chosen:
            self.line.setText(chosen)

    def value(self) -> str:
        return self.line.text()

    def _show(self, value: Any) -> None:
        self.line.setText(str(value))

    def _style_target(self) -> QWidget:
        return self.line


def _bounds(spec: FieldSpec, low: float, high: float) -> tuple[float, float]:
    meta = spec.meta
    return (low if meta.min is None else meta.min, high if meta.max is None else meta.max)


def _parse_text(spec: FieldSpec, text: str) -> Any:
    try:
        return coerce(spec, text.strip(), from_text=True)
    except ValueError:
        return text  # shown as typed; validation says what is wrong


def make_editor(spec: FieldSpec, parent: QWidget | None = None) -> FieldEditor:
    """The editor for ``spec``, chosen from its type and metadata only."""
    if spec.meta.choices:
        return ChoiceEditor(spec, parent)
    if spec.types == (bool,):
        return BoolEditor(spec, parent)
    if spec.types in ((int,), (float,)):
        return NumberEditor(spec, parent)
    if spec.meta.path:
        return PathEditor(spec, parent)
    return TextEditor(spec, parent)
