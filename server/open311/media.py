"""Photos uploaded with an Open311 POST (file parts of a multipart/form-data request: ``media`` as in the
GeoReport v2.1 draft and uReport, ``photo1``... as FixMyStreet's Open311.pm sends them): checked to be images,
kept under ``data_dir`` and published as the request's ``media_url``.

Only JPEG, PNG, GIF and WebP are kept, recognised by their first bytes (never by the client's name or content
type), at most ``MAX_MEDIA_BYTES`` each. The stored name is ours (``<message id>/<random>.<ext>``): nothing the
client sent reaches a path, and names cannot be guessed from ids. A file is served only while its message lists it
(an erased message's photo is not)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from server.config import Settings
from server.core.limits import BodyLimit
from server.open311.service import Open311Error

MAX_MEDIA_BYTES = 5_000_000
MAX_FILES = 5
#: A whole Open311 POST with its photos (parameters alone stay under the router's MAX_BODY).
MAX_POST_BYTES = 10_000_000
#: The public path of an uploaded photo, relative to the server's base URL.
MEDIA_PATH = "/open311/v2/media/{message_id}/{name}"
NAME = re.compile(r"[0-9a-f]{16}\.(jpg|png|gif|webp)")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


@dataclass(frozen=True)
class Photo:
    """An uploaded image, checked: its bytes and the extension its signature says."""

    content: bytes
    ext: str


def image_kind(content: bytes) -> str | None:
    """The extension for an image's signature (magic bytes), or None when it is no image we keep."""
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return None


def check(content: bytes, field: str) -> Photo:
    """The upload as a Photo, or a 400 Open311Error naming the field (empty, too large, not an image)."""
    if not content:
        raise Open311Error(400, f"{field}: the uploaded file is empty")
    if len(content) > MAX_MEDIA_BYTES:
        raise Open311Error(400, f"{field}: larger than {MAX_MEDIA_BYTES} bytes")
    ext = image_kind(content)
    if ext is None:
        raise Open311Error(400, f"{field}: only JPEG, PNG, GIF or WebP images are accepted")
    return Photo(content=content, ext=ext)


def post_body_limit(settings: Settings) -> BodyLimit:
    """The body limit of the Open311 POSTs, which may carry photos: ``MAX_POST_BYTES`` (or the server's own limit,
    when that is larger)."""
    return BodyLimit("POST", r"/open311/v2/(requests|servicerequestupdates)\.[A-Za-z]+",
                     max(MAX_POST_BYTES, settings.max_request_bytes), "an Open311 POST with its photos")


def folder_of(settings: Settings, message_id: int) -> Path:
    """Where message ``message_id``'s photos are kept (privacy erasure deletes it)."""
    return settings.data_dir / "uploads" / "open311" / str(int(message_id))



def save(*, settings: Settings, message_id: int, photos: list[Photo]) -> list[str]:
    """Write the photos of message ``message_id`` under ``data_dir/uploads/open311/<id>/`` (owner-only modes);
    returns their public paths (``MEDIA_PATH``)."""
    folder = settings.data_dir
    for part in ("uploads", "open311", str(int(message_id))):  # a customer's photos: the server's user only
        folder = folder / part
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
    paths = []
    for photo in photos:
        name = f"{secrets.token_hex(8)}.{photo.ext}"
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(photo.content)
        paths.append(MEDIA_PATH.format(message_id=int(message_id), name=name))
    return paths


def discard(*, settings: Settings, message_id: int) -> None:
    """Remove the photos written for a message that was not stored (its transaction rolled back)."""
    shutil.rmtree(folder_of(settings, message_id), ignore_errors=True)


def stored_file(*, settings: Settings, message_id: int, name: str) -> Path | None:
    """The file behind ``MEDIA_PATH`` when the name is of our own form and the file exists, else None."""
    if not NAME.fullmatch(name):
        return None
    path = folder_of(settings, message_id) / name
    return path if path.is_file() else None
