"""``groundcrew bench dispatch --via-server``: the same day through the planning service and directly, per step."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmarks.dispatch_server import early_morning_timezone, gap_pct, score, verdict
from routing import Job, Plan, Problem, Route, Stop, Technician
from tests.conftest import SHARED_DATA

CITY_CACHE = "/tmp/groundcrew-geodata-cache"  # the demo city built once for every test (tests/server/dispatch)
OSM = SHARED_DATA / "osm" / "baltimore_central_drive.osm.bz2"
COMPLAINTS = SHARED_DATA / "complaints" / "baltimore_311" / "baltimore_311_sample.csv"


@pytest.mark.parametrize("hour", [0, 5, 10, 17, 23])
def test_the_run_starts_early_in_the_morning_whatever_the_hour(hour):
    now = datetime(2026, 12, 5, hour, 37, tzinfo=UTC)
    assert now.astimezone(ZoneInfo(early_morning_timezone(5, now))).hour == 5


def test_score_retimes_the_routes_and_counts_the_jobs_moved_off_their_technician():
    tt = np.full((4, 4), 600, dtype=np.int64)
    np.fill_diagonal(tt, 0)
    problem = Problem([Technician("a", 0, 8 * 3600, 0), Technician("b", 0, 8 * 3600, 0)],
                      [Job("x", 1, 600), Job("y", 2, 600), Job("z", 3, 600)], tt)
    previous = Plan(routes=[Route("a", 0, 0, stops=[Stop("x", 0, 0, 0, 0, 0), Stop("y", 0, 0, 0, 0, 0)])])
    # Stored stop times are ignored (here all zero): the routes are timed again on the problem.
    plan = Plan(routes=[Route("a", 0, 0, stops=[Stop("x", 0, 0, 0, 0, 0)]),
                        Route("b", 0, 0, stops=[Stop("y", 0, 0, 0, 0, 0)])])
    s = score(problem, plan, previous)
    assert s["travel_s"] == 4 * 600
    assert s["moved"] == 1 and s["unassigned"] == 1
    assert s["cost"] == s["route_cost"] + problem.weights.disruption
    assert s["infeasible"] == 0
    assert score(problem, plan, None)["moved"] == 0
    assert gap_pct({"cost": 1010, "unassigned": 0}, {"cost": 1000, "unassigned": 0}) == 1.0
    assert gap_pct({"cost": 900, "unassigned": 1}, {"cost": 1000, "unassigned": 0}) is None
    # Fewer jobs left out wins whatever the cost; then the cost.
    assert verdict({"cost": 900, "unassigned": 1}, {"cost": 1000, "unassigned": 0}) == "worse"
    assert verdict({"cost": 2000, "unassigned": 0}, {"cost": 1000, "unassigned": 1}) == "better"
    assert verdict({"cost": 1000, "unassigned": 0}, {"cost": 1000, "unassigned": 0}) == "equal"


def test_via_server_prints_each_step_of_both_days_beside_the_direct_solve(tmp_path, monkeypatch):
    """Two technicians, one second per solve: the demo day and the dispatch-day benchmark's day, four steps each."""
    from server.cli import app

    monkeypatch.setenv("GROUNDCREW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GROUNDCREW_CACHE_DIR", CITY_CACHE)
    args = ["bench", "dispatch", "--via-server", "--technicians", "2", "--time-limit", "1",
            "--replan-time-limit", "1", "--seed", "3", "--repeat-direct"]
    if OSM.exists() and COMPLAINTS.exists():
        args += ["--osm", str(OSM), "--complaints", str(COMPLAINTS)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    out = json.loads(result.output.strip().splitlines()[-1])

    assert out["benchmark"] == "dispatch_via_server" and out["target_gap_pct"] == 1.0
    names = [d["day"] for d in out["days"]]
    assert names == (["demo", "dispatch-day"] if "--osm" in args else ["demo"])
    for day in out["days"]:
        assert day["technicians"] == 2 and day["jobs"] == 16 and day["jobs_added"] == 2
        steps = day["steps"]
        assert [s["step"] for s in steps] == ["morning plan", "+2 jobs", "technician 90 min late",
                                             "technician off sick"]
        assert [s["time_limit_s"] for s in steps] == [1.0, 1.0, 1.0, 1.0]
        assert steps[0]["jobs"] + 2 == steps[1]["jobs"]  # the added jobs are in the re-plan's problem
        assert [s["technicians"] for s in steps] == [2, 2, 2, 1]  # off sick: out of the problem
        for s in steps:
            for side in ("server", "direct"):
                assert s[side]["infeasible"] == 0, (day["day"], s["step"], side)
                assert s[side]["cost"] == s[side]["route_cost"] + 600 * s[side]["moved"]
            assert s["gap_pct"] == gap_pct(s["server"], s["direct"])
            assert s["verdict"] == verdict(s["server"], s["direct"])
            assert s["direct_again"]["infeasible"] == 0
            assert s["direct_again_gap_pct"] == gap_pct(s["direct_again"], s["direct"])
            assert s["profile"]["snapshot_s"] >= 0 and s["profile"]["request_to_done_s"] > 0
        assert steps[0]["server"]["moved"] == steps[0]["direct"]["moved"] == 0  # nothing to move in the morning
        assert out["gaps_pct"][day["day"]] == {s["step"]: s["gap_pct"] for s in steps}
    assert sum(out["verdicts"].values()) == 4 * len(out["days"])
    assert isinstance(out["within_target"], bool)
    assert "morning plan" in result.output  # the table before the JSON line
