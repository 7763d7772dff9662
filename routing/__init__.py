"""Groundcrew routing: a pure field-service dispatch optimizer on OR-Tools.

Dataclasses in (``Problem`` of ``Technician``/``Job`` and travel matrices, integer seconds from
a day origin), a ``Plan`` out. No web, database or street-network code lives here.
"""

from .errors import RoutingInputError
from .feasibility import Violation, check_feasibility
from .live import Changes, Insertion, recommend, replan
from .model import Break, Job, Problem, Technician, TimeWindow, Weights
from .plan import (
    REASON_CAPACITY,
    REASON_SHIFT,
    REASON_SKILL,
    REASON_WINDOW,
    BreakStop,
    ObjectiveBreakdown,
    Plan,
    Route,
    SolveProgress,
    SolverStats,
    Stop,
    Unassigned,
)
from .schedule import Infeasible, evaluate, simulate, timeline
from .solve import screen, solve, warm_up

__all__ = [
    "REASON_CAPACITY",
    "REASON_SHIFT",
    "REASON_SKILL",
    "REASON_WINDOW",
    "Break",
    "BreakStop",
    "Changes",
    "Infeasible",
    "Insertion",
    "Job",
    "ObjectiveBreakdown",
    "Plan",
    "Problem",
    "Route",
    "RoutingInputError",
    "SolveProgress",
    "SolverStats",
    "Stop",
    "Technician",
    "TimeWindow",
    "Unassigned",
    "Violation",
    "Weights",
    "check_feasibility",
    "evaluate",
    "recommend",
    "replan",
    "screen",
    "simulate",
    "solve",
    "timeline",
    "warm_up",
]
