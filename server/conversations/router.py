"""Conversations API: read threads, reply (through server/notify), private notes, status and assignee, triage
correction, the generic inbound-message endpoint; the agents' inbox and customer timeline; canned replies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from server.auth.access import ensure_customer_visible, is_technician
from server.cases import service as cases
from server.cases.models import CasePublic
from server.config import Settings
from server.conversations import inbox as inbox_service
from server.conversations import service
from server.conversations.models import (
    Assignment,
    CannedReply,
    CannedReplyCreate,
    CannedReplyFilled,
    CannedReplyPublic,
    CannedReplyUpdate,
    Conversation,
    ConversationDetail,
    ConversationPublic,
    InboundMessage,
    Message,
    MessageCreate,
    MessagePublic,
    NoteCreate,
    StatusChange,
    TriageCorrection,
)
from server.core.deps import AdminUser, AgentUser, CurrentUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import Conflict
from server.core.models import Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter
from server.events.broker import make_event, publish
from server.intake.guard import clean_inbound
from server.notify import service as notify
from server.notify.service import deliver_queued

router = FeatureRouter(prefix="/conversations", tags=["conversations"])
inbox_router = FeatureRouter(prefix="/inbox", tags=["inbox"])
canned_router = FeatureRouter(prefix="/canned-replies", tags=["inbox"])


def _changed(settings: Settings, conversation: Conversation, what: str) -> None:
    """Tell every console the conversation changed (after the commit), so inbox lists refresh."""
    publish(settings, make_event("conversation.updated", {"conversation_id": conversation.id, "what": what,
                                                          "status": conversation.status}, staff_only=True))


@inbox_router.get("", summary="The agents' inbox: a status tab, filtered and searched, with SLA timers and tab counts")
def inbox(
    session: SessionDep, user: StaffUser, settings: SettingsDep, page: PageDep,
    status_: Annotated[Literal["open", "pending", "snoozed", "resolved", "all"], Query(alias="status")] = "open",
    assignee: Annotated[str | None, Query(max_length=20, description="'me', 'none' or a user id")] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=200, description="name or handle, subject, message text")] = None,
    needs_attention: bool = False,
    sort: Literal["recent", "sla"] = "recent",
) -> dict[str, Any]:
    return inbox_service.inbox(session=session, page=page, first_response_min=settings.inbox_first_response_min,
                               status=status_, assignee=assignee, me=user, channel=channel, q=q,
                               needs_attention=needs_attention, sort=sort)


@inbox_router.get("/agents", summary="Staff a conversation can be assigned to")
def agents(session: SessionDep, _: StaffUser) -> list[dict[str, Any]]:
    return inbox_service.agents(session=session)


@inbox_router.get("/categories", summary="Triage's categories, for correcting a case from the inbox")
def categories(_: StaffUser, settings: SettingsDep) -> list[dict[str, Any]]:
    return [{"name": c.name, "label": c.label, "field_work": c.field_work}
            for c in cases.category_choices(settings.taxonomy_path)]


@inbox_router.get("/customers/{customer_id}/timeline",
                  summary="A customer's messages, notes and cases across channels, with their jobs' live ETA")
def timeline(customer_id: int, session: SessionDep, _: StaffUser) -> dict[str, Any]:
    return inbox_service.timeline(session=session, customer_id=customer_id)


@canned_router.get("", response_model=list[CannedReplyPublic], summary="Canned replies (search by code or text)")
def list_canned(session: SessionDep, _: StaffUser,
                q: Annotated[str | None, Query(max_length=200)] = None) -> list[CannedReply]:
    return inbox_service.canned_replies(session=session, q=q)


@canned_router.post("", response_model=CannedReplyPublic, status_code=status.HTTP_201_CREATED,
                    summary="Add a canned reply ({{name}} and {{first_name}} are filled per customer)")
def create_canned(body: CannedReplyCreate, session: SessionDep, user: AdminUser) -> CannedReply:
    canned = inbox_service.create_canned(session=session, canned_in=body, actor=user)
    session.commit()
    session.refresh(canned)
    return canned


@canned_router.patch("/{canned_id}", response_model=CannedReplyPublic, summary="Change a canned reply")
def update_canned(canned_id: int, body: CannedReplyUpdate, session: SessionDep, _: AdminUser) -> CannedReply:
    canned = inbox_service.get_canned(session=session, canned_id=canned_id)
    inbox_service.update_canned(session=session, canned=canned, canned_in=body)
    session.commit()
    session.refresh(canned)
    return canned


@canned_router.delete("/{canned_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a canned reply")
def delete_canned(canned_id: int, session: SessionDep, _: AdminUser) -> Response:
    inbox_service.delete_canned(session=session, canned=inbox_service.get_canned(session=session, canned_id=canned_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=Page[ConversationPublic], summary="List conversations")
def list_conversations(
    session: SessionDep, user: CurrentUser, page: PageDep,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
) -> Page[ConversationPublic]:
    only = service.technician_conversation_ids(session=session, user=user) if is_technician(user) else None
    rows, total = service.list_conversations(session=session, page=page, customer_id=customer_id, only_ids=only)
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)


@router.post(
    "/inbound", response_model=MessagePublic, status_code=status.HTTP_201_CREATED,
    summary="Store an inbound message in the channel-neutral shape (idempotent on channel + external_id)",
    responses={200: {"model": MessagePublic, "description": "Already stored: the original message"}},
)
def inbound(body: InboundMessage, session: SessionDep, _: AgentUser, response: Response) -> Message:
    body = clean_inbound(body)  # no NUL or XML-illegal control characters (PostgreSQL refuses NUL)
    for attempt in range(3):
        try:
            message, created, _, _ = service.ingest(session=session, inbound=body)
            session.commit()
            break
        except (IntegrityError, Conflict):
            # The same delivery (or the same new author) was stored on another connection at the same moment:
            # roll back and ingest again, which now finds it and answers like any redelivery. A real conflict
            # (the id reused for other text) is raised again on the last try.
            session.rollback()
            if attempt == 2:
                raise
    session.refresh(message)
    if not created:
        response.status_code = status.HTTP_200_OK
    return message


@router.get("/{conversation_id}", response_model=ConversationDetail, summary="A conversation with its messages")
def get_conversation(conversation_id: int, session: SessionDep, user: CurrentUser) -> ConversationDetail:
    conversation = service.get(session=session, conversation_id=conversation_id)
    ensure_customer_visible(session=session, user=user, customer_id=conversation.customer_id)
    service.ensure_visible(session=session, user=user, conversation=conversation)
    thread = service.messages(session=session, conversation_id=conversation_id, reader=user)  # no notes for techs
    return ConversationDetail.model_validate({**conversation.model_dump(), "messages": thread})


@router.post(
    "/{conversation_id}/messages", response_model=MessagePublic, status_code=status.HTTP_201_CREATED,
    summary="Reply in a conversation (sent on the customer's channel)",
)
def post_message(
    conversation_id: int, body: MessageCreate, session: SessionDep, user: CurrentUser, request: Request,
    background: BackgroundTasks,
) -> Message:
    conversation = service.get(session=session, conversation_id=conversation_id)
    ensure_customer_visible(session=session, user=user, customer_id=conversation.customer_id)
    service.ensure_visible(session=session, user=user, conversation=conversation)
    existing = service.existing_reply(session=session, conversation=conversation, message_in=body)
    if existing is not None:
        return existing
    # server/notify owns what reaches customers: it stores the reply queued on the customer's channel.
    message, _ = notify.send_to_customer(
        session=session, conversation_id=conversation_id, conversation=conversation, text=body.text, kind="reply",
        author_kind=service.author_kind(user), author_name=user.full_name or user.username,
        author_user_id=user.id, visibility=body.visibility)
    message.external_id, message.media = body.external_id, list(body.media)
    service.answered(session=session, conversation=conversation)
    session.commit()
    session.refresh(message)
    background.add_task(deliver_queued, engine=request.app.state.engine, settings=request.app.state.settings,
                        wait=False)
    return message


def _conversation(session: Session, conversation_id: int) -> Conversation:
    return service.get(session=session, conversation_id=conversation_id)


@router.post("/{conversation_id}/notes", response_model=MessagePublic, status_code=status.HTTP_201_CREATED,
             summary="A private note in the thread (staff only; never sent to the customer)")
def add_note(conversation_id: int, body: NoteCreate, session: SessionDep, user: AgentUser,
             settings: SettingsDep) -> Message:
    conversation = _conversation(session, conversation_id)
    note = service.add_note(session=session, conversation=conversation, text=body.text, author=user)
    session.commit()
    session.refresh(note)
    _changed(settings, conversation, "note")
    return note


@router.post("/{conversation_id}/status", response_model=ConversationPublic,
             summary="Open, pend, snooze (until a time) or resolve a conversation")
def set_status(conversation_id: int, body: StatusChange, session: SessionDep, _: AgentUser,
               settings: SettingsDep) -> Conversation:
    conversation = service.set_status(session=session, conversation=_conversation(session, conversation_id),
                                      change=body)
    session.commit()
    session.refresh(conversation)
    _changed(settings, conversation, "status")
    return conversation


@router.post("/{conversation_id}/assign", response_model=ConversationPublic,
             summary="Assign the conversation to a staff user (user_id null: unassign)")
def assign(conversation_id: int, body: Assignment, session: SessionDep, _: AgentUser,
           settings: SettingsDep) -> Conversation:
    conversation = service.assign(session=session, conversation=_conversation(session, conversation_id),
                                  user_id=body.user_id)
    session.commit()
    session.refresh(conversation)
    _changed(settings, conversation, "assignee")
    return conversation


@router.post("/{conversation_id}/triage", response_model=CasePublic,
             summary="Correct triage for the conversation's case (category, or not field work); it trains triage")
def correct_triage(conversation_id: int, body: TriageCorrection, session: SessionDep, user: AgentUser,
                   settings: SettingsDep) -> Any:
    conversation = _conversation(session, conversation_id)
    case = cases.latest_for_conversation(session=session, conversation_id=conversation_id)
    cases.correct_triage(session=session, case=case, choices=cases.category_choices(settings.taxonomy_path),
                         category=body.category, not_field_work=body.not_field_work, actor=user)
    session.commit()
    session.refresh(case)
    _changed(settings, conversation, "triage")
    return case


@router.get("/{conversation_id}/canned-replies", response_model=list[CannedReplyFilled],
            summary="Canned replies with this conversation's customer's name filled in")
def filled_canned(conversation_id: int, session: SessionDep, _: AgentUser,
                  q: Annotated[str | None, Query(max_length=200)] = None) -> list[CannedReplyFilled]:
    from server.customers.models import Customer

    customer = session.get(Customer, _conversation(session, conversation_id).customer_id)
    return [CannedReplyFilled.model_validate({**c.model_dump(), "filled": inbox_service.fill(c.text, customer)})
            for c in inbox_service.canned_replies(session=session, q=q)]
