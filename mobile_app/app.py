"""GroundcrewApp: the Kivy shell. Screens only bind to ``Controller.state`` and call controller methods;
every network call runs on the sync worker thread and comes back through the state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition

from mobile_app.controller import Controller
from mobile_app.location import PositionSource
from mobile_app.sync import EventListener

HERE = Path(__file__).resolve().parent
SCREENS = ("signin", "today", "job", "complete", "conversation", "map")
COLORS = {"online": [0.05, 0.50, 0.20, 1], "offline": [0.75, 0.08, 0.08, 1], "signed_out": [0.30, 0.32, 0.36, 1],
          "urgent": [0.75, 0.08, 0.08, 1], "reassigned": [0.80, 0.40, 0.00, 1], "error": [0.75, 0.08, 0.08, 1],
          "warning": [0.80, 0.40, 0.00, 1], "info": [0.05, 0.30, 0.70, 1]}


class RootLayout(BoxLayout):
    online_text = StringProperty("")
    pending_text = StringProperty("")
    bar_color = ListProperty(COLORS["signed_out"])
    alert_text = StringProperty("")
    alert_color = ListProperty(COLORS["info"])
    nav_visible = BooleanProperty(False)


class GroundcrewApp(App):
    title = "Groundcrew"

    def __init__(self, *, server_url: str = "", data_dir: str | None = None,
                 position: tuple[float, float] | None = None, simulate: bool = False, poll_interval_s: float = 20.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server_url = server_url
        self.data_dir_override = data_dir
        self.fixed_position = position
        self.simulate = simulate
        self.poll_interval_s = poll_interval_s
        self.events: EventListener | None = None

    # ---- life cycle -------------------------------------------------------------------------------
    def build(self) -> RootLayout:
        from mobile_app import screens
        from mobile_app.widgets import common  # noqa: F401  (registers Card, MessageBubble for the .kv rules)

        data_dir = self.data_dir_override or os.environ.get("GROUNDCREW_MOBILE_DATA_DIR") or self.user_data_dir
        self.controller = Controller(data_dir, server_url=self.server_url, poll_interval_s=self.poll_interval_s)
        self.state = self.controller.state
        Builder.load_file(str(HERE / "theme.kv"))
        Builder.load_file(str(HERE / "root.kv"))
        for name in SCREENS:
            Builder.load_file(str(HERE / "screens" / f"{name}.kv"))
        self.root_layout = RootLayout()
        self.sm = self.root_layout.ids.sm
        self.sm.transition = NoTransition()
        for name in SCREENS:
            self.sm.add_widget(screens.create(name))
        self.state.subscribe(lambda changed: Clock.schedule_once(lambda _dt: self._on_state(changed)))
        self.positions = PositionSource(self.controller, fixed=self.fixed_position, simulate=self.simulate)
        self.controller.start()
        self._on_state(set(self.state.FIELDS))
        self.go("today" if self.state.signed_in else "signin")
        if self.state.signed_in:
            self._signed_in()
        Clock.schedule_interval(lambda _dt: self._current().refresh(), 30)  # countdowns
        return self.root_layout

    def on_pause(self) -> bool:
        return True

    def on_stop(self) -> None:
        self.controller.stop()
        if self.events:
            self.events.stop()
        self.positions.stop()

    # ---- navigation -------------------------------------------------------------------------------
    def _current(self) -> Any:
        return self.sm.current_screen

    def go(self, name: str, **params: Any) -> None:
        screen = self.sm.get_screen(name)
        screen.params = params
        self.root_layout.nav_visible = name != "signin"
        self.root_layout.do_layout()  # the nav bar's height decides the screen area
        # A screen never shown has the default 100×100 at (0, 0) until the next frame: size, place and lay it
        # out now, so text wraps to the real width from the first frame (and fields filled right away too).
        screen.pos, screen.size = self.sm.pos, self.sm.size
        screen.relayout()
        screen.refresh()
        self.sm.current = name
        if self.sm.transition.is_active:
            # NoTransition still waits one frame to place the new screen and remove the old one, so that
            # frame showed the old screen above a shifted new one: finish it now.
            self.sm.transition.stop()
            screen.dispatch("on_enter")

    def open_job(self, job_id: int) -> None:
        self.go("job", job_id=job_id)

    def refresh(self) -> None:
        self.controller.refresh()

    def open_link(self, link: str) -> None:
        from mobile_app.screens.map import open_uri

        open_uri(link)

    def dismiss_alert(self) -> None:
        self.state.dismiss_alert()

    def sign_out(self) -> None:
        self.controller.sign_out()

    # ---- state → widgets ---------------------------------------------------------------------------
    def _on_state(self, changed: set[str]) -> None:
        state, root = self.state, self.root_layout
        if not state.signed_in:
            root.online_text, root.bar_color = "Signed out", COLORS["signed_out"]
        elif state.online:
            root.online_text, root.bar_color = "ONLINE", COLORS["online"]
        else:
            root.online_text, root.bar_color = "OFFLINE", COLORS["offline"]
        root.pending_text = (f"{state.pending} update{'s' if state.pending != 1 else ''} waiting" if state.pending
                             else "All sent")
        if state.alerts:
            alert = state.alerts[0]
            more = f"  (+{len(state.alerts) - 1} more)" if len(state.alerts) > 1 else ""
            root.alert_text = alert.text + more
            root.alert_color = COLORS.get(alert.kind, COLORS["info"])
        else:
            root.alert_text = ""
        if "signed_in" in changed:
            if state.signed_in and self.sm.current == "signin":
                self._signed_in()
                self.go("today")
            elif not state.signed_in and self.sm.current != "signin":
                self.go("signin")
        self._current().on_state(changed)

    def _signed_in(self) -> None:
        if self.events is None:
            self.events = EventListener(self.controller.api, lambda _event: self.controller.refresh())
            self.events.start()
        self.positions.start()
