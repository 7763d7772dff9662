"""A city's "not geocoded" stand-in point is found from the 311 file itself: Boston's real stand-in rows (City Hall,
42.3594,-71.0587, a point inside the map) mixed into its real geocoded history are geotagged from their address
text, while the history rows keep their points. No list of cities is involved."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest
from sqlmodel import Session, create_engine, select

import geodata
from server.cases.models import Case
from server.config import Settings
from server.conversations.models import Message
from server.intake.importers import import_311
from tests.conftest import SHARED_DATA
from tests.server.intake.conftest import CITY_CACHE

BOSTON = SHARED_DATA / "cities" / "boston"
CITY_HALL = (42.3594, -71.0587)


@pytest.fixture(scope="module")
def boston():  # type: ignore[no-untyped-def]
    return geodata.load_city(BOSTON / "boston_cambridge_somerville.osm.pbf", CITY_CACHE)


@pytest.fixture
def engine(database_url):  # type: ignore[no-untyped-def]
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


def _rows(name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The file's rows, created_at as ISO 8601 (the generic 311 format's; Boston writes 01/05/2015 12:40:41 PM)."""
    with (BOSTON / name).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [{**r, "created_at": datetime.strptime(r["created_at"], "%m/%d/%Y %I:%M:%S %p").isoformat()}
                for r in reader]
        return list(reader.fieldnames or []), rows


def test_stand_in_rows_are_geotagged_from_their_text(engine, database_url, tmp_path, boston):
    header, history = _rows("boston_311_history_dev.csv")
    _, stand_ins = _rows("boston_311_placeholder_dev.csv")
    history = [r for r in history if boston.network.contains(float(r["lat"]), float(r["lon"]))][:120]
    mixed = history[:60] + stand_ins + history[60:]
    path = tmp_path / "boston_311.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(mixed)
    settings = Settings(database_url=database_url, data_dir=tmp_path, load_city=False, GROUNDCREW_CACHE_DIR=CITY_CACHE)
    summary = import_311(engine=engine, settings=settings, path=path, fmt="generic", city=boston)
    assert summary.placeholder_points == [CITY_HALL] and summary.placeholder_rows == len(stand_ins) == 150
    assert summary.as_dict()["placeholder_points"] == [list(CITY_HALL)]
    stand_in_ids = {r["id"] for r in stand_ins}
    with Session(engine) as session:
        located = {m.external_id: (m, session.exec(select(Case).where(Case.conversation_id == m.conversation_id))
                                   .first()) for m in session.exec(select(Message)).all()}
    assert len(located) == len(mixed) - summary.rejected and summary.rejected < 5
    for external_id, (message, case) in located.items():
        if external_id in stand_in_ids:
            assert (message.lat, message.lon) == (None, None)  # the stand-in point was not kept as the place
            assert case is None or case.geotag.get("kind") != "gps"
        else:
            assert (message.lat, message.lon) != (None, None)  # the real points are kept
            assert case is None or case.geotag.get("kind") == "gps"
    cases = [case for _, case in located.values() if case is not None and case.lat is not None]
    assert not any((c.lat, c.lon) == CITY_HALL for c in cases)  # no complaint is sent to City Hall
    geotags = [c.geotag for mid, (_, c) in located.items() if mid in stand_in_ids and c is not None]
    from_text = [g for g in geotags if g.get("lat") is not None or g.get("outside_service_area")]
    assert len(from_text) >= 120  # their address was read: a place on the map, or one outside it
    assert not any((g.get("lat"), g.get("lon")) == CITY_HALL for g in geotags)
