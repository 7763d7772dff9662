"""Address-points files on real rows (Boston 311 history, Baltimore, Helsinki and London 311): every format read,
bad rows reported by the line they are on, an unknown format refused naming the formats, and the "not geocoded"
stand-in points found from the data alone (no city is named in the code)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from geodata.address_points import (
    AddressFileError,
    AddressPoint,
    RowProblem,
    detect_format,
    placeholder_points,
    read_address_points,
    split_placeholders,
    street_key,
)
from tests.geodata.conftest import REPORTS_311, SHARED

BOSTON = SHARED / "cities" / "boston"
HISTORY = BOSTON / "boston_311_history_dev.csv"
STAND_IN_ROWS = BOSTON / "boston_311_placeholder_dev.csv"
HELSINKI = SHARED / "cities" / "helsinki" / "helsinki_feedback_2015_all.csv"
LONDON = SHARED / "complaints" / "fixmystreet_london" / "fixmystreet_london_sample.csv"
OA_TAIL = re.compile(r"^(\d[\w-]*) (.+) (Boston|Charlestown) MA (\d{5})$")


def _rows(path: Path, text: str = "text", lat: str = "lat", lon: str = "lon") -> list[tuple[str, float, float]]:
    with path.open(newline="", encoding="utf-8") as handle:
        out = []
        for row in csv.DictReader(handle):
            try:
                out.append(((row[text] or "").strip(), float(row[lat]), float(row[lon])))
            except ValueError:
                continue
        return out


def _history(n: int | None = None) -> list[dict[str, str]]:
    with HISTORY.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[:n]


def test_a_real_311_history_reads_whole(tmp_path):
    points, problems = read_address_points(HISTORY)
    assert problems == [] and len(points) == 7588
    assert points[0] == AddressPoint("29 Hereford St Boston MA 02115", 42.3504, -71.0867, "import")
    assert detect_format(HISTORY) == "csv"
    named, _ = read_address_points(HISTORY, "csv", source="boston-311")
    assert {p.source for p in named} == {"boston-311"}


def test_bad_rows_are_reported_by_the_line_they_are_on(tmp_path):
    rows = _history(6)
    path = tmp_path / "points.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "lat", "lon"])
        writer.writerow([rows[0]["id"], rows[0]["text"], rows[0]["lat"], rows[0]["lon"]])        # line 2: good
        writer.writerow([rows[1]["id"], "", rows[1]["lat"], rows[1]["lon"]])                      # 3: no text
        writer.writerow([rows[2]["id"], "a note\nover two lines", rows[2]["lat"], rows[2]["lon"]])  # 4-5: good
        writer.writerow([rows[3]["id"], rows[3]["text"], "forty-two", rows[3]["lon"]])            # 6: not a number
        writer.writerow([rows[4]["id"], rows[4]["text"], "142.35", rows[4]["lon"]])               # 7: off the Earth
        writer.writerow([rows[5]["id"], rows[5]["text"], "0", "0"])                               # 8: (0, 0)
        writer.writerow([rows[5]["id"], rows[5]["text"], rows[5]["lat"]])                         # 9: lon missing
        writer.writerow([rows[5]["id"], rows[5]["text"], rows[5]["lat"], "nan"])                  # 10: not finite
    points, problems = read_address_points(path)
    assert [p.text for p in points] == [rows[0]["text"], "a note over two lines"]
    assert [p.line for p in problems] == [3, 6, 7, 8, 9, 10]
    messages = dict((p.line, p.message) for p in problems)
    assert messages[3].startswith("text: empty")
    assert messages[6] == "lat: 'forty-two' is not a number"
    assert messages[7].startswith("lat: 142.35 is out of range (-90..90)")
    assert "(0, 0)" in messages[8]
    assert messages[9] == "lon: missing"
    assert "finite" in messages[10]
    assert str(problems[0]) == f"line 3: {messages[3]}"


def test_a_file_without_the_columns_says_which_are_missing(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("text,latitude,lon\n29 Hereford St Boston MA 02115,42.3504,-71.0867\n", encoding="utf-8")
    points, problems = read_address_points(path, "csv")
    assert points == [] and len(problems) == 1
    assert problems[0].line == 1 and "missing column(s) lat" in problems[0].message
    assert "latitude" in problems[0].message  # what was found instead


def test_an_unknown_format_names_the_formats_supported(tmp_path):
    with pytest.raises(AddressFileError, match=r"unknown format 'shapefile'.*openaddresses-geojson"):
        read_address_points(HISTORY, "shapefile")
    # Baltimore's own 311 export is not an address-points file: 'auto' cannot tell and says what would do
    with pytest.raises(AddressFileError) as caught:
        read_address_points(REPORTS_311)
    message = str(caught.value)
    assert "cannot tell its format (the first line has SRRecordID, ServiceRequestNum, SRType" in message
    for name in ("csv (columns text,lat,lon)", "openaddresses-csv", "openaddresses-geojson", "--format"):
        assert name in message
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,lat,lon\nSturenkatu 33 Hyvinkää,60.1,24.9\n".encode("latin-1"))
    with pytest.raises(AddressFileError, match="not UTF-8"):
        read_address_points(latin1)


def _oa_rows(n: int) -> list[dict[str, str]]:
    """OpenAddresses rows cut from real Boston addresses (number, street, city, postcode as OpenAddresses has them)."""
    out = []
    for row in _history():
        match = OA_TAIL.match(row["text"])
        if match and len(out) < n:
            number, street, city, postcode = match.groups()
            out.append({"LON": row["lon"], "LAT": row["lat"], "NUMBER": number, "STREET": street, "UNIT": "",
                        "CITY": city, "DISTRICT": "Suffolk", "REGION": "MA", "POSTCODE": postcode, "ID": row["id"],
                        "HASH": f"{int(row['id']):016x}"})
    return out


def test_openaddresses_csv(tmp_path):
    rows = _oa_rows(5)
    rows[1]["UNIT"] = "APT 3"
    rows[2]["NUMBER"] = ""
    path = tmp_path / "us_ma_boston.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert detect_format(path) == "openaddresses-csv"
    points, problems = read_address_points(path)
    assert points[0].text == f"{rows[0]['NUMBER']} {rows[0]['STREET']}, {rows[0]['CITY']} MA {rows[0]['POSTCODE']}"
    assert (points[0].lat, points[0].lon) == (float(rows[0]["LAT"]), float(rows[0]["LON"]))  # LON comes first
    assert "APT" not in points[1].text  # every unit of a building shares its point
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [(4, "NUMBER")]
    assert len(points) == 4


def _features(rows: list[dict[str, str]]) -> list[dict]:
    return [{"type": "Feature", "properties": {"hash": r["HASH"], "number": r["NUMBER"], "street": r["STREET"],
                                               "unit": r["UNIT"], "city": r["CITY"], "district": r["DISTRICT"],
                                               "region": r["REGION"], "postcode": r["POSTCODE"], "id": r["ID"]},
             "geometry": {"type": "Point", "coordinates": [float(r["LON"]), float(r["LAT"])]}} for r in rows]


def test_openaddresses_geojson_one_feature_per_line(tmp_path):
    features = _features(_oa_rows(4))
    features[2]["geometry"] = {"type": "LineString", "coordinates": [[-71.06, 42.35], [-71.07, 42.36]]}
    lines = [json.dumps(f) for f in features]
    lines.insert(2, lines[1][:40])  # line 3: cut off
    lines.insert(3, "")  # a blank line is no row
    path = tmp_path / "us_ma_boston-addresses-city.geojson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    points, problems = read_address_points(path)
    assert len(points) == 3 and points[0].text == openaddresses_text(features[0])
    assert [p.line for p in problems] == [3, 5]
    assert problems[0].message.startswith("broken JSON") and "Point" in problems[1].message


def openaddresses_text(feature: dict) -> str:
    p = feature["properties"]
    return f"{p['number']} {p['street']}, {p['city']} {p['region']} {p['postcode']}"


def test_openaddresses_geojson_feature_collection_lines_are_exact(tmp_path):
    features = _features(_oa_rows(3))
    features[1]["properties"]["street"] = ""
    features[2]["geometry"]["coordinates"] = [-71.05, 142.35]
    path = tmp_path / "boston.geojson"
    text = json.dumps({"type": "FeatureCollection", "name": "boston", "features": features}, indent=2)
    path.write_text(text, encoding="utf-8")
    points, problems = read_address_points(path, "openaddresses-geojson")
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "{" and i > 0]
    assert [p.text for p in points] == [openaddresses_text(features[0])]
    assert [p.line for p in problems] == starts[1:]  # where the second and third features begin
    assert "street" in problems[0].message and "out of range" in problems[1].message
    broken = tmp_path / "broken.geojson"
    broken.write_text(text[: len(text) // 2], encoding="utf-8")
    kept, trouble = read_address_points(broken)
    assert len(kept) == 1 and trouble[-1].message.endswith("the rest of the file was not read")


# ------------------------------------------------------------------------------------------- placeholders
def test_the_stand_in_point_is_found_among_real_history_rows():
    history, stand_ins = _rows(HISTORY), _rows(STAND_IN_ROWS)
    assert placeholder_points(history + stand_ins) == {(42.3594, -71.0587)}
    assert placeholder_points(history) == set()  # a history with no stand-in rows has none
    # the busiest real points of the same file carry one address each, however often reported
    busiest = Counter((lat, lon) for _, lat, lon in history).most_common(3)
    assert busiest[0][1] >= 50
    points, _ = read_address_points(HISTORY)
    extra, _ = read_address_points(STAND_IN_ROWS)
    keep, dropped = split_placeholders(points + extra)
    assert len(dropped) == 150 and len(keep) == len(points)


def test_stand_in_points_of_another_city_without_naming_it():
    rows = _rows(REPORTS_311, "Address", "Latitude", "Longitude")
    found = placeholder_points(rows)
    assert (39.0, -77.0) in found  # 720 rows, ~500 streets
    by_point = Counter((lat, lon) for _, lat, lon in rows)
    for point in found:  # every point found is a stand-in: whole degrees, outside the city
        assert point == (round(point[0]), round(point[1]))
    busy_real = [p for p, n in by_point.most_common(10) if n >= 10 and p not in found]
    assert busy_real  # e.g. 34 reports of one Holliday St address: not a stand-in


def test_real_points_are_never_stand_ins_in_cities_without_one():
    assert placeholder_points(_rows(HELSINKI)) == set()
    assert placeholder_points(_rows(LONDON, "address")) == set()
    assert placeholder_points(_rows(BOSTON / "boston_311_eval_dev.csv")) == set()


def test_the_rule_takes_many_streets_not_many_reports():
    busy = [("29 Hereford St Boston MA 02115", 42.3504, -71.0867)] * 30
    corner = [("INTERSECTION of Boylston St & Dartmouth St Boston MA", 42.3504, -71.0867),
              ("INTERSECTION of Dartmouth St & Boylston St Boston MA", 42.3504, -71.0867),
              ("755 Boylston St Boston MA 02116", 42.3504, -71.0867)]
    assert placeholder_points(busy + corner) == set()  # one address 30 times and a corner: a real place
    stand_in = [(text, 42.3594, -71.0587) for text, _, _ in _rows(STAND_IN_ROWS)[:4]]
    assert placeholder_points(busy + stand_in) == {(42.3594, -71.0587)}  # four unrelated streets on one point
    assert placeholder_points(stand_in[:3]) == set()  # three are not enough to tell


def test_street_key_keeps_the_street_and_drops_numbers():
    assert street_key("120-128A Essex St Boston MA 02111") == {"essex", "st", "boston", "ma"}
    assert street_key("19th St NW") != street_key("20th St NW")  # ordinals are part of the street
    assert street_key("32, Ancaster Road, Elmers End, London") == {"ancaster", "road"}
    assert street_key("Sturenkatu 33, 00550 Helsinki, Suomi") == {"sturenkatu"}
    assert street_key("INTERSECTION of Boylston St & Dartmouth St") == street_key("Dartmouth St and Boylston St")


def test_row_problem_is_a_value():
    assert RowProblem(3, "text: empty") == RowProblem(3, "text: empty")
