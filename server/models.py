"""Every table, imported in one place so SQLModel's metadata (and Alembic) sees them all.

Each feature folder's ``models.py`` is discovered, so adding a feature never edits this file."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

_SERVER = Path(__file__).resolve().parent


def feature_modules(name: str) -> list[str]:
    """``server.<feature>.<name>`` for every feature folder that has that module, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(_SERVER)]), key=lambda i: i.name):
        if info.ispkg and (_SERVER / info.name / f"{name}.py").exists():
            found.append(f"server.{info.name}.{name}")
    return found


for _module in feature_modules("models"):
    importlib.import_module(_module)
