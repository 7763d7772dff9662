"""Small hand-made problems with known answers: places on a line, 10 minutes per unit."""

from __future__ import annotations

import numpy as np

from routing import Plan, Problem, check_feasibility, solve

H = 3600
UNIT = 600  # seconds between neighbouring places


def line_matrix(n: int, unit: int = UNIT) -> np.ndarray:
    idx = np.arange(n)
    return np.abs(idx[:, None] - idx[None, :]) * unit


def solved(problem: Problem, seconds: float = 1.0) -> Plan:
    plan = solve(problem, time_limit_s=seconds, seed=0, workers=1)
    assert check_feasibility(problem, plan) == []
    return plan


def where(plan: Plan, job_id: str) -> tuple[str, int] | None:
    for r in plan.routes:
        if job_id in r.job_ids:
            return r.technician_id, r.job_ids.index(job_id)
    return None
