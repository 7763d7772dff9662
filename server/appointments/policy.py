"""The booking policy: how arrival windows are offered, set by an administrator in the console (Administration ›
Appointments) instead of only through the server's environment.

What it holds: the window length, how many windows at once, how many working days ahead, the lead time, which
services offer windows (a per-service switch over the catalogue's ``customer_present``) and blackout days (a date or
a range, with a reason) on which no window is offered. A number left empty is the server's setting
(``appointment_window_min``, ``appointment_offer_count``, ``appointment_days``, ``appointment_lead_min``), so a
deployment that never saves a policy offers exactly as before.

``current`` is what the offer computation reads (server/appointments/service.py: offers, re-offers, the sweep,
checking a chosen window); ``public`` and ``update`` are the API's. Every change is written to the audit log."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from server.appointments.models import (
    Appointment,
    AppointmentStatus,
    BlackoutRule,
    BookingPolicy,
    BookingPolicyPublic,
    BookingPolicyUpdate,
    BookingSettings,
    ServicePolicy,
)
from server.audit import service as audit
from server.auth.models import User
from server.config import Settings
from server.core.errors import Conflict, Invalid, Unavailable
from server.core.timeutil import as_utc, utcnow
from server.technicians.service import CatalogueEntry, service_catalogue
from server.triage.service import DEFAULT_TAXONOMY

#: The policy is one row.
POLICY_ID = 1
_NUMBERS = ("window_min", "offer_count", "days", "lead_min")


@dataclass(frozen=True)
class Policy:
    """The policy an offer follows: the stored numbers over the server's settings, the per-service switches and
    the blackout days."""

    window_min: int
    offer_count: int
    days: int
    lead_min: int
    services: Mapping[str, bool] = field(default_factory=dict)
    blackouts: tuple[tuple[date, date, str], ...] = ()

    def blocked(self, day: date) -> str | None:
        """The reason ``day`` (local) is a blackout day ("" when none was given), or None when it is not one."""
        for first, last, reason in self.blackouts:
            if first <= day <= last:
                return reason
        return None

    def offering(self, flagged: frozenset[str]) -> frozenset[str]:
        """The services that offer windows: the catalogue's ``flagged`` ones, switched on or off per service."""
        return frozenset({*flagged, *(s for s, on in self.services.items() if on)}
                         - {s for s, on in self.services.items() if not on})

    def offers_slots(self, category: str | None, flagged: frozenset[str]) -> bool:
        """True when a job of this service is offered windows."""
        return bool(category) and self.services.get(category or "", (category or "") in flagged)

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with this policy's numbers (what the window building and the choice read)."""
        return settings.model_copy(update={
            "appointment_window_min": self.window_min, "appointment_offer_count": self.offer_count,
            "appointment_days": self.days, "appointment_lead_min": self.lead_min})


def defaults(settings: Settings) -> BookingSettings:
    """The server's settings: what an empty number of the policy means."""
    return BookingSettings(window_min=settings.appointment_window_min, offer_count=settings.appointment_offer_count,
                           days=settings.appointment_days, lead_min=settings.appointment_lead_min)


def stored(*, session: Session) -> BookingPolicy | None:
    """The saved policy row, or None when none was ever saved."""
    return session.get(BookingPolicy, POLICY_ID)


def current(*, session: Session, settings: Settings) -> Policy:
    """The policy offers follow now (one primary-key read)."""
    row = stored(session=session)
    base = defaults(settings)
    if row is None:
        return Policy(base.window_min, base.offer_count, base.days, base.lead_min)

    def num(name: str) -> int:
        value = getattr(row, name)
        return int(value) if value is not None else int(getattr(base, name))

    return Policy(num("window_min"), num("offer_count"), num("days"), num("lead_min"),
                  services=dict(row.services or {}),
                  blackouts=tuple((date.fromisoformat(b["first_day"]), date.fromisoformat(b["last_day"]),
                                   str(b.get("reason") or "")) for b in row.blackouts or []))


def _catalogue(settings: Settings) -> list[CatalogueEntry]:
    try:
        return service_catalogue(path=settings.taxonomy_path)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"taxonomy_path: the service catalogue cannot be read ({exc})") from None


def _booked_on_blackouts(session: Session, settings: Settings, policy: Policy) -> list[str]:
    """A sentence per booked window still to come that falls on a blackout day."""
    if not policy.blackouts:
        return []
    tz = ZoneInfo(settings.timezone)
    rows = session.exec(select(Appointment).where(Appointment.status == AppointmentStatus.booked,
                                                  col(Appointment.window_start) >= utcnow())
                        .order_by(col(Appointment.window_start))).all()
    out = []
    for appt in rows:
        if appt.window_start is None or appt.window_end is None:
            continue
        start, end = as_utc(appt.window_start).astimezone(tz), as_utc(appt.window_end).astimezone(tz)
        reason = policy.blocked(start.date())
        if reason is not None:
            out.append(f"job {appt.job_id} is booked {start:%a %d %b} {start:%H:%M}–{end:%H:%M}, a blackout day"
                       f"{f' ({reason})' if reason else ''}: the booking stands; reschedule it with the customer "
                       "if the day is closed")
    return out


_flags: dict[tuple[str, float], frozenset[str]] = {}


def customer_present_categories(settings: Settings) -> frozenset[str]:
    """The catalogue's services whose visit needs the customer there. Read from the TOML itself (cached per file and
    modification time), not through ``load_taxonomy``: that trains the triage classifier when its weights do not
    match, seconds of CPU the sweep has no use for (triage validates the same file when it loads it)."""
    path = Path(settings.taxonomy_path) if settings.taxonomy_path else DEFAULT_TAXONOMY
    key = (str(path), path.stat().st_mtime)
    if key not in _flags:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        _flags[key] = frozenset(str(c.get("name", "")).strip().lower() for c in data.get("category") or []
                                if isinstance(c, dict) and c.get("customer_present") is True)
    return _flags[key]


def public(*, session: Session, settings: Settings) -> BookingPolicyPublic:
    """The policy as the console shows it: stored numbers, the server's defaults, what offers use, every catalogue
    service with its switch, the blackout days and any booked window on one of them."""
    row = stored(session=session)
    now = current(session=session, settings=settings)
    flagged = customer_present_categories(settings)
    overrides = dict(row.services or {}) if row else {}
    services = [ServicePolicy(name=c.name, label=c.label, field_work=c.field_work, customer_present=c.customer_present,
                              override=overrides.get(c.name), offers_slots=now.offers_slots(c.name, flagged))
                for c in _catalogue(settings)]
    return BookingPolicyPublic(
        window_min=row.window_min if row else None, offer_count=row.offer_count if row else None,
        days=row.days if row else None, lead_min=row.lead_min if row else None,
        defaults=defaults(settings),
        effective=BookingSettings(window_min=now.window_min, offer_count=now.offer_count, days=now.days,
                                  lead_min=now.lead_min),
        services=services,
        blackouts=[BlackoutRule(first_day=a, last_day=b, reason=r) for a, b, r in now.blackouts],
        version=row.version if row else 0, updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
        warnings=_booked_on_blackouts(session, settings, now))


def _services(settings: Settings, wanted: dict[str, bool]) -> dict[str, bool]:
    """The per-service switches to store: each named service must be in the catalogue, and only field work can
    offer windows; a switch equal to the catalogue's flag is not stored (the service follows the catalogue)."""
    catalogue = {c.name: c for c in _catalogue(settings)}
    problems, out = [], {}
    for raw, on in sorted(wanted.items()):
        name = raw.strip().lower()
        entry = catalogue.get(name)
        if entry is None:
            problems.append(f"services.{raw}: not in the service catalogue (GROUNDCREW_TAXONOMY_PATH)")
        elif on and not entry.field_work:
            problems.append(f"services.{raw}: {entry.label} is not field work (no visit), so it cannot offer "
                            "arrival windows")
        elif on != entry.customer_present:
            out[name] = on
    if problems:
        raise Invalid("; ".join(problems))
    return out


def _blackouts(rules: list[BlackoutRule]) -> list[dict[str, Any]]:
    """The rules in date order, each day range once."""
    seen: dict[tuple[date, date], str] = {}
    for r in rules:
        key = (r.first_day, r.last_day or r.first_day)
        seen[key] = seen.get(key) or r.reason
    return [{"first_day": a.isoformat(), "last_day": b.isoformat(), "reason": reason}
            for (a, b), reason in sorted(seen.items())]


def update(*, session: Session, settings: Settings, body: BookingPolicyUpdate, actor: User) -> BookingPolicyPublic:
    """Replace the policy (the caller's transaction is committed here) and write what changed to the audit log.
    Invalid (422) naming the field for an unknown service or one that is not field work; Conflict (409) when
    ``body.version`` is not the stored version (someone saved in between)."""
    row = stored(session=session)
    version = row.version if row else 0
    if body.version is not None and body.version != version:
        who = f" by {row.updated_by}" if row and row.updated_by else ""
        raise Conflict(f"version: the booking policy was saved{who} since you loaded it (now version {version})")
    services = _services(settings, body.services)
    blackouts = _blackouts(body.blackouts)
    before = _snapshot(row)
    if row is None:
        row = BookingPolicy(id=POLICY_ID)
    for name in _NUMBERS:
        setattr(row, name, getattr(body, name))
    row.services, row.blackouts = services, blackouts
    after = _snapshot(row)
    changes = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    row.version = version + 1
    row.updated_at, row.updated_by = utcnow(), actor.username
    session.add(row)
    audit.record(session=session, action="update", entity="booking_policy", entity_id=POLICY_ID,
                 actor_user_id=actor.id, actor=actor.username, detail={"changes": changes, "version": row.version})
    session.commit()
    return public(session=session, settings=settings)


def _snapshot(row: BookingPolicy | None) -> dict[str, Any]:
    """The stored values compared for the audit entry (None and empty when nothing was stored)."""
    out: dict[str, Any] = {name: getattr(row, name) if row else None for name in _NUMBERS}
    out["services"] = dict(row.services or {}) if row else {}
    out["blackouts"] = list(row.blackouts or []) if row else []
    return out


def offered_window_min(start: datetime, end: datetime) -> int:
    """The length of a window that was offered, minutes (a window offered before the length changed keeps it)."""
    return int((as_utc(end) - as_utc(start)).total_seconds() // 60)
