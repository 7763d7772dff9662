"""Importers on the real data: twcs threads → customers and conversations; Baltimore 311 → geotagged, triaged
jobs; bad rows rejected with reasons and nothing half-written; an import killed midway and re-run stores every
row exactly once."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, func, select

from server.cases.models import Case
from server.config import Settings
from server.conversations.models import AuthorKind, Conversation, Direction, Message
from server.customers.models import Identity
from server.intake.importers import RowError, _twcs_roots, import_311, import_twcs
from server.jobs.models import Job, JobReport
from tests.conftest import SHARED_DATA
from tests.server.intake.conftest import BALTIMORE_311, CITY_CACHE, TWCS

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def engine(database_url):  # type: ignore[no-untyped-def]
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path, load_city=False, GROUNDCREW_CACHE_DIR=CITY_CACHE)


def test_twcs_threads_become_customers_and_conversations(engine, database_url, tmp_path):
    settings = _settings(tmp_path, database_url)
    summary = import_twcs(engine=engine, settings=settings, path=TWCS, limit=1500)
    # a few brand replies answer tweets outside the excerpt and name nobody: rejected with that reason
    assert summary.rejected == 0, summary.examples
    broadcasts = summary.skip_reasons["brand broadcast post (no customer in it)"]
    assert summary.imported + broadcasts + summary.rejected == 1500 and summary.outbound > 300 and broadcasts < 30
    with TWCS.open(newline="", encoding="utf-8") as handle:
        rows = {r["tweet_id"]: r for r in csv.DictReader(handle)}
    roots = _twcs_roots(list(rows.values()))
    with Session(engine) as session:
        messages = session.exec(select(Message)).all()
        assert len(messages) == summary.imported == len({m.external_id for m in messages})
        by_thread: dict[str, set[int]] = defaultdict(set)
        for m in messages:
            tid = m.external_id.removeprefix("twcs-")
            by_thread[roots[tid]].add(m.conversation_id)
            row = rows[tid]
            if row["inbound"] == "True":
                assert m.direction == Direction.inbound and m.author_name == row["author_id"]
            else:
                assert m.direction == Direction.outbound and m.author_kind == AuthorKind.agent
                assert m.author_name == row["author_id"] and str(m.delivery_status) == "sent"
        assert all(len(conversations) == 1 for conversations in by_thread.values())  # one thread, one conversation
        assert session.exec(select(func.count()).select_from(Conversation)).one() == len(by_thread)
        customers = {r["author_id"] for r in rows.values() if r["inbound"] == "True"
                     and f"twcs-{r['tweet_id']}" in {m.external_id for m in messages}}
        handles = {i.handle for i in session.exec(select(Identity)).all()}
        assert customers <= handles  # every customer who wrote is a customer with a twitter identity
        assert session.exec(select(func.count()).select_from(Case)).one() > 300
    again = import_twcs(engine=engine, settings=settings, path=TWCS, limit=1500)
    assert (again.imported, again.skipped, again.rejected) == (0, 1500 - summary.rejected, summary.rejected)


def test_baltimore_311_rows_become_geotagged_triaged_jobs(engine, database_url, tmp_path, city):
    settings = _settings(tmp_path, database_url)
    summary = import_311(engine=engine, settings=settings, path=BALTIMORE_311, city=city, limit=400)
    assert summary.imported + summary.rejected == 400 and summary.jobs_created > 20
    assert set(summary.reasons) <= {"location: no coordinates (or the 39,-77 placeholder) and no Address"}
    with Session(engine) as session:
        jobs = session.exec(select(Job)).all()
        assert len(jobs) == summary.jobs_created
        for job in jobs[:50]:
            assert city.network.contains(job.lat, job.lon)
            assert job.category != "general" and job.required_skills and job.sla_due_at is not None
            report = session.exec(select(JobReport).where(JobReport.job_id == job.id)).first()
            case = session.get(Case, report.case_id)
            assert case.triage["explanations"]["priority"] and case.geotag["confidence"] >= 0.6
        placeholder = {r["ServiceRequestNum"] for r in csv.DictReader(BALTIMORE_311.open(encoding="utf-8"))
                       if (r["Latitude"], r["Longitude"]) == ("39", "-77")}
        for message in session.exec(select(Message).where(Message.external_id.in_(placeholder))).all():
            case = session.exec(select(Case).where(Case.conversation_id == message.conversation_id)).one()
            assert case.geotag.get("kind") != "gps"  # the placeholder point is never used as a location
    again = import_311(engine=engine, settings=settings, path=BALTIMORE_311, city=city, limit=400)
    assert again.imported == 0 and again.skipped == summary.imported


def test_a_311_feed_report_is_weighed_as_a_report_and_the_same_words_tweeted_are_not(engine, database_url, tmp_path,
                                                                                      client):
    """A city feed's row comes in on the Open311 channel, whose share of field problems the catalogue names
    ([triage.channel_field_share]): a real resident report the base model half-doubts becomes field work with a
    service there, and the same words as a tweet go to an agent (FixMyStreet London, a row that is not held back)."""
    from server.triage import realdata
    from server.triage.service import classify
    from tests.server.intake.helpers import tweet

    source = SHARED_DATA / realdata.FMS_FILE
    if not source.exists():
        pytest.skip(f"real data not here: {source}")
    text = next(r.text for r in realdata.fixmystreet(source) if not realdata.held_back(r.id) and len(r.text) < 280
                and classify(r.text).outcome == "agent" and classify(r.text, channel="open311").outcome == "field_work")
    path = tmp_path / "feed.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text"], ["fms-1", text]])
    assert import_311(engine=engine, settings=_settings(tmp_path, database_url), path=path, fmt="generic").imported == 1
    tweeted = client.post("/channels/twitter", json=tweet("70", f"@groundcrew {text}", user_id="u70"))
    assert tweeted.status_code in (200, 201), tweeted.text
    with Session(engine) as session:
        by_channel = {str(m.channel): session.exec(select(Case).where(Case.conversation_id == m.conversation_id)).one()
                      for m in session.exec(select(Message).where(Message.direction == Direction.inbound)).all()}
    assert by_channel["open311"].needs_field_work and by_channel["open311"].category is not None
    assert by_channel["open311"].triage["outcome"] == "field_work"
    assert not by_channel["twitter"].needs_field_work and by_channel["twitter"].triage["outcome"] == "agent"


def test_bad_rows_are_rejected_with_reasons_and_nothing_half_written(engine, database_url, tmp_path):
    path = tmp_path / "generic.csv"
    rows = [
        ["id", "text", "created_at", "lat", "lon", "address", "service_code", "email"],
        ["g1", "Streetlight out", "2026-11-20T10:00:00", "39.2850", "-76.5700", "", "101", "a@example.org"],
        ["", "no id", "", "", "", "", "", ""],
        ["g3", "bad point", "", "abc", "-76.5", "", "", ""],
        ["g4", "off the planet", "", "123", "-76.5", "", "", ""],
        ["g5", "only lat", "", "39.1", "", "", "", ""],
        ["g6", "unknown code", "", "39.2850", "-76.5700", "", "999", ""],
        ["g7", "x" * 10_001, "", "", "", "", "", ""],
        ["g8", "bad time", "yesterday", "", "", "", "", ""],
        ["g9", "", "", "", "", "", "", ""],
        ["g10", "Pothole", "", "39.2851", "-76.5701", "", "102", "b@example.org"],
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    summary = import_311(engine=engine, settings=_settings(tmp_path, database_url), path=path, fmt="generic")
    assert (summary.imported, summary.rejected) == (2, 8)
    text = " ".join(summary.examples)
    for reason in ("id: required", "lat/lon: 'abc'", "lat/lon: (123", "lat/lon: give both",
                   "service_code: unknown service code '999'", "text: 10001 characters", "created_at: 'yesterday'",
                   "text: required"):
        assert reason in text, reason
    with Session(engine) as session:
        assert sorted(m.external_id for m in session.exec(select(Message)).all()) == ["g1", "g10"]
        assert session.exec(select(func.count()).select_from(Case)).one() == 2
    missing = tmp_path / "missing.csv"
    missing.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(RowError, match="missing column"):
        import_311(engine=engine, settings=_settings(tmp_path, database_url), path=missing, fmt="generic")


def _env(tmp_path: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDCREW_")}
    env.update({"GROUNDCREW_DATA_DIR": str(tmp_path), "GROUNDCREW_DATABASE_URL": f"sqlite:///{db}",
                "GROUNDCREW_LOAD_CITY": "false"})
    return env


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM message").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_import_killed_midway_and_rerun_stores_each_row_exactly_once(tmp_path):
    db = tmp_path / "kill.db"
    args = [sys.executable, "-m", "server.cli", "import", "311", str(BALTIMORE_311), "--limit", "1500", "--batch",
            "25", "--no-city"]
    proc = subprocess.Popen(args, cwd=ROOT, env=_env(tmp_path, db), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _stored(db) < 100:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "import ended early"
        assert time.monotonic() < deadline, "the import did not get going"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = _stored(db)
    assert 100 <= partial < 1500
    done = subprocess.run(args, cwd=ROOT, env=_env(tmp_path, db), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT external_id FROM message WHERE direction = 'inbound'")]
        cases = conn.execute("SELECT count(*) FROM \"case\"").fetchone()[0]
        customers = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
    with BALTIMORE_311.open(newline="", encoding="utf-8") as handle:
        expected = [r["ServiceRequestNum"] for _, r in zip(range(1500), csv.DictReader(handle), strict=False)]
    assert len(ids) == len(set(ids)) and set(ids) <= set(expected)
    assert cases == len(ids) and customers == len(ids)  # one case and one anonymous reporter per row, no extras
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["imported"] + summary["skipped"] + summary["rejected"] == 1500
    assert summary["skipped"] >= partial and len(ids) == 1500 - summary["rejected"]
