"""Photos and the signature as the app sends them: a copy in the app's media folder, small enough for any server
and carrying nothing but the picture.

A phone photo (3-8 MB, 4000 px, with EXIF: GPS position, phone model, time) becomes a JPEG of at most
``PHOTO_MAX_SIDE_PX`` on its longest side at ``PHOTO_QUALITY`` (a few hundred KB), turned upright as the EXIF
orientation says, with no EXIF, XMP, comment or other metadata. A signature becomes a greyscale PNG of at most
``SIGNATURE_MAX_SIDE_PX``. Pillow (python-for-android has a recipe for it) does the work.

A file Pillow cannot read (a HEIC photo without a HEIF plugin, a damaged file) is copied as it is: the server checks
it, and the outbox sends the completion without it if the server refuses it (see ``sync.SyncEngine``). A photo never
stops a completion.
"""

from __future__ import annotations

import math
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

PHOTO_MAX_SIDE_PX = 1600
PHOTO_QUALITY = 80
SIGNATURE_MAX_SIDE_PX = 1200
SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PhotoError(ValueError):
    """The chosen file is not a picture the app can read; the message is for the technician."""


@dataclass
class Prepared:
    path: Path  # the copy in the media folder, which the outbox sends
    name: str  # the name shown to the technician and sent to the server (the original's, with our extension)
    resized: bool  # False: Pillow could not read it and this is the original, copied


def display_name(source: str | Path) -> str:
    """A file's name without its extension as the technician knows it, made safe for a file name ('IMG_2041')."""
    return SAFE.sub("_", Path(source).stem)[:60].strip("._") or "photo"


def check_photo(source: str | Path) -> None:
    """Raise PhotoError when ``source`` is not a picture Pillow can open (reads only the header: quick)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"'{Path(source).name}' is not a photo this app can read ({exc.__class__.__name__}).") \
            from None


def prepare_photo(source: str | Path, media_dir: Path, *, job_id: int, max_side_px: int = PHOTO_MAX_SIDE_PX,
                  quality: int = PHOTO_QUALITY) -> Prepared:
    """A resized, upright, metadata-free JPEG copy of ``source`` in ``media_dir``; the original copied as it is when
    Pillow cannot decode it. OSError when the source cannot be read at all (gone, no permission)."""
    media_dir.mkdir(parents=True, exist_ok=True)
    stem = display_name(source)
    target = media_dir / f"job{job_id}-{uuid.uuid4().hex[:8]}-{stem}.jpg"
    try:
        _reencode_photo(Path(source), target, max_side_px=max_side_px, quality=quality)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        target.unlink(missing_ok=True)
        raise
    except Exception:  # not decodable here (HEIC without a plugin, truncated...): the server decides on the original
        target.unlink(missing_ok=True)
        suffix = SAFE.sub("_", Path(source).suffix)[:10] or ".bin"
        target = target.with_suffix(suffix)
        shutil.copyfile(source, target)
        return Prepared(target, f"{stem}{suffix}", resized=False)
    return Prepared(target, f"{stem}.jpg", resized=True)


def _reencode_photo(source: Path, target: Path, *, max_side_px: int, quality: int) -> None:
    from PIL import Image, ImageOps

    # A 200-megapixel phone photo is the technician's own, not a decompression bomb; draft() below decodes it small.
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 400_000_000)
    with Image.open(source) as original:
        width, height = original.size
        scale = min(1.0, max_side_px / max(width, height))
        # JPEG: let the decoder scale down by 1/2, 1/4 or 1/8 while reading (less memory and time on a phone).
        original.draft("RGB", (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        image = ImageOps.exif_transpose(original)  # upright as shown on the phone; drops the orientation tag
        if image.mode != "RGB":
            image = image.convert("RGB")  # JPEG holds no alpha or palette
        image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
        image.info = {}  # no EXIF (GPS, device), XMP, ICC, comment: nothing is carried over into the copy
        image.save(target, "JPEG", quality=quality, optimize=True)


def prepare_signature(png: str | Path, *, max_side_px: int = SIGNATURE_MAX_SIDE_PX) -> Path:
    """The exported signature pad, in place: greyscale, at most ``max_side_px`` on its longest side, no metadata."""
    from PIL import Image

    path = Path(png)
    with Image.open(path) as original:
        image = original.convert("L")
    image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
    image.info = {}
    image.save(path, "PNG", optimize=True)
    return path
