"""Completing a job: notes, parts used, a photo (camera on the phone, a file on the desktop) and the
customer's signature. Photo and signature are copied into the app's media folder before the action is
queued, so the outbox never points at a file that may go away: the photo resized to 1600 px, upright, without
its metadata (GPS position, phone model), see mobile_app/media.py."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.utils import platform

from mobile_app import media
from mobile_app.screens import BaseScreen

PART_LINE = re.compile(r"^\s*(?:(\d+(?:[.,]\d+)?)\s*[x×*]\s*)?(.+?)\s*$")


def parse_parts(text: str) -> list[dict]:
    """'2 x fuse' → {'part': 'fuse', 'quantity': 2.0}; a line without a count means one."""
    parts = []
    for line in text.splitlines():
        match = PART_LINE.match(line)
        if match and match.group(2):
            parts.append({"part": match.group(2)[:120], "quantity": float((match.group(1) or "1").replace(",", "."))})
    return parts


class CompleteScreen(BaseScreen):
    job_id = NumericProperty(0)
    title_text = StringProperty("")
    photo_path = StringProperty("")
    photo_text = StringProperty("No photo")
    error_text = StringProperty("")
    has_camera = BooleanProperty(platform == "android")

    def refresh(self) -> None:
        job_id = self.params.get("job_id") or 0
        if job_id != self.job_id:
            self.job_id = job_id
            self.ids.notes.text = self.ids.parts.text = self.ids.signed_by.text = ""
            self.ids.signature.clear()
            self.set_photo("")
            self.error_text = ""
        job = self.app.state.job(job_id)
        self.title_text = f"Complete #{job_id}" + (f" {job.get('title')}" if job else "")

    def set_photo(self, path: str) -> None:
        """The photo to send (resized and stripped of its metadata when the job is marked completed)."""
        if path:
            try:
                media.check_photo(path)
            except media.PhotoError as exc:
                self.error_text = str(exc)
                return
            self.error_text = ""
        self.photo_path = path
        self.photo_text = Path(path).name if path else "No photo"

    def pick_photo(self) -> None:
        media = self.app.controller.media_dir
        media.mkdir(parents=True, exist_ok=True)
        if self.has_camera:
            from plyer import camera

            target = media / f"photo-{uuid.uuid4().hex[:8]}.jpg"
            camera.take_picture(filename=str(target), on_complete=lambda path: self.set_photo(path or ""))
            return
        from kivy.uix.filechooser import FileChooserListView
        from kivy.uix.popup import Popup

        chooser = FileChooserListView(path=str(Path.home()), filters=["*.png", "*.jpg", "*.jpeg"])
        popup = Popup(title="Choose a photo", content=chooser, size_hint=(0.95, 0.9))
        chooser.bind(on_submit=lambda _c, selection, _touch: (self.set_photo(selection[0]), popup.dismiss()))
        popup.open()

    def submit(self) -> None:
        media_dir = self.app.controller.media_dir
        media_dir.mkdir(parents=True, exist_ok=True)
        notes = self.ids.notes.text.strip()
        if not notes:
            self.error_text = "Write what was done."
            return
        signature = None
        if not self.ids.signature.is_empty:
            signature = media_dir / f"job{self.job_id}-signature-{uuid.uuid4().hex[:8]}.png"
            self.ids.signature.export_to_png(str(signature))
        try:
            self.app.controller.complete(self.job_id, notes=notes, parts_used=parse_parts(self.ids.parts.text),
                                         photo=self.photo_path or None, signature_png=signature,
                                         signed_by=self.ids.signed_by.text.strip() or None if signature else None)
        except OSError as exc:
            name = Path(self.photo_path).name
            self.set_photo("")  # so that a second tap completes the job without it
            self.error_text = (f"Cannot read the photo '{name}' ({exc.strerror or exc}); it was taken off. Choose it "
                               f"again, or tap Mark completed to complete without a photo.")
            return
        taken = Path(self.photo_path) if self.photo_path else None
        if taken is not None and taken.parent == media_dir and taken.name.startswith("photo-"):
            taken.unlink(missing_ok=True)  # the camera's full-size original (with its GPS position): sent resized
        self.error_text = ""
        self.app.go("job", job_id=self.job_id)


SCREEN = CompleteScreen
