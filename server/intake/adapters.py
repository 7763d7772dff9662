"""Channel adapters: each turns one provider's inbound payload into the channel-neutral ``InboundMessage``
(plus the reach and addressing facts triage and the listening feed need). Bad payloads raise ``Invalid``
naming the field; nothing is stored by an adapter."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from server.conversations.models import MAX_TEXT, InboundMessage, LinkedHandle, Visibility
from server.core.errors import Invalid
from server.customers.models import Channel


@dataclass
class Normalized:
    """One inbound message in the common shape, with what the pipeline needs besides."""

    inbound: InboundMessage
    followers: int = 0
    reposts: int = 0
    addressed_to_us: bool = True
    known_address: str | None = None
    stated_address: str | None = None  # an address typed in the form's address field: where the problem is
    meta: dict[str, Any] = field(default_factory=dict)  # provider facts kept on the stored message (x_user_id, ...)
    sender_authenticated: bool | None = None  # email: the From passed SPF/DKIM/DMARC (None: not applicable)


@dataclass
class Skipped:
    """A provider event acknowledged and stored raw, but not filed: ``outcome`` is ``own`` (our own post, DM,
    echo), ``ignored`` (a kind we do not use), ``invalid`` (malformed; ``detail`` names the field) or an SMS
    keyword outcome (``opt_out``, ``opt_in``, ``help``)."""

    kind: str
    outcome: str
    detail: str
    external_id: str | None = None


def build(**fields: Any) -> InboundMessage:
    """An ``InboundMessage``, or ``Invalid`` naming the first bad field."""
    text = fields.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise Invalid(f"text: {len(text)} characters is longer than the {MAX_TEXT} allowed")
    try:
        return InboundMessage(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        msg = first["msg"].removeprefix("Value error, ")
        raise Invalid(f"{where}: {msg}" if not msg.startswith(f"{where}:") else msg) from None


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        stamp = float(value) / (1000 if value > 10**11 else 1)
        try:
            return datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            raise Invalid(f"{field}: {value} is not a time in seconds or milliseconds since 1970") from None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        raise Invalid(f"{field}: '{value}' is not an ISO 8601 time") from None


def _count(value: Any) -> int:
    """A provider's counter (followers, retweets): 0 when absent or not a number (it only weighs a post)."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


def _need(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or obj.get(key) in (None, ""):
        raise Invalid(f"{where}.{key}: required")
    return obj[key]


# ------------------------------------------------------------------------------------------- X / Twitter
@functools.cache
def our_handles(spec: str) -> frozenset[str]:
    """Our social handles from the comma-separated setting, lower case without '@' (parsed once per spec)."""
    return frozenset(h.strip().lstrip("@").lower() for h in spec.split(",") if h.strip())


@functools.cache
def our_ids(spec: str) -> frozenset[str]:
    """Numeric account ids from a comma-separated setting (parsed once per spec)."""
    return frozenset(i.strip() for i in spec.split(",") if i.strip())


def _is_brand(user_id: str, username: str, *, handles: frozenset[str], brand_ids: frozenset[str]) -> bool:
    return bool(user_id and user_id in brand_ids) or bool(username and username.lower().lstrip("@") in handles)


def twitter(payload: Any, *, handles: frozenset[str], brand_ids: frozenset[str] = frozenset()
            ) -> list[Normalized | Skipped]:
    """Any of X's webhook shapes: an Account Activity delivery (``for_user_id`` with ``tweet_create_events`` /
    ``direct_message_events`` / other kinds), an X Activity API envelope (``data.event_type``), or X API v2 tweet
    payload(s) (``data`` with ``includes``). The brand's own posts and DMs (``for_user_id``, the filtered user, our
    ids or handles) come back as ``Skipped``, as do kinds we do not use."""
    if not isinstance(payload, Mapping):
        raise Invalid("body: expected a JSON object")
    if "for_user_id" in payload:
        return _account_activity(payload, handles=handles, brand_ids=brand_ids)
    data = payload.get("data")
    if isinstance(data, Mapping) and "event_type" in data:
        return _activity_event(data, handles=handles, brand_ids=brand_ids)
    return _v2_tweets(payload, handles=handles, brand_ids=brand_ids)


def _v2_tweets(payload: Mapping[str, Any], *, handles: frozenset[str], brand_ids: frozenset[str],
               filtered_user: str = "", addressed: bool | None = None) -> list[Normalized | Skipped]:
    """X API v2 tweet payload(s): ``data`` (one tweet or a list), ``includes.users`` / ``places`` / ``media``."""
    data = payload.get("data")
    tweets = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else None
    if not tweets:
        raise Invalid("data: required (a tweet object or a list of them)")
    includes = payload.get("includes") or {}
    if not isinstance(includes, Mapping):
        raise Invalid("includes: expected an object")
    users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, Mapping)}
    places = {str(p.get("id")): p for p in includes.get("places") or [] if isinstance(p, Mapping)}
    media = {str(m.get("media_key")): m for m in includes.get("media") or [] if isinstance(m, Mapping)}
    out: list[Normalized | Skipped] = []
    for i, tweet in enumerate(tweets):
        where = f"data[{i}]" if isinstance(data, list) else "data"
        if not isinstance(tweet, Mapping):
            raise Invalid(f"{where}: expected a tweet object")
        tweet_id = str(_need(tweet, "id", where))
        text = _need(tweet, "text", where)
        author_id = str(_need(tweet, "author_id", where))
        user = users.get(author_id, {})
        username = str(user.get("username") or author_id)
        if author_id == filtered_user or _is_brand(author_id, username, handles=handles, brand_ids=brand_ids):
            out.append(Skipped("tweet", "own", f"{where}: our own post (author {author_id})", tweet_id))
            continue
        lat = lon = None
        place_name = None
        geo = tweet.get("geo") or {}
        coords = (geo.get("coordinates") or {}).get("coordinates") if isinstance(geo, Mapping) else None
        if coords is not None:
            if not (isinstance(coords, list) and len(coords) == 2 and all(isinstance(c, (int, float)) for c in coords)):
                raise Invalid(f"{where}.geo.coordinates.coordinates: expected [longitude, latitude]")
            lon, lat = float(coords[0]), float(coords[1])
        if isinstance(geo, Mapping) and geo.get("place_id") and str(geo["place_id"]) in places:
            place_name = places[str(geo["place_id"])].get("full_name")
        replied = [r for r in tweet.get("referenced_tweets") or [] if isinstance(r, Mapping)
                   and r.get("type") == "replied_to"]
        reply_to = str(replied[0]["id"]) if replied and replied[0].get("id") else None
        mentions = {str(m.get("username", "")).lower() for m in (tweet.get("entities") or {}).get("mentions") or []
                    if isinstance(m, Mapping)}
        mentions |= {m.lower() for m in re.findall(r"@(\w{1,30})", str(text))}
        ours = {str(u["id"]) for u in users.values() if str(u.get("username", "")).lower() in handles} | brand_ids
        if filtered_user:
            ours.add(filtered_user)
        mention_ids = {str(m.get("id") or "") for m in (tweet.get("entities") or {}).get("mentions") or []
                       if isinstance(m, Mapping)}
        to_us = addressed if addressed is not None else (
            bool(mentions & handles) or bool(mention_ids & ours)
            or (reply_to is not None and str(tweet.get("in_reply_to_user_id", "")) in ours))
        keys = (tweet.get("attachments") or {}).get("media_keys") or []
        links = [str(media[k].get("url") or media[k].get("preview_image_url")) for k in keys
                 if k in media and (media[k].get("url") or media[k].get("preview_image_url"))]
        metrics = tweet.get("public_metrics") or {}
        inbound = build(
            channel=Channel.twitter, external_id=tweet_id, author_handle=username,
            author_name=user.get("name") or username, author_verified=True, text=text,
            sent_at=_time(tweet.get("created_at"), f"{where}.created_at"), visibility=Visibility.public,
            lat=lat, lon=lon, place_name=place_name, media=links[:10], reply_to_external_id=reply_to,
            thread_id=str(tweet.get("conversation_id")) if tweet.get("conversation_id") else None,
        )
        out.append(Normalized(inbound, followers=_count((user.get("public_metrics") or {}).get("followers_count")),
                              reposts=_count(metrics.get("retweet_count")) + _count(metrics.get("quote_count")),
                              addressed_to_us=to_us, meta={"x_user_id": author_id}))
    return out


_X_V1_TIME = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"


def _x_v1_time(value: Any, where: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(str(value), _X_V1_TIME)
    except ValueError:
        return _time(value, where)


def _account_activity(payload: Mapping[str, Any], *, handles: frozenset[str], brand_ids: frozenset[str]
                      ) -> list[Normalized | Skipped]:
    """An Account Activity API delivery: ``for_user_id`` (our subscribed account) and one event list."""
    for_user = str(payload.get("for_user_id") or "")
    if not for_user:
        raise Invalid("for_user_id: required")
    ours = brand_ids | {for_user}
    out: list[Normalized | Skipped] = []
    for kind, events in payload.items():
        if kind in ("for_user_id", "users", "apps", "is_blocked_by", "source", "target"):
            continue
        if kind == "tweet_create_events" and isinstance(events, list):
            out += [_aa_tweet(t, f"tweet_create_events[{i}]", for_user, ours, handles) for i, t in enumerate(events)]
        elif kind == "direct_message_events" and isinstance(events, list):
            users = payload.get("users") if isinstance(payload.get("users"), Mapping) else {}
            out += [_aa_dm(e, f"direct_message_events[{i}]", ours, handles, users) for i, e in enumerate(events)]
        else:
            out.append(Skipped(str(kind)[:80], "ignored", f"{kind}: an event kind we do not use"))
    if not out:
        raise Invalid("for_user_id: the delivery holds no event list")
    return out


def _aa_tweet(tweet: Any, where: str, for_user: str, ours: frozenset[str], handles: frozenset[str]
              ) -> Normalized | Skipped:
    """A v1.1 tweet object from ``tweet_create_events``: a mention of us, a reply to us, or our own post."""
    if not isinstance(tweet, Mapping):
        raise Invalid(f"{where}: expected a tweet object")
    tweet_id = str(tweet.get("id_str") or _need(tweet, "id", where))
    user = tweet.get("user") if isinstance(tweet.get("user"), Mapping) else {}
    author_id = str(user.get("id_str") or user.get("id") or "")
    if not author_id:
        raise Invalid(f"{where}.user.id_str: required")
    screen_name = str(user.get("screen_name") or author_id)
    if _is_brand(author_id, screen_name, handles=handles, brand_ids=ours):
        return Skipped("tweet_create_events", "own", f"{where}: our own post (author {author_id})", tweet_id)
    if isinstance(tweet.get("retweeted_status"), Mapping):
        return Skipped("tweet_create_events", "ignored", f"{where}: a retweet, not a message to us", tweet_id)
    extended = tweet.get("extended_tweet") if isinstance(tweet.get("extended_tweet"), Mapping) else {}
    text = extended.get("full_text") or tweet.get("full_text") or tweet.get("text")
    if not isinstance(text, str):
        raise Invalid(f"{where}.text: required")
    entities = extended.get("entities") or tweet.get("entities") or {}
    mentions = {str(m.get("id_str") or m.get("id") or "") for m in entities.get("user_mentions") or []
                if isinstance(m, Mapping)}
    mentioned_names = {str(m.get("screen_name") or "").lower() for m in entities.get("user_mentions") or []
                       if isinstance(m, Mapping)}
    reply_to_user = str(tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id") or "")
    addressed = bool(mentions & ours) or bool(mentioned_names & handles) or reply_to_user in ours
    lat = lon = None
    coords = (tweet.get("coordinates") or {}).get("coordinates") if isinstance(tweet.get("coordinates"),
                                                                                Mapping) else None
    if isinstance(coords, list) and len(coords) == 2 and all(isinstance(c, (int, float)) for c in coords):
        lon, lat = float(coords[0]), float(coords[1])
    place = tweet.get("place") if isinstance(tweet.get("place"), Mapping) else {}
    media_list = ((extended.get("extended_entities") or tweet.get("extended_entities") or {}).get("media")
                  or entities.get("media") or [])
    links = [str(m.get("media_url_https") or m.get("media_url")) for m in media_list
             if isinstance(m, Mapping) and (m.get("media_url_https") or m.get("media_url"))]
    reply_to = tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")
    inbound = build(
        channel=Channel.twitter, external_id=tweet_id, author_handle=screen_name,
        author_name=str(user.get("name") or screen_name), author_verified=True, text=text,
        sent_at=_x_v1_time(tweet.get("created_at"), f"{where}.created_at"), visibility=Visibility.public,
        lat=lat, lon=lon, place_name=place.get("full_name") or None, media=links[:10],
        reply_to_external_id=str(reply_to) if reply_to else None,
        thread_id=str(reply_to) if reply_to else tweet_id,
    )
    return Normalized(inbound, followers=_count(user.get("followers_count")),
                      reposts=_count(tweet.get("retweet_count")) + _count(tweet.get("quote_count")),
                      addressed_to_us=addressed, meta={"x_user_id": author_id})


def _dm_thread(a: str, b: str) -> str:
    """X's one-to-one conversation id: the two user ids, smaller first."""
    lo, hi = sorted((a, b), key=lambda s: (len(s), s))
    return f"dm:{lo}-{hi}"


def _aa_dm(event: Any, where: str, ours: frozenset[str], handles: frozenset[str], users: Mapping[str, Any]
           ) -> Normalized | Skipped:
    """One ``direct_message_events`` item (``type: message_create``): a DM to us, or one we sent."""
    if not isinstance(event, Mapping):
        raise Invalid(f"{where}: expected an event object")
    event_id = str(_need(event, "id", where))
    if event.get("type") != "message_create":
        return Skipped(f"direct_message_events.{event.get('type')}"[:80], "ignored",
                       f"{where}.type: '{event.get('type')}' is not a message", event_id)
    create = event.get("message_create")
    if not isinstance(create, Mapping):
        raise Invalid(f"{where}.message_create: required")
    sender = str(_need(create, "sender_id", f"{where}.message_create"))
    recipient = str((create.get("target") or {}).get("recipient_id") or "")
    user = _user_object(users.get(sender))
    screen_name = str(user.get("screen_name") or user.get("username") or sender)
    if _is_brand(sender, screen_name, handles=handles, brand_ids=ours):
        return Skipped("direct_message_events", "own", f"{where}: a DM we sent", event_id)
    data = create.get("message_data") if isinstance(create.get("message_data"), Mapping) else {}
    attachment = data.get("attachment") if isinstance(data.get("attachment"), Mapping) else {}
    media = attachment.get("media") if isinstance(attachment.get("media"), Mapping) else {}
    links = [str(media.get("media_url_https") or media.get("media_url"))] if (
        media.get("media_url_https") or media.get("media_url")) else []
    text = str(data.get("text") or "").strip() or _placeholder(links)
    inbound = build(
        channel=Channel.twitter, external_id=event_id, author_handle=screen_name,
        author_name=str(user.get("name") or screen_name), author_verified=True, text=text,
        sent_at=_time(int(event["created_timestamp"]), f"{where}.created_timestamp")
        if str(event.get("created_timestamp") or "").isdigit() else None,
        visibility=Visibility.private, media=links, thread_id=_dm_thread(sender, recipient or "us"),
    )
    meta: dict[str, Any] = {"x_user_id": sender, "x_dm": True}
    # A tapped quick reply option: its metadata, which we wrote (https://developer.x.com/content/developer-twitter/
    # en/docs/direct-messages/sending-and-receiving/guides/message-create-object); the text is the option's label.
    answered = data.get("quick_reply_response") if isinstance(data.get("quick_reply_response"), Mapping) else {}
    if answered.get("type") == "options" and isinstance(answered.get("metadata"), str) and answered["metadata"]:
        meta["quick_reply_payload"] = answered["metadata"][:1000]
    return Normalized(inbound, meta=meta)


def _user_object(value: Any) -> Mapping[str, Any]:
    """A user from a ``users`` map or ``includes.users``: v1.1 objects as they are, v2 ones unwrapped from
    ``{"data": {...}}`` (the X Activity API wraps them)."""
    if not isinstance(value, Mapping):
        return {}
    inner = value.get("data")
    return inner if isinstance(inner, Mapping) else value


_POSTS_TO_US = ("post.mention.create", "post.reply.create", "post.quote.create")


def _activity_event(data: Mapping[str, Any], *, handles: frozenset[str], brand_ids: frozenset[str]
                    ) -> list[Normalized | Skipped]:
    """An X Activity API envelope (``event_uuid``, ``filter``, ``event_type``, ``payload``, ``includes``;
    https://docs.x.com/x-api/activity/event-payloads): ``post.mention.create`` / ``post.reply.create`` /
    ``post.quote.create`` (a Post object by someone else, about our filtered user), ``post.create`` (our own post
    when filtered by our user id), ``dm.received`` / ``dm.sent`` (``direct_message_events`` plus a ``users`` map,
    as in the Account Activity API); every other kind is kept and ignored."""
    kind = str(data.get("event_type") or "")
    filt = data.get("filter") if isinstance(data.get("filter"), Mapping) else {}
    filtered_user = str(filt.get("user_id") or "")
    payload = data.get("payload")
    uuid = str(data.get("event_uuid") or "") or None
    includes = data.get("includes") if isinstance(data.get("includes"), Mapping) else {}
    ours = brand_ids | ({filtered_user} if filtered_user else frozenset())
    if kind in ("post.create", *_POSTS_TO_US) and isinstance(payload, Mapping):
        users = [_user_object(u) for u in includes.get("users") or [] if isinstance(u, Mapping)]
        return _v2_tweets({"data": payload, "includes": {**includes, "users": users}}, handles=handles,
                          brand_ids=brand_ids, filtered_user=filtered_user,
                          addressed=True if kind in _POSTS_TO_US else None)
    if kind in ("dm.received", "dm.sent") and isinstance(payload, Mapping):
        events = payload.get("direct_message_events")
        if not isinstance(events, list) or not events:
            raise Invalid(f"payload.direct_message_events: required for {kind}")
        users = payload.get("users") if isinstance(payload.get("users"), Mapping) else {}
        return [_aa_dm(e, f"payload.direct_message_events[{i}]", frozenset(ours), handles, users)
                for i, e in enumerate(events)]
    return [Skipped(kind[:80] or "unknown", "ignored", f"event_type: '{kind}' is an event kind we do not use",
                    uuid)]


def _placeholder(links: list[str], what: str = "photo") -> str:
    """The text of a message that is only media (kept as attachments): never blank, never invented content."""
    return f"({what} without text)" if len(links) <= 1 else f"({len(links)} {what}s without text)"


# ------------------------------------------------------------------------------------------- Facebook page
_MESSAGING_KINDS = ("reaction", "read", "delivery", "postback", "optin", "referral", "account_linking",
                    "message_edit", "pass_thread_control", "take_thread_control", "request_thread_control",
                    "policy_enforcement", "app_roles", "game_play", "feedback")


def facebook(payload: Any) -> list[Normalized | Skipped]:
    """A Meta page webhook (``object: page``): ``entry[].changes[]`` (Page feed posts, comments, photos) and
    ``entry[].messaging[]`` / ``standby[]`` (Messenger). Messages from visitors become ``Normalized``; our own
    page's posts and echoes, reactions, edits, receipts and every other kind come back as ``Skipped``."""
    if not isinstance(payload, Mapping):
        raise Invalid("body: expected a JSON object")
    if payload.get("object") != "page":
        raise Invalid(f"object: expected 'page' (a Facebook page webhook), got '{str(payload.get('object'))[:40]}'")
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        raise Invalid("entry: required (a list)")
    out: list[Normalized | Skipped] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise Invalid(f"entry[{i}]: expected an object")
        page_id = str(entry.get("id", ""))
        for j, change in enumerate(entry.get("changes") or []):
            out.append(_fb_change(change, f"entry[{i}].changes[{j}]", page_id))
        for key in ("messaging", "standby"):
            for j, event in enumerate(entry.get(key) or []):
                out.append(_fb_messaging(event, f"entry[{i}].{key}[{j}]", page_id))
    if not out:
        raise Invalid("entry: no changes[] or messaging[] in this delivery")
    return out


def _fb_change(change: Any, where: str, page_id: str) -> Normalized | Skipped:
    value = change.get("value") if isinstance(change, Mapping) else None
    if not isinstance(value, Mapping):
        raise Invalid(f"{where}.value: required")
    field, item, verb = str(change.get("field")), str(value.get("item") or ""), str(value.get("verb") or "add")
    kind = f"{field}.{item}.{verb}"[:80]
    item_id = str(value.get("comment_id") or value.get("post_id") or value.get("photo_id") or "") or None
    if field != "feed":
        return Skipped(kind, "ignored", f"{where}.field: '{field}' is a kind we do not use", item_id)
    if verb != "add":
        return Skipped(kind, "ignored", f"{where}.value.verb: '{verb}' (edits and removals are kept, not filed)",
                       item_id)
    if item not in ("post", "status", "comment", "photo", "video"):
        return Skipped(kind, "ignored", f"{where}.value.item: '{item}' is a kind we do not use", item_id)
    sender = value.get("from") or {}
    sender_id = str(_need(sender, "id", f"{where}.value.from"))
    if sender_id == page_id:
        return Skipped(kind, "own", f"{where}: our own page's post or reply", item_id)
    if not item_id:
        raise Invalid(f"{where}.value.post_id: required")
    links = [str(value[k]) for k in ("photo", "link") if isinstance(value.get(k), str)]
    links += [str(p) for p in value.get("photos") or [] if isinstance(p, str)]
    links = list(dict.fromkeys(links))[:10]
    text = value.get("message")
    if not isinstance(text, str) or not text.strip():
        if not links:
            raise Invalid(f"{where}.value.message: required (no text and no photo)")
        text = _placeholder(links)
    parent = value.get("parent_id") if item == "comment" else None
    inbound = build(
        channel=Channel.facebook, external_id=item_id, author_handle=sender_id,
        author_name=str(sender.get("name") or ""), author_verified=True, text=text,
        sent_at=_time(value.get("created_time"), f"{where}.value.created_time"), visibility=Visibility.public,
        media=links, reply_to_external_id=str(parent) if parent else None,
        thread_id=str(value.get("post_id")) if value.get("post_id") else None,
    )
    return Normalized(inbound, meta={"facebook_page_id": page_id})


def _fb_messaging(event: Any, where: str, page_id: str) -> Normalized | Skipped:
    """One Messenger event: a visitor's message (text and/or attachments), or a kind we keep and ignore."""
    if not isinstance(event, Mapping):
        raise Invalid(f"{where}: expected an object")
    sender = str((event.get("sender") or {}).get("id") or "")
    recipient = str((event.get("recipient") or {}).get("id") or "")
    message = event.get("message")
    if not isinstance(message, Mapping):
        kind = next((k for k in _MESSAGING_KINDS if k in event), None) or next(
            (k for k in event if k not in ("sender", "recipient", "timestamp")), "unknown")
        return Skipped(f"messaging.{kind}"[:80], "ignored", f"{where}: '{kind}' is a kind we do not use")
    mid = str(message.get("mid") or "") or None
    if message.get("is_echo") or (sender and sender == page_id):
        return Skipped("messaging.message_echo", "own", f"{where}: an echo of our page's own message", mid)
    if not sender:
        raise Invalid(f"{where}.sender.id: required")
    if not mid:
        raise Invalid(f"{where}.message.mid: required")
    links = [str(a["payload"]["url"]) for a in message.get("attachments") or [] if isinstance(a, Mapping)
             and isinstance(a.get("payload"), Mapping) and isinstance(a["payload"].get("url"), str)][:10]
    kinds = sorted({str(a.get("type")) for a in message.get("attachments") or [] if isinstance(a, Mapping)})
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        if not links and not kinds:
            raise Invalid(f"{where}.message.text: required (no text and no attachment)")
        text = _placeholder(links or [""], what=kinds[0] if len(kinds) == 1 else "attachment")
    reply_to = (message.get("reply_to") or {}).get("mid") if isinstance(message.get("reply_to"), Mapping) else None
    inbound = build(
        channel=Channel.facebook, external_id=mid, author_handle=sender, author_name="", author_verified=True,
        text=text, sent_at=_time(event.get("timestamp"), f"{where}.timestamp"), visibility=Visibility.private,
        media=links, reply_to_external_id=str(reply_to) if reply_to else None, thread_id=f"messenger:{sender}",
    )
    meta: dict[str, Any] = {"facebook_psid": sender, "facebook_page_id": recipient or page_id, "messenger": True}
    # A tapped quick reply: its payload, which we wrote (https://developers.facebook.com/docs/messenger-platform/
    # reference/webhook-events/messages); the text is the button's title.
    tapped = message.get("quick_reply") if isinstance(message.get("quick_reply"), Mapping) else {}
    if isinstance(tapped.get("payload"), str) and tapped["payload"]:
        meta["quick_reply_payload"] = tapped["payload"][:1000]
    return Normalized(inbound, meta=meta)


# ------------------------------------------------------------------------------------------- SMS (Twilio)
# Twilio's default keywords (https://help.twilio.com/articles/223134027): matched on the whole body, any case.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


def sms_keyword(body: str | None) -> str | None:
    """``opt_out`` / ``opt_in`` / ``help`` when the whole SMS body is one of Twilio's keywords, else None."""
    word = (body or "").strip().strip(".!").strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    if word in HELP_KEYWORDS:
        return "help"
    return None


def sms(form: Mapping[str, str]) -> Normalized:
    """A Twilio Messaging webhook (form fields MessageSid, From, Body, NumMedia, MediaUrlN, MediaContentTypeN).
    A photo-only MMS (empty Body) keeps its media as the message's attachments."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        raise Invalid("MessageSid: required")
    sender = form.get("From")
    if not sender:
        raise Invalid("From: required")
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        raise Invalid("NumMedia: not a number") from None
    links = [form[f"MediaUrl{i}"] for i in range(min(count, 10)) if form.get(f"MediaUrl{i}")]
    body = form.get("Body")
    if body is None or not body.strip():
        if not links:
            raise Invalid("Body: required (the text of the SMS; or NumMedia/MediaUrl0 for an MMS)")
        types = {str(form.get(f"MediaContentType{i}") or "").split("/")[0] for i in range(len(links))}
        body = _placeholder(links, what="photo" if types <= {"image"} else "attachment")
    lat = lon = None
    if form.get("Latitude") or form.get("Longitude"):
        try:
            lat, lon = float(form.get("Latitude", "")), float(form.get("Longitude", ""))
        except ValueError:
            raise Invalid("Latitude/Longitude: not numbers") from None
    return Normalized(build(
        channel=Channel.sms, external_id=sid, author_handle=sender, author_name="", author_verified=True, text=body,
        visibility=Visibility.private, media=links, lat=lat, lon=lon, thread_id=f"sms:{sender}",
    ))


# ------------------------------------------------------------------------------------------- web form
def webform(body: Any) -> Normalized:
    """Our own web form: submission_id, name, email and/or phone, text, optional lat/lon, address, photos."""
    if not isinstance(body, Mapping):
        raise Invalid("body: expected a JSON object")
    submission = body.get("submission_id")
    if not submission:
        raise Invalid("submission_id: required (the form's unique id for this submission)")
    email_addr = (body.get("email") or "").strip() or None
    phone = (body.get("phone") or "").strip() or None
    if not email_addr and not phone:
        raise Invalid("email: give an email address or a phone number so we can answer")
    if email_addr and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email_addr):
        raise Invalid(f"email: '{email_addr}' is not an email address")
    # Typed into a public form: a claim, never proof (an "account_verified" in the body is ignored). Matching
    # customers only become merge suggestions an agent confirms.
    primary = (Channel.email, email_addr) if email_addr else (Channel.sms, phone)
    linked = [LinkedHandle(channel=primary[0], handle=primary[1] or "", verified=False)]
    if email_addr and phone:
        linked.append(LinkedHandle(channel=Channel.sms, handle=phone, verified=False))
    for key in ("lat", "lon"):
        if body.get(key) is not None and not isinstance(body.get(key), (int, float)):
            raise Invalid(f"{key}: must be a number")
    photos = body.get("photos") or []
    if not isinstance(photos, list):
        raise Invalid("photos: must be a list of URLs")
    return Normalized(build(
        channel=Channel.webform, external_id=str(submission), author_handle=str(email_addr or phone),
        author_name=str(body.get("name") or ""), author_verified=False, text=body.get("text") or "",
        sent_at=_time(body.get("submitted_at"), "submitted_at"), visibility=Visibility.private,
        lat=body.get("lat"), lon=body.get("lon"), place_name=body.get("address") or None, media=photos,
        linked_handles=linked,
    ), known_address=body.get("home_address") or None, stated_address=body.get("address") or None)
