"""Sign in: server address, user name and password; errors in plain words."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from mobile_app.screens import BaseScreen


class SignInScreen(BaseScreen):
    error_text = StringProperty("")
    busy = BooleanProperty(False)

    def refresh(self) -> None:
        state = self.app.state
        if not self.ids.server.text:
            self.ids.server.text = state.server_url
        if not self.ids.username.text:
            self.ids.username.text = state.username
        self.error_text = state.sign_in_error
        self.busy = state.busy

    def submit(self) -> None:
        if self.busy:
            return
        self.error_text = ""
        self.app.controller.sign_in(self.ids.server.text, self.ids.username.text, self.ids.password.text)

    def on_state(self, changed: set[str]) -> None:
        self.refresh()
        if "signed_in" in changed and self.app.state.signed_in:
            self.ids.password.text = ""


SCREEN = SignInScreen
