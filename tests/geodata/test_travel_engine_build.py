"""The lean cold build (OSM scan → arrays) builds the same network as the osmnx path it replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geodata import NetworkConfig, StreetNetwork
from geodata._osm import scan_osm
from geodata.network import build_network

from .conftest import DATA


def _edges(net: StreetNetwork) -> list[tuple]:
    """Every edge by OSM node ids, with what routing and maps read from it (order-free)."""
    osm = net.node_osmid
    return sorted(zip(
        osm[net.edge_u].tolist(), osm[net.edge_v].tolist(), net.edge_time_ms.tolist(), net.edge_dist_dm.tolist(),
        net.edge_highway, net.edge_name, net.edge_oneway.tolist(),
        [tuple(map(tuple, net.edge_coords(e).round(7).tolist())) for e in range(net.n_edges)], strict=True))


def _both(path: Path, config: NetworkConfig) -> tuple[StreetNetwork, StreetNetwork]:
    scan = scan_osm(path, config)
    return build_network(scan, config, path.name), build_network(scan, config, path.name, via="osmnx")


@pytest.mark.slow
def test_demo_city_network_is_the_same_as_through_osmnx(demo_osm: Path) -> None:
    lean, ref = _both(demo_osm, NetworkConfig())
    assert (lean.n_nodes, lean.n_edges) == (ref.n_nodes, ref.n_edges) and lean.n_edges > 8000
    assert (lean.report.dropped_nodes, lean.report.dropped_edges) == (ref.report.dropped_nodes,
                                                                      ref.report.dropped_edges) != (0, 0)
    np.testing.assert_array_equal(np.sort(lean.node_osmid), np.sort(ref.node_osmid))
    order = np.argsort(lean.node_osmid), np.argsort(ref.node_osmid)
    np.testing.assert_array_equal(lean.node_lat[order[0]], ref.node_lat[order[1]])
    np.testing.assert_array_equal(lean.node_lon[order[0]], ref.node_lon[order[1]])
    assert _edges(lean) == _edges(ref)
    assert lean.edge_oneway.any() and not lean.edge_oneway.all()
    # Matrices on both builds agree (node numbering differs, answers do not).
    pts = [(39.2858, -76.5835), (39.2905, -76.5935), (39.2790, -76.5750)]
    a, b = lean.travel_time_matrix(pts), ref.travel_time_matrix(pts, engine="dijkstra")
    np.testing.assert_array_equal(a.travel_time_s, b.travel_time_s)
    np.testing.assert_array_equal(a.distance_m, b.distance_m)


def _grid_osm(path: Path) -> Path:
    """A 6×6 street grid (~100 m blocks) whose ways carry what the build must read as osmnx does: maxspeed
    in km/h, mph, per lane and as an implied value; oneway=yes/-1/reverse, a roundabout, a motorway without
    an oneway tag; ways joined mid-block with differing names, classes and speeds (merged edges); a class the
    config has no speed for; a dead end; a ring with no junction; a piece cut off from the rest."""
    d = 0.001
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for i in range(6):
        for j in range(6):
            lines.append(f'<node id="{1000 + 10 * i + j}" lat="{45.5 + i * d:.7f}" lon="{-122.6 + j * d:.7f}"/>')
    extra = {2000: (45.5 + 2.5 * d, -122.6 + 5.5 * d), 2001: (45.5 + 2.5 * d, -122.6 + 6 * d),
             3000: (45.51, -122.61), 3001: (45.5101, -122.61), 3002: (45.5101, -122.6099),
             4000: (45.52, -122.62), 4001: (45.5201, -122.62),
             **{5000 + k: (45.5 - d, -122.6 + k * d) for k in range(1, 5)},
             **{5100 + k: (45.5 + 6 * d, -122.6 + k * d) for k in range(1, 5)}}
    lines += [f'<node id="{k}" lat="{la:.7f}" lon="{lo:.7f}"/>' for k, (la, lo) in extra.items()]
    ways: list[tuple[list[int], dict[str, str]]] = []
    speeds = ["50", "30 mph", "40|60", "PT:urban", "35 km/h", None]
    for i in range(6):  # east-west rows, each split in two ways at column 3
        row = [1000 + 10 * i + j for j in range(6)]
        a = {"highway": "residential", "name": f"Row {i}"}
        b = {"highway": "tertiary" if i % 2 else "residential", "name": f"Row {i}" if i < 3 else f"Other {i}"}
        if speeds[i]:
            a["maxspeed"] = speeds[i]
        if i == 1:
            a["oneway"] = b["oneway"] = "yes"
        if i == 2:
            a["oneway"] = "-1"
        if i == 4:
            b["oneway"] = "reverse"
        ways += [(row[:4], a), (row[3:], b)]
    for j in range(6):  # north-south columns
        col = [1000 + 10 * i + j for i in range(6)]
        tags = {"highway": ["secondary", "unclassified", "living_street", "motorway", "primary", "service"][j]}
        if j == 2:
            tags["maxspeed"] = "20"
        ways.append((col, tags))
    ways.append(([1025, 2000, 2001], {"highway": "residential", "name": "Dead End"}))
    ways.append(([1022, 1023, 1033, 1032, 1022], {"highway": "unclassified", "junction": "roundabout"}))
    ways.append(([3000, 3001, 3002, 3000], {"highway": "residential", "name": "Ring"}))
    ways.append(([4000, 4001], {"highway": "residential", "name": "Cut Off"}))
    # Detours whose ways meet mid-block: merged into one edge each, with lists of differing values.
    ways.append(([1000, 5001, 5002], {"highway": "residential", "name": "South A", "maxspeed": "30"}))
    ways.append(([5002, 5003, 5004], {"highway": "tertiary", "name": "South B", "maxspeed": "50"}))
    ways.append(([5004, 1005], {"highway": "residential"}))
    ways.append(([1050, 5101, 5102], {"highway": "residential", "oneway": "yes", "maxspeed": "20 mph"}))
    ways.append(([5102, 5103, 5104, 1055], {"highway": "unclassified", "oneway": "yes", "name": "North"}))
    for k, (nodes, tags) in enumerate(ways):
        lines.append(f'<way id="{9000 + k}">')
        lines += [f'<nd ref="{n}"/>' for n in nodes]
        lines += [f'<tag k="{key}" v="{val}"/>' for key, val in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("config", [
    NetworkConfig(),
    NetworkConfig(highway_speeds_kmh={"residential": 25.0, "primary": 55.0}, fallback_speed_kmh=21.0),
])
def test_speeds_one_ways_and_merged_edges_follow_osmnx(tmp_path: Path, config: NetworkConfig) -> None:
    lean, ref = _both(_grid_osm(tmp_path / "grid.osm"), config)
    assert (lean.n_nodes, lean.n_edges) == (ref.n_nodes, ref.n_edges)
    assert (lean.report.dropped_nodes, lean.report.dropped_edges) == (ref.report.dropped_nodes,
                                                                      ref.report.dropped_edges) != (0, 0)
    assert _edges(lean) == _edges(ref)
    assert len(set(lean.edge_time_ms.tolist())) > 10 and lean.edge_oneway.any()
    assert 3000 not in lean.node_osmid and 4000 not in lean.node_osmid  # ring and cut-off piece dropped


def test_tiny_hand_written_city_is_the_same_as_through_osmnx() -> None:
    lean, ref = _both(DATA / "tiny_portland.osm", NetworkConfig())
    assert lean.n_edges == ref.n_edges > 10
    assert _edges(lean) == _edges(ref)
