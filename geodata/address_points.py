"""Known address points from outside OpenStreetMap: a city's geocoded 311 history, OpenAddresses, a utility's
customer list, locations confirmed in the field. Read and checked here; `City.add_address_points` teaches them to
the gazetteer (exact matches, and numbering anchors for interpolation along their streets).

Formats (``fmt``):

- ``csv``: columns ``text,lat,lon`` (others ignored), e.g. a city's 311 export reduced to the generic columns.
- ``openaddresses-csv``: the OpenAddresses output CSV, columns ``LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,
  POSTCODE,ID,HASH`` (``OPENADDR_CSV_SCHEMA`` in openaddresses/machine ``openaddr/conform.py``).
- ``openaddresses-geojson``: the OpenAddresses output GeoJSON, Point features whose properties are
  ``hash, number, street, unit, city, district, region, postcode, id`` (``ADDRESSES_SCHEMA`` in
  openaddresses/batch-machine ``openaddr/conform.py``, whose ``transform_to_out_geojson`` writes one feature per
  line); a FeatureCollection is read too.

OpenAddresses rows become the text "NUMBER STREET, CITY REGION POSTCODE" (the unit is left out: every unit of a
building shares its point). Pure: no database, no web."""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geodata.errors import GeodataError


@dataclass(frozen=True)
class AddressPoint:
    """One known address: the address as people write it ("29 Hereford St Boston MA 02115", "Sturenkatu 33,
    00550 Helsinki") and where it is (lat/lon degrees). `source` says where it came from (import, field)."""

    text: str
    lat: float
    lon: float
    source: str = "import"


@dataclass(frozen=True)
class RowProblem:
    """A row of an address-points file that cannot be used: its line in the file (1 = the first line; for a
    GeoJSON FeatureCollection the line where the feature starts) and what is wrong with it, naming the field."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class AddressFileError(GeodataError, ValueError):
    """The file as a whole cannot be read: unknown format, not UTF-8 text, not CSV or GeoJSON."""


FORMATS = ("csv", "openaddresses-csv", "openaddresses-geojson")
MAX_TEXT_CHARS = 300
OA_CSV_COLUMNS = ("LON", "LAT", "NUMBER", "STREET")  # required; UNIT, CITY, DISTRICT, REGION, POSTCODE optional
GEOJSON_SUFFIXES = {".geojson", ".json", ".geojsonl", ".geojsons", ".ndjson", ".jsonl"}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# ------------------------------------------------------------------------------------------- reading
def read_address_points(
    path: Path, fmt: str = "auto", *, source: str = "import"
) -> tuple[list[AddressPoint], list[RowProblem]]:
    """Every usable point of the file and every problem by line. Raises AddressFileError when the file as a
    whole cannot be read (unknown format, not UTF-8)."""
    points: list[AddressPoint] = []
    problems: list[RowProblem] = []
    for _line, item in iter_address_points(path, fmt, source=source):
        if isinstance(item, RowProblem):
            problems.append(item)
        else:
            points.append(item)
    return points, problems


def iter_address_points(
    path: Path, fmt: str = "auto", *, source: str = "import"
) -> Iterator[tuple[int, AddressPoint | RowProblem]]:
    """(line, point or problem) for every row of the file, in file order (streamed for CSV and line-delimited
    GeoJSON)."""
    path = Path(path)
    if fmt not in ("auto", *FORMATS):
        raise AddressFileError(f"unknown format '{fmt}': use one of auto, {', '.join(FORMATS)}")
    if not path.is_file():
        raise AddressFileError(f"{path}: no such file")
    chosen = detect_format(path) if fmt == "auto" else fmt
    try:
        if chosen == "csv":
            yield from _read_text_csv(path, source)
        elif chosen == "openaddresses-csv":
            yield from _read_oa_csv(path, source)
        else:
            yield from _read_oa_geojson(path, source)
    except UnicodeDecodeError as exc:
        raise AddressFileError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def detect_format(path: Path) -> str:
    """The format of an address-points file from its suffix, then its first line: GeoJSON by suffix or a leading
    '{', else a CSV whose header names text,lat,lon (csv) or LON,LAT,NUMBER,STREET (openaddresses-csv)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig") as handle:
            head = handle.readline()
    except UnicodeDecodeError as exc:
        raise AddressFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    if path.suffix.lower() in GEOJSON_SUFFIXES or head.lstrip().startswith("{"):
        return "openaddresses-geojson"
    columns = [h.strip() for h in next(csv.reader([head]), [])]
    header = {h.lower() for h in columns}
    if {c.lower() for c in OA_CSV_COLUMNS} <= header:
        return "openaddresses-csv"
    if {"text", "lat", "lon"} <= header:
        return "csv"
    found = ", ".join(h for h in columns[:12] if h) or "nothing"
    raise AddressFileError(
        f"{path.name}: cannot tell its format (the first line has {found}); supported formats: csv (columns "
        "text,lat,lon), openaddresses-csv (LON,LAT,NUMBER,STREET,...), openaddresses-geojson (.geojson Point "
        "features); name one with --format")


def _coordinates(lat_raw: Any, lon_raw: Any, lat_name: str, lon_name: str) -> tuple[float, float] | str:
    """(lat, lon) or a message naming the bad field."""
    values = []
    for raw, name in ((lat_raw, lat_name), (lon_raw, lon_name)):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return f"{name}: missing"
        if isinstance(raw, bool):
            return f"{name}: {raw!r} is not a number"
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return f"{name}: '{str(raw)[:30]}' is not a number"
        if not math.isfinite(value):
            return f"{name}: '{str(raw)[:30]}' is not a finite number"
        values.append(value)
    lat, lon = values
    if not -90 <= lat <= 90:
        return f"{lat_name}: {lat:g} is out of range (-90..90); are {lat_name} and {lon_name} swapped?"
    if not -180 <= lon <= 180:
        return f"{lon_name}: {lon:g} is out of range (-180..180)"
    if lat == 0 and lon == 0:
        return f"{lat_name}/{lon_name}: (0, 0) is a 'no location' value, not a place"
    return lat, lon


def _point(text: str, coords: tuple[float, float] | str, line: int, source: str) -> AddressPoint | RowProblem:
    if isinstance(coords, str):
        return RowProblem(line, coords)
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        return RowProblem(line, f"text: longer than {MAX_TEXT_CHARS} characters ({len(text)}); is it an address?")
    return AddressPoint(text=text, lat=coords[0], lon=coords[1], source=source)


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str], dict[str, str | None] | None]]:
    """(line where the record starts, header, row) for each record; the first item has row None (the header)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        yield 1, header, None
        while True:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line, header, {"__error__": str(exc)}
                continue
            if not values or not any(v.strip() for v in values):
                continue  # blank line
            row: dict[str, str | None] = dict(zip(header, values, strict=False))
            if len(values) < len(header):
                row.update(dict.fromkeys(header[len(values):]))
            yield line, header, row


def _missing_columns(header: list[str], needed: Iterable[str], fmt: str) -> RowProblem | None:
    lower = {h.lower() for h in header}
    missing = [c for c in needed if c.lower() not in lower]
    if not missing:
        return None
    return RowProblem(1, f"missing column(s) {', '.join(missing)} for format {fmt} "
                         f"(found: {', '.join(header[:12]) or 'nothing'})")


def _lookup(row: dict[str, str | None], header: list[str], name: str) -> str | None:
    """A column by name, ignoring case (the first such column)."""
    for column in header:
        if column.lower() == name.lower():
            return row.get(column)
    return None


def _records(path: Path, needed: Iterable[str], fmt: str
             ) -> Iterator[tuple[int, list[str], dict[str, str | None] | RowProblem]]:
    """(line, header, record or problem) for each data row of a CSV whose header names `needed`; a header
    without them is one problem on line 1 and the end of the file."""
    for line, header, row in _csv_rows(path):
        if row is None:
            problem = _missing_columns(header, needed, fmt)
            if problem is not None:
                yield 1, header, problem
                return
            continue
        if "__error__" in row:
            yield line, header, RowProblem(line, f"not a CSV record: {row['__error__']}")
            continue
        yield line, header, row


def _read_text_csv(path: Path, source: str) -> Iterator[tuple[int, AddressPoint | RowProblem]]:
    for line, header, row in _records(path, ("text", "lat", "lon"), "csv"):
        if isinstance(row, RowProblem):
            yield line, row
            continue
        text = (_lookup(row, header, "text") or "").strip()
        if not text:
            yield line, RowProblem(line, "text: empty (an address point needs its address)")
            continue
        coords = _coordinates(_lookup(row, header, "lat"), _lookup(row, header, "lon"), "lat", "lon")
        yield line, _point(text, coords, line, source)


def openaddresses_text(props: dict[str, Any]) -> str:
    """"NUMBER STREET, CITY REGION POSTCODE" from OpenAddresses fields (any case); empty parts left out."""
    get = {str(k).lower(): ("" if v is None else str(v).strip()) for k, v in props.items()}
    first = " ".join(p for p in (get.get("number", ""), get.get("street", "")) if p)
    tail = " ".join(p for p in (get.get("city", ""), get.get("region", ""), get.get("postcode", "")) if p)
    return f"{first}, {tail}" if tail else first


def _oa_problem(props: dict[str, Any], number: str, street: str) -> str | None:
    if not str(props.get(number) or "").strip():
        return f"{number}: empty (a street without a house number is not an address point)"
    if not str(props.get(street) or "").strip():
        return f"{street}: empty"
    return None


def _read_oa_csv(path: Path, source: str) -> Iterator[tuple[int, AddressPoint | RowProblem]]:
    for line, _header, row in _records(path, OA_CSV_COLUMNS, "openaddresses-csv"):
        if isinstance(row, RowProblem):
            yield line, row
            continue
        props = {c.upper(): v for c, v in row.items()}
        wrong = _oa_problem(props, "NUMBER", "STREET")
        if wrong:
            yield line, RowProblem(line, wrong)
            continue
        coords = _coordinates(props.get("LAT"), props.get("LON"), "LAT", "LON")
        yield line, _point(openaddresses_text(props), coords, line, source)


def _feature(feature: Any, line: int, source: str) -> AddressPoint | RowProblem:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return RowProblem(line, "not a GeoJSON Feature (\"type\": \"Feature\")")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else geometry
        return RowProblem(line, f"geometry: must be a Point (found {kind!r})")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return RowProblem(line, "geometry.coordinates: must be [lon, lat]")
    props = feature.get("properties")
    if not isinstance(props, dict):
        return RowProblem(line, "properties: missing (needs number and street)")
    props = {str(k).lower(): v for k, v in props.items()}
    wrong = _oa_problem(props, "number", "street")
    if wrong:
        return RowProblem(line, f"properties.{wrong}")
    coords = _coordinates(coordinates[1], coordinates[0], "latitude (coordinates[1])", "longitude (coordinates[0])")
    return _point(openaddresses_text(props), coords, line, source)


def _read_oa_geojson(path: Path, source: str) -> Iterator[tuple[int, AddressPoint | RowProblem]]:
    with path.open(encoding="utf-8-sig") as handle:
        first_line = handle.readline()
        try:
            first = json.loads(first_line) if first_line.strip() else None
        except json.JSONDecodeError:
            first = None  # a FeatureCollection laid out over many lines (or broken: said where below)
        if first is None or (isinstance(first, dict) and first.get("type") == "FeatureCollection"):
            yield from _feature_collection(first_line + handle.read(), source)
            return
        handle.seek(0)
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                feature = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield line, RowProblem(line, f"broken JSON ({exc.msg} at column {exc.colno})")
                continue
            yield line, _feature(feature, line, source)


_WS = re.compile(r"[ \t\n\r,]*")
_COLON = re.compile(r"\s*:\s*")


def _feature_collection(text: str, source: str) -> Iterator[tuple[int, AddressPoint | RowProblem]]:
    """Features of a FeatureCollection with the line each starts on (walks the top-level object with raw_decode,
    so a feature's line is exact however the file is laid out)."""
    decoder = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if text[pos:pos + 1] != "{":
            yield line_of(pos), RowProblem(line_of(pos), "not GeoJSON: expected a FeatureCollection object or one "
                                                         "Feature per line")
            return
        pos += 1
        found = False
        while True:
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos:pos + 1] == "}":
                break
            key, pos = decoder.raw_decode(text, pos)
            colon = _COLON.match(text, pos)
            if colon is None:
                raise json.JSONDecodeError("expected ':' after a key", text, pos)
            pos = colon.end()
            if key != "features":
                _, pos = decoder.raw_decode(text, pos)
                continue
            found = True
            if text[pos:pos + 1] != "[":
                yield line_of(pos), RowProblem(line_of(pos), "features: must be a list")
                return
            pos += 1
            while True:
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if text[pos:pos + 1] == "]":
                    pos += 1
                    break
                start = pos
                feature, pos = decoder.raw_decode(text, pos)
                yield line_of(start), _feature(feature, line_of(start), source)
    except (json.JSONDecodeError, AttributeError, IndexError) as exc:
        at = getattr(exc, "pos", None)
        line = line_of(at) if isinstance(at, int) else 1
        msg = getattr(exc, "msg", None) or "unexpected end of file"
        yield line, RowProblem(line, f"broken JSON ({msg}); the rest of the file was not read")
        return
    if not found:
        yield 1, RowProblem(1, "no \"features\" list: not a GeoJSON FeatureCollection")


# ------------------------------------------------------------------------------------------- placeholders
_HOUSE_NUMBER = re.compile(r"^\d+[^\W\d_]?(?:[-/]\d*[^\W\d_]?)*$")
_NOT_STREET = frozenset({"intersection", "of", "and", "at", "corner", "block", "near"})
MIN_PLACEHOLDER_STREETS = 4
MIN_PLACEHOLDER_STREET_SHARE = 0.25


def street_key(text: str) -> frozenset[str]:
    """The words that name the street(s) of an address, for telling addresses apart without a gazetteer: the
    first comma-separated part that has any, casefolded, without house numbers, postcodes and connecting words
    ("29 Hereford St Boston MA 02115" -> {hereford, st, boston, ma}; ordinals like "19th" stay)."""
    for part in text.casefold().split(","):
        words = frozenset(w for w in re.findall(r"\w+(?:[-/]\w+)*", part)
                          if not _HOUSE_NUMBER.match(w) and w not in _NOT_STREET)
        if words:
            return words
    return frozenset()


def placeholder_points(
    rows: Iterable[tuple[str, float, float]], *, min_streets: int = MIN_PLACEHOLDER_STREETS,
    min_street_share: float = MIN_PLACEHOLDER_STREET_SHARE,
) -> set[tuple[float, float]]:
    """The points that stand for "not geocoded" in this data: one identical (lat, lon) carrying many unrelated
    addresses. ``rows`` are (address text, lat, lon); give the address, not a free description.

    A point is a placeholder when the addresses on it name at least ``min_streets`` different streets
    (`street_key`) and those streets are at least ``min_street_share`` of its rows. On real 311 data a real point
    carries at most 2 streets (a corner, rounding to 4 decimals) however often it is reported (Boston's busiest:
    60 rows, 1 street; Baltimore's: 34 rows, 1), while stand-ins carry hundreds (Boston's City Hall point: 150 rows,
    ~120 streets; Baltimore's 39,-77: 720 rows, 509 streets; its 39,-76: 5 rows, 5 streets). The share keeps a
    busy real corner with a few spellings (say 4 over 200 rows) from counting."""
    streets: dict[tuple[float, float], Counter[frozenset[str]]] = defaultdict(Counter)
    for text, lat, lon in rows:
        key = street_key(text or "")
        if key:
            streets[(float(lat), float(lon))][key] += 1
    out = set()
    for point, counter in streets.items():
        distinct = len(counter)
        if distinct >= min_streets and distinct >= min_street_share * sum(counter.values()):
            out.add(point)
    return out


def split_placeholders(points: list[AddressPoint]) -> tuple[list[AddressPoint], list[AddressPoint]]:
    """(points to keep, points on a placeholder of this data) — see `placeholder_points`."""
    stand_ins = placeholder_points((p.text, p.lat, p.lon) for p in points)
    if not stand_ins:
        return list(points), []
    keep = [p for p in points if (p.lat, p.lon) not in stand_ins]
    dropped = [p for p in points if (p.lat, p.lon) in stand_ins]
    return keep, dropped
