"""The OpenAPI description of the Open311 routes: their parameters (read by the handlers themselves, so FastAPI
cannot see them) and every answer they really give, in both formats. Nothing here is a 422: the handlers validate
and answer with GeoReport's error list (``[{"code": 400, "description": "..."}]`` or
``<errors><error><code>400</code><description>...</description></error></errors>``), in the format the path asks
for (JSON when the format itself is unknown)."""

from __future__ import annotations

from typing import Any

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

ERRORS = {"type": "array", "description": "GeoReport v2 error list", "items": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "integer", "description": "The HTTP status"},
                   "description": {"type": "string", "description": "What was wrong, naming the field"}}}}
DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
XML_TEXT = {"type": "string"}

FMT = {"name": "fmt", "in": "path", "required": True, "description": "Response format: json or xml.",
       "schema": {"type": "string", "enum": ["json", "xml"]}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


def error(code: int, description: str, example: str, *, detail_too: bool = False) -> dict[str, Any]:
    """A documented error: the spec's error list in JSON and XML (``detail_too``: or ``{"detail": ...}``, the
    answer of the app's own handlers and middleware, e.g. the database down or a path no route matches)."""
    xml = (f"{XML_DECL}<errors><error><code>{code}</code><description>{example}</description></error></errors>")
    return {"description": description, "content": {
        "application/json": {"schema": {"anyOf": [ERRORS, DETAIL]} if detail_too else ERRORS,
                             "example": [{"code": code, "description": example}]},
        "text/xml": {"schema": XML_TEXT, "example": xml}}}


def ok(description: str, json_schema: dict[str, Any], xml_example: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/json": {"schema": json_schema},
        "text/xml": {"schema": XML_TEXT, "example": XML_DECL + xml_example}}}


BAD_FORMAT = "format: 'yaml' is not supported (use .json or .xml)"
E400_FORMAT = error(400, "Unknown format (answered in JSON)", BAD_FORMAT)
E503 = error(503, "The database is unavailable (``{\"detail\": ...}``), or for POST: the street map or the intake "
             "pipeline is not available yet; nothing was saved", "the street map is not available: ...",
             detail_too=True)
E404_ROUTE = "or a path no route matches (``{\"detail\": \"Not Found\"}``)"
E413 = {"description": "Body over 10 MB (or GROUNDCREW_MAX_REQUEST_BYTES when larger): ``{\"detail\": ...}``",
        "content": {"application/json": {"schema": DETAIL}}}
E429 = {"description": "Too many POSTs from this client address (GROUNDCREW_OPEN311_RATE_LIMIT); "
        "``{\"detail\": ...}`` with Retry-After", "content": {"application/json": {"schema": DETAIL}}}
E403 = error(403, "api_key missing, unknown or revoked", "api_key: required to submit a service request")
E500 = error(500, "Storing failed unexpectedly; nothing was saved (the server log has the cause)",
             "the request could not be stored; nothing was saved")

OBJ = {"type": "object"}
SERVICE = {"type": "object", "required": ["service_code", "service_name", "metadata", "type"], "properties": {
    "service_code": {"type": "string"}, "service_name": {"type": "string"}, "description": {"type": "string"},
    "metadata": {"type": "boolean"}, "type": {"type": "string"}, "keywords": {"type": "string"},
    "group": {"type": "string"}}}
REQUEST = {"type": "object", "required": ["service_request_id", "status"], "properties": {
    "service_request_id": {"type": "string"}, "status": {"type": "string", "enum": ["open", "closed"]},
    "status_notes": {"type": "string"}, "service_name": {"type": "string"}, "service_code": {"type": "string"},
    "description": {"type": "string"}, "agency_responsible": {"type": "string"}, "service_notice": {"type": "string"},
    "requested_datetime": {"type": ["string", "null"]}, "updated_datetime": {"type": ["string", "null"]},
    "expected_datetime": {"type": ["string", "null"]}, "address": {"type": "string"},
    "address_id": {"type": "string"}, "zipcode": {"type": "string"}, "lat": {"type": ["number", "null"]},
    "long": {"type": ["number", "null"]}, "media_url": {"type": "string"}}}
UPDATE = {"type": "object", "required": ["update_id", "service_request_id", "status", "updated_datetime"],
          "properties": {"update_id": {"type": "string"}, "service_request_id": {"type": "string"},
                         "status": {"type": "string"}, "updated_datetime": {"type": ["string", "null"]},
                         "description": {"type": "string"}, "media_url": {"type": "string"}}}

DISCOVERY = {"parameters": [FMT]}, {
    200: ok("Service discovery", OBJ, "<discovery><changeset>2024-01-01T00:00:00Z</changeset><contact>...</contact>"
            "<endpoints><endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification><url>...</url>"
            "<formats><format>text/xml</format><format>application/json</format></formats></endpoint></endpoints>"
            "</discovery>"),
    400: E400_FORMAT}

SERVICES = {"parameters": [FMT]}, {
    200: ok("The services: the taxonomy's field-work categories", {"type": "array", "items": SERVICE},
            "<services><service><service_code>102</service_code><service_name>Pothole</service_name>"
            "<metadata>true</metadata><type>realtime</type>...</service></services>"),
    400: E400_FORMAT}

DEFINITION = {"parameters": [_path("code", "A service_code from services.{fmt}"), FMT]}, {
    200: ok("The service's attributes (safety_hazard, access_notes)", OBJ,
            "<service_definition><service_code>102</service_code><attributes><attribute>...</attribute>"
            "</attributes></service_definition>"),
    400: E400_FORMAT,
    404: error(404, "service_code not found (or not a field service), " + E404_ROUTE,
               "service_code: 'nope' not found", detail_too=True)}

LIST_PARAMS = [
    _query("service_request_id", "Comma list of at most 1000 ids; overrides every other filter."),
    _query("service_code", "Comma list of service codes (an unknown one is a 404)."),
    _query("start_date", "W3C date-time; requested_datetime on or after it (default: 90 days before end_date, "
           "or the last 90 days)."),
    _query("end_date", "W3C date-time; requested_datetime on or before it (default: 90 days after start_date, "
           "or now); at most 90 days after start_date."),
    _query("status", "open, closed, or both (comma list)."),
    _query("page", "Page number from 1 (extension).", pattern="^[0-9]+$"),
    _query("page_size", "Requests per page, 1..1000, default 1000 (extension).", pattern="^[0-9]+$"),
    _query("jurisdiction_id", "Ignored: one jurisdiction per deployment."),
]
REQUESTS = {"parameters": [FMT, *LIST_PARAMS]}, {
    200: ok("Service requests, newest first (at most 1000 a page, 90 days by default)",
            {"type": "array", "items": REQUEST},
            "<service_requests><request><service_request_id>638344</service_request_id><status>open</status>..."
            "</request></service_requests>"),
    400: error(400, "A malformed filter (date, status, ids, page) or a span over 90 days; or an unknown format",
               "end_date: at most 90 days after start_date (GeoReport v2); ask in windows"),
    404: error(404, "An unknown service_code", "service_code: '999' not found (see services.json)"),
    503: E503}

ONE_REQUEST = {"parameters": [_path("request_id", "A service_request_id"), FMT]}, {
    200: ok("The request (a one-item list, as the spec has it)", {"type": "array", "items": REQUEST},
            "<service_requests><request><service_request_id>638344</service_request_id>...</request>"
            "</service_requests>"),
    400: E400_FORMAT,
    404: error(404, "No Open311 request with this id, " + E404_ROUTE, "service_request_id: '12345' not found",
               detail_too=True),
    503: E503}

TOKEN = {"parameters": [_path("token", "The token of a POST"), FMT]}, {
    200: ok("The request id for the token (the token alone while the request has no id yet)",
            {"type": "array", "items": {"type": "object", "required": ["token"], "properties": {
                "service_request_id": {"type": "string"}, "token": {"type": "string"}}}},
            "<service_requests><request><service_request_id>638344</service_request_id><token>12345</token>"
            "</request></service_requests>"),
    400: E400_FORMAT,
    404: error(404, "Unknown token, " + E404_ROUTE, "token: 'nope' not found", detail_too=True),
    503: E503}

_FORM_FIELDS = {
    "api_key": {"type": "string"}, "service_code": {"type": "string"}, "lat": {"type": "string"},
    "long": {"type": "string"}, "address_string": {"type": "string"}, "address_id": {"type": "string"},
    "email": {"type": "string"}, "phone": {"type": "string"}, "device_id": {"type": "string"},
    "account_id": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
    "description": {"type": "string"}, "media_url": {"type": "string"},
    "attribute[safety_hazard]": {"type": "string", "enum": ["yes", "no"]},
    "attribute[access_notes]": {"type": "string"}}
POST_BODY = {"required": False, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": _FORM_FIELDS}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        **_FORM_FIELDS, "media": {"type": "string", "format": "binary",
                                  "description": "A photo (JPEG, PNG, GIF or WebP, at most 5 MB); also photo1..."}}}},
    "application/json": {"schema": {"type": "object", "properties": _FORM_FIELDS}}}}
POST_REQUEST = {"parameters": [FMT], "requestBody": POST_BODY}, {
    201: ok("Created: the new service_request_id (or a token while the id is not known yet)",
            {"type": "array", "items": OBJ},
            "<service_requests><request><service_request_id>638344</service_request_id><service_notice/>"
            "<account_id/></request></service_requests>"),
    400: error(400, "A missing or malformed parameter (service_code, location, lat/long, email, media_url, an "
               "attribute, a photo that is no image), a malformed body, or an unknown format; nothing was saved",
               "location: give lat and long, address_string or address_id"),
    403: E403,
    404: error(404, "service_code not found (or not a field service); nothing was saved",
               "service_code: '999' not found (see services.json)"),
    413: E413, 429: E429, 500: E500, 503: E503}

WINDOW_PARAMS = [
    _query("start_date", "W3C date-time; updates on or after it (default: 90 days before end_date, or the last "
           "90 days)."),
    _query("end_date", "W3C date-time; updates on or before it; at most 90 days after start_date."),
    _query("page", "Page number from 1 (extension).", pattern="^[0-9]+$"),
    _query("page_size", "Updates per page, 1..1000, default 1000 (extension).", pattern="^[0-9]+$"),
    _query("api_key", "Accepted and ignored (FixMyStreet sends it); the feed is public."),
    _query("jurisdiction_id", "Ignored: one jurisdiction per deployment."),
]
UPDATES = {"parameters": [FMT, *WINDOW_PARAMS]}, {
    200: ok("Our notices on Open311 requests (ETA, scheduled, could not finish, closed) and staff replies marked "
            "public, oldest first", {"type": "array", "items": UPDATE},
            "<service_request_updates><request_update><update_id>248</update_id>"
            "<service_request_id>638344</service_request_id><status>OPEN</status>"
            "<updated_datetime>2026-12-05T10:00:00Z</updated_datetime><description>...</description>"
            "<media_url/></request_update></service_request_updates>"),
    400: error(400, "A malformed date or page, a span over 90 days, or an unknown format",
               "start_date: 'yesterday' is not an ISO 8601 date-time"),
    503: E503}

_UPDATE_FIELDS = {
    "api_key": {"type": "string"}, "service_request_id": {"type": "string"}, "update_id": {"type": "string"},
    "status": {"type": "string"}, "updated_datetime": {"type": "string"}, "description": {"type": "string"},
    "media_url": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"},
    "first_name": {"type": "string"}, "last_name": {"type": "string"}}
POST_UPDATE = {"parameters": [FMT], "requestBody": {"required": False, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": _UPDATE_FIELDS}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        **_UPDATE_FIELDS, "media": {"type": "string", "format": "binary"}}}},
    "application/json": {"schema": {"type": "object", "properties": _UPDATE_FIELDS}}}}}, {
    200: ok("The same update was posted before: its update_id again, nothing written",
            {"type": "array", "items": {"type": "object", "properties": {"update_id": {"type": "string"}}}},
            "<service_request_updates><request_update><update_id>248</update_id></request_update>"
            "</service_request_updates>"),
    201: ok("Stored in the request's conversation: our update_id",
            {"type": "array", "items": {"type": "object", "properties": {"update_id": {"type": "string"}}}},
            "<service_request_updates><request_update><update_id>248</update_id></request_update>"
            "</service_request_updates>"),
    400: error(400, "A missing or malformed parameter (service_request_id, update_id, status, updated_datetime, "
               "description, media_url, email, a photo that is no image), a malformed body, or an unknown format",
               "update_id: required"),
    403: error(403, "api_key missing, unknown or revoked", "api_key: required to submit a service request"),
    404: error(404, "service_request_id is no Open311 request here", "service_request_id: '12345' not found"),
    409: error(409, "This update_id was used before with another text", "update_id: '7' was already used for "
               "another update"),
    413: E413, 429: E429, 500: E500, 503: E503}

MEDIA = {"parameters": [_path("message_id", "The message the photo came with"),
                        _path("name", "The stored photo's name")]}, {
    200: {"description": "The photo", "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in (
        "image/jpeg", "image/png", "image/gif", "image/webp")}},
    404: error(404, "No such photo (or its message was erased), " + E404_ROUTE, "media: not found",
               detail_too=True)}
