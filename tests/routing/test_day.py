"""The one description of a day every engine reads (``routing._day``): each constraint lands in its named field,
indexed by the position in the job list given, and the engines agree because they read it."""

from __future__ import annotations

import numpy as np

from routing import Break, Job, Problem, Technician, TimeWindow, Weights
from routing._day import UNBOUNDED, DayArrays, day_arrays, windows
from routing._fleet import fleet_model
from tests.routing.helpers import H


def _problem() -> Problem:
    travel = np.array([[0, 600, 900, 1200], [600, 0, 300, 700], [900, 300, 0, 400], [1200, 700, 400, 0]])
    techs = [
        Technician("ann", 8 * H, 16 * H, 0, skills={"gas": 2}, max_overtime_s=H, capacity=5,
                   breaks=[Break(1800, 11 * H, 13 * H)]),
        Technician("bob", 9 * H, 17 * H, 1, end_location=2, skills={"gas": 1, "elec": 1}, busy_until_s=10 * H,
                   current_location=3),
    ]
    jobs = [
        Job("a", 1, 1800, required_skills={"gas": 2}, time_windows=[TimeWindow(9 * H, 10 * H),
                                                                     TimeWindow(14 * H, 15 * H)]),
        Job("b", 2, 900, pinned_technician="bob", sla_deadline_s=12 * H, priority=7, demand=2),
        Job("c", 3, 600, in_progress=True, pinned_technician="ann", time_windows=[TimeWindow(8 * H, 9 * H)]),
        Job("d", 3, 1200, required_skills={"elec": 1}, pinned_position=0, preferred_technicians=["bob"]),
    ]
    return Problem(techs, jobs, travel, weights=Weights(continuity=77, sla_lateness_per_s=3))


def test_each_constraint_lands_in_its_field():
    p = _problem()
    d = day_arrays(p, [0, 1, 2, 3])
    assert isinstance(d, DayArrays) and isinstance(d, tuple)  # numba's kernels take it as a tuple
    # who may do what: skills and pins, the one rule (Problem.may_serve)
    assert d.allowed.tolist() == [[True, False, True, False], [False, True, False, True]]
    assert [[p.may_serve(t, j) for j in p.jobs] for t in p.technicians] == d.allowed.tolist()
    # windows: several per job; none for work already under way, whatever it carries
    assert windows(d, 0) == [(9 * H, 10 * H), (14 * H, 15 * H)]
    assert windows(d, 1) == [] and windows(d, 2) == []
    assert d.place.tolist() == [-1, -1, 0, 0]  # in progress: first; pinned position 0
    assert d.sla.tolist() == [-1, 12 * H, -1, -1] and d.sla_w[1] == 3 * 7
    assert d.extra[0, 3] == 77 and d.extra[1, 3] == 0  # continuity: d prefers bob
    assert d.capacity.tolist() == [5, UNBOUNDED] and d.demand.tolist() == [0, 2, 0, 0]
    assert d.avail.tolist() == [8 * H, 10 * H] and d.depart.tolist() == [0, 3] and d.end_loc.tolist() == [0, 2]
    assert d.max_end.tolist() == [17 * H, 17 * H]
    assert d.nbrk.tolist() == [1, 0] and d.b_dur[0, 0] == 1800


def test_indices_follow_the_job_list_given_and_extra_costs_are_keyed_by_problem_index():
    p = _problem()
    d = day_arrays(p, [3, 1], extra_cost={(0, 1): 500, (1, 0): 9})  # job 0 is not in this day
    assert d.loc.tolist() == [3, 2]
    assert d.extra.tolist() == [[77, 500], [0, 0]]
    assert d.service.shape == (2, 2)


def test_the_identical_fleet_model_is_read_from_the_same_description():
    travel = np.array([[0, 100, 200], [100, 0, 150], [200, 150, 0]])
    techs = [Technician(f"t{i}", 0, 10_000, 0, capacity=10) for i in range(2)]
    jobs = [Job("x", 1, 60, time_windows=[TimeWindow(500, 900)], demand=3), Job("y", 2, 90, demand=4)]
    p = Problem(techs, jobs, travel)
    fm = fleet_model(p, [0, 1])
    assert fm.ready.tolist() == [0, 500, 0, 0] and fm.due.tolist() == [10_000, 900, 10_000, 10_000]
    assert fm.service.tolist() == [0, 60, 90, 0] and fm.demand.tolist() == [0, 3, 4, 0]
    # a job only one of them may do is not the identical-fleet kind any more
    p.jobs[1].pinned_technician = "t1"
    assert fleet_model(p, [0, 1]) is None


def test_skills_and_service_times_match_the_per_pair_rules_on_a_mixed_fleet():
    """``day_arrays`` works skills and skill-scaled durations out once per distinct (skills, needs) pair; the result
    is what ``Problem.may_serve`` and ``Problem.service_s`` say for every technician and job."""
    rng = np.random.default_rng(5)
    skills = ["gas", "elec", "water"]
    techs = [Technician(f"t{v}", 8 * H, 16 * H, 0, skills={s: int(rng.integers(1, 4)) for s in skills
                                                           if rng.random() < 0.7}) for v in range(12)]
    jobs = []
    for k in range(40):
        needs = {s: int(rng.integers(1, 4)) for s in skills if rng.random() < 0.4}
        jobs.append(Job(f"j{k}", 0, int(rng.choice([600, 1800, 2700])), required_skills=needs,
                        scale_duration_by_skill=bool(rng.random() < 0.5),
                        pinned_technician=f"t{int(rng.integers(0, 12))}" if rng.random() < 0.1 else None))
    p = Problem(techs, jobs, np.zeros((1, 1), dtype=np.int64))
    d = day_arrays(p, list(range(len(jobs))))
    assert d.allowed.tolist() == [[p.may_serve(t, j) for j in jobs] for t in techs]
    assert d.service.tolist() == [[p.service_s(j, t) for j in jobs] for t in techs]
    assert d.allowed.any() and not d.allowed.all()  # the fleet is really mixed
    assert len({v for row in d.service.tolist() for v in row}) > 3  # and durations really scale
