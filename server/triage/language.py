"""The language of a message (triage's real-text model is per language; replies go out in it). Its own module so
that the text model (``textmodel``) and triage (``service``) both use it without importing each other in a cycle."""

from __future__ import annotations

from geodata.language import guess_languages


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the message's language (see `geodata.language`, the product's one language
    id); links and @handles are ignored. ("und", 0.0) when there is nothing to go on."""
    found = guess_languages(text, k=1)
    return found[0] if found else ("und", 0.0)
