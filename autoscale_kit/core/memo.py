"""A disk memo for the expensive, deterministic part of the analysis: the bootstrap refits behind
every interval (200 DDO refits per budget take minutes; reading them back takes milliseconds).

Design choices:
- A result is keyed by a hash of everything it depends on: its inputs (measured losses and tokens
  bit for bit, options, seeds) and the source of the modules that compute it (`ANALYSIS_MODULES`,
  closed under their imports: a test checks), so an edit to the fitting code misses the memo
  instead of reading a stale answer.
- Entries are small `.npz` files, written atomically to the user's cache
  (`$AUTOSCALE_CACHE/analysis`, default `~/.cache/autoscale_kit/analysis`); lookups also read the
  shipped studies' `data/studies/*/analysis/` (read-only), which is what makes a notebook open
  on the shipped results in seconds.
- `AUTOSCALE_CACHE=off` turns the memo off (every result recomputed, nothing written).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Mapping

import numpy as np

CACHE_ENV = "AUTOSCALE_CACHE"
PACKAGE = Path(__file__).resolve().parents[1]      # the autoscale_kit folder
SHIPPED_STUDIES = PACKAGE.parent / "data" / "studies"
STUDIES_ENV = "AUTOSCALE_STUDIES"     # another folder of shipped studies (tests, a lab's own)


def shipped_studies() -> Path:
    env = os.environ.get(STUDIES_ENV)
    return Path(env) if env else SHIPPED_STUDIES
# what a memoised bootstrap (uncertainty.ddo_uncertainty) runs, with everything it imports
ANALYSIS_MODULES = ("core.bootstrap", "core.errors", "core.fmt", "core.mixture", "core.objective", "core.tables",
                    "fit.ddo", "fit.forms", "fit.forms.base", "fit.forms.separable", "fit.forms.transfer", "fit.laws",
                    "fit.plan", "fit.predict", "fit.uncertainty")


def cache_root() -> Path | None:
    """The user's cache folder (None: the memo is off)."""
    env = os.environ.get(CACHE_ENV)
    if env is not None and env.strip().lower() in ("off", "0", "no", "none", ""):
        return None
    return Path(env) if env else Path.home() / ".cache" / "autoscale_kit"


def module_path(name: str) -> Path:
    """The source file of `autoscale_kit.<name>` (a dotted name inside the package; a package's is its
    `__init__.py`)."""
    folder = PACKAGE.joinpath(*name.split("."))
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the source of the modules a memoised result is computed by."""
    h = hashlib.sha256()
    for name in ANALYSIS_MODULES:
        h.update(name.encode())
        h.update(module_path(name).read_bytes())
    return h.hexdigest()


def _feed(h, obj) -> None:
    """Hash `obj` by value: arrays bit for bit, mappings by sorted key, dataclasses by field."""
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"nd{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=str):
            _feed(h, str(k))
            _feed(h, obj[k])
        h.update(b"}")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(type(obj).__name__.encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for x in obj:
            _feed(h, x)
        h.update(b"]")
    elif isinstance(obj, (np.floating, float)):
        h.update(np.float64(obj).tobytes())
    elif isinstance(obj, (bool, int, str, type(None), np.integer)):
        h.update(json.dumps(obj if not isinstance(obj, np.integer) else int(obj)).encode())
    else:
        h.update(repr(obj).encode())


def key(kind: str, inputs) -> str:
    h = hashlib.sha256()
    _feed(h, [kind, code_fingerprint(), inputs])
    return f"{kind}-{h.hexdigest()[:32]}"


def _folders() -> list[Path]:
    root = cache_root()
    if root is None:
        return []
    studies = shipped_studies()
    shipped = sorted(studies.glob("*/analysis")) if studies.is_dir() else []
    return [root / "analysis", *shipped]


def load(name: str) -> dict[str, np.ndarray] | None:
    """The memo entry `name` (from `key`), or None."""
    for folder in _folders():
        path = folder / f"{name}.npz"
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as f:
                    return {k: f[k] for k in f.files}
            except (OSError, ValueError):   # a damaged entry is recomputed
                continue
    return None


def save(name: str, arrays: Mapping[str, np.ndarray], folder: Path | None = None) -> Path | None:
    """Write an entry to the user's cache (or `folder`); a cache that cannot be written is skipped."""
    root = cache_root()
    if folder is None and root is None:
        return None
    folder = Path(folder) if folder is not None else root / "analysis"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}-{uuid.uuid4().hex[:8]}.npz"
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, folder / f"{name}.npz")
        return folder / f"{name}.npz"
    except OSError:
        return None


def cached(kind: str, inputs, compute) -> dict[str, np.ndarray]:
    """`compute()` (a dict of arrays), read from the memo when the same inputs were computed before."""
    name = key(kind, inputs)
    hit = load(name)
    if hit is not None:
        return hit
    out = {k: np.asarray(v) for k, v in compute().items()}
    save(name, out)
    return out
