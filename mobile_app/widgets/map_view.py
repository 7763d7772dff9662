"""A map drawn on the Kivy canvas from GeoJSON, with no tile server: streets, the route line, numbered
stops and the technician's position; drag to pan, pinch or scroll (or +/-) to zoom.

Projection: equirectangular around the view's reference latitude, in metres (good to well under 1 %
across a city); ``scale`` is pixels per metre."""

from __future__ import annotations

import math
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Rectangle, StencilPop, StencilPush, StencilUnUse, StencilUse
from kivy.metrics import dp, sp
from kivy.properties import NumericProperty
from kivy.uix.widget import Widget

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0


class Projection:
    """lon/lat ↔ local metres around a reference point."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))

    def to_m(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * M_PER_DEG_LAT)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return (self.lon0 + x / self.kx, self.lat0 + y / M_PER_DEG_LAT)


def lines_of(geojson: dict[str, Any] | None) -> list[list[tuple[float, float]]]:
    """Every LineString / MultiLineString in a GeoJSON object as lists of (lon, lat)."""
    if not geojson:
        return []
    kind = geojson.get("type")
    if kind == "FeatureCollection":
        return [line for f in geojson.get("features", []) for line in lines_of(f)]
    if kind == "Feature":
        return lines_of(geojson.get("geometry"))
    if kind == "LineString":
        return [[(c[0], c[1]) for c in geojson["coordinates"]]]
    if kind == "MultiLineString":
        return [[(c[0], c[1]) for c in part] for part in geojson["coordinates"]]
    return []


class MapView(Widget):
    scale = NumericProperty(0.05)  # px per metre
    min_scale, max_scale = 0.002, 5.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.projection = Projection(39.29, -76.6)
        self.center_m = (0.0, 0.0)
        self.streets: list[list[tuple[float, float]]] = []
        self.route: list[list[tuple[float, float]]] = []
        self.route_is_straight = False
        self.stops: list[dict[str, Any]] = []  # {lon, lat, label, done, urgent}
        self.position: tuple[float, float] | None = None  # (lon, lat)
        self._touches: dict[Any, tuple[float, float]] = {}
        self._labels: dict[str, Any] = {}
        self.auto_fit = True  # keep everything in view until the user pans or zooms
        self.bind(pos=self.redraw, size=self._resized, scale=self.redraw)

    def _resized(self, *_args: Any) -> None:
        if self.auto_fit:
            self.fit()
        else:
            self.redraw()

    # ---- data -------------------------------------------------------------------------------------
    def set_data(self, *, streets: dict | None, route: dict | None, stops: list[dict[str, Any]],
                 position: tuple[float, float] | None, fit: bool = False) -> None:
        self.streets = lines_of(streets)
        self.route = lines_of(route)
        self.route_is_straight = not self.route and len(stops) > 1
        if self.route_is_straight:  # no route geometry on the phone: join the stops in order
            self.route = [[(s["lon"], s["lat"]) for s in stops if not s.get("done")]]
        self.stops = stops
        self.position = position
        if fit or self.auto_fit:
            self.auto_fit = True
            self.fit()
        self.redraw()

    def fit(self) -> None:
        """Centre and zoom so every stop, the position and the route fit with a margin."""
        points = [(s["lon"], s["lat"]) for s in self.stops] + [p for line in self.route for p in line]
        if self.position:
            points.append(self.position)
        if not points:
            return
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        self.projection = Projection((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
        xs, ys = zip(*(self.projection.to_m(lon, lat) for lon, lat in points), strict=True)
        span_x, span_y = max(max(xs) - min(xs), 200.0), max(max(ys) - min(ys), 200.0)
        self.center_m = ((max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2)
        # keep clear of the legend (top left) and the zoom buttons (top right): margins in px
        left, right, top, bottom = dp(30), dp(100), dp(70), dp(30)
        width, height = max(self.width - left - right, 50), max(self.height - top - bottom, 50)
        self.scale = max(self.min_scale, min(self.max_scale, min(width / span_x, height / span_y)))
        shift_x = (left + width / 2) - self.width / 2  # where the data's centre goes, from the widget's centre
        shift_y = (bottom + height / 2) - self.height / 2
        self.center_m = (self.center_m[0] - shift_x / self.scale, self.center_m[1] - shift_y / self.scale)
        self.redraw()

    # ---- geometry ---------------------------------------------------------------------------------
    def to_screen(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.projection.to_m(lon, lat)
        return (self.center_x + (x - self.center_m[0]) * self.scale,
                self.center_y + (y - self.center_m[1]) * self.scale)

    def zoom(self, factor: float, anchor: tuple[float, float] | None = None) -> None:
        anchor = anchor or self.center
        self.auto_fit = False
        new = max(self.min_scale, min(self.max_scale, self.scale * factor))
        ax = self.center_m[0] + (anchor[0] - self.center_x) / self.scale
        ay = self.center_m[1] + (anchor[1] - self.center_y) / self.scale
        self.center_m = (ax - (anchor[0] - self.center_x) / new, ay - (anchor[1] - self.center_y) / new)
        self.scale = new
        self.redraw()

    def pan(self, dx: float, dy: float) -> None:
        self.auto_fit = False
        self.center_m = (self.center_m[0] - dx / self.scale, self.center_m[1] - dy / self.scale)
        self.redraw()

    # ---- touch ------------------------------------------------------------------------------------
    def on_touch_down(self, touch):  # type: ignore[no-untyped-def]
        if not self.collide_point(*touch.pos):
            return False
        if touch.is_mouse_scrolling:
            self.zoom(1.25 if touch.button == "scrolldown" else 0.8, touch.pos)
            return True
        touch.grab(self)
        self._touches[touch.uid] = touch.pos
        return True

    def on_touch_move(self, touch):  # type: ignore[no-untyped-def]
        if touch.grab_current is not self or touch.uid not in self._touches:
            return False
        if len(self._touches) == 1:
            old = self._touches[touch.uid]
            self.pan(touch.pos[0] - old[0], touch.pos[1] - old[1])
        elif len(self._touches) >= 2:
            other = next(p for uid, p in self._touches.items() if uid != touch.uid)
            old = self._touches[touch.uid]
            before = math.dist(old, other)
            after = math.dist(touch.pos, other)
            if before > 1:
                self.zoom(after / before, ((touch.pos[0] + other[0]) / 2, (touch.pos[1] + other[1]) / 2))
        self._touches[touch.uid] = touch.pos
        return True

    def on_touch_up(self, touch):  # type: ignore[no-untyped-def]
        if touch.grab_current is self:
            touch.ungrab(self)
            self._touches.pop(touch.uid, None)
            return True
        return False

    # ---- drawing ----------------------------------------------------------------------------------
    def _label(self, text: str, size: float) -> Any:
        key = f"{text}@{size}"
        if key not in self._labels:
            label = CoreLabel(text=text, font_size=size, bold=True, color=(1, 1, 1, 1))
            label.refresh()
            self._labels[key] = label.texture
        return self._labels[key]

    def _pts(self, line: list[tuple[float, float]]) -> list[float]:
        return [v for lon, lat in line for v in self.to_screen(lon, lat)]

    def redraw(self, *_args: Any) -> None:
        self.canvas.clear()
        with self.canvas:
            StencilPush()
            Rectangle(pos=self.pos, size=self.size)
            StencilUse()
            Color(0.97, 0.96, 0.93, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(0.62, 0.62, 0.66, 1)
            street_w = max(1.0, min(3.0, self.scale * 6))
            for line in self.streets:
                if len(line) >= 2:
                    Line(points=self._pts(line), width=street_w)
            for line in self.route:
                if len(line) >= 2:
                    pts = self._pts(line)
                    Color(1, 1, 1, 1)
                    Line(points=pts, width=dp(5.5), joint="round", cap="round")
                    Color(0.05, 0.30, 0.85, 1)
                    if self.route_is_straight:
                        Line(points=pts, width=dp(2.5), dash_length=8, dash_offset=6)
                    else:
                        Line(points=pts, width=dp(3.5), joint="round", cap="round")
            radius = dp(15)
            for stop in self.stops:
                x, y = self.to_screen(stop["lon"], stop["lat"])
                Color(1, 1, 1, 1)
                Ellipse(pos=(x - radius - dp(2), y - radius - dp(2)), size=(2 * radius + dp(4),) * 2)
                if stop.get("done"):
                    Color(0.45, 0.45, 0.48, 1)
                elif stop.get("urgent"):
                    Color(0.80, 0.08, 0.08, 1)
                else:
                    Color(0.05, 0.30, 0.70, 1)
                Ellipse(pos=(x - radius, y - radius), size=(2 * radius, 2 * radius))
                texture = self._label(stop["label"], sp(15))
                Color(1, 1, 1, 1)
                Rectangle(texture=texture, pos=(x - texture.width / 2, y - texture.height / 2), size=texture.size)
            if self.position:
                x, y = self.to_screen(*self.position)
                Color(1, 1, 1, 1)
                Ellipse(pos=(x - dp(11), y - dp(11)), size=(dp(22), dp(22)))
                Color(0.85, 0.10, 0.55, 1)
                Ellipse(pos=(x - dp(8), y - dp(8)), size=(dp(16), dp(16)))
            StencilUnUse()
            Rectangle(pos=self.pos, size=self.size)
            StencilPop()
