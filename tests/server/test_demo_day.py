"""The demo looks like a day: its real 311 rows (2014-2019) are replayed as complaints of the last few hours, so
every open case's and job's SLA is about today, never "breached by 4717 days"."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from server.cases.models import Case
from server.config import Settings
from server.conversations.models import Message
from server.core.db import make_engine
from server.core.timeutil import as_utc
from server.demo.service import DEMO_COMPLAINTS, REPLAY_HOURS, load_demo, replay_times
from server.jobs.models import OPEN_STATUSES, Job
from server.technicians.models import Technician
from tests.conftest import OUTPUT_DIR

CITY_CACHE = OUTPUT_DIR / ".city-cache"
LONGEST_SLA = timedelta(hours=240)  # the taxonomy's longest policy (sidewalk repair)


def _sample(tmp_path: Path, every: int = 25) -> Path:
    """Every 25th row of the demo file: still spread over its five years (oldest and newest rows kept)."""
    with DEMO_COMPLAINTS.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = reader.fieldnames or []
    rows.sort(key=lambda r: datetime.strptime(r["CreatedDate"].strip(), "%m/%d/%Y %I:%M:%S %p"))
    keep = [*rows[::every], rows[-1]]
    path = tmp_path / "sample.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(keep)
    return path


def test_replay_keeps_order_and_spacing_and_ends_now():
    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    created = [datetime(2014, 1, 1, tzinfo=UTC), datetime(2016, 7, 2, 12, tzinfo=UTC), None,
               datetime(2019, 1, 1, tzinfo=UTC)]
    replayed = replay_times(created, now=now, span=timedelta(hours=72))
    assert replayed[3] == now and replayed[0] == now - timedelta(hours=72) and replayed[2] is None
    # The middle row was half-way through the file's span: it is half-way through the replay.
    assert abs((replayed[1] - (now - timedelta(hours=36))).total_seconds()) < 3600
    assert replay_times([created[0]], now=now) == [now]


@pytest.fixture
def demo_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    GROUNDCREW_CACHE_DIR=CITY_CACHE)


def test_after_the_demo_load_open_cases_and_jobs_are_due_around_today(demo_settings, tmp_path):
    complaints = _sample(tmp_path)
    engine = make_engine(demo_settings)
    before = datetime.now(UTC)
    try:
        with Session(engine) as session:
            result = load_demo(session=session, settings=demo_settings, password="demo-pass-1",
                               complaints=complaints, max_jobs=12)
        after = datetime.now(UTC)
        assert result.complaints_imported > 50 and result.jobs_created == 12
        with Session(engine) as session:
            received = [as_utc(t) for t in session.exec(select(Message.sent_at)).all()]
            cases = session.exec(select(Case).where(col(Case.sla_due_at).is_not(None))).all()
            jobs = session.exec(select(Job).where(col(Job.status).in_(list(OPEN_STATUSES)))).all()
        earliest, latest = before - timedelta(hours=REPLAY_HOURS, minutes=1), after + LONGEST_SLA
        open_cases = [c for c in cases if c.status != "closed"]
        assert open_cases and jobs
        for due in [as_utc(c.sla_due_at) for c in open_cases] + [as_utc(j.sla_due_at) for j in jobs]:
            assert earliest <= due <= latest, f"SLA due {due:%Y-%m-%d %H:%M} is not around today"
        # No dead ends: every skill an open job needs is held by some demo technician.
        with Session(engine) as session:
            held = {s for t in session.exec(select(Technician)).all() for s in t.skills}
        missing = {s for j in jobs for s in j.required_skills} - held
        assert not missing, f"demo jobs need {missing}, which no demo technician has"
        # Received over the last REPLAY_HOURS, the newest one now.
        assert min(received) >= before - timedelta(hours=REPLAY_HOURS, minutes=1)
        assert max(received) <= after and max(received) >= before - timedelta(minutes=1)
        # Some are already late and some still have time: the figures mean something.
        job_due = [as_utc(j.sla_due_at) for j in jobs if j.sla_due_at]
        assert len(job_due) == len(jobs)
        assert any(due > after for due in job_due)
        # Idempotent: a second load adds nothing (and moves nothing).
        with Session(engine) as session:
            again = load_demo(session=session, settings=demo_settings, complaints=complaints, max_jobs=12)
        assert (again.complaints_imported, again.jobs_created, again.technicians_created) == (0, 0, 0)
        with Session(engine) as session:
            assert sorted(as_utc(t) for t in session.exec(select(Message.sent_at)).all()) == sorted(received)
    finally:
        engine.dispose()
