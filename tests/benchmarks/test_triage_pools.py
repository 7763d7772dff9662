"""A blind author's pool that is malformed is refused with the file and the fault named (nothing is trained on it)."""

from __future__ import annotations

import json

import pytest

from benchmarks.triage_dataset import BLIND_AUTHORS, read_pool


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    (json.dumps({"phrases": []}), "needs"),
    (json.dumps({"phrases": {"unicorns": ["a unicorn in the alley"]}, "wrappers": ["{p}"]}),
     "unknown categories unicorns"),
    (json.dumps({"phrases": {"pothole": ["a hole"]}, "wrappers": ["no phrase here"]}), "exactly one of"),
    (json.dumps({"phrases": {"pothole": ["a hole"]}, "wrappers": ["{p} and {P}"]}), "exactly one of"),
])
def test_malformed_pool_is_refused(tmp_path, content, message):
    path = tmp_path / "triage_author9.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as raised:
        read_pool(path)
    assert str(path) in str(raised.value)


def test_shipped_pools_are_well_formed():
    assert len(BLIND_AUTHORS) == 3
    for path in BLIND_AUTHORS:
        data = read_pool(path)
        assert all(len(phrases) == 30 for phrases in data["phrases"].values())
