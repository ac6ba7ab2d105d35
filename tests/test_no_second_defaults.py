"""Every default lives once, in engine/config/schema.py: below the workflows, no public function
of the engine gives a parameter named like a schema field a literal default of its own."""

from __future__ import annotations

import ast
from pathlib import Path

from engine.config import field_specs

ROOT = Path(__file__).resolve().parents[1]


def _literal_defaults(tree: ast.AST):
    """``(function, parameter, value, line)`` of public functions' literal defaults."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith("_") and node.name != "__init__":
            continue
        a = node.args
        positional = a.posonlyargs + a.args
        pairs = list(zip(positional[len(positional) - len(a.defaults):], a.defaults,
                         strict=True))
        pairs += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
                  if d is not None]
        for arg, default in pairs:
            if isinstance(default, ast.Constant) and default.value is not None:
                yield node.name, arg.arg, default.value, node.lineno


def _second_defaults(source: str, path: str) -> list[str]:
    fields = {spec.name for spec in field_specs().values()}
    return [f"{path}:{line} {func}({param}={value!r}) duplicates schema field '{param}'"
            for func, param, value, line in _literal_defaults(ast.parse(source))
            if param in fields]


def test_no_public_engine_function_has_a_second_default():
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        if "config" in path.relative_to(ROOT).parts:  # the schema and its machinery
            continue
        found += _second_defaults(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


def test_the_scan_finds_a_second_default():
    source = ("def reconstruct(net, *, batch_size=256, refine_iterations=0, device='cpu'):\n"
              "    pass\n"
              "def _private(batch_size=1):\n    pass\n")
    found = _second_defaults(source, "x.py")
    assert [f.split()[1] for f in found] == ["reconstruct(batch_size=256)",
                                            "reconstruct(refine_iterations=0)"]
