"""A roster file (CSV, one technician a row) read into checked ``TechnicianCreate`` records, or the reasons why not.

Pure: no database. An address is turned into a home point by the ``geocode`` callable the caller passes (the
CLI passes our geotagger on the city's map). Every row is checked before anything is stored, and each problem
names the row (as a spreadsheet numbers it: the header is row 1) and the column.

Columns (header names are case-insensitive; order does not matter):

    name           required, 1..120 characters; the key: a name already stored is left unchanged
    skills         "electrical:2;roads:1" (skill:level, level 1..5; a bare "roads" is level 1; ';' or ',')
    shift_start    local time "08:00" (default 08:00)
    shift_end      local time "17:00" (default 17:00), after shift_start
    breaks         "11:30-14:00/30": a 30-minute break starting between 11:30 and 14:00; several with ';'
    shifts         optional weekly pattern, ISO weekdays (1 = Monday .. 7 = Sunday) then hours or "off":
                   "1-4 07:00-17:30; 5 07:00-12:00; 6-7 off" (a weekday left out works shift_start-shift_end)
    home_lat, home_lon   where the day starts and ends (WGS84 degrees) ...
    address        ... or an address in the city, geotagged on the map (used when home_lat/home_lon are empty)
    phone          optional
    overtime_min   optional, minutes a shift may run over (default 60)
    availability   optional: on_shift (default), off, sick
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from server.technicians.models import Availability, TechnicianCreate

COLUMNS = ("name", "skills", "shift_start", "shift_end", "breaks", "shifts", "home_lat", "home_lon", "address", "phone",
           "overtime_min", "availability")
_SKILL_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
_SHIFT = re.compile(r"^\s*([1-7](?:\s*-\s*[1-7])?(?:\s*,\s*[1-7](?:\s*-\s*[1-7])?)*)\s+"
                    r"(off|(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2}))\s*$", re.IGNORECASE)
_BREAK = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*/\s*(\d{1,3})\s*(?:min)?\s*$", re.IGNORECASE)

# address → (lat, lon), or a sentence saying why no confident point was found
Geocode = Callable[[str], tuple[float, float] | str]


class RosterFileError(ValueError):
    """The file as a whole cannot be read (not a CSV, unknown or missing columns)."""


@dataclass
class RosterRow:
    row_no: int
    name: str
    technician: TechnicianCreate | None = None
    problems: list[str] = field(default_factory=list)
    geotagged: str | None = None  # how the address was placed, when it was

    @property
    def ok(self) -> bool:
        return self.technician is not None and not self.problems


def parse_skills(text: str) -> dict[str, int]:
    """"electrical:2;roads:1" → {"electrical": 2, "roads": 1}; ValueError naming the bad part."""
    skills: dict[str, int] = {}
    for part in re.split(r"[;,]", text or ""):
        part = part.strip()
        if not part:
            continue
        name, _, level_text = part.partition(":")
        name = name.strip().lower()
        if not _SKILL_NAME.match(name):
            raise ValueError(f"'{part[:40]}': a skill name is a lower-case word like 'electrical' (letters, digits, "
                             "_ or -, up to 40)")
        level_text = level_text.strip() or "1"
        if not level_text.isdigit() or not 1 <= int(level_text) <= 5:
            raise ValueError(f"'{part[:40]}': the level after ':' must be a whole number 1..5")
        if name in skills:
            raise ValueError(f"'{name}' is given twice")
        skills[name] = int(level_text)
    return skills


def parse_breaks(text: str) -> list[dict[str, Any]]:
    """"11:30-14:00/30; 15:00-16:00/15" → break rules (earliest start, latest start, minutes)."""
    rules = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        match = _BREAK.match(part)
        if match is None:
            raise ValueError(f"'{part.strip()[:40]}' is not earliest-latest/minutes, e.g. '11:30-14:00/30'")
        rules.append({"earliest": match.group(1).zfill(5), "latest": match.group(2).zfill(5),
                      "duration_min": int(match.group(3))})
    return rules


def parse_shifts(text: str) -> dict[str, Any]:
    """"1-4 07:00-17:30; 5 07:00-12:00; 6-7 off" → the weekly pattern (ISO weekday → {start, end} or "off");
    ValueError naming the bad part. Times are checked (HH:MM, end after start) by the model."""
    pattern: dict[str, Any] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        match = _SHIFT.match(part)
        if match is None:
            raise ValueError(f"'{part.strip()[:40]}' is not weekdays then hours or 'off', e.g. '1-4 07:00-17:30' "
                             "or '6-7 off' (1 = Monday .. 7 = Sunday)")
        days: list[int] = []
        for span in match.group(1).split(","):
            first, _, last = span.partition("-")
            lo, hi = int(first), int(last or first)
            if hi < lo:
                raise ValueError(f"'{span.strip()}': a weekday range runs forwards, e.g. '1-4'")
            days += range(lo, hi + 1)
        entry: Any = "off" if match.group(2).lower() == "off" else {"start": match.group(3).zfill(5),
                                                                       "end": match.group(4).zfill(5)}
        for day in days:
            if str(day) in pattern:
                raise ValueError(f"weekday {day} is given twice")
            pattern[str(day)] = entry
    return pattern


def _number(text: str, column: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column}: '{text[:30]}' is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{column}: {text[:30]} is outside {low:g}..{high:g}")
    return value


def _validation_problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        field_name = loc.split(".")[0]
        if not loc or message.startswith((f"{field_name}:", f"{field_name}.")):
            out.append(f"shifts: {message}" if field_name == "weekly_shifts" else message)  # the CSV's column
        else:
            out.append(f"{loc}: {message}")
    return out


def _check_shift_order(data: dict[str, Any], problems: list[str]) -> None:
    try:
        start = time.fromisoformat(str(data.get("shift_start", "08:00")))
        end = time.fromisoformat(str(data.get("shift_end", "17:00")))
    except ValueError:
        return
    message = "shift_end: must be after shift_start"
    if end <= start and message not in problems:
        problems.append(message)


def check_row(values: dict[str, str], row_no: int, geocode: Geocode | None = None) -> RosterRow:
    """One row's values (column → text) as a checked technician, or its problems (every one found)."""
    get = {k: (v or "").strip() for k, v in values.items()}
    row = RosterRow(row_no=row_no, name=get.get("name", ""))
    data: dict[str, Any] = {"name": row.name}
    if not row.name:
        row.problems.append("name: required")
    try:
        data["skills"] = parse_skills(get.get("skills", ""))
        if not data["skills"]:
            row.problems.append("skills: required, e.g. 'electrical:2;roads:1' (a technician with no skill can "
                                "only do jobs that need none)")
    except ValueError as exc:
        row.problems.append(f"skills: {exc}")
    for column in ("shift_start", "shift_end"):
        if get.get(column):  # "7:00" as well as "07:00"
            data[column] = "0" + get[column] if re.match(r"^\d:\d\d", get[column]) else get[column]
    try:
        data["breaks"] = parse_breaks(get.get("breaks", ""))
    except ValueError as exc:
        row.problems.append(f"breaks: {exc}")
    try:
        data["weekly_shifts"] = parse_shifts(get.get("shifts", ""))
    except ValueError as exc:
        row.problems.append(f"shifts: {exc}")
    if get.get("phone"):
        data["phone"] = get["phone"]
    if get.get("overtime_min"):
        if get["overtime_min"].isdigit():
            data["overtime_allowed_min"] = int(get["overtime_min"])
        else:
            row.problems.append(f"overtime_min: '{get['overtime_min'][:20]}' is not a whole number of minutes")
    if get.get("availability"):
        if get["availability"].lower() in {a.value for a in Availability}:
            data["availability"] = get["availability"].lower()
        else:
            row.problems.append(f"availability: '{get['availability'][:20]}' is not one of "
                                f"{', '.join(a.value for a in Availability)}")
    lat_text, lon_text, address = get.get("home_lat", ""), get.get("home_lon", ""), get.get("address", "")
    if lat_text or lon_text:
        if not (lat_text and lon_text):
            row.problems.append("home_lat/home_lon: give both coordinates (or neither, and an address)")
        else:
            try:
                data["home_lat"] = _number(lat_text, "home_lat", -90, 90)
                data["home_lon"] = _number(lon_text, "home_lon", -180, 180)
            except ValueError as exc:
                row.problems.append(str(exc))
    elif address:
        if geocode is None:
            row.problems.append("address: no street map to geotag it with; give home_lat/home_lon")
        else:
            found = geocode(address)
            if isinstance(found, str):
                row.problems.append(f"address: '{address[:80]}': {found}; give home_lat/home_lon instead")
            else:
                data["home_lat"], data["home_lon"] = found
                row.geotagged = f"'{address[:80]}' → {found[0]:.5f}, {found[1]:.5f}"
    else:
        row.problems.append("home: give home_lat and home_lon, or an address in the city")
    # The model's own checks (name length, shift order, break times) run even when a column above was refused:
    # stand-ins fill what is missing, so every problem of the row is reported at once.
    stand_ins = {"name": "-", "skills": {}, "breaks": [], "home_lat": 0.0, "home_lon": 0.0}
    try:
        technician = TechnicianCreate.model_validate({**stand_ins, **data})
    except ValidationError as exc:
        row.problems.extend(p for p in _validation_problems(exc) if p not in row.problems)
        _check_shift_order(data, row.problems)  # a field error stops the model before its shift check
        return row
    if not row.problems:
        row.technician = technician
    return row


def read_rows(text: str, source: str = "file") -> list[dict[str, str]]:
    """The CSV's rows as column → text (header lower-cased); RosterFileError for unknown or missing columns."""
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise RosterFileError(f"{source}: empty file (expected a header row: {', '.join(COLUMNS)})")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise RosterFileError(f"{source}: unknown column(s) {', '.join(repr(h) for h in unknown)} "
                              f"(known: {', '.join(COLUMNS)})")
    missing = [c for c in ("name", "skills") if c not in header]
    if "address" not in header and not {"home_lat", "home_lon"} <= set(header):
        missing.append("home_lat+home_lon or address")
    if missing:
        raise RosterFileError(f"{source}: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    rows = []
    for raw in reader:
        extra = raw.pop(None, None)  # type: ignore[call-overload]
        if extra:
            raw["__extra__"] = ",".join(extra)
        rows.append({k: v for k, v in raw.items() if k is not None})
    return rows


def read_file(path: Path) -> list[dict[str, str]]:
    """The roster CSV at ``path`` (UTF-8, a BOM allowed)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    return read_rows(text, path.name)


def check_rows(rows: Iterable[dict[str, str]], geocode: Geocode | None = None) -> list[RosterRow]:
    """Every row checked (row numbers as a spreadsheet shows them: the header is row 1); a name repeated in the
    file is a problem on its second row."""
    checked: list[RosterRow] = []
    first_row: dict[str, int] = {}
    for row_no, values in enumerate(rows, start=2):
        extra = values.pop("__extra__", None)
        row = check_row(values, row_no, geocode)
        if extra:
            row.problems.append(f"more values than columns ('{extra[:40]}'): quote a value that has a comma")
            row.technician = None
        key = row.name.casefold()
        if key and key in first_row:
            row.problems.append(f"name: '{row.name}' is also on row {first_row[key]} (names must be unique)")
            row.technician = None
        first_row.setdefault(key, row_no)
        checked.append(row)
    return checked
