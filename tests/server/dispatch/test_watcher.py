"""The dispatch watcher: new jobs are seen once even when the morning plan is requested in the same tick, and a
morning plan that cannot be made is retried now and then, not on every tick."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from server.auth.models import Role
from server.core.timeutil import utcnow
from server.dispatch.models import SolveJob, SolveStatus
from server.dispatch.service import _worker_id
from server.dispatch.watcher import MORNING_RETRY_S, Watcher
from tests.server.conftest import statements_run
from tests.server.dispatch.conftest import job_body, wait_for


def _morning_solves(app) -> list[SolveJob]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return list(session.exec(select(SolveJob).where(SolveJob.trigger == "morning")
                                 .order_by(col(SolveJob.created_at))).all())


def test_a_morning_plan_that_cannot_be_made_is_retried_now_and_then_not_on_every_tick(client, auth, settings, app,
                                                                                    caplog):
    watcher = Watcher(app.state.engine, settings.model_copy(update={"dispatch_morning_at": "00:00"}))
    watcher.tick()  # the first tick only notes where the job ids stand
    dispatcher = auth(Role.dispatcher)
    job_id = client.post("/jobs", json=job_body(settings, "light out", 2), headers=dispatcher).json()["id"]

    watcher.tick()  # sees the new job and requests the morning plan (which commits) in the same tick
    assert watcher.last_id == job_id
    first = wait_for(lambda: [s for s in _morning_solves(app) if s.status == SolveStatus.failed],
                     what="the morning solve to fail (no technicians)")
    assert "no technician" in (first[0].error or "")
    told = wait_for(lambda: [r for r in caplog.records if "solve job" in r.getMessage()], what="the log line")
    assert told[0].levelname == "WARNING" and told[0].exc_info is None  # a reason, not a crash's traceback
    assert "no technician" in told[0].getMessage()

    for _ in range(5):
        watcher.next_morning = 0.0  # as if the morning check's interval had passed each time
        watcher.tick()
    assert len(_morning_solves(app)) == 1  # not a new solve (and a logged failure) every 0.25 s

    with Session(app.state.engine) as session:  # ... but once the retry interval has passed, once more
        solve = session.get(SolveJob, first[0].id)
        assert solve is not None
        solve.created_at = utcnow() - timedelta(seconds=MORNING_RETRY_S + 1)
        session.add(solve)
        session.commit()
    watcher.next_morning = 0.0
    watcher.tick()
    assert len(_morning_solves(app)) == 2


def test_the_morning_plan_does_not_pile_its_request_onto_a_solve_waiting_to_start(client, auth, settings, app):
    """A re-plan queued (say, for new jobs) before the morning makes today's plan: the watcher's morning check
    neither appends its reason to it on every tick nor queues a second solve behind it."""
    watcher = Watcher(app.state.engine, settings.model_copy(update={"dispatch_morning_at": "00:00"}))
    watcher.tick()
    client.post("/jobs", json=job_body(settings, "light out", 2), headers=auth(Role.dispatcher))
    with Session(app.state.engine) as session:
        session.add(SolveJob(id="waiting", trigger="new jobs", reasons=["1 new job(s)"], time_limit_s=5,
                             progress=[{"at": utcnow().isoformat(), "event": "queued", "worker": _worker_id()}]))
        session.commit()
    for _ in range(4):
        watcher.next_morning = 0.0
        watcher.tick()
    with Session(app.state.engine) as session:
        waiting = session.get(SolveJob, "waiting")
        assert waiting is not None and waiting.reasons == ["1 new job(s)"]
        assert len(session.exec(select(SolveJob)).all()) == 1


def test_an_idle_watcher_asks_the_database_little(settings, app):
    """No new jobs: one query per tick; the morning check only every MORNING_CHECK_S."""
    watcher = Watcher(app.state.engine, settings.model_copy(update={"dispatch_morning_at": "00:00"}))
    watcher.tick()
    watcher.next_expiry = float("inf")  # (the orphaned-solve sweep has its own interval)
    with statements_run(app.state.engine) as statements:
        watcher.tick()  # the first one checks the morning too
        first = len([s for s in statements if s.lstrip().upper().startswith("SELECT")])
        statements.clear()
        for _ in range(5):
            watcher.tick()
    assert first >= 2
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 5
