"""One screen per module, each with its own ``.kv`` file of the same name."""

from __future__ import annotations

import importlib
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView


class BaseScreen(Screen):
    """A screen reads ``app.state`` and the controller's local store; it never calls HTTP itself."""

    params: dict[str, Any] = {}

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def on_enter(self, *_args: Any) -> None:
        """Lay out again once the screen has its real size (text wraps to the width)."""
        Clock.schedule_once(self._relayout, 0)
        Clock.schedule_once(self._relayout, 0.15)

    def _relayout(self, _dt: float) -> None:
        self.relayout()

    def relayout(self) -> None:
        """Lay out every layout in the screen now, parents before children (text wraps to the width)."""
        for widget in self.walk(restrict=True):
            if hasattr(widget, "do_layout"):
                widget.do_layout()
            elif isinstance(widget, ScrollView):
                widget.update_from_scroll()  # sizes its content to its width now, not on the next frame

    def refresh(self) -> None:
        """Redraw from the state (called when shown and every 30 s)."""

    def on_state(self, changed: set[str]) -> None:
        """The state changed while this screen is shown."""
        self.refresh()


def create(name: str) -> BaseScreen:
    module = importlib.import_module(f"mobile_app.screens.{name}")
    screen = module.SCREEN(name=name)
    screen.params = {}
    return screen
