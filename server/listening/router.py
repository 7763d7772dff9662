"""Listening feed API (agents): public posts about our services in our area that were not addressed to us."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import BackgroundTasks, Query, Request

from server.core.deps import AgentUser, SessionDep
from server.core.models import Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter
from server.listening import service
from server.listening.models import ListeningMentionPublic, MentionReply, MentionStatus
from server.notify.service import deliver_queued

router = FeatureRouter(prefix="/listening", tags=["listening"])


@router.get("", response_model=Page[ListeningMentionPublic], summary="Unaddressed mentions to answer first")
def list_mentions(
    session: SessionDep, _: AgentUser, page: PageDep,
    status_: Annotated[MentionStatus | None, Query(alias="status")] = MentionStatus.new,
) -> Page[Any]:
    rows, total = service.list_mentions(session=session, page=page, status=status_)
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)


@router.post("/{mention_id}/reply", response_model=ListeningMentionPublic, summary="Answer a mention publicly")
def reply(mention_id: int, body: MentionReply, session: SessionDep, user: AgentUser, request: Request,
          background: BackgroundTasks) -> Any:
    mention, _ = service.reply(session=session, mention_id=mention_id, text=body.text, actor=user)
    session.commit()
    background.add_task(deliver_queued, engine=request.app.state.engine, settings=request.app.state.settings,
                        wait=False)
    return service.as_public(session, mention)


@router.post("/{mention_id}/dismiss", response_model=ListeningMentionPublic, summary="Hide a mention")
def dismiss(mention_id: int, session: SessionDep, user: AgentUser) -> Any:
    mention = service.dismiss(session=session, mention_id=mention_id, actor=user)
    session.commit()
    return service.as_public(session, mention)
