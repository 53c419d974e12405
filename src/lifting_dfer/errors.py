"""The errors that ``lifting-dfer`` commands raise for a user's mistake.

A command reports such an error in one line, ``lifting-dfer <command>: error: ...``, and exits with status 2.
The module imports nothing of the package, so the model loaders, ``export`` and ``video`` can raise it without
reaching up into the command line.
"""

from __future__ import annotations

__all__ = ["CommandError"]


class CommandError(ValueError):
    """A user error that the command reports in one line (exit status 2)."""
