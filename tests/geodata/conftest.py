"""Fixtures: the real demo city, built once per session; the network is blocked for every test."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from geodata import City, StreetNetwork, load_city, load_network

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "data"
DEMO_OSM = SHARED / "osm" / "baltimore_central.osm.bz2"
REPORTS_311 = SHARED / "complaints" / "baltimore_311" / "baltimore_311_sample.csv"
DATA = Path(__file__).resolve().parent / "data"


def _blocked(*args: object, **kwargs: object) -> None:
    raise OSError("network access is blocked in geodata tests")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _blocked)
    monkeypatch.setattr(socket, "create_connection", _blocked)


@pytest.fixture(scope="session")
def demo_osm() -> Path:
    assert DEMO_OSM.is_file(), f"shared test data missing: {DEMO_OSM} (CI has ../shared next to the repo)"
    return DEMO_OSM


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("geodata-cache")


@pytest.fixture(scope="session")
def net(demo_osm: Path, cache_dir: Path) -> StreetNetwork:
    return load_network(demo_osm, cache_dir)


@pytest.fixture(scope="session")
def city(demo_osm: Path, cache_dir: Path, net: StreetNetwork) -> City:
    return load_city(demo_osm, cache_dir)
