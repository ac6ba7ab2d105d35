"""The project's own lint and type rules hold (ruff and mypy settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_ruff_is_clean_on_the_engine_and_its_tests():
    pytest.importorskip("ruff", reason="ruff comes with the 'test' extra")
    # tests/gui follows the GUI's own clean-up (issue 11).
    out = _run("ruff", "check", "engine", "tests", "--extend-exclude", "tests/gui",
               "--output-format", "concise")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_finds_no_error_in_the_engine():
    pytest.importorskip("mypy", reason="mypy comes with the 'test' extra")
    out = _run("mypy", "-p", "engine")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr
