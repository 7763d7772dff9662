"""Drives the real app offscreen through one scenario, saves screenshots and writes result.json.

Run as a subprocess (one Kivy app per process): ``python drive_app.py SCENARIO --server URL --data-dir D
--out DIR``. The environment must already hold SDL_VIDEODRIVER=offscreen, KIVY_NO_ARGS, KIVY_HOME."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from kivy.config import Config

Config.set("graphics", "width", "540")
Config.set("graphics", "height", "960")
Config.set("kivy", "exit_on_escape", "0")

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from mobile_app.app import GroundcrewApp  # noqa: E402

Step = float | Callable[[], bool]


class Driver:
    def __init__(self, app: GroundcrewApp, out: Path, args: argparse.Namespace) -> None:
        self.app, self.out, self.args = app, out, args
        self.result: dict = {"screenshots": [], "ok": False}

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state

    def screen(self, name: str):  # type: ignore[no-untyped-def]
        return self.app.sm.get_screen(name)

    def shot(self, name: str) -> None:
        # Draw the current frame first: the screenshot reads the back buffer, which after a buffer swap
        # holds an older frame (a screenshot could show a state the app had already left).
        Window.dispatch("on_draw")
        made = Window.screenshot(name=str(self.out / f"{name}.png"))
        target = self.out / f"{name}.png"
        os.replace(made, target)
        self.result["screenshots"].append(target.name)

    def finish(self, kill: bool = False) -> None:
        self.result["ok"] = True
        self.write()
        if kill:
            os._exit(0)  # like the OS killing the app: no clean shutdown
        self.app.stop()

    def write(self) -> None:
        self.result["alerts"] = [a.text for a in self.state.alerts]
        self.result["pending"] = self.state.pending
        (self.out / "result.json").write_text(json.dumps(self.result, indent=1, default=str))

    def sign_in(self, password: str) -> Iterator[Step]:
        screen = self.screen("signin")
        screen.ids.server.text = self.args.server
        screen.ids.username.text = self.args.user
        screen.ids.password.text = password
        self.state.update(sign_in_error="")
        screen.submit()
        yield lambda: bool(self.state.sign_in_error) or self.state.signed_in
        yield 0.2


def scenario_walkthrough(d: Driver) -> Iterator[Step]:
    yield from d.sign_in("wrong-password")
    d.result["wrong_password_message"] = d.screen("signin").error_text
    yield 0.3
    d.shot("01-signin-wrong-password")
    yield from d.sign_in(d.args.password)
    yield lambda: d.app.sm.current == "today" and len(d.state.jobs) > 0
    yield lambda: d.state.route is not None and d.app.controller.store.get("cache.streets") is not None
    d.screen("today").refresh()
    yield 0.5
    d.shot("02-today")
    jobs = d.state.jobs
    d.result["job_ids"] = [j["id"] for j in jobs]
    d.result["etas"] = {str(j["id"]): j.get("eta") for j in jobs}
    d.result["today_rows"] = [(row.line1, row.line3) for row in reversed(d.screen("today").ids.rows.children)]
    first = jobs[0]  # the next job of the day, in the plan's order
    d.result["first_job"] = first["id"]
    d.app.open_job(first["id"])
    yield 0.5
    d.shot("03-job")
    job_screen = d.screen("job")
    job_screen.ids.en_route.dispatch("on_release")
    yield lambda: d.state.pending == 0
    job_screen.ids.arrived.dispatch("on_release")
    yield lambda: d.state.pending == 0
    extra = d.app.controller.job_extra(first["id"])
    customer = extra["customers"][0]
    d.app.go("conversation", customer_id=customer["id"], job_id=first["id"])
    conv = d.screen("conversation")
    conv.ids.reply.text = "Hello, this is Ana from the city crew: I am on site now."
    conv.ids.send.dispatch("on_release")
    yield lambda: d.state.pending == 0
    d.app.controller.refresh()
    yield 1.0
    yield lambda: d.state.pending == 0
    conv.refresh()
    yield 0.5
    d.result["conversation_customer"] = customer["id"]
    d.shot("04-conversation")
    d.app.go("complete", job_id=first["id"])
    complete = d.screen("complete")
    complete.ids.notes.text = "Replaced the failed part; tested OK."
    complete.ids.parts.text = "2 x fuse 10A\ncable tie"
    complete.set_photo(str(d.out / "02-today.png"))
    complete.ids.signed_by.text = "J. Customer"
    complete.ids.signature.add_stroke([(0.1, 0.3), (0.2, 0.7), (0.3, 0.35), (0.45, 0.75), (0.55, 0.3), (0.7, 0.6),
                                       (0.9, 0.45)])
    yield 0.3
    d.shot("05-complete")
    complete.ids.submit.dispatch("on_release")
    yield lambda: d.state.pending == 0
    yield 0.3
    d.shot("06-job-completed")
    d.result["completed_status"] = d.state.job(first["id"])["status"]
    d.result["completed_details"] = job_screen.details_text
    d.app.go("map")
    yield 0.8
    d.shot("07-map")
    view = d.screen("map").ids.map
    d.result["map"] = {"streets": len(view.streets), "route_lines": len(view.route),
                       "route_points": sum(len(line) for line in view.route), "straight": view.route_is_straight,
                       "stops": [s["label"] for s in view.stops]}
    d.screen("map").navigate()
    d.result["geo_uri"] = d.screen("map").last_uri
    d.app.go("today")
    yield 0.5
    d.shot("08-today-after")
    d.finish()


def scenario_coming_days(d: Driver) -> Iterator[Step]:
    """Sign in; the today screen lists the coming working days of the horizon plan below today's jobs."""
    yield from d.sign_in(d.args.password)
    yield lambda: d.app.sm.current == "today" and bool(d.state.coming)
    today = d.screen("today")
    today.refresh()
    yield 0.5
    rows = today.ids.rows
    scroll = rows.parent.parent  # the ScrollColumn: to the bottom, where the coming days are, if they are below it
    if rows.parent.height > scroll.height:
        scroll.scroll_y = 0
    yield 0.5
    d.shot("09-coming-days")
    d.result["coming_text"] = today.coming
    d.result["coming_visible"] = today.ids.coming_card.height > 0 and today.ids.coming_card.opacity == 1
    d.finish()


def scenario_prepare(d: Driver) -> Iterator[Step]:
    """Sign in while the server is up, cache the day, quit."""
    yield from d.sign_in(d.args.password)
    yield lambda: d.app.sm.current == "today" and len(d.state.jobs) > 0 and d.state.pending == 0
    d.app.controller.refresh()
    yield 1.0
    d.result["job_ids"] = [j["id"] for j in d.state.jobs]
    d.finish()


def scenario_offline_actions(d: Driver) -> Iterator[Step]:
    """Server down: five actions from the cache, then the app is killed with a full outbox."""
    yield lambda: d.app.sm.current == "today" and len(d.state.jobs) > 0
    yield lambda: not d.state.online and d.state.status_text != ""
    first, second = d.state.jobs[0], d.state.jobs[1]
    controller = d.app.controller
    customer = controller.job_extra(first["id"])["customers"][0]
    conversation = controller.reply_conversation(customer["id"])
    d.app.open_job(first["id"])
    d.screen("job").ids.en_route.dispatch("on_release")
    d.screen("job").ids.arrived.dispatch("on_release")
    controller.send_reply(conversation["id"], "Offline note: on site, fixing it now.", job_id=first["id"])
    d.app.go("complete", job_id=first["id"])
    d.screen("complete").ids.notes.text = "Fixed while offline."
    d.screen("complete").ids.submit.dispatch("on_release")
    d.app.open_job(second["id"])
    d.screen("job").ids.en_route.dispatch("on_release")
    yield 0.5
    d.app.go("today")
    yield 0.5
    d.shot("offline-5-waiting")
    d.result.update(first=first["id"], second=second["id"], conversation=conversation["id"],
                    keys=[i.key for i in controller.store.pending()],
                    kinds=[(i.kind, i.job_id, i.payload.get("status") or i.payload.get("text"))
                           for i in controller.store.pending()])
    d.finish(kill=True)


def scenario_offline_job_action(d: Driver) -> Iterator[Step]:
    """Server down: 'arrived' on the job the test will reassign; killed with the action queued."""
    yield lambda: len(d.state.jobs) > 0
    job_id = int(d.args.job)
    d.app.open_job(job_id)
    d.screen("job").ids.arrived.dispatch("on_release")
    yield 0.3
    d.result["pending_keys"] = [i.key for i in d.app.controller.store.pending()]
    d.finish(kill=True)


def scenario_flush(d: Driver) -> Iterator[Step]:
    """Server back: the outbox drains by itself; screenshot the result."""
    yield lambda: d.state.online and d.state.pending == 0
    d.app.controller.refresh()
    yield 1.0
    yield lambda: d.state.pending == 0
    if d.args.job:
        d.app.open_job(int(d.args.job))
    yield 0.5
    d.shot(d.args.shot or "after-flush")
    d.result["job_ids"] = [j["id"] for j in d.state.jobs]
    d.result["rejected"] = [(i.key, i.last_error) for i in d.app.controller.store.outbox() if i.state == "rejected"]
    d.finish()


def scenario_complete_with_photo(d: Driver) -> Iterator[Step]:
    """Sign in, drive to and arrive at the first job, complete it on the screen with the photo --photo and a
    signature; wait until the outbox is empty; screenshot what the technician sees."""
    yield from d.sign_in(d.args.password)
    yield lambda: d.app.sm.current == "today" and len(d.state.jobs) > 0 and d.state.pending == 0
    job_id = d.state.jobs[0]["id"]
    d.app.open_job(job_id)
    yield 0.3
    for step in ("en_route", "arrived"):
        d.screen("job").ids[step].dispatch("on_release")
        yield lambda: d.state.pending == 0
    d.app.go("complete", job_id=job_id)
    complete = d.screen("complete")
    complete.ids.notes.text = "Replaced the lamp; photo of the pole attached."
    complete.set_photo(d.args.photo)
    complete.ids.signed_by.text = "J. Customer"
    complete.ids.signature.add_stroke([(0.1, 0.3), (0.3, 0.7), (0.5, 0.3), (0.7, 0.7), (0.9, 0.4)])
    yield 0.3
    d.shot(f"{d.args.shot or 'photo'}-1-complete")
    d.result["photo_text"] = complete.photo_text
    if d.args.until == "photo_gone":  # the file went away after it was chosen (an SD card taken out...)
        Path(d.args.photo).unlink()
        complete.ids.submit.dispatch("on_release")
        yield 0.3
        d.result.update(gone_error=complete.error_text, gone_photo_text=complete.photo_text,
                        gone_pending=d.state.pending)
        d.shot(f"{d.args.shot or 'photo'}-1b-photo-gone")
    complete.ids.submit.dispatch("on_release")
    yield lambda: d.state.pending == 0
    yield 0.5
    d.shot(f"{d.args.shot or 'photo'}-2-after")
    d.result.update(job=job_id, status=d.state.job(job_id)["status"],
                    alert_text=d.app.root_layout.alert_text,
                    outbox=[(i.state, i.payload.get("status"), i.payload.get("refused")) for i in
                            d.app.controller.store.outbox()])
    d.finish()


def scenario_return_visit(d: Driver) -> Iterator[Step]:
    """Sign in, drive to and arrive at the first job, then "Unable…" with "needs a return visit" ticked, a reason,
    an earliest day (--until) and 90 minutes of work left; a bad day first (told on the screen, nothing queued);
    wait until it is sent."""
    yield from d.sign_in(d.args.password)
    yield lambda: d.app.sm.current == "today" and len(d.state.jobs) > 0 and d.state.pending == 0
    job_id = d.state.jobs[0]["id"]
    d.app.open_job(job_id)
    yield 0.3
    screen = d.screen("job")
    for step in ("en_route", "arrived"):
        screen.ids[step].dispatch("on_release")
        yield lambda: d.state.pending == 0
    screen.asking_reason = True
    screen.ids.reason.text = "Part on order: ballast"
    screen.ids.return_visit.active = True
    screen.ids.earliest_day.text = "next tuesday"
    screen.ids.unable_confirm.dispatch("on_release")
    yield 0.3
    d.result.update(bad_day_error=screen.action_error, bad_day_pending=d.state.pending)
    screen.ids.earliest_day.text = d.args.until
    screen.ids.work_left.text = "90"
    yield 0.3
    d.shot("10-return-visit")
    d.result["day_visible"] = screen.ids.earliest_day.opacity == 1 and screen.ids.earliest_day.height > 0
    screen.ids.unable_confirm.dispatch("on_release")
    yield lambda: d.state.pending == 0
    yield 0.3
    d.result.update(job=job_id, status=d.state.job(job_id)["status"] if d.state.job(job_id) else None,
                    ticked_after=screen.ids.return_visit.active)
    d.finish()


def scenario_bad_server(d: Driver) -> Iterator[Step]:
    """Sign-in against an address where nothing listens."""
    yield from d.sign_in(d.args.password)
    d.result["message"] = d.screen("signin").error_text
    yield 0.3
    d.shot(d.args.shot or "signin-unreachable")
    d.finish()


def scenario_observe(d: Driver) -> Iterator[Step]:
    """Start with the saved session and wait until a condition named by --until holds; act; screenshot."""
    until = d.args.until
    if until == "signed_out":
        yield lambda: d.app.sm.current == "signin" and bool(d.state.sign_in_error)
        d.result["message"] = d.state.sign_in_error
    elif until == "server_error":
        yield lambda: len(d.state.jobs) > 0
        d.app.open_job(d.state.jobs[0]["id"])
        d.screen("job").ids.en_route.dispatch("on_release")
        yield lambda: "HTTP 5" in d.state.status_text or "server had a problem" in d.state.status_text
        d.app.go("today")
        d.result["message"] = d.state.status_text
        d.result["pending_after"] = d.state.pending
    elif until == "urgent_alert":
        yield lambda: d.state.online and len(d.state.jobs) > 0
        (d.out / "ready").write_text("1")
        yield lambda: any(a.kind == "urgent" for a in d.state.alerts)
        d.result["message"] = next(a.text for a in d.state.alerts if a.kind == "urgent")
    yield 0.5
    d.shot(d.args.shot or until)
    d.finish()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--server", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--user", default="ana")
    parser.add_argument("--password", default="demo-pass-1")
    parser.add_argument("--job", default=None)
    parser.add_argument("--shot", default=None)
    parser.add_argument("--until", default=None)
    parser.add_argument("--photo", default=None)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--poll", type=float, default=2.0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = GroundcrewApp(server_url=args.server, data_dir=args.data_dir, poll_interval_s=args.poll)
    driver = Driver(app, out, args)
    steps = globals()[f"scenario_{args.scenario}"](driver)
    deadline = time.monotonic() + args.timeout
    waiting: list[Step] = []

    def advance(_dt: float) -> None:
        try:
            if time.monotonic() > deadline:
                raise TimeoutError(f"scenario {args.scenario} timed out; waiting on {waiting}")
            if waiting and callable(waiting[0]) and not waiting[0]():
                Clock.schedule_once(advance, 0.1)
                return
            waiting.clear()
            step = next(steps)
            waiting.append(step)
            Clock.schedule_once(advance, step if isinstance(step, float | int) else 0.05)
        except StopIteration:
            return
        except Exception:
            driver.result["error"] = traceback.format_exc()
            driver.result["state"] = {"screen": app.sm.current, "status": app.state.status_text,
                                      "online": app.state.online, "pending": app.state.pending,
                                      "error": app.state.sign_in_error}
            driver.write()
            with_shot = out / "failure.png"
            os.replace(Window.screenshot(name=str(with_shot)), with_shot)
            app.stop()

    Clock.schedule_once(advance, 0.5)
    app.run()
    sys.exit(0 if driver.result.get("ok") else 1)


if __name__ == "__main__":
    main()
