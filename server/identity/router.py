"""Customer 360, merges (audited, reversible) and merge suggestions (agents)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, status
from pydantic import BaseModel

from server.auth.access import ensure_customer_visible, is_technician
from server.cases.models import CasePublic
from server.conversations.models import ConversationPublic, MessagePublic
from server.conversations.service import for_reader, technician_conversation_ids
from server.core.deps import AgentUser, CurrentUser, SessionDep
from server.core.models import Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter
from server.customers.models import CustomerPublic, IdentityPublic
from server.identity import service
from server.identity.models import (
    CustomerMerge,
    CustomerMergePublic,
    MergeRequest,
    MergeSuggestion,
    MergeSuggestionPublic,
    SuggestionStatus,
)
from server.jobs.models import JobPublic

router = FeatureRouter(prefix="/customers", tags=["customers"])


class ConversationWithMessages(ConversationPublic):
    messages: list[MessagePublic]


class Customer360(BaseModel):
    customer: CustomerPublic
    requested_id: int
    identities: list[IdentityPublic]
    conversations: list[ConversationWithMessages]
    timeline: list[MessagePublic]
    cases: list[CasePublic]
    jobs: list[JobPublic]
    merges: list[CustomerMergePublic]


@router.get("/merge-suggestions", response_model=Page[MergeSuggestionPublic], summary="Suggested merges to confirm")
def list_suggestions(
    session: SessionDep, _: AgentUser, page: PageDep,
    status_: Annotated[SuggestionStatus, Query(alias="status")] = SuggestionStatus.pending,
) -> Page[MergeSuggestionPublic]:
    rows, total = service.list_suggestions(session=session, status=status_, offset=page.offset, limit=page.limit)
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)


@router.post("/merge-suggestions/{suggestion_id}", response_model=MergeSuggestionPublic,
             summary="Confirm a suggestion: merge the two customers")
def confirm_suggestion(suggestion_id: int, session: SessionDep, user: AgentUser) -> MergeSuggestion:
    suggestion = service.decide_suggestion(session=session, suggestion_id=suggestion_id, confirm=True, actor=user)
    session.commit()
    session.refresh(suggestion)
    return suggestion


@router.delete("/merge-suggestions/{suggestion_id}", response_model=MergeSuggestionPublic,
               summary="Reject a suggestion (they are different people)")
def reject_suggestion(suggestion_id: int, session: SessionDep, user: AgentUser) -> MergeSuggestion:
    suggestion = service.decide_suggestion(session=session, suggestion_id=suggestion_id, confirm=False, actor=user)
    session.commit()
    session.refresh(suggestion)
    return suggestion


@router.get("/{customer_id}/360", response_model=Customer360,
            summary="Single view: identities, every conversation in time order across channels, cases, jobs")
def customer_360(customer_id: int, session: SessionDep, user: CurrentUser) -> Any:
    ensure_customer_visible(session=session, user=user, customer_id=customer_id)
    view = service.customer_360(session=session, customer_id=customer_id)
    if is_technician(user):  # their own jobs only: another technician's job is a 404 asked directly, so here too
        view["jobs"] = [j for j in view["jobs"] if j.assigned_technician_id == user.technician_id]
        mine = {j.id for j in view["jobs"]}
        # Only the threads and cases tied to their jobs (as GET /conversations), and never agents' private notes.
        tied = technician_conversation_ids(session=session, user=user)
        view["cases"] = [c for c in view["cases"]
                         if c.job_id in mine or (c.job_id is None and c.conversation_id in tied)]
        view["timeline"] = for_reader([m for m in view["timeline"] if m.conversation_id in tied], user=user)
        view["conversations"] = [{**c, "messages": for_reader(c["messages"], user=user)}
                                 for c in view["conversations"] if c["id"] in tied]
    return view


@router.post("/{customer_id}/merge", response_model=CustomerMergePublic, status_code=status.HTTP_201_CREATED,
             summary="Merge another customer into this one (409 naming conflicting verified keys)")
def merge(customer_id: int, body: MergeRequest, session: SessionDep, user: AgentUser) -> CustomerMerge:
    record = service.merge(session=session, survivor_id=customer_id, other_id=body.other_id, actor=user,
                           reason=body.reason or "merged by an agent")
    session.commit()
    session.refresh(record)
    return record


@router.post("/{customer_id}/unmerge/{merge_id}", response_model=CustomerMergePublic,
             summary="Undo a merge: both customers get their own histories back")
def unmerge(customer_id: int, merge_id: int, session: SessionDep, user: AgentUser) -> CustomerMerge:
    record = service.unmerge(session=session, customer_id=customer_id, merge_id=merge_id, actor=user)
    session.commit()
    session.refresh(record)
    return record
