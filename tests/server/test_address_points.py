"""``groundcrew import address-points`` on real Boston rows and the real Boston map: every row checked before
anything is stored (bad rows and points outside the map by line, nothing half-imported), stand-in rows dropped,
a second import adds nothing; the stored points reach the city when the server loads it, and a deployment whose
database has no table yet still loads its city. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func
from sqlmodel import Session, select

import geodata
from geodata import City
from server.addresses import city_hooks
from server.addresses import service as addresses
from server.addresses.models import AddressPointRecord
from server.config import Settings
from server.core import city as core_city
from server.core.timeutil import utcnow
from tests.conftest import OUTPUT_DIR, SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
BOSTON = SHARED_DATA / "cities" / "boston"
BOSTON_OSM = BOSTON / "boston_cambridge_somerville.osm.pbf"
HISTORY = BOSTON / "boston_311_history_dev.csv"
STAND_INS = BOSTON / "boston_311_placeholder_dev.csv"
CITY_CACHE = OUTPUT_DIR / ".city-cache"
CITY_HALL = (42.3594, -71.0587)


@pytest.fixture(scope="module")
def boston() -> City:
    """The real Boston map, a City of this module's own (teaching it touches no other test's city)."""
    return geodata.load_city(BOSTON_OSM, CITY_CACHE)


@pytest.fixture
def engine(database_url):  # type: ignore[no-untyped-def]
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


def _history_rows() -> list[dict[str, str]]:
    with HISTORY.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _split_by_map(city: City, n: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The first ``n`` history rows inside the map, and the history rows outside it."""
    inside, outside = [], []
    for row in _history_rows():
        (inside if city.network.contains(float(row["lat"]), float(row["lon"])) else outside).append(row)
    return inside[:n], outside


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "created_at", "text", "lat", "lon", "type", "source",
                                                    "neighborhood"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(AddressPointRecord)).one()


def _mixed_file(tmp_path: Path, boston: City) -> tuple[Path, dict[int, str]]:
    """200 real rows inside the map, 2 real rows outside it and 3 broken ones; the bad lines and why."""
    inside, outside = _split_by_map(boston, 200)
    rows = list(inside)
    bad: dict[int, str] = {}
    for index, row in ((40, outside[0]), (90, outside[1])):
        rows.insert(index, row)
        bad[index + 2] = "outside the city's map"
    rows.insert(120, {**inside[5], "text": "  "})
    bad[122] = "text: empty"
    rows.insert(150, {**inside[6], "lat": "42.35.1"})
    bad[152] = "lat: '42.35.1' is not a number"
    rows.insert(160, {**inside[7], "lon": "-271.06"})
    bad[162] = "lon: -271.06 is out of range"
    return _write(tmp_path / "history.csv", rows), bad


def test_nothing_is_stored_while_any_row_is_bad_and_every_bad_row_is_named(engine, boston, tmp_path):
    path, bad = _mixed_file(tmp_path, boston)
    report = addresses.import_points(engine=engine, city=boston, path=path)
    assert not report.stored and report.imported == 0 and _count(engine) == 0  # nothing half-imported
    assert [p.line for p in report.problems] == sorted(bad)
    for problem in report.problems:
        assert bad[problem.line] in problem.message, problem
    assert report.rows == 205
    kept = addresses.import_points(engine=engine, city=boston, path=path, skip_bad=True)
    assert kept.stored and [p.line for p in kept.problems] == sorted(bad)  # still listed
    unique = {(r["text"], r["lat"], r["lon"]) for r in _split_by_map(boston, 200)[0]}
    assert kept.imported == len(unique) == _count(engine) and kept.repeated == 200 - len(unique)


def test_a_second_import_of_the_same_file_adds_nothing(engine, boston, tmp_path):
    path = _write(tmp_path / "history.csv", _split_by_map(boston, 300)[0])
    first = addresses.import_points(engine=engine, city=boston, path=path, source="boston-311")
    again = addresses.import_points(engine=engine, city=boston, path=path, source="another-name")
    assert first.imported > 150 and first.problems == []
    assert (again.imported, again.already_known) == (0, first.imported)
    assert _count(engine) == first.imported
    with Session(engine) as session:
        assert {r.source for r in session.exec(select(AddressPointRecord)).all()} == {"boston-311"}


def test_stand_in_rows_are_dropped_and_counted_not_errors(engine, boston, tmp_path):
    with STAND_INS.open(newline="", encoding="utf-8") as handle:
        stand_ins = list(csv.DictReader(handle))
    inside = _split_by_map(boston, 300)[0]
    path = _write(tmp_path / "with-stand-ins.csv", inside[:150] + stand_ins + inside[150:])
    assert boston.network.contains(*CITY_HALL)  # inside the map: only the data tells it is not a place
    report = addresses.import_points(engine=engine, city=boston, path=path)
    assert report.problems == [] and report.stored
    assert (report.placeholder_rows, report.placeholder_points) == (150, [CITY_HALL])
    with Session(engine) as session:
        points = {(r.lat, r.lon) for r in session.exec(select(AddressPointRecord)).all()}
    assert CITY_HALL not in points and len(points) > 100


class _Recorder:
    """A city that records what it is taught, with the real Boston map for the inside/outside check."""

    def __init__(self, city: City) -> None:
        self.network, self.source, self.taught = city.network, city.source, []

    def add_address_points(self, points):  # type: ignore[no-untyped-def]
        self.taught.append(list(points))
        return SimpleNamespace(added=len(self.taught[-1]), unmatched=0, outside_map=0)


def test_imported_points_are_taught_to_the_city_once(engine, boston, tmp_path):
    path = _write(tmp_path / "history.csv", _split_by_map(boston, 120)[0])
    city = _Recorder(boston)
    first = addresses.import_points(engine=engine, city=city, path=path)  # type: ignore[arg-type]
    again = addresses.import_points(engine=engine, city=city, path=path)  # type: ignore[arg-type]
    assert [len(batch) for batch in city.taught] == [first.imported]  # the second import taught nothing new
    assert first.as_dict()["taught"] == {"added": first.imported, "unmatched": 0, "outside_map": 0}
    assert again.as_dict()["taught"] is None


def test_the_gazetteer_finds_an_imported_address(engine, tmp_path):
    """The gazetteer effect itself: needs ``City.add_address_points`` (geodata/city.py)."""
    if not hasattr(City, "add_address_points"):
        pytest.skip("geodata.City.add_address_points is not there yet")
    city = geodata.load_city(BOSTON_OSM, CITY_CACHE)  # a fresh one: it is changed
    inside = _split_by_map(city, 400)[0]
    probe = next(r for r in inside if r["text"][0].isdigit() and " & " not in r["text"])
    report = addresses.import_points(engine=engine, city=city,
                                     path=_write(tmp_path / "history.csv", inside))
    assert report.taught is not None and report.taught.added > 0
    best = city.geotag(probe["text"])[0]
    assert addresses.distance_m(best.lat, best.lon, float(probe["lat"]), float(probe["lon"])) < 30


def test_stored_points_reach_the_city_when_the_server_loads_it(engine, database_url, boston, tmp_path, monkeypatch):
    path = _write(tmp_path / "history.csv", _split_by_map(boston, 100)[0])
    stored = addresses.import_points(engine=engine, city=None, path=path).imported
    with Session(engine) as session:  # one suspended point is kept but taught to no city
        row = session.exec(select(AddressPointRecord)).first()
        assert row is not None
        row.suspended_at, row.suspended_reason = utcnow(), "two places for one address"
        session.add(row)
        session.commit()
        suspended = (row.text, row.lat, row.lon)
    taught: list = []
    monkeypatch.setattr(City, "add_address_points", lambda self, points: taught.append(list(points)), raising=False)
    monkeypatch.setattr(core_city, "_loaded", {})  # as in a new process
    settings = Settings(database_url=database_url, data_dir=tmp_path, osm_source=BOSTON_OSM,
                        GROUNDCREW_CACHE_DIR=CITY_CACHE)
    city = core_city.load_city(settings)
    assert [len(batch) for batch in taught] == [stored - 1]
    assert suspended not in {(p.text, p.lat, p.lon) for p in taught[0]}
    assert core_city.loaded_city(settings) is city and core_city.load_city(settings) is city
    assert len(taught) == 1  # taught when loaded, not again when asked for


def test_a_city_loads_without_the_table_and_creates_no_database(tmp_path):
    taught: list = []
    city = SimpleNamespace(add_address_points=taught.append)
    missing = tmp_path / "not-there" / "groundcrew.db"
    city_hooks.on_city_loaded(settings=Settings(database_url=f"sqlite:///{missing}", data_dir=tmp_path), city=city)
    assert not missing.exists() and not missing.parent.exists()
    empty = tmp_path / "old.db"
    sqlite3.connect(empty).close()  # a database from before the migration that adds the table
    city_hooks.on_city_loaded(settings=Settings(database_url=f"sqlite:///{empty}", data_dir=tmp_path), city=city)
    assert taught == []


# ------------------------------------------------------------------------------------------- the command
def _cli(args: list[str], tmp_path: Path, database_url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDCREW_")}
    env.update({"GROUNDCREW_DATA_DIR": str(tmp_path), "GROUNDCREW_DATABASE_URL": database_url,
                "GROUNDCREW_OSM_SOURCE": str(BOSTON_OSM), "GROUNDCREW_CACHE_DIR": str(CITY_CACHE), **extra})
    # the installed ``groundcrew`` entry point (``python -m server.cli`` would run a second copy of the module,
    # whose UserError the features' commands do not raise)
    command = [sys.executable, "-c", "from server.cli import main; main()", "import", "address-points", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_command_lists_every_bad_row_imports_nothing_then_skips_them(engine, database_url, boston, tmp_path):
    path, bad = _mixed_file(tmp_path, boston)
    refused = _cli([str(path)], tmp_path, database_url)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    for line, why in bad.items():
        assert any(f"history.csv: line {line}: " in out and why in out for out in refused.stderr.splitlines())
    assert "nothing was imported" in refused.stderr and _count(engine) == 0
    done = _cli([str(path), "--skip-bad", "--source", "boston-311"], tmp_path, database_url)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["imported"] == _count(engine) > 0 and summary["bad"] == len(bad)
    assert f"{summary['imported']} imported, 0 already known" in done.stdout
    again = _cli([str(path), "--skip-bad"], tmp_path, database_url)
    assert json.loads(again.stdout.strip().splitlines()[-1])["already_known"] == summary["imported"]
    assert _count(engine) == summary["imported"]


def test_the_command_refuses_an_unknown_format_in_one_line(database_url, tmp_path):
    baltimore = SHARED_DATA / "complaints" / "baltimore_311" / "baltimore_311_sample.csv"
    unknown = _cli([str(baltimore)], tmp_path, database_url)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    error = [line for line in unknown.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "cannot tell its format" in error[0] and "openaddresses-geojson" in error[0]
    assert "Loading the city" not in unknown.stderr  # told at once, not after the city's map has loaded
    bogus = _cli([str(baltimore), "--format", "kml"], tmp_path, database_url)
    assert bogus.returncode == 1 and "--format must be one of auto, csv, openaddresses-csv" in bogus.stderr
    field = _cli([str(HISTORY), "--source", "field"], tmp_path, database_url)
    assert field.returncode == 1 and "'field' is kept for locations confirmed on site" in field.stderr
    no_map = _cli([str(HISTORY)], tmp_path, database_url, GROUNDCREW_OSM_SOURCE=str(tmp_path / "none.osm.pbf"))
    assert no_map.returncode == 1 and "Traceback" not in no_map.stderr
    assert "street map could not be loaded" in no_map.stderr
