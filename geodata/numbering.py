"""House-number interpolation along streets: the hundred-block model of US-style cities.

Most US cities number houses by hundred-blocks counted from baseline streets: the block of a
street between two consecutive cross streets carries one hundred range (3400-3499), and a cross
street carries the same hundred on every parallel street it meets. From the few address points
in OSM we therefore infer, for each street, *anchors*: (position along the street, house number)
pairs, taken

1. from the street's own address points;
2. at its intersections, where the number interpolated from its own addresses is a round hundred
   (the street's cross streets are block boundaries);
3. at intersections with cross streets whose hundred is known from a *parallel* neighbouring
   street (the nearest one along the cross street), which numbers streets that have no address
   point at all.

Anchors that break the monotone order along the street are dropped; a house number is then placed
by linear interpolation between the two anchors around it (within its block), or by extrapolation
with the street's (or the city's) metres-per-number. Nothing here knows any city: everything is
learned from the OSM file.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

SNAP_TOLERANCE = 15.0  # an interpolated number this close to a round hundred marks a block boundary
MAX_VOTE_GAP_M = 150.0  # an address votes only for intersections at most this far along the street
MAX_TRANSFER_M = 1500.0  # a cross street's hundred is copied to parallels at most this far along it
PARALLEL_COS = 0.8  # |cos| of the angle between two streets' axes for them to count as parallel
MIN_SLOPE, MAX_SLOPE = 0.15, 4.0  # plausible house numbers per metre between two anchors (hundred-block cities)
SLOPE_RANGE = 4.0  # elsewhere: plausible within this factor of the city's own median numbers per metre
ROUNDS = 6  # propagation rounds (each can reach one more block beyond the numbered ones)
WIDTH_SCALE = 0.0  # multiplies the learned metres per house number (0: plain linear interpolation, measured best)
OWN_WEIGHT = 2.0  # an address point outweighs an inferred block boundary


@dataclass
class StreetNumbering:
    """Monotone anchors along one street (t in metres along its axis, n the house number)."""

    t: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    n: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    own: int = 0  # anchors from the street's own address points
    slope: float = 0.0  # house numbers per metre along +t (sign = direction); 0 = unknown
    is_addr: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))  # anchor is an address
    # The street's own address points, each side (odd, even) kept monotone on its own: sides are numbered each
    # at their own pace, and in much of Europe one side's 15 faces the other's 28.
    side_t: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    side_n: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def value(self, t: float) -> float:
        """House number at position t (interpolated; extrapolated with the slope)."""
        if len(self.t) == 1:
            return float(self.n[0] + (t - self.t[0]) * self.slope)
        order = np.argsort(self.t)
        ts, ns = self.t[order], self.n[order]
        if t < ts[0]:
            return float(ns[0] + (t - ts[0]) * self.slope)
        if t > ts[-1]:
            return float(ns[-1] + (t - ts[-1]) * self.slope)
        return float(np.interp(t, ts, ns))

    def _linear(self, number: float, slope: float) -> float:
        if len(self.t) == 1:
            return float(self.t[0] + (number - self.n[0]) / slope)
        order = np.argsort(self.n)
        ns, ts = self.n[order], self.t[order]
        if number < ns[0]:
            return float(ts[0] + (number - ns[0]) / slope)
        if number > ns[-1]:
            return float(ts[-1] + (number - ns[-1]) / slope)
        return float(np.interp(number, ns, ts))

    def _same_side(self, number: float) -> float | None:
        """Between two address points of the same parity (the same side of the street: odd and even sides
        are numbered each at their own pace) that bracket `number`, at most 40 numbers apart: interpolated
        between them."""
        n, t = self.side_n, self.side_t
        if not len(n):
            return None
        side = (n % 2) == (number % 2)
        lo, hi = n[side & (n <= number)], n[side & (n >= number)]
        if not len(lo) or not len(hi) or float(hi.min() - lo.max()) > 40:
            return None
        a, b = float(lo.max()), float(hi.min())
        ta, tb = float(t[side & (n == a)][0]), float(t[side & (n == b)][0])
        return ta if a == b else ta + (tb - ta) * (number - a) / (b - a)

    def locate(self, number: float, default_slope: float, metres_per_number: float = 0.0) -> float | None:
        """Position t of `number` along the street, or None when the street has no anchor.

        Between two address points of the same hundred: linear interpolation. Otherwise the
        house is placed from the start of its hundred-block at `metres_per_number` per number
        (houses have a width; numbers do not stretch over a long block), not past the block's end.
        """
        if not len(self.t):
            return None
        slope = self.slope if self.slope else default_slope
        same_side = self._same_side(number)
        if same_side is not None:
            return same_side
        hundred = float(np.floor(number / 100.0) * 100.0)
        inside = (self.n >= hundred) & (self.n <= hundred + 100)
        addr_in = inside & self.is_addr if len(self.is_addr) == len(self.t) else np.zeros(len(self.t), dtype=bool)
        if addr_in.sum() >= 1 and inside.sum() >= 2:
            ns = self.n[inside]
            if ns.min() <= number <= ns.max():
                order = np.argsort(ns)
                return float(np.interp(number, ns[order], self.t[inside][order]))
        if metres_per_number <= 0:
            return self._linear(number, slope)
        t0, t1 = self._linear(hundred, slope), self._linear(hundred + 100.0, slope)
        below = self.n[inside & (self.n < number)]
        if len(below) and addr_in.any():  # start from the nearest known number below in the block
            start = float(below.max())
            t0 = float(self.t[inside & (self.n == start)][0])
        else:
            start = hundred
        step = (number - start) * metres_per_number * float(np.sign(slope))
        room = (t1 - t0) * 0.95
        return float(t0 + (step if abs(step) < abs(room) else room))

def principal_axis(pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit vector of a point set's main direction (PCA), pointing east or north."""
    if len(pts) < 3:
        d = pts[-1] - pts[0]
    else:
        w, v = np.linalg.eigh(np.cov((pts - pts.mean(axis=0)).T))
        d = v[:, int(np.argmax(w))]
    norm = float(np.hypot(*d)) or 1.0
    d = d / norm
    if d[0] < -1e-9 or (abs(d[0]) <= 1e-9 and d[1] < 0):
        d = -d
    return d


def _theil_sen(t: NDArray[np.float64], n: NDArray[np.float64]) -> float:
    """Median pairwise slope dn/dt over pairs at least 15 m apart (0 when there is none)."""
    if len(t) < 2:
        return 0.0
    dt = t[None, :] - t[:, None]
    dn = n[None, :] - n[:, None]
    iu = np.triu_indices(len(t), 1)
    dt, dn = dt[iu], dn[iu]
    ok = (np.abs(dt) >= 15) & (dn != 0)
    return float(np.median(dn[ok] / dt[ok])) if ok.any() else 0.0


def _monotone(t: NDArray[np.float64], n: NDArray[np.float64], w: NDArray[np.float64], sign: float,
              bounds: tuple[float, float] = (MIN_SLOPE, MAX_SLOPE)) -> NDArray[np.int64]:
    """Indices (sorted by t) of the heaviest subsequence whose numbers run monotonically with
    `sign` and whose slope between neighbours is plausible (within `bounds`, numbers per metre)."""
    order = np.argsort(t, kind="stable")
    ts, ns, ws = t[order], n[order] * sign, w[order]
    k = len(order)
    best = np.zeros(k)
    prev = np.full(k, -1)
    for a in range(k):
        best[a] = ws[a]
        if a == 0:
            continue
        dt = np.maximum(ts[a] - ts[:a], 1e-6)
        dn = ns[a] - ns[:a]
        rate = dn / dt
        ok = (dn > 0) & ((rate <= bounds[1]) | (dn <= 20)) & ((rate >= bounds[0]) | (dt <= 40))
        if ok.any():
            cand = np.where(ok, best[:a], -np.inf)
            b = int(np.argmax(cand))
            best[a], prev[a] = cand[b] + ws[a], b
    a = int(np.argmax(best)) if k else -1
    keep = []
    while a >= 0:
        keep.append(order[a])
        a = int(prev[a])
    return np.array(keep[::-1], dtype=np.int64)


def _round100(v: float) -> float | None:
    r = round(v / 100.0) * 100.0
    return r if abs(v - r) <= SNAP_TOLERANCE and r > 0 else None


def infer_numbering(
    axes: list[NDArray[np.float64]],
    prefixes: list[str],
    crossings: dict[int, list[tuple[float, int, NDArray[np.float64]]]],
    addresses: dict[int, list[tuple[float, float]]],
) -> tuple[list[StreetNumbering], float, float]:
    """Anchors for every street, the city's typical |house numbers per metre| between cross
    streets, and its typical metres per house number within a block (0 if unknown).

    axes[s]: unit axis of street s; prefixes[s]: its direction prefix ('n', 'e', ... or '');
    crossings[s]: (t on s, other street, xy) for each intersection; addresses[s]: (t, number).
    """
    n_streets = len(axes)
    own_slope = np.zeros(n_streets)
    for s, rows in addresses.items():
        if len(rows) >= 2:
            t = np.array([r[0] for r in rows])
            n = np.array([r[1] for r in rows])
            own_slope[s] = _theil_sen(t, n)
    hundreds = uses_hundred_blocks(addresses)
    if hundreds:
        bounds = (MIN_SLOPE, MAX_SLOPE)
    else:  # numbered house by house (most of Europe, Boston): the city's own pace, whatever it is
        paces = [abs(v) for v in own_slope if v]
        mid = float(np.median(paces)) if paces else 1.0
        bounds = (mid / SLOPE_RANGE, mid * SLOPE_RANGE)
    slopes = [abs(v) for v in own_slope if v and bounds[0] <= abs(v) <= bounds[1]]
    default = float(np.median(slopes)) if slopes else 1.0
    widths = []  # per street: median metres per house number between addresses of one hundred
    for rows in addresses.values():
        w_s = [abs(a[0] - b[0]) / (b[1] - a[1]) for a in rows for b in rows
               if b[1] - a[1] >= 4 and a[1] // 100 == b[1] // 100]
        if w_s:
            widths.append(float(np.median(w_s)))
    metres_per_number = WIDTH_SCALE * float(np.median(widths)) if len(widths) >= 5 else 0.0

    # Direction of numbering in the plane, per prefix: streets with a known slope vote.
    dir_votes: dict[str, list[NDArray[np.float64]]] = defaultdict(list)
    for s in range(n_streets):
        if own_slope[s]:
            dir_votes[prefixes[s]].append(np.sign(own_slope[s]) * axes[s])

    def plane_sign(s: int) -> float:
        """+1/-1: do numbers grow along +t on street s, by the consensus of the parallel streets with
        the same direction prefix (0 when the street has no prefix or nobody votes)."""
        if not prefixes[s]:
            return 0.0
        votes = [float(np.sign(axes[s] @ d)) for d in dir_votes.get(prefixes[s], [])
                 if abs(axes[s] @ d) >= PARALLEL_COS]
        return float(np.sign(sum(votes))) if votes else 0.0

    sign0 = [float(np.sign(own_slope[s])) if bounds[0] <= abs(own_slope[s]) <= bounds[1] else plane_sign(s)
             for s in range(n_streets)]

    own_anchors: dict[int, list[tuple[float, float, float]]] = {}  # (t, n, weight)
    for s, rows in addresses.items():
        t = np.array([r[0] for r in rows])
        n = np.array([r[1] for r in rows])
        sign = sign0[s] or float(np.sign(own_slope[s]))
        if sign == 0:
            continue
        keep = _monotone(t, n, np.ones(len(t)), sign, bounds)
        own_anchors[s] = [(float(t[i]), float(n[i]), OWN_WEIGHT) for i in keep]

    sides: dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    for s, rows in addresses.items():
        sign = sign0[s] or float(np.sign(own_slope[s]))
        ts, ns = [], []
        for parity in (0, 1):
            side_rows = [r for r in rows if int(r[1]) % 2 == parity]
            if not side_rows or sign == 0:
                continue
            t = np.array([r[0] for r in side_rows])
            n = np.array([r[1] for r in side_rows])
            keep = _monotone(t, n, np.ones(len(t)), sign, (bounds[0] / 2, bounds[1] * 2))
            ts += [float(t[i]) for i in keep]
            ns += [float(n[i]) for i in keep]
        sides[s] = (np.array(ts), np.array(ns))

    current = {s: _fit(rows, sign0[s] or float(np.sign(own_slope[s])), default, bounds)
               for s, rows in own_anchors.items()}
    for s, nb in current.items():
        nb.side_t, nb.side_n = sides.get(s, (np.zeros(0), np.zeros(0)))
    if not hundreds:  # no block boundaries to learn at intersections: each street by its own numbers only
        return [current.get(s, StreetNumbering()) for s in range(n_streets)], default, metres_per_number
    axes_a = np.array(axes) if n_streets else np.zeros((0, 2))
    prefix_a = np.array(prefixes, dtype=object)
    signature: object = None
    for _round in range(ROUNDS):
        # Block boundaries: where a numbered street's interpolation gives a round hundred at a crossing.
        raw: dict[int, list[tuple[int, float, float, float]]] = defaultdict(list)  # cross → (voter, x, y, n)
        heading = np.zeros((n_streets, 2))  # where numbers grow on each numbered street
        for s, nb in current.items():
            heading[s] = np.sign(nb.slope) * axes[s]
            lo, hi = float(nb.t.min()), float(nb.t.max())
            for tc, other, xy in crossings.get(s, []):
                if tc < lo - MAX_VOTE_GAP_M or tc > hi + MAX_VOTE_GAP_M:
                    continue
                r = _round100(nb.value(tc))
                if r is not None:
                    raw[other].append((s, float(xy[0]), float(xy[1]), r))
        votes = {k: np.array(v) for k, v in raw.items()}
        # Transfer: each street's intersections take the hundred of the nearest parallel voter.
        nxt: dict[int, StreetNumbering] = {}
        for s in range(n_streets):
            rows = list(own_anchors.get(s, []))
            for tc, other, xy in crossings.get(s, []):
                v = votes.get(other)
                if v is None:
                    continue
                voter = v[:, 0].astype(np.int64)
                ok = (np.abs(axes_a[voter] @ axes[s]) >= PARALLEL_COS) | (voter == s)
                if prefixes[s]:
                    ok &= (prefix_a[voter] == "") | (prefix_a[voter] == prefixes[s]) | (voter == s)
                    if sign0[s]:  # not numbered the other way (the other side of a baseline)
                        ok &= (heading[voter] @ axes[s]) * sign0[s] > 0
                d = np.where(voter == s, 0.0, np.hypot(v[:, 1] - xy[0], v[:, 2] - xy[1]))
                ok &= d <= MAX_TRANSFER_M
                if ok.any():
                    i = int(np.argmin(np.where(ok, d, np.inf)))
                    rows.append((tc, float(v[i, 3]), 1.0 / (1.0 + float(d[i]) / 300.0)))
            if rows:
                nb = _fit(rows, sign0[s], default, bounds)
                if len(nb.t):
                    nxt[s] = nb
        current = nxt
        new_signature = {s: (tuple(nb.t.round(1)), tuple(nb.n)) for s, nb in current.items()}
        if new_signature == signature:
            break
        signature = new_signature
    for s, nb in current.items():
        nb.side_t, nb.side_n = sides.get(s, (np.zeros(0), np.zeros(0)))
    return [current.get(s, StreetNumbering()) for s in range(n_streets)], default, metres_per_number


def uses_hundred_blocks(addresses: dict[int, list[tuple[float, float]]]) -> bool:
    """Does the city number houses by hundred-blocks (US grid cities: 3400-3499 between two cross streets)?
    Read from its own address points: most numbers run in the hundreds and thousands. A city numbered house by
    house (Helsinki's 1-60, Boston's 1-300) is not, and block boundaries must not be invented for it. True when
    there is nothing to read (the block model then only runs where anchors exist)."""
    numbers = np.array([r[1] for rows in addresses.values() for r in rows], dtype=float)
    if len(numbers) < 20:
        return True
    return bool(np.median(numbers) >= 200 and np.mean(numbers >= 100) >= 0.8)


def _fit(rows: list[tuple[float, float, float]], sign: float, default: float,
         bounds: tuple[float, float] = (MIN_SLOPE, MAX_SLOPE)) -> StreetNumbering:
    """Monotone anchors from (t, n, weight) rows; numbers grow along +t if sign > 0, along -t if
    sign < 0, and as the rows say if sign is 0."""
    t = np.array([r[0] for r in rows])
    n = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    sign = sign or float(np.sign(_theil_sen(t, n)))
    if sign == 0:
        return StreetNumbering()
    keep = _monotone(t, n, w, sign, bounds)
    t, n = t[keep], n[keep]
    slope = _theil_sen(t, n) if len(t) >= 2 else 0.0
    if not (bounds[0] <= abs(slope) <= bounds[1]) or np.sign(slope) != sign:
        slope = sign * default
    is_addr = w[keep] == OWN_WEIGHT
    return StreetNumbering(t=t, n=n, own=int(is_addr.sum()), slope=float(slope), is_addr=is_addr)
