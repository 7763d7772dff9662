"""The real app, offscreen, against a real server: screens, offline outbox, reassignment, bad input.
Each run of the app is its own process (drive_app.py) that writes screenshots and result.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import col, select

from server.conversations.models import Message
from server.jobs.models import Job
from tests.conftest import WORKING_TZ
from tests.mobile_app.conftest import PASSWORD, Dispatcher, LiveServer, free_port

pytestmark = [pytest.mark.kivy, pytest.mark.slow]
DRIVER = Path(__file__).with_name("drive_app.py")
ROOT = Path(__file__).resolve().parents[2]


def start_app(scenario: str, *, server: str, data_dir: Path, out: Path, timeout: float = 90,
              **options: str) -> subprocess.Popen:
    env = {**os.environ, "TZ": WORKING_TZ, "KIVY_CLIPBOARD": "dummy",
           "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_HOME": str(data_dir.parent / "kivy-home"), "BROWSER": "true", "PYTHONPATH": str(ROOT)}
    env.pop("KIVY_WINDOW", None)
    args = [sys.executable, str(DRIVER), scenario, "--server", server, "--data-dir", str(data_dir), "--out", str(out),
            "--password", PASSWORD, "--timeout", str(timeout - 10)]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def run_app(scenario: str, *, server: str, data_dir: Path, out: Path, timeout: float = 90, **options: str) -> dict:
    return finish_app(start_app(scenario, server=server, data_dir=data_dir, out=out, timeout=timeout, **options),
                      scenario, out, timeout)


def finish_app(proc: subprocess.Popen, scenario: str, out: Path, timeout: float) -> dict:
    try:
        _stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _stdout, stderr = proc.communicate()
    proc.stderr_text = stderr  # type: ignore[attr-defined]
    result_path = out / "result.json"
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    assert result.get("ok"), f"{scenario} failed: {result.get('error') or stderr[-3000:]}\n{result.get('state')}"
    result_path.rename(out / f"result-{scenario}.json")
    return result


def job_events(server: LiveServer, job_id: int) -> list[tuple[str, str | None]]:
    """(status, idempotency_key) of every lifecycle event the server recorded for a job, in order."""
    from server.jobs.models import JobEvent

    with server.session() as session:
        rows = session.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id))).all()
        return [(row.status, row.idempotency_key) for row in rows]


def app_events(server: LiveServer, job_id: int) -> list[tuple[str, str | None]]:
    """The job's events after the dispatcher's assignment (by the plan, and by hand when the fixture gave ana more:
    ``_give_ana_enough_to_test``): what the technician's app caused."""
    events = job_events(server, job_id)
    k = 0
    while k < len(events) and events[k][1] is None and events[k][0] in ("assigned", "override:assign"):
        k += 1
    assert k >= 1, events  # assigned first
    return events[k:]


def test_walkthrough_of_every_screen(live_server: LiveServer, output_dir: Path, tmp_path: Path) -> None:
    result = run_app("walkthrough", server=live_server.url, data_dir=tmp_path / "phone", out=output_dir, timeout=120)
    assert "Sign-in refused" in result["wrong_password_message"]
    plan = live_server.routes["ana"]  # the dispatcher's solved plan
    assert result["job_ids"] == live_server.assigned["ana"]  # today's list in the plan's order
    assert result["etas"] == {str(s["job_id"]): s["arrival_at"] for s in plan["stops"]}  # with the plan's ETAs
    assert all(line3.startswith("ETA [b]") for _line1, line3 in result["today_rows"])
    first = result["first_job"]
    assert result["completed_status"] == "completed"
    assert re.search(r"Done: \[b\]\d\d:\d\d\[/b\]", result["completed_details"]), result["completed_details"]
    # assigned by the plan (and maybe by hand: _give_ana_enough_to_test), then what the app did
    assert [s for s, _ in app_events(live_server, first)] == ["en_route", "on_site", "completed"]
    with live_server.session() as session:
        job = session.get(Job, first)
        assert job.status == "completed"
        replies = session.exec(select(Message).where(Message.customer_id == result["conversation_customer"],
                                                     Message.author_kind == "technician")).all()
    assert [m.text for m in replies] == ["Hello, this is Ana from the city crew: I am on site now."]
    assert result["geo_uri"].startswith("geo:")
    drawn = result["map"]  # the streets from /map/streets, the route along them, one numbered stop per job
    assert plan["on_streets"] and drawn["streets"] > 50 and not drawn["straight"]
    assert drawn["route_lines"] == len(plan["geometry"]["coordinates"])
    assert drawn["route_points"] > 2 * len(plan["stops"])  # along the streets, not stop to stop
    assert sorted(drawn["stops"]) == [str(i) for i in range(1, len(plan["stops"]) + 1)]  # numbered as planned
    for name in ("01-signin-wrong-password", "02-today", "03-job", "04-conversation", "05-complete", "07-map"):
        assert (output_dir / f"{name}.png").stat().st_size > 10_000


def test_urgent_job_assigned_while_the_app_runs_raises_the_alert(
    live_server: LiveServer, output_dir: Path, tmp_path: Path
) -> None:
    """The dispatcher creates an urgent job and gives it to ana (override commit) while her app is open."""
    phone = tmp_path / "phone"
    run_app("prepare", server=live_server.url, data_dir=phone, out=output_dir)
    (output_dir / "ready").unlink(missing_ok=True)
    app = start_app("observe", server=live_server.url, data_dir=phone, out=output_dir, until="urgent_alert",
                    shot="urgent-alert", timeout=90)
    deadline = time.monotonic() + 60
    while not (output_dir / "ready").exists() and app.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    dispatcher = Dispatcher(live_server.url)
    ana = live_server.technicians["ana"]
    first = live_server.routes["ana"]["stops"][0]
    job = dispatcher.create_job(title="Live wire down on the sidewalk", category="streetlight", priority=9,
                                required_skills={"electrical": 1}, duration_min=30, lat=first["lat"] + 0.001,
                                lon=first["lon"], address="Urgent test site")
    dispatcher.assign(job["id"], ana)
    result = finish_app(app, "observe", output_dir, 90)
    assert f"New urgent job #{job['id']}" in result["message"]
    with live_server.session() as session:
        assert session.get(Job, job["id"]).assigned_technician_id == ana


def test_offline_five_actions_survive_a_kill_and_arrive_once_in_order(
    live_server: LiveServer, output_dir: Path, tmp_path: Path
) -> None:
    phone = tmp_path / "phone"
    run_app("prepare", server=live_server.url, data_dir=phone, out=output_dir)
    live_server.stop()
    offline = run_app("offline_actions", server=live_server.url, data_dir=phone, out=output_dir)
    assert len(offline["keys"]) == 5 and offline["pending"] == 5  # killed with a full outbox
    live_server.start()
    after = run_app("flush", server=live_server.url, data_dir=phone, out=output_dir, shot="back-online-all-sent",
                    job=offline["first"])
    assert after["pending"] == 0 and after["rejected"] == []
    keys = offline["keys"]
    first, second = offline["first"], offline["second"]
    assert app_events(live_server, first) == [("en_route", keys[0]), ("on_site", keys[1]), ("completed", keys[3])]
    assert app_events(live_server, second) == [("en_route", keys[4])]
    with live_server.session() as session:
        notes = session.exec(select(Message).where(Message.external_id == keys[2])).all()
        assert [m.text for m in notes] == ["Offline note: on site, fixing it now."]
        completed_at = session.exec(select(Job.updated_at).where(Job.id == first)).one()
        assert notes[0].created_at <= completed_at  # the reply went before the completion, as queued


def test_job_reassigned_while_offline_is_told_plainly(
    live_server: LiveServer, output_dir: Path, tmp_path: Path
) -> None:
    phone = tmp_path / "phone"
    run_app("prepare", server=live_server.url, data_dir=phone, out=output_dir)
    live_server.stop()
    job_id = live_server.assigned["ana"][2]
    run_app("offline_job_action", server=live_server.url, data_dir=phone, out=output_dir, job=job_id)
    with live_server.session() as session:  # meanwhile the dispatcher gave the job to marcus
        from server.technicians.models import Technician

        marcus = session.exec(select(Technician).where(Technician.name == "Marcus Webb")).one()
        job = session.get(Job, job_id)
        job.assigned_technician_id = marcus.id
        session.add(job)
        session.commit()
    live_server.start()
    after = run_app("flush", server=live_server.url, data_dir=phone, out=output_dir, shot="reassigned-told")
    assert any(f"Job #{job_id}" in text and "reassigned" in text for text in after["alerts"])
    assert job_id not in after["job_ids"] and len(after["rejected"]) == 1
    assert app_events(live_server, job_id) == []  # ana's 'arrived' never recorded


def test_unreachable_server_and_expired_session_give_clear_messages(
    live_server: LiveServer, output_dir: Path, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = run_app("bad_server", server=nowhere, data_dir=tmp_path / "p1", out=output_dir, shot="signin-unreachable")
    assert "Cannot reach the server" in result["message"]
    phone = tmp_path / "p2"
    run_app("prepare", server=live_server.url, data_dir=phone, out=output_dir)
    session_file = phone / "session.json"
    saved = json.loads(session_file.read_text())
    saved.update(access_token="expired", refresh_token="also-expired")
    session_file.write_text(json.dumps(saved))
    result = run_app("observe", server=live_server.url, data_dir=phone, out=output_dir, until="signed_out",
                     shot="session-expired")
    assert "session has expired" in result["message"]


class BadGateway(BaseHTTPRequestHandler):
    """A reverse proxy whose upstream is down answers 502, like nginx in front of a stopped server."""

    def _fail(self) -> None:
        body = b'{"detail": "Bad Gateway"}'
        self.send_response(502)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _fail

    def log_message(self, *args: object) -> None:
        pass


def test_server_5xx_keeps_the_update_and_says_so(live_server: LiveServer, output_dir: Path, tmp_path: Path) -> None:
    phone = tmp_path / "phone"
    run_app("prepare", server=live_server.url, data_dir=phone, out=output_dir)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), BadGateway)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        saved = json.loads((phone / "session.json").read_text())
        saved["server_url"] = f"http://127.0.0.1:{proxy.server_port}"
        (phone / "session.json").write_text(json.dumps(saved))
        result = run_app("observe", server=saved["server_url"], data_dir=phone, out=output_dir,
                         until="server_error", shot="server-502")
    finally:
        proxy.shutdown()
    assert "HTTP 502" in result["message"] and result["pending_after"] == 1


def test_the_coming_days_of_the_horizon_plan_are_on_the_today_screen(
        live_server: LiveServer, output_dir: Path, tmp_path: Path) -> None:
    """Two jobs that can only be done on the next working day, pinned to ana; the dispatcher plans the horizon
    (POST /horizon); ana's app shows them under COMING DAYS (tentative), day by day."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from server.config import Settings
    from server.dispatch.models import JobPin
    from server.horizon.service import working_days

    dispatcher = Dispatcher(live_server.url)
    tz = ZoneInfo(WORKING_TZ)
    day = working_days(Settings(load_city=False), datetime.now(tz).date())[0]

    def at(hour: int) -> str:
        return datetime(day.year, day.month, day.day, hour, tzinfo=tz).isoformat()

    ana = live_server.technicians["ana"]  # type: ignore[attr-defined]
    jobs = [dispatcher.create_job(title=title, category="streetlight", required_skills={}, duration_min=30,
                                  priority=5, lat=lat, lon=-76.5850, address=address,
                                  time_windows=[{"start": at(9), "end": at(15)}])
            for title, lat, address in (("Hydrant check", 39.2870, "2000 E Fayette St"),
                                        ("Sign replacement", 39.2890, "2100 E Baltimore St"))]
    with live_server.session() as session:
        for job in jobs:
            session.add(JobPin(job_id=job["id"], technician_id=ana))
        session.commit()
    dispatcher._call("POST", "/horizon?time_limit_s=2", expect=202)
    deadline = time.monotonic() + 120  # waits for the server's run; not a timing assertion
    while time.monotonic() < deadline:
        visits = dispatcher._call("GET", "/horizon", expect=200)["visits"]
        if {v["job_id"] for v in visits} >= {j["id"] for j in jobs}:
            break
        time.sleep(0.5)
    mine = [v for v in visits if v["technician_id"] == ana]
    assert {v["job_id"] for v in mine} >= {j["id"] for j in jobs} and {v["day"] for v in mine} == {day.isoformat()}
    result = run_app("coming_days", server=live_server.url, data_dir=tmp_path / "phone", out=output_dir, timeout=180)
    assert result["coming_visible"]
    text = result["coming_text"]
    assert day.strftime("%a %d %b") in text and "2 jobs" in text
    assert "Hydrant check" in text or "Sign replacement" in text
    assert (output_dir / "09-coming-days.png").stat().st_size > 10_000


def test_unable_with_a_return_visit_opens_a_follow_up_for_the_same_technician(
        live_server: LiveServer, output_dir: Path, tmp_path: Path) -> None:
    """On the job screen, "Unable…" with "needs a return visit" ticked, a reason and the day the part arrives: the
    server opens the follow-up (same place, ana preferred, not before that day); a day that is not a date is told."""
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    day = date.today() + timedelta(days=4)
    result = run_app("return_visit", server=live_server.url, data_dir=tmp_path / "phone", out=output_dir,
                     until=day.isoformat(), timeout=150)
    assert "YYYY-MM-DD" in result["bad_day_error"] and result["bad_day_pending"] == 0
    assert result["day_visible"] and result["ticked_after"] is False
    job_id = result["job"]
    with live_server.session() as session:
        job = session.get(Job, job_id)
        assert job.status == "unable" and job.follow_ups
        follow = session.get(Job, job.follow_ups[0])
        assert follow.follow_up_of == job_id and follow.preferred_technician_id == live_server.technicians["ana"]
        assert "Part on order: ballast" in follow.description and follow.status == "unassigned"
        assert follow.earliest_at.astimezone(ZoneInfo(WORKING_TZ)).date() == day
        assert follow.duration_min == 90  # the work left, not the whole job again
    assert (output_dir / "10-return-visit.png").stat().st_size > 10_000
