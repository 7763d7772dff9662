"""High-level entry: `load_city` builds (or loads from the disk cache) network, gazetteer and geotagger."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import Polygon

from geodata import cache
from geodata._osm import check_osm_path, file_sha256, scan_osm
from geodata.config import NetworkConfig
from geodata.network import StreetNetwork, build_network

if TYPE_CHECKING:
    from collections.abc import Iterable

    from geodata.address_points import AddressPoint
    from geodata.gazetteer import AddressPointsReport, Gazetteer
    from geodata.geotag import Candidate, Geotagger


def _stage(progress: bool, msg: str) -> None:
    if progress:
        print(f"[geodata] {msg}", file=sys.stderr, flush=True)


def _entry(osm_path: Path, cache_dir: Path, config: NetworkConfig) -> Path:
    return cache.cache_entry_dir(cache_dir, file_sha256(osm_path), config.cache_key())


def load_network(
    osm_path: Path, cache_dir: Path, config: NetworkConfig | None = None, progress: bool = False
) -> StreetNetwork:
    """The street network of an OSM file, from the disk cache when it was built before."""
    return load_city(osm_path, cache_dir, config, progress, with_gazetteer=False).network


@dataclass
class City:
    """A city ready for dispatch: street network, gazetteer and geotagger over the same OSM data."""

    network: StreetNetwork
    gazetteer: Gazetteer | None
    source: Path
    load_seconds: float = 0.0
    built: bool = False
    _geotagger: Geotagger | None = field(default=None, repr=False)

    @property
    def service_area(self) -> Polygon:
        """Lon/lat polygon of the area served."""
        return self.network.service_area

    def streets_geojson(self, bbox: Sequence[float] | None = None) -> dict[str, Any]:
        """Drivable street lines as GeoJSON; bbox = (min_lon, min_lat, max_lon, max_lat)."""
        return self.network.streets_geojson(bbox)

    @property
    def geotagger(self) -> Geotagger:
        if self._geotagger is None:
            from geodata.geotag import Geotagger

            if self.gazetteer is None:
                raise RuntimeError("this City was loaded without a gazetteer; call load_city(..., with_gazetteer=True)")
            self._geotagger = Geotagger(self.gazetteer, self.network)
        return self._geotagger

    def geotag(
        self,
        text: str,
        gps: tuple[float, float] | None = None,
        place_hint: str | None = None,
        known_address: str | None = None,
        stated_address: str | None = None,
    ) -> list[Candidate]:
        """Ranked location candidates for a complaint text (see `Geotagger.geotag`)."""
        return self.geotagger.geotag(text, gps=gps, place_hint=place_hint, known_address=known_address,
                                     stated_address=stated_address)

    def add_address_points(self, points: Iterable[AddressPoint]) -> AddressPointsReport:
        """Teach known address points (imported, confirmed in the field) to this city's gazetteer, in memory:
        exact matches, numbering anchors along their streets, and the area words written with them.
        Points outside the map are counted, not learned (see `address_text.learn_address_points`)."""
        if self.gazetteer is None:
            raise RuntimeError("this City was loaded without a gazetteer; call load_city(..., with_gazetteer=True)")
        from geodata.address_text import learn_address_points

        report = learn_address_points(self.gazetteer, ((p.text, p.lat, p.lon) for p in points),
                                      inside=self.network.contains)
        self._geotagger = None  # its word lists come from the gazetteer
        return report


def _build(osm_path: Path, config: NetworkConfig, entry: Path, network: StreetNetwork | None,
           with_gazetteer: bool, progress: bool) -> tuple[StreetNetwork, Gazetteer | None]:
    """Build what the cache lacks (the network unless given, the gazetteer if asked for) and store it in `entry`."""
    net_file, gaz_file = entry / "network.pkl", entry / "gazetteer.pkl"
    gazetteer = None
    _stage(progress, f"cold build: reading {osm_path.name}")
    scan = scan_osm(osm_path, config)
    if network is None:
        _stage(progress, f"building the drivable network from {len(scan.drivable)} ways")
        network = build_network(scan, config, osm_path.name)
        r = network.report
        _stage(progress, f"network: {r.nodes} nodes, {r.edges} edges kept; dropped {r.dropped_nodes} nodes, "
                         f"{r.dropped_edges} edges outside the largest strongly connected part")
        if network.cch is not None:  # built now, so it is in the disk cache
            _stage(progress, f"contraction hierarchy: {network.cch.n_arcs} arcs")
        cache.store(net_file, network)
    if with_gazetteer:
        from geodata.gazetteer import build_gazetteer

        _stage(progress, "building the gazetteer (streets, intersections, addresses, places)")
        gazetteer = build_gazetteer(scan, network)
        cache.store(gaz_file, gazetteer)
    _stage(progress, f"cached in {entry}")
    return network, gazetteer


def load_city(
    osm_path: Path,
    cache_dir: Path,
    config: NetworkConfig | None = None,
    progress: bool = False,
    *,
    with_gazetteer: bool = True,
) -> City:
    """Load a city from an OSM file (.osm, .osm.bz2, .osm.pbf), building and caching on first use.

    The cache key is sha256(file) + config hash + format version, so a restart reuses the build.
    """
    t0 = time.perf_counter()
    config = config or NetworkConfig()
    osm_path = check_osm_path(Path(osm_path))
    entry = _entry(osm_path, cache_dir, config)
    net_file, gaz_file = entry / "network.pkl", entry / "gazetteer.pkl"
    network = cache.load(net_file)
    gazetteer = cache.load(gaz_file) if with_gazetteer else None
    built = False
    if network is None or (with_gazetteer and gazetteer is None):
        with cache.build_lock(entry):  # another process may be building it: wait, then read what it stored
            if network is None:
                network = cache.load(net_file)
            if with_gazetteer and gazetteer is None:
                gazetteer = cache.load(gaz_file)
            if network is None or (with_gazetteer and gazetteer is None):
                built = True
                network, gazetteer = _build(osm_path, config, entry, network, with_gazetteer, progress)
    return City(network=network, gazetteer=gazetteer, source=osm_path,
                load_seconds=round(time.perf_counter() - t0, 3), built=built)
