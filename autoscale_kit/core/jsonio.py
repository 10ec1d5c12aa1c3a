"""Results as strict JSON: numpy scalars as plain numbers, non-finite floats as null, so any reader
(a browser, `jq`, another language) takes what the CLI, the report and the shipped data write."""

from __future__ import annotations

import json
import math


def json_safe(obj):
    """`obj` with dict keys as strings, numpy scalars as Python numbers and non-finite floats as None."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj, indent: int | None = 1) -> str:
    """`json_safe(obj)` as JSON text with a final newline."""
    return json.dumps(json_safe(obj), indent=indent) + "\n"
