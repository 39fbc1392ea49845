"""Errors the user can fix: bad settings, missing or broken data, unreadable run files.

Each is a :class:`UserError` and also the standard exception a caller would expect (a bad setting
is a ``ValueError``, a torn file a ``ValueError``, a diverged run a ``RuntimeError``), so code that
catches the standard type keeps working. ``python -m aicsd`` prints a ``UserError`` (and an
``OSError``: missing files, permissions, a full disk) as one line on stderr and exits with status
2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ConfigError", "CorruptFileError", "DataError", "TrainingDiverged", "UserError"]


class UserError(Exception):
    """A problem in the user's input or files; the message says what to change."""


class ConfigError(UserError, ValueError):
    """A setting out of range, an unknown name, or settings that do not fit together or with the data."""


class DataError(UserError, ValueError):
    """A dataset on disk that cannot be used: an empty split, an unreadable image, bad label values."""


class CorruptFileError(UserError, ValueError):
    """A file that exists but cannot be parsed; ``path`` names it."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(message)
        self.path = Path(path)

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # picklable across processes
        return type(self), (self.path, str(self))


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite; the message names the step, the terms and the last good checkpoint."""
