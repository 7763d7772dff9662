"""Field fixtures: the dispatch tests' settings (the real demo city, planning on request only) — a job's steps in the
field need a plan to start from."""

from __future__ import annotations

from tests.server.dispatch.conftest import settings

__all__ = ["settings"]
