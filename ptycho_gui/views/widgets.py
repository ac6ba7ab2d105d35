"""Small widgets the views share."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QWidget,
)


class FluidLabel(QWidget):
    """A one-line text that never widens its window and never relayouts it.

    A long text (a path, a read-out) is cut with "…" at the widget's edge and shown whole in
    its tooltip. Unlike a ``QLabel``, a new text only repaints the line: a caption updated
    with every live frame would otherwise relayout (and repaint) the whole main window each
    time, 25-50 ms of the GUI thread.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        if text == self._text:
            return
        self._text = text
        self.setToolTip(text)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance(self._text) + 4, metrics.height() + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(0, self.fontMetrics().height() + 4)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        rect = self.contentsRect().adjusted(1, 0, -1, 0)
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight,
                                              rect.width())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         shown)
        painter.end()


class SectionBar(QWidget):
    """The pages of a ``QTabWidget`` as buttons that wrap onto as many rows as the width
    needs: every page stays one click away (a tab bar hides the last pages of a narrow
    window behind a scroll arrow). The tab widget's own bar is hidden; the two stay in step.
    """

    def __init__(self, tabs: QTabWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = tabs
        self.buttons: list[QToolButton] = []
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self._columns = 0
        tabs.tabBar().hide()
        tabs.currentChanged.connect(self._on_tabs_current_changed)
        self._group.idClicked.connect(tabs.setCurrentIndex)
        self.rebuild()

    def rebuild(self) -> None:
        """One button per page (call after pages were added)."""
        for button in self.buttons:
            self._group.removeButton(button)
            button.deleteLater()
        self.buttons = []
        for index in range(self.tabs.count()):
            button = QToolButton(self)
            button.setText(self.tabs.tabText(index))
            button.setToolTip(self.tabs.tabToolTip(index))
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self._group.addButton(button, index)
            self.buttons.append(button)
        self._columns = 0
        self._place(self.width())
        self._on_tabs_current_changed(self.tabs.currentIndex())

    def columns_for(self, width: int) -> int:
        """How many buttons fit side by side in ``width`` pixels."""
        widest = max((b.sizeHint().width() for b in self.buttons), default=1)
        return max(1, min(len(self.buttons), (width + 2) // (widest + 2)))

    def _place(self, width: int) -> None:
        columns = self.columns_for(width) if width > 0 else len(self.buttons)
        if columns == self._columns:
            return
        self._columns = columns
        self.setFixedHeight(self.height_for(width))  # as many rows as the width needs
        for button in self.buttons:
            self._grid.removeWidget(button)
        for index, button in enumerate(self.buttons):
            self._grid.addWidget(button, index // columns, index % columns)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        widest = max((b.sizeHint().width() for b in self.buttons), default=0)
        return QSize(widest, self.height_for(widest))

    def height_for(self, width: int) -> int:
        """The height of the rows of buttons in ``width`` pixels."""
        if not self.buttons:
            return 0
        rows = -(-len(self.buttons) // self.columns_for(width))
        return rows * self.buttons[0].sizeHint().height() + (rows - 1) * self._grid.spacing()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._place(event.size().width())

    def _on_tabs_current_changed(self, index: int) -> None:
        if 0 <= index < len(self.buttons):
            self.buttons[index].setChecked(True)


THREAD_SHUTDOWN_S = 30.0
"""How long a view closed as its own window waits for its worker thread's request to end."""


class ThreadedView(QWidget):
    """A view with a worker thread of its own (listing, computing off the GUI thread).

    Subclasses implement :meth:`shutdown`; inside the main window the window's controller
    calls it when the application closes, and a view shown as its own window calls it when
    it is closed (a thread outliving its view would abort the application).
    """

    def shutdown(self, timeout_s: float = THREAD_SHUTDOWN_S) -> bool:
        """End the view's thread (a request under way is waited for); True when it ended."""
        raise NotImplementedError

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.isWindow():
            self.shutdown()
        super().closeEvent(event)
