"""Open311 GeoReport v2 under /open311/v2 (JSON and XML; public GET, api_key for POST) and the admin
api-key endpoints under /open311/keys."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response, status
from sqlmodel import Session

from server.core.deps import AdminUser, SessionDep, SettingsDep
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read
from server.intake.guard import clean, clean_text, rate_limit
from server.open311 import service
from server.open311.models import Open311KeyCreate, Open311KeyIssued, Open311KeyPublic
from server.open311.service import Open311Error
from server.triage.service import load_taxonomy

log = logging.getLogger("groundcrew.open311")

public_router = FeatureRouter(prefix="/open311/v2", tags=["open311"])
router = FeatureRouter(prefix="/open311/keys", tags=["open311"])

AGENCY = "Groundcrew"
MAX_BODY = 64_000
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Element name of a list's items in XML, by the list's own element name.
ITEM = {"services": "service", "attributes": "attribute", "values": "value", "endpoints": "endpoint",
        "formats": "format", "service_requests": "request", "errors": "error"}


# ------------------------------------------------------------------ rendering
def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, child in value.items():
            _xml_value(element, key, child)
    elif isinstance(value, list):
        for child in value:
            _xml_value(element, ITEM.get(name, "item"), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = clean_text(str(value))  # rows stored before intake cleaned text must not break the feed


def render(fmt: str, root: str, payload: Any, status_code: int = 200) -> Response:
    """JSON as is; XML with the spec's element names (``services/service``, ``service_requests/request``...)."""
    if fmt == "xml":
        element = ET.Element(root)
        if isinstance(payload, list):
            for item in payload:
                _xml_value(element, ITEM.get(root, "item"), item)
        else:
            for key, value in payload.items():
                _xml_value(element, key, value)
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")
        return Response(body, status_code=status_code, media_type=FORMATS["xml"])
    return Response(json.dumps(payload, ensure_ascii=False).encode(), status_code=status_code,
                    media_type=FORMATS["json"])


def error(fmt: str, status_code: int, description: str) -> Response:
    """The spec's error list: ``[{"code": 400, "description": "..."}]`` / ``<errors><error>...``."""
    return render(fmt if fmt in FORMATS else "json", "errors", [{"code": status_code, "description": description}],
                  status_code)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"format: {fmt[:20]!r} is not supported (use .json or .xml)")
    return fmt


def _taxonomy(settings):  # type: ignore[no-untyped-def]
    return load_taxonomy(settings.taxonomy_path)


# ------------------------------------------------------------------ GeoReport v2
@public_router.get("/discovery.{fmt}", summary="Open311 service discovery")
def discovery(fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as exc:
        return error("json", exc.status, exc.description)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    payload = {
        "changeset": "2024-01-01T00:00:00Z", "contact": "Groundcrew dispatch: see the deployment's contact page",
        "key_service": "Ask the deployment's administrators for an api_key (POST /open311/keys).",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                       "changeset": "2024-01-01T00:00:00Z", "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
    return render(fmt, "discovery", payload)


@public_router.get("/services.{fmt}", summary="Open311 service list")
def list_services(fmt: str, settings: SettingsDep) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as exc:
        return error("json", exc.status, exc.description)
    return render(fmt, "services", [service.service_dict(c) for c in service.services(_taxonomy(settings))])


@public_router.get("/services/{code}.{fmt}", summary="Open311 service definition (attributes)")
def service_definition(code: str, fmt: str, settings: SettingsDep) -> Response:
    try:
        fmt = _fmt(fmt)
        cat = service.service(_taxonomy(settings), code)
        if cat is None:
            raise Open311Error(404, f"service_code: {code[:40]!r} not found")
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_definition", service.definition_dict(cat))


@public_router.get("/requests.{fmt}", summary="Open311 service requests (filters, page/page_size)")
async def list_requests(fmt: str, request: Request, settings: SettingsDep) -> Response:
    params = {k: v for k, v in request.query_params.items()}

    def read(session: Session) -> Response:
        try:
            items = service.list_requests(session=session, params=params, taxonomy=_taxonomy(settings),
                                          agency=AGENCY)
        except Open311Error as exc:
            return error(valid_fmt, exc.status, exc.description)
        return render(valid_fmt, "service_requests", items)

    try:
        valid_fmt = _fmt(fmt)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    # A public feed many clients poll: identical waiting requests share one read.
    return await shared_read(request, ("open311-requests", valid_fmt, tuple(sorted(params.items()))), read)


@public_router.get("/requests/{request_id}.{fmt}", summary="One Open311 service request")
def get_request(request_id: str, fmt: str, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        fmt = _fmt(fmt)
        item = service.get_request(session=session, request_id=request_id, taxonomy=_taxonomy(settings),
                                   agency=AGENCY)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_requests", [item])


@public_router.get("/tokens/{token}.{fmt}", summary="Service request id for a token")
def get_token(token: str, fmt: str, session: SessionDep) -> Response:
    try:
        fmt = _fmt(fmt)
        item = service.request_by_token(session=session, token=token)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_requests", [item])


async def _post_params(request: Request) -> dict[str, str]:
    """The POST parameters: form-encoded (the spec), or a JSON object, or an XML element with one child per
    parameter; query-string parameters are merged in (form wins). Malformed bodies are a 400."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Open311Error(400, f"body: larger than {MAX_BODY} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    params: dict[str, str] = dict(request.query_params.items())
    if ctype in ("", "application/x-www-form-urlencoded"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Open311Error(400, "body: not UTF-8") from None
        params.update(parse_qsl(text, keep_blank_values=True))
    elif ctype == "multipart/form-data":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif ctype in ("application/json", "text/json"):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Open311Error(400, "body: malformed JSON") from None
        if not isinstance(data, dict) or any(isinstance(v, dict | list) for v in data.values()):
            raise Open311Error(400, "body: a JSON object of parameter names to values")
        params.update({str(k): "" if v is None else str(v) for k, v in data.items()})
    elif ctype in ("text/xml", "application/xml"):
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            raise Open311Error(400, "body: XML with DOCTYPE or entities is refused")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise Open311Error(400, f"body: malformed XML ({exc})") from None
        for child in root:
            if len(child):
                raise Open311Error(400, f"body: XML parameter <{child.tag}> must hold text only")
            params[child.tag] = (child.text or "").strip()
    else:
        raise Open311Error(400, f"body: content type {ctype!r} is not supported (use form-encoded)")
    return clean(params)  # no NUL or XML-illegal control characters reach storage or the public feed


@public_router.post("/requests.{fmt}", summary="Submit an Open311 service request (api_key required)",
                    status_code=status.HTTP_201_CREATED, dependencies=[Depends(rate_limit("open311"))],
                    responses={429: {"description": "Too many requests from this client address (Retry-After)"}})
async def post_request(fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
        params = await _post_params(request)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    # The database work is synchronous: run it in the thread pool like FastAPI's own sync endpoints.
    from starlette.concurrency import run_in_threadpool

    try:
        item = await run_in_threadpool(_create, request, params)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_requests", [item], status.HTTP_201_CREATED)


def _create(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """Validate, then hand the request to the intake pipeline in one transaction (all or nothing)."""
    from server.conversations.models import InboundMessage, Visibility
    from server.core.city import load_city
    from server.core.timeutil import utcnow
    from server.customers.models import Channel

    settings = request.app.state.settings
    with Session(request.app.state.engine) as session:
        try:
            key = service.check_key(session=session, api_key=params.get("api_key"))
            new = service.parse_new_request(params, taxonomy=_taxonomy(settings))
            try:
                from server.intake.pipeline import receive
            except ImportError:
                raise Open311Error(503, "service requests cannot be accepted yet (intake pipeline missing)") from None
            try:
                city = load_city(settings)
            except Exception as exc:
                raise Open311Error(503, f"the street map is not available: {exc}") from None
            inbound = InboundMessage(
                channel=Channel.open311, external_id=new.external_id, author_handle=new.author_handle[:200],
                author_name=new.author_name[:200], text=new.text, sent_at=utcnow(), visibility=Visibility.private,
                lat=new.lat, lon=new.lon, place_name=(new.address or None) and new.address[:300],
                media=[new.media_url] if new.media_url else [], thread_id=new.external_id,
                subject=new.category.label[:300],
            )
            result = receive(session=session, settings=settings, city=city, inbound=inbound,
                             service_code=new.category.service_code, stated_address=new.address)
            key.last_used_at = utcnow()
            session.add(key)
            session.commit()
        except Open311Error:
            session.rollback()
            raise
        except Exception:
            session.rollback()
            log.exception("open311 POST failed")
            raise Open311Error(500, "the request could not be stored; nothing was saved") from None
        case = getattr(result, "case", None)
        return {"service_request_id": str(case.id) if case is not None and case.id is not None else "",
                "token": new.external_id, "service_notice": "", "account_id": ""}


# ------------------------------------------------------------------ api keys (admins)
@router.post("", response_model=Open311KeyIssued, status_code=status.HTTP_201_CREATED,
             summary="Issue an Open311 api_key (shown once)")
def issue_key(body: Open311KeyCreate, session: SessionDep, user: AdminUser) -> Open311KeyIssued:
    key, plaintext = service.issue_key(session=session, name=body.name, user_id=user.id)
    session.commit()
    session.refresh(key)
    return Open311KeyIssued(**Open311KeyPublic.model_validate(key).model_dump(), api_key=plaintext)


@router.get("", response_model=list[Open311KeyPublic], summary="List Open311 api keys (no secrets)")
def list_keys(session: SessionDep, user: AdminUser) -> list[Open311KeyPublic]:
    return [Open311KeyPublic.model_validate(k) for k in service.list_keys(session=session)]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an Open311 api key")
def revoke_key(key_id: int, session: SessionDep, user: AdminUser) -> Response:
    service.revoke_key(session=session, key_id=key_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
