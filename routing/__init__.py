"""Groundcrew routing: a pure field-service dispatch optimizer on OR-Tools.

Dataclasses in (``Problem`` of ``Technician``/``Job`` and travel matrices, integer seconds from
a day origin), a ``Plan`` out. No web, database or street-network code lives here.
"""

from .errors import RoutingInputError
from .feasibility import Violation, check_feasibility
from .live import Changes, Insertion, recommend, replan
from .model import Break, Job, Problem, Technician, TimeWindow, Weights
from .plan import BreakStop, ObjectiveBreakdown, Plan, Route, SolveProgress, SolverStats, Stop, Unassigned
from .solve import solve, warm_up

__all__ = [
    "Break",
    "BreakStop",
    "Changes",
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
    "recommend",
    "replan",
    "solve",
    "warm_up",
]
