"""Conversations API: read threads, reply, and the generic inbound-message endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError

from server.auth.access import ensure_customer_visible, is_technician, technician_customer_ids
from server.conversations import service
from server.conversations.models import (
    ConversationDetail,
    ConversationPublic,
    InboundMessage,
    Message,
    MessageCreate,
    MessagePublic,
)
from server.core.deps import AgentUser, CurrentUser, SessionDep
from server.core.errors import Conflict
from server.core.models import Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter
from server.intake.guard import clean_inbound
from server.notify.service import deliver_queued

router = FeatureRouter(prefix="/conversations", tags=["conversations"])


@router.get("", response_model=Page[ConversationPublic], summary="List conversations")
def list_conversations(
    session: SessionDep, user: CurrentUser, page: PageDep,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
) -> Page[ConversationPublic]:
    only = technician_customer_ids(session=session, user=user) if is_technician(user) else None
    rows, total = service.list_conversations(session=session, page=page, customer_id=customer_id, only_customers=only)
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
    return ConversationDetail.model_validate(
        {**conversation.model_dump(), "messages": service.messages(session=session, conversation_id=conversation_id)}
    )


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
    message = service.reply(session=session, conversation=conversation, message_in=body, author=user)
    session.commit()
    session.refresh(message)
    background.add_task(deliver_queued, engine=request.app.state.engine, settings=request.app.state.settings,
                        wait=False)
    return message
