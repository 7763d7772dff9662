"""Triage service: taxonomy loading, category, urgency, sentiment, amplification, priority and SLA."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from server.triage.service import FIELDS, load_taxonomy, triage

NOW = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)


def test_shipped_taxonomy_covers_municipal_and_utility_work():
    taxonomy = load_taxonomy()
    names = set(taxonomy.names)
    for needed in ("streetlight", "pothole", "water_leak", "sewer", "trash_collection", "graffiti", "traffic_signal",
                   "tree", "housing", "rats", "abandoned_vehicle", "internet_outage", "power_outage", "gas_leak",
                   "billing", "refund", "general_inquiry"):
        assert needed in names
    codes = [c.service_code for c in taxonomy.categories]
    assert len(codes) == len(set(codes)) and all(isinstance(c, str) for c in codes)
    assert taxonomy.by_service_code("102").name == "pothole"
    assert taxonomy.by_service_code(102).name == "pothole"
    assert taxonomy.by_name("billing").field_work is False
    assert taxonomy.by_name("nope") is None and taxonomy.by_service_code("x") is None
    assert all(c.skill for c in taxonomy.categories if c.field_work)


@pytest.mark.parametrize(("text", "category"), [
    ("Huge pothole on Eastern Ave just blew out my front tire", "pothole"),
    ("The street light in front of 1200 Light St has been dark for a week", "streetlight"),
    ("I smell gas outside my house on Fleet St, it's really strong", "gas_leak"),
    ("@isp my internet has been down since this morning and the router light is blinking", "internet_outage"),
    ("Nobody picked up our trash on Monday, cans are still out in the alley", "trash_collection"),
    ("You charged me twice this month, I want my money back", "refund"),
    ("Somebody spray painted graffiti all over the side of the library", "graffiti"),
    ("Power has been out on our whole block since the storm", "power_outage"),
])
def test_categories_of_plain_complaints(text, category):
    result = triage(text, received_at=NOW)
    assert result.category == category, result.explanations
    assert result.service_code == load_taxonomy().by_name(category).service_code


def test_result_shape_and_json():
    result = triage("Water gushing out of the street on Pratt St", received_at=NOW, visibility="public",
                    followers=20_000, reposts=40)
    assert set(FIELDS) <= set(result.explanations)
    assert all(isinstance(v, str) and v and "\n" not in v for v in result.explanations.values())
    data = json.loads(json.dumps(result.to_dict()))
    assert data["sla_due_at"] == result.sla_due_at.isoformat()
    assert 1 <= result.priority <= 10 and result.sla_due_at > NOW
    assert result.amplification > 0.5


def test_gas_with_a_child_is_top_priority_and_due_within_hours():
    result = triage("I smell gas in the kitchen and my baby is asleep upstairs", received_at=NOW)
    assert result.category == "gas_leak"
    assert result.urgency >= 0.9 and result.priority >= 9
    assert result.sla_due_at - NOW <= timedelta(hours=4)
    assert "gas" in result.explanations["urgency"]


def test_no_heat_with_a_child_is_more_urgent_than_no_heat():
    plain = triage("No heat in my apartment since yesterday", received_at=NOW)
    child = triage("No heat in my apartment since yesterday and I have a newborn", received_at=NOW)
    assert child.urgency > plain.urgency > 0
    assert child.priority >= plain.priority


def test_anger_and_public_reach_raise_priority_and_shorten_the_deadline():
    calm = triage("There is a pothole on Boston St", received_at=NOW)
    loud = triage("This is the WORST. Pothole on Boston St wrecked my car, absolutely disgusting city",
                  received_at=NOW, visibility="public", followers=250_000, reposts=900)
    assert loud.sentiment < -0.5 < calm.sentiment
    assert loud.priority > calm.priority
    assert loud.sla_due_at < calm.sla_due_at
    assert "public" in loud.explanations["amplification"]
    assert calm.explanations["amplification"].endswith("private message")


@pytest.mark.parametrize(("text", "category"), [
    ("streetlite out on my block agin", "streetlight"),
    ("graffitti all over the rec center", "graffiti"),
    ("potholez evrywhere on harford rd", "pothole"),
])
def test_typos_still_find_the_category(text, category):
    """Character n-grams carry misspelt words ("streetlite", "graffitti") to the right category."""
    assert triage(text, received_at=NOW).category == category


@pytest.mark.parametrize(("text", "category"), [
    ("graffitti all over the rec center", "graffiti"),
    ("rats in the alley behind my house every night", "rats"),
    ("my water bill doubled this month, why", "billing"),
])
def test_clear_texts_are_confident(text, category):
    result = triage(text, received_at=NOW)
    assert result.category == category, result.explanations
    assert not result.needs_agent and result.confidence >= load_taxonomy().min_confidence
    assert result.explanations["category"].startswith(load_taxonomy().by_name(category).label)


@pytest.mark.parametrize("text", ["the light", "broken", "it's broken again, please come",
                                  "there is a problem on my street", "can someone come look at this thing"])
def test_vague_texts_need_an_agent(text):
    """Unsure: an agent decides; no default category, no field work (so no automatic "where is it?")."""
    result = triage(text, received_at=NOW)
    assert result.needs_agent, result.explanations
    assert (result.outcome, result.category, result.field_work) == ("agent", None, False)
    assert result.explanations["category"]


@pytest.mark.parametrize(("text", "reason"), [
    ("wires sparking on the pole outside 1200 Light St", "live electrical hazard"),
    ("the basement is flooding with sewage", "flooding or sewage"),
    ("I smell gas on Fleet St", "gas smell"),
])
def test_safety_terms_raise_urgency(text, reason):
    result = triage(text, received_at=NOW)
    assert result.urgency >= 0.7 and reason in result.explanations["urgency"]


def test_priority_and_deadline_are_monotonic_in_urgency():
    texts = ["Pothole on Boston St", "Pothole on Boston St, it is dangerous",
             "Pothole on Boston St and the street is flooding", "Pothole on Boston St, wires are sparking next to it"]
    results = [triage(t, received_at=NOW) for t in texts]
    urgencies = [r.urgency for r in results]
    assert urgencies == sorted(urgencies) and urgencies[0] < urgencies[-1]
    assert [r.priority for r in results] == sorted(r.priority for r in results)
    deadlines = [r.sla_due_at for r in results]
    assert deadlines == sorted(deadlines, reverse=True)
    assert all(set(FIELDS) <= set(r.explanations) for r in results)


def test_ambiguous_or_empty_text_needs_an_agent():
    empty = triage("hello?", received_at=NOW)
    assert empty.category is None and empty.needs_agent and empty.field_work is False
    mixed = triage("the light", received_at=NOW)
    assert mixed.needs_agent


def test_category_hint_by_service_code_or_name_wins():
    hinted = triage("please come look at this", received_at=NOW, category_hint="801")
    assert hinted.category == "internet_outage" and hinted.confidence == 1.0 and not hinted.needs_agent
    assert "reporter" in hinted.explanations["category"]
    assert triage("help", received_at=NOW, category_hint="graffiti").category == "graffiti"
    unknown = triage("Pothole on Boston St", received_at=NOW, category_hint="999999")
    assert unknown.category == "pothole"


def test_naive_received_at_is_utc():
    result = triage("Pothole on Boston St", received_at=datetime(2024, 1, 15, 9, 0))
    assert result.sla_due_at.tzinfo is not None


def test_deterministic():
    text = "Sewage coming up through the basement drain"
    assert triage(text, received_at=NOW).to_dict() == triage(text, received_at=NOW).to_dict()


def test_a_deployment_taxonomy(tmp_path):
    path = tmp_path / "taxonomy.toml"
    path.write_text('''
[[category]]
name = "snow_removal"
label = "Snow"
service_code = "S1"
skill = "plow"
duration_min = 30
priority = 6
sla_hours = 12
field_work = true
keywords = ["snow", "plow*"]

[[category]]
name = "questions"
label = "Questions"
service_code = "Q1"
skill = ""
duration_min = 1
priority = 1
sla_hours = 48
field_work = false
keywords = ["question", "how do i"]
''')
    taxonomy = load_taxonomy(path)
    assert taxonomy.names == ["snow_removal", "questions"]
    result = triage("Street not plowed yet", received_at=NOW, taxonomy=taxonomy)
    assert result.category == "snow_removal" and result.skill == "plow"
    assert result.sla_due_at <= NOW + timedelta(hours=12)


@pytest.mark.parametrize(("body", "message"), [
    ("[[category]]\nname='x'\n", "bad.toml:1: category #1 ('x'): missing field 'service_code'"),
    ("not toml [", "not valid TOML"),
    ("[triage]\n", "no [[category]]"),
    ("[[category]]\nname='a'\nservice_code='1'\nskill='s'\n[[category]]\nname='b'\nservice_code='1'\nskill='s'\n",
     "used twice"),
    ("[[category]]\nname='a'\nservice_code='1'\nfield_work=true\n", "field 'skill' is needed by a field-work"),
    ("[[category]]\nname='a'\nservice_code='1'\nskill='s'\npriority=11\n",
     "bad.toml:5: category #1 ('a'): field 'priority' must be 1..10, not 11"),
])
def test_bad_taxonomy_is_one_clear_error(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_taxonomy(path)
