"""The GUI's Qt-free model: numbers the views show, computed with numpy only.

Nothing here imports Qt (PySide6, pyqtgraph): ``tests/gui/test_gui_model_contract.py`` checks
it statically, so every function can be tested (and used from a script) without a display.
"""
