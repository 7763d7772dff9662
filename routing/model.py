"""The dispatch problem: technicians, jobs and travel matrices as plain dataclasses.

Times are integer seconds from a day origin chosen by the caller (the server converts aware
datetimes at its edge). Locations are indices into the travel matrices, so the package never
needs to know about streets. Every class round-trips through ``to_dict()``/``from_dict()`` because
the server stores problems and plans and solves them on worker processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .errors import RoutingInputError

#: Default service-time multiplier per skill level (1 = novice ... 5 = expert), used by jobs with
#: ``scale_duration_by_skill``: an expert finishes faster than a novice.
DEFAULT_SKILL_DURATION_FACTORS: dict[int, float] = {1: 1.3, 2: 1.15, 3: 1.0, 4: 0.9, 5: 0.8}


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Allowed interval for the *start* of service, inclusive, in seconds."""

    start_s: int
    end_s: int


@dataclass(frozen=True, slots=True)
class Break:
    """A break of ``duration_s`` that must lie entirely within [earliest_start_s, latest_end_s]."""

    duration_s: int
    earliest_start_s: int
    latest_end_s: int

    @property
    def latest_start_s(self) -> int:
        return self.latest_end_s - self.duration_s


@dataclass(slots=True)
class Technician:
    """A technician (vehicle). ``end_location`` None means: back to ``start_location``.

    ``current_location``/``busy_until_s`` are for live re-planning: the technician becomes
    available there, then. ``max_overtime_s`` extends the shift at ``Weights.overtime_per_s``.
    """

    id: str
    shift_start_s: int
    shift_end_s: int
    start_location: int
    end_location: int | None = None
    skills: dict[str, int] = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)
    max_overtime_s: int = 0
    overtime_cost_factor: float = 1.0
    current_location: int | None = None
    busy_until_s: int | None = None
    capacity: int | None = None

    @property
    def end_loc(self) -> int:
        return self.start_location if self.end_location is None else self.end_location

    @property
    def available_from_s(self) -> int:
        return max(self.shift_start_s, self.busy_until_s or self.shift_start_s)

    @property
    def depart_loc(self) -> int:
        return self.start_location if self.current_location is None else self.current_location

    def level(self, skill: str) -> int:
        return self.skills.get(skill, 0)


@dataclass(slots=True)
class Job:
    """A visit to make. Time windows constrain the start of service (empty = whole shift).

    ``sla_deadline_s`` is a soft deadline for the start of service (a response SLA); lateness
    costs ``Weights.sla_lateness_per_s * priority`` per second. ``must_serve`` jobs outrank
    every priority: they are dropped only when no technician can do them at all.
    """

    id: str
    location: int
    duration_s: int
    time_windows: list[TimeWindow] = field(default_factory=list)
    required_skills: dict[str, int] = field(default_factory=dict)
    priority: int = 5
    sla_deadline_s: int | None = None
    preferred_technicians: list[str] = field(default_factory=list)
    pinned_technician: str | None = None
    pinned_position: int | None = None
    in_progress: bool = False
    must_serve: bool = False
    scale_duration_by_skill: bool = False
    demand: int = 0


@dataclass(slots=True)
class Weights:
    """Objective weights, in cost units per second (or metre, or occurrence).

    Dropping jobs is lexicographically first (computed penalties, never tuned); the rest is a
    weighted sum a deployment can tune. ``vehicle_fixed`` > 0 makes fewer technicians better
    (the Solomon hierarchical objective uses it).
    """

    travel_per_s: int = 1
    distance_per_m: int = 0
    sla_lateness_per_s: int = 2
    overtime_per_s: int = 3
    continuity: int = 900
    balance_per_s: int = 0
    vehicle_fixed: int = 0
    disruption: int = 600


@dataclass
class Problem:
    """Technicians + jobs + a square travel-time matrix (seconds) and optional distances (m)."""

    technicians: list[Technician]
    jobs: list[Job]
    travel_time_s: Any
    distance_m: Any = None
    weights: Weights = field(default_factory=Weights)
    skill_duration_factors: dict[int, float] = field(
        default_factory=lambda: dict(DEFAULT_SKILL_DURATION_FACTORS)
    )
    #: Known skill names. If given, a job may require a skill nobody on shift has (it is then
    #: unassigned with a reason); without it, such a skill is taken as a typo and rejected.
    skill_catalog: list[str] | None = None

    def __post_init__(self) -> None:
        self.travel_time_s = np.asarray(self.travel_time_s, dtype=np.int64)
        if self.distance_m is not None:
            self.distance_m = np.asarray(self.distance_m, dtype=np.int64)
        validate(self)

    # -- lookups -----------------------------------------------------------------------------
    def technician(self, tech_id: str) -> Technician:
        for t in self.technicians:
            if t.id == tech_id:
                return t
        raise KeyError(tech_id)

    def job(self, job_id: str) -> Job:
        index = getattr(self, "_index", None)
        if index is None or len(index) != len(self.jobs):
            index = self._index = {j.id: j for j in self.jobs}
        return index[job_id]

    def service_s(self, job: Job, tech: Technician) -> int:
        """Service duration of ``job`` when done by ``tech`` (skill-scaled when asked)."""
        if not job.scale_duration_by_skill or not job.required_skills:
            return job.duration_s
        level = min(tech.level(s) for s in job.required_skills)
        factor = self.skill_duration_factors.get(level, 1.0)
        return round(job.duration_s * factor)

    def can_do(self, tech: Technician, job: Job) -> bool:
        """``tech`` has every skill ``job`` needs, at its level."""
        return all(tech.level(s) >= lvl for s, lvl in job.required_skills.items())

    def may_serve(self, tech: Technician, job: Job) -> bool:
        """``tech`` may be given ``job``: the skills suffice and the job is not pinned to someone else. The one rule
        every engine, the live insertion check and the feasibility check apply."""
        return self.can_do(tech, job) and job.pinned_technician in (None, tech.id)

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "technicians": [asdict(t) for t in self.technicians],
            "jobs": [asdict(j) for j in self.jobs],
            "travel_time_s": self.travel_time_s.tolist(),
            "distance_m": None if self.distance_m is None else self.distance_m.tolist(),
            "weights": asdict(self.weights),
            "skill_duration_factors": {str(k): v for k, v in self.skill_duration_factors.items()},
            "skill_catalog": self.skill_catalog,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        return cls(
            technicians=[technician_from_dict(t) for t in d["technicians"]],
            jobs=[job_from_dict(j) for j in d["jobs"]],
            travel_time_s=d["travel_time_s"],
            distance_m=d.get("distance_m"),
            weights=Weights(**d.get("weights", {})),
            skill_duration_factors={
                int(k): float(v)
                for k, v in d.get("skill_duration_factors", DEFAULT_SKILL_DURATION_FACTORS).items()
            },
            skill_catalog=d.get("skill_catalog"),
        )


def technician_from_dict(d: dict[str, Any]) -> Technician:
    d = dict(d)
    d["breaks"] = [Break(**b) for b in d.get("breaks", [])]
    return Technician(**{k: v for k, v in d.items() if k in _TECH_FIELDS})


def job_from_dict(d: dict[str, Any]) -> Job:
    d = dict(d)
    d["time_windows"] = [TimeWindow(**w) for w in d.get("time_windows", [])]
    return Job(**{k: v for k, v in d.items() if k in _JOB_FIELDS})


_TECH_FIELDS = {f.name for f in fields(Technician)}
_JOB_FIELDS = {f.name for f in fields(Job)}


# -- validation ------------------------------------------------------------------------------
def validate(p: Problem) -> None:
    """Raise ``RoutingInputError`` naming the item and field for anything the solver can't use."""
    if not p.technicians:
        raise RoutingInputError("problem: no technicians")
    m = p.travel_time_s
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise RoutingInputError(f"travel_time_s: matrix must be square and non-empty, got shape {m.shape}")
    if (m < 0).any():
        i, j = np.argwhere(m < 0)[0]
        raise RoutingInputError(f"travel_time_s[{i}][{j}]: negative travel time ({m[i, j]})")
    if p.distance_m is not None and p.distance_m.shape != m.shape:
        raise RoutingInputError(
            f"distance_m: shape {p.distance_m.shape} differs from travel_time_s shape {m.shape}"
        )
    if p.distance_m is not None and (p.distance_m < 0).any():
        i, j = np.argwhere(p.distance_m < 0)[0]
        raise RoutingInputError(f"distance_m[{i}][{j}]: negative distance ({p.distance_m[i, j]})")
    for f in fields(Weights):  # every term is a cost: the searches prune on costs only growing as a route does
        if getattr(p.weights, f.name) < 0:
            raise RoutingInputError(f"weights: {f.name} is negative ({getattr(p.weights, f.name)})")
    n_loc = m.shape[0]

    def loc(owner: str, name: str, v: int | None) -> None:
        if v is not None and not (0 <= v < n_loc):
            raise RoutingInputError(f"{owner}: {name} {v} is not a matrix index (0..{n_loc - 1})")

    tech_ids: set[str] = set()
    all_skills: set[str] = set()
    for t in p.technicians:
        who = f"technician '{t.id}'"
        if t.id in tech_ids:
            raise RoutingInputError(f"{who}: duplicate id")
        tech_ids.add(t.id)
        if t.shift_end_s < t.shift_start_s:
            raise RoutingInputError(
                f"{who}: shift ends ({t.shift_end_s}) before it starts ({t.shift_start_s})"
            )
        if t.max_overtime_s < 0:
            raise RoutingInputError(f"{who}: max_overtime_s is negative ({t.max_overtime_s})")
        if t.capacity is not None and t.capacity < 0:
            raise RoutingInputError(f"{who}: capacity is negative ({t.capacity})")
        loc(who, "start_location", t.start_location)
        loc(who, "end_location", t.end_location)
        loc(who, "current_location", t.current_location)
        for s, lvl in t.skills.items():
            if lvl < 1:
                raise RoutingInputError(f"{who}: skill '{s}' has level {lvl}; levels start at 1")
        all_skills.update(t.skills)
        for k, b in enumerate(t.breaks, 1):
            if b.duration_s <= 0:
                raise RoutingInputError(f"{who}: break {k} has non-positive duration ({b.duration_s})")
            if b.latest_end_s - b.earliest_start_s < b.duration_s:
                raise RoutingInputError(
                    f"{who}: break {k} ({b.duration_s}s) does not fit in "
                    f"[{b.earliest_start_s}, {b.latest_end_s}]"
                )
    if p.skill_catalog is not None:
        for t in p.technicians:
            for s in t.skills:
                if s not in p.skill_catalog:
                    raise RoutingInputError(f"technician '{t.id}': unknown skill '{s}' (not in skill_catalog)")
        all_skills = set(p.skill_catalog)
    job_ids: set[str] = set()
    for j in p.jobs:
        who = f"job '{j.id}'"
        if j.id in job_ids:
            raise RoutingInputError(f"{who}: duplicate id")
        job_ids.add(j.id)
        loc(who, "location", j.location)
        if j.duration_s < 0:
            raise RoutingInputError(f"{who}: negative duration_s ({j.duration_s})")
        if not 1 <= j.priority <= 10:
            raise RoutingInputError(f"{who}: priority {j.priority} is outside 1..10")
        if j.demand < 0:
            raise RoutingInputError(f"{who}: negative demand ({j.demand})")
        prev_end = None
        for k, w in enumerate(j.time_windows, 1):
            if w.end_s < w.start_s:
                raise RoutingInputError(
                    f"{who}: time window {k} ends ({w.end_s}) before it starts ({w.start_s})"
                )
            if prev_end is not None and w.start_s <= prev_end:
                raise RoutingInputError(f"{who}: time window {k} overlaps or precedes window {k - 1}")
            prev_end = w.end_s
        for s, lvl in j.required_skills.items():
            if s not in all_skills:
                raise RoutingInputError(
                    f"{who}: unknown skill '{s}' (no technician has it and no skill_catalog lists it)"
                )
            if lvl < 1:
                raise RoutingInputError(f"{who}: required skill '{s}' has level {lvl}; levels start at 1")
        for tid in j.preferred_technicians:
            if tid not in tech_ids:
                raise RoutingInputError(f"{who}: preferred technician '{tid}' does not exist")
        if j.pinned_technician is not None and j.pinned_technician not in tech_ids:
            raise RoutingInputError(f"{who}: pinned technician '{j.pinned_technician}' does not exist")
        if j.pinned_position is not None and j.pinned_position < 0:
            raise RoutingInputError(f"{who}: pinned_position is negative ({j.pinned_position})")
        if j.in_progress and j.pinned_technician is None:
            raise RoutingInputError(f"{who}: in_progress needs pinned_technician")
    in_prog: dict[str, str] = {}
    for j in p.jobs:
        if j.in_progress:
            other = in_prog.setdefault(j.pinned_technician or "", j.id)
            if other != j.id:
                raise RoutingInputError(
                    f"job '{j.id}': technician '{j.pinned_technician}' already has job '{other}' in progress"
                )
