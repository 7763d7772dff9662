"""Street-name normalization shared by the gazetteer and the geotagger.

"S. Conkling Street", "SOUTH CONKLING ST" and "s conkling st" all become "s conkling st":
lower case, no punctuation, USPS-style abbreviations for directions and street types,
ordinal words as digits ("First" → "1st"), a leading "St" before a name read as "saint".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIRECTIONS = {
    "north": "n", "south": "s", "east": "e", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    "n": "n", "s": "s", "e": "e", "w": "w", "ne": "ne", "nw": "nw", "se": "se", "sw": "sw",
}
STREET_TYPES = {
    "street": "st", "st": "st", "str": "st",
    "avenue": "ave", "ave": "ave", "av": "ave", "aven": "ave", "avn": "ave",
    "road": "rd", "rd": "rd",
    "boulevard": "blvd", "blvd": "blvd", "boul": "blvd",
    "drive": "dr", "dr": "dr", "drv": "dr",
    "lane": "ln", "ln": "ln",
    "place": "pl", "pl": "pl",
    "court": "ct", "ct": "ct",
    "terrace": "ter", "ter": "ter", "terr": "ter",
    "parkway": "pkwy", "pkwy": "pkwy", "pky": "pkwy",
    "highway": "hwy", "hwy": "hwy",
    "square": "sq", "sq": "sq",
    "circle": "cir", "cir": "cir",
    "alley": "aly", "aly": "aly",
    "expressway": "expy", "expy": "expy",
    "plaza": "plz", "plz": "plz",
    "way": "way", "wy": "way",
    "row": "row", "walk": "walk", "mall": "mall", "path": "path", "pike": "pike",
    "crescent": "cres", "cres": "cres", "trail": "trl", "trl": "trl",
    "pass": "pass", "promenade": "prom", "wharf": "wharf", "pier": "pier",
}
ORDINALS = {
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th",
    "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th", "eleventh": "11th", "twelfth": "12th",
}
OTHER = {"mt": "mount", "ft": "fort", "saint": "saint", "ste": "sainte", "hts": "heights"}

_PUNCT = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with punctuation removed (hyphens and slashes split words)."""
    text = text.lower().replace("'", "").replace("’", "")
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip().split()


@dataclass(frozen=True)
class StreetName:
    """A normalized street name split into direction prefix, core and type ('e', 'baltimore', 'st')."""

    prefix: str
    core: str
    type: str
    suffix_dir: str = ""

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.prefix, self.core, self.type, self.suffix_dir) if p)

    @property
    def without_prefix(self) -> str:
        return " ".join(p for p in (self.core, self.type, self.suffix_dir) if p)


def parse_street(name: str) -> StreetName:
    """Normalize a street name and split it (see module docstring)."""
    toks = tokens(name)
    if not toks:
        return StreetName("", "", "")
    prefix = ""
    if len(toks) > 1 and toks[0] in DIRECTIONS:
        prefix = DIRECTIONS[toks.pop(0)]
    suffix_dir = ""
    if len(toks) > 2 and toks[-1] in {"n", "s", "e", "w", "ne", "nw", "se", "sw"}:
        suffix_dir = toks.pop()
    stype = ""
    if len(toks) > 1 and toks[-1] in STREET_TYPES:
        stype = STREET_TYPES[toks.pop()]
    out = []
    for i, t in enumerate(toks):
        t = ORDINALS.get(t, t)
        if t == "st" and i == 0 and len(toks) > 1:
            t = "saint"
        out.append(OTHER.get(t, t))
    core = " ".join(out)
    if not core and stype:  # a street called just "Broadway" is core, not type
        core, stype = stype, ""
    return StreetName(prefix, core, stype, suffix_dir)


def normalize_street(name: str) -> str:
    """The canonical form of a street name, e.g. 'South Conkling Street' → 's conkling st'."""
    return parse_street(name).full


def normalize_name(name: str) -> str:
    """Canonical form of a place/POI name: lower case, no punctuation, single spaces."""
    return " ".join(ORDINALS.get(t, t) for t in tokens(name))
