"""The one file lock: `fcntl.flock` on a lock file, shared by the run store (a run's claim) and the
token store (one builder of a store at a time)."""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path


@contextlib.contextmanager
def locked(lock: Path, *, blocking: bool = True):
    """An exclusive lock on a file: held by at most one process of any that share the folder;
    released when the block ends or the process dies. Yields whether it was taken (always, when
    `blocking`)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
