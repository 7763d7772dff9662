"""Open311 fixtures: settings with the street map cache shared by the session, an api key, and requests and
notices written straight into the database (as intake and server/notify store them)."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from server.auth.models import Role
from server.cases.models import Case
from server.config import Settings
from server.conversations.models import AuthorKind, Conversation, Direction, Message, Visibility
from server.customers.models import Channel, Customer

# A point on a street inside the demo map (Eastern Ave, Highlandtown).
LAT, LON = 39.2856, -76.5733
# A 1x1 PNG: a real image, as small as they come.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAAB"
                       "JRU5ErkJggg==")


@pytest.fixture(scope="session")
def city_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("city-cache")


@pytest.fixture
def settings(database_url: str, tmp_path: Path, city_cache: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=False, GROUNDCREW_CACHE_DIR=city_cache)


@pytest.fixture
def api_key(client, auth) -> str:
    response = client.post("/open311/keys", json={"name": "FixMyStreet"}, headers=auth(Role.admin))
    assert response.status_code == 201, response.text
    return response.json()["api_key"]


def make_request(app, *, sent_at: datetime, category: str = "pothole", text: str = "Pothole on Eastern Ave",
                 stored_at: datetime | None = None) -> int:
    """An Open311 request as intake stores it (customer, conversation, first message, case), written directly so
    that a test can hold hundreds of them and choose when each was requested (``sent_at``) and stored."""
    with Session(app.state.engine) as session:
        customer = Customer(display_name="Resident")
        session.add(customer)
        session.flush()
        thread = f"t{customer.id}-{sent_at.timestamp()}"
        conversation = Conversation(customer_id=customer.id, channel=Channel.open311, external_thread_id=thread,
                                    subject="Pothole")
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, customer_id=customer.id, channel=Channel.open311,
                            text=text, external_id=thread, sent_at=sent_at))
        case = Case(conversation_id=conversation.id, customer_id=customer.id, category=category, lat=LAT, lon=LON,
                    created_at=stored_at or sent_at, updated_at=stored_at or sent_at)
        session.add(case)
        session.commit()
        return case.id


def notice(app, case_id: int, text: str, kind: str, *, sent_at: datetime, author_kind=AuthorKind.system,
           visibility=Visibility.private) -> int:
    """An outbound message on the request's conversation, as server/notify's send_to_customer stores it."""
    with Session(app.state.engine) as session:
        case = session.get(Case, case_id)
        message = Message(conversation_id=case.conversation_id, customer_id=case.customer_id, channel=Channel.open311,
                          direction=Direction.outbound, author_kind=author_kind, text=text, visibility=visibility,
                          meta={"kind": kind}, sent_at=sent_at, external_id=f"gc:{kind}:{case_id}:{sent_at}")
        session.add(message)
        session.commit()
        return message.id
