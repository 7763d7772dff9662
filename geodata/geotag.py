"""Geotagger: where is the problem described in a complaint text?

Tries, in order of precision: trusted GPS, a customer's known address, house-number addresses
("2900 Fait Ave", "the 2900 block of Fait Ave"), intersections ("X & Y", "X/Y", "corner of X
and Y"), named places ("near the <POI> on <street>"), bare streets and neighbourhoods. Nothing
found gives an empty list, never a guess dressed as a fact.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from geodata.errors import EmptyTextError, GeodataError
from geodata.gazetteer import Gazetteer, parse_house_number
from geodata.network import StreetNetwork
from geodata.normalize import STREET_TYPES, parse_street, tokens

KINDS = ("gps", "customer_address", "address", "intersection", "block", "landmark", "street", "neighbourhood")


@dataclass(frozen=True)
class Candidate:
    """One possible location: lat/lon (degrees), confidence 0..1, uncertainty radius (m), why."""

    lat: float
    lon: float
    kind: str
    confidence: float
    radius_m: float
    span: str
    explanation: str


# Generic stopwords; the city, county and state words come from the OSM data (Gazetteer.area_words).
_BASE_STOP = frozenset({"near", "by", "at", "on", "in", "since", "and", "the", "of", "from", "to", "outside", "behind",
                        "across", "between", "corner", "city", "county", "block", "is", "are", "has", "there"})
_CONNECT = re.compile(r"\s*(?:&|/|\band\b|\bat\b|@|\bcorner of\b|\bx\b)\s*", re.I)
_NUMBER = re.compile(r"\b(\d{1,5})(?:\s*-\s*\d+)?[a-z]?\b", re.I)
_BLOCK = re.compile(r"\b(\d{1,5})\s+block\s+(?:of\s+)?", re.I)
_CLAUSE = re.compile(r"[,;:.!?()\n]|\b(?:since|near|by|outside|behind|across from|in front of)\b", re.I)


class Geotagger:
    """Ranked candidates from text with the gazetteer; GPS is checked against the network's area."""

    def __init__(self, gazetteer: Gazetteer, network: StreetNetwork, fuzzy_cutoff: float = 88.0) -> None:
        self.gz = gazetteer
        self.net = network
        self.fuzzy_cutoff = fuzzy_cutoff
        self.stop = _BASE_STOP | getattr(gazetteer, "area_words", frozenset())
        self._street_keys = sorted(set(gazetteer.by_full) | set(gazetteer.by_noprefix))
        self._poi_keys = sorted(gazetteer.place_index)
        self._hood_keys = sorted(gazetteer.hood_index)

    # ---- street matching -------------------------------------------------------------------
    def _match_street(self, words: list[str], allow_fuzzy: bool = True) -> tuple[list[int], int, bool]:
        """Longest prefix of `words` naming a street: (street ids, words used, fuzzy?)."""
        for n in range(min(6, len(words)), 0, -1):
            if words[n - 1] in self.stop and n > 1:
                continue
            ids = self.gz.find_streets(" ".join(words[:n]))
            if ids:
                return ids, n, False
        if allow_fuzzy:
            for n in range(min(5, len(words)), 1, -1):
                phrase = parse_street(" ".join(words[:n])).full
                if len(phrase) < 6:
                    continue
                hit = process.extractOne(phrase, self._street_keys, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff)
                if hit:
                    ids = self.gz.by_full.get(hit[0]) or self.gz.by_noprefix.get(hit[0], [])
                    return list(ids), n, True
        return [], 0, False

    def _street_at_end(self, words: list[str]) -> tuple[list[int], int, bool]:
        """A street named by a suffix of `words` (for the left side of 'X & Y')."""
        for start in range(max(0, len(words) - 6), len(words)):
            ids, used, fz = self._match_street(words[start:], allow_fuzzy=False)
            if ids and used == len(words) - start:
                return ids, len(words) - start, fz
        ids, used, fz = self._match_street(words[max(0, len(words) - 4):])
        return ids, used, fz

    def _cand(self, xy: np.ndarray, kind: str, conf: float, radius: float, span: str, why: str) -> Candidate:
        lat, lon = self.gz.lonlat(xy)
        return Candidate(round(lat, 7), round(lon, 7), kind, round(conf, 3), round(radius, 1), span, why)

    def _pick(self, ids: list[int], near: np.ndarray | None = None) -> int:
        if near is not None:
            return min(ids, key=lambda i: float(np.min(np.hypot(*(self.gz.streets[i].pts - near).T))))
        return max(ids, key=lambda i: self.gz.streets[i].length_m)

    # ---- text parsers ----------------------------------------------------------------------
    def _addresses(self, text: str, kind: str = "address") -> list[Candidate]:
        out: list[Candidate] = []
        for clause in _CLAUSE.split(text):
            if not clause or not clause.strip():
                continue
            block = _BLOCK.search(clause)
            for m in ([block] if block else []) + list(_NUMBER.finditer(clause)):
                is_block = m is block
                number = parse_house_number(m.group(1))
                if number is None or number == 0:
                    continue
                rest = tokens(clause[m.end():])
                if rest and rest[0] == "block":
                    is_block = True
                    rest = rest[2:] if len(rest) > 1 and rest[1] == "of" else rest[1:]
                ids, used, fz = self._match_street(rest)
                if not ids:
                    continue
                span = f"{m.group(0).strip()} {' '.join(rest[:used])}".strip()
                sid = self._pick(ids)
                st = self.gz.streets[sid]
                house = str(number)
                exact = None if is_block else self.gz.address(st.norm, house)
                penalty = 0.85 if fz else 1.0
                if exact is not None:
                    out.append(self._cand(exact, kind, 0.95 * penalty, 15, span,
                                          f"address point {house} {st.name} from OpenStreetMap"))
                    return out
                xy, method = self.gz.house_point(sid, number)
                conf, radius = {"address interpolation": (0.85, 40), "block interpolation": (0.8, 50),
                                "block extrapolation": (0.7, 100),
                                "block numbering": (0.6, 150), "street centroid": (0.3, st.length_m / 2)}[method]
                if is_block:
                    kind_b, radius = "block", max(radius, 80)
                    why = f"the {number // 100 * 100} block of {st.name}, placed by {method}"
                    xy, _ = self.gz.house_point(sid, number // 100 * 100 + 50)
                else:
                    kind_b = kind
                    why = f"{house} {st.name}: house number not in OpenStreetMap, placed by {method}"
                out.append(self._cand(xy, kind_b, conf * penalty, radius, span,
                                      why + (" (street name matched approximately)" if fz else "")))
                return out
        return out

    def _intersections(self, text: str) -> list[Candidate]:
        out: list[Candidate] = []
        for clause in re.split(r"[,;:.!?()\n]", text):
            parts = _CONNECT.split(clause)
            if len(parts) < 2:
                continue
            for left, right in itertools.pairwise(parts):
                lw, rw = tokens(left), tokens(right)
                if not lw or not rw:
                    continue
                a, na, fa = self._street_at_end(lw)
                b, nb, fb = self._match_street(rw)
                if not a or not b:
                    continue
                pts = self.gz.intersection(a, b)
                span = f"{' '.join(lw[len(lw) - na:])} & {' '.join(rw[:nb])}"
                if not pts:
                    continue
                conf = (0.9 if len(pts) == 1 else 0.6) * (0.85 if fa or fb else 1.0)
                names = f"{self.gz.streets[a[0]].name} and {self.gz.streets[b[0]].name}"
                note = f" (one of {len(pts)})" if len(pts) > 1 else ""
                for p in pts[:3]:
                    out.append(self._cand(p, "intersection", conf, 25 if len(pts) == 1 else 50, span,
                                          f"intersection of {names}{note}"))
                return out
        return out

    def _landmarks(self, words: list[str]) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for n in range(min(6, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                if gram[0] in self.stop or gram[-1] in self.stop:
                    continue
                phrase = " ".join(gram)
                if n == 1 and (len(phrase) < 5 or phrase in STREET_TYPES):
                    continue
                hit_key = phrase if phrase in self.gz.place_index else None
                fuzzy = False
                if hit_key is None and n >= 2 and len(phrase) >= 8:
                    hit = process.extractOne(phrase, self._poi_keys, scorer=fuzz.ratio, score_cutoff=90)
                    hit_key, fuzzy = (hit[0], True) if hit else (None, False)
                if hit_key is None or hit_key in seen:
                    continue
                seen.add(hit_key)
                ids = self.gz.place_index[hit_key]
                for pid in ids[:3]:
                    p = self.gz.pois[pid]
                    conf = (0.75 if len(ids) == 1 else 0.45) * (0.85 if fuzzy else 1.0)
                    out.append(self._cand(p.xy, "landmark", conf, 75, phrase, f"near {p.name} ({p.kind})"))
            if out:
                return out
        return out

    def _streets_only(self, words: list[str]) -> list[Candidate]:
        for i in range(len(words)):
            if words[i] in self.stop or words[i].isdigit():
                continue
            ids, used, _fz = self._match_street(words[i:], allow_fuzzy=False)
            if ids and (used > 1 or self.gz.streets[ids[0]].type == ""):
                st = self.gz.streets[self._pick(ids)]
                span = " ".join(words[i:i + used])
                return [self._cand(st.centroid, "street", 0.25, max(100.0, st.length_m / 2), span,
                                   f"somewhere on {st.name} (no house number or cross street given)")]
        return []

    def _neighbourhoods(self, words: list[str]) -> list[Candidate]:
        text = " ".join(words)
        for key in self._hood_keys:
            if re.search(rf"\b{re.escape(key)}\b", text):
                p = self.gz.places[self.gz.hood_index[key]]
                return [self._cand(p.xy, "neighbourhood", 0.2, 600, key, f"in the {p.name} {p.kind}")]
        return []

    # ---- entry point -------------------------------------------------------------------------
    def geotag(
        self,
        text: str,
        gps: tuple[float, float] | None = None,
        place_hint: str | None = None,
        known_address: str | None = None,
    ) -> list[Candidate]:
        """Ranked candidates (best first). `gps` is (lat, lon); it is ignored, with the reason in
        the explanation of the text candidates, when bogus or outside the service area.
        `place_hint` (e.g. a neighbourhood) is used when the text names nothing better;
        `known_address` (the customer's address on file) is a low-confidence last resort.
        """
        if text is None or not str(text).strip():
            if gps is None and not known_address and not place_hint:
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
        words = tokens(text)
        found = self._addresses(text) or self._intersections(text)
        if not found or found[0].confidence < 0.7:  # a landmark named inside the street's name is no landmark
            taken = set(tokens(found[0].span)) if found else set()
            found += [c for c in self._landmarks(words) if not set(c.span.split()) <= taken]
        if not found:
            found = self._streets_only(words) or self._neighbourhoods(words)
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
