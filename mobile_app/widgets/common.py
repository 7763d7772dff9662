"""Small layout classes whose properties the .kv rules style (defined in Python so they have typed
Kivy properties before the rules apply)."""

from __future__ import annotations

from kivy.properties import ListProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout


class Card(BoxLayout):
    bg = ListProperty([0.93, 0.94, 0.96, 1])


class MessageBubble(BoxLayout):
    side = OptionProperty("left", options=["left", "right"])
    bg = ListProperty([0.92, 0.92, 0.94, 1])
    text = StringProperty("")
    header = StringProperty("")
