"""Qt binding selection and pyqtgraph set-up, done once before pyqtgraph is imported.

pyqtgraph picks whichever Qt binding it finds first; setting ``QT_API`` and
``PYQTGRAPH_QT_LIB`` makes sure a stray PyQt in the environment is never picked up.
Every GUI module imports pyqtgraph through :func:`pyqtgraph_module` so the row-major image
axis order (numpy ``[row, column]``, as the engine stores images) is always in force.
"""

from __future__ import annotations

import os
from types import ModuleType


def select_pyside6() -> None:
    """Point pyqtgraph (and qtpy-style libraries) at PySide6 unless the user chose already."""
    os.environ.setdefault("QT_API", "pyside6")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


def pyqtgraph_module() -> ModuleType:
    """pyqtgraph, configured for this application (row-major images, antialiased curves)."""
    select_pyside6()
    import pyqtgraph as pg

    # Without this, numpy [row, column] images come out transposed.
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    return pg
