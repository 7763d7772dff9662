"""``groundcrew import 311``'s summary says in words what became of every imported row (a job, waiting for a
location, a case for an agent, ...) and why each refused row was refused: no row is left unexplained."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli import UserError, app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in os.environ if k.startswith("GROUNDCREW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GROUNDCREW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GROUNDCREW_DATABASE_URL", f"sqlite:///{tmp_path / 'import.db'}")
    monkeypatch.setenv("GROUNDCREW_LOAD_CITY", "false")
    return tmp_path


def test_every_imported_and_refused_row_is_explained(env):
    path = env / "complaints.csv"
    rows = [
        ["id", "text", "created_at", "lat", "lon", "address", "service_code"],
        ["c1", "Streetlight out", "2026-11-20T10:00:00", "39.2850", "-76.5700", "", "101"],
        ["c2", "Pothole, huge one", "2026-11-20T10:05:00", "", "", "", "102"],
        ["c3", "Streetlight is out", "2026-11-20T10:10:00", "39.2851", "-76.5701", "", "101"],
        ["", "no id here", "", "", "", "", ""],
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    result = CliRunner().invoke(app, ["import", "311", str(path), "--format", "generic", "--no-city"])
    if result.exception is not None and not isinstance(result.exception, (UserError, SystemExit)):
        raise result.exception
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert (data["imported"], data["rejected"]) == (3, 1)
    assert sum(data["outcomes"].values()) == data["imported"]  # every imported row has its kind
    assert data["outcomes"]["became a field job, ready to plan"] == 1
    assert data["outcomes"]["field work, but no place found on the map with confidence: the case waits for a "
                            "location"] == 1
    out = result.output
    assert "imported 1 x became a field job, ready to plan" in out
    assert "imported 1 x joined an open job of the same incident" in out
    assert "rejected 1 x id: required (not stored: fix these rows and import again" in out
