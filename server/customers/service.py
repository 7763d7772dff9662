"""Customers and identities. A (channel, handle) pair belongs to exactly one customer."""

from __future__ import annotations

from sqlmodel import Session, col, or_, select

from server.audit import service as audit
from server.auth.models import User
from server.core.errors import Conflict, Invalid, NotFound, refuse_nulls
from server.core.pagination import PageParams, paginate
from server.customers.models import (
    Channel,
    Customer,
    CustomerCreate,
    CustomerUpdate,
    Identity,
    IdentityCreate,
    normalize_handle,
)


def get(*, session: Session, customer_id: int) -> Customer:
    """The customer, or NotFound."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def list_customers(
    *, session: Session, page: PageParams, search: str | None = None, only_ids: set[int] | None = None
) -> tuple[list[Customer], int]:
    """Customers that have not been merged away, newest first, optionally matching a name."""
    query = select(Customer).where(col(Customer.merged_into_id).is_(None))
    if search:
        like = f"%{search.strip()}%"
        query = query.where(or_(col(Customer.display_name).ilike(like), col(Customer.address).ilike(like)))
    if only_ids is not None:
        query = query.where(col(Customer.id).in_(only_ids or {-1}))
    return paginate(session, query.order_by(col(Customer.id).desc()), page)


def identities(*, session: Session, customer_id: int) -> list[Identity]:
    """The customer's identities in the order they were learned."""
    return list(session.exec(
        select(Identity).where(Identity.customer_id == customer_id).order_by(col(Identity.id))
    ).all())


def create(*, session: Session, customer_in: CustomerCreate, actor: User | None) -> Customer:
    """Add a customer."""
    customer = Customer.model_validate(customer_in)
    session.add(customer)
    session.flush()
    audit.record(
        session=session, action="create", entity="customer", entity_id=customer.id,
        actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
    )
    return customer


def update(*, session: Session, customer: Customer, customer_in: CustomerUpdate, actor: User) -> Customer:
    """Change a customer's profile (a null for a field the profile cannot hold empty is Invalid)."""
    data = customer_in.model_dump(exclude_unset=True)
    refuse_nulls(data, CustomerCreate)
    for key, value in data.items():
        setattr(customer, key, value)
    session.add(customer)
    audit.record(
        session=session, action="update", entity="customer", entity_id=customer.id,
        actor_user_id=actor.id, actor=actor.username, detail={"fields": sorted(data)},
    )
    return customer


def find_identity(*, session: Session, channel: str, handle: str) -> Identity | None:
    """The identity for this channel handle (compared in normalized form), or None."""
    return session.exec(
        select(Identity).where(Identity.channel == channel, Identity.handle == normalize_handle(channel, handle))
    ).first()


def add_identity(
    *, session: Session, customer: Customer, identity_in: IdentityCreate, actor: User | None
) -> Identity:
    """Attach a channel identity; one already held by another customer is a Conflict, a handle that is no address
    on its channel (a phone number without digits) is Invalid."""
    if not normalize_handle(identity_in.channel, identity_in.handle):
        raise Invalid(f"handle: '{identity_in.handle[:40]}' is not a {identity_in.channel} address"
                      + (" (a phone number needs digits)" if identity_in.channel in (Channel.sms, Channel.phone)
                         else ""))
    existing = find_identity(session=session, channel=identity_in.channel, handle=identity_in.handle)
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        raise Conflict(
            f"handle: {identity_in.channel} '{identity_in.handle}' already belongs to customer "
            f"{existing.customer_id}; merge the customers instead"
        )
    identity = Identity.model_validate(
        identity_in,
        update={"customer_id": customer.id, "handle": normalize_handle(identity_in.channel, identity_in.handle)},
    )
    session.add(identity)
    session.flush()
    audit.record(
        session=session, action="add_identity", entity="customer", entity_id=customer.id,
        actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
        detail={"channel": identity.channel, "identity_id": identity.id},
    )
    return identity


def resolve_or_create(
    *, session: Session, channel: str, handle: str, display_name: str = "", verified: bool = False
) -> tuple[Customer, Identity]:
    """The customer who owns this handle, creating customer and identity on first contact."""
    identity = find_identity(session=session, channel=channel, handle=handle)
    if identity is not None:
        customer = get(session=session, customer_id=identity.customer_id)
        while customer.merged_into_id is not None:
            customer = get(session=session, customer_id=customer.merged_into_id)
        return customer, identity
    customer = create(
        session=session, customer_in=CustomerCreate(display_name=display_name or handle), actor=None
    )
    identity = add_identity(
        session=session, customer=customer,
        identity_in=IdentityCreate(channel=channel, handle=handle, display_name=display_name, verified=verified),
        actor=None,
    )
    return customer, identity
