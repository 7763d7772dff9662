"""The product's one language id (`geodata.language`): what the geotagger and triage both ask."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from geodata.inflection import _inflecting
from geodata.language import guess_languages
from server.triage.language import detect_language

TEXTS = [
    "Kaivokadulla on iso kuoppa keskellä pyörätietä, korjatkaa pian.",
    "There is a pothole outside 12 Fait Ave, please send someone.",
    "Il y a un trou dans la chaussée devant le 12, rue de la Paix.",
    "Norra esplanaden är full av skräp efter helgen.",
    "Auf der Hauptstraße ist die Ampel seit gestern kaputt.",
]


def test_links_handles_and_tags_are_not_language():
    """An account name or a link is no evidence: a Finnish complaint stays Finnish behind an English handle, and
    a message of only handles and links has no language."""
    assert guess_languages("@HelsinkiCityHelp @sprintcare https://t.co/abc #help") == []
    assert detect_language("@AcmeHelp https://t.co/x") == ("und", 0.0)
    lang, p = guess_languages("@CityOfHelsinki Kaivokadulla on iso kuoppa keskellä pyörätietä", k=1)[0]
    assert lang == "fi" and 0.5 <= p <= 1.0


def test_triage_and_the_geotagger_ask_the_same_language_id():
    for text in TEXTS:
        assert detect_language(text) == guess_languages(text)[0]
    assert _inflecting(TEXTS[0]) and not _inflecting(TEXTS[1])


def test_concurrent_callers_get_the_answers_of_one_caller():
    """Web workers triage and geotag in threads at once; the model is shared and must give each caller the answer
    it gives alone."""
    alone = {t: guess_languages(t, k=3) for t in TEXTS}
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda t: (t, guess_languages(t, k=3)), TEXTS * 40))
    assert all(found == alone[t] for t, found in together)
    assert {alone[t][0][0] for t in TEXTS} == {"fi", "en", "fr", "sv", "de"}
