"""Address understanding: the part of a text that is an address, read against the city's own street names.

Handles, in any city: house number before the street (US, UK: "29 Hereford St", "the 2900 block of
Fait Ave") or after it (most of Europe: "Sturenkatu 33", "Yrjönkatu 21 b"), also across a comma ("Rua Machado dos
Santos, 505", "12, rue de la Paix"); letters and ranges in
house numbers ("12A", "10-14", "37-39"); numbered streets in any spelling ("W 19 Street", "Nineteenth
St"); direction prefixes and quadrant suffixes; and the tail after the street ("Boston MA 02115",
"00550 Helsinki, Suomi"), whose words are kept as *area phrases* to choose between same-named
streets, never read as places. Matching is against the gazetteer's names, so a word is a street
only where the city has a street of that name: a complaint label or a brand in the text is not.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from geodata.gazetteer import (
    MAX_POINT_TO_STREET_M,
    AddressPointsReport,
    Gazetteer,
    StreetMatch,
    area_phrases,
    parse_house_number,
)
from geodata.normalize import LEADING_TYPES, STREET_TYPES, parse_street, tokens

# Generic stopwords; the city, county and state words come from the OSM data (Gazetteer.area_words).
BASE_STOP = frozenset({"near", "by", "at", "on", "in", "since", "and", "the", "of", "from", "to", "outside", "behind",
                       "across", "between", "corner", "city", "county", "block", "blk", "is", "are", "has", "there",
                       "intersection", "a", "an", "my", "our", "your", "for", "with", "it", "its", "this", "that"})
# Clause breaks: punctuation (not the dot of "S." or "St."), a spaced dash ("Noise - Street/Sidewalk"), and
# words that start a new location phrase.
CLAUSE = re.compile(r"[,;:!?()\n]|(?<!\b\w)(?<!\bst)(?<!\bmt)(?<!\bft)(?<!\bblk)\.(?:\s|$)|\s[-–—]\s"
                    r"|\b(?:since|near|by|outside|behind|across from|in front of)\b", re.I)
# A house number: digits, an optional letter ("12A"), an optional range ("10-14", "37-39b").
# A house number ends at a non-word character; "½" (a word character to Python) may follow at once ("641½ Main St").
HOUSE = re.compile(r"(?<![\w./-])(\d{1,6})([a-z])?(?:\s*[-–]\s*(\d{1,6})([a-z])?)?(?!(?!½)[\w/])", re.I)
HALF_AFTER = re.compile(r"^\s*(?:1/2|½)(?=\s|$)")  # "641 1/2 Saratoga St": a US half address, at its house
LETTER_AFTER = re.compile(r"^\s+([a-z])\s*$", re.I)  # "Yrjönkatu 21 b": a staircase letter ending the clause
BLOCK = re.compile(r"^\s*(?:block|blk\.?)\s+(?:of\s+)?", re.I)  # "2900 block of", police style "2900 BLK"
FUZZY_CUTOFF = 88.0


@dataclass(frozen=True)
class ParsedAddress:
    """An address found in a text: the house as written ('12A', '10-14'), its number, the streets
    its street name may mean, how well the name agrees, the words it spans, the area phrases
    written after it, and whether it named a whole block ('the 2900 block of ...')."""

    house: str
    number: int
    match: StreetMatch
    span: str
    area_phrases: tuple[str, ...]
    block: bool = False
    fuzzy: bool = False
    order: str = "number first"

    @property
    def street_ids(self) -> tuple[int, ...]:
        return self.match.ids


def match_prefix(gz: Gazetteer, words: list[str], stop: frozenset[str], allow_fuzzy: bool = True,
                 allow_core: bool = True) -> tuple[StreetMatch | None, int, bool]:
    """The prefix of `words` naming a street, the best-agreeing and then the longest: (match, words used,
    fuzzy?). "Boardman St East Boston" is Boardman St (the same name), not "Boardman St E" (a direction
    the street does not have); a name without its type ("Snow" of "Snow Hill St") is not taken when a
    street-type word follows it."""
    best: tuple[StreetMatch, int] | None = None
    for n in range(min(6, len(words)), 0, -1):
        if n > 1 and words[n - 1] in stop and words[n - 1] not in gz.area_words:
            continue  # "Main St and" is no name; "E Baltimore" may be (the whole phrase must name a street)
        if n == 1 and (words[0] in stop or words[0].isdigit()):
            continue
        m = gz.match_street(" ".join(words[:n]), allow_core=allow_core)
        if m is None:
            continue
        if m.how == "no type" and any(w in STREET_TYPES or w in LEADING_TYPES for w in words[n:n + 3]):
            continue  # "Snow" of "Snow Hill St" is not Snow Terrace; "Knox Ct" for Knox St is "other type"
        if best is None or m.agreement > best[0].agreement:
            best = (m, n)
        if m.agreement >= 1.0:
            break
    if best is not None:
        return best[0], best[1], False
    if allow_fuzzy:
        for n in range(min(4, len(words)), 1, -1):
            if words[n - 1] not in stop:
                short = abbreviated_street(gz, " ".join(words[:n]))
                if short is not None:
                    return short, n, True
        keys = _fuzzy_keys(gz)
        for n in range(min(5, len(words)), 1, -1):
            if words[n - 1] in stop:
                continue
            phrase = parse_street(" ".join(words[:n])).full
            if len(phrase) < 8 or " " not in phrase:
                continue
            hit = process.extractOne(phrase, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if hit:
                ids = gz.by_full.get(hit[0]) or gz.by_noprefix.get(hit[0], [])
                if ids:
                    return StreetMatch(tuple(ids), 0.5, "approximate"), n, True
    return None, 0, False


def match_suffix(gz: Gazetteer, words: list[str], stop: frozenset[str]) -> tuple[StreetMatch | None, int]:
    """A street named by the whole of a suffix of `words` (the longest): (match, words used)."""
    for start in range(max(0, len(words) - 6), len(words)):
        if len(words) - start == 1 and words[start].isdigit():
            continue
        if words[start] in stop:  # "City Sq", "The Alameda": only as a street's own full name
            whole = gz.match_street(" ".join(words[start:]), allow_core=False)
            if whole is not None and whole.how in ("name", "alias") and len(words) - start > 1:
                return whole, len(words) - start
            continue
        m, used, _ = match_prefix(gz, words[start:], stop, allow_fuzzy=False)
        if m is not None and used == len(words) - start:
            return m, used
    return None, 0


# Words left out of a name's initials (titles, Saint, articles): "MLK Blvd" is Dr Martin Luther King Jr Boulevard.
_NOT_IN_INITIALS = frozenset({"dr", "jr", "sr", "st", "the", "of", "de", "la"})
MIN_ABBREVIATION = 3  # "Mass Ave", "Comm Ave", "Penn Ave": a shortened first word keeps at least this many letters


def abbreviated_street(gz: Gazetteer, phrase: str) -> StreetMatch | None:
    """The one street a shortened name can mean ("Mass Ave" for Massachusetts Avenue, "Mem Dr", "MLK Blvd",
    "JFK St"), or None: the written word begins the street's one-word name or is its words' initials, the street
    type agrees and any direction written is the street's. Agreement 0.5, as for an approximate spelling: the
    street a customer meant may be one the map does not have ("Elm St" unmapped, "Elmwood St" mapped), so such a
    match is a suggestion for a person, never a dispatch on its own."""
    sn = parse_street(phrase)
    if not sn.type or not sn.core.isalpha():
        return None
    shortened = _shortened_names(gz).get(sn.type)
    if shortened is None:
        return None
    by_word, by_initials = shortened
    cores = list(by_initials.get(sn.core, ()))
    if len(sn.core) >= MIN_ABBREVIATION:
        k = bisect.bisect_right(by_word, sn.core)  # past the name itself: only longer names
        while k < len(by_word) and by_word[k].startswith(sn.core):
            cores.append(by_word[k])
            k += 1
    found: dict[str, list[int]] = {}
    for core in cores:
        hits = [i for i in gz.by_core.get(core, []) if gz.streets[i].type == sn.type
                and gz._directions_agree(i, sn.prefix, sn.suffix_dir)]
        if hits:
            found[core] = hits
    if len(found) != 1:
        return None  # none, or several names it could shorten: nothing to suggest
    return StreetMatch(tuple(next(iter(found.values()))), 0.5, "abbreviated")


def _shortened_names(gz: Gazetteer) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """Street type → (its one-word names, sorted; initials of its longer names → those names),
    built once per city: what `abbreviated_street` looks a shortened name up in."""
    index = getattr(gz, "_shortened_names", None)
    if index is None:
        words: dict[str, set[str]] = defaultdict(set)
        initials: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for st in gz.streets:
            if not st.type or not st.core:
                continue
            parts = st.core.split()
            if len(parts) == 1:
                words[st.type].add(st.core)
            else:
                letters = "".join(w[0] for w in parts if w not in _NOT_IN_INITIALS)
                if len(letters) >= 2 and st.core not in initials[st.type][letters]:
                    initials[st.type][letters].append(st.core)
        index = {t: (sorted(words.get(t, ())), dict(initials.get(t, {})))
                 for t in set(words) | set(initials)}
        gz._shortened_names = index  # type: ignore[attr-defined]
    return index


def _fuzzy_keys(gz: Gazetteer) -> list[str]:
    keys = getattr(gz, "_fuzzy_key_list", None)
    if keys is None:
        keys = sorted(gz.street_names or (set(gz.by_full) | set(gz.by_noprefix)))
        gz._fuzzy_key_list = keys  # type: ignore[attr-defined]
    return keys


def _later_words(clauses: list[str], i: int, limit: int = 8) -> list[str]:
    out: list[str] = []
    for c in clauses[i + 1:]:
        out += tokens(_head(c))
        if len(out) >= limit:
            break
    return out[:limit]


def find_addresses(gz: Gazetteer, text: str, stop: frozenset[str] = BASE_STOP) -> list[ParsedAddress]:
    """Every house-number address in `text` that names a known street, in text order (see module docstring)."""
    out: list[ParsedAddress] = []
    clauses = [c for c in CLAUSE.split(text or "") if c and c.strip()]
    for ci, clause in enumerate(clauses):
        for m in HOUSE.finditer(clause):
            number = parse_house_number(m.group(1))
            after = _head(clause[m.end():])
            if number is None or (number == 0 and not BLOCK.match(after)):
                continue  # no house is number 0, but "0 BLOCK" / "00 BLK" (police style) is the first block
            house = m.group(0).strip()
            half = HALF_AFTER.match(after)
            if half:
                house, after = f"{house} 1/2", after[half.end():]
            block = False
            bm = BLOCK.match(after)
            if bm:
                block, after = True, after[bm.end():]
            # House number first: "29 Hereford St Boston MA 02115".
            rest = tokens(after)
            match, used, fz = match_prefix(gz, rest, stop)
            if match is not None:
                tail = rest[used:] + _later_words(clauses, ci)
                words = f"{house} block of" if block else house
                out.append(ParsedAddress(house, number, match, f"{words} {' '.join(rest[:used])}".strip(),
                                         tuple(area_phrases(tail)), block, fz))
                continue
            if block:
                continue
            # Street first: "Sturenkatu 33, 00550 Helsinki" (the number ends the clause or a letter follows).
            before = tokens(_end(clause[: m.start()]))
            letter = LETTER_AFTER.match(after)
            ends = not tokens(after) or letter is not None
            smatch, sused = match_suffix(gz, before, stop)
            joiner = " "
            if smatch is None and not before and ends and _standalone_number(gz, m.group(1)):
                # The number is a clause of its own: "Rua Machado dos Santos, 505", "Via Roma, 12" (street
                # first, the street ends the clause before) or "12, rue de la Paix" (number first).
                if ci > 0:
                    before = tokens(_end(clauses[ci - 1]))
                    smatch, sused = match_suffix(gz, before, stop)
                    joiner = ", "
                if smatch is None and ci + 1 < len(clauses) and not letter:
                    nxt = tokens(_head(clauses[ci + 1]))
                    match, used, fz = match_prefix(gz, nxt, stop)
                    if match is not None:
                        tail = nxt[used:] + _later_words(clauses, ci + 1)
                        out.append(ParsedAddress(house, number, match, f"{house}, {' '.join(nxt[:used])}",
                                                 tuple(area_phrases(tail)), False, fz))
                        continue
            if smatch is None:
                continue
            if letter and not m.group(2):
                house = f"{house}{letter.group(1)}"
            span = f"{' '.join(before[len(before) - sused:])}{joiner}{house}"
            tail = ([] if letter else tokens(after)) + _later_words(clauses, ci)
            agreement = smatch.agreement * (1.0 if ends else 0.8)
            out.append(ParsedAddress(house, number, StreetMatch(smatch.ids, agreement, smatch.how), span,
                                     tuple(area_phrases(tail)), False, False, "street first"))
    return out


# Characters read on either side of a house number: the street (six words at most) and the area words after it
# fit, and a long clause full of numbers is read in linear time, not in time growing with its square.
AROUND_NUMBER_CHARS = 240


def _head(text: str) -> str:
    """The start of `text`, at most AROUND_NUMBER_CHARS, ending at a whole word."""
    if len(text) <= AROUND_NUMBER_CHARS:
        return text
    cut = text[:AROUND_NUMBER_CHARS]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut


def _end(text: str) -> str:
    """The end of `text`, at most AROUND_NUMBER_CHARS, starting at a whole word."""
    if len(text) <= AROUND_NUMBER_CHARS:
        return text
    cut = text[-AROUND_NUMBER_CHARS:]
    space = cut.find(" ")
    return cut[space + 1:] if space >= 0 else cut


def _standalone_number(gz: Gazetteer, digits: str) -> bool:
    """Whether a number written as a clause of its own can be a house number: not one with a leading zero
    ("00100", "02115": postcodes), nor one the city's addresses use as an area word (a postcode)."""
    return not digits.startswith("0") and digits not in gz.area_points


def parse_address(gz: Gazetteer, text: str, stop: frozenset[str] = BASE_STOP) -> ParsedAddress | None:
    """The first address in `text` (see `find_addresses`), or None."""
    found = find_addresses(gz, text, stop)
    return found[0] if found else None


# A house number, one to four capitalised name words and a street-type word: what makes "123 Elm Road" an
# address even where no Elm Road is known ("3 hours on the road" is not one).
_TYPE_WORD = re.compile(
    r"\b\d{1,6}[A-Za-z]?\s+(?:(?i:[nsew]\.?|north|south|east|west)\s+)?(?:[A-Z0-9][\w'.-]*\s+){1,4}?"
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|place|pl|court|ct|terrace|way|parkway|"
    r"pkwy|highway|hwy|circle|cir|square|sq)\b\.?")


def unmapped_address(gz: Gazetteer, text: str) -> str | None:
    """The address-shaped words of `text` ('123 Elm Road') when the text holds a well-formed street
    address whose street this map does not have — a place outside the service area, not a
    customer to ask "where is it?" again. None when the text holds no such address."""
    if find_addresses(gz, text):
        return None
    m = _TYPE_WORD.search(text or "")
    return m.group(0).strip() if m else None


def learn_address_points(gz: Gazetteer, points: Iterable[tuple[str, float, float]],
                         inside: Callable[[float, float], bool] | None = None, refresh: bool = True
                         ) -> AddressPointsReport:
    """Teach ``gz`` known addresses ('29 Hereford St Boston MA 02115', lat, lon): each becomes an exact address and a
    numbering anchor of the nearest street of that name (within MAX_POINT_TO_STREET_M: a point far from its street is
    a wrong point, not a lesson), and the city/postcode words after the street become area evidence.
    ``inside(lat, lon)`` rejects points outside the map."""
    report = AddressPointsReport()
    for text, lat, lon in points:
        if inside is not None and not inside(lat, lon):
            report.outside_map += 1
            continue
        xy = gz.xy(lat, lon)
        parsed = parse_address(gz, text)
        if parsed is None or parsed.number == 0:  # "0 BLOCK X" names a stretch, no house to learn
            report.unmatched += 1
            if len(report.problems) < 20:
                report.problems.append(f"no known street in {text!r}" if parsed is None else
                                       f"{text!r} names the first block, not a house")
            continue
        sid = min(parsed.street_ids, key=lambda i: gz.streets[i].distance_m(xy))
        if gz.streets[sid].distance_m(xy) > MAX_POINT_TO_STREET_M:
            report.unmatched += 1
            if len(report.problems) < 20:
                report.problems.append(f"{text!r} lies {gz.streets[sid].distance_m(xy):.0f} m from "
                                       f"{gz.streets[sid].name}")
            continue
        gz.learn_point(sid, parsed.house, xy, parsed.area_phrases)
        report.added += 1
    if refresh and report.added:
        gz.refresh_numbering()
    return report
