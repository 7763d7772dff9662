"""The Nominatim peer's pure parts: query preparation and result parsing (no Nominatim, no import)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.geotag_nominatim import (
    WORKER,
    PeerRun,
    database_name,
    file_sha256,
    parse_result,
    prepare_queries,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Baltimore 311: comma parts, city, 2-letter state, ZIP
        ("3400 GARRISON BLVD, BALTIMORE, MD, 21215",
         ["3400 GARRISON BLVD, BALTIMORE, MD, 21215", "3400 GARRISON BLVD, BALTIMORE", "3400 GARRISON BLVD"]),
        ("3016 THORNDALE AVE, BC", ["3016 THORNDALE AVE, BC", "3016 THORNDALE AVE"]),
        # Boston 311: double spaces separate the parts
        ("29 Hereford St  Boston  MA  02115",
         ["29 Hereford St Boston MA 02115", "29 Hereford St, Boston", "29 Hereford St"]),
        # single spaces: only the trailing "STATE ZIP" can be recognised
        ("29 Hereford St Boston MA 02115", ["29 Hereford St Boston MA 02115", "29 Hereford St Boston"]),
        # Helsinki: leading postcode in a part, country word
        ("Sturenkatu 33, 00550 Helsinki, Suomi",
         ["Sturenkatu 33, 00550 Helsinki, Suomi", "Sturenkatu 33, Helsinki", "Sturenkatu 33"]),
        ("Sokos, Kaivokatu 3, 00100 Helsinki, Suomi",
         ["Sokos, Kaivokatu 3, 00100 Helsinki, Suomi", "Sokos, Kaivokatu 3, Helsinki", "Sokos, Kaivokatu 3", "Sokos"]),
        ("Main St 5, Springfield, USA", ["Main St 5, Springfield, USA", "Main St 5, Springfield", "Main St 5"]),
    ],
)
def test_prepare_queries_raw_first_then_shorter(text: str, expected: list[str]) -> None:
    assert prepare_queries(text) == expected


@pytest.mark.parametrize("text", ["400 N CHARLES ST", "6807 Rolling Mill Road", "Mannerheimintie 12"])
def test_street_words_and_house_numbers_are_kept(text: str) -> None:
    # "ST" is a street type, not a state code; a 4-digit leading house number is not a postcode
    assert prepare_queries(text) == [text]


def test_prepare_queries_edge_cases() -> None:
    assert prepare_queries("   ") == []
    # runs of spaces separate parts; a mixed-case 2-letter part is no state code; a bare number is no query
    assert prepare_queries("  12   Elm   Rd ") == ["12 Elm Rd", "12, Elm, Rd", "12, Elm"]
    assert prepare_queries("12 Elm Rd, Town, 02115") == ["12 Elm Rd, Town, 02115", "12 Elm Rd, Town", "12 Elm Rd"]
    qs = prepare_queries("1 A St, X, X")
    assert len(qs) == len(set(qs))  # no query asked twice


def test_parse_result_found_and_not_found() -> None:
    hit = {"i": 0, "hit": {"variant": 2, "lat": 39.28, "lon": -76.59, "query": "x"}}
    assert parse_result(json.dumps(hit)) == ((39.28, -76.59), 2)
    assert parse_result(hit) == ((39.28, -76.59), 2)
    assert parse_result({"i": 1, "hit": None}) == (None, None)


@pytest.mark.parametrize(
    "hit",
    [
        {"variant": 0, "lat": 91.0, "lon": 0.0},
        {"variant": 0, "lat": 0.0, "lon": 181.0},
        {"variant": 0, "lat": math.nan, "lon": 1.0},
        {"variant": 0, "lat": "x", "lon": 1.0},
        {"variant": -1, "lat": 1.0, "lon": 1.0},
        {"lat": 1.0, "lon": 1.0},
    ],
)
def test_parse_result_rejects_bad_points(hit: dict) -> None:
    assert parse_result({"i": 0, "hit": hit}) == (None, None)


def test_found_counts_split_raw_and_fallback() -> None:
    run = PeerRun(locations=[(1.0, 2.0), None, (3.0, 4.0), (5.0, 6.0)], found_by=[0, None, 1, 3],
                  database="gc_nominatim_x", setup_s=0.0, import_s=None, query_s=1.0, queries_per_s=4.0)
    assert (run.found_raw, run.found_fallback) == (1, 2)


def test_database_name_from_file_hash(tmp_path) -> None:
    f = tmp_path / "a.osm.pbf"
    f.write_bytes(b"abc")
    sha = file_sha256(f)
    assert sha == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert database_name(sha) == "gc_nominatim_ba7816bf8f"


def test_worker_script_compiles_and_uses_top_result_only() -> None:
    compile(WORKER, "query_worker.py", "exec")
    assert "max_results=1" in WORKER
