"""Map: the day's route on a canvas (streets from the server when it offers them, the route GeoJSON or,
without it, the stops joined in order), numbered stops and the technician; hands the next stop to the
phone's navigation app through a geo: URI."""

from __future__ import annotations

import webbrowser

from kivy.properties import BooleanProperty, StringProperty
from kivy.utils import platform

from mobile_app import formatting as fmt
from mobile_app.screens import BaseScreen
from mobile_app.state import CLOSED, is_urgent


def open_uri(uri: str) -> bool:
    """Open a URI with the phone's default app (Android intent) or the desktop's handler."""
    if platform == "android":
        from jnius import autoclass  # available in python-for-android builds

        intent_cls, uri_cls = autoclass("android.content.Intent"), autoclass("android.net.Uri")
        activity = autoclass("org.kivy.android.PythonActivity").mActivity
        activity.startActivity(intent_cls(intent_cls.ACTION_VIEW, uri_cls.parse(uri)))
        return True
    return webbrowser.open(uri)


class MapScreen(BaseScreen):
    legend_text = StringProperty("")
    navigate_text = StringProperty("Navigate to next stop")
    has_next = BooleanProperty(False)
    last_uri = StringProperty("")

    def refresh(self, fit: bool = True) -> None:
        state, controller = self.app.state, self.app.controller
        # numbered in the plan's order (a finished job keeps its number), jobs off the plan after it
        planned = [s.get("job_id") for s in (state.route or {}).get("stops", [])]
        order = {job_id: n for n, job_id in enumerate(planned, start=1)}
        extra = iter(range(len(planned) + 1, len(planned) + len(state.jobs) + 1))
        stops = [{"lon": j["lon"], "lat": j["lat"], "label": str(order.get(j["id"]) or next(extra)),
                  "done": j.get("status") in CLOSED, "urgent": is_urgent(j)} for j in state.jobs]
        route = (state.route or {}).get("geometry") if state.route else None
        streets = controller.store.get("cache.streets")
        position = (state.position[1], state.position[0]) if state.position else None
        self.ids.map.set_data(streets=streets, route=route, stops=stops, position=position, fit=fit)
        nxt = state.next_job
        self.has_next = nxt is not None
        self.navigate_text = (f"Navigate to #{nxt['id']} {nxt.get('address') or ''}".strip() if nxt
                              else "No next stop")
        notes = []
        if not streets:
            notes.append("streets not available from the server")
        if self.ids.map.route_is_straight:
            notes.append("dashed = stop order, not the driving route")
        self.legend_text = (f"[b]{len(stops)} stops[/b]: [b][color=0d4db3]blue[/color][/b] to do, "
                            f"[b][color=bf1414]red[/color][/b] urgent, [b][color=737380]grey[/color][/b] done, "
                            f"[b][color=d91a8c]pink[/color][/b] you" + ("\n" + "; ".join(notes) if notes else ""))

    def navigate(self) -> None:
        nxt = self.app.state.next_job
        if nxt is None:
            return
        self.last_uri = fmt.geo_uri(nxt)
        try:
            open_uri(self.last_uri)
        except Exception as exc:  # no navigation app: say so instead of crashing
            self.app.state.alert("error", f"No navigation app could open {self.last_uri}: {exc}")

    def on_state(self, changed: set[str]) -> None:
        if changed & {"jobs", "route", "position"}:
            self.refresh(fit=False)


SCREEN = MapScreen
