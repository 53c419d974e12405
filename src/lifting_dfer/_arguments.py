"""Command-line values shared by the commands of every layer (training, evaluation, ``check-data``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["parse_key_values"]


def parse_key_values(items: Sequence[str] | None, option: str) -> dict[str, Any]:
    """``["dim=64", "use_issm=false", "name=x"]`` -> ``{"dim": 64, "use_issm": False, "name": "x"}`` (JSON values).

    Examples:
        >>> parse_key_values(["dim=64", "order=predict_first", "mutual=false"], "--model-arg")
        {'dim': 64, 'order': 'predict_first', 'mutual': False}
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option}: expected KEY=VALUE, got {item!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[key.strip()] = value
    return out
