"""Today: the next job, then the ordered route with ETA (the completion time once done), window,
priority/SLA countdown and status."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from mobile_app import formatting as fmt
from mobile_app.screens import BaseScreen
from mobile_app.state import is_urgent


class JobRow(ButtonBehavior, BoxLayout):
    job_id = NumericProperty(0)
    number = StringProperty("")
    line1 = StringProperty("")
    line2 = StringProperty("")
    line3 = StringProperty("")
    urgent = BooleanProperty(False)

    def on_release(self) -> None:
        from kivy.app import App

        App.get_running_app().open_job(self.job_id)


def describe(job: dict) -> tuple[str, str, str]:
    status_color = fmt.STATUS_COLORS.get(job.get("status", ""), "333333")
    sla_text, overdue = fmt.sla(job)
    sla_part = f"[color={'bf1414' if overdue else '333333'}]{sla_text}[/color]" if sla_text else ""
    line1 = f"{fmt.esc(job.get('title'))}  [color={status_color}]{fmt.status(job).upper()}[/color]"
    line2 = f"{fmt.esc(job.get('address') or 'no address')}"
    prio = f"P{job.get('priority')}"
    if is_urgent(job):
        prio = f"[b][color=bf1414]{prio} URGENT[/color][/b]"
    line3 = f"{fmt.when_markup(job)} · window {fmt.window(job)} · {prio}"
    return line1, line2, line3 + (f" · {sla_part}" if sla_part else "")


class TodayScreen(BaseScreen):
    next_title = StringProperty("")
    next_detail = StringProperty("")
    next_id = NumericProperty(0)
    summary = StringProperty("")
    coming = StringProperty("")  # the coming working days, tentative ("" when the server plans none)

    def refresh(self) -> None:
        state = self.app.state
        nxt = state.next_job
        if nxt:
            self.next_id = nxt["id"]
            self.next_title = f"#{nxt['id']} {fmt.esc(nxt.get('title'))}"
            sla_text, _ = fmt.sla(nxt)
            self.next_detail = (f"{fmt.esc(nxt.get('address') or '')}\nETA {fmt.clock(nxt.get('eta'))} · "
                                f"{fmt.status(nxt)}" + (f" · {sla_text}" if sla_text else ""))
        else:
            self.next_id = 0
            self.next_title = "Nothing to do right now"
            self.next_detail = "New jobs appear here as soon as they are assigned to you."
        done = sum(1 for j in state.jobs if j.get("status") in ("completed", "unable"))
        self.summary = (f"{state.full_name or state.username}: {len(state.jobs)} jobs today, {done} finished"
                        + (f"\n[color=bf1414]{fmt.esc(state.status_text)}[/color]" if state.status_text else ""))
        days = fmt.coming_days(state.coming)
        self.coming = "\n".join(f"[b]{head}[/b]\n{line}" for head, line in days)
        rows = self.ids.rows
        rows.clear_widgets()
        for index, job in enumerate(state.jobs, start=1):
            line1, line2, line3 = describe(job)
            rows.add_widget(JobRow(job_id=job["id"], number=str(index), line1=line1, line2=line2, line3=line3,
                                   urgent=is_urgent(job) and job.get("status") not in ("completed", "unable")))

    def on_state(self, changed: set[str]) -> None:
        if changed & {"jobs", "coming", "online", "status_text", "full_name"}:
            self.refresh()


SCREEN = TodayScreen
