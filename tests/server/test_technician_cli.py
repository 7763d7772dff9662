"""``groundcrew technician add|list|import`` and ``groundcrew skills list`` through typer's CliRunner, on a temporary
SQLite database: a workforce set up without the API, bad rows refused with the row and the field named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from server.cli import UserError, app
from server.config import Settings
from server.core.db import make_engine
from server.jobs import service as jobs
from server.jobs.models import JobCreate
from tests.conftest import OUTPUT_DIR
from tests.server.conftest import JOB_BODY

CITY_CACHE = OUTPUT_DIR / ".city-cache"
HEADER = "name,skills,shift_start,shift_end,breaks,home_lat,home_lon\n"
GOOD = ("Ana Ruiz,electrical:3;general:2,08:00,17:00,11:30-14:00/30,39.2833,-76.5930\n"
        "Bo Lee,roads:2,7:00,15:30,,39.2805,-76.5735\n")
BAD = ("Cy Dale,water:x,08:00,07:00,,39.29,-76.58\n"
       "Di Fox,sanitation:2,09:00,18:00,12:00-13:00/45,39.29,\n"
       "Ana Ruiz,water:1,08:00,17:00,,39.28,-76.59\n")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``groundcrew ARGS`` against a fresh SQLite file: (exit code, output, the user error's text or '')."""
    for key in [k for k in os.environ if k.startswith("GROUNDCREW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GROUNDCREW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GROUNDCREW_DATABASE_URL", f"sqlite:///{tmp_path / 'crew.db'}")
    monkeypatch.setenv("GROUNDCREW_LOAD_CITY", "false")
    monkeypatch.setenv("GROUNDCREW_CACHE_DIR", str(CITY_CACHE))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        error = str(result.exception) if isinstance(result.exception, UserError) else ""
        if result.exception is not None and not isinstance(result.exception, (UserError, SystemExit)):
            raise result.exception
        return result.exit_code, result.output, error

    return run


def _listed(cli) -> list[dict]:  # type: ignore[no-untyped-def]
    code, out, _ = cli("technician", "list", "--json")
    assert code == 0
    return json.loads(out.strip().splitlines()[-1])


def test_add_then_list(cli):
    code, out, _ = cli("technician", "add", "Ana Ruiz", "--skills", "electrical:3; general:2", "--home-lat", "39.2833",
                       "--home-lon", "-76.593", "--shift-start", "07:30", "--shift-end", "16:00",
                       "--breaks", "11:30-14:00/30", "--phone", "+1 410 555 0100")
    assert code == 0, out
    assert "+ Ana Ruiz (id 1)" in out
    [tech] = _listed(cli)
    assert tech["name"] == "Ana Ruiz" and tech["skills"] == "electrical:3;general:2"
    assert tech["shift"] == "07:30-16:00" and tech["breaks"] == "11:30-14:00/30"
    assert (tech["home_lat"], tech["home_lon"]) == (39.2833, -76.593) and tech["availability"] == "on_shift"
    code, out, _ = cli("technician", "list")
    assert "Ana Ruiz" in out and "electrical:3;general:2" in out and "1 technician(s)" in out


def test_add_refuses_bad_values_and_a_second_technician_of_the_same_name(cli):
    code, out, error = cli("technician", "add", "Bo Lee", "--skills", "electrical:9", "--home-lat", "39.28",
                           "--home-lon", "-76.57", "--shift-start", "17:00", "--shift-end", "08:00")
    assert code != 0 and "not added" in error
    assert "skills: 'electrical:9': the level after ':' must be a whole number 1..5" in out
    assert "shift_end: must be after shift_start" in out
    code, out, error = cli("technician", "add", "Bo Lee", "--skills", "roads", "--home-lat", "39.28")
    assert code != 0 and "--home-lat and --home-lon go together" in error
    assert _listed(cli) == []
    added = cli("technician", "add", "Bo Lee", "--skills", "roads", "--home-lat", "39.28", "--home-lon", "-76.57")
    assert added[0] == 0
    code, out, error = cli("technician", "add", "bo lee ", "--skills", "water:2", "--home-lat", "39.28",
                           "--home-lon", "-76.57")
    assert code != 0 and "a technician named 'Bo Lee' already exists (id 1)" in error
    assert [t["skills"] for t in _listed(cli)] == ["roads:1"]


def test_import_refuses_the_whole_file_naming_each_bad_row_and_field(cli, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + GOOD + BAD, encoding="utf-8")
    code, out, error = cli("technician", "import", str(roster))
    assert code != 0
    assert "3 of 5 row(s) refused" in error and "nothing was imported" in error
    assert "roster.csv: row 4 (Cy Dale): skills: 'water:x': the level after ':' must be a whole number 1..5" in out
    assert "roster.csv: row 4 (Cy Dale): shift_end: must be after shift_start" in out
    assert "roster.csv: row 5 (Di Fox): home_lat/home_lon: give both coordinates" in out
    assert "roster.csv: row 6 (Ana Ruiz): name: 'Ana Ruiz' is also on row 2 (names must be unique)" in out
    assert "row 2 (Ana Ruiz)" not in out and "row 3 (Bo Lee)" not in out  # the good rows are not blamed
    assert _listed(cli) == []  # nothing half-imported

    roster.write_text(HEADER + GOOD, encoding="utf-8")
    code, out, _ = cli("technician", "import", str(roster), "--dry-run")
    assert code == 0 and "2 would be added (dry run: nothing stored)" in out and _listed(cli) == []
    code, out, _ = cli("technician", "import", str(roster))
    assert code == 0 and "2 row(s): 2 added, 0 already stored" in out
    listed = {t["name"]: t for t in _listed(cli)}
    assert listed["Bo Lee"]["skills"] == "roads:2" and listed["Bo Lee"]["shift"] == "07:00-15:30"
    assert listed["Ana Ruiz"]["breaks"] == "11:30-14:00/30"
    # Re-running the roster (one new person) adds only the new one.
    roster.write_text(HEADER + GOOD + "Eve Ng,water:2,08:00,17:00,,39.29,-76.58\n", encoding="utf-8")
    code, out, _ = cli("technician", "import", str(roster))
    assert code == 0 and "3 row(s): 1 added, 2 already stored (left unchanged)" in out
    assert len(_listed(cli)) == 3


def test_import_reads_a_weekly_shift_pattern_and_names_a_bad_one(cli, tmp_path):
    code, out, _ = cli("technician", "import", "--help")
    assert code == 0 and "1-4 07:00-17:30; 5 07:00-12:00" in out  # the format is in the command's help
    roster = tmp_path / "roster.csv"
    header = "name,skills,shifts,home_lat,home_lon\n"
    roster.write_text(header + "Ana Ruiz,electrical:3,1-4 7:00-17:30; 5 07:00-12:00; 6-7 off,39.2833,-76.5930\n"
                      "Bo Lee,roads:2,,39.2805,-76.5735\n"
                      "Cy Dale,roads:1,1-5 07:00-17:00; 5 off,39.29,-76.58\n"
                      "Di Fox,roads:1,5 12:00-07:00,39.29,-76.58\n"
                      "Eve Ng,roads:1,Mon 07:00-12:00,39.29,-76.58\n", encoding="utf-8")
    code, out, error = cli("technician", "import", str(roster))
    assert code != 0 and "3 of 5 row(s) refused" in error
    assert "row 4 (Cy Dale): shifts: weekday 5 is given twice" in out
    assert "row 5 (Di Fox): shifts: weekly_shifts.5.end: must be after start (12:00-07:00)" in out
    assert "row 6 (Eve Ng): shifts: 'Mon 07:00-12:00' is not weekdays then hours or 'off'" in out
    assert "row 2" not in out and "row 3" not in out
    roster.write_text(header + "Ana Ruiz,electrical:3,1-4 7:00-17:30; 5 07:00-12:00; 6-7 off,39.2833,-76.5930\n"
                      "Bo Lee,roads:2,,39.2805,-76.5735\n", encoding="utf-8")
    code, out, _ = cli("technician", "import", str(roster))
    assert code == 0, out
    listed = {t["name"]: t for t in _listed(cli)}
    assert listed["Ana Ruiz"]["shift"] == "Mon-Thu 07:00-17:30, Fri 07:00-12:00"
    assert listed["Bo Lee"]["shift"] == "08:00-17:00"  # no pattern: the everyday shift, as before


@pytest.mark.parametrize(("text", "message"), [
    ("name,skils,home_lat,home_lon\nA,roads:1,39.2,-76.5\n", "unknown column(s) 'skils'"),
    ("name,skills\nA,roads:1\n", "missing column(s) home_lat+home_lon or address"),
    ("name,skills,home_lat,home_lon\n", "no rows under the header"),
])
def test_import_refuses_a_file_it_cannot_read(cli, tmp_path, text, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(text, encoding="utf-8")
    code, _, error = cli("technician", "import", str(roster))
    assert code != 0 and message in error


def test_import_geotags_addresses_on_the_map(cli, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,skills,address,home_lat,home_lon\nFay Gold,water:2,3100 Eastern Ave,,\n"
                      "Gus Hale,roads:1,1 Nowhere Boulevard,,\n", encoding="utf-8")
    code, out, error = cli("technician", "import", str(roster))
    assert code != 0 and "1 of 2 row(s) refused" in error
    assert "row 3 (Gus Hale): address: '1 Nowhere Boulevard': not found on the map" in out
    assert "give home_lat/home_lon instead" in out
    roster.write_text("name,skills,address,home_lat,home_lon\nFay Gold,water:2,3100 Eastern Ave,,\n", "utf-8")
    code, out, _ = cli("technician", "import", str(roster))
    assert code == 0 and "row 2 (Fay Gold): address '3100 Eastern Ave' →" in out
    [fay] = _listed(cli)
    # Eastern Avenue, Canton (Baltimore): the 3100 block lies near 39.285 N, 76.571 W.
    assert 39.27 < fay["home_lat"] < 39.30 and -76.59 < fay["home_lon"] < -76.55


def test_skills_list_shows_what_the_catalogue_needs_and_who_has_it(cli, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + GOOD, encoding="utf-8")
    assert cli("technician", "import", str(roster))[0] == 0
    engine = make_engine(Settings())
    with Session(engine) as session:  # two open jobs: one anyone with 'electrical' can do, one nobody can
        jobs.create(session=session, job_in=JobCreate(**JOB_BODY), actor=None)
        jobs.create(session=session, job_in=JobCreate(**{**JOB_BODY, "required_skills": {"gas": 1}}), actor=None)
        session.commit()
    engine.dispose()
    code, out, _ = cli("skills", "list", "--json")
    assert code == 0
    rows = {r["skill"]: r for r in json.loads(out.strip().splitlines()[-1])}
    assert rows["electrical"]["technicians"] == 1 and rows["electrical"]["by_level"] == {"3": 1}
    assert any(s.startswith("streetlight ") for s in rows["electrical"]["services"])
    assert rows["electrical"]["open_jobs"] == 1
    assert any(s.startswith("pothole ") for s in rows["roads"]["services"]) and rows["roads"]["technicians"] == 1
    assert rows["gas"]["technicians"] == 0 and rows["gas"]["open_jobs"] == 1
    assert rows["general"]["services"] == []  # held, but no service needs it
    code, out, _ = cli("skills", "list")
    assert code == 0
    assert "warning: no technician has 'gas': gas_leak jobs cannot be planned (1 open now)" in out
    assert "no service (not in the catalogue)" in out
