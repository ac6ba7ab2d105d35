"""Collecting what is wrong with a data file, so every problem is reported at once.

Readers record problems here instead of raising at the first one: :func:`engine.io.load_dataset`
then raises one :class:`~engine.errors.DataError` listing them all, while
:func:`engine.io.inspect` shows them in its report. Each problem names the key, what was
expected and what was found; the error message adds the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DataError


class UnreadableFileError(DataError):
    """The file cannot be opened at all (missing, empty, truncated, not the claimed format)."""


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
    """

    source: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, key: str, expected: str, found: str, where: str | None = None) -> None:
        """Record ``key: expected X, found Y`` (``where`` names another file than the source)."""
        prefix = f"{where}: " if where else ""
        self.problems.append(f"{prefix}{key}: expected {expected}, found {found}")

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

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
