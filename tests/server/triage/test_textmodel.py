"""The real-text category model (``server/triage/textmodel.py``): trained per language on NOT-held-back real rows,
its threshold chosen by cross-validation on them, combined with the catalogue for services it has no rows of, stored
in the deployment's data folder and refused when stale.

Real rows are read at test time from ../shared/data (their licences forbid copying them into the project; without
it these tests skip, saying so). The model here is trained on small cuts (all Helsinki training rows and 900 London
training rows) so the module trains in well under a minute of CPU; the full model's figures come from
``groundcrew eval triage --real-data ../shared/data`` (README)."""

from __future__ import annotations

import csv
import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from server.triage import realdata, textmodel
from server.triage.service import classify, load_taxonomy, with_text_model

ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("GROUNDCREW_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _need(relative: Path) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"real data not here: {path} (the ../shared data folder is missing; set GROUNDCREW_SHARED_DATA)")
    return path


@pytest.fixture(scope="module")
def cuts() -> dict[str, list[realdata.Report]]:
    _need(realdata.FMS_FILE)
    hki = realdata.helsinki(_need(realdata.HELSINKI_FILE))
    train = realdata.training_reports(SHARED)
    return {"fms_train": [r for r in train if r.id.startswith("fms-")][:900],
            "hki_train": [r for r in train if r.id.startswith("hki-")],
            "hki_held": [r for r in hki if realdata.held_back(r.id)]}


@pytest.fixture(scope="module")
def small_model(cuts: dict[str, list[realdata.Report]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [(r.text, r.category) for r in cuts["hki_train"] + cuts["fms_train"]]
    model = textmodel.train(rows, c_grid=(0.2, 0.4), folds=3)
    path = tmp_path_factory.mktemp("var") / "triage_text_model.pkl"
    textmodel.save(model, path)
    return path


def test_threshold_is_the_lowest_confidence_whose_answers_reach_the_target():
    confidence = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, True, False, True, False])
    # Answering down to 0.8: 3/3; to 0.7: 3/4; to 0.6: 4/5 = 0.8; to 0.5: 4/6.
    assert textmodel.choose_threshold(confidence, correct, 0.8) == 0.6
    assert textmodel.choose_threshold(confidence, correct, 0.9) == 0.8
    assert textmodel.choose_threshold(confidence, correct, 0.6) == 0.5
    assert textmodel.choose_threshold(np.array([0.9]), np.array([False]), 0.5) == 1.0  # nothing answers


def test_a_model_per_language_chosen_on_training_rows_only(small_model: Path, cuts):
    model = textmodel.load(small_model)
    assert model is not None and set(model.languages) >= {"en", "fi"}
    fi = model.languages["fi"]
    assert set(fi.classes) == {"pothole", "street_sign", "dirty_street", "graffiti", "tree"}
    assert fi.cv["rows"] <= len(cuts["hki_train"]) and "cross-validation on the training rows" in fi.cv["split"]
    assert 0 < fi.min_confidence < 1 and fi.cv["accuracy_when_covered"] >= textmodel.TARGET_ACCURACY - 0.02
    assert str(fi.c) in {"0.2", "0.4"}
    # The calibrator reads the SVM's scores and the complement naive Bayes's log-probabilities (stacked).
    assert fi.nb is not None and fi.calibrator.coef_.shape[1] == 2 * len(fi.classes)
    # Held-back rows were never trained on: the fingerprint is of the training rows exactly.
    rows = [(r.text, r.category) for r in cuts["hki_train"] + cuts["fms_train"]]
    assert model.fingerprint == textmodel.fingerprint(rows)
    assert not {r.text for r in cuts["hki_held"]} & {t for t, _ in rows}


def test_retarget_chooses_the_threshold_again_from_out_of_fold_answers(small_model: Path):
    fi = textmodel.load(small_model).languages["fi"]
    threshold, coverage = fi.min_confidence, fi.cv["coverage"]
    assert len(fi.oof_confidence) == len(fi.oof_correct) == fi.cv["rows"]
    fi.retarget(0.97)
    assert fi.min_confidence > threshold and fi.cv["coverage"] < coverage
    assert fi.cv["accuracy_when_covered"] is None or fi.cv["accuracy_when_covered"] >= 0.97
    fi.retarget(0.5)
    assert fi.min_confidence < threshold and fi.cv["coverage"] > coverage


def test_finnish_reports_get_their_service_with_the_real_text_model(small_model: Path, cuts):
    """Helsinki's held-back rows (figures only, no tuning): the base model answers about half of them at 0.56; with
    the Finnish model most are answered and most answers are right; none is called out of scope."""
    base = load_taxonomy()
    tax = with_text_model(base, textmodel.load(small_model))
    held = cuts["hki_held"]
    before = realdata.score_reports(held, taxonomy=base)
    after = realdata.score_reports(held, taxonomy=tax)
    assert after["coverage"] >= 0.75 and after["accuracy_when_covered"] >= 0.8, after
    assert after["accuracy_all_mapped"] > before["accuracy_all_mapped"] + 0.2, (before, after)
    assert after["field_decision_correct"] >= 0.95 and "out_of_scope" not in after["outcomes"]
    assert set(after["per_category"]) <= {"pothole", "street_sign", "dirty_street", "graffiti", "tree"}


def test_services_without_real_rows_still_come_from_the_catalogue(small_model: Path):
    """London's rows have no gas, water-supply or noise reports. When the English text model is unsure, the base
    model (which knows every catalogue service) answers; it is made unsure here by a threshold above 1. (This
    small model is confident on some of them; the full one, trained on all 19,732 English rows, is unsure of all
    three and answers them so: README. Known limit: Helsinki's rows cover five services and the Finnish model is
    confidently wrong on others, e.g. a streetlight.)"""
    model = textmodel.load(small_model)
    model.languages["en"].min_confidence = 1.01
    tax = with_text_model(load_taxonomy(), model)
    for text, service in [("There is a strong smell of gas outside number 12, I think the gas main is leaking",
                           "gas_leak"),
                          ("No water coming out of any taps in our building since this morning", "no_water"),
                          ("Loud music from the flat upstairs every night until 3am", "noise_nuisance")]:
        scored = classify(text, taxonomy=tax)
        assert (scored.outcome, scored.category) == ("field_work", service), scored
    unsure = classify("The streetlight outside 14 Elm Road has been out for a week", taxonomy=tax)
    assert (unsure.outcome, unsure.category, unsure.needs_agent) == ("agent", None, True), unsure
    # English account matters and thanks stay what the base model says: the London model knows only field services.
    assert classify("@AcmeHelp thank you so much, all sorted now!", taxonomy=tax).outcome == "out_of_scope"
    refund = classify("I was charged twice on my bill this month, please refund the duplicate payment", taxonomy=tax)
    assert refund.outcome == "agent" and not refund.p_field >= tax.field_min_probability


def test_support_threads_stay_out_of_field_work_with_the_real_text_model(small_model: Path):
    threads = realdata.twcs_threads(_need(realdata.TWCS_FILE))
    tax = with_text_model(load_taxonomy(), textmodel.load(small_model))
    scores = realdata.score_threads(threads, realdata.twcs_labels(), taxonomy=tax)
    assert scores["sample_field_work_beyond_local_rate"] <= 0.03, scores
    assert scores["marked_field_work"] <= 0.05 * scores["threads"], scores


def test_stale_or_foreign_model_files_are_refused(small_model: Path, tmp_path: Path):
    model = textmodel.load(small_model)
    assert model is not None
    assert textmodel.load(small_model, expect_fingerprint="other rows") is None
    assert textmodel.load(tmp_path / "missing.pkl") is None
    other = tmp_path / "other_version.pkl"
    with other.open("wb") as fh:
        pickle.dump({"format": textmodel.FORMAT, "sklearn": "0.0.1", "model": model}, fh)
    assert textmodel.load(other) is None


def test_taxonomy_names_the_model_and_a_missing_one_is_a_clear_error(small_model: Path, tmp_path: Path):
    shipped = (ROOT / "server" / "triage" / "taxonomy.toml").read_text(encoding="utf-8")
    data = ROOT / "server" / "triage" / "data"
    text = shipped.replace('training_csv = "data/', f'training_csv = "{data}/').replace(
        'not_field_csv = "data/', f'not_field_csv = "{data}/').replace('weights = "data/', f'weights = "{data}/')
    good = tmp_path / "city.toml"
    good.write_text(text.replace("[model]\n", f'[model]\ntext_model = "{small_model}"\n', 1), encoding="utf-8")
    assert load_taxonomy(good)._text_model is not None
    bad = tmp_path / "city_missing.toml"
    bad.write_text(text.replace("[model]\n", '[model]\ntext_model = "nowhere.pkl"\n', 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"city_missing\.toml: \[model\] text_model .*nowhere\.pkl is missing.*"
                                         r"groundcrew triage train"):
        load_taxonomy(bad)


def test_train_command_writes_the_model_and_refuses_bad_rows(cuts, tmp_path: Path):
    from server.cli import app

    rows = tmp_path / "rows.csv"
    with rows.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category"])
        writer.writerows([r.text, r.category] for r in cuts["hki_train"])
    out = tmp_path / "var" / "model.pkl"
    result = CliRunner().invoke(app, ["triage", "train", "--extra", str(rows), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and textmodel.load(out) is not None and '"fi"' in result.output.splitlines()[-1]
    bad = tmp_path / "bad.csv"
    bad.write_text("words,label\nhello,pothole\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["triage", "train", "--extra", str(bad), "--out", str(tmp_path / "x.pkl")])
    assert result.exit_code != 0 and "missing column(s) category, text" in result.output
    assert not (tmp_path / "x.pkl").exists()


def test_a_confident_text_model_answer_may_need_less_field_probability(small_model: Path, cuts, tmp_path: Path):
    """``[triage] text_field_min_probability``: real London reports the base model calls 60-70% field work ("Bed
    end. Been here a while") become field work when a confident text model answers them and the catalogue sets it
    to 0.6; unset (the shipped catalogue: 0.6 let 4 of 131 labelled support threads through, README), a text model
    answer needs field_min_probability (0.7) and an agent decides."""
    shipped = load_taxonomy()
    assert (shipped.field_min_probability, shipped.text_field_min_probability) == (0.7, None)
    rows = [r for r in cuts["fms_train"] if 0.6 <= classify(r.text, taxonomy=shipped).p_field < 0.7][:15]
    assert len(rows) >= 5
    model = textmodel.load(small_model)
    model.languages["en"].min_confidence = 0.0  # every answer confident: the field-work gate alone decides
    strict = with_text_model(shipped, model)
    lenient = replace(strict, text_field_min_probability=0.6)
    en = set(model.languages["en"].classes)
    for r in rows:
        scored = classify(r.text, taxonomy=lenient)
        assert scored.outcome == "field_work" and scored.category in en, (r.text, scored)
        before = classify(r.text, taxonomy=strict)
        assert before.outcome != "field_work" or before.category not in en, (r.text, before)
    # The setting is read from the catalogue's [triage] table, and a bad value is refused naming it.
    text = (ROOT / "server" / "triage" / "taxonomy.toml").read_text(encoding="utf-8")
    data = ROOT / "server" / "triage" / "data"
    text = text.replace('"data/', f'"{data}/')
    city = tmp_path / "city.toml"
    city.write_text(text.replace("[triage]\n", "[triage]\ntext_field_min_probability = 0.6\n", 1), encoding="utf-8")
    assert load_taxonomy(city).text_field_min_probability == 0.6
    bad = tmp_path / "city_bad.toml"
    bad.write_text(text.replace("[triage]\n", '[triage]\ntext_field_min_probability = "high"\n', 1),
                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"city_bad\.toml: \[triage\]"):
        load_taxonomy(bad)


def test_the_text_model_does_not_import_triage_service():
    """textmodel and service used to import each other (one side inside a function); both now take the language
    detector from server/triage/language.py."""
    import ast

    tree = ast.parse((ROOT / "server" / "triage" / "textmodel.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "server.triage.service" not in imported and "server.triage.language" in imported
