# ruff: noqa: E501  (data tables: one SRType mapping or phrase pool per line)
"""Build the labelled triage sets from the Baltimore 311 sample (``python -m benchmarks.triage_dataset``).

The 311 rows carry no complaint text, only a type (``SRType``), an address and a neighbourhood. So:

1. Each ``SRType`` is mapped to a taxonomy category (``SRTYPE_CATEGORY`` below; types that fit no category,
   e.g. "ECC-Vehicle Look Up" or "FIR-Fire Smoke Alarm Installation Request", are left out).
2. Each row is assigned to TRAIN or TEST by a fixed, content-blind rule on its record id (crc32 % 4 == 0 → test,
   about 25 %).
3. Each row gets a realistic complaint written from a phrase pool for its category, placed in a wrapper
   (phone note, web form, tweet...) with the row's real street address or neighbourhood. TRAIN rows and TEST rows
   draw from two DIFFERENT pools of phrasings and wrappers, written separately, so the model never sees a test
   phrasing. The mix of categories follows Baltimore's real request mix.
4. Utility and telecom categories (internet, power, gas) and account categories have no 311 rows; they get
   synthetic rows from the same train/test pools (kept in a separate test file).
5. Training only: more pools of phrasings and wrappers (``benchmarks/data/triage_author*.json``), each written by
   another author from the category descriptions and the SRType map alone, who never saw this file, the TEST pool
   or any CSV. Phrasings that coincide with a TEST phrasing anyway (three words or more, one inside the other:
   "street turns into a lake when it rains") are dropped here (``blind_pools``), so no held-out phrasing is
   trained on; a test checks it. The brief of authors 4 and 5 listed verb forms to vary, among them "swept" and
   "hauled", picked by someone who knew two held-out misses used them; their phrasings with those words are dropped
   too (``BRIEF_HINTS``), so what they add does not come from knowing the held-out set.
6. Secondary check: the held-out rows' own ``SRType`` descriptions ("Water Leak (Exterior)") as text.

Outputs: ``server/triage/data/triage_train.csv`` (shipped; the classifier trains on it),
``benchmarks/data/triage_baltimore_test.csv``, ``benchmarks/data/triage_utility_test.csv`` and
``benchmarks/data/triage_baltimore_srtype.csv`` (all: columns text, category, ...).

Limits: the texts are ours (templated), not real residents' words; accuracy on them measures how well the
classifier generalises across two independently written phrasings of the same problems, on Baltimore's mix of
problems — not accuracy on real free text. The SRType check is partly circular (the taxonomy keywords were
written with the SRType list in view)."""

from __future__ import annotations

import csv
import json
import random
import re
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("/work/shared/data/complaints/baltimore_311/baltimore_311_sample.csv")
TRAIN_OUT = ROOT / "server" / "triage" / "data" / "triage_train.csv"
TEST_OUT = ROOT / "benchmarks" / "data" / "triage_baltimore_test.csv"
UTILITY_TEST_OUT = ROOT / "benchmarks" / "data" / "triage_utility_test.csv"
SRTYPE_OUT = ROOT / "benchmarks" / "data" / "triage_baltimore_srtype.csv"
# Blind authors' phrasings and wrappers (JSON: {"phrases": {category: [...]}, "wrappers": [...]}), written from the
# category descriptions and the SRType map above only, without seeing this file, the TEST pool or any CSV.
BLIND_AUTHORS = sorted((ROOT / "benchmarks" / "data").glob("triage_author*.json"))

# ------------------------------------------------------------------ SRType → category (None: no category fits)
_PREFIX = {"BGE": "streetlight"}
SRTYPE_CATEGORY: dict[str, str | None] = {
    # streets
    "TRM-Street Light Out": "streetlight", "TRM-StLight Damaged/Knocked Down/Rusted": "streetlight",
    "TRM-StLight Pole Access Cover/Plate Missing": "streetlight", "TRM-StLighting Inadequate/Too Bright": "streetlight",
    "TRM-StLight Pole Missing": "streetlight",
    "TRM-Pothole Repair": "pothole", "TRM-Pickup Pothole": "pothole", "TRM-Street Repairs": "pothole",
    "TEC-Street Repair (Misc)": "pothole", "TRM-Steel Plate Complaint": "pothole", "TRM-Street Cut Issues": "pothole",
    "WW-Surface Repair": "pothole", "TRM-Guardrail Concern (Repair)": "pothole", "TRM-Bridge Concern": "pothole",
    "TRM-Debris In Roadway": "dirty_street",
    "TEC-Footways Contract/Reconstruction": "sidewalk", "TEC-Footways Complaint": "sidewalk",
    "TRM-Footways Repair": "sidewalk", "TRM-Curb Repair": "sidewalk", "TRM-Alleys": "sidewalk",
    "TEC-Alley Contract/Reconstruction": "sidewalk", "TRM-Street and Crosswalk Markings": "sidewalk",
    "TRM-WO Street and Crosswalk Markings": "sidewalk", "TEC-WO Street Markings": "sidewalk",
    "TRT-Crosswalks": "sidewalk",
    "TRT-Traffic Signal Repairs": "traffic_signal", "TRT-Signal Timing": "traffic_signal",
    "TRT-Sign New/Remove/Change": "street_sign", "TRM-WO Sign Installation": "street_sign",
    "TRM-Sign Damaged/Sign Structure": "street_sign", "TRT-Sign New": "street_sign",
    "TRM-Illegal Sign Removal": "street_sign", "HCD-Illegal Signs on Public Property": "street_sign",
    "HCD-Illegal Campaign Signs on Private Property": "street_sign", "HCD-Illegal Flyers": "street_sign",
    "TRM-Snow/Icy Conditions": "snow_ice", "TRM-Saltbox Refill": "snow_ice", "TRM-Saltbox Concern": "snow_ice",
    "HCD-Snow and Ice on Sidewalks": "snow_ice",
    # water and sewer
    "WW-Water Leak (Exterior)": "water_leak", "WW-Water Meter Leak": "water_leak",
    "WW-Water Meter Cover Missing or Damaged": "water_leak", "WW-Hydrant Open": "water_leak",
    "WW-Hydrant Leaking": "water_leak", "WW-Hydrant Damaged": "water_leak",
    "WW-Water No Water": "no_water", "WW-Water Low Pressure": "no_water", "WW-Water Discolored": "no_water",
    "WW-Water Turn Off (Request)": "no_water", "WW-Water Turn On (Request)": "no_water",
    "WW-Water Odor/Bad Taste": "no_water", "WW-Water Noise In Pipe": "no_water",
    "WW-Sewer Water In Basement": "sewer", "WW-Water Water In Basement": "sewer", "WW-Sewer Misc Investigation": "sewer",
    "WW-Sewer Overflow": "sewer", "WW-Storm Inlet Choke": "sewer", "WW-Storm Damaged Inlet": "sewer",
    "WW-Storm Flooded Street": "sewer", "WW-Storm Misc Investigation": "sewer", "WW-Storm Water In Basement": "sewer",
    # sanitation
    "SW-Bulk Scheduled": "trash_collection", "SW-HGW": "trash_collection", "SW-Mixed Refuse": "trash_collection",
    "SW-Municipal Trash Can Concern": "trash_collection", "SW-Appliance (White Goods)": "trash_collection",
    "SW-Recycling": "trash_collection", "SW-Bulk Special": "trash_collection",
    "SW-Public (Corner) Trash Can Issue": "trash_collection", "SW-Leaf Collection Scheduling": "trash_collection",
    "SW-Bag Pickup": "trash_collection", "SW-Trash Can/Recycling Container Complaint": "trash_collection",
    "SW-Public (Corner) Trash Can Request/Removal": "trash_collection", "SW-Dumpster Collection": "trash_collection",
    "SW-Christmas Tree Removal": "trash_collection", "SW-RP Bulk Pickup": "trash_collection",
    "SW-Appliance (White Goods) Special": "trash_collection", "SW-Leaf Removal": "trash_collection",
    "SW-Dirty Alley": "dirty_street", "SW-Dirty Street": "dirty_street", "SW-Dirty Street Proactive": "dirty_street",
    "SW-Cleaning": "dirty_street", "SW-Dirty Alley Proactive": "dirty_street", "SW-Mechanical Street Sweeping": "dirty_street",
    "SW-SIU Clean Up": "dirty_street", "SW-Park Cleaning": "dirty_street", "SW-Clean Up": "dirty_street",
    "SW-Fire Debris Removal": "dirty_street", "TRM-Grass Mowing": "dirty_street", "ECC-Grass Mowing": "dirty_street",
    "RP-Grass Cutting": "dirty_street", "SW-Community Pitch-In": "dirty_street", "RP-Park Maintenance": "dirty_street",
    "HCD-Sanitation Property": "dirty_street",
    "HCD-Illegal Dumping": "illegal_dumping",
    "SW-Rat Rubout Proactive": "rats", "SW-Rat Rubout": "rats", "HCD-Rodents": "rats",
    "SW-Graffiti Removal Proactive": "graffiti", "SW-Graffiti Removal": "graffiti",
    "SW-Graffiti Removal-Rec and Parks": "graffiti", "TRM-Graffiti Referral": "graffiti",
    "SW-BCPSS Graffiti Removal": "graffiti",
    # trees
    "FOR-Tree Inspection": "tree", "FOR-Fallen Limb": "tree", "FOR-Down Tree": "tree", "FOR-Stump Removal": "tree",
    "FOR-Broken Branch in Tree": "tree", "HCD-Trees and Shrubs": "tree",
    # vehicles and parking
    "TRS-Abandoned Vehicle": "abandoned_vehicle", "HCD-Abandoned Vehicle": "abandoned_vehicle",
    "TTR-Vehicle Removal": "abandoned_vehicle", "TTR-Abandoned Vehicle Turn-in Program": "abandoned_vehicle",
    "TRS-Parking Complaint": "parking", "TRS-48 Hour Parking Complaint": "parking",
    "PABC-EZ Parking Meter Complaints": "parking", "PABC-Single Space Meter Complaints": "parking",
    "PABC-Parking Investigations": "parking",
    # housing
    "HCD-Vacant Building": "housing", "SW-Boarding": "housing", "HCD-Maintenance Structure": "housing",
    "HCD-CCE Building Permit Complaint": "housing", "HCD-Systems": "housing", "HCD-Weatherization": "housing",
    "HCD-Zoning Investigation": "housing", "HCD-OECS-No Heat Referral": "housing", "HCD-Overcrowding": "housing",
    "HCD-Bed Bugs": "housing", "HCD-Insects": "housing", "RP-Building Maintenance": "housing",
    # animals
    "HLTH-Animal In Danger/Injured/Abused/Neglected": "animal", "HLTH-Animal Aggressive Animal": "animal",
    "HLTH-Animal Inspection/Follow-up": "animal", "HLTH-Animal Dead Animal Pickup-Wildlife or Stray": "animal",
    "HLTH-Animal Wildlife Complaint": "animal", "HLTH-Animal Barking Dog": "animal", "HLTH-Animal Stray Held": "animal",
    "HLTH-Animal Unsanitary Conditions": "animal", "HLTH-Animal Bite Pickup": "animal",
    "HLTH-Animal Attack Against Human": "animal", "HLTH-Animal Running At Large/Stray (Tracking)": "animal",
    "HLTH-Animal Trapped In Vacant Building": "animal", "HLTH-Animal Domestic Animal Trap or Capture Request": "animal",
    "HLTH-Animal Failure to Restrain Animal, Known Owner/Known Address": "animal",
    "HLTH-Animal Police/Fire/Sheriff/City Work Crew Standby": "animal",
    # environmental health
    "HLTH-EV Odor": "noise_nuisance", "HLTH-EV Noise": "noise_nuisance", "HLTH-EV Dust": "noise_nuisance",
    "HLTH-EV Stagnant Water": "noise_nuisance", "HLTH-EV Smoking Ban Violation": "noise_nuisance",
    "HLTH-Food Facility Complaint": "noise_nuisance", "HLTH-Food Borne Illness Alleged": "noise_nuisance",
    "BCLB-Liquor License Complaint": "noise_nuisance",
    # account (no field work)
    "FCPF-Payments": "billing", "FCCS-Metered Water": "billing", "FCCS-Personal Property Tax": "billing",
    "FCDA-Water Payment Tracking Request": "billing", "FCCS-Payment Not Posted": "billing",
    "FCCS-Paid Wrong Account/Misapplied Payment": "billing", "FCPF-Trial Request-Parking": "billing",
    "FCPF-Parking Court Petitions": "billing", "FCPF-Trial Request-Red Light": "billing",
    "FCPF-Trial Request-Speeding Citation": "billing", "FCPF-Collection Agency": "billing",
    "FCCS-Refunds": "refund", "FCCS-ORCC Reversals": "refund", "FCCS-Refund Check Issues": "refund",
    "FCCS-Special Credits": "refund",
    "ECC-Information Request": "general_inquiry", "WW-Customer Inquiries": "general_inquiry",
    "ECC-Citizen Compliment or Praise": "general_inquiry",
    "DPW - Calendar  or  Water Quality Report Request": "general_inquiry",
}


def category_of(srtype: str) -> str | None:
    """The taxonomy category of a Baltimore SRType, or None when no category fits."""
    if srtype in SRTYPE_CATEGORY:
        return SRTYPE_CATEGORY[srtype]
    return _PREFIX.get(srtype.split("-", 1)[0])


def is_test(record_id: str) -> bool:
    """A fixed, content-blind split: about a quarter of the rows are held out."""
    return zlib.crc32(record_id.encode()) % 4 == 0


# ------------------------------------------------------------------ phrase pools: TRAIN and TEST written apart
TRAIN: dict[str, list[str]] = {
    "streetlight": ["the streetlight is out", "street light not working at night", "the lamp post light is broken",
                    "light pole out, whole block is dark", "streetlight flickering on and off all night",
                    "the light pole got hit by a car and is leaning", "alley light behind the houses is out",
                    "street lamps out again"],
    "pothole": ["big pothole in the road", "pothole that keeps getting bigger", "huge hole in the street damaged my car",
                "the asphalt is broken up and crumbling", "deep pothole in the travel lane",
                "steel plate in the road is loose and banging", "road surface is sinking", "potholes all down the block"],
    "sidewalk": ["sidewalk is cracked and lifted", "broken curb at the corner", "uneven sidewalk, people keep tripping",
                 "the footway is crumbling", "the curb ramp is broken for wheelchairs", "crosswalk lines are faded",
                 "sidewalk slab sticking up two inches", "alley pavement broken up"],
    "traffic_signal": ["traffic light is out at the intersection", "signal stuck on red", "traffic signal flashing",
                       "the stoplight is not working", "walk signal never comes on",
                       "traffic lights out, cars going through", "signal timing is way too short",
                       "the light at the intersection stays red forever"],
    "street_sign": ["stop sign knocked down", "street sign is missing", "sign bent over and hanging",
                    "illegal signs stapled on the poles", "need a new no parking sign", "the yield sign is gone",
                    "bandit signs all over the median", "sign post broken"],
    "snow_ice": ["the street has not been plowed", "road is a sheet of ice", "icy street, cars sliding",
                 "salt box is empty", "snow piled up, street still unplowed", "sidewalk is iced over",
                 "black ice on the hill", "plow never came down our street"],
    "water_leak": ["water leaking from the street", "water main break", "water bubbling up from the ground",
                   "fire hydrant leaking", "hydrant open and spraying", "the water meter is leaking",
                   "meter cover missing, open hole", "water running down the gutter for days"],
    "no_water": ["we have no water", "no water coming out of the taps", "very low water pressure",
                 "the water is brown", "water tastes like metal", "please turn off the water at the house",
                 "need the water turned back on", "pipes banging every time we run water"],
    "sewer": ["sewage backing up into the basement", "water in my basement from the sewer", "storm drain is clogged",
              "sewer overflowing into the street", "storm inlet full of leaves", "the street floods every rain",
              "smells like sewage from the manhole", "catch basin grate is broken"],
    "trash_collection": ["trash was not picked up", "missed trash pickup this week", "recycling not collected",
                         "need a bulk pickup for a couch", "schedule pickup for an old fridge",
                         "my trash can was never emptied", "corner trash can overflowing and never emptied",
                         "bags of leaves not collected"],
    "dirty_street": ["the alley is filthy with trash", "street full of litter", "debris all over the street",
                     "grass is overgrown on the lot", "weeds taller than me on the vacant lot",
                     "street needs sweeping", "broken glass and trash everywhere", "lot is a mess, needs a clean up"],
    "illegal_dumping": ["someone dumped a pile of tires", "illegal dumping in the alley",
                        "contractor dumped construction debris", "people dumping mattresses on the lot",
                        "trash dumped by a truck last night", "dumping going on every weekend",
                        "somebody dumped old furniture on the corner", "a pile of drywall dumped in the alley"],
    "rats": ["rats everywhere", "rat holes in the yard", "rats running in the alley", "rodents in the trash cans",
             "need a rat rubout", "rat burrows under the steps", "mice and rats coming from the vacant",
             "saw huge rats at night"],
    "graffiti": ["graffiti on the wall", "someone tagged the building", "spray paint all over the fence",
                 "graffiti on the stop sign", "gang tags on the garage doors", "vandals spray painted the mural",
                 "new graffiti on the bridge", "tagging on the side of the store"],
    "tree": ["tree limb fell in the street", "a tree is down", "dead tree about to fall", "broken branch hanging",
             "tree roots lifting the sidewalk", "please trim the tree over the street", "stump left after removal",
             "tree branches over the power lines"],
    "abandoned_vehicle": ["abandoned car on the street", "car has not moved in weeks", "junk car with flat tires",
                          "vehicle with no tags sitting for months", "abandoned van with smashed windows",
                          "please tow this car, it's been here forever", "derelict truck parked for weeks",
                          "car with expired tags never moves"],
    "parking": ["car blocking my driveway", "someone parked in front of the hydrant", "double parked cars all day",
                "truck parked on the sidewalk", "car parked in the handicap spot with no placard",
                "same car parked more than 48 hours", "cars blocking the alley", "parking meter is broken"],
    "housing": ["vacant house wide open", "abandoned building needs to be boarded", "landlord won't fix the roof",
                "no heat in the apartment", "mold all over the bathroom", "bed bugs in the building",
                "porch is collapsing", "squatters in the vacant rowhouse"],
    "animal": ["stray dog running loose", "dead animal in the road", "dog barking all night", "aggressive dog chasing people",
               "raccoon in the trash", "dog left chained outside in the cold", "dead cat on the sidewalk",
               "loose pit bull bit someone"],
    "noise_nuisance": ["loud music every night", "awful odor coming from the building", "construction noise at 5am",
                       "dust from the demolition", "stagnant water with mosquitoes", "restaurant kitchen is filthy",
                       "smoke from the bar", "the liquor store is a problem every night"],
    "internet_outage": ["my internet is down", "wifi keeps disconnecting", "router has a red light", "no internet since morning",
                        "internet speeds are terrible", "cable box says no signal", "modem keeps rebooting",
                        "technician never showed up for the install"],
    "power_outage": ["power is out", "no electricity in the house", "power line down in the street",
                     "transformer blew up", "wires sparking on the pole", "lost power since the storm",
                     "power keeps going out", "blackout on our block"],
    "gas_leak": ["i smell gas", "smells like gas outside", "gas leak near the meter", "strong gas odor in the basement",
                 "hissing sound from the gas line", "carbon monoxide alarm going off", "rotten egg smell outside",
                 "gas smell in the hallway"],
    "billing": ["my bill is too high", "charged a late fee", "question about my water bill",
                "payment not posted to my account", "i want to contest my parking ticket", "billed for the wrong amount",
                "how do i pay my bill online", "the autopay charged me wrong"],
    "refund": ["i want a refund", "please refund the overcharge", "i was charged twice, refund please",
               "where is my refund check", "need my money back", "refund for the cancelled service",
               "reverse the charge please", "still waiting on my reimbursement"],
    "general_inquiry": ["i have a question", "what are your hours", "how do i sign up", "can't log in to my account",
                        "where can i find the schedule", "thanks for the great job", "who do i contact about this",
                        "need information please"],
}
TEST: dict[str, list[str]] = {
    "streetlight": ["it's pitch black out here, the lights on the poles are dead",
                    "lamp outside my door hasn't worked since last week",
                    "the street lamp keeps blinking, driving me nuts",
                    "none of the lights on this stretch come on at night", "light post is rusted and bent"],
    "pothole": ["there's a crater in the middle of the road", "my tire blew out on a massive pothole",
                "the street is falling apart, holes everywhere", "hit a hole and bent my rim",
                "road is all broken and bumpy after they dug it up"],
    "sidewalk": ["the pavement outside is busted, my mom tripped", "curb is crumbling into the gutter",
                 "sidewalk heaved up and is a trip hazard", "can't push a stroller, the walkway is broken",
                 "the crosswalk paint is totally worn off"],
    "traffic_signal": ["the lights at the intersection are dark, near crash", "signal keeps blinking yellow",
                       "red light won't change, cars just run it", "pedestrian signal button does nothing",
                       "traffic lights stuck, traffic backed up"],
    "street_sign": ["someone ran over the stop sign", "there's no sign at the corner anymore",
                    "sign is hanging by one bolt", "posters and signs nailed to every pole",
                    "we need a sign, cars don't know it's one way"],
    "snow_ice": ["still covered in snow days after the storm", "it's an ice rink out here",
                 "nobody salted and people are falling", "unplowed side street, cars stuck",
                 "sleet froze the road solid"],
    "water_leak": ["clean water gushing up out of the pavement", "pipe burst under the road",
                   "the hydrant is spraying water everywhere", "water has been pouring out near the meter",
                   "leak in the street wasting water for a week"],
    "no_water": ["the taps are dry, nothing comes out", "water pressure is just a trickle",
                 "tap water came out rusty and cloudy", "water smells weird and tastes bad",
                 "can you shut off the water, we're fixing a pipe"],
    "sewer": ["basement is flooding with sewage", "the drain on the corner is blocked, big puddle",
              "raw sewage coming out of a manhole", "the street turns into a lake when it rains",
              "the grate on the storm drain is caved in"],
    "trash_collection": ["garbage truck skipped our street again", "nobody collected the recycling",
                         "trash has been sitting out for a week", "how do i get an old mattress hauled away",
                         "our bin got crushed by the truck, need a new can"],
    "dirty_street": ["alley is disgusting, garbage piled everywhere", "the lot is overgrown like a jungle",
                     "litter and glass all along the block", "the road hasn't been swept in months",
                     "the whole block is trashed and filthy"],
    "illegal_dumping": ["a truck came and dumped junk in the alley", "someone left a pile of old tires by the fence",
                        "people keep dumping rubbish on the vacant lot", "contractors dumping debris at night",
                        "a couch and bags got dumped on the corner"],
    "rats": ["huge rats running around the yard", "rodent problem all over the block",
             "rats digging holes near the steps", "there's an infestation of rats next door",
             "saw rats the size of cats in the alley"],
    "graffiti": ["kids tagged our garage", "spray-painted words all over the wall",
                 "graffiti all over the school fence", "vandalism with paint on the storefront",
                 "someone painted gang signs on the house"],
    "tree": ["a big limb came down in the storm", "the tree out front looks dead and is leaning",
             "branches hanging over the street are low", "tree fell across the road",
             "roots from the city tree busted the pavement"],
    "abandoned_vehicle": ["that car hasn't moved in a month", "junker with no plates sitting out front",
                          "car is a wreck with flat tires, nobody owns it", "van left on the street for weeks",
                          "can the city tow the abandoned truck"],
    "parking": ["someone is blocking the driveway again", "cars parked on the sidewalk all day",
                "a truck parks in front of the hydrant", "car in the handicapped space with no permit",
                "a car parks across the alley so the trash truck can't get in"],
    "housing": ["the vacant next door has an open door and squatters", "landlord won't turn on the heat",
                "ceiling caving in at my rental", "black mold and roaches in the unit",
                "the building next door is falling apart"],
    "animal": ["a dog has been barking for hours", "stray dogs chasing kids",
               "dead raccoon on the curb", "a dog left outside with no water",
               "a loose dog attacked my dog"],
    "noise_nuisance": ["the neighbors blast music until 3am", "a horrible stench from the restaurant",
                       "construction crews making noise before dawn", "fumes from the shop making us sick",
                       "mosquitoes breeding in standing water"],
    "internet_outage": ["wi-fi down again", "my connection drops every hour", "the modem light is blinking red",
                        "internet has been out all day, i work from home", "tv says no signal and internet is down"],
    "power_outage": ["whole street lost electricity", "a wire is down and sparking", "the power went out again",
                     "no power since last night", "the transformer on the pole exploded"],
    "gas_leak": ["strong smell of gas on the block", "i think there's a gas leak in my kitchen",
                 "smelling gas near the meter", "gas line hissing outside",
                 "smells like rotten eggs in the house"],
    "billing": ["why is my bill so high this month", "you overcharged me on the statement",
                "i paid but the balance still shows", "disputing this citation",
                "fee on my account i don't understand"],
    "refund": ["i deserve a refund for this", "when will i get my money back", "refund me for the double charge",
               "please reimburse me", "give me my money back"],
    "general_inquiry": ["quick question about your service", "what time do you open", "can't sign in to the app",
                        "who should i email about this", "thank you for the help yesterday"],
}
TRAIN_WRAPPERS = ["{p} at {addr}", "{P} on {addr}.", "Hi, {p} near {addr}, please send someone",
                  "{P}. Address: {addr}", "Reporting that {p} at {addr}", "@BaltimoreCity {p} by {addr}!!",
                  "{P} in front of {addr}, been like this for days", "Caller states {p} at {addr}"]
TEST_WRAPPERS = ["{addr} - {p}", "Hello, I live on {addr} and {p}. Can you help?", "{P}!! ({addr})",
                 "Complaint: {p}. Location {addr}", "Ugh {p} again on {addr}", "{P}, right outside {addr}",
                 "Resident reports {p} near {addr}"]
# More training phrasings (written fresh, in residents' many voices: slang, typos, fragments, social posts).
EXTRA: dict[str, list[str]] = {
    "streetlight": [
        "streetlite out", "the light on the pole by my house is out", "street lights not working", "street light been out 2 weeks", "whole block dark, no street lights",
        "light pole leaning after a car hit it", "lamp post knocked over", "the street light flickers on and off all night", "light on the corner buzzes and goes off",
        "pole light is out again", "alley light doesnt work", "its so dark at night cant see a thing, lights are out", "streetlamp broken",
        "light pole has a missing cover, wires showing at the base", "the lamp over the alley is burnt out", "street light stays on all day and off at night",
        "the street light is way too bright, shines into my bedroom", "light pole is rusted through", "3 lights out in a row on our street",
        "new bulb needed in the street light", "dark as hell on this block since the lights went out", "st light out", "the light by the bus stop is dead",
        "lamppost got hit and is lying on the ground", "lights on the poles keep cycling on and off", "alley lights broken",
        "need more lighting on this street, too dark", "the lamp on the telephone pole is out", "light outside my house stays off"],
    "pothole": [
        "massive pot hole", "potholes all down the road", "hole in the road is getting bigger", "big hole in the street swallowing cars", "pothole damaged my car",
        "road is crumbling", "the asphalt is sinking", "street is sinking near the manhole", "steel plate in the road is loose and bangs every time a car goes over",
        "they cut the street and never patched it", "patch job on the road is failing", "deep pothole in the lane", "pot hole popped my tire",
        "the road surface is torn up", "huge dip in the street", "road has a giant hole", "crack in the street turning into a hole", "the guardrail is bent and hanging",
        "bridge deck has holes in it", "utility cut left a trench in the road", "potholes so bad i have to swerve", "street needs repaving badly",
        "broke my axle on a hole in the road", "this road is like driving on the moon", "fix the potholes pls", "road caved in a little by the drain",
        "bumps and holes all over the lane", "the street patch sank", "tire popped in a hole on the road", "they ripped up the road and left it like that"],
    "sidewalk": [
        "sidewalk is cracked and raised", "broken sidewalk", "side walk all broken up", "concrete slabs uneven, people trip", "sidewalk caved in", "curb is broken off",
        "the curb got smashed by a truck", "need a wheelchair ramp at the corner", "curb cut is broken", "the footway is missing pieces", "uneven pavers on the walk",
        "sidewalk crumbling in front of my house", "my neighbor fell on the broken sidewalk", "the crosswalk lines are faded", "cant see the crosswalk anymore",
        "lane lines on the road are gone", "need crosswalk painted", "alley is all broken concrete", "the alley paving is falling apart", "sidewalk has a big gap",
        "hole in the sidewalk", "sidewalk is lifted up by roots", "walkway broken", "tripped on the sidewalk", "stop bar and lines need repainting",
        "concrete walk is busted up", "the ramp at the corner is cracked", "paint lines on the street faded away", "the alley is full of broken concrete and holes",
        "walk in front of the school is uneven"],
    "traffic_signal": [
        "traffic light out at the intersection", "stoplight is broken", "stop light stuck on red", "signal flashing red all day", "traffic signal not working",
        "the light never turns green", "green light way too short", "walk signal not working", "crossing light is out", "traffic light hanging down",
        "signal head turned the wrong way", "light at the corner is out, cars flying through", "the left turn arrow never comes on", "signal timing is messed up",
        "traffic lights are dark after the storm", "the light is flashing yellow every direction", "pedestrian button broken", "the red light is out on one side",
        "light at the intersection wont change", "stoplights out on the avenue", "the traffic light is blinking", "signal stuck on green one way",
        "the walk light never comes on", "red light is burned out in the signal", "light at the crossing isnt working", "arrow signal broken",
        "traffic lights all out, cars not stopping"],
    "street_sign": [
        "stop sign is down", "stop sign knocked over", "street sign missing", "sign bent over", "sign post snapped", "no stop sign anymore, someone took it",
        "street name sign is gone", "yield sign fell over", "sign turned the wrong way", "need a stop sign at this corner", "please put up a no parking sign",
        "illegal signs stapled to poles", "bandit signs all over", "we buy houses signs everywhere", "flyers taped to every pole", "campaign signs on city property",
        "speed limit sign is missing", "sign is faded you cant read it", "children at play sign requested", "one way sign down", "sign on the corner got knocked down",
        "need a sign for the dead end", "sign pointing the wrong direction", "signs nailed to the trees and poles"],
    "snow_ice": [
        "street not plowed", "havent seen a plow all week", "snow piled up, cant get out", "roads are solid ice", "black ice on the hill",
        "sidewalk not shoveled, ice everywhere", "neighbor never shovels the snow", "need salt on the road", "salt box is empty", "the salt box is broken",
        "slippery road, cars sliding", "icy steps at the bus stop", "snow plow blocked my car in", "snow emergency route not cleared", "icey roads",
        "the street is frozen over", "snow not removed from the walk", "plow skipped our block", "road is an ice sheet", "unshoveled walks all down the block",
        "snowed in, no plow yet", "need a plow on our street"],
    "water_leak": [
        "water leaking from the street", "water main broke", "main break flooding the road", "water coming up through the asphalt", "water bubbling out of the ground",
        "pipe busted under the sidewalk", "water running down the street for days", "hydrant is open", "fire hydrant leaking", "hydrant knocked over and spraying",
        "kids opened the hydrant", "water meter is leaking", "meter cover missing, hole in the sidewalk", "the meter lid is broken", "leak by the water meter",
        "clear water running down the gutter nonstop", "big leak out front", "water spraying from a pipe in the road", "leakin water everywhere",
        "water puddle that never dries, leak somewhere", "water pouring out of the ground", "leak in the road bubbling up", "hydrant running all day",
        "water squirting out of the meter box"],
    "no_water": [
        "no water in the house", "water is off and i didnt get a notice", "no water at all since this morning", "low water pressure",
        "pressure is super weak in the shower", "water barely coming out", "brown water from the tap", "water is discolored", "water looks dirty and yellow",
        "tap water tastes like metal", "water has a weird smell", "need my water turned back on", "please turn on my water",
        "turn off water at the curb so i can fix a pipe", "water shut off request", "pipes making banging noise", "loud noise in the water pipes", "no running water",
        "faucets not working, no water", "water cut off by mistake", "water stopped working in the whole house", "dry taps", "water is a weird color",
        "water tastes like chlorine", "please shut my water off at the street", "water service off, need it back on", "water keeps cutting off",
        "pipe noises when water runs"],
    "sewer": [
        "sewer backing up", "sewage backing up into the basement", "water coming up in my basement", "basement flooded after the rain", "sewer smell from the drain",
        "storm drain clogged", "storm drain is full of leaves", "the inlet is blocked", "catch basin clogged", "street floods every time it rains",
        "huge puddle that wont drain", "water pooling at the corner, drain blocked", "sewer overflow in the street", "manhole overflowing", "storm drain grate broken",
        "inlet is broken and caving", "toilet water coming up in the basement", "raw sewage in the yard", "sewage in the alley", "flooded street, drains backed up",
        "smells like sewer outside", "clogged sewer line city side", "water backing up through the floor drain", "basement drain overflowing",
        "the gutter drain is stopped up", "storm water wont go down the drain", "the drain grate is missing", "sewer manhole spilling",
        "flooding on the street after rain, drains full", "sewer gas smell from the storm drain"],
    "trash_collection": [
        "trash not picked up", "they skipped our trash", "trash day and they never came", "missed trash pickup", "recycling wasnt picked up", "recycle bin left full",
        "garbage still sitting on the curb", "trash men missed the alley", "need a new trash can", "city trash can was stolen", "my recycling bin is broken",
        "need a bulk trash pickup", "schedule a bulk pickup for furniture", "how do i get rid of an old couch", "pickup for a washer and dryer",
        "old refrigerator needs to go", "christmas tree pickup", "yard waste not collected", "leaf bags still out", "the corner can is overflowing",
        "public trash can needs emptying", "dumpster not emptied", "garbage collection skipped us again", "trash truck never came down our street",
        "when is bulk trash day", "can i set out a mattress for pickup", "trash pickup missed 2 weeks in a row", "they took the trash but left the recycling",
        "trash cans still full after pickup day", "the truck passed and left our trash", "need a recycling can", "want to schedule an appliance pickup",
        "got rid of a mattress, need pickup", "trash collection is late again"],
    "dirty_street": [
        "alley full of trash", "street is so dirty", "trash all over the alley", "garbage everywhere on the block", "litter all over the park",
        "the alley needs cleaning", "street needs to be cleaned", "trash blowing around everywhere", "the grass hasnt been cut in months", "grass is knee high",
        "lot is overgrown with weeds", "vacant lot needs mowing", "median grass way too tall", "park needs cleaning", "playground covered in trash",
        "street sweeper never comes", "needles and trash on the ground", "broken glass all over the street", "debris in the road", "junk in the road",
        "fire debris still on the sidewalk", "nasty alley smells of garbage", "trash and weeds on the lot", "whole street is a mess",
        "gross, trash piling up in the alley", "city lot full of junk and weeds", "overgrown bushes and trash", "alley covered in garbage",
        "trash and litter piling up on the sidewalk", "dirty alley needs a clean up", "the block is covered in trash", "garbage all over the street",
        "the park is filthy", "grass and weeds overgrown on the city lot", "the street is nasty with trash"],
    "illegal_dumping": [
        "people dumping trash on the lot", "somebody dumped a mattress in the alley", "illegal dumpin", "tires dumped on the street", "dumped construction trash",
        "a van dumped bags of trash last night", "caught someone dumping", "dumping ground behind the store", "someone unloaded a truckload of junk",
        "old tv and couch dumped by the curb", "contractors dumping drywall", "people keep dumping here", "dumped furniture blocking the alley", "pile of dumped tires",
        "dumping in the woods by the park", "someone dumped a bunch of trash bags on the lot", "furniture dumped in the alley", "a truck dumping junk at night",
        "dumped appliances on the corner"],
    "rats": [
        "rats in the alley", "rat problem", "so many rats", "rats in my yard", "rats coming out of the sewer", "rats running across the street", "rodents everywhere",
        "rat burrows in the backyard", "holes from rats by the fence", "rats in the trash cans", "mice in the house coming from next door",
        "need the city to bait for rats", "rats got into my car", "rats under the porch", "saw a rat as big as a cat", "rat infestation", "rats at the vacant house",
        "rats eating the garbage", "rodent control needed", "rat droppings everywhere", "ratz everywhere lol", "the rats are out of control", "rats in the garbage cans",
        "rats in the trash", "rats around the trash bins", "rats nesting in the alley", "rats climbing the fence", "rodents tearing up the trash bags"],
    "graffiti": [
        "graffiti on my house", "graffiti on the building", "someone spray painted my fence", "tags all over the wall", "graffitti on the garage",
        "vandalism spray paint", "somebody tagged the school", "graffiti on a city sign", "graffiti on the mailbox", "graffiti on the bus shelter",
        "graffiti under the bridge", "paint on the church wall", "tagged up again overnight", "please remove the graffiti", "obscene graffiti",
        "gang graffiti on the corner store", "writing spray painted on the wall", "paint all over the garage", "tags on the store shutters",
        "someone wrote on the building in paint"],
    "tree": [
        "tree fell down", "big tree fell on the road", "branch fell on my car", "limb hanging over the sidewalk", "tree needs trimming",
        "dead tree in front of my house", "tree looks like its going to fall", "tree leaning toward the house", "branches hitting the wires",
        "tree blocking the street sign", "stump needs removal", "roots busting up the walk", "tree down after the storm", "cracked limb about to drop",
        "city tree is dying", "low branches hitting trucks", "request a tree inspection", "overgrown shrubs on the corner", "tree branches blocking the streetlight",
        "fallen tree in the park", "tree is overgrown and blocking the sign", "tree limbs down in the yard", "tree leaning over the road", "tree growing into the wires"],
    "abandoned_vehicle": [
        "abandoned vehicle", "car has been abandoned for months", "car sitting on flats forever", "abandoned car no plates", "junk car on the block",
        "car hasnt moved since summer", "car with expired tags", "van with busted windows left here", "burned out car on the street", "stripped car left on the block",
        "boat trailer abandoned on the street", "car covered in dust and leaves, never moves", "tow this abandoned car", "someone left a car here and disappeared",
        "old truck with no registration", "vehicle been here for weeks not moving", "car with a tarp on it sitting for months",
        "car been parked here for months and never moves", "wrecked car left on the street", "car with no tags and flat tires", "trailer left on the street for weeks",
        "car with broken windows just sitting", "burned car abandoned", "vehicle has not moved in a month", "car left behind by someone who moved"],
    "parking": [
        "somebody parked in my driveway", "car blocking driveway", "cant get out my driveway", "double parking all day", "cars double parked on the street",
        "car parked on the sidewalk", "parked in the bike lane", "parked at the hydrant", "car parked in a handicap spot", "car parked at the corner blocking the view",
        "parked too close to the crosswalk", "car in the alley blocking it", "illegally parked car", "truck parks there every night", "no permit parking in permit zone",
        "parking meter broken", "meter ate my money", "pay station not working", "parking ticket machine out of order", "car parked more than 48 hours in the same spot",
        "people park on the wrong side", "parked in front of the bus stop", "delivery trucks parked in the lane", "parking enforcement needed",
        "cars parked in the crosswalk", "car parked where it shouldn't be", "people parking in front of my garage", "someone always parks in the loading zone",
        "meter broken cant pay", "car parked blocking the alley"],
    "housing": [
        "vacant house open", "vacant house door wide open", "board up the vacant", "abandoned house next door", "the vacant is falling in",
        "roof caved in on the vacant", "squatters living in the vacant", "landlord won't fix anything", "no heat in my apartment",
        "heat not working and landlord ignores us", "mold in my apartment", "bedbugs", "roaches in my unit", "leaking ceiling at my rental",
        "broken windows in the rowhouse", "porch falling off the house", "house is unsafe", "building with no permit", "illegal apartment in the basement",
        "too many people living in one house", "work being done without a permit", "neighbor's house is collapsing", "wall bulging on the rowhouse",
        "front steps crumbling on the vacant", "code violation next door", "ceiling is leaking and landlord won't fix it", "the house next door is unsafe",
        "people living in a condemned house", "vacant building open to the weather", "landlord refuses to fix the heat"],
    "animal": [
        "stray dog", "stray dogs roaming", "dog running loose", "loose dog in the street", "dead dog in the road", "dead cat in the alley",
        "dead squirrel on the sidewalk", "dead bird", "roadkill needs to be picked up", "dog barking nonstop", "neighbors dog barks all day", "dog attacked me",
        "got bit by a dog", "aggressive pit bull", "dog locked in a hot car", "dog left outside in the freezing cold", "animal abuse next door",
        "dog chained up all day", "neglected dog looks starving", "raccoon in the yard", "possum in my trash", "fox in the neighborhood", "bats in the attic",
        "cat stuck in the vacant house", "feral cats everywhere", "pigeons everywhere", "need animal control", "dog poop everywhere from the neighbor's dogs",
        "dead animal on the sidewalk", "raccoons in the attic", "dog bit my kid", "dog running around without a leash", "stray cats in the alley",
        "dead possum in the road", "animal trapped in the storm drain"],
    "noise_nuisance": [
        "loud music all night", "neighbors partying loud", "bass from the car stereo shaking windows", "noise from the bar", "construction starting at 6am",
        "jackhammer at night", "bad smell from the factory", "terrible odor in the area", "smells awful around the plant", "dust blowing from the demolition site",
        "fumes from the body shop", "restaurant is dirty and has roaches", "got food poisoning from a restaurant", "standing water breeding mosquitos",
        "people smoking inside the bar", "liquor store crowd at night", "trucks idling for hours", "loud generator running all night", "music so loud the walls shake",
        "loud parties every weekend", "chemical smell in the air", "bad smell coming from the business", "dirty restaurant kitchen", "noise from a loud generator",
        "standing water full of mosquitoes", "people yelling outside the bar every night"],
    "internet_outage": [
        "internet out", "internet not working", "wifi down", "wifi not working again", "no internet connection", "modem offline", "router keeps dropping",
        "internet keeps cutting out", "slow internet", "paying for 300 mbps getting 5", "cable tv and internet out", "no signal on the tv",
        "internet out in the whole building", "service down again", "tech never showed", "install appointment missed", "internet down since the storm",
        "cant connect to wifi", "streaming keeps buffering", "landline has no dial tone", "outage in my area?", "my connection is terrible", "no wifi",
        "connection keeps dropping", "internet outage again", "modem lights blinking, no internet"],
    "power_outage": [
        "power out", "no power", "lights went out in the house", "electricity is out", "lost power", "power outage on my street", "whole neighborhood has no power",
        "power out since last night", "power keeps flickering", "electric out again", "wire down in the road", "downed power line", "power line on the ground",
        "line sparking on the pole", "transformer blew", "loud bang then power went out", "no electricity for hours", "when will power be back",
        "half the house has no power", "utility pole leaning", "blackout", "lights out in the whole house", "no electric", "power outage since the storm",
        "wire down and sparking"],
    "gas_leak": [
        "smell gas", "gas smell outside", "smells like gas in the house", "gas leak", "possible gas leak", "gas odor on the street", "strong gas smell near the meter",
        "gas meter hissing", "hissing noise from the gas pipe", "rotten egg smell", "co alarm beeping", "carbon monoxide detector going off",
        "pilot light keeps going out and smells like gas", "gas smell in the basement", "gas leaking from the line", "smelled gas all morning",
        "smell of gas near the house", "rotten eggs smell by the meter", "gas smell on the street", "co detector beeping in the house", "gas line leaking",
        "smells like gas in the basement"],
    "billing": [
        "bill too high", "why is my bill so much", "my bill doubled", "wrong amount on my bill", "charged wrong", "late fee on my account", "payment not showing",
        "paid my bill but still shows a balance", "water bill way too high", "estimated bill is wrong", "cant pay online", "question about my statement",
        "autopay didnt go through", "set up a payment plan", "contest a parking ticket", "dispute my citation", "red light camera ticket is wrong",
        "speed camera ticket dispute", "property tax bill question", "payment applied to the wrong account", "my bill is wrong", "overbilled",
        "why was i charged this fee"],
    "refund": [
        "refund please", "want a refund", "i need a refund", "charged twice", "double charged", "overcharged want my money back", "where is my refund",
        "refund check never came", "refund still not received", "reimburse me", "credit my account back", "reverse the payment", "refund for the overpayment",
        "get my money back", "want my money returned", "refund the payment", "need a refund for the double charge", "money back please"],
    "general_inquiry": [
        "question", "quick question", "how do i report something", "what are the office hours", "how do i create an account", "forgot my password", "cant login",
        "where do i find the form", "who do i call", "is there a phone number", "thanks for fixing it", "great job yesterday", "just wanted to say thank you",
        "how can i check my request status", "what is the status of my request", "info please", "can someone dm me", "how do i apply", "need help with the website",
        "where is your office", "can you tell me how to", "where do i go to ask", "i need some information about my request"],
}
EXTRA_WRAPPERS = ["{p} @ {addr}", "yo {p} on {addr}", "{addr}: {p}", "{P} smh. {addr}", "hey city, {p} near {addr}",
                  "{P} (near {addr}) pls fix", "can someone look at this - {p}, {addr}", "{P} #baltimore {addr}",
                  "Called twice already. {P} at {addr}", "{p} by my house {addr}", "{P}", "Re {addr}. {p}",
                  "why is it that {p} on {addr}??", "{P}... {addr}... still waiting", "Service request: {p} / {addr}",
                  "{P} - been weeks. {addr}", "FYI {p} at the corner of {addr}", "{P}. thx", "not again. {p} {addr}",
                  "{P} next to {addr}, please send a crew", "{addr} {p}", "my neighbor says {p} on {addr}",
                  "{P} on the {addr} block. this is ridiculous", "I want to report {p}. {addr}"]
UTILITY = ("internet_outage", "power_outage", "gas_leak")
ACCOUNT = ("billing", "refund", "general_inquiry")
PLACES = ["Eastern Ave", "Fleet St", "Light St", "Boston St", "Pratt St", "Patterson Park", "Fells Point", "Canton",
          "Highlandtown", "N Charles St", "Greenmount Ave", "Harford Rd"]


def _address(row: dict[str, str]) -> str:
    address = (row.get("Address") or "").split(",")[0].strip().title()
    return address or (row.get("Neighborhood") or "").strip() or "my block"


def write_text(phrase: str, wrapper: str, addr: str) -> str:
    """One complaint text: the phrase in a wrapper, at the address."""
    return wrapper.format(p=phrase, P=phrase[:1].upper() + phrase[1:], addr=addr)


def extra_rows(addresses: list[str], *, per_phrase: int) -> list[dict[str, str]]:
    """Training rows from the EXTRA phrasings (and the TRAIN phrasings in the EXTRA wrappers): each phrase in
    ``per_phrase`` random wrappers at addresses of TRAIN rows, then the blind authors' (``blind_rows``). They do
    not count toward the category mix (mix=0): the classifier's class priors come from the real 311 rows only."""
    rng = random.Random("extra-phrasings")
    wrappers = TRAIN_WRAPPERS + EXTRA_WRAPPERS
    rows: list[dict[str, str]] = []
    for category in sorted(EXTRA):
        jobs = [(f"extra:{category}:{i}", p, per_phrase) for i, p in enumerate(EXTRA[category])]
        jobs += [(f"train:{category}:{i}", p, 2) for i, p in enumerate(TRAIN[category])]
        for phrase_id, phrase, n in jobs:
            for k in range(n):
                w = rng.randrange(len(wrappers)) if phrase_id.startswith("extra") else \
                    len(TRAIN_WRAPPERS) + rng.randrange(len(EXTRA_WRAPPERS))
                addr = rng.choice(PLACES if category in (*UTILITY, *ACCOUNT) else addresses)
                wid = f"train:{w}" if w < len(TRAIN_WRAPPERS) else f"extra:{w - len(TRAIN_WRAPPERS)}"
                rows.append({"text": write_text(phrase, wrappers[w], addr), "category": category, "srtype": "",
                             "record_id": f"{phrase_id}-{k}", "phrase": phrase_id, "wrapper": wid, "mix": "0"})
    return rows + blind_rows(addresses, per_phrase=per_phrase)


def _coincides(phrase: str, held_out: list[str]) -> bool:
    """Whether a phrase of three words or more lies inside a held-out phrasing, or one inside it."""
    p = phrase.lower()
    return len(p.split()) >= 3 and any(p in t or t in p for t in held_out)


# Words a brief suggested (see 5. above), per author: phrasings with them are not used.
_SUGGESTED = re.compile(r"haul|swep|sweep")
BRIEF_HINTS = {"author4": _SUGGESTED, "author5": _SUGGESTED}


def read_pool(path: Path) -> dict[str, Any]:
    """One blind author's JSON pool, checked: ValueError naming the file and what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("phrases"), dict) \
            or not isinstance(data.get("wrappers"), list):
        raise ValueError(f"{path}: needs {{\"phrases\": {{category: [...]}}, \"wrappers\": [...]}}")
    unknown = sorted(set(data["phrases"]) - set(TRAIN))
    if unknown:
        raise ValueError(f"{path}: phrases: unknown categories {', '.join(unknown)}")
    bad = [w for w in data["wrappers"] if not isinstance(w, str) or ("{p}" in w) == ("{P}" in w)]
    if bad:
        raise ValueError(f"{path}: wrappers: each needs exactly one of {{p}} or {{P}}: {bad[0]!r}")
    return data


def blind_pools(paths: list[Path] = BLIND_AUTHORS) -> dict[str, dict[str, Any]]:
    """Each blind author's pool (by author, e.g. ``author3``) without the phrasings that coincide with a TEST
    phrasing or use a word their brief suggested."""
    held_out = [t.lower() for phrases in TEST.values() for t in phrases]
    pools: dict[str, dict[str, Any]] = {}
    for path in paths:
        data = read_pool(path)
        hint = BRIEF_HINTS.get(path.stem.removeprefix("triage_"))
        data["phrases"] = {c: [p for p in ps if not _coincides(p, held_out) and not (hint and hint.search(p.lower()))]
                           for c, ps in data["phrases"].items()}
        pools[path.stem.removeprefix("triage_")] = data
    return pools


def blind_rows(addresses: list[str], *, per_phrase: int) -> list[dict[str, str]]:
    """The blind authors' phrasings, each in ``per_phrase`` wrappers drawn from the TRAIN, EXTRA and its own author's
    pools (its own half the time), ids ``<author>:<category>:<n>``."""
    rows: list[dict[str, str]] = []
    for author, data in blind_pools().items():
        pools = [("train", TRAIN_WRAPPERS), ("extra", EXTRA_WRAPPERS), (author, data["wrappers"])]
        rng = random.Random(f"{author}-phrasings")
        for category in sorted(data["phrases"]):
            for i, phrase in enumerate(data["phrases"][category]):
                for k in range(per_phrase):
                    name, pool = pools[2] if rng.random() < 0.5 else pools[rng.randrange(2)]
                    w = rng.randrange(len(pool))
                    addr = rng.choice(PLACES if category in (*UTILITY, *ACCOUNT) else addresses)
                    rows.append({"text": write_text(phrase, pool[w], addr), "category": category, "srtype": "",
                                 "record_id": f"{author}:{category}:{i}-{k}", "phrase": f"{author}:{category}:{i}",
                                 "wrapper": f"{name}:{w}", "mix": "0"})
    return rows


def build(source: Path = SOURCE, *, synthetic_per_category: int = 40, extra_per_phrase: int = 6) -> dict[str, int]:
    """Write the train and test CSVs; return row counts."""
    train: list[dict[str, str]] = []
    test: list[dict[str, str]] = []
    srtype_rows: list[dict[str, str]] = []
    skipped = 0
    addresses: list[str] = []
    with source.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            record, srtype = row["SRRecordID"], row["SRType"].strip()
            category = category_of(srtype)
            if category is None:
                skipped += 1
                continue
            rng = random.Random(record)
            held_out = is_test(record)
            pool, wrappers = (TEST, TEST_WRAPPERS) if held_out else (TRAIN, TRAIN_WRAPPERS)
            phrase, wrapper = rng.choice(pool[category]), rng.choice(wrappers)
            text = write_text(phrase, wrapper, _address(row))
            item = {"text": text, "category": category, "srtype": srtype, "record_id": record}
            if not held_out:
                item |= {"phrase": f"train:{category}:{pool[category].index(phrase)}",
                         "wrapper": f"train:{wrappers.index(wrapper)}", "mix": "1"}
                addresses.append(_address(row))
            (test if held_out else train).append(item)
            if held_out:
                descriptor = srtype.split("-", 1)[-1].strip() if "-" in srtype else srtype
                srtype_rows.append({"text": descriptor, "category": category, "srtype": srtype, "record_id": record})
    utility_test: list[dict[str, str]] = []
    for category in (*UTILITY, *ACCOUNT):
        for i in range(synthetic_per_category):
            rng = random.Random(f"{category}-{i}")
            addr = rng.choice(PLACES)
            phrase, wrapper = rng.choice(TRAIN[category]), rng.choice(TRAIN_WRAPPERS)
            train.append({"text": write_text(phrase, wrapper, addr), "category": category, "srtype": "",
                          "record_id": f"synthetic-train-{category}-{i}",
                          "phrase": f"train:{category}:{TRAIN[category].index(phrase)}",
                          "wrapper": f"train:{TRAIN_WRAPPERS.index(wrapper)}", "mix": "1"})
            if category in UTILITY or i < synthetic_per_category // 2:
                utility_test.append({"text": write_text(rng.choice(TEST[category]), rng.choice(TEST_WRAPPERS), addr),
                                     "category": category, "srtype": "", "record_id": f"synthetic-test-{category}-{i}"})
    train += extra_rows(addresses, per_phrase=extra_per_phrase)
    for path, rows in ((TRAIN_OUT, train), (TEST_OUT, test), (UTILITY_TEST_OUT, utility_test),
                       (SRTYPE_OUT, srtype_rows)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = ["text", "category", "srtype", "record_id"] + (["phrase", "wrapper", "mix"] if path == TRAIN_OUT else [])
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return {"train": len(train), "test": len(test), "utility_test": len(utility_test), "srtype": len(srtype_rows),
            "skipped_no_category": skipped}


if __name__ == "__main__":
    print(build())
