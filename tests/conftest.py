"""Shared test setup: Qt runs offscreen; tests never touch the user's files."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dataset.npz`` of the tiny preset (64 patterns of 32 x 32, truth.h5 next to it), made
    once per test session."""
    import torch

    from engine.config import SessionConfig
    from engine.runs import simulate

    torch.set_num_threads(1)
    result = simulate(SessionConfig(), tmp_path_factory.mktemp("tiny-data"), preset="tiny")
    assert result.status == "completed"
    return Path(result.files["dataset"])
