"""Private OSM plumbing: one streaming pass (pyosmium) over .osm/.osm.bz2/.osm.pbf.

The pass collects drivable ways for the network and named streets, address points, POIs and
places for the gazetteer, so a city costs one read of its file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import osmium
import shapely

from geodata.config import DRIVABLE_HIGHWAYS, EXCLUDED_SERVICE_VALUES, NetworkConfig
from geodata.errors import NoDrivableRoadsError, OsmFileError

SUPPORTED_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")

# Keys that make a named object a point of interest, and the kind we report for them.
POI_KEYS = ("amenity", "shop", "tourism", "leisure", "office", "craft", "healthcare", "historic", "building")
STATION_VALUES = frozenset({"station", "halt", "tram_stop"})
PLACE_VALUES = frozenset({"neighbourhood", "suburb", "quarter", "village", "hamlet", "locality", "town"})
AREA_PLACE_VALUES = PLACE_VALUES | {"city", "borough", "municipality"}
# Highway classes that carry street names people use in addresses (roads and pedestrian streets).
NAMED_STREET_HIGHWAYS = DRIVABLE_HIGHWAYS | {"pedestrian", "living_street", "footway", "track", "busway", "cycleway",
                                             "path", "steps", "bridleway"}
# Other names a street goes by (OSM name variants); people write any of them.
STREET_ALIAS_KEYS = ("alt_name", "old_name", "official_name", "short_name", "loc_name", "name:en", "reg_name", "ref")
WAY_TAGS_KEPT = ("highway", "name", "oneway", "maxspeed", "junction", "ref", "service", "lanes", "access",
                 *STREET_ALIAS_KEYS[:-1])


@dataclass
class OsmWay:
    """A way with its coordinates (lon/lat degrees) and the tags we use."""

    osm_id: int
    node_ids: list[int]
    lons: list[float]
    lats: list[float]
    tags: dict[str, str]


@dataclass
class OsmPoint:
    """A tagged point (node, or a way's vertex centroid)."""

    osm_id: str
    lon: float
    lat: float
    tags: dict[str, str]


@dataclass
class OsmScan:
    """Everything geodata reads from one OSM file."""

    drivable: list[OsmWay] = field(default_factory=list)
    streets: list[OsmWay] = field(default_factory=list)
    addresses: list[OsmPoint] = field(default_factory=list)
    pois: list[OsmPoint] = field(default_factory=list)
    places: list[OsmPoint] = field(default_factory=list)
    # place=city/town/... nodes and boundary-free hints: names of the areas addresses are written with.
    areas: list[OsmPoint] = field(default_factory=list)
    n_nodes: int = 0  # tagged nodes seen (untagged ones are filtered out before the scan)
    n_ways: int = 0  # tagged ways seen
    # Lon/lat ring of the area the extract holds completely (see `extract_area`); None = unknown.
    extract_area: list[tuple[float, float]] | None = None


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes (the cache key of anything built from it)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_osm_path(path: Path) -> Path:
    """Raise OsmFileError unless `path` is a non-empty file with an OSM suffix."""
    path = Path(path)
    if not path.exists():
        raise OsmFileError(f"OSM file not found: {path}")
    if not path.is_file():
        raise OsmFileError(f"OSM path is not a file: {path}")
    if path.stat().st_size == 0:
        raise OsmFileError(f"OSM file is empty (0 bytes): {path}; download or export the extract again")
    if not path.name.lower().endswith(SUPPORTED_SUFFIXES):
        raise OsmFileError(f"unsupported OSM file type {path.name!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return path


def is_drivable(tags: dict[str, str], config: NetworkConfig) -> bool:
    """True if a car may use a way with these tags (the osmnx 'drive' filter, roughly)."""
    hw = tags.get("highway")
    if hw not in DRIVABLE_HIGHWAYS:
        return False
    if hw == "service" and (not config.include_service_roads or tags.get("service") in EXCLUDED_SERVICE_VALUES):
        return False
    if tags.get("area") == "yes":
        return False
    no_cars = tags.get("motor_vehicle") == "no" or tags.get("motorcar") == "no"
    return not (tags.get("access") in {"private", "no"} or no_cars)


class _Scanner(osmium.SimpleHandler):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.scan = OsmScan()
        self.tagged_nodes: dict[int, tuple[float, float]] = {}  # id -> (lon, lat) of every tagged node
        self.way_nodes: set[int] = set()  # ids of tagged nodes some way uses

    def node(self, n: osmium.osm.Node) -> None:
        self.scan.n_nodes += 1
        if not n.tags:
            return
        tags = {t.k: t.v for t in n.tags}
        loc = n.location
        if not loc.valid():
            return
        self.tagged_nodes[n.id] = (loc.lon, loc.lat)
        self._classify(f"n{n.id}", loc.lon, loc.lat, tags)

    def way(self, w: osmium.osm.Way) -> None:
        self.scan.n_ways += 1
        if not w.tags:
            return
        tags = {t.k: t.v for t in w.tags}
        ids, lons, lats = [], [], []
        for nd in w.nodes:
            if nd.ref in self.tagged_nodes:
                self.way_nodes.add(nd.ref)
            if nd.location.valid():
                ids.append(nd.ref)
                lons.append(nd.location.lon)
                lats.append(nd.location.lat)
        if len(ids) < 2:
            return
        hw = tags.get("highway")
        if hw is not None:
            kept = {k: v for k, v in tags.items() if k in WAY_TAGS_KEPT or is_language_name_key(k)}
            way = OsmWay(w.id, ids, lons, lats, kept)
            if is_drivable(tags, self.config):
                self.scan.drivable.append(way)
            if "name" in tags and hw in NAMED_STREET_HIGHWAYS:
                self.scan.streets.append(way)
            if not ("name" in tags and ("amenity" in tags or "leisure" in tags)):
                return
        ring = slice(0, -1) if ids[0] == ids[-1] and len(ids) > 3 else slice(None)
        lon = sum(lons[ring]) / len(lons[ring])
        lat = sum(lats[ring]) / len(lats[ring])
        self._classify(f"w{w.id}", lon, lat, tags)

    def _classify(self, osm_id: str, lon: float, lat: float, tags: dict[str, str]) -> None:
        if "addr:housenumber" in tags and "addr:street" in tags:
            self.scan.addresses.append(OsmPoint(osm_id, lon, lat, tags))
        if "name" not in tags:
            return
        if tags.get("place") in AREA_PLACE_VALUES:
            self.scan.areas.append(OsmPoint(osm_id, lon, lat, tags))
        if tags.get("place") in PLACE_VALUES:
            self.scan.places.append(OsmPoint(osm_id, lon, lat, tags))
        elif (
            any(k in tags for k in POI_KEYS)
            or tags.get("railway") in STATION_VALUES
            or tags.get("public_transport") == "station"
            or tags.get("landuse") in {"recreation_ground", "cemetery"}
        ):
            self.scan.pois.append(OsmPoint(osm_id, lon, lat, tags))


def is_language_name_key(key: str) -> bool:
    """`name:sv`, `name:fi`, `name:ast`: a street's or place's name in one language (not `name:left` or
    `name:etymology`)."""
    return key.startswith("name:") and 2 <= len(key) - 5 <= 3 and key[5:].isalpha() and key[5:].islower()


def scan_osm(path: Path, config: NetworkConfig) -> OsmScan:
    """Read an OSM file once; raise OsmFileError if it is unreadable or holds no OSM data."""
    path = check_osm_path(path)
    scanner = _Scanner(config)
    try:
        # Untagged nodes and ways carry nothing we read (node locations are kept before the filter), so
        # libosmium drops them before Python sees them: 340k fewer callbacks on a metro extract.
        scanner.apply_file(str(path), locations=True, filters=[osmium.filter.EmptyTagFilter()])
    except RuntimeError as exc:  # libosmium reports parse/format errors as RuntimeError
        raise OsmFileError(f"cannot read OSM file {path}: {exc}. Is it a valid .osm/.osm.bz2/.osm.pbf export?")
    if scanner.scan.n_nodes == 0 and scanner.scan.n_ways == 0:
        raise OsmFileError(f"OSM file {path} contains no nodes or ways with tags; export the area again")
    free = [xy for nid, xy in scanner.tagged_nodes.items() if nid not in scanner.way_nodes]
    scanner.scan.extract_area = extract_area(_header_box(path), free)
    return scanner.scan


MIN_FREE_NODES = 50  # fewer stand-alone nodes than this say nothing about the extract's area


def _header_box(path: Path) -> tuple[float, float, float, float] | None:
    """The bounding box the file declares (OSM XML <bounds>, PBF header bbox), if any."""
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except RuntimeError:
        return None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def extract_area(
    header_box: tuple[float, float, float, float] | None, free_nodes: list[tuple[float, float]]
) -> list[tuple[float, float]] | None:
    """Lon/lat ring of the area an extract holds completely, or None when the file does not tell.

    City extracts (osmium/osmconvert with complete ways) keep every object inside their box or
    polygon, plus the whole of each way that crosses its edge. Those ways reach far out, so the
    road network's hull is much larger than the mapped area, and streets out there are simply
    missing. The file's declared bounds say where the data is complete; without them, the nodes
    that belong to no way (POIs, address points, places) exist only inside the extracted area, so
    their convex hull marks it.
    """
    if header_box is not None:
        x0, y0, x1, y1 = header_box
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    if len(free_nodes) < MIN_FREE_NODES:
        return None
    hull = shapely.convex_hull(shapely.multipoints(free_nodes))
    if hull.geom_type != "Polygon":
        return None
    return [(float(x), float(y)) for x, y in hull.exterior.coords]


def write_drivable_xml(scan: OsmScan, dst: Path, source_name: str) -> None:
    """Write only the drivable ways (and their nodes) as OSM XML for osmnx.graph_from_xml.

    Motorways without an oneway tag get oneway=yes (implied by OSM, ignored by osmnx).
    """
    if not scan.drivable:
        raise NoDrivableRoadsError(
            f"{source_name} has no drivable roads (highway=residential/primary/... open to cars); "
            "check that the extract covers streets, not only buildings or footpaths"
        )
    nodes: dict[int, tuple[float, float]] = {}
    for way in scan.drivable:
        for nid, lon, lat in zip(way.node_ids, way.lons, way.lats, strict=True):
            nodes[nid] = (lon, lat)
    with dst.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="groundcrew-geodata">\n')
        for nid, (lon, lat) in nodes.items():
            f.write(f'<node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n')
        for way in scan.drivable:
            tags = dict(way.tags)
            if tags.get("highway") in {"motorway", "motorway_link"} and "oneway" not in tags:
                tags["oneway"] = "yes"
            f.write(f'<way id="{way.osm_id}">\n')
            f.writelines(f'<nd ref="{nid}"/>\n' for nid in way.node_ids)
            f.writelines(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in tags.items())
            f.write("</way>\n")
        f.write("</osm>\n")
