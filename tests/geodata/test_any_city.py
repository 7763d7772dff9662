"""The geotagger on other cities' real data (Boston / Cambridge / Somerville 311, Helsinki Open311 feedback):
address conventions with real street names, area words, namesake streets, and the calibration property —
among answers at or above the dispatch threshold, at least 97% lie within 250 m."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from benchmarks import geotag_eval
from geodata import AddressPoint, City, load_city
from geodata.address_points import read_address_points, split_placeholders
from geodata.projection import haversine_m
from server.intake.geotag import locate

from .conftest import DATA, DEMO_OSM, REPORTS_311, SHARED

BOSTON = SHARED / "cities" / "boston"
BOSTON_OSM = BOSTON / "boston_cambridge_somerville.osm.pbf"
BOSTON_EVAL = BOSTON / "boston_311_eval_dev.csv"
BOSTON_HISTORY = BOSTON / "boston_311_history_dev.csv"
BOSTON_PLACEHOLDER = BOSTON / "boston_311_placeholder_dev.csv"
HELSINKI = SHARED / "cities" / "helsinki"
HELSINKI_OSM = HELSINKI / "helsinki_central.osm.pbf"
HELSINKI_EVAL = HELSINKI / "helsinki_feedback_in_extract_generic.csv"
PORTO_CUT = DATA / "porto_calendario.osm.bz2"  # a real cut of Porto's OSM (see tests/geodata/data/README.md)
THRESHOLD = 0.6  # the server's default geotag_min_confidence


@pytest.fixture(scope="module")
def boston(cache_dir: Path) -> City:
    assert BOSTON_OSM.is_file(), f"shared test data missing: {BOSTON_OSM}"
    return load_city(BOSTON_OSM, cache_dir)


@pytest.fixture(scope="module")
def boston_taught(cache_dir: Path) -> City:
    """Boston with the city's 311 history imported as address points (its own object: nothing leaks)."""
    city = load_city(BOSTON_OSM, cache_dir)
    import copy

    city = copy.deepcopy(city)
    points, _ = read_address_points(BOSTON_HISTORY)
    report = city.add_address_points(split_placeholders(points)[0])
    assert report.added > 1000 and report.outside_map > 0
    return city


@pytest.fixture(scope="module")
def porto(cache_dir: Path) -> City:
    return load_city(PORTO_CUT, cache_dir)


@pytest.fixture(scope="module")
def helsinki(cache_dir: Path) -> City:
    assert HELSINKI_OSM.is_file(), f"shared test data missing: {HELSINKI_OSM}"
    return load_city(HELSINKI_OSM, cache_dir)


def _truth(path: Path, text: str) -> tuple[float, float]:
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["text"] == text:
                return float(row["lat"]), float(row["lon"])
    raise AssertionError(f"{text!r} is not in {path.name}")


# ---- conventions, with real street names of the extracts -----------------------------------------
def test_street_number_order_postcode_tail_letters_and_ranges(helsinki: City) -> None:
    for text in ("Mannerheimintie 10, 00100 Helsinki, Suomi", "Yrjönkatu 21 b",
                 "Annankatu 12-14, 00101 Helsinki, Suomi", "Bulevardi 22, 00120 Helsinki, Suomi"):
        best = helsinki.geotag(text)[0]
        lat, lon = _truth(HELSINKI_EVAL, text)
        assert best.kind == "address" and best.explanation.startswith("address point"), text
        assert haversine_m(lat, lon, best.lat, best.lon) < 60, text
    assert "21b" in helsinki.geotag("Yrjönkatu 21 b")[0].explanation.lower()
    # Accents people drop when typing, and the street's own spelling, are the same address.
    a, b = helsinki.geotag("Etelaesplanadi 22")[0], helsinki.geotag("Eteläesplanadi 22, 00130 Helsinki")[0]
    assert (a.lat, a.lon) == (b.lat, b.lon)


def test_a_house_number_in_a_clause_of_its_own(porto: City, city: City) -> None:
    """Southern Europe writes the number after a comma ("Rua Machado dos Santos, 505", "Via Roma, 12"), France
    before one ("12, rue de la Paix"): the number is the house on the street beside it. A number the city's
    addresses use as a postcode ("Fait Ave, 21224") is not a house."""
    point = porto.geotag("Rua Machado dos Santos 505")[0]
    assert point.explanation == "address point 505 Rua Machado dos Santos"
    for text in ("Rua Machado dos Santos, 505", "505, Rua Machado dos Santos",
                 "Rua Machado dos Santos, 505, 4760-505 Calendário", "buraco na estrada, Rua Machado dos Santos, 505"):
        best = porto.geotag(text)[0]
        assert best.explanation == point.explanation and (best.lat, best.lon) == (point.lat, point.lon), text
        assert best.confidence >= THRESHOLD, text
    assert porto.geotag("Rua Brito Camacho, 140")[0].explanation == "address point 140 Rua Brito Camacho"
    # Baltimore: the ZIP code after the street is an area word, never house 21224 of Fait Avenue.
    zip_only = city.geotag("Fait Ave, 21224")
    assert zip_only and zip_only[0].kind == "street" and zip_only[0].confidence < THRESHOLD
    assert city.geotag("Fait Ave, 3400")[0].explanation == city.geotag("3400 Fait Ave")[0].explanation
    # A number that is only part of a sentence after the street is no house.
    assert city.geotag("Fait Ave, 2 trucks blocking the lane")[0].kind == "street"


def test_half_house_numbers(city: City) -> None:
    """US cities number some houses "1/2" (Baltimore's 311 has "2798 1/2 THE ALAMEDA"): the house is the whole
    number's, and the fraction is not taken for a street called "2"."""
    whole = city.geotag("3400 Fait Ave")[0]
    for text in ("3400 1/2 Fait Ave", "3400 ½ Fait Ave, Baltimore MD 21224", "3400½ Fait Ave"):
        half = city.geotag(text)[0]
        assert (half.lat, half.lon, half.confidence) == (whole.lat, whole.lon, whole.confidence), text
        assert half.explanation.startswith("3400 1/2 Fait Avenue"), text


def test_police_style_blocks_and_a_street_between_two_others(city: City) -> None:
    """'100 BLK N ANN ST' (Baltimore's own 311 writes it so) is the block; 'S Clinton St between Fait Ave and Foster
    Ave' is the middle of Clinton's stretch between its two crossings, as sure as the names are."""
    block = city.geotag("3400 block of Fait Ave")[0]
    for text in ("3400 BLK FAIT AVE", "3400 blk of Fait Ave", "3400 Blk. Fait Ave"):
        best = city.geotag(text)[0]
        assert (best.kind, best.lat, best.lon, best.explanation) == ("block", block.lat, block.lon, block.explanation)
    # The first block is written "0 BLOCK" or "00 BLK"; a house numbered 0 does not exist.
    for text in ("0 BLOCK S CLINTON ST", "00 BLK S Clinton St"):
        first = city.geotag(text)[0]
        assert first.kind == "block" and first.explanation.startswith("the 0 block of South Clinton Street"), text
    assert city.geotag("0 S Clinton St")[0].kind == "street"
    corner_a = city.geotag("S Clinton St & Fait Ave")[0]
    corner_b = city.geotag("S Clinton St & Foster Ave")[0]
    for text in ("S CLINTON ST BETWEEN FAIT AVE AND FOSTER AVE", "pothole on S Clinton St btwn Fait Ave & Foster Ave"):
        best = city.geotag(text)[0]
        assert best.explanation.startswith("the middle of South Clinton Street between Fait Avenue and Foster Avenue")
        assert best.confidence >= THRESHOLD
        a = haversine_m(best.lat, best.lon, corner_a.lat, corner_a.lon)
        b = haversine_m(best.lat, best.lon, corner_b.lat, corner_b.lon)
        assert abs(a - b) < 20 and a + b < 250  # halfway, on the short stretch between them
    # Two streets that do not cross the first one: no stretch, and no confident answer.
    assert all(c.confidence < THRESHOLD for c in city.geotag("Fait Ave between Foster Ave and Eastern Ave"))


def test_a_street_between_two_others_in_the_citys_language(porto: City, helsinki: City) -> None:
    """The same stretch written as the residents of Porto and Helsinki write it: "entre a Rua Y e a Rua Z" (the
    cross streets with their articles, after a comma too), "Y:n ja Z:n välissä" with the street before or after,
    and in the city's second language ("mellan ... och ..."). Each is the middle of that stretch, as the English
    form is; a stretch whose streets do not meet is no stretch."""
    def stretch(c: City, text: str) -> tuple[str, float, float, float]:
        best = c.geotag(text)[0]
        return best.explanation, best.lat, best.lon, best.confidence

    english = stretch(porto, "Rua Dom Rodrigo de Moura Teles between Rua Dom Luís I and Rua Duque da Terceira")
    assert english[0].startswith("the middle of Rua Dom Rodrigo de Moura Teles between") and english[3] >= THRESHOLD
    for text in ("Buraco na Rua Dom Rodrigo de Moura Teles entre a Rua Dom Luís I e a Rua Duque da Terceira",
                 "Buraco na Rua Dom Rodrigo de Moura Teles, entre a Rua Dom Luís I e a Rua Duque da Terceira",
                 "Rua Dom Rodrigo de Moura Teles entre Rua Dom Luís I y Rua Duque da Terceira"):
        assert stretch(porto, text) == english, text
    english = stretch(helsinki, "Yliopistonkatu between Fabianinkatu and Kluuvikatu")
    assert english[0].startswith("the middle of Yliopistonkatu between Fabianinkatu and Kluuvikatu")
    for text in ("Yliopistonkadulla Fabianinkadun ja Kluuvikadun välillä on roskia",
                 "Roskia Fabianinkadun ja Kluuvikadun välissä Yliopistonkadulla"):
        assert stretch(helsinki, text) == english, text
    swedish = stretch(helsinki, "Universitetsgatan mellan Fabiansgatan och Glogatan")  # names of `name:sv`
    assert swedish[:3] == english[:3] and THRESHOLD <= swedish[3] <= english[3]
    # Kaisaniemenkatu and Unioninkatu meet each other, far from Bulevardi: neither a stretch nor their corner.
    assert helsinki.geotag("Kaisaniemenkadun ja Unioninkadun kulmassa")[0].confidence >= THRESHOLD
    far = helsinki.geotag("Bulevardilla Kaisaniemenkadun ja Unioninkadun välissä")
    assert all(c.confidence < THRESHOLD for c in far)


def test_corners_as_written_in_other_languages(porto: City, helsinki: City) -> None:
    """"Esquina da Rua X com a Rua Y" (with, and the article before the cross street), "X esquina Y", "angle de la
    rue X et de la rue Y", "hörnet av X och Y": the same corner as "X & Y"."""
    corner = porto.geotag("Rua Afonso Costa & Rua 1 de Julho")[0]
    assert corner.explanation == "intersection of Rua Afonso Costa and Rua 1 de Julho"
    for text in ("Esquina da Rua Afonso Costa com a Rua 1 de Julho", "Rua Afonso Costa esquina Rua 1 de Julho",
                 "cruzamento da Rua Afonso Costa com a Rua 1 de Julho",
                 "angle de la Rua Afonso Costa et de la Rua 1 de Julho"):
        best = porto.geotag(text)[0]
        assert (best.explanation, best.lat, best.lon, best.confidence) == (
            corner.explanation, corner.lat, corner.lon, corner.confidence), text
    fi = helsinki.geotag("Yliopistonkadun ja Fabianinkadun risteyksessä")[0]
    sv = helsinki.geotag("hörnet av Universitetsgatan och Fabiansgatan")[0]
    assert fi.explanation == sv.explanation == "intersection of Yliopistonkatu and Fabianinkatu"
    assert (sv.lat, sv.lon) == (fi.lat, fi.lon) and sv.confidence >= THRESHOLD


def test_the_citys_other_language_names_streets_and_places(helsinki: City) -> None:
    """Helsinki writes its streets in Finnish and Swedish (`name:fi`, `name:sv` on 98% of them): a Swedish speaker's
    "Mannerheimvägen 10" is Mannerheimintie 10. A resident's "Rautatieasema" (the station stop's Finnish name,
    `name:fi`) is found where the resident pinned it."""
    for swedish, finnish in (("Mannerheimvägen 10", "Mannerheimintie 10"),
                             ("Norra esplanaden 15, 00100 Helsingfors", "Pohjoisesplanadi 15, 00101 Helsinki")):
        sv, fi = helsinki.geotag(swedish)[0], helsinki.geotag(finnish)[0]
        assert (sv.kind, sv.lat, sv.lon) == (fi.kind, fi.lat, fi.lon) and sv.confidence >= THRESHOLD, swedish
    text = "Rautatieasema, 00100 Helsinki, Suomi"
    best = helsinki.geotag(text)[0]
    assert best.kind == "landmark" and haversine_m(*_truth(HELSINKI_EVAL, text), best.lat, best.lon) < 50
    # A language only a few streets are translated into is not one of the city's; `name:left` is no language.
    from geodata._osm import OsmScan, OsmWay
    from geodata.gazetteer import local_language_keys

    def way(i: int, **tags: str) -> OsmWay:
        return OsmWay(i, [1, 2], [0.0, 0.1], [0.0, 0.1], {"highway": "residential", **tags})

    few = [way(i, name=f"Street {i}") for i in range(30)] + [way(99, name="Broadway", **{"name:ru": "Бродвей"})]
    assert local_language_keys(OsmScan(streets=few)) == ()
    both = [way(i, name=f"Katu {i}", **{"name:fi": f"Katu {i}", "name:sv": f"Gatan {i}", "name:left": "x"})
            for i in range(30)]
    assert local_language_keys(OsmScan(streets=both)) == ("name:fi", "name:sv")


def test_names_with_case_endings_in_real_finnish_reports(helsinki: City) -> None:
    """Residents' own Finnish descriptions (title and text of the 63 Helsinki reports) put the case on the name:
    "Fabianinkadun ja Kaisaniemenkadun kulmassa" is the corner of Fabianinkatu and Kaisaniemenkatu. Read back to
    the map's names, most reports are placed, and every confident answer is within 250 m of the resident's pin."""
    import numpy as np

    corner = helsinki.geotag("Tolppa vinossa Fabianinkadun ja Kaisaniemenkadun kulmassa")[0]
    assert corner.kind == "intersection" and corner.explanation == "intersection of Fabianinkatu and Kaisaniemenkatu"
    assert helsinki.geotag("Kuoppa Kluuvikadulla")[0].explanation.startswith("somewhere on Kluuvikatu")
    assert helsinki.geotag("Iso kuoppa Mannerheimintiellä")[0].explanation.startswith("somewhere on Mannerheimintie")
    errors, confident = [], []
    with HELSINKI_EVAL.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            found = helsinki.geotag(f"{row['title']}. {row['description']}")
            if found:
                e = haversine_m(float(row["lat"]), float(row["lon"]), found[0].lat, found[0].lon)
                errors.append(e)
                if found[0].confidence >= THRESHOLD:
                    confident.append(e)
    assert len(errors) >= 40  # 11 were placed before names were read back
    assert np.sum(np.array(errors) <= 250) >= 30 and len(confident) >= 10 and max(confident) <= 250


def test_english_words_are_not_read_as_inflected_names() -> None:
    """Only a language that inflects names is read back: in English, "Charleston" is not Charles with an ending."""
    from geodata.inflection import Uninflector

    names = Uninflector(["charles street", "kaivokatu", "sokos", "olivia"])
    assert names.rewrite("pothole on Charleston Street") == "pothole on Charleston Street"
    assert names.rewrite("Charleston") == "Charleston"
    assert names.rewrite("Kuoppa Kaivokadulla on iso") == "Kuoppa kaivokatu on iso"
    assert names.rewrite("Sokoksen edessä on kuoppa") == "sokos edessä on kuoppa"
    # A short word of the map changes one letter at most: "olivat" (they were) is not the restaurant Olivia.
    glass = "Lasinsiruja, ja paikallaan olivat vielä tänään"
    assert names.rewrite(glass) == glass


def test_long_texts_are_read_in_bounded_work(city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-read thread can be long. Each word's look back for the word before it covers a few characters, not the
    text from its start (that made a 100 kB text take 45 s), and only the first MAX_TEXT_CHARS are read at all."""
    from geodata import geotag, inflection

    spans: list[int] = []
    real = inflection._PREVIOUS_WORD

    class Recording:
        def search(self, text: str, pos: int, endpos: int) -> re.Match[str] | None:
            spans.append(endpos - pos)
            return real.search(text, pos, endpos)

    monkeypatch.setattr(inflection, "_PREVIOUS_WORD", Recording())
    long_text = "Kaivokadulla on kuoppa ja Mikonkadulla toinen. " * 400
    assert inflection.Uninflector(["kaivokatu", "mikonkatu"]).rewrite(long_text).startswith("kaivokatu on kuoppa")
    assert spans and max(spans) <= inflection.MAX_WORD_CHARS
    # Around each house number only a bounded window is read (the street and the area words after it): a clause of
    # 5,000 numbers used to be tokenised from each number to its end.
    from geodata import address_text

    lengths: list[int] = []
    real_tokens = address_text.tokens
    monkeypatch.setattr(address_text, "tokens", lambda t: lengths.append(len(t)) or real_tokens(t))
    assert address_text.find_addresses(city.gazetteer, "1 " * 5000) == []
    assert lengths and max(lengths) <= address_text.AROUND_NUMBER_CHARS
    found = address_text.find_addresses(city.gazetteer, "x " * 300 + "3400 Fait Ave Baltimore MD 21224 " + "y " * 300)
    assert [(f.house, f.area_phrases[:3]) for f in found] == [("3400", ("baltimore", "md", "21224"))]
    filler = "nothing to see here " * (geotag.MAX_TEXT_CHARS // 20)
    assert city.geotag("3400 Fait Ave. " + filler)[0].explanation.startswith("3400 Fait Avenue")
    assert not any(c.explanation.startswith("3400 Fait") for c in city.geotag(filler + "3400 Fait Ave"))


def test_real_support_tweets_are_never_read_as_inflected_names(city: City) -> None:
    """Thousands of real support tweets against Baltimore's names: none has a word read back to a name. "@sprintcare"
    is an account, not the Sprint store with an ending, though short tweets leave the language id unsure."""
    import itertools

    from geodata.inflection import Uninflector

    gz = city.gazetteer
    assert gz is not None
    names = Uninflector(itertools.chain(gz.by_full, gz.by_noprefix, gz.place_index, gz.hood_index))
    assert "sprint" in names.words and "chipotle" in names.words
    tweets = SHARED / "complaints" / "twcs" / "twcs_sample.csv"
    with tweets.open(newline="", encoding="utf-8") as f:
        texts = [r["text"] for r in itertools.islice(csv.DictReader(f), 20000) if r.get("text")]
    assert len(texts) > 3000
    assert [t for t in texts if names.rewrite(t) != t] == []


def test_city_words_are_never_places(helsinki: City) -> None:
    assert helsinki.geotag("Helsinki") == []
    assert helsinki.geotag("00100 Helsinki, Suomi") == []
    baana = helsinki.geotag("Baana, 00100 Helsinki, Suomi")[0]
    assert baana.kind == "street" and "Baana" in baana.explanation and baana.confidence < THRESHOLD


def test_numbered_streets_in_any_spelling(boston: City) -> None:
    gz = boston.gazetteer
    assert gz is not None
    ids = gz.find_streets("Eighth St")
    assert ids and gz.find_streets("8th Street") == ids == gz.find_streets("EIGHTH STREET")


def test_intersections_in_311_form(boston: City) -> None:
    text = "INTERSECTION of Irving St & Myrtle St  Boston  MA"
    best = boston.geotag(text)[0]
    lat, lon = _truth(BOSTON_EVAL, text)
    assert best.kind == "intersection" and best.confidence >= 0.9
    assert haversine_m(lat, lon, best.lat, best.lon) < 60
    for form in ("corner of Irving St and Myrtle St", "Irving St / Myrtle St", "IRVING ST & MYRTLE ST"):
        assert boston.geotag(form)[0].kind == "intersection", form


def test_namesake_streets_are_told_apart_by_the_area_written(boston_taught: City) -> None:
    """Charlestown, Boston and Somerville each have streets of the same names: the postcode and town after the
    street choose, once the city's history has taught where those words are."""
    for text in ("197 Eighth St  Charlestown  MA  02129", "54 Harvard St  Charlestown  MA  02129",
                 "85 Washington St  Charlestown  MA  02129"):
        best = boston_taught.geotag(text)[0]
        lat, lon = _truth(BOSTON_EVAL, text)
        assert haversine_m(lat, lon, best.lat, best.lon) < 250, text
        assert "one of" not in best.explanation, text  # chosen, not shared between namesakes


def test_a_number_rules_out_only_streets_whose_numbers_are_on_record(boston_taught: City, city: City) -> None:
    """The history has numbers for East Boston's Lexington St but none for Charlestown's: "5 Lexington St
    Charlestown" is Charlestown's, which the number cannot rule out. A street whose recorded numbers do not reach
    the number is still ruled out, whatever the area says: Baltimore's 6824 Gough St (postcode 21224, which also
    covers Gough St's 3400 blocks) is on the Gough St that has the 6800s."""
    for text in ("5 Lexington St  Charlestown  MA  02129", "21 Salem St  Charlestown  MA  02129",
                 "10 Putnam St  Charlestown  MA  02129", "41 Union St  Boston  MA  02108"):
        best = boston_taught.geotag(text)[0]
        lat, lon = _truth(BOSTON_EVAL, text)
        assert haversine_m(lat, lon, best.lat, best.lon) < 250 and best.confidence >= THRESHOLD, text
    gough = city.geotag("6824 GOUGH ST, BALTIMORE, MD, 21224")[0]
    assert gough.explanation.startswith("6824 Gough Street")
    block = city.geotag("6900 Gough St")[0]
    assert haversine_m(gough.lat, gough.lon, block.lat, block.lon) < 250


def test_a_street_does_not_cross_itself(boston: City) -> None:
    """Real Boston rows name a corner of a street and a place or court the map lacks ("Joy St & Joy Pl",
    "Commercial Ct & Commercial St"): read with another type, the second name is the first street again, and a
    street crossing itself is no corner. Before, both were confident corners 2.8 km and 600 m from the pins."""
    for text in ("INTERSECTION of Joy St & Joy Pl  Boston  MA",
                 "INTERSECTION of Commercial Ct & Commercial St  Boston  MA"):
        found = boston.geotag(text)
        assert found and all(c.kind != "intersection" and c.confidence < THRESHOLD for c in found), text
    assert boston.geotag("INTERSECTION of Irving St & Myrtle St  Boston  MA")[0].kind == "intersection"


# ---- honest confidence ---------------------------------------------------------------------------
def test_a_namesake_on_the_map_is_not_dispatched(boston: City, boston_taught: City) -> None:
    """The real Acorn St and Mount Vernon St of Beacon Hill (02108) are not in this extract; the map's streets of
    those names are kilometres away. The geotagger may offer them, but never confidently: a person decides."""
    for city in (boston, boston_taught):
        for text in ("3 Acorn St  Boston  MA  02108", "18 Mount Vernon St  Boston  MA  02108"):
            lat, lon = _truth(BOSTON_EVAL, text)
            best = city.geotag(text)[0]
            assert haversine_m(lat, lon, best.lat, best.lon) > 1000  # the map's namesake, far off
            assert best.confidence < THRESHOLD, text
            located = locate(city=city, text=f"pothole at {text}", min_confidence=THRESHOLD)
            assert located["confident"] is False, text


def test_a_full_address_off_the_map_is_outside_the_service_area(helsinki: City) -> None:
    located = locate(city=helsinki, text="streetlight out at 1200 Pennsylvania Avenue, Washington DC",
                     min_confidence=THRESHOLD)
    assert located["confident"] is False and located["outside_service_area"] is True
    assert "1200 Pennsylvania Avenue" in located["explanation"]
    # A text with no address at all is a question for the customer, not "outside".
    for text in ("the lamp is broken", "waited 3 hours on the road", "I have 2 dogs on my street"):
        assert not locate(city=helsinki, text=text, min_confidence=THRESHOLD).get("outside_service_area"), text


def test_labels_and_brand_words_are_not_places(city: City) -> None:
    assert city.geotag("Noise - Street/Sidewalk") == []
    for text in ("pothole outside Target", "Sprint store broken window"):
        assert all(c.confidence < THRESHOLD for c in city.geotag(text)), text


def test_stated_address_is_a_statement_not_a_customer_address(helsinki: City) -> None:
    """An Open311 address_string resolves with its own confidence; the customer's address on file never > 0.5."""
    stated = helsinki.geotag("roskia kadulla", stated_address="Mannerheimintie 10, 00100 Helsinki, Suomi")[0]
    assert stated.kind == "stated_address" and stated.confidence >= 0.9
    on_file = helsinki.geotag("roskia kadulla", known_address="Mannerheimintie 10, 00100 Helsinki, Suomi")[0]
    assert on_file.kind == "customer_address" and on_file.confidence <= 0.5


@pytest.mark.parametrize("half", ["dev", "test"])
def test_calibration_and_accuracy_boston(cache_dir: Path, half: str) -> None:
    alone = geotag_eval.run(BOSTON_OSM, BOSTON_EVAL, cache_dir=cache_dir, split=half)
    assert alone["n"] > 900
    assert alone["confident_within_250m"] >= 0.97  # honest without any address data
    taught = geotag_eval.run(BOSTON_OSM, BOSTON_EVAL, cache_dir=cache_dir, split=half, address_points=BOSTON_HISTORY)
    assert taught["address_points"]["learned"] > 1000
    assert taught["median_error_m"] <= 60 and taught["within_250m"] >= 0.85
    assert taught["confident_within_250m"] >= 0.97 and taught["confident_share"] > alone["confident_share"]


def test_calibration_and_accuracy_helsinki_and_baltimore(cache_dir: Path) -> None:
    hel = geotag_eval.run(HELSINKI_OSM, HELSINKI_EVAL, cache_dir=cache_dir)
    assert hel["n"] == 63 and hel["within_250m"] >= 0.9 and hel["confident_within_250m"] >= 0.97
    bal = geotag_eval.run(DEMO_OSM, REPORTS_311, fmt="baltimore311", cache_dir=cache_dir)
    assert bal["median_error_m"] <= 45 and bal["within_250m"] >= 0.94
    assert bal["confident_within_250m"] >= 0.97 and bal["confident_share"] >= 0.8


def test_a_stretch_is_as_sure_as_its_confidence_says_on_real_pins(cache_dir: Path) -> None:
    """No real report here says "X between Y and Z", so each real pin's block is written so (`--as-stretch`:
    synthetic text, real pins) and the stretch reading is scored like any text: its confident answers must be
    within 250 m of the pin as often as the dispatch threshold promises, in a US city and in Helsinki."""
    bos = geotag_eval.run(BOSTON_OSM, BOSTON_EVAL, cache_dir=cache_dir, split="test", as_stretch=True)
    hel = geotag_eval.run(HELSINKI_OSM, HELSINKI_EVAL, cache_dir=cache_dir, as_stretch=True)
    for result in (bos, hel):
        assert result["n"] >= 30 and result["skipped"]["no_stretch_at_pin"] > 0
        assert result["confident_share"] >= 0.9 and result["confident_within_250m"] >= 0.97
    # A map without named streets writes no stretch (and does not fail).
    from types import SimpleNamespace

    from geodata.gazetteer import Gazetteer

    hel = load_city(HELSINKI_OSM, cache_dir)
    empty = SimpleNamespace(gazetteer=Gazetteer(hel.gazetteer.projection))
    assert geotag_eval.as_stretches(empty, [("", 60.16985, 24.9485)]) == []
    # A pin on Yliopistonkatu west of Fabianinkatu is on its block back to the previous crossing, Vuorikatu.
    texts = geotag_eval.as_stretches(load_city(HELSINKI_OSM, cache_dir), [("", 60.16985, 24.9485)])
    assert texts == [("Yliopistonkatu between Vuorikatu and Fabianinkatu", 60.16985, 24.9485)]


def test_placeholder_rows_are_found_from_the_data(tmp_path: Path, boston: City) -> None:
    """Boston's City Hall stand-in is recognised because many unrelated requests share it, not from a list."""
    mixed = tmp_path / "mixed.csv"
    with BOSTON_EVAL.open(encoding="utf-8") as a, BOSTON_PLACEHOLDER.open(encoding="utf-8") as b:
        mixed.write_text(a.read() + "".join(b.readlines()[1:]), encoding="utf-8")
    rows, skipped = geotag_eval.read_rows(mixed, "generic", boston)
    assert skipped["placeholder_point"] == 150
    assert all((round(lat, 4), round(lon, 4)) != (42.3594, -71.0587) for _, lat, lon in rows)


def test_address_points_far_from_their_street_are_not_learned(helsinki: City) -> None:
    import copy

    city = copy.deepcopy(helsinki)
    before = city.geotag("Mannerheimintie 10")[0]
    report = city.add_address_points([AddressPoint("Mannerheimintie 10", 60.1790, 24.9530)])  # ~1.3 km away
    assert report.added == 0 and report.unmatched == 1
    assert city.geotag("Mannerheimintie 10")[0] == before
    # "0 BLOCK" names the first stretch of a street: there is no house 0 to learn.
    report = city.add_address_points([AddressPoint("0 BLOCK Mannerheimintie", before.lat, before.lon)])
    assert report.added == 0 and report.problems == ["'0 BLOCK Mannerheimintie' names the first block, not a house"]


def test_streets_named_by_a_direction(boston: City, city: City) -> None:
    """Boston's North Street and North Square, written "North St" and "North Sq" in its own 311 rows, are those
    streets (the direction is the name, the type word its core): they were not found at all before. Only their
    whole name finds them: in Baltimore's "HOLLIDAY ST & E FAYETTE ST" (Holliday St is off this map) the lone "ST"
    is not East Street."""
    from geodata.normalize import parse_street

    assert parse_street("North St") == parse_street("North Street") and parse_street("West St").full == "w st"
    assert parse_street("N Main St").core == "main" and parse_street("North Main Street").full == "n main st"
    for short, full in (("North St", "North Street"), ("North Sq", "North Square")):
        a, b = boston.geotag(short)[0], boston.geotag(full)[0]
        assert (a.lat, a.lon) == (b.lat, b.lon) and a.explanation.startswith(f"somewhere on {full}"), short
    best = boston.geotag("350 North St  Boston  MA  02109")[0]
    assert best.explanation.startswith("350 North Street")
    assert city.geotag("100 East St")[0].explanation.startswith("100 East Street")
    assert all("East Street" not in c.explanation for c in city.geotag("HOLLIDAY ST & E FAYETTE ST"))
    assert city.geotag("SW-Dirty Street 100 W FRANKLIN ST, BALTIMORE, MD, 21201") == []  # W Franklin: off the map


def test_other_names_and_initials_of_real_streets(boston: City) -> None:
    """OSM name variants (official_name, ref) find the street; an initial with or without its full stop is the
    same name."""
    gz = boston.gazetteer
    assert gz is not None
    official = gz.match_street("Medford Veterans Memorial Highway")
    assert official is not None and official.how == "alias"
    assert [gz.streets[i].name for i in official.ids] == ["Mystic Valley Parkway"]
    ref = gz.match_street("I-90")
    assert ref is not None and "Massachusetts Turnpike" in {gz.streets[i].name for i in ref.ids}
    plain, dotted = gz.match_street("David G Mugar Way"), gz.match_street("David G. Mugar Way")
    assert plain is not None and plain == dotted and plain.agreement == 1.0


def test_a_direction_left_out_where_the_map_also_has_the_plain_name(city: City) -> None:
    """Baltimore's map has a plain Highland Avenue (a separate street) besides South and North Highland Avenue.
    Whoever writes "Highland Ave & Fleet St" left out the direction of the one that crosses Fleet Street."""
    gz = city.gazetteer
    assert gz is not None
    plain = gz.match_street("Highland Ave")
    assert plain is not None and [gz.streets[i].name for i in plain.ids] == ["Highland Avenue"]
    corner = city.geotag("Highland Ave & Fleet St")[0]
    assert corner.kind == "intersection" and "South Highland Avenue and Fleet Street" in corner.explanation, corner
    assert corner.confidence >= THRESHOLD  # the crossing itself confirms the reading
    stretch = city.geotag("Highland Ave between Fleet St and Eastern Ave")[0]
    assert "South Highland Avenue between Fleet Street and Eastern Avenue" in stretch.explanation, stretch
    # 200 is not among the plain street's numbers; it is on both South and North Highland: which is for a person.
    house = city.geotag("200 Highland Ave")
    read_as = {c.explanation.split(":")[0] for c in house[:2]}
    assert read_as == {"200 South Highland Avenue", "200 North Highland Avenue"}
    assert house[0].confidence < THRESHOLD
    # A direction that is written is kept.
    assert city.geotag("200 S Highland Ave")[0].explanation.startswith("200 South Highland Avenue")


def test_shortened_names_are_suggested_to_a_person_not_dispatched(boston: City) -> None:
    """"Mass Ave" and "Mem Dr" (Massachusetts Avenue, Cambridge's Memorial Drive) find the street they shorten, held
    for a person: the one meant may be a street the map lacks."""
    from geodata.address_text import abbreviated_street

    gz = boston.gazetteer
    assert gz is not None
    for written, meant in (("311 Mass Ave Boston MA", "Massachusetts Avenue"),
                           ("100 Mem Dr, Cambridge", "Memorial Drive")):
        found = boston.geotag(written)
        assert found, written
        assert found[0].kind == "address" and f"short for {meant}" in found[0].explanation, (written, found[0])
        assert found[0].confidence < THRESHOLD
    corner = boston.geotag("Mass Ave & Vassar St")
    assert corner and corner[0].kind == "intersection" and corner[0].confidence < THRESHOLD, corner
    assert "short for Massachusetts Avenue" in corner[0].explanation
    # Initials, titles left out, as "MLK Blvd" for Dr. Martin Luther King Jr. Boulevard (a street neither extract
    # holds): the Esplanade's Dr. Paul Dudley White Path.
    initials = abbreviated_street(gz, "PDW Path")
    assert initials is not None and next(gz.streets[i].name for i in initials.ids) == "Dr. Paul Dudley White Path"
    # "Wash St" may be Washington Street or Washburn Street, both in the extract: nothing to suggest. Two letters
    # are too few to shorten a name, and a name the map has as written is matched as written.
    assert abbreviated_street(gz, "Wash St") is None
    assert abbreviated_street(gz, "Ma Ave") is None
    exact = gz.match_street("Massachusetts Avenue")
    assert exact is not None and exact.how == "name"


def _held_out_addresses(city: City, form: str) -> tuple[list[float], list[float]]:
    """Every fifth known address of the city taken out of its gazetteer, then geotagged from its text alone:
    (errors m, confidences) — interpolation measured on the city's own data, house-number conventions and all."""
    import copy

    import numpy as np

    city = copy.deepcopy(city)
    gz = city.gazetteer
    assert gz is not None
    keys = sorted((sid, key) for sid, houses in gz.addr_rows.items() for key in houses)[::5]
    truth = {k: np.median(np.asarray(gz.addr_rows[k[0]].pop(k[1])), axis=0) for k in keys}
    gz.refresh_numbering()
    errors, confidences = [], []
    for (sid, key), xy in truth.items():
        name = gz.streets[sid].name
        best = city.geotag(form.format(name=name, number=key))[0]
        lat, lon = gz.lonlat(xy)
        errors.append(haversine_m(lat, lon, best.lat, best.lon))
        confidences.append(best.confidence)
    return errors, confidences


@pytest.mark.parametrize("which", ["helsinki", "baltimore"])
def test_held_out_address_points_are_placed_honestly(which: str, helsinki: City, city: City) -> None:
    """Helsinki numbers house by house (1-60, odd and even sides at their own pace); Baltimore by hundred-blocks.
    Both conventions are read from the data; a fifth of each city's address points, held out, is placed from
    its neighbours, and the confident answers are within 250 m."""
    import numpy as np

    form = "{name} {number}" if which == "helsinki" else "{number} {name}"
    errors, confidences = _held_out_addresses(helsinki if which == "helsinki" else city, form)
    e, c = np.array(errors), np.array(confidences)
    assert len(e) > 100
    assert np.median(e) <= 40 and np.mean(e <= 250) >= 0.95
    assert np.mean(c >= THRESHOLD) >= 0.85 and np.mean(e[c >= THRESHOLD] <= 250) >= 0.97


def test_held_out_addresses_written_street_comma_number(porto: City) -> None:
    """A fifth of the Porto cut's mapped house numbers, held out and written as Portugal writes them
    ("Rua Brito Camacho, 140"), are placed from the others on their own street."""
    import numpy as np

    errors, confidences = _held_out_addresses(porto, "{name}, {number}")
    assert (errors, confidences) == _held_out_addresses(porto, "{name} {number}")  # the comma changes nothing
    e, c = np.array(errors), np.array(confidences)
    assert len(e) >= 10
    assert np.median(e) <= 40 and np.all(e <= 250) and np.mean(c >= THRESHOLD) >= 0.6


def test_confidence_never_claims_more_than_the_citys_own_numbers_show(helsinki: City) -> None:
    """The precision of each way of placing a house number is measured on the city's own address points (a
    fifth held out). Scramble which number sits where and the measured precision falls, and so does the
    confidence of every interpolated answer."""
    import copy
    import random

    assert helsinki.gazetteer is not None
    honest = helsinki.gazetteer.placement_precision["address interpolation"]
    assert honest >= 0.95
    city = copy.deepcopy(helsinki)
    gz = city.gazetteer
    assert gz is not None
    rng = random.Random(1)
    for sid, houses in gz.addr_rows.items():
        keys, places = list(houses), list(houses.values())
        rng.shuffle(places)
        gz.addr_rows[sid] = dict(zip(keys, places, strict=True))
    gz.refresh_numbering()
    scrambled = gz.placement_precision["address interpolation"]
    assert scrambled < honest - 0.1
    checked = 0
    for sid, houses in gz.addr_rows.items():
        numbers = sorted(int(k) for k in houses if k.isdigit())
        missing = [n for n in range(numbers[0], numbers[-1]) if str(n) not in houses] if len(numbers) > 3 else []
        for n in missing[:2]:
            best = city.geotag(f"{gz.streets[sid].name} {n}")[0]
            if "address interpolation" in best.explanation:
                assert best.confidence <= scrambled + 1e-9
                checked += 1
    assert checked >= 5


def test_corners_without_a_shared_node_and_names_starting_with_a_common_word(boston: City) -> None:
    """'City Sq' begins with a word that is usually no name ('city'); as the whole of a street's own name it is one.
    Two streets that meet on the ground but share no node in the map still make a corner (a little less sure)."""
    text = "INTERSECTION of City Sq & Harvard St  Charlestown  MA"
    best = boston.geotag(text)[0]
    lat, lon = _truth(BOSTON_EVAL, text)
    assert best.kind == "intersection" and haversine_m(lat, lon, best.lat, best.lon) < 60


def test_an_eval_file_without_its_columns_is_a_clear_error(tmp_path: Path, helsinki: City) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no column text, lat, lon"):
        geotag_eval.read_rows(bad, "generic", helsinki)
    # The report's own words instead of its address field: the columns named are joined; a missing one is named.
    rows, _ = geotag_eval.read_rows(HELSINKI_EVAL, "generic", helsinki, text_columns=("title", "description"))
    with HELSINKI_EVAL.open(newline="", encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    assert len(rows) == 63 and rows[0][0] == f"{first['title'].strip()}. {first['description'].strip()}"
    with pytest.raises(ValueError, match="no column summary"):
        geotag_eval.read_rows(HELSINKI_EVAL, "generic", helsinki, text_columns=("summary",))
