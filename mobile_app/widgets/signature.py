"""A signature pad: finger strokes drawn as lines, exported to PNG for the completion report."""

from __future__ import annotations

from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import dp
from kivy.uix.widget import Widget


class SignaturePad(Widget):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.strokes: list[list[float]] = []
        self.bind(pos=self._redraw, size=self._redraw)

    @property
    def is_empty(self) -> bool:
        return not any(len(s) >= 4 for s in self.strokes)

    def clear(self) -> None:
        self.strokes = []
        self._redraw()

    def add_stroke(self, points: list[tuple[float, float]]) -> None:
        """Points relative to the pad (0..1 each axis); used by tests and by touch."""
        self.strokes.append([v for x, y in points for v in (x, y)])
        self._redraw()

    def on_touch_down(self, touch):  # type: ignore[no-untyped-def]
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        self.strokes.append(list(self._rel(touch.pos)))
        self._redraw()
        return True

    def on_touch_move(self, touch):  # type: ignore[no-untyped-def]
        if touch.grab_current is self and self.collide_point(*touch.pos):
            self.strokes[-1].extend(self._rel(touch.pos))
            self._redraw()
            return True
        return super().on_touch_move(touch)

    def on_touch_up(self, touch):  # type: ignore[no-untyped-def]
        if touch.grab_current is self:
            touch.ungrab(self)
            return True
        return super().on_touch_up(touch)

    def _rel(self, pos: tuple[float, float]) -> tuple[float, float]:
        return ((pos[0] - self.x) / max(1, self.width), (pos[1] - self.y) / max(1, self.height))

    def _redraw(self, *_args: object) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(0.6, 0.6, 0.65, 1)
            Line(points=[self.x + dp(12), self.y + dp(24), self.right - dp(12), self.y + dp(24)], width=1)
            Color(0.02, 0.05, 0.25, 1)
            for stroke in self.strokes:
                pts = [self.x + v * self.width if i % 2 == 0 else self.y + v * self.height
                       for i, v in enumerate(stroke)]
                if len(pts) >= 4:
                    Line(points=pts, width=dp(1.6))
