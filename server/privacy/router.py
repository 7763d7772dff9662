"""Data-subject requests: export and erase a customer (admin only)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from server.core.deps import AdminUser, SessionDep, SettingsDep
from server.core.routing import FeatureRouter
from server.privacy import service

router = FeatureRouter(prefix="/customers", tags=["privacy"])


class EraseRequest(SQLModel):
    reason: str = Field(min_length=3, max_length=300, description="Why (e.g. the request's reference); audited.")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if len(value.strip()) < 3:
            raise ValueError("reason: say why (at least 3 characters)")
        return value.strip()


@router.get("/{customer_id}/export", summary="Everything stored about a customer (data-subject access request)")
def export(customer_id: int, session: SessionDep, _: AdminUser) -> dict[str, Any]:
    return service.export(session=session, customer_id=customer_id)


@router.post("/{customer_id}/erase", summary="Erase a customer's personal data; records and audit trail are kept "
             "with their personal content removed")
def erase(customer_id: int, body: EraseRequest, session: SessionDep, settings: SettingsDep,
          admin: AdminUser) -> dict[str, Any]:
    files = service.media_files(session=session, settings=settings, customer_id=customer_id)
    result = service.erase(session=session, customer_id=customer_id, actor=admin, reason=body.reason)
    session.commit()  # the files go once the erasure is stored: a failed erasure loses nothing
    return {**result, "media_deleted": service.delete_files(settings=settings, paths=files)}
