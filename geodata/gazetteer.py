"""Gazetteer: streets, intersections, address points, areas, POIs and neighbourhoods of one OSM file.

A *street* here is one spatially connected stretch of same-named ways: "Washington Street" in
Boston, in Charlestown and in Somerville are three streets that share a name, each with its own
numbering. Names people use for them (OSM `name`, `alt_name`, `old_name`, `official_name`, `ref`,
...) all point to the same stretch. *Areas* are the city, district and postcode words addresses
are written with ("Charlestown MA 02129", "00550 Helsinki"), each known by the points it was seen
at (OSM `addr:*` tags, `place=*` nodes, imported address points); they choose between same-named
streets and are never places themselves. All geometry is in the network's local projection (m).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geodata._osm import STREET_ALIAS_KEYS, OsmScan, is_language_name_key
from geodata.network import StreetNetwork
from geodata.normalize import STREET_TYPES, normalize_name, parse_street, tokens
from geodata.numbering import StreetNumbering, infer_numbering, principal_axis, uses_hundred_blocks
from geodata.projection import LocalProjection

DENSIFY_M = 8.0  # spacing of the sample points along each street (m)
# Same-named ways closer than this (m) are one street (broken by a park); farther apart, namesakes elsewhere.
SAME_STREET_GAP_M = 800.0
ALIGN_M, ALIGN_GAP_M = 40.0, 2000.0  # same-named stretches this straight in line and this close are one street
MAX_POINT_TO_STREET_M = 250.0  # an imported address point farther than this from its street is not learned
PRECISION_RADIUS_M = 250.0  # placement precision is measured as the share within this distance
MIN_MEASURED = 20  # held-out addresses a method needs before its measured precision counts
AREA_NEAR_M = 300.0  # a street lies "in" an area when it passes this close to a point seen with the area's name
AREA_FAR_M = 1000.0  # ... and clearly outside it when no point seen with the name is this close


@dataclass
class Street:
    """One connected stretch of ways sharing a normalized name."""

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
    suffix_dir: str = ""

    def t_of(self, xy: NDArray[np.float64]) -> float:
        """Position along the axis of the street point nearest to `xy`."""
        return float(self.pts_t[int(np.argmin(np.hypot(self.pts[:, 0] - xy[0], self.pts[:, 1] - xy[1])))])

    def distance_m(self, xy: NDArray[np.float64]) -> float:
        """Distance (m) from `xy` to the nearest sample point of the street."""
        return float(np.min(np.hypot(self.pts[:, 0] - xy[0], self.pts[:, 1] - xy[1])))

    def share_within(self, xy: NDArray[np.float64], radius_m: float) -> float:
        """Fraction of the street's length within `radius_m` of `xy` (where an unknown house could be)."""
        return float(np.mean(np.hypot(self.pts[:, 0] - xy[0], self.pts[:, 1] - xy[1]) <= radius_m))


@dataclass
class Place:
    """A named POI or neighbourhood."""

    name: str
    norm: str
    kind: str
    xy: NDArray[np.float64]
    brand: bool = False  # a chain store or brand (OSM brand=*): its name says nothing about where


@dataclass(frozen=True)
class StreetMatch:
    """Streets a written name may mean, and how well the name agrees (1.0 = the same name)."""

    ids: tuple[int, ...]
    agreement: float
    how: str


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


@dataclass(frozen=True)
class HousePoint:
    """Where a house number was placed on a street: point (m), method, distance (m) to the nearest
    anchor the placement rests on (0 for an address point), and metres beyond the street's end."""

    xy: NDArray[np.float64]
    method: str
    anchor_gap_m: float
    beyond_end_m: float


@dataclass
class AddressPointsReport:
    """What `address_text.learn_address_points` did: points learned, points whose street is unknown or too far."""

    added: int = 0
    unmatched: int = 0
    outside_map: int = 0
    problems: list[str] = field(default_factory=list)


def _densify(xs: list[float], ys: list[float]) -> NDArray[np.float64]:
    xy = np.column_stack([xs, ys])
    out = [xy[:1]]
    for a, b in itertools.pairwise(xy):
        n = max(1, int(np.hypot(*(b - a)) // DENSIFY_M))
        t = np.arange(1, n + 1)[:, None] / n
        out.append(a + (b - a) * t)
    return np.concatenate(out)


_HOUSE = re.compile(r"^\s*(\d{1,6})\s*([a-z])?(?:\s*[-–/]\s*(\d{1,6})\s*([a-z])?)?\b", re.I)


def parse_house_number(value: str) -> int | None:
    """'1112' → 1112, '1112-1114' → 1112, '12A' → 12; None if no leading digits."""
    m = _HOUSE.match(value or "")
    return int(m.group(1)) if m else None


def house_keys(value: str) -> list[str]:
    """Keys under which a written house number may be stored, most specific first:
    '12 a' → ['12A', '12']; '10-14' → ['10-14', '10']; '21 b' → ['21B', '21']. Never the second number of a
    range alone: in Queens-style numbers ('123-45') it is no house of its own."""
    m = _HOUSE.match(value or "")
    if not m:
        return []
    first = m.group(1).lstrip("0") or "0"
    letter = (m.group(2) or "").upper()
    keys = []
    if m.group(3):
        last = m.group(3).lstrip("0") or "0"
        keys.append(f"{first}{letter}-{last}{(m.group(4) or '').upper()}")
    if letter:
        keys.append(first + letter)
    keys.append(first)
    return list(dict.fromkeys(keys))


class Gazetteer:
    """Lookups over streets, intersections, addresses, areas and places (metres in `projection`)."""

    def __init__(self, projection: LocalProjection) -> None:
        self.projection = projection
        self.streets: list[Street] = []
        self.by_full: dict[str, list[int]] = defaultdict(list)
        self.by_noprefix: dict[str, list[int]] = defaultdict(list)
        self.by_bare: dict[str, list[int]] = defaultdict(list)
        self.by_core: dict[str, list[int]] = defaultdict(list)
        self.alias_ids: set[tuple[str, int]] = set()  # (full name, street id) reached only through an alias
        self.intersections: dict[tuple[int, int], list[NDArray[np.float64]]] = defaultdict(list)
        self.crossings: dict[int, list[tuple[float, int, NDArray[np.float64]]]] = defaultdict(list)
        self.addresses: dict[tuple[int, str], NDArray[np.float64]] = {}  # (street id, house key) → point
        self.addr_rows: dict[int, dict[str, list[NDArray[np.float64]]]] = defaultdict(dict)  # sid → house → points
        self.pois: list[Place] = []
        self.places: list[Place] = []
        self.place_index: dict[str, list[int]] = defaultdict(list)  # norm name → ids in pois
        self.hood_index: dict[str, int] = {}
        self.grid: dict[tuple[str, str], GridModel] = {}
        self.numbers_per_m = 1.0  # typical |house numbers per metre| along a street
        self.area_words: frozenset[str] = frozenset()  # city/state/county words seen in the data (stopwords)
        self.metres_per_number = 0.0  # typical house width per number within a block (0: interpolate)
        self.area_points: dict[str, list[NDArray[np.float64]]] = defaultdict(list)  # area phrase → points seen
        self._area_trees: dict[str, cKDTree] = {}
        self._area_extents: dict[str, float] = {}
        self._street_trees: dict[int, cKDTree] = {}
        self.street_names: frozenset[str] = frozenset()  # every normalized street name (for fuzzy matching)
        self.placement_precision: dict[str, float] = {}  # method → share within 250 m on held-out addresses

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_area_trees"], state["_area_extents"], state["_street_trees"] = {}, {}, {}  # rebuilt on first use
        state.pop("_fuzzy_key_list", None)
        state.pop("_shortened_names", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._area_trees, self._area_extents, self._street_trees = {}, {}, {}

    # ---- lookups ----------------------------------------------------------------------------
    def lonlat(self, xy: NDArray[np.float64]) -> tuple[float, float]:
        lon, lat = self.projection.to_lonlat(xy[0], xy[1])
        return float(lat), float(lon)

    def xy(self, lat: float, lon: float) -> NDArray[np.float64]:
        x, y = self.projection.to_xy(lon, lat)
        return np.array([float(x), float(y)])

    def match_street(self, text: str, allow_core: bool = True) -> StreetMatch | None:
        """The streets a written name may mean, and how well the name agrees with theirs.

        The same full name (or an alias) agrees fully; a direction written on one side only
        ('Conkling St' for 'South Conkling Street', 'Massachusetts Ave' for '… Avenue NW') a little
        less, and it may mean several streets; a name without its type ('Fait' for 'Fait Avenue')
        less again (`allow_core`)."""
        sn = parse_street(text)
        if not sn.core:
            return None
        ids = self.by_full.get(sn.full)
        if ids:
            alias = all((sn.full, i) in self.alias_ids for i in ids)
            return StreetMatch(tuple(ids), 0.95 if alias else 1.0, "alias" if alias else "name")
        if sn.type:
            hits = [i for i in self.by_bare.get(sn.bare, []) if self._directions_agree(i, sn.prefix, sn.suffix_dir)]
            if hits:
                return StreetMatch(tuple(hits), 0.9, "direction")
            if not allow_core:
                return None
            # "Knox Ct" for "Knox Street": the name agrees, the type does not (common in 311 data).
            hits = [i for i in self.by_core.get(sn.core, []) if self._directions_agree(i, sn.prefix, sn.suffix_dir)]
            return StreetMatch(tuple(hits), 0.7, "other type") if hits else None
        if not allow_core:
            return None
        hits = [i for i in self.by_core.get(sn.core, []) if self._directions_agree(i, sn.prefix, sn.suffix_dir)]
        return StreetMatch(tuple(hits), 0.8, "no type") if hits else None

    def other_directions(self, m: StreetMatch) -> StreetMatch | None:
        """The streets a name written without a direction may also mean when the map has that name as written
        too: "Highland Ave" is also South and North Highland Avenue where a plain Highland Avenue lies elsewhere.
        None when the match had a direction or the name has no such streets. Agreement as for a name matched
        with its direction left out."""
        if m.how not in ("name", "alias"):
            return None
        streets = [self.streets[i] for i in m.ids]
        if any(st.prefix or st.suffix_dir for st in streets):
            return None
        bare = parse_street(streets[0].norm).bare
        extra = tuple(i for i in self.by_bare.get(bare, []) if i not in m.ids)
        return StreetMatch(extra, 0.9, "direction") if extra else None

    def _directions_agree(self, sid: int, prefix: str, suffix_dir: str) -> bool:
        """A direction written must be the street's or absent from its name; none written fits any."""
        st = self.streets[sid]
        return (not prefix or st.prefix in ("", prefix)) and (not suffix_dir or st.suffix_dir in ("", suffix_dir))

    def find_streets(self, text: str) -> list[int]:
        """Street ids a written name may mean (see `match_street`)."""
        m = self.match_street(text)
        return list(m.ids) if m else []

    def intersection(self, a: Iterable[int], b: Iterable[int]) -> list[NDArray[np.float64]]:
        """Points where any street of `a` meets any street of `b`."""
        out: list[NDArray[np.float64]] = []
        for i in a:
            for j in b:
                out += self.intersections.get((min(i, j), max(i, j)), [])
        return out

    def closest_approach(self, a: Iterable[int], b: Iterable[int]) -> tuple[float, int, int, NDArray[np.float64]]:
        """Where two name sets come closest when they share no node (a crossing mapped without one, a square's
        corner): (distance m, street of a, street of b, the midpoint of the closest pair)."""
        best: tuple[float, int, int, NDArray[np.float64]] = (float("inf"), -1, -1, np.zeros(2))
        for i in a:
            for j in b:
                tree = self._street_trees.get(j)
                if tree is None:
                    tree = self._street_trees[j] = cKDTree(self.streets[j].pts)
                d, idx = tree.query(self.streets[i].pts, k=1)
                k = int(np.argmin(d))
                if float(d[k]) < best[0]:
                    best = (float(d[k]), i, j, (self.streets[i].pts[k] + self.streets[j].pts[int(idx[k])]) / 2)
        return best

    def intersection_pairs(self, a: Iterable[int], b: Iterable[int]) -> list[tuple[int, int, NDArray[np.float64]]]:
        """(street of a, street of b, point) for every crossing of the two name sets."""
        out = []
        for i in a:
            for j in b:
                out += [(i, j, p) for p in self.intersections.get((min(i, j), max(i, j)), [])]
        return out

    def address(self, sid: int, number: str) -> NDArray[np.float64] | None:
        """The known point of `number` (as written: '12A', '10-14') on street `sid`, most specific key first."""
        for key in house_keys(number):
            xy = self.addresses.get((sid, key))
            if xy is not None:
                return xy
        return None

    def area_distance(self, phrase: str, sid: int) -> float:
        """Distance (m) from street `sid` to the nearest point seen with area `phrase` (inf: unknown area)."""
        tree = self._area_trees.get(phrase)
        if tree is None:
            pts = self.area_points.get(phrase)
            if not pts:
                return float("inf")
            tree = self._area_trees[phrase] = cKDTree(np.asarray(pts))
        st = self.streets[sid]
        d, _ = tree.query(st.pts[:: max(1, len(st.pts) // 200)], k=1)
        return float(np.min(d))

    def area_extent_m(self, phrase: str) -> float:
        """How spread out the points seen with area `phrase` are (m, RMS distance from their middle):
        a postcode is small, a city large, a state word the whole map."""
        cached = self._area_extents.get(phrase)
        if cached is not None:
            return cached
        pts = self.area_points.get(phrase)
        if not pts:
            return float("inf")
        a = np.asarray(pts)
        extent = self._area_extents[phrase] = float(np.sqrt(((a - np.median(a, axis=0)) ** 2).sum(axis=1).mean()))
        return extent

    def house_point(self, sid: int, number: int) -> HousePoint:
        """Estimated position of `number` on street `sid` and how it was placed.

        The street's numbering anchors (own address points and intersections whose hundred is
        known, see `geodata.numbering`) place it by interpolation within its block; a street
        without anchors falls back to the city-wide block numbering along its axis, and a street
        with neither gives its centroid.
        """
        st = self.streets[sid]
        nb = st.numbering
        t = nb.locate(float(number), self.numbers_per_m, self.metres_per_number)
        if t is not None:
            inside = len(nb.t) >= 2 and float(nb.n.min()) <= number <= float(nb.n.max())
            if inside:
                method = "address interpolation" if nb.own >= 2 else "block interpolation"
            else:
                method = "block extrapolation"
            gap = float(np.min(np.abs(nb.t - t)))
            lo, hi = float(st.pts_t.min()), float(st.pts_t.max())
            beyond = max(0.0, lo - t, t - hi)
            return HousePoint(self._at_t(st, t), method, gap, beyond)
        axis = 0 if st.orientation == "ew" else 1
        grid = self.grid.get((st.orientation, st.prefix)) or self.grid.get((st.orientation, ""))
        if grid is not None:
            c = grid.coord(float(number))
            lo, hi = float(st.pts[:, axis].min()), float(st.pts[:, axis].max())
            return HousePoint(self._at_coord(st, axis, c), "block numbering", 0.0, max(0.0, lo - c, c - hi))
        return HousePoint(st.centroid, "street centroid", 0.0, 0.0)

    @staticmethod
    def _at_t(st: Street, t: float) -> NDArray[np.float64]:
        return st.pts[int(np.argmin(np.abs(st.pts_t - t)))]

    @staticmethod
    def _at_coord(st: Street, axis: int, c: float) -> NDArray[np.float64]:
        return st.pts[int(np.argmin(np.abs(st.pts[:, axis] - c)))]

    # ---- learning ------------------------------------------------------------------------------
    def _learn_address(self, sid: int, house: str, xy: NDArray[np.float64]) -> None:
        for key in house_keys(house)[:1]:
            self.addr_rows[sid].setdefault(key, []).append(xy)

    def _add_area(self, phrase: str, xy: NDArray[np.float64]) -> None:
        phrase = normalize_name(phrase)
        if phrase and len(self.area_points[phrase]) < 5000:
            self.area_points[phrase].append(xy)
            self._area_trees.pop(phrase, None)
            self._area_extents.pop(phrase, None)

    def refresh_numbering(self) -> None:
        """Recompute exact address points and every street's numbering anchors from the learned addresses."""
        self.addresses = {}
        per_street: dict[int, list[tuple[float, NDArray[np.float64]]]] = defaultdict(list)
        for sid, houses in self.addr_rows.items():
            for key, pts in houses.items():
                xy = np.median(np.asarray(pts), axis=0)
                self.addresses[(sid, key)] = xy
                num = parse_house_number(key)
                if num:
                    per_street[sid].append((float(num), xy))
        grid_data: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
        for sid, rows in per_street.items():
            st = self.streets[sid]
            st.addr_numbers = np.array([r[0] for r in rows])
            st.addr_xy = np.array([r[1] for r in rows])
            axis = 0 if st.orientation == "ew" else 1
            for num, xy in rows:
                grid_data[(st.orientation, st.prefix)][0].append(num)
                grid_data[(st.orientation, st.prefix)][1].append(float(xy[axis]))
        addr_t = {sid: [(st.t_of(xy), num) for num, xy in rows] for sid, rows in per_street.items()
                  for st in (self.streets[sid],)}
        numberings, self.numbers_per_m, self.metres_per_number = infer_numbering(
            [st.axis for st in self.streets], [st.prefix for st in self.streets], self.crossings, addr_t)
        for st, nb in zip(self.streets, numberings, strict=True):
            st.numbering = nb
        self.placement_precision = self._measure_placement(addr_t, per_street)
        self.grid = {}
        if not uses_hundred_blocks({sid: [(0.0, n) for n, _ in rows] for sid, rows in per_street.items()}):
            grid_data.clear()  # a city-wide block model only where the city numbers by hundred-blocks
        for key, (nums, coords) in grid_data.items():
            order = np.argsort(nums)
            model = _fit_grid([nums[i] for i in order], [coords[i] for i in order])
            if model is not None:
                self.grid[key] = model

    def _measure_placement(self, addr_t: dict[int, list[tuple[float, float]]],
                           per_street: dict[int, list[tuple[float, NDArray[np.float64]]]]) -> dict[str, float]:
        """How often each way of placing a house number lands within 250 m, measured on this city's own
        address points: every fifth is held out, the numbering is learned from the rest, and the held-out
        numbers are placed from it. Returned per method as a Laplace-smoothed share (only methods seen at least
        MIN_MEASURED times): the geotagger's confidence never claims more than the city's data shows."""
        held: dict[int, list[tuple[float, NDArray[np.float64]]]] = defaultdict(list)
        kept: dict[int, list[tuple[float, float]]] = {}
        for sid in sorted(per_street):
            rows, ts = per_street[sid], addr_t[sid]
            kept[sid] = []
            for k, ((num, xy), (t, _)) in enumerate(zip(rows, ts, strict=True)):
                if (sid + k) % 5 == 0:
                    held[sid].append((num, xy))
                else:
                    kept[sid].append((t, num))
        if sum(len(v) for v in held.values()) < MIN_MEASURED:
            return {}
        numberings, per_m, mpn = infer_numbering(
            [st.axis for st in self.streets], [st.prefix for st in self.streets], self.crossings,
            {s: rows for s, rows in kept.items() if rows})
        hits: dict[str, list[bool]] = defaultdict(list)
        for sid, rows in held.items():
            st, nb = self.streets[sid], numberings[sid]
            for num, xy in rows:
                t = nb.locate(num, per_m, mpn)
                if t is None:
                    continue
                inside = len(nb.t) >= 2 and float(nb.n.min()) <= num <= float(nb.n.max())
                method = ("address interpolation" if nb.own >= 2 else "block interpolation") if inside else (
                    "block extrapolation")
                hits[method].append(bool(np.hypot(*(self._at_t(st, t) - xy)) <= PRECISION_RADIUS_M))
        return {m: (sum(v) + 1) / (len(v) + 2) for m, v in hits.items() if len(v) >= MIN_MEASURED}

    def learn_point(self, sid: int, house: str, xy: NDArray[np.float64], areas: Iterable[str] = ()) -> None:
        """One known address: house ``house`` of street ``sid`` is at ``xy``, with the area words written with it
        (a city, a postcode) as evidence of where that area is. Call ``refresh_numbering`` after a batch."""
        self._learn_address(sid, house, xy)
        for phrase in areas:
            self._add_area(phrase, xy)


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
# Tags whose values are the area words of an address point: they choose between namesake streets.
ADDRESS_AREA_KEYS = ("addr:city", "addr:postcode", "addr:suburb", "addr:district", "addr:neighbourhood",
                     "addr:hamlet", "addr:place", "addr:quarter")


def _area_words(scan: OsmScan) -> frozenset[str]:
    """Words of the city, county and state names the OSM data itself uses (addr:city, addr:state,
    is_in, ...): addresses written as '..., <CITY>, <STATE>, <ZIP>' carry them after the street."""
    counts: Counter[str] = Counter()
    tagged = 0
    for p in itertools.chain(scan.addresses, scan.pois, scan.places, scan.areas):
        tagged += any(k in p.tags for k in AREA_KEYS)
        for k in AREA_KEYS:
            for part in p.tags.get(k, "").replace(";", ",").split(","):
                counts.update(set(normalize_name(part).split()))
    # Common words only: a rarely used addr:city (a neighbourhood's name) must stay searchable.
    floor = max(1, int(0.05 * tagged))
    words = {w for w, c in counts.items() if c >= floor and len(w) >= 2 and not w.isdigit()}
    for p in scan.areas:  # the city and town names themselves
        if p.tags.get("place") in {"city", "town", "municipality", "borough"}:
            words |= set(normalize_name(p.tags.get("name", "")).split())
    return frozenset(words)


def _components(ways_xy: list[NDArray[np.float64]], ways_nodes: list[list[int]]) -> list[list[int]]:
    """Group same-named ways into connected stretches: ways that share a node or come within
    SAME_STREET_GAP_M of each other (a dual carriageway, a street broken by a square)."""
    n = len(ways_xy)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    if n > 1:
        owner: dict[int, int] = {}
        for w, nodes in enumerate(ways_nodes):
            for nid in nodes:
                if nid in owner:
                    union(w, owner[nid])
                else:
                    owner[nid] = w
        sample = [xy[:: max(1, int(40 // DENSIFY_M))] for xy in ways_xy]
        label = np.concatenate([np.full(len(s), w) for w, s in enumerate(sample)])
        tree = cKDTree(np.concatenate(sample))
        for a, b in tree.query_pairs(SAME_STREET_GAP_M, output_type="ndarray"):
            union(int(label[a]), int(label[b]))
    groups: dict[int, list[int]] = defaultdict(list)
    for w in range(n):
        groups[find(w)].append(w)
    comps = list(groups.values())
    # Stretches on one line are one street broken by a park or a rail yard (its numbering runs on).
    merged = True
    while merged and len(comps) > 1:
        merged = False
        for a, b in itertools.combinations(range(len(comps)), 2):
            pa = np.concatenate([ways_xy[w] for w in comps[a]])
            pb = np.concatenate([ways_xy[w] for w in comps[b]])
            if _collinear(pa, pb):
                comps[a] = comps[a] + comps[b]
                del comps[b]
                merged = True
                break
    return comps


def _collinear(pa: NDArray[np.float64], pb: NDArray[np.float64]) -> bool:
    """Two stretches lie on one straight line (within ALIGN_M) with a gap of at most ALIGN_GAP_M."""
    both = np.concatenate([pa, pb])
    axis = principal_axis(both)
    normal = np.array([-axis[1], axis[0]])
    off = both @ normal
    if float(np.percentile(np.abs(off - np.median(off)), 95)) > ALIGN_M:
        return False
    ta, tb = pa @ axis, pb @ axis
    gap = max(float(tb.min() - ta.max()), float(ta.min() - tb.max()))
    return gap <= ALIGN_GAP_M


LOCAL_LANGUAGE_SHARE = 0.2  # a name:<lang> on at least this share of the named streets is a language of the city
MIN_LANGUAGE_STREETS = 20  # ... among at least this many streets


def local_language_keys(scan: OsmScan) -> tuple[str, ...]:
    """The `name:<lang>` keys of the languages the city itself writes its street names in, read from the data:
    Helsinki's streets carry `name:fi` and `name:sv` (98%), Brussels' `name:fr` and `name:nl`; a Swedish
    speaker writes "Mannerheimvägen", a Finnish one "Mannerheimintie". A language a few streets are translated
    into (`name:ru` on a landmark avenue) is not one."""
    counts: Counter[str] = Counter(k for way in scan.streets for k in way.tags if is_language_name_key(k))
    n = len(scan.streets)
    if n < MIN_LANGUAGE_STREETS:
        return ()
    return tuple(sorted(k for k, c in counts.items() if c >= LOCAL_LANGUAGE_SHARE * n))


def _alias_names(tags: dict[str, str], languages: tuple[str, ...] = ()) -> list[str]:
    out = []
    for k in (*STREET_ALIAS_KEYS, *languages):
        for v in tags.get(k, "").split(";"):
            if v.strip():
                out.append(v.strip())
    return out


def build_gazetteer(scan: OsmScan, network: StreetNetwork) -> Gazetteer:
    """Index the scanned OSM file in the network's projection."""
    proj = network.projection
    gz = Gazetteer(proj)
    languages = local_language_keys(scan)
    groups: dict[str, list] = defaultdict(list)
    for way in scan.streets:
        norm = parse_street(way.tags["name"]).full
        if norm:
            groups[norm].append(way)
    node_streets: dict[int, set[int]] = defaultdict(set)
    node_xy: dict[int, NDArray[np.float64]] = {}
    for norm, ways in groups.items():
        xys, chunks = [], []
        for way in ways:
            x, y = proj.to_xy(way.lons, way.lats)
            xys.append((x, y))
            chunks.append(_densify(list(x), list(y)))
        for comp in _components(chunks, [w.node_ids for w in ways]):
            sid = len(gz.streets)
            names: Counter[str] = Counter()
            aliases: set[str] = set()
            for w in comp:
                way, (x, y) = ways[w], xys[w]
                names[way.tags["name"]] += 1
                aliases.update(_alias_names(way.tags, languages))
                for nid, xi, yi in zip(way.node_ids, x, y, strict=True):
                    node_streets[nid].add(sid)
                    node_xy[nid] = np.array([xi, yi])
            pts = np.concatenate([chunks[w] for w in comp])
            mean = pts.mean(axis=0)
            centroid = pts[int(np.argmin(np.hypot(*(pts - mean).T)))]
            sn = parse_street(norm)
            axis = principal_axis(pts)
            gz.streets.append(Street(
                name=names.most_common(1)[0][0], norm=norm, prefix=sn.prefix, core=sn.core, type=sn.type,
                pts=pts, orientation=_orientation(pts), centroid=centroid, length_m=len(pts) * DENSIFY_M,
                axis=axis, pts_t=pts @ axis, suffix_dir=sn.suffix_dir,
            ))
            _index_name(gz, sn, sid, alias=False)
            for alias in aliases:
                an = parse_street(alias)
                if an.core and an.full != norm:
                    _index_name(gz, an, sid, alias=True)
    # Intersections: named streets sharing a node.
    for nid, sids in node_streets.items():
        if len(sids) > 1:
            xy = node_xy[nid]
            for a in sids:
                for b in sids:
                    if a != b:
                        gz.crossings[a].append((float(xy @ gz.streets[a].axis), b, xy))
            ordered = sorted(sids)
            for a_i, a in enumerate(ordered):
                for b in ordered[a_i + 1:]:
                    pts_ab = gz.intersections[(a, b)]
                    if all(np.hypot(*(xy - p)) > 30 for p in pts_ab):
                        pts_ab.append(xy)
    # Areas from place nodes (a city, a district: one point each).
    for p in scan.areas:
        gz._add_area(p.tags.get("name", ""), gz.xy(p.lat, p.lon))
    # Address points: each to the nearest street of its name.
    for a in scan.addresses:
        xy = gz.xy(a.lat, a.lon)
        ids = gz.by_full.get(parse_street(a.tags["addr:street"]).full, [])
        if not ids:
            continue
        sid = min(ids, key=lambda i: gz.streets[i].distance_m(xy))
        if gz.streets[sid].distance_m(xy) > MAX_POINT_TO_STREET_M:
            continue
        gz._learn_address(sid, a.tags["addr:housenumber"], xy)
        for k in ADDRESS_AREA_KEYS:
            if a.tags.get(k):
                gz._add_area(a.tags[k], xy)
    gz.refresh_numbering()
    gz.area_words = _area_words(scan)
    # Places and POIs.
    for p in scan.pois:
        kind = next((f"{k}={p.tags[k]}" for k in ("amenity", "shop", "tourism", "leisure", "railway", "historic",
                                                  "office", "craft", "healthcare", "building", "landuse")
                     if k in p.tags), "poi")
        brand = "brand" in p.tags or "brand:wikidata" in p.tags
        for name in [p.tags["name"], *(p.tags.get(k, "") for k in ("alt_name", "official_name", "name:en",
                                                                     *languages))]:
            norm = normalize_name(name)
            if norm and (norm not in gz.place_index or len(gz.pois) - 1 not in gz.place_index[norm]):
                if name != p.tags["name"] and gz.pois and gz.pois[-1].name == p.tags["name"]:
                    gz.place_index[norm].append(len(gz.pois) - 1)
                    continue
                gz.place_index[norm].append(len(gz.pois))
                gz.pois.append(Place(p.tags["name"], norm, kind, gz.xy(p.lat, p.lon), brand))
    for p in scan.places:
        norm = normalize_name(p.tags["name"])
        if norm:
            gz.hood_index[norm] = len(gz.places)
            gz.places.append(Place(p.tags["name"], norm, p.tags.get("place", "place"), gz.xy(p.lat, p.lon)))
    gz.street_names = frozenset(gz.by_full) | frozenset(gz.by_noprefix)
    _freeze(gz)
    return gz


_TYPE_WORDS = frozenset(STREET_TYPES.values())


def _index_name(gz: Gazetteer, sn: object, sid: int, alias: bool) -> None:
    full, noprefix, bare, core = sn.full, sn.without_prefix, sn.bare, sn.core  # type: ignore[attr-defined]
    if sid not in gz.by_full[full]:
        gz.by_full[full].append(sid)
        if alias:
            gz.alias_ids.add((full, sid))
    if sn.prefix and not sn.type and core in _TYPE_WORDS:  # type: ignore[attr-defined]
        return  # "East Street" is found by its whole name only: a lone "St" in a text is no street
    for index, key in ((gz.by_noprefix, noprefix), (gz.by_bare, bare), (gz.by_core, core)):
        if sid not in index[key]:
            index[key].append(sid)


def _freeze(gz: Gazetteer) -> None:
    gz.by_full, gz.by_noprefix, gz.by_bare, gz.by_core = (dict(gz.by_full), dict(gz.by_noprefix), dict(gz.by_bare),
                                                          dict(gz.by_core))
    gz.intersections, gz.place_index, gz.crossings = dict(gz.intersections), dict(gz.place_index), dict(gz.crossings)


def area_phrases(words: list[str]) -> list[str]:
    """Candidate area phrases in the words after a street: each word and each pair ('east boston', '02128')."""
    out = [w for w in words if w]
    out += [" ".join(p) for p in itertools.pairwise(words)]
    return out


__all__ = ["AddressPointsReport", "Gazetteer", "HousePoint", "Place", "Street", "StreetMatch", "build_gazetteer",
           "house_keys", "parse_house_number", "tokens"]
