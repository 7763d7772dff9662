"""Geotagger: where is the problem described in a complaint text?

Tries, in order of precision: trusted GPS, house-number addresses ("2900 Fait Ave", "Sturenkatu 33",
"the 2900 block of Fait Ave"), intersections ("X & Y", "X/Y", "corner of X and Y", "INTERSECTION of X
& Y") and stretches ("X between Y and Z"), named places ("near the <POI>"), bare streets and
neighbourhoods; a customer's known address last. Nothing found gives an empty list, never a guess dressed as a fact.

**Confidence is the probability that the point is within 250 m of the problem** (`CONFIDENT_RADIUS_M`),
built from three parts that each can be checked: does the written name agree with the street's
(`StreetMatch.agreement`: the same name 1.0, a direction written on one side 0.9, no street type 0.8,
approximate 0.5); which of the same-named streets is meant (chosen by the area words after the
street, by the house number's range, by the cross street; else shared between them); and how
precisely the point is placed on that street (an address point, interpolation between known
numbers, extrapolation beyond them, a city-wide block model, or just the street, where it is the
share of the street's length within 250 m). A number far past the end of a street, an
approximate name, a one-word or brand-name POI, a namesake street nobody chose: each lowers it.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from geodata.address_text import BASE_STOP, ParsedAddress, find_addresses, match_prefix, match_suffix
from geodata.address_text import unmapped_address as _unmapped_address
from geodata.errors import EmptyTextError, GeodataError
from geodata.gazetteer import AREA_FAR_M, AREA_NEAR_M, Gazetteer, StreetMatch, area_phrases
from geodata.inflection import Uninflector
from geodata.network import StreetNetwork
from geodata.normalize import STREET_TYPES, tokens

KINDS = ("gps", "stated_address", "address", "intersection", "block", "landmark", "street", "neighbourhood",
         "customer_address")
CONFIDENT_RADIUS_M = 250.0  # confidence = probability of being within this distance of the problem
# "and" in the languages people write corners in: ja (fi), och (sv), und (de), et (fr); "with" (pt com, es con)
# and "corner" (esquina) between the two. Not "e" (pt, it): in "E Fayette St & N Charles St" it is East; nor "y"
# (es): "Avenue Y".
_CONNECT = re.compile(r"\s*(?:&|/|\b(?:and|ja|och|und|et|com|con|esquina)\b|\bat\b|@|\bcorner of\b|\bx\b)\s*",
                      re.I)
_INTERSECTION_CLAUSE = re.compile(r"[,;:!?()\n]|\s[-–—]\s")
# "Clinton St between Fait Ave and Foster Ave": the stretch of one street between two cross streets. The word
# before the cross streets in English, French/Spanish/Portuguese, German, Swedish/Norwegian and Italian...
_BETWEEN_WORD = r"(?:between|betw\.?|btwn\.?|b/w|entre|zwischen|mellan|tra|fra)"
_BETWEEN = re.compile(rf"^(?P<x>.*?)\s+{_BETWEEN_WORD}\s+(?P<yz>.+)$", re.I)
_BETWEEN_OPENS = re.compile(rf"^\s*{_BETWEEN_WORD}\s", re.I)  # a clause that starts with it: X is in the one before
# ... or after them, as Finnish, Estonian and Hungarian say it ("Kaivokadun ja Simonkadun välissä").
_BETWEEN_AFTER = re.compile(r"^(?P<yz>.+?)\s+(?:välissä|välillä|väliin|välistä|välisellä|välisessä|välinen|välisen|"
                            r"vahel|vahelisel|között)\b(?P<rest>.*)$", re.I)
# "and" between the two cross streets; "e" and "y" only here, where no "E Fayette St" can be meant.
_BETWEEN_AND = re.compile(r"\s*(?:&|/|\b(?:and|et|y|e|und|och|og|ja|és)\b)\s*", re.I)
# Articles and "of the" before a cross street: "com a Rua X", "et de la rue X", "zwischen der X".
_ARTICLES = frozenset({"the", "a", "o", "as", "os", "la", "le", "les", "l", "el", "los", "las", "der", "die", "den",
                       "dem", "das", "il", "lo", "gli", "de", "da", "do", "du", "des", "del", "della", "dos"})
MAX_TEXT_CHARS = 20_000  # a longer text (a whole thread read again) is read in its first this many characters
MAX_BETWEEN_M = 1500.0  # two crossings farther apart than this along one street are no block anyone means


def _article_starts(words: list[str]) -> list[int]:
    """Where a cross street may start in `words`: at once, or after one or two articles ("a Rua de Cedofeita",
    "de la rue X")."""
    starts = [0]
    while len(starts) < 3 and starts[-1] + 1 < len(words) and words[starts[-1]] in _ARTICLES:
        starts.append(starts[-1] + 1)
    return starts


@dataclass(frozen=True)
class Candidate:
    """One possible location: lat/lon (degrees), confidence 0..1 (probability of being within 250 m),
    uncertainty radius (m), why."""

    lat: float
    lon: float
    kind: str
    confidence: float
    radius_m: float
    span: str
    explanation: str


# Precision of each way of placing a house number on the right street: the probability that the
# placed point is within 250 m of the house (see the module docstring).
_PLACED = {"address point": 0.97, "address interpolation": 0.95, "block interpolation": 0.9}
NEAR_CROSSING_M = 40.0  # two named streets this close without a shared node still make a corner
MIN_AREA_POINTS = 5  # an area word seen at fewer points than this says nothing about where it is
AREA_CONTRADICTED = 0.3  # the street lies outside every area written after it: probably a namesake elsewhere
STREET_ONLY_MAX = 0.5  # "somewhere on X": where on it is a question for the customer, whatever the street's length
UNVERIFIED = 0.6  # nothing (known numbers, the area) confirms the street is the one meant


def _evidence(area_verdict: int, numbered: bool) -> float:
    """What confirms that the matched street is the one meant: its own known numbers reach the house
    number, or it lies in the area written after it. A name alone can be a namesake of a street that
    lies outside the map (the map's "Joy St" is not the customer's)."""
    if area_verdict < 0:
        return AREA_CONTRADICTED
    return 1.0 if numbered or area_verdict > 0 else UNVERIFIED



class Geotagger:
    """Ranked candidates from text with the gazetteer; GPS is checked against the network's area."""

    def __init__(self, gazetteer: Gazetteer, network: StreetNetwork) -> None:
        self.gz = gazetteer
        self.net = network
        self.stop = BASE_STOP | getattr(gazetteer, "area_words", frozenset())
        self._poi_keys = sorted(gazetteer.place_index)
        self._hood_keys = sorted(gazetteer.hood_index, key=len, reverse=True)
        self._uninflector: Uninflector | None = None

    def _uninflect(self, text: str) -> str:
        if self._uninflector is None:
            gz = self.gz
            self._uninflector = Uninflector(itertools.chain(gz.by_full, gz.by_noprefix, gz.place_index, gz.hood_index))
        return self._uninflector.rewrite(text)

    # ---- helpers -----------------------------------------------------------------------------
    def _cand(self, xy: NDArray[np.float64], kind: str, conf: float, radius: float, span: str, why: str) -> Candidate:
        lat, lon = self.gz.lonlat(xy)
        conf = float(min(0.99, max(0.0, conf)))
        return Candidate(round(lat, 7), round(lon, 7), kind, round(conf, 3), round(radius, 1), span, why)

    def _choose(self, ids: tuple[int, ...], phrases: tuple[str, ...], number: int | None = None
                ) -> tuple[list[int], float, str, int]:
        """Which of same-named streets is meant: (streets still possible, probability the first is right,
        how it was chosen, what the area words say: +1 the street lies in the area written after it,
        -1 it lies outside every known area written, 0 nothing known). Area words pick the streets
        near where those words were seen; a house number beyond a street's known numbers rules it out
        when another street of the name has it."""
        ids_l = list(dict.fromkeys(ids))
        how = ""
        verdict = 0
        known = sorted((p for p in phrases if len(self.gz.area_points.get(p, ())) >= MIN_AREA_POINTS),
                       key=self.gz.area_extent_m)
        if number is not None and len(ids_l) > 1:
            fits = [i for i in ids_l if self._number_fits(i, number)]
            if fits and len(fits) < len(ids_l):
                ids_l, how = fits, "its house numbers"
                # Unless the area written names a street of the name that has no numbers on record, which the
                # number therefore cannot rule out ("5 Lexington St, Charlestown" where only East Boston's
                # Lexington St has numbers on record).
                near = [i for i in ids if known and self.gz.area_distance(known[0], i) <= AREA_NEAR_M]
                unrecorded = [i for i in near if not len(self.gz.streets[i].numbering.n)]
                if unrecorded and not set(near) & set(fits):
                    ids_l, how = list(dict.fromkeys(unrecorded)), "the area named after it"
        # The most specific area written decides ("02108" rather than "Boston" or "MA").
        for phrase in known:
            dist = {i: self.gz.area_distance(phrase, i) for i in ids_l}
            near = [i for i in ids_l if dist[i] <= AREA_NEAR_M]
            if near:
                if len(near) < len(ids_l):
                    ids_l, how = near, "the area named after it"
                verdict = 1
            elif min(dist.values()) > AREA_FAR_M:
                verdict = -1
            break
        if len(ids_l) == 1:
            return ids_l, 0.95 if how else 1.0, how, verdict
        weights = np.array([self.gz.streets[i].length_m for i in ids_l])
        ids_l = [ids_l[k] for k in np.argsort(-weights)]
        return ids_l, 1.0 / len(ids_l), how, verdict

    def _number_fits(self, sid: int, number: int) -> bool:
        """Known numbers on the street reach `number` (within half a block)."""
        nb = self.gz.streets[sid].numbering
        if not len(nb.n):
            return False
        return float(nb.n.min()) - 50 <= number <= float(nb.n.max()) + 50

    def _placed(self, sid: int, parsed: ParsedAddress) -> tuple[NDArray[np.float64], float, float, str]:
        """(point, probability within 250 m given the right street, radius m, how) for a house number."""
        st = self.gz.streets[sid]
        if not parsed.block:
            exact = self.gz.address(sid, parsed.house)
            if exact is not None:
                return exact, _PLACED["address point"], 15.0, f"address point {parsed.house} {st.name}"
        number = parsed.number // 100 * 100 + 50 if parsed.block else parsed.number
        hp = self.gz.house_point(sid, number)
        measured = getattr(self.gz, "placement_precision", {}).get(hp.method, 1.0)
        if hp.method in _PLACED:
            p = min(_PLACED[hp.method], measured) * (1.0 if hp.anchor_gap_m <= 150 else 0.9)
            radius = 40.0 if hp.method == "address interpolation" else 60.0
        elif hp.method == "block extrapolation":
            p = float(np.clip(min(0.9, measured) - max(0.0, hp.anchor_gap_m - 100.0) / 500.0, 0.2, 0.9))
            radius = 60.0 + hp.anchor_gap_m / 4
        elif hp.method == "block numbering":
            p, radius = 0.5, 150.0
        else:  # the street, no idea where along it
            p = 0.95 * st.share_within(hp.xy, CONFIDENT_RADIUS_M)
            radius = max(50.0, st.length_m / 4)
        if hp.beyond_end_m > 30:  # the number lies past the end of the street as mapped
            p = min(p, 0.3)
        return hp.xy, p, radius, hp.method

    # ---- text parsers ----------------------------------------------------------------------
    def _addresses(self, text: str, kind: str = "address") -> list[Candidate]:
        for parsed in find_addresses(self.gz, text, self.stop):
            parsed = self._with_direction_for_number(parsed)
            ids, p_street, how, verdict = self._choose(parsed.street_ids, parsed.area_phrases, parsed.number)
            out: list[Candidate] = []
            for sid in ids[:3]:
                xy, p_place, radius, method = self._placed(sid, parsed)
                st = self.gz.streets[sid]
                numbered = method == "address point" or self._number_fits(sid, parsed.number)
                conf = parsed.match.agreement * p_street * p_place * _evidence(verdict, numbered)
                if parsed.block:
                    why = f"the {parsed.number // 100 * 100} block of {st.name}, placed by {method}"
                elif method.startswith("address point"):
                    why = method
                else:
                    why = f"{parsed.house} {st.name}: house number not known, placed by {method}"
                notes = []
                if parsed.match.how == "abbreviated":
                    notes.append(f"street name read as short for {st.name}")
                elif parsed.fuzzy:
                    notes.append("street name matched approximately")
                elif parsed.match.how == "direction":
                    notes.append("direction of the street name differs")
                elif parsed.match.how == "no type":
                    notes.append("street type not given")
                if verdict < 0:
                    notes.append("the area written after it is elsewhere")
                elif not numbered and verdict == 0:
                    notes.append("nothing confirms the number is on this street")
                if len(ids) > 1:
                    notes.append(f"one of {len(ids)} streets of this name")
                elif how:
                    notes.append(f"street chosen by {how}")
                if notes:
                    why += " (" + "; ".join(notes) + ")"
                out.append(self._cand(xy, "block" if parsed.block else kind, conf, max(radius, 80.0)
                                      if parsed.block else radius, parsed.span, why))
            if out:
                return out
        return []

    def _with_direction_for_number(self, parsed: ParsedAddress) -> ParsedAddress:
        """"200 Highland Ave" where the map's plain Highland Avenue has numbers on record and 200 is not among
        them, but South Highland Avenue's are: the writer left the direction out. The address is read on the
        streets of the name with a direction whose numbers reach it; as written when none does."""
        def has_it(sid: int) -> bool:
            return self._number_fits(sid, parsed.number) or self.gz.address(sid, parsed.house) is not None

        ids = parsed.match.ids
        if parsed.block or not ids or not all(len(self.gz.streets[i].numbering.n) for i in ids) or any(
                has_it(i) for i in ids):
            return parsed
        wide = self.gz.other_directions(parsed.match)
        fits = tuple(i for i in wide.ids if has_it(i)) if wide is not None else ()
        return dataclasses.replace(parsed, match=StreetMatch(fits, wide.agreement, wide.how)) if fits else parsed

    def _between(self, clause: str) -> list[Candidate] | None:
        """'X between Y and Z': the middle of X's stretch between its crossings with Y and Z. Confidence is the
        name agreements times the share of the stretch within 250 m of its middle (a person can be anywhere
        on it). X may also follow ("Kaivokadun ja Simonkadun välissä Mannerheimintiellä", read back from its
        case endings first). None when the clause is no such phrase of three streets; [] when it is, but the map
        has no such stretch (the streets do not meet: the text and the map disagree)."""
        clause = clause.strip()
        m = _BETWEEN.match(clause)
        if m is not None:
            return self._stretch(tokens(m["x"]), [], m["yz"])
        m = _BETWEEN_AFTER.match(clause)
        if m is None:
            return None
        parts = _BETWEEN_AND.split(m["yz"], maxsplit=1)
        if len(parts) != 2:
            return None
        # "X Y ja Z välissä": Y is the end of what comes before "ja", X (if anywhere) what precedes Y or follows.
        before = tokens(parts[0])
        y, ny = match_suffix(self.gz, before, self.stop)
        if y is None:
            return None
        yw = before[len(before) - ny:]
        first = self._stretch(before[:len(before) - ny], yw, parts[1])
        if first:
            return first
        then = self._stretch(tokens(m["rest"]), yw, parts[1], after=True)
        return then if then is not None else first

    def _stretch(self, xw: list[str], yw: list[str], yz: str, after: bool = False) -> list[Candidate] | None:
        """The middle of street X (named by the end of `xw`, or its start when `after`) between Y and Z (`yw` and
        `yz` when Y is already split off, else both in `yz`, split at the first "and" that leaves two streets)."""
        if not xw:
            return None
        if after:
            x, nx, _ = match_prefix(self.gz, xw, self.stop, allow_fuzzy=False)
            xw = xw[:nx]
        else:
            x, nx = match_suffix(self.gz, xw, self.stop)
        if x is None:
            return None
        splits = [(yw, tokens(yz))] if yw else [
            (tokens(yz[:a.start()]), tokens(yz[a.end():])) for a in _BETWEEN_AND.finditer(yz)]
        for yw, zw in splits:
            y, ys, ny = self._cross_street(yw, whole=True)
            z, zs, nz = self._cross_street(zw, whole=False)
            if y is not None and z is not None:
                yw, zw = yw[ys:ys + ny], zw[zs:zs + nz]
                break
        else:
            return None
        best: tuple[float, int, NDArray[np.float64], NDArray[np.float64]] | None = None
        # X as matched, then with the direction its writer may have left out ("Highland Ave" for South Highland).
        for x_read in (x, self.gz.other_directions(x)):
            if x_read is None or best is not None:
                continue
            for i, _, p in self.gz.intersection_pairs(x_read.ids, y.ids):
                for k, _, q in self.gz.intersection_pairs(x_read.ids, z.ids):
                    d = float(np.hypot(*(p - q)))
                    if i == k and d > 0 and (best is None or d < best[0]):
                        best, x = (d, i, p, q), x_read
        if best is None or best[0] > MAX_BETWEEN_M:
            return []
        d, sid, p, q = best
        st = self.gz.streets[sid]
        mid = (p + q) / 2
        xy = st.pts[int(np.argmin(np.hypot(*(st.pts - mid).T)))]
        conf = x.agreement * y.agreement * z.agreement * 0.97 * min(1.0, 2 * CONFIDENT_RADIUS_M / d)
        names = f"{st.name} between {self.gz.streets[y.ids[0]].name} and {self.gz.streets[z.ids[0]].name}"
        span = f"{' '.join(xw[len(xw) - nx:])} between {' '.join(yw)} and {' '.join(zw)}"
        return [self._cand(xy, "intersection", round(conf, 3), max(25.0, d / 2), span,
                           f"the middle of {names} ({d:.0f} m long)")]

    def _cross_street(self, words: list[str], whole: bool) -> tuple[StreetMatch | None, int, int]:
        """The street `words` start with (all of them when `whole`), with or without articles before it ("a Rua de
        Cedofeita", but "The Alameda" is a name): (match, first word of its name, words in it), the best-agreeing
        reading."""
        best: tuple[StreetMatch | None, int, int] = (None, 0, 0)
        for start in _article_starts(words):
            m, n, _ = match_prefix(self.gz, words[start:], self.stop)
            if m is not None and (start + n == len(words) or not whole) and (
                    best[0] is None or m.agreement > best[0].agreement):
                best = (m, start, n)
        return best

    def _intersections(self, text: str) -> list[Candidate]:
        previous = ""
        for clause in _INTERSECTION_CLAUSE.split(text or ""):
            between = self._between(clause)
            if between is None and _BETWEEN_OPENS.match(clause):  # "Rua X, entre a Rua Y e a Rua Z"
                between = self._between(f"{previous} {clause}")
            if between:
                return between
            previous = clause
            if between is not None:
                continue  # three streets that make no stretch: nor is the corner of two of them what was meant
            parts = _CONNECT.split(clause)
            if len(parts) < 2:
                continue
            for left, right in itertools.pairwise(parts):
                lw, rw = tokens(left), tokens(right)
                if not lw or not rw:
                    continue
                a, na = match_suffix(self.gz, lw, self.stop)
                if a is None:
                    a, na, _ = match_prefix(self.gz, lw[max(0, len(lw) - 4):], self.stop)
                    if a is not None and na != min(4, len(lw)):
                        a = None
                b, bs, nb = self._cross_street(rw, whole=False)
                rw = rw[bs:]
                if a is None or b is None or not self._two_streets(a, b):
                    continue
                a = StreetMatch(tuple(i for i in a.ids if i not in b.ids), a.agreement, a.how)
                pairs = self.gz.intersection_pairs(a.ids, b.ids)
                span = f"{' '.join(lw[len(lw) - na:])} & {' '.join(rw[:nb])}"
                tail = tuple(rw[nb:nb + 6])
                if not pairs:
                    d, i, j, xy = self.gz.closest_approach(a.ids, b.ids)
                    if d > NEAR_CROSSING_M:
                        # "Highland Ave & Fleet St": the plain Highland Avenue is elsewhere, South Highland crosses.
                        a, b, pairs = self._corner_with_directions(a, b)
                        if pairs:
                            return self._crossing_candidates(pairs, a, b, tail, span)
                        continue
                    near = self._crossing_candidates([(i, j, xy)], a, b, tail, span)
                    return [Candidate(c.lat, c.lon, c.kind, round(c.confidence * 0.9, 3), max(c.radius_m, 40.0),
                                      c.span, c.explanation + f" (they come within {d:.0f} m; no shared node)")
                            for c in near]
                return self._crossing_candidates(pairs, a, b, tail, span)
        return []

    def _corner_with_directions(self, a: StreetMatch, b: StreetMatch
                                ) -> tuple[StreetMatch, StreetMatch, list[tuple[int, int, NDArray[np.float64]]]]:
        """Two names that do not meet as matched, read again with the direction their writer left out (either
        or both): the first reading under which they cross, or the names as they were, without a crossing."""
        wa, wb = self.gz.other_directions(a), self.gz.other_directions(b)
        for ra, rb in ((wa, b), (a, wb), (wa, wb)):
            if ra is not None and rb is not None:
                ra = StreetMatch(tuple(i for i in ra.ids if i not in rb.ids), ra.agreement, ra.how)
                pairs = self.gz.intersection_pairs(ra.ids, rb.ids)
                if pairs:
                    return ra, rb, pairs
        return a, b, []

    def _two_streets(self, a: StreetMatch, b: StreetMatch) -> bool:
        """Whether a corner's two names can be two streets. "Joy St & Joy Pl", where the map has no Joy Pl, is not
        Joy St crossing itself; and whoever writes "Commercial Ct & Commercial St" tells Ct from St, so the map's
        Commercial St (or Commercial Wharf) is not the Ct read with another type."""
        if not set(a.ids) - set(b.ids):
            return False
        if "other type" in (a.how, b.how):
            cores = [{self.gz.streets[i].core for i in m.ids} for m in (a, b)]
            return not cores[0] & cores[1]
        return True

    def _crossing_candidates(self, pairs: list, a: StreetMatch, b: StreetMatch, tail: tuple[str, ...],
                             span: str) -> list[Candidate]:
        phrases = tuple(area_phrases(list(tail)))
        streets = list(dict.fromkeys(i for i, _, _ in pairs))
        kept, _p, how, verdict = self._choose(tuple(streets), phrases)
        pairs = [pr for pr in pairs if pr[0] in kept] or pairs
        # Crossings closer than 250 m are one place (a dual carriageway meets the street twice).
        clusters: list[list[NDArray[np.float64]]] = []
        for _, _, p in pairs:
            for c in clusters:
                if np.hypot(*(c[0] - p)) <= CONFIDENT_RADIUS_M:
                    c.append(p)
                    break
            else:
                clusters.append([p])
        k = len(clusters)
        conf = a.agreement * b.agreement * (0.97 if k == 1 else 0.97 / k) * (AREA_CONTRADICTED if verdict < 0 else 1.0)
        i, j, _ = pairs[0]
        names = f"{self.gz.streets[i].name} and {self.gz.streets[j].name}"
        note = f" (one of {k} crossings of these names)" if k > 1 else (f" (chosen by {how})" if how else "")
        short = [self.gz.streets[s].name for s, m in ((i, a), (j, b)) if m.how == "abbreviated"]
        if short:
            note += f" (street name read as short for {short[0]})"
        out = []
        for c in clusters[:3]:
            xy = np.mean(np.asarray(c), axis=0)
            xy = min(c, key=lambda p, xy=xy: float(np.hypot(*(p - xy))))
            out.append(self._cand(xy, "intersection", conf, 25 if len(c) == 1 else 50, span,
                                  f"intersection of {names}{note}"))
        return out

    def _landmarks(self, words: list[str], whole_clause: set[str] | None = None,
                   tail_clauses: set[str] | None = None) -> list[Candidate]:
        """Named places. A one-word name is weak evidence (a brand, a common word: "Target", "Sprint"),
        unless it is all the customer wrote first ("Lasipalatsi, 00100 Helsinki"); a name that is a whole later
        part of the text is weak too (", Springfield, IL": the city, whatever café bears its name); a chain's
        name says nothing about which branch; a name that is one of the city's own area words is never a
        place."""
        out: list[Candidate] = []
        seen: set[str] = set()
        whole_clause, tail_clauses = whole_clause or set(), tail_clauses or set()
        approximate = self._approximate_places(words)
        for n in range(min(6, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                if gram[0] in self.stop or gram[-1] in self.stop:
                    continue
                phrase = " ".join(gram)
                if n == 1 and (len(phrase) < 5 or phrase in STREET_TYPES or phrase.isdigit()):
                    continue
                hit_key = phrase if phrase in self.gz.place_index else None
                fuzzy = False
                if hit_key is None and phrase in approximate:
                    hit_key, fuzzy = approximate[phrase], True
                if hit_key is None or hit_key in seen or hit_key in self.gz.area_points:
                    continue
                if self.gz.match_street(hit_key, allow_core=False) is not None:
                    continue  # a stop or a building named after the street: the street says more, and less surely
                seen.add(hit_key)
                ids = self.gz.place_index[hit_key]
                places = [self.gz.pois[pid] for pid in ids]
                spread = max((float(np.hypot(*(p.xy - q.xy))) for p in places for q in places), default=0.0)
                one_place = len(places) == 1 or spread <= CONFIDENT_RADIUS_M
                single_word = len(hit_key.split()) == 1
                if any(p.brand for p in places):
                    conf = 0.3 if one_place else 0.1
                elif (single_word and phrase not in whole_clause) or phrase in tail_clauses:
                    conf = 0.4 if one_place else 0.15
                else:
                    conf = 0.8 if one_place else 0.6 / len(places)
                conf *= 0.7 if fuzzy else 1.0
                for p in places[:1] if one_place else places[:3]:
                    out.append(self._cand(p.xy, "landmark", conf, 75, phrase, f"near {p.name} ({p.kind})"))
            if out:
                return out
        return out

    def _approximate_places(self, words: list[str]) -> dict[str, str]:
        """Every group of 2-6 words (at least 10 letters, not a place's exact name) → the place name it spells
        nearly (ratio ≥ 92), scored in one vectorised pass: a long message has hundreds of word groups."""
        grams = set()
        for n in range(2, min(6, len(words)) + 1):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                phrase = " ".join(gram)
                if (len(phrase) >= 10 and gram[0] not in self.stop and gram[-1] not in self.stop
                        and phrase not in self.gz.place_index):
                    grams.add(phrase)
        if not grams or not self._poi_keys:
            return {}
        queries = sorted(grams)
        scores = process.cdist(queries, self._poi_keys, scorer=fuzz.ratio, score_cutoff=92, dtype=np.float32,
                               workers=1)
        best = scores.argmax(axis=1)
        return {q: self._poi_keys[int(b)] for q, b, row in zip(queries, best, scores, strict=True) if row[b] > 0}

    def _streets_only(self, words: list[str]) -> list[Candidate]:
        for i in range(len(words)):
            if words[i] in self.stop or words[i].isdigit():
                continue
            m, used, _ = match_prefix(self.gz, words[i:], self.stop, allow_fuzzy=False, allow_core=False)
            if m is None:
                continue
            st0 = self.gz.streets[m.ids[0]]
            if used == 1 and st0.type != "" and st0.core == words[i]:
                continue  # one bare word that happens to be a street's name part
            ids, p_street, _how, verdict = self._choose(m.ids, tuple(area_phrases(words[i + used:i + used + 6])))
            st = self.gz.streets[ids[0]]
            p = m.agreement * p_street * 0.95 * st.share_within(st.centroid, CONFIDENT_RADIUS_M)
            p = min(p * _evidence(verdict, False), STREET_ONLY_MAX)
            span = " ".join(words[i:i + used])
            note = f"; one of {len(ids)} streets of this name" if len(ids) > 1 else ""
            return [self._cand(st.centroid, "street", p, max(100.0, st.length_m / 2), span,
                               f"somewhere on {st.name} (no house number or cross street given{note})")]
        return []

    def _neighbourhoods(self, words: list[str]) -> list[Candidate]:
        text = " " + " ".join(words) + " "
        for key in self._hood_keys:
            if f" {key} " in text:
                p = self.gz.places[self.gz.hood_index[key]]
                return [self._cand(p.xy, "neighbourhood", 0.2, 600, key, f"in the {p.name} {p.kind}")]
        return []

    def _from_text(self, text: str, kind: str = "address") -> list[Candidate]:
        text = self._uninflect(text[:MAX_TEXT_CHARS])
        words = tokens(text)
        found = self._addresses(text, kind) or self._intersections(text)
        if not found or found[0].confidence < 0.7:  # a landmark named inside the street's name is no landmark
            taken = set(tokens(found[0].span)) if found else set()
            clauses = [" ".join(tokens(c)) for c in re.split(r"[,;:!?()\n]", text)]
            clauses = [c for c in clauses if c]
            found += [c for c in self._landmarks(words, set(clauses[:1]), set(clauses[1:]))
                      if not set(c.span.split()) <= taken]
        if not found:
            found = self._streets_only(words) or self._neighbourhoods(words)
        return found

    # ---- entry point -------------------------------------------------------------------------
    def geotag(
        self,
        text: str,
        gps: tuple[float, float] | None = None,
        place_hint: str | None = None,
        known_address: str | None = None,
        stated_address: str | None = None,
    ) -> list[Candidate]:
        """Ranked candidates (best first). `gps` is (lat, lon); it is ignored, with the reason in
        the explanation of the text candidates, when bogus or outside the service area.
        `stated_address` is an address the customer typed in an address field (Open311
        `address_string`, a web form): a statement of where the problem is, with the full confidence
        of what it resolves to. `place_hint` (e.g. a neighbourhood) is used when the text names
        nothing better; `known_address` (the customer's address on file) is a last resort, never
        above 0.5. Only the first MAX_TEXT_CHARS characters of a text are read (time grows with length).
        """
        if text is None or not str(text).strip():
            if gps is None and not known_address and not place_hint and not stated_address:
                raise EmptyTextError("the complaint text is empty; give a description, GPS point or address")
            text = ""
        out: list[Candidate] = []
        gps_note = ""
        if gps is not None:
            reason = self._gps_problem(gps)
            if reason is None:
                lat, lon = float(gps[0]), float(gps[1])
                out.append(Candidate(lat, lon, "gps", 0.9, 30.0, "", "GPS point sent with the report"))
            else:
                gps_note = f" (GPS ignored: {reason})"
        if stated_address and stated_address.strip():
            out += [Candidate(c.lat, c.lon, "stated_address" if c.kind == "address" else c.kind, c.confidence,
                              c.radius_m, c.span, "address given with the report: " + c.explanation + gps_note)
                    for c in self._from_text(stated_address)]
        found = self._from_text(text)
        if not found and place_hint:
            found = [
                Candidate(c.lat, c.lon, c.kind, round(c.confidence * 0.8, 3), c.radius_m, c.span,
                          c.explanation + " (from the place hint)")
                for c in (self._landmarks(tokens(place_hint)) or self._neighbourhoods(tokens(place_hint)))
            ]
        if known_address:
            out += [Candidate(c.lat, c.lon, "customer_address", round(min(c.confidence, 0.5), 3), c.radius_m,
                              c.span, "customer's address on file: " + c.explanation)
                    for c in self._addresses(known_address, kind="customer_address")]
        out += [Candidate(c.lat, c.lon, c.kind, c.confidence, c.radius_m, c.span, c.explanation + gps_note)
                for c in found]
        out.sort(key=lambda c: -c.confidence)
        return out

    def unmapped_address(self, text: str) -> str | None:
        """The address words of `text` when it holds a well-formed street address that is not on this
        map (see `geodata.address_text.unmapped_address`)."""
        return _unmapped_address(self.gz, text)

    def _gps_problem(self, gps: tuple[float, float]) -> str | None:
        try:
            lat, lon = float(gps[0]), float(gps[1])
        except (TypeError, ValueError, IndexError):
            return f"not a (lat, lon) pair: {gps!r}"
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or lat != lat or lon != lon:
            return f"coordinates out of range: {gps!r}"
        if (abs(lat) < 1e-9 and abs(lon) < 1e-9) or (lat == round(lat) and lon == round(lon)):
            return f"placeholder point ({lat:g}, {lon:g})"
        try:
            inside = self.net.contains(lat, lon)
        except GeodataError:
            inside = False
        return None if inside else f"({lat:.5f}, {lon:.5f}) is outside the service area"
