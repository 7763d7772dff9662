"""Input validation and serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from routing import Break, Job, Plan, Problem, RoutingInputError, Technician, TimeWindow, Weights

from .helpers import H, line_matrix, solved


def _p(**over):
    kw = dict(
        technicians=[Technician("T1", 8 * H, 17 * H, 0, skills={"gas": 2})],
        jobs=[Job("J17", 1, 600)],
        travel_time_s=line_matrix(3),
    )
    kw.update(over)
    return Problem(**kw)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"jobs": [Job("J17", 1, -5)]}, "job 'J17': negative duration_s (-5)"),
        (
            {"jobs": [Job("J17", 1, 60, time_windows=[TimeWindow(0, 1), TimeWindow(39600, 36000)])]},
            "job 'J17': time window 2 ends (36000) before it starts (39600)",
        ),
        ({"jobs": [Job("J17", 1, 60, required_skills={"plumbing": 1})]}, "job 'J17': unknown skill 'plumbing'"),
        ({"travel_time_s": np.zeros((3, 2))}, "travel_time_s: matrix must be square"),
        ({"jobs": [Job("J17", 7, 60)]}, "job 'J17': location 7 is not a matrix index"),
        ({"technicians": []}, "problem: no technicians"),
        ({"jobs": [Job("J17", 1, 60, priority=11)]}, "job 'J17': priority 11 is outside 1..10"),
        ({"technicians": [Technician("T1", 9 * H, 8 * H, 0)]}, "technician 'T1': shift ends"),
        ({"technicians": [Technician("T1", 8 * H, 17 * H, 0, breaks=[Break(3600, 12 * H, 12 * H + 60)])]},
         "technician 'T1': break 1 (3600s) does not fit"),
        ({"jobs": [Job("J17", 1, 60, pinned_technician="T9")]}, "job 'J17': pinned technician 'T9' does not exist"),
        ({"weights": Weights(disruption=-600)}, "weights: disruption is negative (-600)"),
        ({"distance_m": -line_matrix(3)}, "distance_m[0][1]: negative distance (-600)"),
    ],
)
def test_bad_input_names_the_item(over, message):
    with pytest.raises(RoutingInputError) as e:
        _p(**over)
    assert message in str(e.value)
    assert isinstance(e.value, ValueError)


def test_problem_and_plan_round_trip_through_json():
    p = _p(jobs=[Job("J17", 1, 600, time_windows=[TimeWindow(9 * H, 10 * H)], required_skills={"gas": 1})])
    q = Problem.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q.to_dict() == p.to_dict()
    plan = solved(p, 0.5)
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
