"""How values read on screen (pure functions, tested without a window). Times show in the device's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mobile_app.state import parse_time

STATUS_LABELS = {"assigned": "To do", "en_route": "En route", "on_site": "On site", "completed": "Done",
                 "unable": "Unable", "cancelled": "Cancelled", "unassigned": "Unassigned"}
STATUS_COLORS = {"assigned": "0d4db3", "en_route": "cc6600", "on_site": "0d8033", "completed": "555555",
                 "unable": "bf1414", "cancelled": "555555"}
CHANNELS = {"sms": ("SMS", "0d8033"), "email": ("MAIL", "0d4db3"), "twitter": ("X", "111111"),
            "facebook": ("FB", "1f4fa8"), "webform": ("WEB", "6b3fa0"), "open311": ("311", "b35900"),
            "phone": ("TEL", "0d6f80")}


def local(value: str | None) -> datetime | None:
    moment = parse_time(value)
    return moment.astimezone() if moment else None


def clock(value: str | None) -> str:
    moment = local(value)
    return moment.strftime("%H:%M") if moment else "—"


def day_clock(value: str | None) -> str:
    moment = local(value)
    return moment.strftime("%d %b %H:%M") if moment else ""


def when(job: dict[str, Any]) -> str:
    """The time that matters for the job: 'Done 14:20' / 'Unable 14:20' once it is closed, else 'ETA 09:20'."""
    state = job.get("status")
    if state in ("completed", "unable", "cancelled"):
        label = STATUS_LABELS[state]
        return f"{label} {clock(job['closed_at'])}" if job.get("closed_at") else label
    return f"ETA {clock(job.get('eta'))}"


def when_markup(job: dict[str, Any], colon: str = "") -> str:
    """``when`` with the time in bold: 'ETA[colon] [b]09:20[/b]', 'Done[colon] [b]14:20[/b]'."""
    label, _, moment = when(job).partition(" ")
    return f"{label}{colon} [b]{moment}[/b]" if moment else f"[b]{label}[/b]"


def window(job: dict[str, Any]) -> str:
    windows = job.get("time_windows") or []
    if not windows:
        return "any time"
    return ", ".join(f"{clock(w.get('start'))}–{clock(w.get('end'))}" for w in windows)


def duration(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes} min"


def sla(job: dict[str, Any], now: datetime | None = None) -> tuple[str, bool]:
    """('SLA in 2h 05m', False) or ('SLA overdue 15 min', True); ('', False) without an SLA."""
    due = parse_time(job.get("sla_due_at"))
    if due is None:
        return "", False
    left = (due - (now or datetime.now(UTC))).total_seconds()
    return (f"SLA in {duration(left)}", False) if left >= 0 else (f"SLA overdue {duration(left)}", True)


def status(job: dict[str, Any]) -> str:
    text = STATUS_LABELS.get(job.get("status", ""), job.get("status", ""))
    return text + (" (not sent yet)" if job.get("unsent") else "")


def confidence(job: dict[str, Any]) -> str:
    """How sure we are of the address, in words."""
    value = job.get("location_confidence")
    kind = (job.get("location_kind") or "").replace("_", " ")
    if value is None:
        return "location certainty unknown"
    word = "sure" if value >= 0.8 else "fairly sure" if value >= 0.5 else "NOT sure — check on arrival"
    return f"{word} ({round(value * 100)}%{', ' + kind if kind else ''})"


def esc(text: Any) -> str:
    """Escape text for a Kivy markup label."""
    return str(text or "").replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")


def geo_uri(job: dict[str, Any]) -> str:
    """A geo: URI the phone's navigation app opens (label = address)."""
    from urllib.parse import quote

    label = quote(job.get("address") or job.get("title") or "", safe="")
    return f"geo:{job['lat']:.6f},{job['lon']:.6f}?q={job['lat']:.6f},{job['lon']:.6f}({label})"


def coming_days(visits: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """One (heading, lines) per working day of the tentative visits: 'Mon 07 Dec · 3 jobs from 08:40' and, below,
    'first: Streetlight out, 1600 E Baltimore St'. The job titles and addresses are escaped (no markup)."""
    days: dict[str, list[dict[str, Any]]] = {}
    for visit in visits:
        days.setdefault(str(visit.get("day", "")), []).append(visit)
    out = []
    for day in sorted(days):
        items = sorted(days[day], key=lambda v: int(v.get("sequence", 0)))
        try:
            label = datetime.fromisoformat(day).strftime("%a %d %b")
        except ValueError:
            label = esc(day)
        count = f"{len(items)} job{'s' if len(items) != 1 else ''}"
        first = items[0]
        where = f", {esc(first.get('address'))}" if first.get("address") else ""
        out.append((f"{label} · {count} from {clock(first.get('start_at'))}",
                    f"first: {esc(first.get('job_title'))}{where}"))
    return out
