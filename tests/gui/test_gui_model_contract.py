"""The GUI's model package (``ptycho_gui/model``) is Qt-free: checked statically, every import
statement of every module (also inside functions), so its numbers can be computed and tested
without a display and a view can change without touching them."""

from __future__ import annotations

import ast
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "ptycho_gui" / "model"
QT = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "PyQt5", "PyQt6")


def _imports(path: Path) -> list[tuple[str, int, int]]:
    """``(module, level, line)`` of every import of ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level, node.lineno))
    return found


def test_the_model_package_never_imports_qt_or_the_views():
    modules = sorted(MODEL.glob("*.py"))
    assert {p.stem for p in modules} >= {"__init__", "imaging", "optics", "products", "progress",
                                         "quality", "results", "units"}
    bad = []
    for path in modules:
        for module, level, line in _imports(path):
            top = module.split(".")[0]
            if level == 0 and (top in QT or (top == "ptycho_gui"
                                             and not module.startswith("ptycho_gui.model"))):
                bad.append(f"{path.name}:{line} imports {module}")
            if level > 1:  # from .. import: outside the model package (views, controllers)
                bad.append(f"{path.name}:{line} imports {'.' * level}{module}")
    assert not bad, "ptycho_gui/model must stay Qt-free: " + "; ".join(bad)


GUI = MODEL.parent
CONTROLLERS = ("controller", "run_controller", "session_controller", "preview_controller",
               "main_window", "app")


def test_views_never_reach_the_controllers_or_the_window():
    """Shared views (``ptycho_gui/views``) and the features' views show what they are given
    and emit requests; controllers decide (their modules are never imported by a view)."""
    views = sorted((GUI / "views").glob("*.py")) + [GUI / "runs_panel" / "view.py",
                                                     GUI / "cluster" / "follow.py"]
    bad = []
    for path in views:
        for module, level, line in _imports(path):
            name = module.split(".")[-1] if module else ""
            absolute = level == 0 and module.startswith("ptycho_gui.")
            if (level > 0 or absolute) and (name in CONTROLLERS or name == "controller"):
                bad.append(f"{path.relative_to(GUI)}:{line} imports {'.' * level}{module}")
    assert not bad, "a view imports a controller: " + "; ".join(bad)
