"""House-number interpolation (hundred-block model) and its accuracy on real 311 rows."""

from __future__ import annotations

import inspect

import numpy as np

from benchmarks.geotag_eval import read_rows
from geodata import City, geotag
from geodata.numbering import StreetNumbering, infer_numbering
from geodata.projection import haversine_m

from .conftest import REPORTS_311


def _grid() -> tuple[list[np.ndarray], list[str], dict, dict]:
    """Three parallel E-W streets (0, 1, 2) at y = 0, 100, 200 and five N-S cross streets (3..7)
    at x = 0, 120, 240, 360, 480. Only street 0 has address points (hundred-blocks growing east,
    starting at 1000 at x = 0)."""
    axes = [np.array([1.0, 0.0])] * 3 + [np.array([0.0, 1.0])] * 5
    prefixes = ["e", "e", "e", "", "", "", "", ""]
    crossings: dict[int, list] = {s: [] for s in range(8)}
    for row in range(3):
        for col in range(5):
            xy = np.array([120.0 * col, 100.0 * row])
            crossings[row].append((xy[0], 3 + col, xy))
            crossings[3 + col].append((xy[1], row, xy))
    addresses = {0: [(12.0, 1005.0), (60.0, 1051.0), (132.0, 1111.0), (200.0, 1167.0)]}
    return axes, prefixes, crossings, addresses


def test_cross_street_hundreds_number_parallel_streets_without_addresses() -> None:
    axes, prefixes, crossings, addresses = _grid()
    numberings, per_m, _ = infer_numbering(axes, prefixes, crossings, addresses)
    assert 0.5 < per_m < 1.2
    third = numberings[2]  # no address point at all: numbered from the cross streets' hundreds
    assert len(third.t) >= 3 and third.slope > 0
    t = third.locate(1250.0, per_m)
    assert t is not None and 240 < t < 360  # the 1200 block lies between the 3rd and 4th cross street
    t = third.locate(1450.0, per_m)  # beyond the last numbered block: extrapolated eastwards
    assert t is not None and t > 420
    assert StreetNumbering().locate(100.0, per_m) is None


def test_numbering_respects_the_direction_of_the_prefix() -> None:
    """Streets with the same prefix number the same way; a parallel street with the other prefix
    (the other side of a baseline) never copies their hundreds."""
    axes, prefixes, crossings, addresses = _grid()
    prefixes[2] = "w"
    numberings, _, _ = infer_numbering(axes, prefixes, crossings, addresses)
    assert len(numberings[1].t) >= 3
    assert not len(numberings[2].t)


def test_no_city_names_in_the_geotagger(city: City) -> None:
    source = inspect.getsource(geotag).lower()
    assert '"baltimore"' not in source and '"md"' not in source
    gz = city.gazetteer
    assert gz is not None and {"baltimore", "md"} <= gz.area_words  # learned from addr:city / addr:state


def test_a_landmark_inside_a_street_name_does_not_win(city: City) -> None:
    c = city.geotag("1720 N PATTERSON PARK AVE, BALTIMORE, MD, 21213")[0]
    assert c.kind == "address" and "Patterson Park Avenue" in c.explanation


def test_accuracy_on_300_rows_of_the_test_half(city: City) -> None:
    """Pins the accuracy measured on the held-apart test half (record-id parity), with a margin.

    Measured on these 300 rows when this test was written: median 53 m, within 100 m 69 %,
    within 250 m 76 %, resolved 85 % (most of the rest name streets absent from the OSM extract).
    """
    rows, _ = read_rows(REPORTS_311, "baltimore311", city, split="test")
    rows = rows[:300]
    assert len(rows) == 300
    errors = np.array([
        haversine_m(lat, lon, c[0].lat, c[0].lon) if (c := city.geotag(text)) else np.inf
        for text, lat, lon in rows
    ])
    assert np.isfinite(errors).mean() >= 0.85 - 0.03
    assert np.median(errors) <= 53 + 12
    assert np.mean(errors <= 100) >= 0.69 - 0.05
    assert np.mean(errors <= 250) >= 0.76 - 0.04


def test_the_numbering_convention_is_read_from_the_data() -> None:
    from geodata.numbering import uses_hundred_blocks

    us = {0: [(float(t), 3400.0 + t / 2) for t in range(0, 400, 20)]}
    europe = {0: [(float(t), 1.0 + t // 20) for t in range(0, 400, 20)]}
    assert uses_hundred_blocks(us) and not uses_hundred_blocks(europe)


def test_each_side_of_a_street_is_interpolated_at_its_own_pace() -> None:
    """Odd numbers run twice as fast as even ones along this street (one side has narrow houses): 15 lies
    between the odd 11 and 21, not where the even side's 14 is."""
    axes, prefixes = [np.array([1.0, 0.0])], [""]
    odd = [(float(t), 1.0 + 2 * (t // 20)) for t in range(0, 400, 20)]  # 1, 3, 5, ... every 20 m
    even = [(float(t), 2.0 + 2 * (t // 40)) for t in range(0, 800, 40)]  # 2, 4, 6, ... every 40 m
    numberings, _, _ = infer_numbering(axes, prefixes, {0: []}, {0: odd + even})
    t15 = numberings[0].locate(15.0, 0.1)
    t14 = numberings[0].locate(14.0, 0.1)
    assert t15 is not None and abs(t15 - 140.0) < 1.0
    assert t14 is not None and abs(t14 - 240.0) < 1.0
