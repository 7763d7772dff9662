"""Outbox, state and sync engine without a window or a server (a tiny fake transport stands in)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mobile_app import formatting as fmt
from mobile_app.api import ConflictError, OfflineError, RequestError, ServerError, normalize_url
from mobile_app.session import SavedSession, SessionFile
from mobile_app.state import AppState
from mobile_app.store import Store
from mobile_app.sync import SyncEngine, backoff_s, route_order


class FakeApi:
    """Records calls; ``fail`` holds errors to raise on the next sends (one per send)."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.fail: list[Exception] = []
        self.jobs_list = [
            {"id": 1, "title": "Pothole", "priority": 5, "status": "assigned", "version": 1, "lat": 39.28,
             "lon": -76.59, "eta_at": "2026-01-01T10:00:00Z"},
            {"id": 2, "title": "Streetlight", "priority": 6, "status": "assigned", "version": 1, "lat": 39.29,
             "lon": -76.58, "eta_at": "2026-01-01T09:00:00Z"},
        ]

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def post_status(self, job_id: int, *, status: str, key: str, **fields) -> dict:
        self._maybe_fail()
        self.sent.append(("status", job_id, status, key))
        return {}

    def post_message(self, conversation_id: int, *, text: str, key: str, visibility: str = "public") -> dict:
        self._maybe_fail()
        self.sent.append(("message", conversation_id, text, key))
        return {}

    def jobs(self) -> list[dict]:
        return [dict(j) for j in self.jobs_list]

    def my_route(self) -> dict:
        raise RequestError("Not Found", status=404, detail="Not Found")

    def my_coming_days(self) -> list:
        return list(getattr(self, "coming", []))

    def job_reports(self, job_id: int) -> list:
        return []

    def job_events(self, job_id: int) -> list:
        return [{"status": "completed", "at": "2026-01-01T14:20:00Z"}]

    def streets(self, bbox: tuple) -> dict:
        self.streets_asked = [*getattr(self, "streets_asked", []), bbox]
        return {"type": "FeatureCollection", "features": []}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts(tmp_path: Path):
    api, store, state, clock = FakeApi(), Store(tmp_path / "s.sqlite3"), AppState(), Clock()
    state.update(signed_in=True)
    return api, store, state, clock, SyncEngine(api, store, state, clock=clock)  # type: ignore[arg-type]


def test_actions_are_sent_in_order_with_their_keys(parts) -> None:
    api, store, state, _clock, engine = parts
    store.replace_jobs(api.jobs())
    items = [engine.act_status(1, "en_route"), engine.act_status(1, "on_site"),
             engine.act_message(7, "On my way", job_id=1), engine.act_status(1, "completed", notes="done")]
    assert state.pending == 4
    assert engine.flush() == 4
    assert [s[3] for s in api.sent] == [i.key for i in items]
    assert [s[2] for s in api.sent] == ["en_route", "on_site", "On my way", "completed"]
    assert state.pending == 0 and store.pending_count() == 0


def test_offline_keeps_order_and_backs_off_exponentially(parts) -> None:
    api, store, state, clock, engine = parts
    first, second = engine.act_status(1, "en_route"), engine.act_status(2, "en_route")
    api.fail = [OfflineError("down")]
    assert engine.flush() == 0
    assert state.online is False and state.pending == 2
    item = store.pending()[0]
    assert item.attempts == 1 and item.next_try_at == clock.now + 2
    assert engine.flush() == 0 and api.sent == []  # not due yet: nothing sent, order kept
    clock.now += 2
    api.fail = [ServerError("boom", status=502)]
    engine.flush()
    assert store.pending()[0].attempts == 2 and store.pending()[0].next_try_at == clock.now + 4
    clock.now += 4
    assert engine.flush() == 2
    assert [s[3] for s in api.sent] == [first.key, second.key]
    assert [backoff_s(n) for n in (1, 2, 3, 4, 20)] == [2, 4, 8, 16, 300]


def test_reassigned_job_is_told_plainly_and_the_rest_still_goes(parts) -> None:
    api, store, state, _clock, engine = parts
    store.replace_jobs(api.jobs())
    engine.act_status(1, "on_site")
    engine.act_status(2, "en_route")
    api.fail = [ConflictError("Job #1 is no longer assigned to you.", status=404)]
    assert engine.flush() == 1
    assert api.sent == [("status", 2, "en_route", store.outbox()[1].key)]
    assert [a.kind for a in state.alerts] == ["reassigned"]
    assert "Job #1 (Pothole) was reassigned" in state.alerts[0].text and "'arrived'" in state.alerts[0].text
    assert store.job(1) is None and [j["id"] for j in state.jobs] == [2]


def test_outbox_survives_a_killed_process(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os
        from mobile_app.store import Store
        store = Store({str(tmp_path / 'k.sqlite3')!r})
        for n in range(5):
            store.enqueue("message", {{"text": f"note {{n}}"}}, target_id=3)
        os._exit(9)  # no clean shutdown
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 9
    store = Store(tmp_path / "k.sqlite3")
    assert [i.payload["text"] for i in store.pending()] == [f"note {n}" for n in range(5)]
    assert len({i.key for i in store.pending()}) == 5


def test_pull_orders_by_eta_overlays_unsent_status_and_alerts_new_urgent_jobs(parts) -> None:
    api, _store, state, _clock, engine = parts
    engine.pull()
    assert [j["id"] for j in state.jobs] == [2, 1] and state.alerts == []  # first load: no alerts
    engine.act_status(1, "en_route")
    api.fail = [OfflineError("down")]
    engine.flush()
    api.jobs_list.append({"id": 3, "title": "Water main break", "priority": 9, "status": "assigned",
                          "version": 1, "lat": 39.3, "lon": -76.6, "address": "1 Main St"})
    engine.pull()
    assert state.job(1)["status"] == "en_route" and state.job(1)["unsent"] is True
    assert [a.kind for a in state.alerts] == ["urgent"] and "Water main break" in state.alerts[0].text
    assert state.next_job["id"] == 1  # the started job comes first


def test_route_order_follows_route_stops() -> None:
    jobs = [{"id": 1, "status": "assigned"}, {"id": 2, "status": "completed"}, {"id": 3, "status": "assigned"}]
    route = {"stops": [{"job_id": 3, "sequence": 0, "arrival_at": "T1"}, {"job_id": 1, "sequence": 1}]}
    ordered = route_order(jobs, route)
    assert [j["id"] for j in ordered] == [3, 1, 2] and ordered[0]["eta"] == "T1"


def test_state_notifies_only_changes_and_refuses_unknown_fields() -> None:
    state, seen = AppState(), []
    state.subscribe(seen.append)
    state.update(online=True, pending=0)
    state.update(online=True)
    assert seen == [{"online"}]
    with pytest.raises(AttributeError):
        state.update(nonsense=1)


def test_unable_needs_a_reason_and_reply_needs_text(parts) -> None:
    _api, store, _state, _clock, engine = parts
    with pytest.raises(ValueError, match="why"):
        engine.act_status(1, "unable", reason=" ")
    with pytest.raises(ValueError, match="message"):
        engine.act_message(3, "  ")
    assert store.pending_count() == 0


def test_session_file_is_private(tmp_path: Path) -> None:
    files = SessionFile(tmp_path)
    files.save(SavedSession("http://x:1", "ana", "acc", "ref", "technician", 1, "Ana"))
    assert stat.S_IMODE(os.stat(files.path).st_mode) == 0o600
    files.clear_tokens()
    assert files.load().tokens is None and files.load().username == "ana"


def test_normalize_url() -> None:
    assert normalize_url(" 10.0.0.2:8000/ ") == "http://10.0.0.2:8000"
    with pytest.raises(ValueError):
        normalize_url("")
    with pytest.raises(ValueError):
        normalize_url("ftp://x")


def test_no_plan_yet_is_asked_again_and_the_plan_orders_the_day(parts) -> None:
    api, _store, state, _clock, engine = parts

    def no_plan() -> dict:
        raise RequestError("no plan yet: the dispatcher has not planned the day", status=404,
                           detail="no plan yet: the dispatcher has not planned the day")

    api.my_route = no_plan
    engine.pull()
    assert state.route is None and "route" not in engine.missing
    api.my_route = lambda: {"stops": [{"job_id": 1, "sequence": 0, "arrival_at": "2026-01-01T08:10:00Z"},
                                      {"job_id": 2, "sequence": 1, "arrival_at": "2026-01-01T08:50:00Z"}],
                            "geometry": {"type": "MultiLineString", "coordinates": [[[-76.7, 39.2], [-76.5, 39.4]]]}}
    engine.pull()
    assert [j["id"] for j in state.jobs] == [1, 2] and state.job(1)["eta"] == "2026-01-01T08:10:00Z"


def test_streets_cover_the_route_and_are_fetched_again_only_when_the_day_leaves_them(parts) -> None:
    api, _store, _state, _clock, engine = parts
    engine.pull()
    engine.pull()
    assert len(api.streets_asked) == 1
    west, south, east, north = api.streets_asked[0]
    assert west < -76.59 and east > -76.58 and south < 39.28 and north > 39.29
    api.jobs_list.append({"id": 3, "title": "Far away", "priority": 5, "status": "assigned", "version": 1,
                          "lat": 39.35, "lon": -76.70})
    engine.pull()
    assert len(api.streets_asked) == 2 and api.streets_asked[1][0] < -76.70


def test_a_finished_job_shows_when_it_was_done_not_an_eta(parts) -> None:
    api, _store, state, _clock, engine = parts
    engine.pull()
    engine.act_status(2, "completed", notes="ok")  # done on this phone: the time it was done here
    assert state.job(2)["closed_at"] and fmt.when(state.job(2)) == f"Done {fmt.clock(state.job(2)['closed_at'])}"
    assert fmt.when(state.job(1)).startswith("ETA ")
    api.jobs_list[0]["status"] = "completed"  # done elsewhere (another phone): the time from the job's events
    engine.pull()
    assert fmt.when(state.job(1)) == f"Done {fmt.clock('2026-01-01T14:20:00Z')}"
    assert fmt.when_markup(state.job(1), ":").startswith("Done: [b]")


def test_the_fix_accuracy_goes_with_the_position(parts, monkeypatch) -> None:
    """A GPS fix's stated accuracy reaches the server (a job completed on site can then confirm its address);
    a position without one (fixed, simulated) sends none."""
    from mobile_app.api import ApiClient

    api, _store, state, _clock, engine = parts
    api.post_location = lambda **kw: api.sent.append(("location", kw))  # type: ignore[attr-defined]
    engine.send_location(39.28, -76.59, 12.5)
    engine.send_location(39.29, -76.58)
    assert api.sent == [("location", {"lat": 39.28, "lon": -76.59, "accuracy_m": 12.5}),
                        ("location", {"lat": 39.29, "lon": -76.58, "accuracy_m": None})]
    assert state.position == (39.29, -76.58)
    client = ApiClient("http://127.0.0.1:9")
    bodies: list = []
    monkeypatch.setattr(client, "request", lambda method, path, json_body=None: bodies.append(json_body))
    client.post_location(lat=39.28, lon=-76.59, accuracy_m=12.54)
    client.post_location(lat=39.28, lon=-76.59)
    assert bodies == [{"lat": 39.28, "lon": -76.59, "accuracy_m": 12.5}, {"lat": 39.28, "lon": -76.59}]


def test_the_coming_days_are_kept_offline_and_read_as_days(parts, tmp_path: Path) -> None:
    api, store, state, clock, engine = parts
    api.coming = [
        {"day": "2026-12-08", "sequence": 1, "start_at": "2026-12-08T15:00:00Z", "job_title": "Hydrant <b>leak</b>",
         "address": None},
        {"day": "2026-12-07", "sequence": 0, "start_at": "2026-12-07T13:40:00Z", "job_title": "Streetlight out",
         "address": "1600 E Baltimore St"},
        {"day": "2026-12-08", "sequence": 0, "start_at": "2026-12-08T14:00:00Z", "job_title": "Pothole [b]x",
         "address": "2 Main St"},
    ]
    engine.pull()
    assert len(state.coming) == 3
    days = fmt.coming_days(state.coming)
    assert [head.split(" · ")[0] for head, _ in days] == ["Mon 07 Dec", "Tue 08 Dec"]
    assert days[0][0].endswith("1 job from " + fmt.clock("2026-12-07T13:40:00Z"))
    assert days[1][0].split(" · ")[1].startswith("2 jobs") and "Pothole" in days[1][1]
    assert "[b]" not in days[1][1]  # a job title is never markup
    # offline: a new engine on the same store shows them without the server
    state2 = AppState()
    SyncEngine(api, store, state2, clock=clock).load_cached()  # type: ignore[arg-type]
    assert state2.coming == state.coming


def test_a_server_with_no_horizon_shows_no_coming_days(parts) -> None:
    api, _store, state, _clock, engine = parts

    def missing() -> list:
        raise RequestError("Not Found", status=404, detail="Not Found")

    api.my_coming_days = missing
    engine.pull()
    assert state.coming == [] and "coming" in engine.missing


def test_threads_the_server_no_longer_shows_are_forgotten(parts) -> None:
    """A thread the server stops listing for this technician (the job went to someone else, or the thread is not
    tied to their jobs) and a refused customer leave the phone's cache; before, the cache only grew."""
    api, store, _state, _clock, engine = parts
    threads = {11: {"id": 11, "customer_id": 7, "messages": []}, 12: {"id": 12, "customer_id": 7, "messages": []}}
    listed = [11, 12]

    def conversations(customer_id: int) -> list:
        if listed is None:
            raise RequestError("not your job's customer", status=403, detail="Forbidden")
        return [{"id": i} for i in listed]

    api.conversations = conversations  # type: ignore[attr-defined]
    api.conversation = lambda conversation_id: dict(threads[conversation_id])  # type: ignore[attr-defined]
    engine.pull_conversations(7)
    assert [c["id"] for c in store.conversations_of(7)] == [11, 12]
    listed = [12]
    engine.pull_conversations(7)
    assert [c["id"] for c in store.conversations_of(7)] == [12]
    listed = None
    engine.pull_conversations(7)
    assert store.conversations_of(7) == []
