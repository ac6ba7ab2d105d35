"""Numeric editors that do not lose precision.

``QDoubleSpinBox`` shows two decimals by default (``1e-4`` becomes ``0.00``) and ``QSpinBox``
holds a C ``int`` (32 bits). :class:`ScientificDoubleSpinBox` reads and writes scientific
notation with full double precision; :class:`Int64SpinBox` holds any Python int within its
range.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QWidget

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

_FLOAT_FULL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Prefixes of a float as it is being typed: "", "-", "1.", "1e", "1e-".
_FLOAT_PARTIAL = re.compile(r"[+-]?\d*\.?\d*([eE][+-]?\d*)?")
_INT_FULL = re.compile(r"[+-]?\d+")
_INT_PARTIAL = re.compile(r"[+-]?\d*")


def format_float(value: float) -> str:
    """The shortest readable text that reads back as exactly ``value``.

    ``0.0001`` stays ``0.0001``, ``75e-6`` becomes ``7.5e-05``, ``1e12`` becomes ``1e+12``.
    """
    text = f"{value:.12g}"
    if float(text) != value:
        text = repr(float(value))  # shortest round-trip representation
    return text


class ScientificDoubleSpinBox(QDoubleSpinBox):
    """A double spin box that accepts and shows scientific notation at full precision."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The maximum: QDoubleSpinBox rounds value() to `decimals`, and we never want that.
        self.setDecimals(323)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return format_float(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt override)
        try:
            return float(self._strip(text))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        body = self._strip(text)
        if _FLOAT_FULL.fullmatch(body):
            value = float(body)
            if self.minimum() <= value <= self.maximum():
                return QValidator.State.Acceptable, text, pos
            # Out of range may still be a prefix of something valid ("1" on the way to "10").
            return QValidator.State.Intermediate, text, pos
        if _FLOAT_PARTIAL.fullmatch(body):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def _strip(self, text: str) -> str:
        text = text.strip()
        if self.prefix() and text.startswith(self.prefix()):
            text = text[len(self.prefix()):]
        if self.suffix() and text.endswith(self.suffix()):
            text = text[: -len(self.suffix())]
        return text.strip()


class Int64SpinBox(QAbstractSpinBox):
    """An integer spin box for values beyond the 32-bit range of ``QSpinBox``.

    Signals
    -------
    valueChanged(object)
        The new value as a Python int (a Qt ``int`` signal would truncate it to 32 bits).
    """

    valueChanged = Signal(object)  # noqa: N815 (Qt naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._minimum = 0
        self._maximum = 99
        self._step = 1
        self._value = 0
        self.lineEdit().setText("0")
        self.lineEdit().textEdited.connect(self._on_line_text_edited)
        self.editingFinished.connect(self._on_editing_finished)

    # -- QSpinBox-like API ------------------------------------------------------------------
    def minimum(self) -> int:
        return self._minimum

    def maximum(self) -> int:
        return self._maximum

    def setRange(self, minimum: int, maximum: int) -> None:  # noqa: N802
        self._minimum, self._maximum = int(minimum), int(maximum)
        self.setValue(self._value)

    def singleStep(self) -> int:  # noqa: N802
        return self._step

    def setSingleStep(self, step: int) -> None:  # noqa: N802
        self._step = max(1, int(step))

    def value(self) -> int:
        return self._value

    def setValue(self, value: int) -> None:  # noqa: N802
        value = min(self._maximum, max(self._minimum, int(value)))
        if self.lineEdit().text() != str(value):
            self.lineEdit().setText(str(value))
        if value != self._value:
            self._value = value
            self.valueChanged.emit(value)

    # -- QAbstractSpinBox overrides -----------------------------------------------------------
    def stepBy(self, steps: int) -> None:  # noqa: N802
        self.setValue(self._value + steps * self._step)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self._value > self._minimum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self._value < self._maximum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags

    def validate(self, text: str, pos: int) -> object:
        body = text.strip()
        if _INT_FULL.fullmatch(body):
            inside = self._minimum <= int(body) <= self._maximum
            state = QValidator.State.Acceptable if inside else QValidator.State.Intermediate
            return state, text, pos
        if _INT_PARTIAL.fullmatch(body):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def fixup(self, text: str) -> str:
        body = text.strip()
        if _INT_FULL.fullmatch(body):
            return str(min(self._maximum, max(self._minimum, int(body))))
        return str(self._value)

    def _on_line_text_edited(self, text: str) -> None:
        body = text.strip()
        if _INT_FULL.fullmatch(body) and self._minimum <= int(body) <= self._maximum:
            self.setValue(int(body))

    def _on_editing_finished(self) -> None:
        self.setValue(int(self.fixup(self.lineEdit().text())))
