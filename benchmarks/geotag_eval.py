"""`groundcrew eval geotag`: geotag report texts only and score them against their true lat/lon."""

from __future__ import annotations

import csv
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from geodata import load_city
from geodata.address_points import placeholder_points
from geodata.address_text import match_prefix
from geodata.normalize import tokens
from geodata.projection import haversine_m

DISPATCH_THRESHOLD = 0.6  # the server's default geotag_min_confidence: at or above it a case is dispatched


SPLITS = (None, "dev", "test")


def row_split(record_id: str) -> str:
    """'dev' or 'test' by the parity of the record id's digits (a fixed, content-blind rule)."""
    digits = re.sub(r"\D", "", record_id or "")
    return "dev" if digits and int(digits[-1]) % 2 == 0 else "test"


def _raw_rows(reports: Path, fmt: str, text_columns: tuple[str, ...] = ("text",)) -> list[tuple[str, str, str, str]]:
    """(id, text, lat, lon) as written in the file; a generic file's text is its `text_columns` joined by '. '."""
    out = []
    needed = {"baltimore311": ("Address", "Latitude", "Longitude"),
              "generic": (*text_columns, "lat", "lon")}.get(fmt, ())
    with Path(reports).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{Path(reports).name}: no column {', '.join(missing)} (--format {fmt} needs "
                             f"{', '.join(needed)}; the header has {', '.join(reader.fieldnames or []) or 'nothing'})")
        for r in reader:
            if fmt == "baltimore311":
                out.append((r.get("ServiceRequestNum") or r.get("SRRecordID", ""), r.get("Address", ""),
                            r.get("Latitude", ""), r.get("Longitude", "")))
            elif fmt == "generic":
                text = ". ".join(t for t in ((r.get(c) or "").strip() for c in text_columns) if t)
                out.append((r.get("id", ""), text, r.get("lat", ""), r.get("lon", "")))
            else:
                raise ValueError(f"unknown format {fmt!r}; use 'generic' or 'baltimore311'")
    return out


def read_rows(
    reports: Path, fmt: str, city: Any, split: str | None = None, text_columns: tuple[str, ...] = ("text",)
) -> tuple[list[tuple[str, float, float]], dict[str, int]]:
    """(text, lat, lon) rows inside the map, optionally only the dev or test half; and the skip counts.

    Rows on the file's own "not geocoded" stand-in point (one point carrying many unrelated addresses, found
    from the data: `geodata.address_points.placeholder_points`) have no true location and are skipped."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use 'dev', 'test' or none")
    raw = _raw_rows(reports, fmt, text_columns)
    parsed: list[tuple[str, str, float, float] | None] = []
    for rid, text, lat_s, lon_s in raw:
        try:
            parsed.append((rid, text, float(lat_s), float(lon_s)))
        except ValueError:
            parsed.append(None)
    stand_ins = placeholder_points((p[1], p[2], p[3]) for p in parsed if p is not None)
    rows: list[tuple[str, float, float]] = []
    skipped = {"no_text": 0, "no_coordinates": 0, "placeholder_point": 0, "outside_map": 0, "other_split": 0}
    for (rid, text, _, _), p in zip(raw, parsed, strict=True):
        if split is not None and row_split(rid) != split:
            skipped["other_split"] += 1
            continue
        if not text or not text.strip():
            skipped["no_text"] += 1
            continue
        if p is None:
            skipped["no_coordinates"] += 1
            continue
        lat, lon = p[2], p[3]
        if (lat, lon) in stand_ins:
            skipped["placeholder_point"] += 1
            continue
        if not city.network.contains(lat, lon):
            skipped["outside_map"] += 1
            continue
        rows.append((text, lat, lon))
    return rows, skipped


STRETCH_PIN_M = 40.0  # a pin farther than this from every named street is on no street's stretch


def as_stretches(city: Any, rows: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Each row rewritten as "X between Y and Z": X the named street nearest its pin, Y and Z the streets crossing X
    on either side of it. Synthetic text on real pins: it scores the stretch reading's answers and confidence
    where the problem really was somewhere along a block. Rows whose pin is on no street, or not between two
    crossings of other names, are dropped."""
    from scipy.spatial import cKDTree

    gz = city.gazetteer
    if not gz.streets:
        return []  # a map without named streets has no stretch to write
    pts = np.concatenate([st.pts for st in gz.streets])
    owner = np.concatenate([np.full(len(st.pts), i) for i, st in enumerate(gz.streets)])
    tree = cKDTree(pts)
    out = []
    for _, lat, lon in rows:
        pin = gz.xy(lat, lon)
        d, k = tree.query(pin)
        if d > STRETCH_PIN_M:
            continue
        sid = int(owner[k])
        st = gz.streets[sid]
        t = st.t_of(pin)
        crossings = [(ct, b) for ct, b, _ in gz.crossings.get(sid, []) if gz.streets[b].norm != st.norm]
        before, after = [c for c in crossings if c[0] < t], [c for c in crossings if c[0] > t]
        if not before or not after:
            continue
        y, z = gz.streets[max(before)[1]], gz.streets[min(after)[1]]
        if y.norm != z.norm:
            out.append((f"{st.name} between {y.name} and {z.name}", lat, lon))
    return out


def _street_centroid(city: Any, text: str) -> tuple[float, float] | None:
    """What a geocoder gives without the house number: the named street's centroid."""
    g = city.geotagger
    m = re.search(r"\d+\s+(.*)", text.split(",")[0])
    words = tokens(m.group(1) if m else text.split(",")[0])
    match, _, _ = match_prefix(city.gazetteer, words, g.stop)
    if match is None:
        return None
    longest = max(match.ids, key=lambda i: city.gazetteer.streets[i].length_m)
    return city.gazetteer.lonlat(city.gazetteer.streets[longest].centroid)


def _p90(errors: np.ndarray) -> float | None:
    """90th percentile error (m); None when more than 10 % are unresolved (infinite)."""
    if not len(errors):
        return None
    v = float(np.sort(errors)[int(np.ceil(0.9 * len(errors))) - 1])
    return round(v, 1) if np.isfinite(v) else None


def summarize(errors: np.ndarray, confidences: np.ndarray | None = None,
              threshold: float = DISPATCH_THRESHOLD) -> dict[str, Any]:
    """The figures of one run: errors (m, inf = no answer) and, when given, the answers' confidences."""
    n = len(errors)
    ok = errors[np.isfinite(errors)]

    def frac(limit_m: float) -> float:
        return round(float(np.sum(errors <= limit_m)) / n, 4) if n else 0.0

    out: dict[str, Any] = {
        "n": n,
        "resolved": round(len(ok) / n, 4) if n else 0.0,
        "median_error_m": round(float(np.median(errors)), 1) if n else None,
        "p90_error_m": _p90(errors),
        "within_50m": frac(50), "within_100m": frac(100), "within_250m": frac(250),
    }
    if confidences is not None:
        confident = confidences >= threshold
        out["confident_share"] = round(float(confident.mean()), 4) if n else 0.0
        out["confident_within_250m"] = (round(float((errors[confident] <= 250).mean()), 4)
                                        if confident.any() else None)
    out["median_error_resolved_m"] = round(float(np.median(ok)), 1) if len(ok) else None
    return out


def run(
    osm: Path, reports: Path, fmt: str = "generic", limit: int | None = None, baseline: str | None = None,
    cache_dir: Path | None = None, split: str | None = None, address_points: Path | None = None,
    threshold: float = DISPATCH_THRESHOLD, peer: str | None = None, text_columns: tuple[str, ...] = ("text",),
    as_stretch: bool = False,
) -> dict[str, Any]:
    """Score geotagging (or the `street-centroid` baseline) on reports inside the map.

    `split` = "dev" or "test" keeps one half of the rows (by record-id parity, see `row_split`). `text_columns`
    (generic files) names the columns whose text is geotagged, e.g. a report's own words ("title", "description")
    instead of its address field. `as_stretch` scores each row rewritten as "X between Y and Z" around its pin
    (`as_stretches`).
    `address_points` (a file `groundcrew import address-points` takes) is taught to the city first, as the
    product does. `peer="nominatim"` also runs Nominatim on the same OSM file and texts (see
    `benchmarks.geotag_nominatim`) and adds its figures under "peer".
    """
    cache_dir = cache_dir or Path(tempfile.gettempdir()) / "groundcrew-geodata-cache"
    t_load = time.perf_counter()
    city = load_city(Path(osm), cache_dir, progress=True)
    load_s = time.perf_counter() - t_load
    learned: dict[str, Any] | None = None
    if address_points is not None:
        from geodata.address_points import read_address_points, split_placeholders

        points, problems = read_address_points(Path(address_points))
        points, stand_ins = split_placeholders(points)
        report = city.add_address_points(points)
        learned = {"read": len(points) + len(stand_ins) + len(problems), "learned": report.added,
                   "unmatched": report.unmatched, "outside_map": report.outside_map,
                   "placeholder_rows": len(stand_ins), "bad_rows": len(problems)}
    rows, skipped = read_rows(reports, fmt, city, split, text_columns)
    if limit is not None:
        rows = rows[:limit]
    if as_stretch:
        stretches = as_stretches(city, rows)
        skipped["no_stretch_at_pin"] = len(rows) - len(stretches)
        rows = stretches
    errors = np.full(len(rows), np.inf)
    confidences = np.zeros(len(rows))
    t0 = time.perf_counter()
    for i, (text, lat, lon) in enumerate(tqdm(rows, file=sys.stderr, desc="geotag", unit="text")):
        if baseline == "street-centroid":
            got = _street_centroid(city, text)
        elif baseline is None:
            cands = city.geotag(text)
            got = (cands[0].lat, cands[0].lon) if cands else None
            confidences[i] = cands[0].confidence if cands else 0.0
        else:
            raise ValueError(f"unknown baseline {baseline!r}; use 'street-centroid'")
        if got is not None:
            errors[i] = float(haversine_m(lat, lon, got[0], got[1]))
    elapsed = time.perf_counter() - t0
    out = summarize(errors, confidences if baseline is None else None, threshold)
    out.update({
        "per_second": round(len(rows) / elapsed, 1) if elapsed > 0 else None,
        "baseline": baseline, "split": split, "skipped": skipped, "threshold": threshold,
        "text_columns": list(text_columns), "as_stretch": as_stretch,
        "address_points": learned, "city_load_s": round(load_s, 2), "city_built": city.built,
    })
    if peer is not None:
        out["peer"] = _peer(peer, Path(osm), rows)
    return out


def _peer(name: str, osm: Path, rows: list[tuple[str, float, float]]) -> dict[str, Any]:
    """The same texts through another geocoder on the same OSM file, scored the same way."""
    if name != "nominatim":
        raise ValueError(f"unknown peer {name!r}; use 'nominatim'")
    from benchmarks import geotag_nominatim

    run_ = geotag_nominatim.run_peer(osm, [t for t, _, _ in rows])
    errors = np.array([float(haversine_m(lat, lon, got[0], got[1])) if got else np.inf
                       for (_, lat, lon), got in zip(rows, run_.locations, strict=True)])
    return {"name": "nominatim", **summarize(errors), "per_second": run_.queries_per_s,
            "found_as_written": run_.found_raw, "found_shortened": run_.found_fallback,
            "import_s": run_.import_s}
