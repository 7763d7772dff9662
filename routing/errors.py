"""Domain errors of the routing package."""

from __future__ import annotations


class RoutingInputError(ValueError):
    """The problem given to the optimizer is malformed.

    The message always names the item and the field so that a dispatcher (or the API layer,
    which maps it to a 422 with ``{"detail": ...}``) can act on it without reading a traceback.
    """
