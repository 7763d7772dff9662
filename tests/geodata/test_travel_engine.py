"""The contraction-hierarchies travel-time engine gives exactly the Dijkstra's answers (demo city, Baltimore 2015)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geodata import GeodataError, NetworkConfig, StreetNetwork, _cch
from geodata.network import BuildReport, pack_int

pytest.importorskip("pyroutingkit")


def _points(net: StreetNetwork, k: int, seed: int) -> list[tuple[float, float]]:
    """k served points: some exactly on junctions, most a few metres off the road."""
    rng = np.random.default_rng(seed)
    out: list[tuple[float, float]] = []
    while len(out) < k:
        n = int(rng.integers(net.n_nodes))
        lat, lon = float(net.node_lat[n]), float(net.node_lon[n])
        if len(out) % 4:
            lat, lon = lat + rng.normal(0, 2e-4), lon + rng.normal(0, 2e-4)
        if net.contains(lat, lon):
            try:
                net.snap(lat, lon)
            except GeodataError:
                continue
            out.append((round(lat, 6), round(lon, 6)))
    return out


def test_cch_matrix_equals_dijkstra_exactly(net: StreetNetwork) -> None:
    assert net.cch is not None and net.cch.n_arcs >= net.n_edges // 2
    pts = _points(net, 120, seed=1)
    cch = net.travel_time_matrix(pts, engine="cch")
    ref = net.travel_time_matrix(pts, engine="dijkstra")
    np.testing.assert_array_equal(cch.travel_time_s, ref.travel_time_s)
    np.testing.assert_array_equal(cch.distance_m, ref.distance_m)
    assert (cch.travel_time_s > 60).mean() > 0.5  # real trips, not a matrix of zeros
    assert net.travel_time_matrix(pts).travel_time_s.tobytes() == cch.travel_time_s.tobytes()  # default: CCH


def test_points_added_one_at_a_time_match_the_full_matrix(net: StreetNetwork) -> None:
    pts = _points(net, 40, seed=2)
    cache = net.matrix_cache(engine="cch")
    for i, p in enumerate(pts):
        assert cache.add(*p) == i
        assert cache.searches == 2 * (i + 1)  # one forward and one backward search per new point
    assert cache.add(*pts[7]) == 7 and cache.searches == 80  # a known place costs nothing
    ref = net.travel_time_matrix(pts, engine="dijkstra")
    got = cache.matrix()
    np.testing.assert_array_equal(got.travel_time_s, ref.travel_time_s)
    np.testing.assert_array_equal(got.distance_m, ref.distance_m)
    old = net.matrix_cache(engine="dijkstra")
    old.add_many(pts[:20])
    old.add_many(pts[20:])
    np.testing.assert_array_equal(old.matrix().travel_time_s, got.travel_time_s)
    np.testing.assert_array_equal(old.matrix().distance_m, got.distance_m)
    sub = cache.matrix([pts[5], pts[30]])
    assert sub.travel_time_s[1, 0] == ref.travel_time_s[30, 5]


def test_one_way_streets_are_asymmetric_in_both_engines(net: StreetNetwork) -> None:
    one_way = [e for e in range(net.n_edges) if net.edge_twin[e] < 0 and net.edge_len_xy[e] > 120
               and net.edge_highway[e] == "residential" and net.contains(net.node_lat[net.edge_u[e]],
                                                                         net.node_lon[net.edge_u[e]])]
    assert len(one_way) > 5
    for e in one_way[:5]:
        line = net.edge_lines_xy[e]
        pts = []
        for frac in (0.2, 0.8):
            pt = line.interpolate(frac, normalized=True)
            lon, lat = net.projection.to_lonlat(pt.x, pt.y)
            pts.append((float(lat), float(lon)))
        cch = net.travel_time_matrix(pts, engine="cch")
        ref = net.travel_time_matrix(pts, engine="dijkstra")
        np.testing.assert_array_equal(cch.travel_time_s, ref.travel_time_s)
        np.testing.assert_array_equal(cch.distance_m, ref.distance_m)
        # With the traffic: 60% of the edge. Against it: round the block, longer.
        assert cch.travel_time_s[0, 1] == pytest.approx(0.6 * net.edge_time_ms[e] / 1000, abs=0.01)
        assert cch.travel_time_s[1, 0] > cch.travel_time_s[0, 1]
        assert cch.distance_m[1, 0] > cch.distance_m[0, 1]


def _two_islands() -> StreetNetwork:
    """Two separate blocks 1 km apart (lon/lat near 0, 0), one of them with a one-way side: unreachable pairs."""
    d = 0.001  # ~111 m
    lon = np.array([0, d, d, 0, 0.01, 0.01 + d, 0.01 + d, 0.01])
    lat = np.array([0, 0, d, d, 0, 0, d, d])
    u, v = [], []
    for base in (0, 4):
        for a, b in ((0, 1), (1, 2), (2, 3), (3, 0)):
            u.append(base + a)
            v.append(base + b)
            if not (base == 4 and a == 0):  # island 2: 4 → 5 is one-way
                u.append(base + b)
                v.append(base + a)
    u_a, v_a = np.array(u), np.array(v)
    coords = np.column_stack([np.stack([lon[u_a], lon[v_a]], 1).ravel(), np.stack([lat[u_a], lat[v_a]], 1).ravel()])
    m = len(u)
    return StreetNetwork(
        node_osmid=np.arange(8, dtype=np.int64), node_lon=lon.astype(float), node_lat=lat.astype(float),
        edge_u=u_a.astype(np.int64), edge_v=v_a.astype(np.int64), edge_time_ms=np.full(m, 13_000, dtype=np.int64),
        edge_dist_dm=np.full(m, 1110, dtype=np.int64), edge_name=["x"] * m, edge_highway=["residential"] * m,
        edge_oneway=np.zeros(m, dtype=bool), coord_offsets=np.arange(0, 2 * m + 1, 2, dtype=np.int64),
        coords=coords, config=NetworkConfig(max_snap_distance_m=60, service_area_margin_m=50),
        report=BuildReport("two islands", 8, m, 0, 0, 0.0),
    )


def test_unreachable_pairs_are_infinite_in_both_engines() -> None:
    net = _two_islands()
    pts = [(0.0, 0.0005), (0.0005, 0.001), (0.0, 0.0103), (0.0, 0.0107), (0.0005, 0.011)]
    cch = net.travel_time_matrix(pts, engine="cch")
    ref = net.travel_time_matrix(pts, engine="dijkstra")
    np.testing.assert_array_equal(cch.travel_time_s, ref.travel_time_s)
    np.testing.assert_array_equal(cch.distance_m, ref.distance_m)
    assert np.isinf(cch.travel_time_s[:2, 2:]).all() and np.isinf(cch.travel_time_s[2:, :2]).all()
    assert np.isfinite(cch.travel_time_s[:2, :2]).all() and np.isfinite(cch.travel_time_s[2:, 2:]).all()
    # On the one-way side 4 → 5, backwards means round the other three sides.
    assert cch.travel_time_s[2, 3] == pytest.approx(0.4 * 13)
    assert cch.travel_time_s[3, 2] == pytest.approx(0.6 * 13 + 3 * 13)
    cache = net.matrix_cache(engine="cch")
    for p in pts:
        cache.add(*p)
    np.testing.assert_array_equal(cache.matrix().travel_time_s, ref.travel_time_s)


@pytest.mark.parametrize("seed", range(6))
def test_cch_equals_dijkstra_on_random_directed_graphs(seed: int) -> None:
    """Parallel arcs, self-loops, one-way arcs, several components; many start nodes per point."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 300))
    m = int(n * rng.uniform(1.0, 3.0))
    tail = rng.integers(n, size=m)
    head = np.where(rng.random(m) < 0.9, (tail + rng.integers(1, 12, size=m)) % n, rng.integers(n, size=m))
    head[:3] = tail[:3]  # self-loops
    weight = pack_int(rng.integers(1, 90_000, size=m), rng.integers(1, 9_000, size=m))
    lat, lon = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    cch = _cch.CCH(n, tail, head, weight, _cch.node_order(tail, head, lat, lon))
    src = [[(int(x), int(c)) for x, c in zip(rng.integers(n, size=k), rng.integers(0, 2**30, size=k), strict=True)]
           for k in rng.integers(1, 4, size=25)]
    dst = [[(int(x), int(c)) for x, c in zip(rng.integers(n, size=k), rng.integers(0, 2**30, size=k), strict=True)]
           for k in rng.integers(1, 4, size=30)]
    got = cch.join(cch.spaces(src, forward=True), cch.spaces(dst, forward=False))
    # Reference: Dijkstra (float64 packed weights are exact here) from every node, then the link costs.
    keep = {}
    for t, h, w in zip(tail.tolist(), head.tolist(), weight.tolist(), strict=True):
        keep[(t, h)] = min(w, keep.get((t, h), w))
    g = csr_matrix(([float(w) for w in keep.values()], ([k[0] for k in keep], [k[1] for k in keep])), shape=(n, n))
    dist = dijkstra(g, directed=True)
    want = np.full((len(src), len(dst)), np.inf)
    for i, s in enumerate(src):
        for j, t in enumerate(dst):
            for a, ca in s:
                for b, cb in t:
                    want[i, j] = min(want[i, j], ca + dist[a, b] + cb)
    got_f = np.where(got >= _cch.INF, np.inf, got.astype(np.float64))
    np.testing.assert_array_equal(got_f, want)
    assert np.isinf(want).any() and np.isfinite(want).any()


def test_dijkstra_is_the_fallback_without_pyroutingkit(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _two_islands()
    assert net.cch is not None  # built (lazily) while pyroutingkit is there
    monkeypatch.setattr("geodata.network.rk_available", lambda: False)
    fresh = _two_islands()
    assert fresh.cch is None
    assert fresh.matrix_cache().engine == "dijkstra"
    with pytest.raises(GeodataError, match="pyroutingkit"):
        fresh.travel_time_matrix([(0.0, 0.0005)], engine="cch")
    with pytest.raises(ValueError, match="unknown travel-time engine"):
        net.travel_time_matrix([(0.0, 0.0005)], engine="osrm")
    pts = [(0.0, 0.0005), (0.0005, 0.001)]
    np.testing.assert_array_equal(fresh.travel_time_matrix(pts).travel_time_s,
                                  net.travel_time_matrix(pts, engine="cch").travel_time_s)


def test_an_unreadable_node_order_falls_back_to_dijkstra(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("pyroutingkit returned no valid node order")

    monkeypatch.setattr("geodata.network.node_order", broken)
    net = _two_islands()
    assert net.cch is None and net.matrix_cache().engine == "dijkstra"
    assert np.isfinite(net.travel_time_matrix([(0.0, 0.0005), (0.0005, 0.001)]).travel_time_s).all()
