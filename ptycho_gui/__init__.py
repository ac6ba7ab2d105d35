"""ptycho_gui: the PySide6 + pyqtgraph desktop front end of the engine."""
