"""Import contracts, checked statically (every import statement, also inside functions) and at
run time: the engine never loads Qt, the configuration never loads torch, the GUI uses only the
engine's public API, and no engine modules import each other in a circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = {"PySide6", "shiboken6", "pyqtgraph", "superqt", "ptycho_gui", "PyQt5", "PyQt6"}
TORCH_MODULES = {"torch", "lightning", "lightning_fabric", "pytorch_lightning", "torchvision"}
# The engine's public API (docs/architecture.md): ``engine`` and these sub-packages' ``__all__``,
# and the public names of these single modules.
PUBLIC_PACKAGES = {"engine", "engine.config", "engine.io", "engine.physics", "engine.simulation",
                   "engine.solvers",
                   "engine.metrics", "engine.model", "engine.training", "engine.runs",
                   "engine.bench"}
PUBLIC_MODULES = {"engine.errors", "engine.reporting", "engine.atomic", "engine.render",
                  "engine.runs_index", "engine.locks", "engine.cluster", "engine.live_preview"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` of every import in the file, relative ones made absolute."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in known]
            found += [(m, [], node.lineno) for m in submodules]
            rest = [n for n in names if f"{module}.{n}" not in known]
            if rest or not submodules:
                found.append((module, rest, node.lineno))
    return found


ENGINE = _modules("engine")
GUI = _modules("ptycho_gui")


def _graph() -> dict[str, set[str]]:
    """Module -> engine modules whose import it executes (parent packages included)."""
    graph: dict[str, set[str]] = {name: set() for name in ENGINE}
    for name, path in ENGINE.items():
        for module, _, _ in _imports(name, path, set(ENGINE)):
            if module not in ENGINE or module == name:
                continue
            graph[name].add(module)
            parts = module.split(".")
            for k in range(1, len(parts)):
                parent = ".".join(parts[:k])
                if not name.startswith(parent + ".") and parent != name:
                    graph[name].add(parent)  # importing a.b.c runs a.b's __init__ first
    return graph


def test_engine_never_imports_qt_or_the_gui():
    bad = [f"{ENGINE[name].relative_to(ROOT)}:{line} imports {module}"
           for name, path in ENGINE.items()
           for module, _, line in _imports(name, path, set(ENGINE))
           if module.split(".")[0] in QT_MODULES]
    assert not bad, "\n".join(bad)


def test_config_never_reaches_torch_or_lightning():
    graph = _graph()
    bad = []
    for start in [n for n in ENGINE if n == "engine.config" or n.startswith("engine.config.")]:
        seen, todo = {start}, [start]
        while todo:
            current = todo.pop()
            for module, _, line in _imports(current, ENGINE[current], set(ENGINE)):
                if module.split(".")[0] in TORCH_MODULES:
                    bad.append(f"{start} -> ... {current}:{line} imports {module}")
            for nxt in graph[current] - seen - {"engine"}:
                seen.add(nxt)
                todo.append(nxt)
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_engine_modules():
    graph = _graph()
    for node in graph:  # the root package's lazy exports are not import edges
        graph[node].discard("engine")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_gui_imports_only_the_public_engine_api():
    import importlib

    bad = []
    for name, path in GUI.items():
        for module, names, line in _imports(name, path, set(GUI) | set(ENGINE)):
            if module.split(".")[0] != "engine":
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if module in PUBLIC_PACKAGES:
                exported = set(getattr(importlib.import_module(module), "__all__", ()))
                bad += [f"{where} {module}.{n} is not exported" for n in names
                        if n not in exported]
            elif module in PUBLIC_MODULES:
                bad += [f"{where} {module}.{n} is private" for n in names if n.startswith("_")]
            else:
                bad.append(f"{where} imports {module}, not part of the public API")
    assert not bad, "\n".join(bad)


def _loaded_after(statement):
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return set(out.stdout.split())


def _roots(modules):
    return {m.split(".")[0] for m in modules}


def test_import_engine_loads_no_qt_and_no_torch():
    roots = _roots(_loaded_after("import engine"))
    assert not roots & QT_MODULES
    assert "torch" not in roots and "lightning" not in roots


def test_config_and_validation_load_no_torch():
    roots = _roots(_loaded_after(
        "import engine.config as c; c.validate(c.SessionConfig()); c.resolve_config(); "
        "c.apply_preset(c.SessionConfig(), 'tiny')"))
    assert "torch" not in roots


@pytest.mark.parametrize("expression", ["engine.io.inspect", "engine.metrics.evaluate",
                                        "engine.config.PRESET_NAMES", "engine.render.png_paths"])
def test_sub_packages_are_attributes_of_a_fresh_engine(expression):
    out = subprocess.run([sys.executable, "-c", f"import engine; print(callable({expression}) "
                          f"or bool({expression}))"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr


def test_every_engine_module_loads_no_qt():
    import pkgutil

    import engine

    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    statement = "; ".join(f"import {name}" for name in names)
    roots = _roots(_loaded_after(statement))
    assert not roots & QT_MODULES
