"""Street network, snapping, matrices and routes on the real demo city (Baltimore, 2015 OSM)."""

from __future__ import annotations

import bz2
import itertools
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from geodata import (
    InvalidCoordinatesError,
    NetworkUnavailableError,
    NoDrivableRoadsError,
    OsmFileError,
    OutsideServiceAreaError,
    StreetNetwork,
    TooFarFromRoadError,
    load_network,
    network_from_place,
)
from geodata.projection import haversine_m

from .conftest import DATA, SHARED


def _on_edge(net: StreetNetwork, e: int, frac: float) -> tuple[float, float]:
    """(lat, lon) of the point `frac` of the way along edge e."""
    pt = net.edge_lines_xy[e].interpolate(frac, normalized=True)
    lon, lat = net.projection.to_lonlat(pt.x, pt.y)
    return float(lat), float(lon)


def _served_nodes(net: StreetNetwork) -> np.ndarray:
    """Indices of the network's nodes inside the service area (roads also run on past the mapped area)."""
    return np.array([i for i in range(net.n_nodes) if net.contains(net.node_lat[i], net.node_lon[i])])


def test_build_keeps_a_strongly_connected_drivable_network(net: StreetNetwork) -> None:
    r = net.report
    assert r.nodes == net.n_nodes > 3000 and r.edges == net.n_edges > 8000
    assert r.dropped_nodes > 0  # the extract cuts roads at its edge; those fragments are reported
    G = net.to_networkx()
    assert nx.is_strongly_connected(G)
    assert {"footway", "path", "pedestrian"}.isdisjoint(net.edge_highway)


def test_second_load_comes_from_the_disk_cache(demo_osm: Path, cache_dir: Path, net: StreetNetwork) -> None:
    again = load_network(demo_osm, cache_dir)
    assert again.n_edges == net.n_edges
    assert np.array_equal(again.edge_time_ms, net.edge_time_ms)


def _load_and_tell_if_built(osm: str, cache_dir: str) -> bool:
    from geodata import load_city

    return load_city(Path(osm), Path(cache_dir)).built


def test_processes_started_together_build_the_city_once(tmp_path: Path) -> None:
    """An API and its workers started together on a fresh machine: the first builds, the others wait for its cache
    instead of each building the same city. The test holds the build lock while both start, so both are sure to
    find no cache; without the lock both would build."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from geodata import cache
    from geodata._osm import check_osm_path
    from geodata.city import _entry
    from geodata.config import NetworkConfig

    osm = DATA / "porto_calendario.osm.bz2"
    entry = _entry(check_osm_path(osm), tmp_path, NetworkConfig())
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        with cache.build_lock(entry):
            started = [pool.submit(_load_and_tell_if_built, str(osm), str(tmp_path)) for _ in range(2)]
            time.sleep(1.0)  # both are waiting at the lock (or not yet there: they then find it held, or the cache)
            assert not any(f.done() for f in started)
        built = sorted(f.result(timeout=300) for f in started)
    assert built == [False, True]


def test_snaps_to_nearest_edge_not_node(net: StreetNetwork) -> None:
    e = int(np.argmax(net.edge_len_xy * (np.array(net.edge_name) == "Eastern Avenue")))
    mid = net.edge_coords(e)[len(net.edge_coords(e)) // 2]
    lon, lat = mid[0] + 0.0001, mid[1] + 0.0001  # ~12 m off the road
    p = net.snap(lat, lon)
    assert p.street == "Eastern Avenue"
    assert 0 < p.snap_distance_m < 20
    nearest_node_m = haversine_m(lat, lon, net.node_lat, net.node_lon).min()
    assert p.snap_distance_m < nearest_node_m
    assert p.access_time_s > 0


@pytest.mark.parametrize(
    ("lat", "lon", "error"),
    [
        (40.7128, -74.0060, OutsideServiceAreaError),  # New York
        (39.0, -77.0, OutsideServiceAreaError),  # the 311 placeholder point
        (91.0, -76.6, InvalidCoordinatesError),
        (39.28, -200.0, InvalidCoordinatesError),
        (float("nan"), -76.6, InvalidCoordinatesError),
        ("abc", -76.6, InvalidCoordinatesError),
    ],
)
def test_unservable_points_are_refused_with_a_reason(net: StreetNetwork, lat: object, lon: float, error: type) -> None:
    with pytest.raises(error, match=r"\S"):
        net.snap(lat, lon)  # type: ignore[arg-type]


def test_point_in_the_harbour_is_too_far_from_any_road(net: StreetNetwork) -> None:
    # Middle of the Patapsco's Northwest Branch between Fells Point and Locust Point.
    with pytest.raises(TooFarFromRoadError, match="max_snap_distance_m"):
        net.snap(39.2722, -76.5850)


def test_one_way_street_is_asymmetric(net: StreetNetwork) -> None:
    one_way = [e for e in range(net.n_edges) if net.edge_twin[e] < 0 and net.edge_len_xy[e] > 120
               and net.edge_highway[e] == "residential"]
    e = one_way[0]
    m = net.travel_time_matrix([_on_edge(net, e, 0.2), _on_edge(net, e, 0.8)])
    assert m.travel_time_s[0, 1] < m.travel_time_s[1, 0]
    assert m.distance_m[0, 1] < m.distance_m[1, 0]


def test_matrix_matches_networkx_shortest_paths(net: StreetNetwork) -> None:
    rng = np.random.default_rng(7)
    nodes = rng.choice(_served_nodes(net), 25, replace=False)
    m = net.travel_time_matrix([(net.node_lat[n], net.node_lon[n]) for n in nodes])
    G = net.to_networkx()
    simple = nx.DiGraph()
    for u, v, d in G.edges(data=True):
        if not simple.has_edge(u, v) or d["travel_time"] < simple[u][v]["travel_time"]:
            simple.add_edge(u, v, travel_time=d["travel_time"], length=d["length"])
    for i, s in enumerate(nodes):
        times, paths = nx.single_source_dijkstra(simple, int(s), weight="travel_time")
        for j, t in enumerate(nodes):
            assert m.travel_time_s[i, j] == pytest.approx(times[int(t)], abs=0.01)
            path = paths[int(t)]
            length = sum(simple[a][b]["length"] for a, b in itertools.pairwise(path))
            assert m.distance_m[i, j] == pytest.approx(length, abs=1.0)
    assert (m.travel_time_s != m.travel_time_s.T).any()  # one-ways make it asymmetric


def test_mid_edge_points_on_the_same_road_take_the_direct_way(net: StreetNetwork) -> None:
    served = np.isin(net.edge_u, _served_nodes(net)) & np.isin(net.edge_v, _served_nodes(net))
    e = int(np.argmax(net.edge_len_xy * (net.edge_twin >= 0) * served))
    length = float(net.edge_len_xy[e])
    m = net.travel_time_matrix([_on_edge(net, e, 0.3), _on_edge(net, e, 0.4)])
    # Both ways along the two-way road: a tenth of the edge, never a detour round the block.
    assert m.distance_m[0, 1] == pytest.approx(0.1 * length, rel=0.02, abs=1.0)
    assert m.distance_m[1, 0] == pytest.approx(0.1 * length, rel=0.02, abs=1.0)


def test_matrix_cache_adds_one_point_without_recomputing(net: StreetNetwork) -> None:
    rng = np.random.default_rng(3)
    nodes = rng.choice(_served_nodes(net), 40, replace=False)
    pts = [(round(float(net.node_lat[n]) + 1e-4, 6), round(float(net.node_lon[n]) - 1e-4, 6)) for n in nodes]
    cache = net.matrix_cache()
    cache.add_many(pts[:-1])
    assert len(cache) == 39
    assert cache.add(*pts[-1]) == 39
    assert cache.add(*pts[0]) == 0  # known location: nothing new
    full = net.travel_time_matrix(pts)
    cached = cache.matrix()
    np.testing.assert_allclose(cached.travel_time_s, full.travel_time_s, atol=1e-6)
    np.testing.assert_allclose(cached.distance_m, full.distance_m, atol=1e-6)
    sub = cache.matrix([pts[5], pts[2]])
    assert sub.travel_time_s[0, 1] == pytest.approx(full.travel_time_s[5, 2])


def test_route_geojson_follows_the_matrix(net: StreetNetwork) -> None:
    stops = [(39.2858, -76.5835), (39.2905, -76.5935), (39.2790, -76.5750)]
    gj = net.route_geojson(stops)
    m = net.travel_time_matrix(stops)
    assert [f["properties"]["leg"] for f in gj["features"]] == [0, 1]
    for k, f in enumerate(gj["features"]):
        coords = np.array(f["geometry"]["coordinates"])
        drawn_m = haversine_m(coords[:-1, 1], coords[:-1, 0], coords[1:, 1], coords[1:, 0]).sum()
        assert f["properties"]["travel_time_s"] == pytest.approx(m.travel_time_s[k, k + 1], abs=0.01)
        assert drawn_m == pytest.approx(f["properties"]["distance_m"], rel=0.05)


def test_streets_geojson_and_service_area(net: StreetNetwork) -> None:
    everything = net.streets_geojson()
    box = net.streets_geojson((-76.59, 39.28, -76.58, 39.29))
    assert 0 < len(box["features"]) < len(everything["features"])
    assert any(f["properties"]["name"] == "Eastern Avenue" for f in everything["features"])
    assert net.service_area.contains(__import__("shapely").Point(-76.58, 39.285))
    assert not net.contains(39.0, -77.0)


def test_service_area_ends_where_the_extract_ends(net: StreetNetwork) -> None:
    """The extract keeps whole ways that cross its edge, so roads run on outside the mapped box with
    none of the streets around them; the service area stops at the mapped area, not at those roads."""
    shapely = pytest.importorskip("shapely")
    lat, lon = 39.2940656, -76.523194  # a network node on a road that leaves the extract to the east (~480 m)
    i = int(np.argmin(np.hypot(net.node_lat - lat, net.node_lon - lon)))
    assert haversine_m(lat, lon, net.node_lat[i], net.node_lon[i]) < 1  # it is a real road of the network
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([net.node_lon, net.node_lat])))
    assert hull.contains(shapely.Point(lon, lat))  # inside the roads' hull, yet
    assert not net.contains(lat, lon)  # outside the mapped area
    with pytest.raises(OutsideServiceAreaError, match="outside the service area"):
        net.snap(lat, lon)
    ring = np.asarray(net.extract_area)  # inferred from the nodes that belong to no way (the file has no bounds)
    lo, hi = ring.min(axis=0), ring.max(axis=0)  # the box osmconvert cut (in the .pbf's header)
    assert lo == pytest.approx((-76.6081, 39.2586), abs=0.001) and hi == pytest.approx((-76.5288, 39.3065), abs=0.001)


def test_extract_area_prefers_declared_bounds_and_needs_enough_evidence() -> None:
    from geodata._osm import MIN_FREE_NODES, _header_box, extract_area

    pbf = SHARED / "osm" / "baltimore_central.osm.pbf"
    assert pbf.is_file(), f"shared test data missing: {pbf}"
    assert _header_box(pbf) == pytest.approx((-76.6081, 39.2586, -76.5288, 39.3065))
    assert _header_box(DATA / "tiny_portland.osm") is None
    free = [(float(x), float(y)) for x in range(10) for y in range(10)]
    assert extract_area((0.0, 0.0, 1.0, 2.0), free)[2] == (1.0, 2.0)
    assert np.asarray(extract_area(None, free)).max(axis=0).tolist() == [9.0, 9.0]
    assert extract_area(None, free[: MIN_FREE_NODES - 1]) is None


def test_missing_empty_and_garbage_files_raise_osm_file_error(tmp_path: Path) -> None:
    with pytest.raises(OsmFileError, match="not found"):
        load_network(tmp_path / "nope.osm", tmp_path)
    empty = tmp_path / "empty.osm"
    empty.write_bytes(b"")
    with pytest.raises(OsmFileError, match="empty"):
        load_network(empty, tmp_path)
    junk = tmp_path / "junk.osm.bz2"
    junk.write_bytes(bz2.compress(b"this is not xml at all"))
    with pytest.raises(OsmFileError):
        load_network(junk, tmp_path)
    no_data = tmp_path / "nodata.osm"
    no_data.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    with pytest.raises(OsmFileError, match="no nodes"):
        load_network(no_data, tmp_path)
    wrong = tmp_path / "map.txt"
    wrong.write_text("x")
    with pytest.raises(OsmFileError, match="unsupported"):
        load_network(wrong, tmp_path)


def test_file_without_drivable_roads(tmp_path: Path) -> None:
    with pytest.raises(NoDrivableRoadsError, match="no drivable roads"):
        load_network(DATA / "no_roads.osm", tmp_path)


def test_place_name_needs_the_internet() -> None:
    with pytest.raises(NetworkUnavailableError, match="Offline"):
        network_from_place("Canton, Baltimore, Maryland, USA")
