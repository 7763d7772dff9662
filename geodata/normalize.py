"""Street-name normalization shared by the gazetteer and the geotagger.

"S. Conkling Street", "SOUTH CONKLING ST" and "s conkling st" all become "s conkling st":
lower case, no punctuation, USPS-style abbreviations for directions and street types, numbered
streets as bare numbers ("19th St", "19 Street", "Nineteenth St" → "19 st"), spelled-out quadrant
suffixes ("Massachusetts Avenue Northwest" → "massachusetts ave nw"), initials joined ("F D R Drive",
"F.D.R. Drive" → "fdr dr"), a leading "St" before a name read as "saint", and the common
abbreviations of German/Nordic street suffixes ("Hauptstr." = "Hauptstraße") and Romance street
prefixes ("Av." = "Avenida"). Both sides of a match (OSM names and what people write) go through
the same function, so only the spelling has to agree, not the language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DIRECTIONS = {
    "north": "n", "south": "s", "east": "e", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    "n": "n", "s": "s", "e": "e", "w": "w", "ne": "ne", "nw": "nw", "se": "se", "sw": "sw",
}
QUADRANTS = frozenset({"ne", "nw", "se", "sw"})
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
# Street-type words written before the name (French, Spanish, Portuguese, Italian...), with their
# abbreviations mapped to one spelling: "Av. da Boavista" = "Avenida da Boavista", "R. X" = "Rua X" = "Rue X".
LEADING_TYPES = {
    "avenue": "av", "avenida": "av", "av": "av", "avda": "av", "ave": "av",
    "rue": "r", "rua": "r", "r": "r", "calle": "c", "c": "c", "carrer": "c",
    "travessa": "tv", "tv": "tv", "trav": "tv", "praca": "pc", "pc": "pc", "pca": "pc", "largo": "lg", "lg": "lg",
    "chemin": "ch", "ch": "ch", "allee": "all", "impasse": "imp", "imp": "imp", "quai": "qu",
    "paseo": "pso", "pso": "pso", "camino": "cno", "via": "via", "viale": "vle", "piazza": "pza", "pza": "pza",
    "boulevard": "bd", "bd": "bd", "place": "pl", "pl": "pl",
}
# Particles inside names that people drop or add ("Rua de Santa Catarina" = "R. Santa Catarina").
PARTICLES = frozenset({"de", "da", "do", "dos", "das", "del", "della", "di", "des", "du", "la", "le", "of", "the"})
_UNITS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
_TEENS = ["tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
          "eighteenth", "nineteenth"]
_TENS_CARD = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_TENS_ORD = ["", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth", "eightieth",
             "ninetieth"]
ORDINALS: dict[str, str] = {w: str(i) for i, w in enumerate(_UNITS) if w}
ORDINALS.update({w: str(10 + i) for i, w in enumerate(_TEENS)})
ORDINALS.update({w: str(10 * i) for i, w in enumerate(_TENS_ORD) if w})
TENS: dict[str, int] = {w: 10 * i for i, w in enumerate(_TENS_CARD) if w}
OTHER = {"mt": "mount", "ft": "fort", "saint": "saint", "ste": "sainte", "hts": "heights", "pt": "point"}
# Compound street suffixes written short: "Hauptstr." = "Hauptstraße"; "Storgt." = "Storgata".
_SUFFIXES = (("strasse", "str"), ("straße", "str"), ("str", "str"), ("gatan", "gatan"), ("gata", "gata"),
             ("gt", "gata"))

_PUNCT = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
_ORDINAL_NUM = re.compile(r"^(\d+)(?:st|nd|rd|th|e|er|re|eme|ème|º|ª)$")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with punctuation removed (hyphens and slashes split words)."""
    text = text.lower().replace("'", "").replace("’", "")
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip().split()


def _fold(tok: str) -> str:
    """ASCII-fold the few accents that people drop when typing ('Eteläesplanadi' = 'Etelaesplanadi')."""
    return tok.translate(_FOLD)


_FOLD = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "è": "e", "ê": "e", "ü": "u", "ç": "c", "ã": "a",
                       "á": "a", "à": "a", "í": "i", "ó": "o", "ô": "o", "õ": "o", "ú": "u", "ñ": "n", "ø": "o",
                       "æ": "ae", "ß": "ss"})


def number_words(toks: list[str]) -> list[str]:
    """Ordinals as bare numbers and runs of single letters joined: ['twenty', 'third', 'st'] → ['23', 'st'],
    ['19th'] → ['19'], ['f', 'd', 'r', 'dr'] → ['fdr', 'dr']."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        m = _ORDINAL_NUM.match(t)
        if m:
            out.append(str(int(m.group(1))))
        elif t in TENS and i + 1 < len(toks) and toks[i + 1] in ORDINALS and int(ORDINALS[toks[i + 1]]) < 10:
            out.append(str(TENS[t] + int(ORDINALS[toks[i + 1]])))
            i += 1
        elif t in ORDINALS:
            out.append(ORDINALS[t])
        elif len(t) == 1 and t.isalpha() and i + 1 < len(toks) and len(toks[i + 1]) == 1 and toks[i + 1].isalpha():
            j = i
            while j < len(toks) and len(toks[j]) == 1 and toks[j].isalpha():
                j += 1
            out.append("".join(toks[i:j]))
            i = j
            continue
        else:
            out.append(t)
        i += 1
    return out


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

    @property
    def bare(self) -> str:
        """Core and type without any direction: where 'Massachusetts Ave' meets 'Massachusetts Avenue NW'."""
        return " ".join(p for p in (self.core, self.type) if p)


def _suffix(tok: str) -> str:
    for long, short in _SUFFIXES:
        if len(tok) > len(long) + 2 and tok.endswith(long):
            return tok[: -len(long)] + short
    return tok


@lru_cache(maxsize=1 << 16)
def parse_street(name: str) -> StreetName:
    """Normalize a street name and split it (see module docstring); cached: the same phrases recur."""
    toks = number_words([_fold(t) for t in tokens(name)])
    if not toks:
        return StreetName("", "", "")
    prefix = ""
    if len(toks) > 1 and toks[0] in DIRECTIONS:
        prefix = DIRECTIONS[toks.pop(0)]
    suffix_dir = ""
    if toks and toks[-1] in DIRECTIONS and (len(toks) > 2 or (len(toks) == 2 and DIRECTIONS[toks[-1]] in QUADRANTS)):
        suffix_dir = DIRECTIONS[toks.pop()]
    stype = ""
    if len(toks) > 1 and toks[-1] in STREET_TYPES:
        stype = STREET_TYPES[toks.pop()]
    elif prefix and len(toks) == 1 and toks[0] in STREET_TYPES:
        # "North Street" and "North St" (Boston), "West St" (Manhattan): the direction is the name, and the type
        # word is the core in its one spelling.
        return StreetName(prefix, STREET_TYPES[toks[0]], "", suffix_dir)
    out = []
    for i, t in enumerate(toks):
        if i == 0 and len(toks) > 1 and not stype and t in LEADING_TYPES:
            t = LEADING_TYPES[t]
        elif t == "st" and i == 0 and len(toks) > 1:
            t = "saint"
        elif 0 < i < len(toks) - 1 and t in PARTICLES:
            continue
        else:
            t = _suffix(t)
        out.append(OTHER.get(t, t))
    core = " ".join(out)
    if not core and stype:  # a street called just "Broadway" is core, not type
        core, stype = stype, ""
    return StreetName(prefix, core, stype, suffix_dir)


def normalize_street(name: str) -> str:
    """The canonical form of a street name, e.g. 'South Conkling Street' → 's conkling st'."""
    return parse_street(name).full


def normalize_name(name: str) -> str:
    """Canonical form of a place/POI name: lower case, no punctuation, accents folded, single spaces."""
    return " ".join(number_words([_fold(t) for t in tokens(name)]))
