"""Open311 GeoReport v2 under /open311/v2 (JSON and XML; public GET, api_key for POST), FixMyStreet's
``servicerequestupdates`` extension both ways, uploaded photos, and the admin api-key endpoints under /open311/keys.

The public GET routes answer any web page (CORS: ``Access-Control-Allow-Origin: *``, GET only, no credentials);
the POSTs and the authenticated API do not. Every route documents its real answers (server/open311/docs.py).

Specifications: http://wiki.open311.org/GeoReport_v2 and
https://github.com/mysociety/fixmystreet/wiki/Open311-FMS---Complete-Spec (the updates extension)."""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response, status
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from server.core.deps import AdminUser, SessionDep, SettingsDep
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read
from server.core.timeutil import utcnow
from server.intake.guard import clean, clean_text, rate_limit
from server.open311 import docs, media, service
from server.open311.models import Open311KeyCreate, Open311KeyIssued, Open311KeyPublic
from server.open311.service import Open311Error
from server.triage.service import load_taxonomy

log = logging.getLogger("groundcrew.open311")


class PublicReadRoute(APIRoute):
    """A route whose GET any web page may read: Starlette's CORSMiddleware (any origin, GET only, no credentials)
    in front of it, including the preflight OPTIONS for its path. Routes of other methods are left as they are, so
    a cross-origin POST (which would carry an api_key from a browser) is never allowed, and nothing outside
    /open311/v2 answers other origins."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cors = CORSMiddleware(self._handle, allow_origins=["*"], allow_methods=["GET"],
                                   allow_credentials=False, max_age=86400) if "GET" in (self.methods or ()) else None

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await APIRoute.handle(self, scope, receive, send)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if self.cors is not None and match == Match.PARTIAL and scope.get("method") == "OPTIONS":
            return Match.FULL, child  # a preflight for this path: answered by the CORS middleware
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is None:
            await APIRoute.handle(self, scope, receive, send)
        else:  # answers a preflight itself; otherwise the route, with the CORS headers added to its answer
            await self.cors(scope, receive, send)


public_router = FeatureRouter(prefix="/open311/v2", tags=["open311"], route_class=PublicReadRoute)
router = FeatureRouter(prefix="/open311/keys", tags=["open311"])

AGENCY = "Groundcrew"
MAX_BODY = 64_000  # parameters alone
MAX_MULTIPART = media.MAX_POST_BYTES  # with photos (server/app.py gives these POSTs this limit: post_body_limit)
FILE_FIELD = re.compile(r"media|media\[\]|photo[0-9]{1,2}")
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Element name of a list's items in XML, by the list's own element name.
ITEM = {"services": "service", "attributes": "attribute", "values": "value", "endpoints": "endpoint",
        "formats": "format", "service_requests": "request", "errors": "error",
        "service_request_updates": "request_update"}


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
    """JSON as is; XML with the spec's element names (``services/service``, ``service_requests/request``,
    ``service_request_updates/request_update``...)."""
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


def _base_url(request: Request) -> str:
    """Where clients reach us: the configured public URL, else the request's own base URL."""
    configured = request.app.state.settings.channel_public_url
    return (configured or str(request.base_url)).rstrip("/")


def _route(method: str, path: str, spec: tuple[dict[str, Any], dict[int, Any]], summary: str,
           **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an Open311 route with its documented parameters and answers (docs.py); the handler reads the
    parameters itself, so FastAPI documents no 422 that never happens."""
    extra, responses = spec
    return public_router.api_route(path, methods=[method], summary=summary, openapi_extra=extra,
                                   responses=responses, response_class=Response, **kwargs)


def _path_fmt(request: Request) -> str:
    return str(request.path_params.get("fmt", ""))


# ------------------------------------------------------------------ GeoReport v2
@_route("GET", "/discovery.{fmt}", docs.DISCOVERY, "Open311 service discovery")
def discovery(request: Request) -> Response:
    """Service discovery: this endpoint, its formats and where to get an api_key. Errors: 400 unknown format."""
    try:
        fmt = _fmt(_path_fmt(request))
    except Open311Error as exc:
        return error("json", exc.status, exc.description)
    base = _base_url(request) + "/open311/v2/"
    payload = {
        "changeset": "2024-01-01T00:00:00Z", "contact": "Groundcrew dispatch: see the deployment's contact page",
        "key_service": "Ask the deployment's administrators for an api_key (POST /open311/keys).",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                       "changeset": "2024-01-01T00:00:00Z", "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
    return render(fmt, "discovery", payload)


@_route("GET", "/services.{fmt}", docs.SERVICES, "Open311 service list")
def list_services(request: Request, settings: SettingsDep) -> Response:
    """The field-work categories of the taxonomy as services. Errors: 400 unknown format."""
    try:
        fmt = _fmt(_path_fmt(request))
    except Open311Error as exc:
        return error("json", exc.status, exc.description)
    return render(fmt, "services", [service.service_dict(c) for c in service.services(_taxonomy(settings))])


@_route("GET", "/services/{code}.{fmt}", docs.DEFINITION, "Open311 service definition (attributes)")
def service_definition(request: Request, settings: SettingsDep) -> Response:
    """A service's attributes. Errors: 400 unknown format; 404 unknown service_code."""
    fmt = _path_fmt(request)
    code = str(request.path_params.get("code", ""))
    try:
        fmt = _fmt(fmt)
        cat = service.service(_taxonomy(settings), code)
        if cat is None:
            raise Open311Error(404, f"service_code: {code[:40]!r} not found")
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_definition", service.definition_dict(cat))


@_route("GET", "/requests.{fmt}", docs.REQUESTS, "Open311 service requests (90 days, 1000 a page by default)")
async def list_requests(request: Request, settings: SettingsDep) -> Response:
    """GET Service Requests (see service.list_requests for the filters). Errors: 400 malformed filter or span over
    90 days, or unknown format; 404 unknown service_code."""
    fmt = _path_fmt(request)
    params = {k: v for k, v in request.query_params.items()}
    base = _base_url(request)

    def read(session: Session) -> Response:
        try:
            items = service.list_requests(session=session, params=params, taxonomy=_taxonomy(settings),
                                          agency=AGENCY, base_url=base)
        except Open311Error as exc:
            return error(valid_fmt, exc.status, exc.description)
        return render(valid_fmt, "service_requests", items)

    try:
        valid_fmt = _fmt(fmt)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    # A public feed many clients poll: identical waiting requests share one read (the key names all it reads).
    return await shared_read(request, ("open311-requests", valid_fmt, base, tuple(sorted(params.items()))), read)


@_route("GET", "/requests/{request_id}.{fmt}", docs.ONE_REQUEST, "One Open311 service request")
def get_request(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """One request as a one-item list. Errors: 400 unknown format; 404 no such Open311 request."""
    fmt = _path_fmt(request)
    try:
        fmt = _fmt(fmt)
        item = service.get_request(session=session, request_id=str(request.path_params.get("request_id", "")),
                                   taxonomy=_taxonomy(settings), agency=AGENCY, base_url=_base_url(request))
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_requests", [item])


@_route("GET", "/tokens/{token}.{fmt}", docs.TOKEN, "Service request id for a token")
def get_token(request: Request, session: SessionDep) -> Response:
    """The id a POST's token became. Errors: 400 unknown format; 404 unknown token."""
    fmt = _path_fmt(request)
    try:
        fmt = _fmt(fmt)
        item = service.request_by_token(session=session, token=str(request.path_params.get("token", "")))
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_requests", [item])


class Posted:
    """A POST's parameters (strings) and its uploaded photos, checked."""

    def __init__(self, params: dict[str, str], photos: list[media.Photo]) -> None:
        self.params = params
        self.photos = photos


async def _post_params(request: Request) -> Posted:
    """The POST parameters: form-encoded (the spec), multipart/form-data (with photos: ``media``, ``media[]``,
    ``photo1``...), a JSON object, or an XML element with one child per parameter; query-string parameters are
    merged in (the body wins). Malformed bodies, unknown file fields and files that are no image are 400s."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if len(raw) > (MAX_MULTIPART if ctype == "multipart/form-data" else MAX_BODY):
        raise Open311Error(400, f"body: larger than {MAX_MULTIPART if ctype == 'multipart/form-data' else MAX_BODY}"
                                " bytes")
    params: dict[str, str] = dict(request.query_params.items())
    photos: list[media.Photo] = []
    if ctype in ("", "application/x-www-form-urlencoded"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Open311Error(400, "body: not UTF-8") from None
        params.update(parse_qsl(text, keep_blank_values=True))
    elif ctype == "multipart/form-data":
        try:
            form = await request.form(max_files=media.MAX_FILES, max_fields=200)
        except HTTPException as exc:
            raise Open311Error(400, f"body: malformed multipart/form-data ({exc.detail})") from None
        for name, value in form.multi_items():
            if isinstance(value, str):
                params[name] = value
            elif isinstance(value, UploadFile):
                if not FILE_FIELD.fullmatch(name):
                    raise Open311Error(400, f"{name[:40]}: files are accepted as media (or photo1, photo2...) only")
                content = await value.read()
                if not content and not value.filename:
                    continue  # a form's empty file input: no file chosen
                photos.append(media.check(content, name))
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
    # no NUL or XML-illegal control characters reach storage or the public feed
    return Posted(clean(params), photos)


async def _in_thread(work: Callable[..., Any], *args: Any) -> Any:
    # The database work is synchronous: run it in the thread pool like FastAPI's own sync endpoints.
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(work, *args)


@_route("POST", "/requests.{fmt}", docs.POST_REQUEST, "Submit an Open311 service request (api_key required)",
        status_code=status.HTTP_201_CREATED, dependencies=[Depends(rate_limit("open311"))])
async def post_request(request: Request) -> Response:
    """POST Service Request: validated, then filed through the intake pipeline in one transaction. Answers the
    new ``service_request_id`` (a ``token`` instead only while the request has no id). Errors, nothing saved: 400
    malformed parameter or body or photo, unknown format; 403 api_key; 404 unknown service_code; 413 body over the
    server limit; 429 rate limit; 500 storing failed; 503 map or pipeline unavailable."""
    fmt = _path_fmt(request)
    try:
        fmt = _fmt(fmt)
        posted = await _post_params(request)
        item: dict[str, Any] = await _in_thread(_create, request, posted)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_requests", [item], status.HTTP_201_CREATED)


def _create(request: Request, posted: Posted) -> dict[str, Any]:
    """Validate, then hand the request to the intake pipeline in one transaction (all or nothing); photos are
    written beside it and removed again when the transaction fails."""
    from server.conversations.models import InboundMessage, Visibility
    from server.core.city import load_city
    from server.customers.models import Channel

    settings = request.app.state.settings
    params = posted.params
    written: int | None = None
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
            if posted.photos:
                written = _attach_photos(session, settings, result.message, posted.photos)
            key.last_used_at = utcnow()
            session.add(key)
            session.commit()
        except Open311Error:
            session.rollback()
            _discard(settings, written)
            raise
        except Exception:
            session.rollback()
            _discard(settings, written)
            log.exception("open311 POST failed")
            raise Open311Error(500, "the request could not be stored; nothing was saved") from None
        case = getattr(result, "case", None)
        if case is not None and case.id is not None:  # GeoReport v2: a token only when there is no id yet
            return {"service_request_id": str(case.id), "service_notice": "", "account_id": ""}
        return {"token": new.external_id, "service_notice": "", "account_id": ""}


def _attach_photos(session: Any, settings: Any, message: Any, photos: Any) -> int | None:
    """Store the posted photos as the message's media; the message id whose files were written (for ``_discard``)."""
    message.media = [*message.media, *media.save(settings=settings, message_id=message.id or 0, photos=photos)]
    session.add(message)
    return message.id


def _discard(settings: Any, message_id: int | None) -> None:
    if message_id is not None:
        media.discard(settings=settings, message_id=message_id)


# ------------------------------------------------------------------ servicerequestupdates (FixMyStreet)
@_route("GET", "/servicerequestupdates.{fmt}", docs.UPDATES, "Open311 service request updates (our notices)")
def list_updates(request: Request, session: SessionDep) -> Response:
    """GET servicerequestupdates: what we told Open311 reporters (see service.list_updates). Errors: 400 malformed
    date or page, span over 90 days, unknown format."""
    fmt = _path_fmt(request)
    try:
        fmt = _fmt(fmt)
        items = service.list_updates(session=session, params=dict(request.query_params.items()))
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_request_updates", items)


@_route("POST", "/servicerequestupdates.{fmt}", docs.POST_UPDATE,
        "Post a citizen's update to an Open311 request (api_key required)", status_code=status.HTTP_201_CREATED,
        dependencies=[Depends(rate_limit("open311"))])
async def post_update(request: Request) -> Response:
    """POST servicerequestupdates: a citizen's comment (as FixMyStreet's Open311.pm posts it) stored in the
    request's conversation. Answers our ``update_id`` (201; 200 with the same id when the update was posted
    before). Errors, nothing saved: 400 missing or malformed parameter, body or photo, unknown format; 403 api_key;
    404 unknown service_request_id; 409 update_id reused for another text; 413; 429; 500; 503."""
    fmt = _path_fmt(request)
    try:
        fmt = _fmt(fmt)
        posted = await _post_params(request)
        update_id, created = await _in_thread(_store_update, request, posted)
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    return render(fmt, "service_request_updates", [{"update_id": update_id}],
                  status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _store_update(request: Request, posted: Posted) -> tuple[str, bool]:
    settings = request.app.state.settings
    written: int | None = None
    with Session(request.app.state.engine) as session:
        try:
            key = service.check_key(session=session, api_key=posted.params.get("api_key"))
            update = service.parse_update(posted.params, session=session)
            message, created = service.store_update(session=session, key_id=key.id or 0, update=update)
            if created and posted.photos:
                written = _attach_photos(session, settings, message, posted.photos)
            key.last_used_at = utcnow()
            session.add(key)
            session.commit()
            return str(message.id), created
        except Open311Error:
            session.rollback()
            _discard(settings, written)
            raise
        except Exception:
            session.rollback()
            _discard(settings, written)
            log.exception("open311 update POST failed")
            raise Open311Error(500, "the update could not be stored; nothing was saved") from None


@_route("GET", "/media/{message_id}/{name}", docs.MEDIA, "A photo uploaded with an Open311 request or update")
def get_media(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The photo, while its message lists it. Errors: 404 (JSON) for anything else."""
    from server.conversations.models import Message
    from server.customers.models import Channel

    raw_id, name = str(request.path_params.get("message_id", "")), str(request.path_params.get("name", ""))
    message = session.get(Message, int(raw_id)) if raw_id.isdigit() and len(raw_id) <= 18 else None
    path = media.MEDIA_PATH.format(message_id=raw_id, name=name)
    stored = media.stored_file(settings=settings, message_id=int(raw_id), name=name) if message else None
    if message is None or message.channel != Channel.open311 or path not in message.media or stored is None:
        return error("json", 404, "media: not found")
    ext = name.rsplit(".", 1)[1]
    return FileResponse(stored, media_type=media.CONTENT_TYPES[ext], headers={
        "Content-Disposition": "inline", "Cache-Control": "public, max-age=86400"})


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
