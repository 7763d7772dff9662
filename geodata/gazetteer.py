"""Gazetteer built from the same OSM file as the network (no internet).

Streets (normalized names, densified centre lines), intersections (named streets sharing a
node), address points, a house-number model per street, named places/POIs and
neighbourhoods. All geometry is in the network's local projection (metres).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from geodata._osm import OsmScan
from geodata.network import StreetNetwork
from geodata.normalize import normalize_name, parse_street
from geodata.numbering import StreetNumbering, infer_numbering, principal_axis
from geodata.projection import LocalProjection

DENSIFY_M = 8.0  # spacing of the sample points along each street (m)


@dataclass
class Street:
    """All OSM ways sharing one normalized name."""

    name: str
    norm: str
    prefix: str
    core: str
    type: str
    pts: NDArray[np.float64]  # (k, 2) densified points, metres
    orientation: str  # "ew" or "ns": which axis house numbers run along
    centroid: NDArray[np.float64]
    length_m: float
    addr_numbers: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    addr_xy: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    axis: NDArray[np.float64] = field(default_factory=lambda: np.array([1.0, 0.0]))  # unit main direction
    pts_t: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # pts projected on `axis` (m)
    numbering: StreetNumbering = field(default_factory=StreetNumbering)

    def t_of(self, xy: NDArray[np.float64]) -> float:
        """Position along the axis of the street point nearest to `xy`."""
        return float(self.pts_t[int(np.argmin(np.hypot(self.pts[:, 0] - xy[0], self.pts[:, 1] - xy[1])))])


@dataclass
class Place:
    """A named POI or neighbourhood."""

    name: str
    norm: str
    kind: str
    xy: NDArray[np.float64]


@dataclass
class GridModel:
    """City-wide block numbering for one (orientation, prefix): coordinate (m) along the axis per house number."""

    numbers: NDArray[np.float64]
    coords: NDArray[np.float64]
    slope: float  # metres per house number

    def coord(self, number: float) -> float:
        if number < self.numbers[0]:
            return float(self.coords[0] + (number - self.numbers[0]) * self.slope)
        if number > self.numbers[-1]:
            return float(self.coords[-1] + (number - self.numbers[-1]) * self.slope)
        return float(np.interp(number, self.numbers, self.coords))


def _densify(xs: list[float], ys: list[float]) -> NDArray[np.float64]:
    xy = np.column_stack([xs, ys])
    out = [xy[:1]]
    for a, b in itertools.pairwise(xy):
        n = max(1, int(np.hypot(*(b - a)) // DENSIFY_M))
        t = np.arange(1, n + 1)[:, None] / n
        out.append(a + (b - a) * t)
    return np.concatenate(out)


def parse_house_number(value: str) -> int | None:
    """'1112' → 1112, '1112-1114' → 1112, '12A' → 12; None if no leading digits."""
    digits = ""
    for ch in value.strip():
        if ch.isdigit():
            digits += ch
        else:
            break
    return int(digits) if digits else None


class Gazetteer:
    """Lookups over streets, intersections, addresses and places (metres in `projection`)."""

    def __init__(self, projection: LocalProjection) -> None:
        self.projection = projection
        self.streets: list[Street] = []
        self.by_full: dict[str, list[int]] = defaultdict(list)
        self.by_noprefix: dict[str, list[int]] = defaultdict(list)
        self.by_core: dict[str, list[int]] = defaultdict(list)
        self.intersections: dict[tuple[int, int], list[NDArray[np.float64]]] = defaultdict(list)
        self.addresses: dict[tuple[str, str], NDArray[np.float64]] = {}
        self.pois: list[Place] = []
        self.places: list[Place] = []
        self.place_index: dict[str, list[int]] = defaultdict(list)  # norm name → ids in pois
        self.hood_index: dict[str, int] = {}
        self.grid: dict[tuple[str, str], GridModel] = {}
        self.numbers_per_m = 1.0  # typical |house numbers per metre| along a street
        self.area_words: frozenset[str] = frozenset()  # city/state/county words seen in the data (stopwords)
        self.metres_per_number = 0.0  # typical house width per number within a block (0: interpolate)

    # ---- lookups ----------------------------------------------------------------------------
    def lonlat(self, xy: NDArray[np.float64]) -> tuple[float, float]:
        lon, lat = self.projection.to_lonlat(xy[0], xy[1])
        return float(lat), float(lon)

    def find_streets(self, text: str) -> list[int]:
        """Street ids whose normalized name equals `text` (tries full, then without direction, then core)."""
        sn = parse_street(text)
        if not sn.core:
            return []
        if sn.full in self.by_full:
            return list(self.by_full[sn.full])
        if sn.prefix:
            hits = self.by_noprefix.get(sn.without_prefix) or self.by_core.get(sn.core, []) if not sn.type else (
                self.by_noprefix.get(sn.without_prefix, []))
            return [i for i in hits if self.streets[i].prefix in ("", sn.prefix)] or list(hits)
        if sn.type:
            return list(self.by_noprefix.get(sn.without_prefix, []))
        return list(self.by_core.get(sn.core, []))

    def intersection(self, a: list[int], b: list[int]) -> list[NDArray[np.float64]]:
        """Points where any street of `a` meets any street of `b`."""
        out: list[NDArray[np.float64]] = []
        for i in a:
            for j in b:
                out += self.intersections.get((min(i, j), max(i, j)), [])
        return out

    def address(self, street_norm: str, number: str) -> NDArray[np.float64] | None:
        return self.addresses.get((street_norm, number))

    def house_point(self, sid: int, number: int) -> tuple[NDArray[np.float64], str]:
        """Estimated position of `number` on street `sid` and the method used.

        The street's numbering anchors (own address points and intersections whose hundred is
        known, see `geodata.numbering`) place it by interpolation within its block; a street
        without anchors falls back to the city-wide block numbering along its axis, and a street
        with neither gives its centroid.
        """
        st = self.streets[sid]
        nb = st.numbering
        t = nb.locate(float(number), self.numbers_per_m, self.metres_per_number)
        if t is not None:
            if len(nb.t) >= 2 and float(nb.n.min()) <= number <= float(nb.n.max()):
                method = "address interpolation" if nb.own >= 2 else "block interpolation"
            else:
                method = "block extrapolation"
            return self._at_t(st, t), method
        axis = 0 if st.orientation == "ew" else 1
        grid = self.grid.get((st.orientation, st.prefix)) or self.grid.get((st.orientation, ""))
        if grid is not None:
            return self._at_coord(st, axis, grid.coord(float(number))), "block numbering"
        return st.centroid, "street centroid"

    @staticmethod
    def _at_t(st: Street, t: float) -> NDArray[np.float64]:
        return st.pts[int(np.argmin(np.abs(st.pts_t - t)))]

    @staticmethod
    def _on_street(st: Street, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        d = np.hypot(st.pts[:, 0] - xy[0], st.pts[:, 1] - xy[1])
        return st.pts[int(np.argmin(d))]

    @staticmethod
    def _at_coord(st: Street, axis: int, c: float) -> NDArray[np.float64]:
        return st.pts[int(np.argmin(np.abs(st.pts[:, axis] - c)))]


def _orientation(pts: NDArray[np.float64]) -> str:
    span = pts.max(axis=0) - pts.min(axis=0)
    if len(pts) > 2:
        cov = np.cov((pts - pts.mean(axis=0)).T)
        w, v = np.linalg.eigh(cov)
        main = v[:, int(np.argmax(w))]
        return "ew" if abs(main[0]) >= abs(main[1]) else "ns"
    return "ew" if span[0] >= span[1] else "ns"


def _fit_grid(numbers: list[float], coords: list[float]) -> GridModel | None:
    """Median coordinate per hundred-block, made monotone, with a least-squares slope for extrapolation."""
    if len(numbers) < 5:
        return None
    n = np.asarray(numbers)
    c = np.asarray(coords)
    slope = float(np.polyfit(n, c, 1)[0])
    blocks = np.floor(n / 100.0)
    ub = np.unique(blocks)
    bn = np.array([np.median(n[blocks == b]) for b in ub])
    bc = np.array([np.median(c[blocks == b]) for b in ub])
    # Keep the blocks that agree with the overall direction (drops mis-tagged outliers).
    keep = [0]
    for k in range(1, len(bn)):
        if (bc[k] - bc[keep[-1]]) * slope > 0:
            keep.append(k)
    if len(keep) < 2:
        return GridModel(np.array([n.mean()]), np.array([c.mean()]), slope)
    return GridModel(bn[keep], bc[keep], slope)


AREA_KEYS = ("addr:city", "addr:state", "addr:county", "is_in", "is_in:city", "is_in:state", "is_in:state_code")


def _area_words(scan: OsmScan) -> frozenset[str]:
    """Words of the city, county and state names the OSM data itself uses (addr:city, addr:state,
    is_in, ...): addresses written as '..., <CITY>, <STATE>, <ZIP>' carry them after the street."""
    counts: Counter[str] = Counter()
    tagged = 0
    for p in itertools.chain(scan.addresses, scan.pois, scan.places):
        tagged += any(k in p.tags for k in AREA_KEYS)
        for k in AREA_KEYS:
            for part in p.tags.get(k, "").replace(";", ",").split(","):
                counts.update(set(normalize_name(part).split()))
        if p.tags.get("place") in {"city", "town", "state", "county"}:
            counts.update(set(normalize_name(p.tags.get("name", "")).split()))
    # Common words only: a rarely used addr:city (a neighbourhood's name) must stay searchable.
    floor = max(1, int(0.05 * tagged))
    return frozenset(w for w, c in counts.items() if c >= floor and len(w) >= 2 and not w.isdigit())


def build_gazetteer(scan: OsmScan, network: StreetNetwork) -> Gazetteer:
    """Index the scanned OSM file in the network's projection."""
    proj = network.projection
    gz = Gazetteer(proj)
    # Streets: merge ways by normalized name.
    groups: dict[str, list] = defaultdict(list)
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for way in scan.streets:
        norm = parse_street(way.tags["name"]).full
        if norm:
            groups[norm].append(way)
            names[norm][way.tags["name"]] += 1
    node_streets: dict[int, set[int]] = defaultdict(set)
    node_xy: dict[int, NDArray[np.float64]] = {}
    for norm, ways in groups.items():
        sid = len(gz.streets)
        chunks = []
        for way in ways:
            x, y = proj.to_xy(way.lons, way.lats)
            chunks.append(_densify(list(x), list(y)))
            for nid, xi, yi in zip(way.node_ids, x, y, strict=True):
                node_streets[nid].add(sid)
                node_xy[nid] = np.array([xi, yi])
        pts = np.concatenate(chunks)
        mean = pts.mean(axis=0)
        centroid = pts[int(np.argmin(np.hypot(*(pts - mean).T)))]
        sn = parse_street(norm)
        gz.streets.append(Street(
            name=names[norm].most_common(1)[0][0], norm=norm, prefix=sn.prefix, core=sn.core, type=sn.type,
            pts=pts, orientation=_orientation(pts), centroid=centroid, length_m=len(pts) * DENSIFY_M,
        ))
        axis = principal_axis(pts)
        gz.streets[-1].axis, gz.streets[-1].pts_t = axis, pts @ axis
        gz.by_full[norm].append(sid)
        gz.by_noprefix[sn.without_prefix].append(sid)
        gz.by_core[sn.core].append(sid)
    # Intersections: named streets sharing a node.
    crossings: dict[int, list[tuple[float, int, NDArray[np.float64]]]] = defaultdict(list)
    for nid, sids in node_streets.items():
        if len(sids) > 1:
            xy = node_xy[nid]
            for a in sids:
                for b in sids:
                    if a != b:
                        crossings[a].append((float(xy @ gz.streets[a].axis), b, xy))
            ordered = sorted(sids)
            for a_i, a in enumerate(ordered):
                for b in ordered[a_i + 1 :]:
                    pts_ab = gz.intersections[(a, b)]
                    xy = node_xy[nid]
                    if all(np.hypot(*(xy - p)) > 30 for p in pts_ab):
                        pts_ab.append(xy)
    # Address points.
    per_street: dict[int, list[tuple[float, NDArray[np.float64]]]] = defaultdict(list)
    for a in scan.addresses:
        x, y = proj.to_xy(a.lon, a.lat)
        xy = np.array([float(x), float(y)])
        norm = parse_street(a.tags["addr:street"]).full
        house = a.tags["addr:housenumber"].strip().upper()
        gz.addresses[(norm, house)] = xy
        num = parse_house_number(house)
        for sid in gz.by_full.get(norm, []):
            if num is not None and num > 0:
                per_street[sid].append((float(num), xy))
    grid_data: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for sid, rows in per_street.items():
        st = gz.streets[sid]
        st.addr_numbers = np.array([r[0] for r in rows])
        st.addr_xy = np.array([r[1] for r in rows])
        axis = 0 if st.orientation == "ew" else 1
        for num, xy in rows:
            grid_data[(st.orientation, st.prefix)][0].append(num)
            grid_data[(st.orientation, st.prefix)][1].append(float(xy[axis]))
    addr_t = {sid: [(st.t_of(xy), num) for num, xy in rows] for sid, rows in per_street.items()
              for st in (gz.streets[sid],)}
    numberings, gz.numbers_per_m, gz.metres_per_number = infer_numbering(
        [st.axis for st in gz.streets], [st.prefix for st in gz.streets], crossings, addr_t)
    for st, nb in zip(gz.streets, numberings, strict=True):
        st.numbering = nb
    for key, (nums, coords) in grid_data.items():
        order = np.argsort(nums)
        model = _fit_grid([nums[i] for i in order], [coords[i] for i in order])
        if model is not None:
            gz.grid[key] = model
    gz.area_words = _area_words(scan)
    # Places and POIs.
    for p in scan.pois:
        x, y = proj.to_xy(p.lon, p.lat)
        kind = next((f"{k}={p.tags[k]}" for k in ("amenity", "shop", "tourism", "leisure", "railway", "historic",
                                                  "office", "craft", "healthcare", "building", "landuse")
                     if k in p.tags), "poi")
        norm = normalize_name(p.tags["name"])
        if norm:
            gz.place_index[norm].append(len(gz.pois))
            gz.pois.append(Place(p.tags["name"], norm, kind, np.array([float(x), float(y)])))
    for p in scan.places:
        x, y = proj.to_xy(p.lon, p.lat)
        norm = normalize_name(p.tags["name"])
        if norm:
            gz.hood_index[norm] = len(gz.places)
            gz.places.append(Place(p.tags["name"], norm, p.tags.get("place", "place"), np.array([float(x), float(y)])))
    gz.by_full, gz.by_noprefix, gz.by_core = dict(gz.by_full), dict(gz.by_noprefix), dict(gz.by_core)
    gz.intersections, gz.place_index = dict(gz.intersections), dict(gz.place_index)
    return gz
