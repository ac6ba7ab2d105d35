"""The Help menu's texts: where the user guide is, the keyboard shortcuts, and About
(versions of the app, torch, Lightning, Qt and the device). Nothing here imports torch
until About is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "user-guide.md"
"""The user guide in a source checkout (docs/user-guide.md)."""


def user_guide() -> tuple[str, Path | None]:
    """The guide's Markdown and its folder (for its images), or a note where to find it."""
    if GUIDE.is_file():
        return GUIDE.read_text(encoding="utf-8"), GUIDE.parent
    return ("# User guide\n\nThe user guide is `docs/user-guide.md` in the source "
            "distribution of ptycho-pinn-app; it was not installed with this copy."), None


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """``(action, keys)`` for every action with a shortcut, as the menus name them."""
    rows = []
    for action in actions:
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                         for k in action.shortcuts() if not k.isEmpty())
        if keys:
            rows.append((action.text().replace("&", "").rstrip("…").strip(), keys))
    return rows


def shortcuts_markdown(actions: Iterable[QAction]) -> str:
    rows = "\n".join(f"| {name} | {keys} |" for name, keys in shortcut_rows(actions))
    return f"# Keyboard shortcuts\n\n| Action | Keys |\n|---|---|\n{rows}\n"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def device_text(last_run_device: str = "") -> str:
    """The device runs use by default (imports torch: call it when asked)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        text = f"CUDA: {names}"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        text = "Apple MPS"
    else:
        text = f"CPU ({torch.get_num_threads()} threads)"
    return text + (f"; last run: {last_run_device}" if last_run_device else "")


def about_markdown(last_run_device: str = "") -> str:
    import PySide6
    from PySide6.QtCore import qVersion

    import engine

    rows = [("Ptycho PINN (engine and app)", engine.__version__),
            ("PyTorch", _version("torch")), ("Lightning", _version("lightning")),
            ("Qt", qVersion()), ("PySide6", PySide6.__version__),
            ("pyqtgraph", _version("pyqtgraph")), ("Device", device_text(last_run_device))]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return ("# Ptycho PINN\n\nPtychographic reconstruction with physics-informed neural "
            f"networks.\n\n| | Version |\n|---|---|\n{table}\n")
