"""The router every feature declares its routes on: FastAPI's APIRouter that turns a request away at once when no
route of its own can match the request's first path segment.

FastAPI (0.13x and later) matches a request by asking every included router in turn, and each one tries every
route it has, twice for the router that matches. With twenty feature routers that was about a tenth of an API
process's CPU under the load benchmark's mix (py-spy: ``_IncludedRouter.matches``), spent mostly on routers that
could never match ("/jobs" asked of "/open311/v2/..."). A router knows the first segments of its routes' paths,
so it can answer "no" from a set lookup. The answer is exact: a route whose first segment differs from the
request's cannot match it fully or partly (405), and a router with a parameter there ("/{x}/...") always looks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path  # what Starlette's own routes match against (root_path removed)
from starlette.routing import Match
from starlette.types import Scope


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


class FeatureRouter(APIRouter):
    """An APIRouter that refuses, from a set lookup, requests whose first path segment none of its routes has."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._segments_of: tuple[int, frozenset[str] | None] = (-1, None)

    def first_segments(self) -> frozenset[str] | None:
        """The first path segments of this router's routes; None when one of them is a parameter (or empty), so
        that any request might match. Recomputed when routes are added."""
        count, segments = self._segments_of
        if count != len(self.routes):
            found: set[str] | None = set()
            for route in self.routes:
                first = _first_segment(getattr(route, "path", "") or "")
                if not first or "{" in first:
                    found = None
                    break
                found.add(first)  # type: ignore[union-attr]
            segments = frozenset(found) if found is not None else None
            self._segments_of = (len(self.routes), segments)
        return segments

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        segments = self.first_segments()
        if segments is not None and scope.get("type") in ("http", "websocket") and (
                _first_segment(get_route_path(scope)) not in segments):
            return Match.NONE, {}
        return super().matches(scope)
