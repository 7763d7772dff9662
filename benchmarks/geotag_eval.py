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
from geodata.normalize import tokens
from geodata.projection import haversine_m

PLACEHOLDER = (39.0, -77.0)


SPLITS = (None, "dev", "test")


def row_split(record_id: str) -> str:
    """'dev' or 'test' by the parity of the record id's digits (a fixed, content-blind rule)."""
    digits = re.sub(r"\D", "", record_id or "")
    return "dev" if digits and int(digits[-1]) % 2 == 0 else "test"


def read_rows(
    reports: Path, fmt: str, city: Any, split: str | None = None
) -> tuple[list[tuple[str, float, float]], dict[str, int]]:
    """(text, lat, lon) rows inside the map, optionally only the dev or test half; and the skip counts."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use 'dev', 'test' or none")
    rows: list[tuple[str, float, float]] = []
    skipped = {"no_text": 0, "no_coordinates": 0, "placeholder_point": 0, "outside_map": 0, "other_split": 0}
    with Path(reports).open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if fmt == "baltimore311":
                text, lat_s, lon_s = r.get("Address", ""), r.get("Latitude", ""), r.get("Longitude", "")
                rid = r.get("ServiceRequestNum") or r.get("SRRecordID", "")
            elif fmt == "generic":
                text, lat_s, lon_s = r.get("text", ""), r.get("lat", ""), r.get("lon", "")
                rid = r.get("id", "")
            else:
                raise ValueError(f"unknown format {fmt!r}; use 'generic' or 'baltimore311'")
            if split is not None and row_split(rid) != split:
                skipped["other_split"] += 1
                continue
            if not text or not text.strip():
                skipped["no_text"] += 1
                continue
            try:
                lat, lon = float(lat_s), float(lon_s)
            except ValueError:
                skipped["no_coordinates"] += 1
                continue
            if (lat, lon) == PLACEHOLDER:
                skipped["placeholder_point"] += 1
                continue
            if not city.network.contains(lat, lon):
                skipped["outside_map"] += 1
                continue
            rows.append((text, lat, lon))
    return rows, skipped


def _street_centroid(city: Any, text: str) -> tuple[float, float] | None:
    """What a geocoder gives without the house number: the named street's centroid."""
    g = city.geotagger
    m = re.search(r"\d+\s+(.*)", text.split(",")[0])
    words = tokens(m.group(1) if m else text.split(",")[0])
    ids, _, _ = g._match_street(words)
    if not ids:
        return None
    return city.gazetteer.lonlat(city.gazetteer.streets[g._pick(ids)].centroid)


def _p90(errors: np.ndarray) -> float | None:
    """90th percentile error (m); None when more than 10 % are unresolved (infinite)."""
    if not len(errors):
        return None
    v = float(np.sort(errors)[int(np.ceil(0.9 * len(errors))) - 1])
    return round(v, 1) if np.isfinite(v) else None


def run(
    osm: Path, reports: Path, fmt: str = "generic", limit: int | None = None, baseline: str | None = None,
    cache_dir: Path | None = None, split: str | None = None,
) -> dict[str, Any]:
    """Score geotagging (or the `street-centroid` baseline) on reports inside the map.

    `split` = "dev" or "test" keeps one half of the rows (by record-id parity, see `row_split`).
    """
    cache_dir = cache_dir or Path(tempfile.gettempdir()) / "groundcrew-geodata-cache"
    t_load = time.perf_counter()
    city = load_city(Path(osm), cache_dir, progress=True)
    load_s = time.perf_counter() - t_load
    rows, skipped = read_rows(reports, fmt, city, split)
    if limit is not None:
        rows = rows[:limit]
    errors = np.full(len(rows), np.inf)
    t0 = time.perf_counter()
    for i, (text, lat, lon) in enumerate(tqdm(rows, file=sys.stderr, desc="geotag", unit="text")):
        if baseline == "street-centroid":
            got = _street_centroid(city, text)
        elif baseline is None:
            cands = city.geotag(text)
            got = (cands[0].lat, cands[0].lon) if cands else None
        else:
            raise ValueError(f"unknown baseline {baseline!r}; use 'street-centroid'")
        if got is not None:
            errors[i] = float(haversine_m(lat, lon, got[0], got[1]))
    elapsed = time.perf_counter() - t0
    n = len(rows)
    ok = errors[np.isfinite(errors)]

    def frac(limit_m: float) -> float:
        return round(float(np.sum(errors <= limit_m)) / n, 4) if n else 0.0

    return {
        "n": n,
        "resolved": round(len(ok) / n, 4) if n else 0.0,
        "median_error_m": round(float(np.median(errors)), 1) if n else None,
        "p90_error_m": _p90(errors),
        "within_50m": frac(50), "within_100m": frac(100), "within_250m": frac(250),
        "per_second": round(n / elapsed, 1) if elapsed > 0 else None,
        "baseline": baseline, "split": split, "skipped": skipped,
        "city_load_s": round(load_s, 2), "city_built": city.built,
        "median_error_resolved_m": round(float(np.median(ok)), 1) if len(ok) else None,
    }
