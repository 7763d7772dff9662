"""Completion photos between the app and a real server (``groundcrew serve``, issue 25 item 7): a normal phone photo
completes a job; a photo the server refuses is left out and named to the technician, and the completion is recorded.
Measured before the fix: a 3 MB photo got 413 (1,000,000-byte cap) and the app marked the completion rejected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlmodel import select

from mobile_app.controller import Controller
from server.fieldwork.models import JobCompletion
from server.jobs.models import JobEvent
from tests.mobile_app.conftest import PASSWORD, LiveServer
from tests.mobile_app.test_app_offscreen import run_app
from tests.mobile_app.test_photos import jpeg, phone_photo

pytestmark = pytest.mark.slow


def arrived(controller: Controller, job_id: int) -> None:
    for step in ("en_route", "on_site"):
        controller.engine.act_status(job_id, step)
    controller.engine.flush()


def completion(server: LiveServer, job_id: int) -> tuple[JobCompletion | None, list[str]]:
    with server.session() as session:
        done = session.get(JobCompletion, job_id)
        steps = [e.status for e in session.exec(select(JobEvent).where(JobEvent.job_id == job_id)
                                                .order_by(JobEvent.id)).all()]
        if done is not None:
            session.expunge(done)
        return done, steps


def test_a_phone_photo_completes_the_job_resized_and_without_its_position(live_server: LiveServer, tmp_path: Path):
    controller = Controller(tmp_path / "app")
    controller.sign_in_now(live_server.url, "ana", PASSWORD)
    first, second = live_server.assigned["ana"][:2]
    photo = phone_photo(tmp_path / "IMG_2041.jpg")
    assert photo.stat().st_size > 2_800_000
    # As the previous app version queued it (the photo as taken): 413 and 'rejected' before the fix.
    arrived(controller, first)
    controller.engine.act_status(first, "completed", notes="Replaced the lamp", photo_paths=[str(photo)])
    assert controller.engine.flush() == 1, controller.store.outbox()[-1]
    done, steps = completion(live_server, first)
    assert steps[-1] == "completed" and done is not None and len(done.photos) == 1
    assert (live_server.data_dir / done.photos[0]).read_bytes() == photo.read_bytes()
    # As the app does it now: resized, upright, no EXIF (the GPS position of the customer's house stays on the phone)
    arrived(controller, second)
    signature = tmp_path / "pad.png"
    Image.new("RGBA", (1080, 300), (255, 255, 255, 255)).save(signature)
    controller.complete(second, notes="Replaced the lamp", photo=photo, signature_png=signature, signed_by="Sam")
    assert controller.engine.flush() == 1
    done, steps = completion(live_server, second)
    assert steps[-1] == "completed" and done is not None and done.signed_by == "Sam"
    stored = Image.open(live_server.data_dir / done.photos[0])
    assert stored.size == (1200, 1600) and not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert (live_server.data_dir / done.photos[0]).stat().st_size < photo.stat().st_size / 2
    assert Path(done.photos[0]).name == "photo0-IMG_2041.jpg" and Path(done.signature or "").name == (
        "signature-signature.png")
    assert [i.state for i in controller.store.outbox()] == ["sent"] * 6 and controller.state.alerts == []


def test_refused_photos_are_left_out_named_and_the_completion_is_recorded(live_server: LiveServer, tmp_path: Path):
    """The server's limits set low: a photo over the per-file limit (413 naming it) and a body over the completion's
    body limit (413 naming no file) are each left out; both completions are recorded."""
    live_server.stop()
    live_server.extra_env = {"GROUNDCREW_UPLOAD_MAX_FILE_BYTES": "200000",
                             "GROUNDCREW_UPLOAD_MAX_TOTAL_BYTES": "300000"}
    live_server.start()
    controller = Controller(tmp_path / "app")
    controller.sign_in_now(live_server.url, "ana", PASSWORD)
    first, second = live_server.assigned["ana"][:2]
    small, medium = jpeg(tmp_path / "small.jpg", 50_000), jpeg(tmp_path / "medium.jpg", 250_000)
    arrived(controller, first)
    controller.engine.act_status(first, "completed", notes="Fixed", attachments=[
        {"kind": "photo", "path": str(small), "name": "before.jpg"},
        {"kind": "photo", "path": str(medium), "name": "after.jpg"}])
    arrived(controller, second)
    big = phone_photo(tmp_path / "IMG_3000.jpg")  # 3 MB: over the completion's body limit of 1.4 MB here
    controller.engine.act_status(second, "completed", notes="Fixed", attachments=[
        {"kind": "photo", "path": str(big), "name": "IMG_3000.jpg"}])
    controller.engine.flush()
    assert [i.state for i in controller.store.outbox()] == ["sent"] * 6
    done, steps = completion(live_server, first)
    assert steps[-1] == "completed" and [Path(p).name for p in done.photos] == ["photo0-before.jpg"]
    done, steps = completion(live_server, second)
    assert steps[-1] == "completed" and done.photos == []
    texts = [a.text for a in controller.state.alerts]
    assert texts[0] == (f"Job #{first} was recorded as completed without photo 'after.jpg': "
                        f"{medium.stat().st_size / 1e6:.2f} MB is over the limit of 0.20 MB per file.")
    assert texts[1].startswith(f"Job #{second} was recorded as completed without photo 'IMG_3000.jpg': request "
                               "body too large: the limit for a job completion with its photos is 1400000 bytes")


@pytest.mark.kivy
def test_the_technician_sees_which_photo_was_not_accepted(live_server: LiveServer, output_dir: Path,
                                                          tmp_path: Path):
    """The real app offscreen: a phone photo on the Complete screen, sent resized (~0.9 MB of noise here) to a
    server that takes 0.5 MB per file; the job shows completed and the banner names the photo."""
    live_server.stop()
    live_server.extra_env = {"GROUNDCREW_UPLOAD_MAX_FILE_BYTES": "500000"}
    live_server.start()
    photo = phone_photo(tmp_path / "IMG_2041.jpg")
    result = run_app("complete_with_photo", server=live_server.url, data_dir=tmp_path / "phone", out=output_dir,
                     photo=str(photo), shot="photo-refused", timeout=120)
    assert result["photo_text"] == "IMG_2041.jpg" and result["status"] == "completed"
    assert re.fullmatch(rf"Job #{result['job']} was recorded as completed without photo 'IMG_2041\.jpg': "
                        r"0\.\d+ MB is over the limit of 0\.50? MB per file\.", result["alert_text"]), (
        result["alert_text"])
    assert [state for state, _status, _refused in result["outbox"]] == ["sent"] * 3
    done, steps = completion(live_server, result["job"])
    assert steps[-1] == "completed" and done.photos == [] and done.signature
    for name in ("photo-refused-1-complete", "photo-refused-2-after"):
        assert (output_dir / f"{name}.png").stat().st_size > 10_000


@pytest.mark.kivy
def test_a_photo_gone_before_sending_does_not_block_the_completion(live_server: LiveServer, output_dir: Path,
                                                                   tmp_path: Path):
    """The chosen file disappears before 'Mark completed': the screen says so and takes it off; the next tap
    completes the job without a photo."""
    photo = phone_photo(tmp_path / "IMG_0042.jpg", 400, 300)
    result = run_app("complete_with_photo", server=live_server.url, data_dir=tmp_path / "phone", out=output_dir,
                     photo=str(photo), shot="photo-gone", until="photo_gone", timeout=120)
    assert result["gone_error"].startswith("Cannot read the photo 'IMG_0042.jpg' (No such file or directory); it "
                                           "was taken off.")
    assert result["gone_photo_text"] == "No photo" and result["gone_pending"] == 0  # nothing queued by that tap
    assert result["status"] == "completed" and result["alert_text"] == ""
    done, steps = completion(live_server, result["job"])
    assert steps[-1] == "completed" and done.photos == [] and done.signature
