"""Names with case endings: "Kaivokadulle" (to Kaivokatu), "Fabianinkadun ja Kaisaniemenkadun kulmassa" (at the
corner of Fabianinkatu and Kaisaniemenkatu).

Finnish, Estonian, Hungarian, the Slavic and Baltic languages and others put the case on the name itself, and
Finnish also alternates the stem's last consonants (katu → kadu-lla, ranta → rannan). A stemmer cannot find the
map's name from that (Snowball's Finnish stemmer leaves "kaivokatu" and "kaivokadu"), so a word is read back to
a word of the map's own names: the same word but for its last two letters at most (one in a word shorter than
eight letters), followed by an ending of at most six letters, and only one such word of the map fits. This runs
only when the text's language is one that inflects names (fastText language id, as triage uses): "Charleston" in
English is not "Charles" with an ending; and only capitalised words outside @handles, #tags and links are read
("@sprintcare" is an account, not Sprint).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from geodata.language import guess_languages
from geodata.normalize import normalize_name

# Languages whose nouns, names included, take case endings (ISO 639-1).
INFLECTING_LANGUAGES = frozenset({"fi", "et", "hu", "tr", "pl", "cs", "sk", "sl", "hr", "sr", "bs", "lt", "lv", "ru",
                                  "uk", "be", "is", "eu", "se"})
MIN_WORD = 5  # shorter map words are not read from inflected forms (too many words start the same way)
MAX_STEM_CHANGE = 2  # letters at the end of the map's word that may change ("kaivokatu" → "kaivokadu-lle")
LONG_WORD = 8  # ... in words this long; a shorter word may change one ("Sokos" → "Sokoksen"), or "Olivia" is "olivat"
MAX_ENDING = 6  # letters of the case ending added after the common part ("-ssa", "-lle", "-ltä", "-iin")
MIN_LANGUAGE_SCORE = 0.5  # below this the language id's first guess is unsure
SEEN_WORDS = 200_000  # words whose answer is kept (a few MB)
_WORD = re.compile(r"[^\W\d_]+")
_PREVIOUS_WORD = re.compile(r"([^\W\d_]+) $")  # the word just before, one space apart
# The previous word is looked for this far back only (characters): searching from the text's start for every word
# took quadratic time, 45 s for a 100 kB thread.
MAX_WORD_CHARS = 80


class Uninflector:
    """Reads inflected words of a text back to the words of the map's names (see the module docstring)."""

    def __init__(self, names: Iterable[str]) -> None:
        words = {w for name in names for w in name.split() if len(w) >= MIN_WORD and w.isalpha()}
        self.words = frozenset(words)
        self._by_head: dict[str, list[str]] = defaultdict(list)
        self._seen: dict[str, str | None] = {}  # word as written → its base (street names recur in every text)
        for w in sorted(words):
            self._by_head[w[:4]].append(w)

    def base(self, word: str) -> str | None:
        """The map's word that `word` is an inflected form of (folded, lower case), or None."""
        if word in self._seen:
            return self._seen[word]
        found = self._base(word)
        if len(self._seen) < SEEN_WORDS:
            self._seen[word] = found
        return found

    def _base(self, word: str) -> str | None:
        w = normalize_name(word)
        if len(w) < MIN_WORD or w in self.words or " " in w:
            return None
        best: list[tuple[int, int, str]] = []
        for cand in self._by_head.get(w[:4], ()):
            common = 0
            for a, b in zip(w, cand, strict=False):
                if a != b:
                    break
                common += 1
            changed, ending = len(cand) - common, len(w) - common
            may_change = MAX_STEM_CHANGE if len(cand) >= LONG_WORD else 1
            if common >= 4 and changed <= may_change and 1 <= ending <= MAX_ENDING:
                best.append((-common, changed, cand))
        if not best:
            return None
        best.sort()
        if len(best) > 1 and best[0][:2] == best[1][:2]:
            return None  # two of the map's words fit as well: say nothing
        return best[0][2]

    def rewrite(self, text: str) -> str:
        """`text` with each inflected word replaced by the map's word, when the text's language inflects names."""
        if not text or not self.words:
            return text
        found = [(m, self.base(m.group(0)) if _may_be_name(text, m) else None) for m in _WORD.finditer(text)]
        if not any(b for _, b in found) or not _inflecting(text):
            return text
        out, last = [], 0
        for m, b in found:
            if b is not None:
                out += [text[last:m.start()], b]
                last = m.end()
        out.append(text[last:])
        return "".join(out)


def _may_be_name(text: str, m: re.Match[str]) -> bool:
    """A capitalised word ("Kaivokadulla", "SOKOKSEN"), or one right after a capitalised word, that is not part of a
    @handle, #tag or link: "@sprintcare" is an account, not Sprint with an ending."""
    start = m.start()
    while start > 1 and text[start - 1] == "-" and text[start - 2].isalpha():  # "Asema-aukion": from "Asema"
        start -= 1
        while start > 0 and text[start - 1].isalpha():
            start -= 1
    if start > 0 and text[start - 1] in "@#":
        return False
    if not text[start].isupper():  # the lower-case part of a name: "Kaisaniemen puistoon", "Helsingin päärautatie…"
        before = _PREVIOUS_WORD.search(text, max(0, start - MAX_WORD_CHARS), start)
        if before is None or not before.group(1)[0].isupper():
            return False
        if before.start(1) > 0 and text[before.start(1) - 1] in "@#":
            return False
    token = text[text.rfind(" ", 0, start) + 1:m.end()].lower()
    return not token.startswith(("http", "www"))


def _inflecting(text: str) -> bool:
    """Whether the text is in a language that inflects names: the language id's first guess, or, when that guess is
    unsure (a few words: "Kluuvikadulla on kuoppa" is 'en' 0.20, 'no' 0.19, 'fi' 0.15), one of its first three at
    least half as likely as the first (not a 2 % 'ru' behind a 45 % 'de')."""
    found = guess_languages(text, k=3)
    if not found:
        return False
    if found[0][1] >= MIN_LANGUAGE_SCORE:
        return found[0][0] in INFLECTING_LANGUAGES
    return any(lang in INFLECTING_LANGUAGES and p >= found[0][1] / 2 for lang, p in found)
