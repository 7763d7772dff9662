"""Personal details in free text (emails, phone numbers, @handles) replaced by placeholders, for public views."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w])(?:\+?\d[\d\s().-]{7,}\d)(?![\w])")
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,30}")


def redact(text: str | None, *, handles: bool = True) -> str | None:
    """``text`` with emails → [email], phone numbers → [phone] and (optionally) @handles → [handle]."""
    if not text:
        return text
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text)
    if handles:
        text = HANDLE.sub("[handle]", text)
    return text
