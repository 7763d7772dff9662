"""Rows and pages are built without re-inspecting default factories, with the same values as before."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic._internal import _typing_extra

from server.conversations.models import Message
from server.core import fast_defaults
from server.jobs.models import JobPublic


@pytest.fixture
def signature_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    original = _typing_extra.signature

    def counting(obj: Any, *args: Any, **kwargs: Any) -> inspect.Signature:
        calls.append(obj)
        return original(obj, *args, **kwargs)

    monkeypatch.setattr(_typing_extra, "signature", counting)  # what pydantic asks about a default factory
    return calls


def _message() -> Message:
    return Message(conversation_id=1, customer_id=1, channel="twitter", direction="inbound",
                   author_kind="customer", text="streetlight out")


def test_a_row_built_again_does_not_inspect_its_default_factories(signature_calls: list[Any]) -> None:
    assert fast_defaults.install()
    _message(), JobPublic.model_construct(id=1, title="x")  # the first ones may ask, once per factory
    asked = len(signature_calls)
    rows = [_message() for _ in range(20)]
    pages = [JobPublic.model_construct(id=i, title="x") for i in range(20)]
    assert len(signature_calls) == asked  # without the shim: 4 per Message and 2 per JobPublic, every time
    assert pages[0].required_skills == {} and pages[0].required_skills is not pages[1].required_skills
    assert [r.meta for r in rows[:2]] == [{}, {}] and rows[0].meta is not rows[1].meta  # a fresh dict each
    assert rows[0].media == [] and rows[0].sent_at is not None


def test_a_factory_that_takes_the_validated_data_still_gets_it() -> None:
    fast_defaults.install()

    class Label(BaseModel):
        name: str
        slug: str = Field(default_factory=lambda data: data["name"].lower())

    assert Label.model_construct(name="Pothole").slug == "pothole"
    assert Label(name="Pothole").slug == "pothole"
    assert Label.model_construct(name="Water").slug == "water"  # remembered answer, fresh value
