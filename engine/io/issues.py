"""Collecting what is wrong with a data file, so every problem is reported at once.

Readers record problems here instead of raising at the first one: :func:`engine.io.load_dataset`
then raises one :class:`~engine.errors.DataError` listing them all, while
:func:`engine.io.inspect` shows them in its report. Each problem names the key, what was
expected and what was found; the error message adds the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError


class UnreadableFileError(DataError):
    """The file cannot be opened at all (missing, empty, truncated, not the claimed format)."""


def check_file(path: Path, what: str) -> tuple[int, bytes]:
    """``(size, first 8 bytes)`` of a non-empty file, or raise saying why it cannot be read."""
    if not path.exists():
        raise UnreadableFileError(f"{path}: file not found")
    if path.is_dir():
        raise UnreadableFileError(f"{path}: expected {what}, found a folder")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFileError(f"{path}: expected {what}, found an empty (zero-byte) file")
    with open(path, "rb") as fh:
        return size, fh.read(8)


def describe_head(head: bytes) -> str:
    """What a file looks like from its first bytes (for "expected X, found Y" messages)."""
    if head.startswith(b"PK"):
        return "a zip archive (an NPZ file?)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file"
    return f"a file starting with {head!r}"


@dataclass
class Issues:
    """Problems and warnings found while reading one data source.

    Attributes
    ----------
    source
        The file or folder being read (named in every message).
    problems
        Fatal inconsistencies: ``"key: expected ..., found ..."``.
    warnings
        Things done on the user's behalf that they should know about (a transposed layout,
        a guessed measurement domain, dropped unpaired patterns).
    corrections
        Layout mistakes of the file corrected while reading (patterns not fft-shifted,
        detector flag values and gaps masked); ``PtychoData.warnings`` lists them too.
    """

    source: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)

    def problem(self, key: str, expected: str, found: str, where: str | None = None) -> None:
        """Record ``key: expected X, found Y`` (``where`` names another file than the source)."""
        prefix = f"{where}: " if where else ""
        self.problems.append(f"{prefix}{key}: expected {expected}, found {found}")

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def correct(self, message: str) -> None:
        """Record a layout mistake of the file that was corrected on the user's behalf
        (unshifted patterns, flagged pixels masked...): shown as a warning too."""
        if message not in self.corrections:
            self.corrections.append(message)

    def fail(self, key: str, expected: str, found: str) -> DataError:
        """A :class:`DataError` for a problem that stops reading at once (raise it)."""
        return DataError(f"{self.source}: {key}: expected {expected}, found {found}")

    def raise_if_any(self) -> None:
        """Raise one :class:`DataError` naming the source and listing every problem."""
        if not self.problems:
            return
        n = len(self.problems)
        lines = [f"{self.source}: {n} problem{'s' if n != 1 else ''} in the data:"]
        lines += [f"  - {p}" for p in self.problems]
        raise DataError("\n".join(lines))
