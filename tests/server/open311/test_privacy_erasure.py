"""Privacy erasure removes the customer's media from disk, not only from the database: the photos uploaded with
their Open311 requests and citizen updates (``data_dir/uploads/open311/<message id>/``), and the signature left on
completing a job only they reported. Another customer's photo, and the job's own completion photos, stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from server.auth.models import Role
from server.cases.models import Case
from server.fieldwork.models import JobCompletion
from server.jobs.models import Job, JobReport
from tests.server.open311.conftest import LAT, LON, PNG

V2 = "/open311/v2"


def _post(client, api_key: str, email: str, text: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """An Open311 request with a photo, as FixMyStreet sends it: (service_request_id, media_url)."""
    form = {"api_key": api_key, "service_code": "102", "lat": str(LAT), "long": str(LON), "description": text,
            "email": email, "first_name": "Pat", "last_name": "Doe"}
    posted = client.post(f"{V2}/requests.json", data=form, files={"photo1": ("IMG_0001.PNG", PNG, "image/png")})
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    return request_id, client.get(f"{V2}/requests/{request_id}.json").json()[0]["media_url"]


def _file(settings, media_url: str) -> Path:  # type: ignore[no-untyped-def]
    message_id, name = media_url.rsplit("/", 2)[1:]
    return settings.data_dir / "uploads" / "open311" / message_id / name


def _completed_job(app, settings, customer_ids: list[int], tag: str) -> tuple[int, Path, Path]:  # type: ignore[no-untyped-def]
    """A job reported by ``customer_ids`` and completed with a photo and a signature, stored as dispatch stores
    them (files under data_dir/uploads/jobs/<id>/): (job id, photo file, signature file)."""
    with Session(app.state.engine) as session:
        job = Job(title=f"Pothole {tag}", category="pothole", duration_min=30, priority=5, lat=LAT, lon=LON)
        session.add(job)
        session.flush()
        folder = settings.data_dir / "uploads" / "jobs" / str(job.id)
        folder.mkdir(parents=True)
        (folder / "photo0.png").write_bytes(PNG)
        (folder / "signature.png").write_bytes(PNG)
        for customer_id in customer_ids:
            case_id = session.exec(select(Case.id).where(Case.customer_id == customer_id)).first()
            session.add(JobReport(job_id=job.id, customer_id=customer_id, case_id=case_id))
        session.add(JobCompletion(job_id=job.id, photos=[f"uploads/jobs/{job.id}/photo0.png"],
                                  signature=f"uploads/jobs/{job.id}/signature.png", signed_by="Pat Doe"))
        session.commit()
        return job.id or 0, folder / "photo0.png", folder / "signature.png"


@pytest.mark.slow
def test_erasure_deletes_the_customers_photo_files_and_signature(client, app, api_key, settings, auth):
    admin = auth(Role.admin)
    mine, my_url = _post(client, api_key, "pat@example.org", "Pothole outside my house, photo attached")
    _, other_url = _post(client, api_key, "lee@example.org", "Another pothole two streets away")
    my_file, other_file = _file(settings, my_url), _file(settings, other_url)
    assert my_file.read_bytes() == PNG and other_file.read_bytes() == PNG
    # a citizen's comment with a photo on their own request (FixMyStreet's servicerequestupdates POST)
    update = client.post(f"{V2}/servicerequestupdates.json", data={
        "api_key": api_key, "service_request_id": mine, "update_id": "fms-update-1", "status": "OPEN",
        "description": "It got deeper", "email": "pat@example.org", "updated_datetime": "2026-12-05T09:00:00Z"},
        files={"media": ("more.png", PNG, "image/png")})
    assert update.status_code == 201, update.text
    with Session(app.state.engine) as session:
        pat = session.exec(select(Case).where(Case.id == int(mine))).one().customer_id
        lee = session.exec(select(Case.customer_id).where(Case.customer_id != pat)).first()
    update_files = [p for p in (settings.data_dir / "uploads" / "open311").rglob("*.png")
                    if p not in (my_file, other_file)]
    assert len(update_files) == 1
    own_job, own_photo, own_signature = _completed_job(app, settings, [pat], "own")
    shared_job, _, shared_signature = _completed_job(app, settings, [pat, lee], "shared")

    erased = client.post(f"/customers/{pat}/erase", json={"reason": "DSR-2026-077"}, headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["media_deleted"] == 3  # request photo folder, update photo folder, signature

    assert not my_file.exists() and not my_file.parent.exists() and not update_files[0].exists()
    assert client.get(my_url).status_code == 404
    assert not own_signature.exists()
    with Session(app.state.engine) as session:
        completion = session.get(JobCompletion, own_job)
        assert completion.signature is None and completion.signed_by is None
        assert completion.photos == [f"uploads/jobs/{own_job}/photo0.png"]  # the work's record stays
        assert session.get(JobCompletion, shared_job).signature is not None  # others reported it too
    assert own_photo.exists() and shared_signature.exists()
    assert other_file.read_bytes() == PNG and client.get(other_url).status_code == 200  # nothing else lost


def test_a_failed_erasure_deletes_no_file(client, app, api_key, settings, auth):
    """The files go only once the erasure is committed: an unknown customer (404) leaves every file."""
    _, url = _post(client, api_key, "kim@example.org", "Streetlight out, photo attached")
    answer = client.post("/customers/999999/erase", json={"reason": "DSR-2026-078"}, headers=auth(Role.admin))
    assert answer.status_code == 404
    assert _file(settings, url).read_bytes() == PNG
