"""ptycho_gui: the PySide6 + pyqtgraph desktop front end of the engine.

Importing the package guards against a PySide6 reference-counting bug on CPython 3.11
(see :mod:`ptycho_gui._none_refcount`) before any other Qt call is made.
"""

from ._none_refcount import protect_singletons

SINGLETON_GUARD_APPLIED = protect_singletons()
