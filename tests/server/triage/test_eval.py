"""`groundcrew eval triage` and the labelled sets it is run on."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from server.triage.evaluate import evaluate, read_labelled
from server.triage.model import load as model_load
from server.triage.service import load_taxonomy, training_fingerprint

ROOT = Path(__file__).resolve().parents[3]
TEST_SET = ROOT / "benchmarks" / "data" / "triage_baltimore_test.csv"
TRAIN_SET = ROOT / "server" / "triage" / "data" / "triage_train.csv"
FRESH_SET = ROOT / "benchmarks" / "data" / "triage_fresh.csv"
ACC_FLOOR = 0.85
NEEDS_AGENT_CEILING = 0.22
FRESH_FLOOR = 0.85


def test_held_out_rows_are_not_training_rows():
    with TRAIN_SET.open() as fh:
        train = list(csv.DictReader(fh))
    with TEST_SET.open() as fh:
        test = list(csv.DictReader(fh))
    assert {r["record_id"] for r in train}.isdisjoint({r["record_id"] for r in test})
    assert {r["text"] for r in train}.isdisjoint({r["text"] for r in test})
    fresh = {text for text, _ in read_labelled(FRESH_SET)}
    assert not fresh & {r["text"] for r in train + test}
    names = set(load_taxonomy().names)
    assert {r["category"] for r in train + test} <= names


def test_blind_authors_phrasings_are_not_held_out_phrasings():
    """The blind authors' pools (written from the category descriptions and the SRType map only) keep no phrasing of
    three words or more that lies inside a held-out text, and their rows train the words but not the category mix."""
    from benchmarks.triage_dataset import BLIND_AUTHORS, BRIEF_HINTS, blind_pools

    assert BLIND_AUTHORS
    with TEST_SET.open() as fh:
        held_out = [r["text"].lower() for r in csv.DictReader(fh)]
    pools = blind_pools()
    names = set(load_taxonomy().names)
    for data in pools.values():
        assert set(data["phrases"]) == names
        phrases = [p for ps in data["phrases"].values() for p in ps if len(p.split()) >= 3]
        assert not [p for p in phrases if any(p.lower() in t for t in held_out)]
    for author, hint in BRIEF_HINTS.items():  # words a brief suggested are not trained on
        assert not [p for ps in pools[author]["phrases"].values() for p in ps if hint.search(p.lower())]
    # The filter is what keeps them apart: the raw pools had such coincidences (e.g. "tree fell across the road").
    raw = json.loads(BLIND_AUTHORS[0].read_text())["phrases"]
    kept = pools[BLIND_AUTHORS[0].stem.removeprefix("triage_")]["phrases"]
    assert sum(map(len, raw.values())) > sum(map(len, kept.values()))
    with TRAIN_SET.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["phrase"].split(":")[0] in pools]
    assert len(rows) >= 6 * sum(len(ps) for data in pools.values() for ps in data["phrases"].values())
    assert {r["mix"] for r in rows} == {"0"}


def test_accuracy_on_the_held_out_baltimore_set():
    result = evaluate(read_labelled(TEST_SET))
    assert result["rows"] > 1500
    # Measured 0.882 (needs_agent 0.066) with three blind authors' phrasings added to the training data (0.833 / 0.186
    # with the first two pools only); the target is 0.85 (one held-out phrasing is 10-84 rows, up to 4 points).
    assert result["accuracy"] >= ACC_FLOOR
    # needs_agent must stay the exception (it was 55% with the naive-Bayes model).
    assert result["needs_agent_rate"] <= NEEDS_AGENT_CEILING
    assert result["accuracy_when_confident"] >= result["accuracy"]
    assert sum(sum(row.values()) for row in result["confusion"].values()) == result["rows"]


def test_accuracy_on_a_sample_of_the_held_out_set():
    """A fixed every-5th-row sample (fast regression signal while iterating on one category)."""
    rows = read_labelled(TEST_SET)[::5]
    result = evaluate(rows)
    assert result["accuracy"] >= ACC_FLOOR - 0.02


def test_accuracy_on_fresh_social_media_texts():
    """~100 complaints written separately in a social-media voice (not from either phrase pool)."""
    result = evaluate(read_labelled(FRESH_SET))
    assert result["rows"] >= 100
    assert result["accuracy"] >= FRESH_FLOOR


def test_shipped_weights_match_the_taxonomy_and_training_data():
    """The shipped .npz is used only while its fingerprint matches; stale weights would mean training at every
    start. Fix: python -m server.triage.train"""
    taxonomy = load_taxonomy()
    settings = tomllib.loads(Path(taxonomy.source).read_text())["model"]
    fingerprint = training_fingerprint(taxonomy.categories, Path(taxonomy.source).parent / settings["training_csv"],
                                       settings, base=Path(taxonomy.source).parent)
    assert model_load(Path(taxonomy.source).parent / settings["weights"], fingerprint=fingerprint) is not None


def test_dev_split_never_trains_on_a_dev_phrasing():
    """The dev folds hold out whole phrasings and wrappers (the tuning data never shares a phrasing with training)."""
    from server.triage.evaluate import _fold

    with TRAIN_SET.open() as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["phrase"] and r["wrapper"] for r in rows)
    for f in range(5):
        dev = {(r["phrase"], r["wrapper"]) for r in rows if _fold(r["phrase"], 5) == f and _fold(r["wrapper"], 5) == f}
        train = [r for r in rows if _fold(r["phrase"], 5) != f and _fold(r["wrapper"], 5) != f]
        assert dev and train
        assert not {r["phrase"] for r in train} & {p for p, _ in dev}
        assert not {r["wrapper"] for r in train} & {w for _, w in dev}


def test_cli_prints_json_on_the_last_line(tmp_path):
    reports = tmp_path / "r.csv"
    reports.write_text("text,category\nHuge pothole on Boston St,pothole\nI smell gas on Fleet St,gas_leak\n"
                       "my home internet is down again,internet_outage\nrats in the alley,rats\n")
    run = subprocess.run([sys.executable, "-m", "server.cli", "eval", "triage", "--reports", str(reports)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["rows"] == 4 and result["accuracy"] == 1.0
    assert "true category" in run.stdout


def test_cli_bad_csv_is_one_line(tmp_path):
    reports = tmp_path / "r.csv"
    reports.write_text("body,label\nx,y\n")
    run = subprocess.run([sys.executable, "-m", "server.cli", "eval", "triage", "--reports", str(reports)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "missing column(s) category, text" in run.stderr
