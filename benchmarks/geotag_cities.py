"""`groundcrew bench geotag-cities`: the geotag evaluation on every shared city in one run, as a table.

Baltimore (the demo city), Boston / Cambridge / Somerville with and without its 311 history imported as
address points, and Helsinki; each row is exactly what `groundcrew eval geotag` prints for that city, so any
row can be re-run alone. The last line is JSON (one object per city).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks import geotag_eval

REPO = Path(__file__).resolve().parents[1]


def cities(shared: Path) -> list[dict[str, Any]]:
    """The evaluation runs: name, OSM file, reports, format and optional address points."""
    boston = shared / "cities" / "boston"
    helsinki = shared / "cities" / "helsinki"
    return [
        {"city": "Baltimore", "osm": REPO / "server" / "demo" / "data" / "baltimore_central.osm.bz2",
         "reports": shared / "complaints" / "baltimore_311" / "baltimore_311_sample.csv", "fmt": "baltimore311"},
        {"city": "Boston (no address data)", "osm": boston / "boston_cambridge_somerville.osm.pbf",
         "reports": boston / "boston_311_eval_dev.csv", "fmt": "generic"},
        {"city": "Boston + 311 history", "osm": boston / "boston_cambridge_somerville.osm.pbf",
         "reports": boston / "boston_311_eval_dev.csv", "fmt": "generic",
         "address_points": boston / "boston_311_history_dev.csv"},
        {"city": "Helsinki", "osm": helsinki / "helsinki_central.osm.pbf",
         "reports": helsinki / "helsinki_feedback_in_extract_generic.csv", "fmt": "generic"},
    ]


def _cell(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v}"


def run(shared: Path, peer: str | None = None, split: str | None = None) -> list[dict[str, Any]]:
    """Evaluate every city; print a Markdown table to stderr; return the per-city figures."""
    out = []
    for c in cities(Path(shared)):
        missing = [p for p in (c["osm"], c["reports"], c.get("address_points")) if p is not None and not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{c['city']}: missing {', '.join(map(str, missing))}")
        got = geotag_eval.run(c["osm"], c["reports"], fmt=c["fmt"], address_points=c.get("address_points"),
                              split=split, peer=peer)
        out.append({"city": c["city"], **got})
    head = ("| city | n | resolved | median m | ≤ 250 m | confident | confident ≤ 250 m | texts/s |"
            + (" peer median m | peer ≤ 250 m |" if peer else ""))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in out:
        row = (f"| {r['city']} | {r['n']} | {_cell(r['resolved'], True)} | {_cell(r['median_error_m'])} | "
               f"{_cell(r['within_250m'], True)} | {_cell(r['confident_share'], True)} | "
               f"{_cell(r['confident_within_250m'], True)} | {_cell(r['per_second'])} |")
        if peer:
            p = r.get("peer") or {}
            row += f" {_cell(p.get('median_error_m'))} | {_cell(p.get('within_250m'), True)} |"
        lines.append(row)
    print("\n".join(lines), file=sys.stderr)
    return out
