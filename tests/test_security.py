"""Static guarantees: no code path can unpickle user data or execute text from a session."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for pkg in ("engine", "ptycho_gui") for p in (ROOT / pkg).rglob("*.py"))


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            yield name, node


def _kw(node, name):
    for kw in node.keywords:
        if kw.arg == name:
            return kw.value
    return None


def test_sources_found():
    assert any(p.name == "schema.py" for p in SOURCES)


def test_no_pickle_eval_or_exec():
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] in {"pickle", "dill", "cloudpickle", "shelve",
                                                     "marshal"} for n in names), path
        for name, node in _calls(tree):
            is_method = isinstance(node.func, ast.Attribute)
            assert name not in {"eval", "exec", "compile"} or is_method, (
                f"{path}:{node.lineno} calls {name}()")


def test_numpy_load_never_allows_pickle():
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, node in _calls(tree):
            if name == "load" and isinstance(node.func, ast.Attribute):
                owner = ast.unparse(node.func.value)
                if owner in {"np", "numpy"}:
                    value = _kw(node, "allow_pickle")
                    assert value is not None and ast.unparse(value) == "False", (
                        f"{path}:{node.lineno}: np.load without allow_pickle=False")
                if owner == "torch":
                    value = _kw(node, "weights_only")
                    assert value is not None and ast.unparse(value) == "True", (
                        f"{path}:{node.lineno}: torch.load without weights_only=True")
