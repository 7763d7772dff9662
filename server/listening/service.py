"""The listening feed: unaddressed public mentions agents can answer first."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from server.audit import service as audit
from server.auth.models import User
from server.conversations.models import AuthorKind, Message, Visibility
from server.core.errors import Conflict, NotFound
from server.core.pagination import PageParams, paginate
from server.listening.models import ListeningMention, MentionStatus


def list_mentions(*, session: Session, page: PageParams, status: MentionStatus | None) -> tuple[list[dict], int]:
    """Mentions, most urgent first, with the post's text and author."""
    query = select(ListeningMention)
    if status is not None:
        query = query.where(ListeningMention.status == status)
    rows, total = paginate(session, query.order_by(col(ListeningMention.priority).desc(),
                                                   col(ListeningMention.id).desc()), page)
    out = []
    for row in rows:
        message = session.get(Message, row.message_id)
        out.append({**row.model_dump(), "text": message.text if message else "",
                    "author_name": message.author_name if message else "",
                    "channel": str(message.channel) if message else ""})
    return out, total


def get(*, session: Session, mention_id: int) -> ListeningMention:
    mention = session.get(ListeningMention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} not found")
    return mention


def reply(*, session: Session, mention_id: int, text: str, actor: User) -> tuple[ListeningMention, Message]:
    """Answer a mention publicly in its thread (once)."""
    from server.notify.service import send_to_customer

    mention = get(session=session, mention_id=mention_id)
    if mention.status != MentionStatus.new:
        raise Conflict(f"status: mention {mention_id} was already {mention.status}")
    post = session.get(Message, mention.message_id)
    if post is None:
        raise NotFound(f"message {mention.message_id} not found")
    message, _ = send_to_customer(
        session=session, conversation_id=post.conversation_id, text=text, kind="listening_reply",
        author_kind=AuthorKind.agent, author_name=actor.full_name or actor.username, author_user_id=actor.id,
        visibility=Visibility.public, dedupe_key=f"listening:{mention_id}",
    )
    mention.status = MentionStatus.answered
    mention.reply_message_id = message.id
    session.add(mention)
    audit.record(session=session, action="reply", entity="listening_mention", entity_id=mention_id,
                 actor_user_id=actor.id, actor=actor.username)
    return mention, message


def dismiss(*, session: Session, mention_id: int, actor: User) -> ListeningMention:
    """Not for us: hide it from the feed."""
    mention = get(session=session, mention_id=mention_id)
    mention.status = MentionStatus.dismissed
    session.add(mention)
    audit.record(session=session, action="dismiss", entity="listening_mention", entity_id=mention_id,
                 actor_user_id=actor.id, actor=actor.username)
    return mention


def as_public(session: Session, mention: ListeningMention) -> dict[str, Any]:
    message = session.get(Message, mention.message_id)
    return {**mention.model_dump(), "text": message.text if message else "",
            "author_name": message.author_name if message else "", "channel": str(message.channel) if message else ""}
