"""Developer-written examples of messages that are NOT a field problem (thanks, chatter, questions about another
company's product, orders, deliveries, travel, apps): the negative class triage learns ``out_of_scope`` from.
English only: with no field examples in another language, foreign words here would teach "Finnish = not ours".

Written for this project from general knowledge (no real message was copied), so the rows may ship. They are
synthetic: figures on real text come from ``groundcrew eval triage --real`` only. Regenerate the CSV with
``python -m server.triage.not_field_phrases`` (deterministic)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "not_field.csv"

THINGS = ["my order", "my package", "the parcel", "my delivery", "my flight", "my booking", "my reservation",
          "my seat", "my luggage", "my bag", "the app", "your app", "the website", "the update", "the latest update",
          "my playlist", "my subscription", "my account", "my password", "my login", "my phone", "my new phone",
          "my laptop", "my headphones", "the game", "my refund", "the promo code", "my coupon", "my gift card",
          "my points", "my rewards", "my burrito", "my coffee", "my pizza", "my food", "the driver", "my ride",
          "my uber", "my trip", "the train", "my ticket", "the email you sent", "my card", "my download",
          "the song", "my podcast", "my tv show", "the battery", "my screen", "my watch", "my cart", "the checkout",
          "my return", "the replacement", "my upgrade", "my data plan", "my text messages", "my voicemail",
          "my profile", "my photos", "the notification", "the shuffle button", "my streak", "the chat",
          "my iphone", "my phone signal", "my LTE", "the 4G", "my mobile data", "my sim card", "my camera",
          "my gaming mouse", "my controller", "my console", "my xbox", "the boarding pass", "the gate agent",
          "my connecting flight", "my train", "the bus", "my food order", "my bowl", "my sandwich", "my parcel",
          "my mail", "the courier", "my pickup order", "my prescription", "my bank card", "my statement"]
PROBLEMS = ["never arrived", "is late again", "was cancelled", "got delayed three hours", "keeps crashing",
            "won't load", "is stuck on processing", "was charged twice", "doesn't work after the update",
            "disappeared", "is missing items", "was wrong", "was cold", "is still not here", "got lost",
            "says delivered but it isn't", "won't let me log in", "logs me out every time", "freezes", "is so slow",
            "won't sync", "keeps buffering", "was refunded to the wrong card", "expired", "shows an error",
            "won't open", "drains so fast", "was damaged", "got stuck at customs", "is not showing up",
            "was overbooked", "has no wifi", "is not what I ordered", "got rejected", "isn't working",
            "says no service", "has no signal", "broke after two hours", "was left in the mail room",
            "was left outside my building", "was stolen from my porch", "had plastic in it", "is still in repair",
            "was rude to me", "refused to pick me up", "won't connect to my phone", "keeps dropping calls"]
# No generic asks ("please help", "fix it"): a field report says them too, so they must not point out of scope.
ASKS = ["", "", "", "any update?", "can someone DM me?", "worst customer service ever", "I want a refund",
        "thanks in advance", "I'll DM you"]
BRANDS = ["@AirlineHelp", "@ShopSupport", "@AppCare", "@MusicHelp", "@PhoneCo", "@FoodTweets", "@RideSupport",
          "@GameSupport", "@StoreHelp", "@BankCares", ""]
CHATTER = [
    "thank you", "thanks!", "thanks so much", "thank you for your help", "thanks, that worked", "got it, thanks",
    "ok thanks", "great, thank you", "appreciate it", "cheers", "you guys rock", "love you guys", "you're the best",
    "awesome service today", "no worries", "never mind, it works now", "all sorted now", "that's fine", "okay",
    "sure", "lol", "haha love it", "good morning", "happy friday", "merry christmas", "happy new year",
    "just sent you a DM", "DM sent", "I sent a private message", "check your DMs", "I followed you", "done",
    "yes please", "no thanks", "will do", "sounds good", "I already did that", "I tried that already",
    "still waiting for a reply", "nobody has answered me", "why won't anyone reply", "is anyone there?",
    "what are your opening hours?", "do you ship to Canada?", "when does the sale start?",
    "is the new menu out yet?", "can I change my seat?", "how do I cancel my subscription?",
    "how do I reset my password?", "can I get a receipt?", "what's the baggage allowance?",
    "do you have this in a size 10?", "is there a student discount?", "when is the next release?",
    "which plan is best for me?", "can I pause my membership?", "the new album is amazing",
    "best customer service I've had", "your ad is so funny", "I love the new design", "I hate the new design",
    "bring back the old layout", "please add dark mode", "can you add a sleep timer?", "who won the game?",
    "this is my favourite coffee", "the staff at the store were lovely", "the cashier was rude to me",
    "the flight attendant was amazing", "the pilot did a great job", "the food was delicious",
    "boarding started way too early at the gate", "they didn't let us board even with boarding passes",
    "the gate agent was rude", "a dog was sitting at my feet the whole flight", "the flight was delayed for a clean up",
    "my luggage never showed up at the carousel", "the driver refused to pick me up", "the courier left my parcel "
    "in the mail room downstairs", "someone stole the package off my porch", "found plastic in my burrito bowl",
    "the animals in the game keep getting sick", "my gaming mouse scroll wheel broke", "my camera sensor died",
    "my iphone says no service since the update", "lost signal while browsing your site", "the line at the store "
    "is wrapped around the building", "the store entrance looks messy", "your app says outage reported",
    "I'm on the phone with your support now", "can I get a copy of my old boarding pass?", "the train was "
    "cancelled and I missed my connection", "the queue in the shop was huge", "there's no signal on the train",
]


def rows(seed: int = 27, n_combos: int = 900) -> list[dict[str, str]]:
    """(text, category = out_of_scope, phrase) rows: chatter lines, then product/order complaints built from parts."""
    rng = random.Random(seed)
    out = [{"text": line, "category": "out_of_scope", "phrase": f"chatter:{i}"} for i, line in enumerate(CHATTER)]
    for i in range(n_combos):
        brand, thing, problem, ask = (rng.choice(BRANDS), rng.choice(THINGS), rng.choice(PROBLEMS), rng.choice(ASKS))
        owner = rng.choice(["my", "my", "our", "the", ""])  # not only "my ...": field reports say "my" too
        thing = f"{owner} {thing.removeprefix('my ')}".strip() if thing.startswith("my ") else thing
        text = " ".join(p for p in (brand, thing, problem, ask) if p)
        out.append({"text": text, "category": "out_of_scope", "phrase": f"combo:{i}"})
    seen: set[str] = set()
    return [r for r in out if not (r["text"] in seen or seen.add(r["text"]))]


def main() -> None:
    data = rows()
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "category", "phrase"])
        writer.writeheader()
        writer.writerows(data)
    print(f"wrote {OUT} ({len(data)} rows)")


if __name__ == "__main__":
    main()
