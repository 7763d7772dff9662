"""Export and erase one customer's personal data (see the package docstring for the audit design)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from server.audit import service as audit
from server.audit.models import AuditEntry
from server.auth.models import User
from server.cases.models import Case
from server.config import Settings
from server.conversations.models import AuthorKind, Conversation, Direction, Message
from server.core.errors import NotFound
from server.customers.models import Customer, Identity
from server.fieldwork.models import JobCompletion
from server.jobs.models import Job, JobReport

ERASED_TEXT = "[erased]"
log = logging.getLogger("groundcrew.privacy")


def _customer_ids(session: Session, customer_id: int) -> list[int]:
    """The customer and every record merged into it."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    ids, frontier = [customer_id], [customer_id]
    while frontier:
        merged = session.exec(select(Customer.id).where(col(Customer.merged_into_id).in_(frontier))).all()
        frontier = [m for m in merged if m not in ids]
        ids += frontier
    return ids


def _records(session: Session, ids: list[int]) -> dict[str, list[Any]]:
    conversations = session.exec(select(Conversation).where(col(Conversation.customer_id).in_(ids))).all()
    conv_ids = [c.id for c in conversations]
    messages = session.exec(select(Message).where(
        col(Message.customer_id).in_(ids) | col(Message.conversation_id).in_(conv_ids)).order_by(col(Message.id))).all()
    return {
        "customers": [session.get(Customer, i) for i in ids],
        "identities": list(session.exec(select(Identity).where(col(Identity.customer_id).in_(ids))).all()),
        "conversations": list(conversations), "messages": list(messages),
        "cases": list(session.exec(select(Case).where(col(Case.customer_id).in_(ids))).all()),
        "reports": list(session.exec(select(JobReport).where(col(JobReport.customer_id).in_(ids))).all()),
    }


def _dump(row: Any) -> dict[str, Any]:
    return json.loads(json.dumps(row.model_dump(), default=str))


def _internal_note(note: Message) -> dict[str, Any]:
    """An agent's private note as the export shows it: labelled, with when and in which conversation, and who wrote
    it by role only (the agent's name and account are the agent's personal data, not the customer's: Art. 15(4))."""
    return {"label": "internal note", "id": note.id, "conversation_id": note.conversation_id,
            "written_at": _dump_value(note.sent_at), "author": str(note.author_kind), "text": note.text}


def _dump_value(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def export(*, session: Session, customer_id: int) -> dict[str, Any]:
    """Everything stored about the customer (and records merged into it), as JSON-ready dicts.

    Agents' private notes are included, in their own ``internal_notes`` section, each labelled "internal note":
    a note about a person is personal data the organisation holds about them (GDPR Art. 15(1) and (3) give the
    data subject a copy; the CJEU held an examiner's comments on a candidate to be the candidate's personal data,
    Nowak, C-434/16), so leaving them out would make the export incomplete. They are kept apart from ``messages`` so
    nobody reading the export takes a note for something that was said to or by the customer, and their author is
    given by role only (the agent's identity is the agent's data; Art. 15(4)). Erasure blanks them like messages."""
    ids = _customer_ids(session, customer_id)
    records = _records(session, ids)
    jobs = [session.get(Job, r.job_id) for r in records["reports"]]
    entries = session.exec(select(AuditEntry).where(
        AuditEntry.entity == "customer", col(AuditEntry.entity_id).in_([str(i) for i in ids]))
        .order_by(col(AuditEntry.id))).all()
    notes = [m for m in records["messages"] if m.direction == Direction.note]
    exchanged = {**records, "messages": [m for m in records["messages"] if m.direction != Direction.note]}
    return {
        "customer_id": customer_id,
        **{name: [_dump(r) for r in rows] for name, rows in exchanged.items()},
        "internal_notes": [_internal_note(n) for n in notes],
        "jobs": [{"id": j.id, "title": j.title, "status": str(j.status), "category": j.category} for j in jobs if j],
        "audit": [_dump(e) for e in entries],
    }


def _sole_completions(session: Session, ids: list[int], records: dict[str, list[Any]]) -> list[JobCompletion]:
    """Completions of jobs that only this customer reported: their signature is this customer's (a job others
    reported too keeps its record; its signer is not known to be this customer)."""
    job_ids = {r.job_id for r in records["reports"]}
    found = []
    for job_id in sorted(job_ids):
        reporters = set(session.exec(select(JobReport.customer_id).where(JobReport.job_id == job_id)).all())
        completion = session.get(JobCompletion, job_id)
        if completion is not None and reporters <= set(ids):
            found.append(completion)
    return found


def media_files(*, session: Session, settings: Settings, customer_id: int) -> list[Path]:
    """The files on disk that hold this customer's media (read before ``erase``, deleted after its commit): the
    Open311 photos of their messages (``data_dir/uploads/open311/<message id>/``) and the signature left on
    completing a job only they reported. Completion photos of the work stay: they are the job's record.
    Media kept only as provider URLs (MMS, Messenger, X) is not on this server."""
    ids = _customer_ids(session, customer_id)
    records = _records(session, ids)
    from server.open311.media import folder_of

    files = [folder_of(settings, m.id) for m in records["messages"] if m.id is not None]
    files += [settings.data_dir / c.signature for c in _sole_completions(session, ids, records) if c.signature]
    return [f for f in files if f.exists()]


def delete_files(*, settings: Settings, paths: list[Path]) -> int:
    """Delete the files and folders ``media_files`` found (only under ``data_dir``); how many were removed."""
    root = settings.data_dir.resolve()
    removed = 0
    for path in paths:
        if not path.resolve().is_relative_to(root):
            log.warning("not deleting %s: outside the data directory", path)
            continue
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed += 1
    return removed


def erase(*, session: Session, customer_id: int, actor: User, reason: str) -> dict[str, Any]:
    """Remove the customer's personal content everywhere, keep the records and the audit trail (the caller commits,
    then deletes the ``media_files`` it read before)."""
    ids = _customer_ids(session, customer_id)
    records = _records(session, ids)
    personal: set[str] = set()
    for customer in records["customers"]:
        personal |= {customer.display_name, customer.address or ""}
        customer.display_name, customer.address = f"erased customer {customer.id}", None
        customer.address_lat = customer.address_lon = None
        session.add(customer)
    for identity in records["identities"]:
        personal |= {identity.handle, identity.display_name or ""}
        identity.handle, identity.display_name, identity.verified = f"erased-{identity.id}", "", False
        session.add(identity)
    for conversation in records["conversations"]:
        conversation.subject = ""
        session.add(conversation)
    for message in records["messages"]:
        # Their own messages carry their name; our replies and private notes carry an agent's (or technician's),
        # which is not theirs to erase (and, as a "personal" string, would redact every audit entry naming that
        # agent). The text of all of them goes: replies and notes are about this person.
        theirs = message.author_kind == AuthorKind.customer and message.customer_id in ids
        personal.add(message.author_name if theirs else "")
        message.text, message.media, message.meta = ERASED_TEXT, [], {}
        message.lat = message.lon = None
        message.place_name = None
        if theirs:
            message.author_name = ""
        session.add(message)
    for case in records["cases"]:
        case.triage, case.geotag, case.location_text = {"erased": True}, {"erased": True}, None
        session.add(case)
    for completion in _sole_completions(session, ids, records):
        personal.add(completion.signed_by or "")
        completion.signature, completion.signed_by = None, None
        session.add(completion)
    session.flush()
    entry = audit.record(session=session, action="erase", entity="customer", entity_id=customer_id,
                         actor_user_id=actor.id, actor=actor.username, detail={
                             "reason": reason, "customers": len(ids), "identities": len(records["identities"]),
                             "messages": len(records["messages"]), "cases": len(records["cases"])})
    session.flush()
    redacted = _redact_audit(session, records, ids, {p for p in personal if p and len(p) >= 3}, entry.id or 0)
    return {"customer_id": customer_id, "customers": len(ids), "identities": len(records["identities"]),
            "conversations": len(records["conversations"]), "messages": len(records["messages"]),
            "cases": len(records["cases"]), "audit_entries_redacted": redacted, "erasure_audit_id": entry.id}


def _redact_audit(session: Session, records: dict[str, list[Any]], ids: list[int], personal: set[str],
                  erasure_id: int) -> int:
    """The one sanctioned change to audit entries: their detail about this person is replaced (Core UPDATE, which
    the append-only ORM guard does not see). Returns how many entries were redacted."""
    about = {("customer", str(i)) for i in ids}
    about |= {("identity", str(r.id)) for r in records["identities"]}
    about |= {("conversation", str(r.id)) for r in records["conversations"]}
    about |= {("message", str(r.id)) for r in records["messages"]}
    about |= {("case", str(r.id)) for r in records["cases"]}
    targets = []
    for entry_id, entity, entity_id, detail in session.exec(  # type: ignore[call-overload]
            select(AuditEntry.id, AuditEntry.entity, AuditEntry.entity_id, AuditEntry.detail)
            .where(AuditEntry.id != erasure_id)).all():
        text = json.dumps(detail, default=str, ensure_ascii=False)
        if (entity, entity_id) in about or any(p in text for p in personal):
            targets.append(entry_id)
    if targets:
        session.execute(update(AuditEntry.__table__).where(  # type: ignore[arg-type]
            AuditEntry.__table__.c.id.in_(targets)).values(detail={"erased": True, "erasure": erasure_id}))
    return len(targets)
