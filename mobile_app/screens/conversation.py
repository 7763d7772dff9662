"""Conversation: the customer's whole history on every channel in time order (channel badge, public or
private, customer / agent / technician bubbles, media links) and a reply that goes back on their channel."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from mobile_app import formatting as fmt
from mobile_app.screens import BaseScreen

BUBBLE_COLORS = {"customer": (0.92, 0.92, 0.94, 1), "agent": (0.86, 0.91, 1, 1), "technician": (0.86, 0.96, 0.88, 1),
                 "system": (0.97, 0.95, 0.85, 1)}


class ConversationScreen(BaseScreen):
    customer_id = NumericProperty(0)
    title_text = StringProperty("")
    subtitle_text = StringProperty("")
    error_text = StringProperty("")
    reply_hint = StringProperty("")
    can_reply = BooleanProperty(False)

    def refresh(self) -> None:
        self.customer_id = self.params.get("customer_id") or 0
        controller = self.app.controller
        job_id = self.params.get("job_id")
        extra = controller.job_extra(job_id) if job_id else {}
        customer = next((c for c in extra.get("customers", []) if c["id"] == self.customer_id), {})
        self.title_text = fmt.esc(customer.get("display_name") or f"Customer {self.customer_id}")
        target = controller.reply_conversation(self.customer_id)
        channels = sorted({c.get("channel") for c in controller.store.conversations_of(self.customer_id)} - {None})
        self.subtitle_text = (f"Channels: {', '.join(fmt.CHANNELS.get(c, (c,))[0] for c in channels) or 'none'}"
                              + (f" · {fmt.esc(customer.get('address'))}" if customer.get("address") else ""))
        self.can_reply = target is not None
        self.reply_hint = (f"Reply by {fmt.CHANNELS.get(target.get('channel'), (target.get('channel'),))[0]}"
                           if target else "No conversation to reply to")
        box = self.ids.bubbles
        box.clear_widgets()
        for message in controller.history(self.customer_id):
            box.add_widget(self._bubble(message))
        self.ids.scroll.scroll_y = 0

    def _bubble(self, message: dict) -> object:
        kind = message.get("author_kind") or "customer"
        badge, color = fmt.CHANNELS.get(message.get("channel") or message.get("conversation_channel") or "",
                                        ("…", "333333"))
        visibility = message.get("visibility", "private")
        vis = "[color=0d8033]public[/color]" if visibility == "public" else "[color=b35900]private[/color]"
        when = "waiting to send" if message.get("pending") else fmt.day_clock(message.get("sent_at"))
        who = fmt.esc(message.get("author_name") or kind)
        header = f"[b][color={color}]{badge}[/color][/b] · {vis} · [b]{kind}[/b] {who} · {when}"
        text = fmt.esc(message.get("text"))
        for link in message.get("media") or []:
            text += f"\n[ref={fmt.esc(link)}][color=0d4db3][u]media: {fmt.esc(link[-40:])}[/u][/color][/ref]"
        side = "left" if kind == "customer" else "right"
        return Factory.MessageBubble(side=side, bg=BUBBLE_COLORS.get(kind, (1, 1, 1, 1)), header=header, text=text)

    def send(self) -> None:
        target = self.app.controller.reply_conversation(self.customer_id)
        if target is None:
            return
        visibility = "public" if self.ids.public.state == "down" else "private"
        try:
            self.app.controller.send_reply(target["id"], self.ids.reply.text, job_id=self.params.get("job_id"),
                                           visibility=visibility)
        except ValueError as exc:
            self.error_text = str(exc)
            return
        self.error_text, self.ids.reply.text = "", ""
        self.refresh()

    def on_state(self, changed: set[str]) -> None:
        if changed & {"pending", "last_sync_at"}:
            self.refresh()


SCREEN = ConversationScreen
