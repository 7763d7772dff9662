"""Cases: the online side of a complaint, before (and after) it becomes field work."""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from server.audit import service as audit
from server.auth.models import User
from server.cases.models import Case, CaseCreate, CaseStatus, CaseUpdate
from server.conversations import service as conversations
from server.core.errors import Invalid, NotFound
from server.core.pagination import PageParams, paginate_rows
from server.core.timeutil import utcnow
from server.triage.service import DEFAULT_TAXONOMY


def get(*, session: Session, case_id: int) -> Case:
    """The case, or NotFound."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def list_cases(
    *, session: Session, page: PageParams, status: CaseStatus | None = None, customer_id: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Cases, most urgent first (priority, then SLA deadline)."""
    query = select(Case)
    if status is not None:
        query = query.where(Case.status == status)
    if customer_id is not None:
        query = query.where(Case.customer_id == customer_id)
    return paginate_rows(session, query.order_by(col(Case.priority).desc(), col(Case.id).desc()), page)


def create(*, session: Session, case_in: CaseCreate, actor: User | None) -> Case:
    """Open a case on a conversation (the conversation must exist)."""
    conversation = conversations.get(session=session, conversation_id=case_in.conversation_id)
    case = Case.model_validate(case_in, update={"customer_id": conversation.customer_id})
    session.add(case)
    session.flush()
    audit.record(
        session=session, action="create", entity="case", entity_id=case.id,
        actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
    )
    return case


def latest_for_conversation(*, session: Session, conversation_id: int) -> Case:
    """The conversation's newest case, or NotFound (a conversation triage never saw has none)."""
    case = session.exec(select(Case).where(Case.conversation_id == conversation_id)
                        .order_by(col(Case.id).desc())).first()
    if case is None:
        raise NotFound(f"conversation {conversation_id} has no case to correct")
    return case


@dataclass(frozen=True)
class CategoryChoice:
    name: str
    label: str
    field_work: bool


_choices: dict[tuple[str, float], list[CategoryChoice]] = {}
_choices_lock = threading.Lock()


def category_choices(path: Path | None) -> list[CategoryChoice]:
    """The taxonomy's categories an agent can pick (name, label, field work), read from its TOML and cached per file
    and modification time. Not ``load_taxonomy``: that trains triage's classifier on first use (about a minute on a
    busy machine), which an agent opening a menu should not wait for."""
    path = Path(path) if path else DEFAULT_TAXONOMY
    key = (str(path.resolve()), path.stat().st_mtime)
    with _choices_lock:
        if key not in _choices:
            raw = tomllib.loads(path.read_text(encoding="utf-8")).get("category") or []
            _choices[key] = sorted((CategoryChoice(str(c["name"]), str(c.get("label") or c["name"]),
                                                   bool(c.get("field_work", True))) for c in raw),
                                   key=lambda c: c.label.lower())
        return _choices[key]


def correct_triage(*, session: Session, case: Case, choices: list[CategoryChoice], category: str | None,
                   not_field_work: bool, actor: User) -> Case:
    """An agent's correction of triage: the right category, or "not field work". It is stored the way
    server/triage/corrections.py reads corrections back for retraining (a case update in the audit log with the
    agent as actor), so the model learns from it. A case waiting for a location no longer waits when nobody goes."""
    data: dict[str, Any] = {}
    if category is not None:
        cat = next((c for c in choices if c.name == category), None)
        if cat is None:
            known = ", ".join(sorted(c.name for c in choices))
            raise Invalid(f"category: unknown category '{category}' (one of: {known})")
        data["category"] = cat.name
        data["needs_field_work"] = cat.field_work and not not_field_work
    if not_field_work:
        data["needs_field_work"] = False
    if not data.get("needs_field_work") and case.status == CaseStatus.needs_location:
        data["status"] = CaseStatus.open
    return update(session=session, case=case, case_in=CaseUpdate(**data), actor=actor)


def update(*, session: Session, case: Case, case_in: CaseUpdate, actor: User) -> Case:
    """Change a case's triage or status."""
    data = case_in.model_dump(exclude_unset=True)
    for key, value in data.items():
        setattr(case, key, value)
    case.updated_at = utcnow()
    session.add(case)
    audit.record(
        session=session, action="update", entity="case", entity_id=case.id, actor_user_id=actor.id,
        actor=actor.username, detail={k: str(v) for k, v in data.items()},
    )
    return case
