"""Triage outcomes on real text: field work / an agent / out of scope, the language path, no "where is it?" when
unsure, and catalogues as data (a bad file is refused naming its line and field; an edit changes triage and the
Open311 services without code changes).

Real rows are small cuts read at test time from ../shared/data (FixMyStreet London, Helsinki feedback, Customer
Support on Twitter); their licences forbid copying them into the project. Without ../shared the tests that need
them are skipped, saying so."""

from __future__ import annotations

import csv
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.triage import realdata
from server.triage.replies import reply
from server.triage.service import classify, detect_language, load_taxonomy, triage

ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("GROUNDCREW_SHARED_DATA", ROOT.parent / "shared" / "data"))
BROADBAND = ROOT / "server" / "triage" / "catalogues" / "broadband.toml"
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _need(relative: Path) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"real data not here: {path} (the ../shared data folder is missing; set GROUNDCREW_SHARED_DATA)")
    return path


@pytest.fixture(scope="module")
def twcs() -> list[realdata.Thread]:
    return realdata.twcs_threads(_need(realdata.TWCS_FILE))


@pytest.fixture(scope="module")
def helsinki() -> list[realdata.Report]:
    return realdata.helsinki(_need(realdata.HELSINKI_FILE))


# --------------------------------------------------------------------------- outcomes on real rows
def test_support_threads_are_rarely_field_work(twcs):
    """The labelled twcs sample (labels written before looking at triage's output): at most 4 % of the threads that
    are not a local field problem become field work (the issue's target is 3 %; before this change 62 % did)."""
    labels = realdata.twcs_labels()
    sample = [t for t in twcs if t.first_id in labels]
    assert len(sample) == len(labels) == 131
    wrong = [t.first_id for t in sample if labels[t.first_id] != "field"
             and classify(t.text).outcome == "field_work"]
    assert len(wrong) <= 0.04 * len(sample), wrong


def test_thanks_and_chatter_are_out_of_scope_and_never_a_default_category(twcs):
    """Real thanks, praise and jokes: mostly out of scope, hardly ever field work (a field category is given only
    with field work: never as a default)."""
    labels = realdata.twcs_labels()
    chatter = [t for t in twcs if labels.get(t.first_id) == "chatter"]
    results = [triage(t.text, received_at=NOW) for t in chatter]
    assert sum(r.field_work for r in results) <= 0.05 * len(results)
    taxonomy = load_taxonomy()
    assert all(r.field_work for r in results if r.category and taxonomy.by_name(r.category).field_work)
    out = sum(r.outcome == "out_of_scope" for r in results)
    assert out >= 0.3 * len(results), out  # the rest go to an agent (measured: 16 of 41 out of scope)
    thanks = triage("@UPSHelp Thank you", received_at=NOW)
    assert (thanks.outcome, thanks.category, thanks.field_work) == ("out_of_scope", None, False)


def test_account_matters_go_to_an_agent_without_field_work(twcs):
    labels = realdata.twcs_labels()
    account = [t for t in twcs if labels.get(t.first_id) == "account"]
    outcomes = [classify(t.text).outcome for t in account]
    assert outcomes.count("field_work") <= 3
    assert outcomes.count("agent") + outcomes.count("out_of_scope") == len(account) - outcomes.count("field_work")
    refund = triage("You charged me twice this month, I want my money back", received_at=NOW)
    assert (refund.outcome, refund.category, refund.field_work) == ("agent", "refund", False)


def test_resident_reports_are_field_work():
    """FixMyStreet London, the first 400 held-back strict rows: almost never called out of scope or an account
    matter, and most are answered as field work with a service."""
    path = _need(realdata.FMS_FILE)
    rows = [r for r in realdata.fixmystreet(path) if realdata.held_back(r.id)][:400]
    scores = realdata.score_reports(rows)
    assert scores["field_decision_correct"] >= 0.95, scores
    assert scores["outcomes"].get("field_work", 0) >= 0.7 * len(rows), scores


def test_an_open311_report_is_weighed_as_a_field_report_and_a_tweet_is_not(twcs):
    """[triage.channel_field_share]: a city's Open311 feed exists to report problems in public space, so real resident
    reports the base model half-doubts (p_field under the bar) are field work when they come that way, by Bayes' rule
    on the channel's share; support threads through Twitter (no share named) keep their outcomes. Rows that are not
    held back."""
    rows = [r for r in realdata.fixmystreet(_need(realdata.FMS_FILE)) if not realdata.held_back(r.id)][:300]
    plain = [classify(r.text) for r in rows]
    via = [classify(r.text, channel="open311") for r in rows]
    assert all(v.p_field >= p.p_field for p, v in zip(plain, via, strict=True))
    assert all(v.p_field == p.p_field for p, v in zip(plain, via, strict=True) if p.p_field in (0.0, 1.0))
    moved = [(p, v) for p, v in zip(plain, via, strict=True) if p.outcome != "field_work" == v.outcome]
    assert len(moved) >= 3, len(moved)
    assert not [v for p, v in zip(plain, via, strict=True) if p.outcome == "field_work" != v.outcome]
    assert all(v.category is not None for _, v in moved)
    labels = realdata.twcs_labels()
    sample = [t for t in twcs if t.first_id in labels]
    assert [classify(t.text, channel="twitter").outcome for t in sample] == [classify(t.text).outcome for t in sample]
    thanks = classify("Thank you so much, great service", channel="open311")
    assert thanks.outcome == "out_of_scope"  # thanks stays thanks whatever the channel


def test_a_channel_share_outside_0_1_is_refused(tmp_path):
    shipped = Path(load_taxonomy().source)
    text = shipped.read_text(encoding="utf-8")
    assert "open311 = 0.9\n" in text
    shutil.copytree(shipped.parent / "data", tmp_path / "data", dirs_exist_ok=True)
    for bad, why in [("open311 = 1.0", "open311: 1.0 must be a number between 0 and 1"),
                     ('open311 = "high"', "open311: 'high' must be a number"),
                     ('"Open 311" = 0.9', "'Open 311' is not a channel name"),
                     ("open_311 = 0.9", "'open_311' is not one of the channels messages come in on (email, ")]:
        path = tmp_path / "taxonomy.toml"
        path.write_text(text.replace("open311 = 0.9", bad, 1), encoding="utf-8")
        with pytest.raises(ValueError, match=rf"taxonomy\.toml: \[triage\]: channel_field_share.*{re.escape(why)}"):
            load_taxonomy(path)


# --------------------------------------------------------------------------- language
def test_finnish_reports_are_detected_and_triaged_as_field_work(helsinki):
    """Behaviour on rows that are not held back (the held-back ones only give figures)."""
    cut = [r for r in helsinki if not realdata.held_back(r.id)][:120]
    languages = [detect_language(r.text)[0] for r in cut]
    assert languages.count("fi") >= 0.9 * len(cut), languages
    outcomes = [classify(r.text).outcome for r in cut]
    assert outcomes.count("out_of_scope") <= 0.05 * len(cut)
    signs = [r for r in cut if r.category == "street_sign" and "liikennemerk" in r.text.lower()]
    assert signs, "the cut has Finnish traffic-sign reports"
    scored = [classify(r.text) for r in signs]
    assert all("street_sign" in [name for name, _ in c.ranking[:2]] for c in scored)
    assert sum(c.category == "street_sign" and c.outcome == "field_work" for c in scored) >= 0.5 * len(signs)
    assert all(c.category in (None, "street_sign") for c in scored)  # a tie (a crossing's sign) goes to an agent


def test_language_and_translated_ask():
    result = triage("Katuvalo on rikki Mannerheimintiellä, pimeää koko illan", received_at=NOW)
    assert result.language == "fi" and result.outcome == "field_work" and result.category == "streetlight"
    assert reply("ask_location", result.language).startswith("Kiitos ilmoituksesta")
    assert reply("ask_location", "en").startswith("Thanks for letting us know")
    assert reply("ask_location", "xx") == reply("ask_location", "en")
    assert detect_language("@AcmeHelp https://t.co/x") == ("und", 0.0)


# --------------------------------------------------------------------------- no ask when unsure
def test_no_automatic_ask_unless_a_confident_field_problem(client, twcs):
    """Through the Twitter webhook: a real support thread (an account matter) gets no "where is it?"; an unclear
    message neither; a confident field problem without a place does."""
    from tests.server.intake.helpers import tweet

    labels = realdata.twcs_labels()
    account = next(t for t in twcs if labels.get(t.first_id) == "account" and classify(t.text).outcome != "field_work")
    unclear = "@groundcrew it's broken again, can someone look at it"
    assert classify(unclear).outcome != "field_work"
    for i, text in enumerate([account.text, unclear]):
        result = client.post("/channels/twitter", json=tweet(f"9{i}", f"@groundcrew {text}", user_id=f"u{i}")).json()
        assert result["needs_location"] is False, text
    result = client.post("/channels/twitter", json=tweet("99", "@groundcrew huge pothole in the road outside my "
                                                         "house, nearly wrecked my car", user_id="u9")).json()
    assert result["needs_location"] is True


# --------------------------------------------------------------------------- catalogues are data
def test_bad_catalogue_is_refused_naming_line_and_field(tmp_path):
    text = BROADBAND.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("priority = 6\n", "priority = 11\n", 1), encoding="utf-8")
    shutil.copytree(BROADBAND.parent.parent / "data", tmp_path.parent / "data", dirs_exist_ok=True)
    line = text.splitlines().index("priority = 6") + 1
    with pytest.raises(ValueError, match=rf"bad\.toml:{line}: category #3 \('cable_damage'\): field 'priority' "
                                         r"must be 1\.\.10, not 11"):
        load_taxonomy(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(text.replace("sla_hours = 24\n", "sla_hour = 24\n", 1), encoding="utf-8")
    line = text.splitlines().index("sla_hours = 24") + 1
    with pytest.raises(ValueError, match=rf"typo\.toml:{line}: category #1 \('no_connection'\): unknown field "
                                         r"'sla_hour'"):
        load_taxonomy(typo)
    wrong_type = tmp_path / "type.toml"
    wrong_type.write_text(text.replace('field_work = false\n', 'field_work = "no"\n', 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"type\.toml:\d+: category #5 \('bill_question'\): field 'field_work' "
                                         r"must be true or false"):
        load_taxonomy(wrong_type)


def test_a_catalogue_edit_changes_triage_and_open311_services(tmp_path, settings, client):
    """A broadband company's catalogue served as Open311 services; adding a service to the file (no code change)
    adds it to /services and triage starts choosing it."""
    folder = tmp_path / "catalogues"
    folder.mkdir()
    shutil.copytree(BROADBAND.parent.parent / "data", tmp_path / "data")
    catalogue = folder / "broadband.toml"
    shutil.copy(BROADBAND, catalogue)
    settings.taxonomy_path = catalogue
    codes = [s["service_code"] for s in client.get("/open311/v2/services.json").json()]
    assert codes == ["BB-100", "BB-110", "BB-200", "BB-300"]  # field services only: no bill or account help
    text = "a digger cut through the duct and the fibre cable is hanging out of the pavement"
    assert triage(text, received_at=NOW, taxonomy=load_taxonomy(catalogue)).category != "roadworks_damage"
    catalogue.write_text(catalogue.read_text(encoding="utf-8") + """
[[category]]
name = "roadworks_damage"
label = "Duct damaged by roadworks"
service_code = "BB-210"
group = "Network"
skill = "civils"
duration_min = 180
priority = 8
sla_hours = 12
field_work = true
keywords = ["digger", "duct", "roadworks", "excavation"]
description = "Another company's roadworks damaged our duct or cable."
""", encoding="utf-8")
    stat = catalogue.stat()
    os.utime(catalogue, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    services = client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services][-1] == "BB-210"
    assert services[-1]["service_name"] == "Duct damaged by roadworks"
    edited = triage(text, received_at=NOW, taxonomy=load_taxonomy(catalogue))
    assert (edited.category, edited.skill, edited.field_work) == ("roadworks_damage", "civils", True)


def test_second_catalogue_knows_nothing_of_the_city():
    broadband = load_taxonomy(BROADBAND)
    assert "pothole" not in broadband.names
    assert triage("my fibre internet is down and the router light is red", received_at=NOW,
                  taxonomy=broadband).category == "no_connection"
    pothole = triage("Huge pothole on Eastern Ave", received_at=NOW, taxonomy=broadband)
    assert pothole.outcome != "field_work" and pothole.category is None


# --------------------------------------------------------------------------- learning from agents
def test_agent_corrections_become_training_rows_and_are_measured_held_back(client, auth, db, tmp_path):
    """Agents correct cases through PATCH /cases/{id}; the corrections come back as labelled rows, the held-back
    ones (case id crc32 % 5 == 0) are only measured, the others are written for retraining."""
    from server.auth.models import Role
    from server.triage.corrections import corrections, held_back, measure, write_training_csv
    from tests.server.intake.helpers import tweet

    agent = auth(Role.agent)
    texts = ["my order from the bakery app never arrived", "the lamp column by the bus stop is bent over",
             "can you tell me when the library opens", "bins on our road were missed on Tuesday",
             "thanks for sorting it out yesterday", "there's a sofa dumped in the lane behind the shops"]
    fixes = [{"needs_field_work": False}, {"category": "streetlight", "needs_field_work": True},
             {"category": "general_inquiry", "needs_field_work": False}, {"category": "trash_collection"},
             {"needs_field_work": False}, {"category": "illegal_dumping", "needs_field_work": True}]
    case_ids = []
    for i, (text, fix) in enumerate(zip(texts, fixes, strict=True)):
        body = client.post("/channels/twitter", json=tweet(f"7{i}", f"@groundcrew {text}", user_id=f"c{i}")).json()
        assert client.patch(f"/cases/{body['case_id']}", json=fix, headers=agent).status_code == 200
        case_ids.append(body["case_id"])
    rows = {r.case_id: r for r in corrections(session=db)}
    assert rows[case_ids[0]].label == "out_of_scope" and rows[case_ids[1]].label == "streetlight"
    assert rows[case_ids[2]].label == "general_inquiry" and rows[case_ids[5]].label == "illegal_dumping"
    assert rows[case_ids[0]].text.endswith("never arrived")
    written = write_training_csv(list(rows.values()), tmp_path / "corrections.csv")
    assert written == sum(not held_back(c) for c in rows)
    trained = (tmp_path / "corrections.csv").read_text(encoding="utf-8")
    assert all((rows[c].text in trained) != held_back(c) for c in rows)
    measured = measure(list(rows.values()))
    assert measured["held_back"] + measured["trained_on"] == len(rows)


def test_the_automatic_ask_goes_out_in_the_customers_language(client, db):
    """A Finnish report of a dark streetlight with no place: the "where is it?" reply is the Finnish template; an
    English one gets the English text."""
    from sqlmodel import select

    from server.conversations.models import Direction, Message
    from tests.server.intake.helpers import tweet

    fi = client.post("/channels/twitter", json=tweet("81", "@groundcrew Katuvalo on rikki, pimeää koko illan",
                                                     user_id="f1")).json()
    en = client.post("/channels/twitter", json=tweet("82", "@groundcrew the streetlight outside my house is out",
                                                     user_id="e1")).json()
    assert fi["needs_location"] is True and en["needs_location"] is True
    sent = {m.conversation_id: m.text for m in db.exec(select(Message).where(Message.direction == Direction.outbound))}
    assert len(sent) == 2
    texts = sorted(sent.values())
    assert texts[0].startswith("Kiitos ilmoituksesta") and texts[1].startswith("Thanks for letting us know")


def test_deployment_training_rows_never_include_held_back_rows(tmp_path):
    fms = realdata.fixmystreet(_need(realdata.FMS_FILE))
    hki = realdata.helsinki(_need(realdata.HELSINKI_FILE))
    written = realdata.write_training_csv(SHARED, tmp_path / "real.csv")
    train = [r for r in fms + hki if r.category and not realdata.held_back(r.id)]
    held = {r.text for r in fms + hki if realdata.held_back(r.id)}
    # Not-held-back rows whose exact text a held-back row also has (reports sent twice) are left out as well.
    assert written == len([r for r in train if r.text not in held]) < len(train)
    assert 0.7 * len([r for r in fms + hki if r.category]) < written
    with (tmp_path / "real.csv").open(newline="", encoding="utf-8") as fh:
        texts = {row["text"] for row in csv.DictReader(fh)}
    assert held and len(texts) > 1000 and not held & texts
