"""Learning from agents: an agent's correction of a case (its category, or "not field work") is already stored, in
the case and in the append-only audit log. ``corrections`` reads them back as labelled rows (the customer's first
message, the agent's answer); ``write_training_csv`` writes the NOT-held-back ones for ``[model]
extra_training_csv`` (retraining), and ``measure`` scores a taxonomy on the held-back ones (case id crc32 % 5 == 0),
so a retrained model is judged on corrections it never saw.

Labels, from what the person set last: a category → that category; "not field work" (and no non-field
category) → ``out_of_scope`` (nobody goes out and no account matter was named)."""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from server.audit.models import AuditEntry
from server.cases.models import Case
from server.conversations.models import Message
from server.triage.service import OUT_OF_SCOPE, Taxonomy, classify, load_taxonomy


@dataclass(frozen=True)
class Correction:
    case_id: int
    text: str
    label: str  # a category name or "out_of_scope"
    triage_said: str | None  # triage's category at intake (None: unsure or out of scope)


def held_back(case_id: int) -> bool:
    """Corrections kept to measure a retrained model (never trained on): crc32 of the case id, mod 5, is 0."""
    return zlib.crc32(str(case_id).encode()) % 5 == 0


def corrections(*, session: Session, taxonomy: Taxonomy | None = None) -> list[Correction]:
    """Cases a person changed the category or field work of (audit entries with an actor), as labelled rows."""
    taxonomy = taxonomy or load_taxonomy()
    entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "case", AuditEntry.action == "update",
                                                    col(AuditEntry.actor_user_id).is_not(None))
                           .order_by(col(AuditEntry.id))).all()
    said: dict[int, dict[str, str]] = {}  # case id → what people set last (audit details are strings)
    for entry in entries:
        fields = {k: v for k, v in (entry.detail or {}).items() if k in ("category", "needs_field_work")}
        if fields and entry.entity_id.isdigit():
            said.setdefault(int(entry.entity_id), {}).update(fields)
    out = []
    for case_id, fields in sorted(said.items()):
        case = session.get(Case, case_id)
        record: dict[str, Any] = (case.triage or {}) if case is not None else {}
        message = session.get(Message, record.get("message_id") or 0) if case is not None else None
        if message is None or not message.text.strip():
            continue
        cat = taxonomy.by_name(fields.get("category"))
        if cat is not None and not (cat.field_work and fields.get("needs_field_work") == "False"):
            label = cat.name
        elif fields.get("needs_field_work") == "False":
            label = OUT_OF_SCOPE
        else:
            continue  # nothing a model can learn (an unknown category, or field work without one)
        out.append(Correction(case_id, message.text, label, record.get("category")))
    return out


def write_training_csv(rows: list[Correction], path: Path) -> int:
    """Write the corrections that are not held back (columns text, category, mix) and return how many."""
    train = [r for r in rows if not held_back(r.case_id)]
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category", "mix"])
        writer.writerows([r.text, r.label, 1] for r in train)
    return len(train)


def measure(rows: list[Correction], *, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """How often triage (this taxonomy's model) now gives the agent's answer on the held-back corrections, against
    how often it did at intake."""
    taxonomy = taxonomy or load_taxonomy()
    test = [r for r in rows if held_back(r.case_id)]
    now = 0
    for r in test:
        scored = classify(r.text, taxonomy=taxonomy)
        now += (scored.outcome == OUT_OF_SCOPE) if r.label == OUT_OF_SCOPE else scored.category == r.label
    before = sum((r.triage_said or OUT_OF_SCOPE) == r.label for r in test)
    return {"held_back": len(test), "trained_on": len(rows) - len(test),
            "agrees_now": round(now / len(test), 4) if test else None,
            "agreed_at_intake": round(before / len(test), 4) if test else None}
