"""Sign-in (OAuth2 password flow), token refresh, and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from server.auth import service
from server.auth.models import PasswordChange, RefreshRequest, Token, User, UserCreate, UserPublic, UserUpdate
from server.core.deps import AdminUser, CurrentUser, SessionDep, SettingsDep
from server.core.errors import Forbidden, Unauthorized
from server.core.models import Message, Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter

router = FeatureRouter(tags=["auth"])


def _issue(settings: SettingsDep, user: User) -> Token:
    access, lifetime = service.create_token(settings=settings, user=user)
    refresh, _ = service.create_token(settings=settings, user=user, kind="refresh")
    return Token(access_token=access, expires_in=lifetime, refresh_token=refresh, role=user.role)


_SIGN_IN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Message, "description": "Wrong username or password (the same answer whether the account "
                                           "exists or not), or the account is disabled"},
    429: {"model": Message, "description": "Too many failed sign-ins from this address (for this account, or in "
                                           "all) in the last few minutes"},
}


@router.post("/auth/token", response_model=Token, summary="Sign in with username and password",
             responses=_SIGN_IN_ERRORS)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: SessionDep,
    settings: SettingsDep,
) -> Token:
    client_ip = request.client.host if request.client else ""
    user = service.authenticate(session=session, username=form.username, password=form.password,
                                client_ip=client_ip)
    session.commit()
    return _issue(settings, user)


@router.post("/auth/refresh", response_model=Token, summary="Exchange a refresh token for new tokens")
def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Token:
    user_id = service.decode_token(settings=settings, token=body.refresh_token, kind="refresh")
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the account behind this token no longer exists or is disabled")
    if not service.is_current(user=user, subject=user_id):
        raise Unauthorized(service.REVOKED)
    return _issue(settings, user)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             summary="Sign out: every access and refresh token of this user stops working (on every device)")
def logout(session: SessionDep, user: CurrentUser) -> Response:
    target = service.get(session=session, user_id=user.id or 0)
    service.revoke_tokens(session=session, user=target)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/password", response_model=Token, responses=_SIGN_IN_ERRORS,
             summary="Change your own password: every token issued before stops working; new tokens come back")
def change_password(
    body: PasswordChange, request: Request, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Token:
    target = service.get(session=session, user_id=user.id or 0)
    try:  # the current password is checked like a sign-in: throttled per address and account
        service.authenticate(session=session, username=target.username, password=body.current_password,
                             client_ip=request.client.host if request.client else "")
    except Unauthorized:
        raise Forbidden("current_password: this is not your current password")
    service.set_password(session=session, user=target, password=body.new_password, actor=target)
    session.commit()
    session.refresh(target)
    return _issue(settings, target)


@router.get("/auth/me", response_model=UserPublic, summary="The signed-in user")
def me(user: CurrentUser) -> User:
    return user


@router.get("/users", response_model=Page[UserPublic], summary="List users (admin)")
def list_users(session: SessionDep, _: AdminUser, page: PageDep) -> Page[UserPublic]:
    rows, total = service.list_users(session=session, offset=page.offset, limit=page.limit)
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED, summary="Create a user")
def create_user(user_in: UserCreate, session: SessionDep, admin: AdminUser) -> User:
    _check_technician(session, user_in.technician_id)
    user = service.create(session=session, user_in=user_in, actor=admin)
    session.commit()
    session.refresh(user)
    return user


@router.patch("/users/{user_id}", response_model=UserPublic, summary="Change a user")
def update_user(user_id: int, user_in: UserUpdate, session: SessionDep, admin: AdminUser) -> User:
    user = service.get(session=session, user_id=user_id)
    _check_technician(session, user_in.technician_id)
    service.update(session=session, user=user, user_in=user_in, actor=admin)
    session.commit()
    session.refresh(user)
    return user


def _check_technician(session: SessionDep, technician_id: int | None) -> None:
    from server.core.errors import Invalid
    from server.technicians.models import Technician

    if technician_id is not None and session.get(Technician, technician_id) is None:
        raise Invalid(f"technician_id: technician {technician_id} does not exist")
