"""On-disk cache of built artefacts, keyed by the source file's sha256, the config hash and a format version."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMAT_VERSION = 13


def cache_entry_dir(cache_dir: Path, file_sha256: str, config_key: str) -> Path:
    """Directory holding everything built from one file with one config."""
    return Path(cache_dir) / f"{file_sha256[:24]}-{config_key}-v{FORMAT_VERSION}"


def load(path: Path) -> Any | None:
    """Unpickle `path`, or None if it is missing or unreadable (then the caller rebuilds)."""
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        return None


def store(path: Path, obj: Any) -> None:
    """Pickle atomically (write a temp file, then rename), so a crash never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def build_lock(entry: Path) -> Iterator[None]:
    """Held while one process builds `entry`. Processes that start together on a fresh machine (the API and its
    workers, or parallel test processes) then wait for the first one's build and load it, instead of each
    building the same city (minutes of CPU apiece). An advisory lock: it is released when its holder dies."""
    entry.mkdir(parents=True, exist_ok=True)
    with (entry / ".build.lock").open("a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
