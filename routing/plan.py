"""The result of a solve: per-technician timed routes, unassigned jobs with reasons, costs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Stop:
    """One job on a route. ``arrival_s`` includes any break taken on the way; ``wait_s`` is idle
    time before the window opens; ``travel_s`` is the drive from the previous place."""

    job_id: str
    arrival_s: int
    start_s: int
    end_s: int
    wait_s: int
    travel_s: int
    distance_m: int = 0
    late_s: int = 0


@dataclass(slots=True)
class BreakStop:
    start_s: int
    end_s: int


@dataclass(slots=True)
class Route:
    """A technician's day: depart at ``start_s``, visit ``stops`` in order, arrive back at ``end_s``."""

    technician_id: str
    start_s: int
    end_s: int
    stops: list[Stop] = field(default_factory=list)
    breaks: list[BreakStop] = field(default_factory=list)
    travel_s: int = 0
    distance_m: int = 0
    overtime_s: int = 0

    @property
    def job_ids(self) -> list[str]:
        return [s.job_id for s in self.stops]


#: Reasons a job is left unassigned, most specific first.
REASON_SKILL = "no technician with the required skill"
REASON_SHIFT = "outside every shift"
REASON_WINDOW = "time window unreachable"
REASON_CAPACITY = "no capacity left today"


@dataclass(slots=True)
class Unassigned:
    job_id: str
    reason: str


@dataclass(slots=True)
class ObjectiveBreakdown:
    """Each objective term in its own unit, plus the weighted total the solver minimised."""

    jobs_served: int = 0
    jobs_unassigned: int = 0
    unassigned_by_priority: dict[str, int] = field(default_factory=dict)
    technicians_used: int = 0
    travel_s: int = 0
    distance_m: int = 0
    sla_late_jobs: int = 0
    sla_lateness_s: int = 0
    overtime_s: int = 0
    continuity_misses: int = 0
    max_route_span_s: int = 0
    min_route_span_s: int = 0
    cost: int = 0


@dataclass(slots=True)
class SolverStats:
    engine: str = ""
    seed: int = 0
    time_limit_s: float = 0.0
    wall_time_s: float = 0.0
    workers: int = 1
    phases: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""


@dataclass(slots=True)
class SolveProgress:
    """A better plan than any reported before in a running solve (``solve(on_progress=...)``)."""

    elapsed_s: float  # since the solve started
    plan: Plan  # complete, evaluated (objective filled); its stats are empty


@dataclass(slots=True)
class Plan:
    routes: list[Route]
    unassigned: list[Unassigned] = field(default_factory=list)
    objective: ObjectiveBreakdown = field(default_factory=ObjectiveBreakdown)
    stats: SolverStats = field(default_factory=SolverStats)

    def route_of(self, tech_id: str) -> Route | None:
        for r in self.routes:
            if r.technician_id == tech_id:
                return r
        return None

    def assignment(self) -> dict[str, list[str]]:
        """technician id → ordered job ids: the compact form used for warm starts."""
        return {r.technician_id: r.job_ids for r in self.routes}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        routes = [
            Route(
                **{
                    **r,
                    "stops": [Stop(**s) for s in r.get("stops", [])],
                    "breaks": [BreakStop(**b) for b in r.get("breaks", [])],
                }
            )
            for r in d["routes"]
        ]
        return cls(
            routes=routes,
            unassigned=[Unassigned(**u) for u in d.get("unassigned", [])],
            objective=ObjectiveBreakdown(**d.get("objective", {})),
            stats=SolverStats(**d.get("stats", {})),
        )
