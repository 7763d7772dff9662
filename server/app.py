"""The FastAPI application factory: routers, error mapping and health."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from server.config import Settings
from server.core.db import make_engine
from server.core.errors import DomainError, TooMany, integrity_error_answer
from server.core.limits import RequestSizeLimit
from server.core.security_headers import SecurityHeaders
from server.jobs.cache import feed_for

log = logging.getLogger("groundcrew")

ATTRIBUTION = "Map data © OpenStreetMap contributors (ODbL)"


def _field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError", "type": "object", "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "One line naming every field that is wrong."},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "type": {"type": ["string", "null"]},
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}}},
    },
}
# Wall-clock times (shifts, breaks) are "HH:MM[:SS]" without an offset: JSON Schema's "time" demands one.
LOCAL_TIME_SCHEMA = {"format": "partial-time", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"}


def _document_real_shapes(node: object) -> None:
    """Make the spec say what the server really sends: the 422 body of ``_validation_error`` and local times."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.update(LOCAL_TIME_SCHEMA)
        for value in node.values():
            _document_real_shapes(value)
    elif isinstance(node, list):
        for value in node:
            _document_real_shapes(value)


ERROR_SCHEMA = {"title": "Error", "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string", "description": "What was wrong, in one line."}}}
_ERRORS = {
    "401": "Not signed in, or the token expired",
    "403": "Signed in, but this role may not do this (or see this record)",
    "404": "No such record",
    "409": "Conflicts with the current state (a stale version, a duplicate, a closed case, no capacity left today)",
    "413": "Request body over the size limit",
    "503": "The database is unavailable; try again shortly",
}


def _document_errors(schema: dict) -> None:
    """Document the errors each operation can answer with, as the ``{"detail": ...}`` the handlers send: 401/403
    where a token is needed, 404 where the path names a record, 409 on writes, 413 with a body, 503 on every
    operation (any of them may meet the database down); error codes a route declares itself (a webhook's 401 for a
    wrong signature) get the same body. Open311 documents its own spec'd error list; /health its own body."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/open311/") or path == "/health":
            continue
        for method, operation in operations.items():
            codes = ["503"]
            if operation.get("security"):
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch", "delete"):
                codes.append("409")
            if "requestBody" in operation:
                codes.append("413")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": _ERRORS[code], **ref})
            for code, response in responses.items():
                if code in _ERRORS and "content" not in response:
                    response.update(ref)


def _warm_city(settings: Settings) -> None:
    from server.core.city import load_city

    try:
        load_city(settings)
    except Exception:
        log.exception("could not load the city from %s", settings.osm_source)


_heap_settled = False


def settle_heap() -> None:
    """Put everything built at start-up (modules, routes, models, mappers: ~280,000 objects) out of the cyclic
    garbage collector's reach, once per process.

    A full collection walks every tracked object and stalls the whole process (every request in flight) meanwhile:
    measured in a load-benchmark server, 70-180 ms per full collection over ~160,000-280,000 objects; after the
    freeze the full collections during the run took 11-17 ms. Frozen objects are never scanned again
    (``gc.freeze``, as Instagram's Django servers do); what requests allocate is collected as before. Once per
    process: tests build many apps, and cyclic garbage frozen with a later one would never be freed."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for these settings (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.load_city:
            # Warm the street network and gazetteer in the background so the first request is fast.
            threading.Thread(target=_warm_city, args=(settings,), daemon=True, name="city-loader").start()
        settle_heap()
        # The job board from memory while no job changed (server/jobs/cache.py).
        app.state.jobs_feed = feed_for(app.state.engine) if settings.jobs_cache else None
        try:
            yield
        finally:
            if app.state.jobs_feed is not None:
                app.state.jobs_feed.close()
            app.state.engine.dispose()

    app = FastAPI(
        title="Groundcrew",
        version="0.1.0",
        description="Field-service dispatch: complaints from every channel, geotagged on real streets, "
        f"turned into jobs and routed with OR-Tools. {ATTRIBUTION}.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    from server.fieldwork.service import completion_body_limit  # a completion carries its photos
    from server.open311.media import post_body_limit  # so may an Open311 request or update

    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes,
                       larger=[completion_body_limit(settings), post_body_limit(settings)])
    # Outside everything, Starlette's own error middleware included (user middleware runs inside it): the headers are
    # also on the 413s of the size limit and on the 500 of a bug.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build_stack())  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooMany):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            field = _field_name(err.get("loc", ()))
            errors.append({"field": field, "message": err.get("msg", "invalid"), "type": err.get("type"),
                           "loc": list(err.get("loc", ()))})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": f"invalid request — {summary}", "errors": errors}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        status, detail = integrity_error_answer(exc)  # NOT NULL: 422 naming the column; else 409
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        # An id or number beyond what the database stores (e.g. /jobs/99999999999999999999) is bad input, not a crash.
        return JSONResponse({"detail": f"a number in the request is out of range ({exc})"}, status_code=422)

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        log.info("data error: %s", exc.orig)
        return JSONResponse({"detail": "a value in the request is out of range or malformed for the database"},
                            status_code=422)

    @app.exception_handler(OperationalError)
    async def _db_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return JSONResponse({"detail": "the database is unavailable; try again shortly"}, status_code=503)

    @app.exception_handler(DBAPIError)
    async def _db_error(_request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return JSONResponse({"detail": "the database is unavailable; try again shortly"}, status_code=503)
        log.exception("database error")
        return JSONResponse({"detail": "database error"}, status_code=500)

    @app.get("/health", tags=["health"], summary="Liveness and database check")
    def health() -> JSONResponse:
        try:
            with Session(app.state.engine) as session:
                session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except Exception as exc:  # any failure means "not healthy", with the reason
            return JSONResponse({"status": "error", "database": f"unavailable: {type(exc).__name__}",
                                 "warnings": settings.warnings}, 503)
        return JSONResponse({"status": "ok", "database": "ok", "warnings": settings.warnings})

    import importlib

    from server.core.routing import FeatureRouter
    from server.models import feature_modules

    included: set[int] = set()
    for module_name in feature_modules("router"):
        module = importlib.import_module(module_name)
        for attr in sorted(vars(module)):
            candidate = getattr(module, attr)
            if attr.endswith("router") and isinstance(candidate, APIRouter) and id(candidate) not in included:
                if not isinstance(candidate, FeatureRouter):  # every router turns away paths it cannot match
                    raise TypeError(f"{module_name}.{attr}: declare the routes on server.core.routing.FeatureRouter")
                included.add(id(candidate))
                app.include_router(candidate)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.get("components", {}).get("schemas", {})["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
            _document_real_shapes(schema)
            _document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
