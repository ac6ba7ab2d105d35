"""Import contract: the engine never loads Qt; the config never loads torch."""

import subprocess
import sys

QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "ptycho_gui", "PyQt5", "PyQt6")


def _loaded_after(statement):
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _roots(modules):
    return {m.split(".")[0] for m in modules}


def test_import_engine_loads_no_qt_and_no_torch():
    roots = _roots(_loaded_after("import engine"))
    assert not roots & set(QT_MODULES)
    assert "torch" not in roots and "lightning" not in roots


def test_config_and_validation_load_no_torch():
    roots = _roots(_loaded_after(
        "import engine.config as c; c.validate(c.SessionConfig()); c.resolve_config()"))
    assert "torch" not in roots


def test_every_engine_module_loads_no_qt():
    import pkgutil

    import engine

    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    statement = "; ".join(f"import {name}" for name in names)
    roots = _roots(_loaded_after(statement))
    assert not roots & set(QT_MODULES)
