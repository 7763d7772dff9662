"""Wires the plain parts together (API client, store, state, session file, sync engine) and offers the
screens one method per user intention. No Kivy here: the screens call these and bind to ``state``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mobile_app import media
from mobile_app.api import ApiClient, ApiError, AuthError, RequestError, Tokens, normalize_url
from mobile_app.session import SavedSession, SessionFile
from mobile_app.state import AppState
from mobile_app.store import Store
from mobile_app.sync import SyncEngine, SyncWorker

Done = Callable[[Any, Exception | None], None]
log = logging.getLogger("groundcrew.mobile")


class Controller:
    def __init__(self, data_dir: str | Path, *, server_url: str = "", poll_interval_s: float = 20.0,
                 timeout_s: float = 8.0) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.media_dir = self.data_dir / "media"
        self.sessions = SessionFile(self.data_dir)
        self.store = Store(self.data_dir / "groundcrew.sqlite3")
        self.state = AppState()
        saved = self.sessions.load()
        url = server_url or (saved.server_url if saved else "")
        if saved and server_url and normalize_url(server_url) != normalize_url(saved.server_url):
            saved = None  # another server: that session does not apply
        self.api = ApiClient(url or "http://127.0.0.1:8000", tokens=saved.tokens if saved else None,
                             timeout_s=timeout_s, on_tokens=self._tokens_changed)
        self.engine = SyncEngine(self.api, self.store, self.state, poll_interval_s=poll_interval_s)
        self.worker = SyncWorker(self.engine)
        self.saved = saved
        self.state.update(server_url=url, username=saved.username if saved else "")
        position = self.store.get("cache.position")
        if position:
            self.state.update(position=tuple(position))
        if saved and saved.tokens:
            self.state.update(signed_in=True, technician_id=saved.technician_id, full_name=saved.full_name)
        self.engine.load_cached()

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def _tokens_changed(self, tokens: Tokens | None) -> None:
        if self.saved is None:
            return
        self.saved.access_token = tokens.access_token if tokens else None
        self.saved.refresh_token = tokens.refresh_token if tokens else None
        self.sessions.save(self.saved)

    # ---- sign in / out ----------------------------------------------------------------------------
    def sign_in_now(self, server_url: str, username: str, password: str) -> None:
        """Blocking sign-in (runs on the worker); raises ApiError/ValueError with a message for the screen."""
        username = username.strip()
        if not username or not password:
            raise ValueError("Enter your user name and password.")
        url = normalize_url(server_url)
        api = ApiClient(url, timeout_s=self.api.timeout_s)
        api.sign_in(username, password)
        me = api.me()
        if me.get("role") != "technician" or me.get("technician_id") is None:
            raise AuthError(f"'{username}' is not a technician account; this app is for technicians.")
        previous = self.saved
        if previous is None or previous.server_url != url or previous.username != username:
            self.store.clear_cache()
        assert api.tokens is not None
        self.saved = SavedSession(url, username, api.tokens.access_token, api.tokens.refresh_token, api.tokens.role,
                                  me["technician_id"], me.get("full_name") or username)
        self.sessions.save(self.saved)
        self.api.base_url, self.api.tokens = url, api.tokens
        self.state.update(server_url=url, username=username, full_name=self.saved.full_name,
                          technician_id=me["technician_id"], signed_in=True, sign_in_error="", online=True,
                          status_text="")
        self.engine.tick(force_pull=True)

    def sign_in(self, server_url: str, username: str, password: str, done: Done | None = None) -> None:
        def run() -> None:
            self.state.update(busy=True, sign_in_error="")
            try:
                self.sign_in_now(server_url, username, password)
            except (ApiError, ValueError) as exc:
                message = getattr(exc, "message", None) or str(exc)
                if isinstance(exc, RequestError) and exc.status == 422:
                    message = f"The server refused the sign-in form: {message}"
                self.state.update(sign_in_error=message)
                raise
            finally:
                self.state.update(busy=False)

        self.worker.submit(run, done)

    def sign_out(self) -> None:
        """Forget the tokens (the outbox and the cache stay on the device) and revoke them on the server when it
        can be reached (best effort: signed out here either way)."""
        tokens = self.api.tokens
        self.sessions.clear_tokens()
        self.api.tokens = None
        self.state.update(signed_in=False, online=False)
        if tokens is not None:
            self.worker.submit(lambda: self.api.logout(tokens))

    # ---- actions ----------------------------------------------------------------------------------
    def act_status(self, job_id: int, status: str, **fields: Any) -> None:
        self.engine.act_status(job_id, status, **fields)
        self.worker.nudge()

    def complete(self, job_id: int, *, notes: str, parts_used: list[dict[str, Any]] | None = None,
                 photo: str | Path | None = None, signature_png: str | Path | None = None,
                 signed_by: str | None = None) -> None:
        """Queue the completion. The photo is copied into the media folder resized, upright and without metadata
        (GPS...), the exported signature bounded (media.py), so the outbox holds what is sent and nothing else.
        OSError when the photo cannot be read at all."""
        files: list[dict[str, Any]] = []
        if photo:
            prepared = media.prepare_photo(photo, self.media_dir, job_id=job_id)
            files.append({"kind": "photo", "path": str(prepared.path), "name": prepared.name})
        if signature_png:
            try:
                media.prepare_signature(signature_png)
            except Exception:  # our own PNG export: sent as exported if it cannot be re-encoded here
                log.warning("signature %s kept as exported", signature_png, exc_info=True)
            files.append({"kind": "signature", "path": str(signature_png), "name": "signature.png"})
        self.act_status(job_id, "completed", notes=notes, parts_used=parts_used or [], attachments=files,
                        signed_by=signed_by)

    def send_reply(self, conversation_id: int, text: str, *, job_id: int | None = None,
                   visibility: str = "public") -> None:
        self.engine.act_message(conversation_id, text, job_id=job_id, visibility=visibility)
        self.worker.nudge()

    def refresh(self, done: Done | None = None) -> None:
        self.worker.submit(lambda: self.engine.tick(force_pull=True), done)

    def report_position(self, lat: float, lon: float, accuracy_m: float | None = None) -> None:
        self.worker.submit(lambda: self.engine.send_location(lat, lon, accuracy_m))

    # ---- reads for screens (local store only: instant and offline) -------------------------------
    def job_extra(self, job_id: int) -> dict[str, Any]:
        return self.store.job_extra(job_id)

    def history(self, customer_id: int) -> list[dict[str, Any]]:
        """Every message of the customer on every channel, oldest first, with queued replies at the end."""
        messages = []
        conversations = self.store.conversations_of(customer_id)
        for conversation in conversations:
            for message in conversation.get("messages", []):
                messages.append({**message, "conversation_channel": conversation.get("channel")})
        messages.sort(key=lambda m: (m.get("sent_at") or "", m.get("id") or 0))
        sent_keys = {m.get("external_id") for m in messages}
        ids = {c["id"] for c in conversations}
        for item in self.store.pending():
            if item.kind == "message" and item.target_id in ids and item.key not in sent_keys:
                messages.append({"text": item.payload["text"], "author_kind": "technician", "direction": "outbound",
                                 "visibility": item.payload.get("visibility", "public"), "channel": None,
                                 "sent_at": None, "pending": True, "media": [], "author_name": "You"})
        return messages

    def reply_conversation(self, customer_id: int) -> dict[str, Any] | None:
        """The conversation a reply goes into: the customer's most recently active thread."""
        conversations = self.store.conversations_of(customer_id)
        if not conversations:
            return None
        return max(conversations, key=lambda c: (c.get("last_message_at") or "", c["id"]))
