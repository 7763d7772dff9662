"""The console: the single-page app at ``/`` with its assets under ``/static``, and map data under ``/map``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from server.console import service
from server.console.service import STATIC_DIR
from server.conversations import inbox as inbox_service
from server.core.city import CityDep
from server.core.deps import CurrentUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import Invalid, NotFound
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read

public_router = FeatureRouter(include_in_schema=False)
router = FeatureRouter(prefix="/map", tags=["map"])

#: ``?technicians=3,7``: only these technicians' days (what a live change's ``plan.created`` names).
TechniciansParam = Annotated[str | None, Query(max_length=2000, pattern=r"^\d{1,9}(,\d{1,9}){0,199}$",
                                               description="Technician ids, comma-separated (at most 200): "
                                                           "only their days.")]


def _ids(value: str | None) -> list[int] | None:
    return None if value is None else sorted({int(v) for v in value.split(",")})


_MISSING_BUILD = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Groundcrew</title></head>
<body><h1>Groundcrew</h1><p>The web console has not been built. Run <code>make console</code>.</p></body></html>"""


@public_router.get("/", response_class=HTMLResponse)
def index() -> Response:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return HTMLResponse(_MISSING_BUILD, status_code=503)
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})


@public_router.get("/console/config", include_in_schema=True, tags=["console"],
                   summary="What the console needs to know about this deployment")
def console_config(request: Request, _: CurrentUser) -> dict[str, Any]:
    from server.app import ATTRIBUTION

    settings = request.app.state.settings
    return {"timezone": settings.timezone, "attribution": ATTRIBUTION,
            "eta_window_min": settings.dispatch_eta_window_min, "eta_margin_min": settings.dispatch_eta_margin_min}


@public_router.get("/console/board", include_in_schema=True, tags=["console"],
                   summary="The schedule board's labels: the customer who reported each job of the active plan")
def console_board(session: SessionDep, _: StaffUser, technicians: TechniciansParam = None) -> dict[str, Any]:
    return service.board_labels(session=session, technicians=_ids(technicians))


@public_router.get("/console/inbox", include_in_schema=True, tags=["console"],
                   summary="The staff inbox (older shape of GET /inbox): conversations, latest first, with customer, "
                           "last message and triage")
def console_inbox(
    session: SessionDep, user: StaffUser, settings: SettingsDep, page: PageDep,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[Literal["open", "pending", "snoozed", "resolved", "all"] | None, Query()] = None,
    needs_attention: bool = False,
) -> dict[str, Any]:
    """Kept for its callers (its tests; the console itself reads ``GET /inbox``), answered by the inbox's
    own service so there is one rule for rows and for "needs attention". No status: every status, except that
    "needs attention" is about open conversations only (as on the Open tab)."""
    tab = status or ("open" if needs_attention else "all")
    return inbox_service.inbox(session=session, page=page, first_response_min=settings.inbox_first_response_min,
                               status=tab, me=user, channel=channel, needs_attention=needs_attention)


@public_router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    if "\x00" in path:  # a NUL byte cannot name a file (the OS refuses it: it used to be a 500)
        raise NotFound("static file not found")
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound(f"static file '{path}' not found")
    # Built assets carry a content hash in their names, so they can be cached for good.
    cache = "public, max-age=31536000, immutable" if "/assets/" in f"/{path}" else "no-cache"
    return FileResponse(target, headers={"Cache-Control": cache})


def _bbox(value: str | None) -> list[float] | None:
    if not value:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        raise Invalid("bbox: must be four numbers 'min_lon,min_lat,max_lon,max_lat'")
    if len(parts) != 4 or parts[0] >= parts[2] or parts[1] >= parts[3]:
        raise Invalid("bbox: must be four numbers 'min_lon,min_lat,max_lon,max_lat' with min < max")
    return parts


@router.get("/streets", summary="Drivable streets as GeoJSON (the console's base map when there are no tiles)",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
def streets(
    request: Request, city: CityDep, _: CurrentUser,
    bbox: Annotated[str | None, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat")] = None,
) -> Response:
    packed = service.streets_gzip(city=city, bbox=_bbox(bbox))
    headers = {"Cache-Control": "private, max-age=3600", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="application/geo+json", headers=headers)
    import gzip

    return Response(gzip.decompress(packed), media_type="application/geo+json", headers=headers)


@router.get("/service-area", summary="The area served, as a GeoJSON polygon with its bbox")
def service_area(city: CityDep, _: CurrentUser) -> dict[str, Any]:
    return service.service_area(city=city)


@router.get("/routes", summary="The active plan's routes on the streets, one MultiLineString per technician")
async def routes(request: Request, city: CityDep, _: StaffUser,
                 technicians: TechniciansParam = None) -> dict[str, Any]:
    ids = _ids(technicians)
    # Every console reads the same after the same live event: identical waiting requests share one read.
    return await shared_read(request, ("map-routes", *(ids if ids is not None else ["all"])),
                             lambda session: service.current_plan_routes(session=session, city=city,
                                                                         technicians=ids))
