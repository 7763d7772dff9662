"""Job: address and how sure we are of it, category, description, reporters, window, customers, notes and
the lifecycle actions (en route, arrived, completed…, unable…)."""

from __future__ import annotations

from datetime import date
from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from mobile_app import formatting as fmt
from mobile_app.screens import BaseScreen

#: The longest return visit the server takes, in minutes (five working days: server/jobs/models.py MAX_DURATION_MIN).
MAX_WORK_LEFT_MIN = 5 * 8 * 60


def return_visit(reason: str, earliest_day: str, work_left_min: str = "") -> dict[str, Any]:
    """The ``return_visit`` of an unable step: why, not before which day, and the work left in minutes (the
    follow-up's duration; blank: as long as this job). ValueError, shown on the screen, for a day that is not
    YYYY-MM-DD or minutes that are not a whole number from 1 to MAX_WORK_LEFT_MIN."""
    day = earliest_day.strip()
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ValueError("Earliest day: write it as YYYY-MM-DD, e.g. 2026-12-09.") from None
    left = work_left_min.strip()
    minutes = int(left) if left.isdigit() else None
    if left and (minutes is None or not 1 <= minutes <= MAX_WORK_LEFT_MIN):
        raise ValueError(f"Work left: whole minutes from 1 to {MAX_WORK_LEFT_MIN}, e.g. 90.")
    return {"reason": reason.strip(), **({"earliest_day": day} if day else {}),
            **({"duration_min": minutes} if minutes else {})}


class JobScreen(BaseScreen):
    job_id = NumericProperty(0)
    job_status = StringProperty("")
    title_text = StringProperty("")
    status_text = StringProperty("")
    address_text = StringProperty("")
    certainty_text = StringProperty("")
    details_text = StringProperty("")
    description_text = StringProperty("")
    notes_text = StringProperty("")
    action_error = StringProperty("")
    asking_reason = BooleanProperty(False)

    def refresh(self) -> None:
        job_id = self.params.get("job_id")
        if job_id != self.job_id:
            self.asking_reason, self.action_error = False, ""
        job = self.app.state.job(job_id) if job_id else None
        if job is None:
            self.job_id, self.job_status = 0, ""
            self.title_text = "This job is no longer on your list"
            self.status_text = self.address_text = self.certainty_text = self.details_text = ""
            self.description_text = self.notes_text = ""
            self.ids.customers.clear_widgets()
            return
        self.job_id, self.job_status = job["id"], job.get("status", "")
        self.title_text = f"#{job['id']} {fmt.esc(job.get('title'))}"
        sla_text, overdue = fmt.sla(job)
        color = fmt.STATUS_COLORS.get(self.job_status, "333333")
        self.status_text = (f"[b][color={color}]{fmt.status(job)}[/color][/b] · priority {job.get('priority')}"
                            + (f" · [color={'bf1414' if overdue else '333333'}]{sla_text}[/color]" if sla_text else ""))
        self.address_text = fmt.esc(job.get("address") or f"{job['lat']:.5f}, {job['lon']:.5f}")
        self.certainty_text = f"Location: {fmt.confidence(job)}"
        self.details_text = (f"Category: [b]{fmt.esc(job.get('category'))}[/b]\n"
                             f"Time window: [b]{fmt.window(job)}[/b]\n{fmt.when_markup(job, ':')} · "
                             f"about {job.get('duration_min', '?')} min on site")
        self.description_text = fmt.esc(job.get("description") or "—")
        extra = self.app.controller.job_extra(job["id"])
        reports = extra.get("reports", [])
        channels = {r.get("customer_id"): r.get("channel") for r in reports}
        self.notes_text = fmt.esc(job.get("notes") or "No notes from dispatch.")
        box = self.ids.customers
        box.clear_widgets()
        customers = extra.get("customers", [])
        if not customers:
            box.add_widget(Factory.WrapLabel(text="No reporter details on this phone yet." if not extra
                                             else "No customer linked to this job."))
        for customer in customers:
            badge, _ = fmt.CHANNELS.get(channels.get(customer["id"]) or "", ("?", "333333"))
            name = customer.get("display_name") or f"Customer {customer['id']}"
            address = customer.get("address")
            button = Factory.BigButton(text=f"[{badge}] {name}" + (f" — {address}" if address else ""),
                                       background_color=(0.20, 0.22, 0.26, 1), markup=False)
            button.bind(on_release=lambda _b, c=customer: self.app.go("conversation", customer_id=c["id"],
                                                                     job_id=self.job_id))
            box.add_widget(button)

    def act(self, status: str) -> None:
        try:
            self.app.controller.act_status(self.job_id, status)
        except ValueError as exc:
            self.action_error = str(exc)
            return
        self.action_error = ""
        self.refresh()

    def confirm_unable(self) -> None:
        """Unable, with a reason; ticked "needs a return visit": the server opens a follow-up job (same place and
        customers, this technician preferred) not before the earliest day when one is given."""
        reason = self.ids.reason.text
        fields: dict[str, Any] = {"reason": reason}
        try:
            if self.ids.return_visit.active:
                fields["return_visit"] = return_visit(reason, self.ids.earliest_day.text, self.ids.work_left.text)
            self.app.controller.act_status(self.job_id, "unable", **fields)
        except ValueError as exc:
            self.action_error = str(exc)
            return
        self.asking_reason, self.action_error, self.ids.reason.text = False, "", ""
        self.ids.return_visit.active, self.ids.earliest_day.text, self.ids.work_left.text = False, "", ""
        self.refresh()

    def on_state(self, changed: set[str]) -> None:
        if "jobs" in changed:
            self.refresh()


SCREEN = JobScreen
