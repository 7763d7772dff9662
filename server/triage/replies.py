"""Translatable automatic replies: ``reply("ask_location", language)`` gives the text in the customer's language
(triage's ``language``), else in the file's default language. Texts live in ``replies.toml`` beside this file."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

REPLIES = Path(__file__).resolve().parent / "replies.toml"


@lru_cache(maxsize=4)
def load_replies(path: Path = REPLIES) -> dict[str, dict[str, str]]:
    """reply kind → language → text; raises ValueError naming the file and the reply when one lacks the default."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    default = str(data.get("default", "en"))
    replies = {kind: {str(k): str(v) for k, v in texts.items()} for kind, texts in data.items()
               if isinstance(texts, dict)}
    for kind, texts in replies.items():
        if default not in texts:
            raise ValueError(f"{path}: [{kind}] has no text in the default language {default!r}")
    replies[""] = {"default": default}
    return replies


def reply(kind: str, language: str | None, *, path: Path = REPLIES) -> str:
    """The ``kind`` reply in ``language`` (an ISO 639-1 code; "fi-FI" works too), else the default language."""
    replies = load_replies(path)
    texts = replies.get(kind)
    if texts is None:
        raise KeyError(f"no reply {kind!r} in {path}")
    lang = (language or "").split("-")[0].split("_")[0].lower()
    return texts.get(lang) or texts[replies[""]["default"]]
