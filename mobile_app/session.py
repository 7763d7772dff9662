"""Where the app keeps its files, and the signed-in session (server address, user, tokens).

Tokens live in ``session.json`` inside the app's data directory, written atomically with mode 0600:
on Android that directory is the app's private storage (``/data/data/<package>/files``, unreadable by
other apps); on the desktop it is Kivy's user data dir (``~/.config/groundcrew`` on Linux) or
``--data-dir`` / ``GROUNDCREW_MOBILE_DATA_DIR``. Signing out deletes the file; the outbox is kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from mobile_app.api import Tokens


@dataclass
class SavedSession:
    server_url: str
    username: str
    access_token: str | None = None
    refresh_token: str | None = None
    role: str | None = None
    technician_id: int | None = None
    full_name: str = ""

    @property
    def tokens(self) -> Tokens | None:
        return Tokens(self.access_token, self.refresh_token, self.role) if self.access_token else None


class SessionFile:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "session.json"

    def load(self) -> SavedSession | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return SavedSession(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, session: SavedSession) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(session), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def clear_tokens(self) -> None:
        """Forget the tokens but remember the server and the user name for the sign-in form."""
        saved = self.load()
        if saved:
            saved.access_token = saved.refresh_token = None
            self.save(saved)
