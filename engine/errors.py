"""Error types of the engine.

Every error a user can cause (bad configuration, bad file, mismatched checkpoint) is an
:class:`EngineError`. Entry points (CLI, GUI) catch exactly this type and show its message;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every user-facing error raised by the engine."""


class ConfigError(EngineError):
    """One or more configuration problems, all reported at once.

    Parameters
    ----------
    issues
        The problems, each a :class:`engine.config.validation.ConfigIssue` or plain string.
    source
        Where the configuration came from (a session file path), if known.
    """

    def __init__(self, issues: list, source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        head = f"invalid configuration in {source}" if source else "invalid configuration"
        lines = [f"{head} ({len(self.issues)} problem{'s' if len(self.issues) != 1 else ''}):"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


class DataError(EngineError):
    """A data file is missing, unreadable or inconsistent.

    The message names the file, the key and what was expected versus found.
    """


class CheckpointError(EngineError):
    """A checkpoint cannot be loaded or does not match the data or settings."""


class RunError(EngineError):
    """A run cannot start or failed for a reason the user can act on (disk, memory, output)."""


class DiskFullError(RunError):
    """The disk (or the user's quota) filled up while writing; the file being written was
    left at its previous complete version (writes are atomic).

    Attributes
    ----------
    path
        The file that could not be written (``None`` when unknown).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
