"""Customers API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from server.auth.access import ensure_customer_visible, is_technician, technician_customer_ids
from server.core.deps import AgentUser, CurrentUser, SessionDep
from server.core.models import Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter
from server.customers import service
from server.customers.models import (
    Customer,
    CustomerCreate,
    CustomerDetail,
    CustomerPublic,
    CustomerUpdate,
    Identity,
    IdentityCreate,
    IdentityPublic,
)

router = FeatureRouter(prefix="/customers", tags=["customers"])


@router.get("", response_model=Page[CustomerPublic], summary="List customers")
def list_customers(
    session: SessionDep, user: CurrentUser, page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="Name or address contains")] = None,
) -> Page[CustomerPublic]:
    only = technician_customer_ids(session=session, user=user) if is_technician(user) else None
    rows, total = service.list_customers(session=session, page=page, search=q, only_ids=only)
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)


@router.post("", response_model=CustomerPublic, status_code=status.HTTP_201_CREATED, summary="Add a customer")
def create_customer(customer_in: CustomerCreate, session: SessionDep, user: AgentUser) -> Customer:
    customer = service.create(session=session, customer_in=customer_in, actor=user)
    session.commit()
    session.refresh(customer)
    return customer


@router.get("/{customer_id:int}", response_model=CustomerDetail, summary="One customer with identities")
def get_customer(customer_id: int, session: SessionDep, user: CurrentUser) -> CustomerDetail:
    customer = service.get(session=session, customer_id=customer_id)
    ensure_customer_visible(session=session, user=user, customer_id=customer_id)
    return CustomerDetail.model_validate(
        {**customer.model_dump(), "identities": service.identities(session=session, customer_id=customer_id)}
    )


@router.patch("/{customer_id}", response_model=CustomerPublic, summary="Change a customer")
def update_customer(
    customer_id: int, customer_in: CustomerUpdate, session: SessionDep, user: AgentUser
) -> Customer:
    customer = service.get(session=session, customer_id=customer_id)
    service.update(session=session, customer=customer, customer_in=customer_in, actor=user)
    session.commit()
    session.refresh(customer)
    return customer


@router.post(
    "/{customer_id}/identities", response_model=IdentityPublic, status_code=status.HTTP_201_CREATED,
    summary="Attach a channel identity",
)
def add_identity(customer_id: int, identity_in: IdentityCreate, session: SessionDep, user: AgentUser) -> Identity:
    customer = service.get(session=session, customer_id=customer_id)
    identity = service.add_identity(session=session, customer=customer, identity_in=identity_in, actor=user)
    session.commit()
    session.refresh(identity)
    return identity
