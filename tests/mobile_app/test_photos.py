"""Completion photos on the phone, without a window: photos resized, upright and stripped of their metadata before
they are queued (mobile_app/media.py), and an outbox that never loses a completion because of a file the server
refuses (mobile_app/sync.py). The server side of the same refusals runs for real in test_photos_live.py."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from mobile_app import media
from mobile_app.api import OfflineError, RequestError
from mobile_app.state import AppState
from mobile_app.store import Store
from mobile_app.sync import SyncEngine


def phone_photo(path: Path, width: int = 3000, height: int = 2250, quality: int = 80) -> Path:
    """A camera JPEG as a phone writes it: detail that does not compress (noise), stored sideways with EXIF
    orientation 6 (shown rotated 90° clockwise), the phone's GPS position, model and a comment. The left quarter
    as stored is plain red: on screen (and after the app turns it upright) that is the top quarter."""
    pixels = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    pixels.paste((255, 0, 0), (0, 0, width // 4, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Model] = "Pixel 8"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (39.0, 17.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "W", (76.0, 36.0, 10.0)
    pixels.save(path, "JPEG", quality=quality, exif=exif, comment=b"12 Elm St, the customer's house")
    return path


def assert_clean_and_upright(path: Path, max_side_px: int = media.PHOTO_MAX_SIDE_PX) -> Image.Image:
    image = Image.open(path)
    assert image.format == "JPEG" and max(image.size) == max_side_px and image.height > image.width  # portrait
    assert not image.getexif() and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "comment", "xmp", "icc_profile"} & set(image.info), image.info.keys()
    rgb = image.convert("RGB")
    r, g, b = rgb.getpixel((image.width // 2, image.height // 10))  # the top quarter: red once upright
    assert r > 200 and g < 70 and b < 70, (r, g, b)
    return image


def test_a_phone_photo_is_resized_upright_and_stripped(tmp_path: Path):
    original = phone_photo(tmp_path / "IMG_2041.jpg")
    assert original.stat().st_size > 2_800_000, original.stat().st_size
    assert Image.open(original).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the original does carry the position
    prepared = media.prepare_photo(original, tmp_path / "media", job_id=12)
    assert prepared.resized and prepared.name == "IMG_2041.jpg"
    assert prepared.path.parent == tmp_path / "media" and prepared.path.name.startswith("job12-")
    assert prepared.path.stat().st_size < original.stat().st_size / 2
    assert_clean_and_upright(prepared.path)
    assert original.exists()  # the technician's own file is left alone


def test_a_small_png_is_not_enlarged_and_loses_its_alpha(tmp_path: Path):
    source = tmp_path / "screenshot.png"
    Image.new("RGBA", (300, 500), (255, 0, 0, 128)).save(source)
    prepared = media.prepare_photo(source, tmp_path / "media", job_id=1)
    image = Image.open(prepared.path)
    assert image.format == "JPEG" and image.size == (300, 500) and image.mode == "RGB"
    assert prepared.name == "screenshot.jpg"


def test_a_file_the_app_cannot_decode_goes_as_it_is_and_a_missing_one_is_an_error(tmp_path: Path):
    heic = tmp_path / "IMG_0001.HEIC"  # an iPhone photo: Pillow has no HEIF decoder without a plugin
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + os.urandom(5000))
    prepared = media.prepare_photo(heic, tmp_path / "media", job_id=1)
    assert not prepared.resized and prepared.path.read_bytes() == heic.read_bytes()
    assert prepared.name == "IMG_0001.HEIC"
    with pytest.raises(FileNotFoundError):
        media.prepare_photo(tmp_path / "gone.jpg", tmp_path / "media", job_id=1)
    assert sorted(p.suffix for p in (tmp_path / "media").iterdir()) == [".HEIC"]  # nothing half-written left
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(media.PhotoError, match=r"'notes\.jpg' is not a photo this app can read"):
        media.check_photo(text)
    media.check_photo(phone_photo(tmp_path / "ok.jpg", 64, 48))


def test_the_signature_is_bounded_and_grey(tmp_path: Path):
    path = tmp_path / "sig.png"
    Image.new("RGBA", (3000, 800), (10, 20, 120, 255)).save(path)
    media.prepare_signature(path)
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (1200, 320) and image.mode == "L"


# ---- the outbox and a server that refuses files -------------------------------------------------------------
class RefusingServer:
    """Stands in for POST /jobs/{id}/status with the server's own rules and messages (server/fieldwork/service.py):
    a file over ``max_file`` is 413 naming it, a file that is not an image by its magic bytes is 415, a body over
    ``max_body`` is the size-limit middleware's 413 naming no file. ``offline`` raises once before anything."""

    def __init__(self, *, max_file: int = 10**9, max_body: int = 10**9) -> None:
        self.max_file, self.max_body = max_file, max_body
        self.accepted: list[dict] = []
        self.refusals: list[int] = []
        self.offline_once = False
        self.other_error: RequestError | None = None

    def post_status(self, job_id: int, *, status: str, key: str, **fields) -> dict:
        if self.offline_once:
            self.offline_once = False
            raise OfflineError("Cannot reach the server.")
        if self.other_error:
            raise self.other_error
        files = [(f"photos[{i}]", p) for i, p in enumerate(fields.get("photos", []))]
        if fields.get("signature"):
            files.append(("signature", fields["signature"]))
        body = sum(len(f["content_base64"]) for _, f in files) + 500
        if body > self.max_body:
            return self._refuse(413, f"request body too large: the limit is {self.max_body} bytes")
        for field, upload in files:
            content = base64.b64decode(upload["content_base64"])
            if len(content) > self.max_file:
                return self._refuse(413, f"{field} ('{upload['filename']}'): {len(content) / 1e6:.1f} MB is over "
                                         f"the limit of {self.max_file / 1e6:.1f} MB per file")
            if not content.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
                return self._refuse(415, f"{field} ('{upload['filename']}'): not a JPEG, PNG, WebP or HEIC image "
                                         f"(the content is checked, not the name)")
        self.accepted.append({"job_id": job_id, "status": status, "key": key, **fields})
        return {}

    def _refuse(self, status: int, detail: str) -> dict:
        self.refusals.append(status)
        raise RequestError(detail, status=status, detail=detail)


@pytest.fixture
def phone(tmp_path: Path):  # type: ignore[no-untyped-def]
    server, store, state = RefusingServer(), Store(tmp_path / "s.sqlite3"), AppState()
    state.update(signed_in=True)
    return server, store, state, SyncEngine(server, store, state, clock=lambda: 1000.0)  # type: ignore[arg-type]


def jpeg(path: Path, size: int) -> Path:
    """A JPEG of about ``size`` bytes (noise)."""
    side = max(8, int((size / 1.2) ** 0.5))
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=95)
    path.write_bytes(out.getvalue())
    return path


def queue_completion(engine: SyncEngine, files: list[tuple[str, Path, str]]) -> None:
    engine.act_status(7, "completed", notes="Fixed", attachments=[
        {"kind": kind, "path": str(path), "name": name} for kind, path, name in files])


def names(upload_list: list[dict]) -> list[str]:
    return [u["filename"] for u in upload_list]


def test_a_photo_over_the_servers_limit_goes_without_it_and_the_technician_is_told(phone, tmp_path: Path):
    server, store, state, engine = phone
    server.max_file = 200_000
    small, big = jpeg(tmp_path / "a.jpg", 50_000), jpeg(tmp_path / "b.jpg", 400_000)
    queue_completion(engine, [("photo", small, "before.jpg"), ("photo", big, "after.jpg"),
                              ("signature", jpeg(tmp_path / "s.jpg", 5_000), "signature.png")])
    assert engine.flush() == 1
    assert server.refusals == [413]
    [sent] = server.accepted
    assert names(sent["photos"]) == ["before.jpg"] and sent["signature"]["filename"] == "signature.png"
    assert [i.state for i in store.outbox()] == ["sent"]  # recorded, never 'rejected'
    [alert] = state.alerts
    assert alert.kind == "warning" and alert.job_id == 7
    assert re.fullmatch(r"Job #7 was recorded as completed without photo 'after\.jpg': 0\.\d MB is over the limit "
                        r"of 0\.2 MB per file\.", alert.text), alert.text
    assert big.exists()  # the refused photo stays on the phone


def test_a_body_over_a_limit_that_names_no_file_drops_the_largest_first(phone, tmp_path: Path):
    server, _store, state, engine = phone
    server.max_body = 400_000  # a proxy's limit, or an older server's 1 MB cap: no file is named
    files = [("photo", jpeg(tmp_path / "a.jpg", 150_000), "a.jpg"), ("photo", jpeg(tmp_path / "b.jpg", 300_000),
                                                                      "b.jpg"),
             ("photo", jpeg(tmp_path / "c.jpg", 200_000), "c.jpg")]
    queue_completion(engine, files)
    assert engine.flush() == 1
    assert server.refusals == [413, 413]  # b (the largest) went, then c; a and the step went through
    assert names(server.accepted[0]["photos"]) == ["a.jpg"]
    assert [a.text.split(":")[0] for a in state.alerts] == [
        "Job #7 was recorded as completed without photo 'b.jpg'", "Job #7 was recorded as completed without photo "
                                                                   "'c.jpg'"]


@pytest.mark.parametrize("message, dropped", [
    ("invalid request — photos.1.content_base64: String should have at most 10 characters", "b.jpg"),
    ("photos: 2 photos; at most 1 per completion", "b.jpg"),
    ("signature ('signature.png'): 9.0 MB is over the limit of 8.0 MB per file", "signature.png"),
])
def test_each_way_the_server_names_a_file(phone, tmp_path: Path, message: str, dropped: str):
    server, _store, state, engine = phone
    server.other_error = RequestError(message, status=422 if "photos" in message else 413, detail=message)
    queue_completion(engine, [("photo", jpeg(tmp_path / "a.jpg", 5000), "a.jpg"),
                              ("photo", jpeg(tmp_path / "b.jpg", 5000), "b.jpg"),
                              ("signature", jpeg(tmp_path / "s.jpg", 5000), "signature.png")])
    original = server.post_status

    def refuse_once(job_id: int, **fields):  # type: ignore[no-untyped-def]
        server.other_error = None
        server.post_status = original
        raise RequestError(message, status=422 if "photos" in message else 413, detail=message)

    server.post_status = refuse_once
    assert engine.flush() == 1
    sent = server.accepted[0]
    kept = names(sent.get("photos", [])) + ([sent["signature"]["filename"]] if sent.get("signature") else [])
    assert dropped not in kept and len(kept) == 2
    told = "without the signature:" if dropped == "signature.png" else f"without photo '{dropped}':"
    assert told in state.alerts[0].text, state.alerts[0].text


def test_a_file_that_is_not_an_image_and_a_file_gone_from_the_phone(phone, tmp_path: Path):
    server, store, state, engine = phone
    page = tmp_path / "page.jpg"
    page.write_text("<html>not a photo</html>")
    gone = jpeg(tmp_path / "gone.jpg", 5000)
    queue_completion(engine, [("photo", gone, "gone.jpg"), ("photo", page, "page.jpg"),
                              ("photo", jpeg(tmp_path / "ok.jpg", 5000), "ok.jpg")])
    gone.unlink()
    assert engine.flush() == 1 and server.refusals == [415]
    assert names(server.accepted[0]["photos"]) == ["ok.jpg"]
    texts = [a.text for a in state.alerts]
    assert any("'gone.jpg': the file is no longer on this phone" in t for t in texts), texts
    assert any("'page.jpg': not a JPEG, PNG, WebP or HEIC image" in t for t in texts), texts
    assert [i.state for i in store.outbox()] == ["sent"]


def test_a_refusal_is_remembered_across_a_lost_connection(phone, tmp_path: Path):
    """The refused photo is taken off the queued step durably: after the network drops (and the app restarts), the
    step goes without it, and the technician is still told."""
    server, store, state, engine = phone
    server.max_file = 100_000
    queue_completion(engine, [("photo", jpeg(tmp_path / "big.jpg", 300_000), "big.jpg")])
    original = server.post_status

    def refuse_then_drop(job_id: int, **fields):  # type: ignore[no-untyped-def]
        server.post_status = lambda *_a, **_k: (_ for _ in ()).throw(OfflineError("Cannot reach the server."))
        return original(job_id, **fields)

    server.post_status = refuse_then_drop
    assert engine.flush() == 0
    [item] = store.pending()
    assert item.payload["attachments"] == [] and item.payload["refused"][0]["name"] == "big.jpg"
    assert state.alerts == []  # not recorded yet: nothing to tell
    server.post_status = original
    state2 = AppState()
    state2.update(signed_in=True)
    again = SyncEngine(server, store, state2, clock=lambda: 10_000.0)  # type: ignore[arg-type]
    assert again.flush() == 1
    assert server.refusals == [413] and "photos" not in server.accepted[0]  # not sent a second time
    assert "without photo 'big.jpg'" in state2.alerts[0].text


def test_a_refusal_about_something_else_is_still_a_refusal(phone, tmp_path: Path):
    server, store, state, engine = phone
    server.other_error = RequestError("notes: String should have at most 5000 characters", status=422,
                                      detail="notes: ...")
    queue_completion(engine, [("photo", jpeg(tmp_path / "a.jpg", 5000), "a.jpg")])
    assert engine.flush() == 0
    assert [i.state for i in store.outbox()] == ["rejected"] and state.alerts[0].kind == "error"


def test_a_step_queued_by_the_previous_app_version_still_goes(phone, tmp_path: Path):
    server, _store, _state, engine = phone
    photo, signature = jpeg(tmp_path / "job7-abc.jpg", 5000), jpeg(tmp_path / "job7-signature-abc.png", 3000)
    engine.act_status(7, "completed", notes="Fixed", photo_paths=[str(photo)], signature_path=str(signature))
    assert engine.flush() == 1
    sent = server.accepted[0]
    assert names(sent["photos"]) == ["job7-abc.jpg"] and sent["signature"]["filename"] == "job7-signature-abc.png"
