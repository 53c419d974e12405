"""Import optional dependencies lazily, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["optional_import"]


def optional_import(module: str, *, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` telling which ``lifting_dfer`` extra provides it.

    Args:
        module: module to import, e.g. ``"av"``.
        extra: the extra of ``lifting_dfer`` that installs it (``"video"`` or ``"viz"``).
        package: the pip package name when it differs from ``module`` (``"opencv-python-headless"`` for ``cv2``).

    Examples:
        >>> optional_import("json", extra="viz").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} ({package or module}) is needed here: pip install 'lifting_dfer[{extra}]'"
        ) from err
