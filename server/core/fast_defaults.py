"""Pydantic asks, on EVERY construction of a model without validation (SQLModel table rows, ``model_construct``),
whether each missing field's ``default_factory`` takes the validated data, by running ``inspect.signature`` on the
factory. For builtins (``dict``, ``list``) that parses a text signature with ``ast`` and copies ``sys.modules``:
measured 190 µs to build one ``Message`` row (55 µs with the answer remembered), ~6 % of the server's CPU on an
inbound tweet, plus cyclic garbage for the GC (pydantic/pydantic#13376 is the same fault for private attributes).

The answer depends only on the factory object, so it is remembered here (bounded, by identity). ``install`` is
idempotent and does nothing when pydantic's internals no longer have this function."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydantic._internal import _fields

_ORIGINAL: Callable[[Any], bool] | None = getattr(_fields, "takes_validated_data_argument", None)


@functools.lru_cache(maxsize=4096)
def _remembered(factory: Callable[..., Any]) -> bool:
    assert _ORIGINAL is not None
    return _ORIGINAL(factory)


def takes_validated_data_argument(factory: Callable[..., Any]) -> bool:
    """Pydantic's answer, computed once per factory (unhashable factories are asked every time)."""
    try:
        return _remembered(factory)
    except TypeError:  # an unhashable callable
        assert _ORIGINAL is not None
        return _ORIGINAL(factory)


def install() -> bool:
    """Put the remembering version in pydantic's place; returns whether it is in place."""
    if _ORIGINAL is None:
        return False
    _fields.takes_validated_data_argument = takes_validated_data_argument  # type: ignore[assignment]
    return True
