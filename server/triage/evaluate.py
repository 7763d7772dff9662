"""Category accuracy of triage on a labelled CSV (columns ``text``, ``category``), with a confusion matrix. The
shipped CSVs are SYNTHETIC (developer-written phrasings around real addresses); real-text figures are in
``realdata.py``."""

from __future__ import annotations

import csv
import tomllib
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from server.triage.service import (
    OUT_OF_SCOPE,
    Taxonomy,
    _keyword_hits,
    _train,
    classify,
    keyword_scores,
    load_taxonomy,
    tokenize,
)

NONE = "(none)"


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(text, category) rows; raises ValueError naming the missing column or an empty file."""
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"text", "category"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))} (need text, category)")
        rows = [((r["text"] or "").strip(), (r["category"] or "").strip()) for r in reader]
    rows = [(t, c) for t, c in rows if t and c]
    if not rows:
        raise ValueError(f"{path}: no rows with both text and category")
    return rows


def evaluate(rows: list[tuple[str, str]], *, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Accuracy, per-category recall/precision, the confusion matrix (true → predicted → count) and how often
    an agent would be asked (needs_agent), with accuracy on the rows triage was confident about."""
    taxonomy = taxonomy or load_taxonomy()
    unknown = sorted({c for _, c in rows if taxonomy.by_name(c) is None})
    confusion: dict[str, Counter[str]] = {}
    correct = flagged = confident_correct = 0
    for text, truth in rows:
        scored = classify(text, taxonomy=taxonomy)
        # Unsure rows carry no category (an agent decides): score their best guess, flagged as needing an agent.
        guess = next((name for name, _ in scored.ranking if name != OUT_OF_SCOPE), None)
        predicted = NONE if scored.outcome == OUT_OF_SCOPE else scored.category or guess or NONE
        confusion.setdefault(truth, Counter())[predicted] += 1
        correct += predicted == truth
        if scored.needs_agent:
            flagged += 1
        else:
            confident_correct += predicted == truth
    n = len(rows)
    predicted_totals: Counter[str] = Counter()
    for row in confusion.values():
        predicted_totals.update(row)
    per_category = {}
    for truth, row in sorted(confusion.items()):
        total = sum(row.values())
        per_category[truth] = {
            "n": total, "recall": round(row[truth] / total, 4),
            "precision": round(row[truth] / predicted_totals[truth], 4) if predicted_totals[truth] else None,
        }
    confident = n - flagged
    return {
        "rows": n, "accuracy": round(correct / n, 4), "correct": correct,
        "needs_agent_rate": round(flagged / n, 4),
        "accuracy_when_confident": round(confident_correct / confident, 4) if confident else None,
        "taxonomy": taxonomy.source, "training_rows": taxonomy.training_rows,
        "unknown_labels": unknown, "per_category": per_category,
        "confusion": {t: dict(sorted(r.items(), key=lambda kv: -kv[1])) for t, r in sorted(confusion.items())},
    }


def confusion_table(result: dict[str, Any]) -> str:
    """The confusion matrix as text: one line per true category with its misclassifications."""
    lines = [f"{'true category':<18} {'n':>5} {'recall':>7}  confused with"]
    for truth, stats in result["per_category"].items():
        wrong = [f"{p} {k}" for p, k in result["confusion"][truth].items() if p != truth]
        lines.append(f"{truth:<18} {stats['n']:>5} {stats['recall']:>7.1%}  {', '.join(wrong) or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- dev split (training phrasings only)
def _fold(key: str, folds: int) -> int:
    return zlib.crc32(key.encode()) % folds


def _author(key: str, folds: int) -> int:
    return 0 if key.startswith("train:") else 1


def dev_predictions(*, taxonomy: Taxonomy | None = None, folds: int = 5, l2: float | None = None,
                    split: str = "group") -> dict[str, Any]:
    """Out-of-fold raw logits on the TRAINING CSV, grouped so a dev row's phrasing AND wrapper were never trained
    on: each phrase id and each wrapper id (columns ``phrase``, ``wrapper``; the text when absent) falls in one of
    ``folds`` folds; fold f trains on rows whose phrase and wrapper are both outside f and predicts rows whose
    phrase and wrapper are both in f. ``split="author"``: two folds, the original phrase pool and wrappers
    ("train:" ids) against the ones written later by others (extra, author3-5), which mimics the shift to a separately
    written test set better (use it to tune the temperature and thresholds). Never reads a test file."""
    fold_of = _author if split == "author" else _fold
    folds = 2 if split == "author" else folds
    taxonomy = taxonomy or load_taxonomy()
    path = Path(taxonomy.source).parent / str(taxonomy_settings(taxonomy).get("training_csv", ""))
    with path.open(newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    rows = [((r["text"] or ""), (r["category"] or "").strip(), (r.get("mix") or "1").strip() != "0",
             r.get("phrase") or r["text"], r.get("wrapper") or r["text"]) for r in raw]
    rows = [r for r in rows if taxonomy.by_name(r[1]) is not None]
    index = {c.name: i for i, c in enumerate(taxonomy.categories)}
    settings = dict(taxonomy_settings(taxonomy))
    if l2 is not None:
        settings["l2"] = l2
    settings.update(temperature=1.0, prior_weight=0.0)
    logits, labels, in_mix = [], [], []
    for f in range(folds):
        train = [(t, c, m) for t, c, m, p, w in rows if fold_of(p, folds) != f and fold_of(w, folds) != f]
        dev = [(t, c, m) for t, c, m, p, w in rows if fold_of(p, folds) == f and fold_of(w, folds) == f]
        model = _train(taxonomy, train, settings)
        for text, category, m in dev:
            tokens = tokenize(text)
            z = model.logits(tokens, keyword_scores(taxonomy, _keyword_hits(taxonomy, tokens)))
            logits.append(z[:len(index)])  # the out-of-scope class has no dev rows here
            labels.append(index[category])
            in_mix.append(m)
    mix = np.bincount([index[c] for _, c, m, _, _ in rows if m], minlength=len(index)).astype(float)
    return {"logits": np.array(logits), "labels": np.array(labels), "in_mix": np.array(in_mix),
            "log_prior": np.log((mix + 1) / (mix + 1).sum()), "names": taxonomy.names}


def tune(dev: dict[str, Any], *, flag_rate: tuple[float, float] = (0.06, 0.08)) -> dict[str, Any]:
    """Temperature and prior weight minimising the dev log-loss (rows weighted to the real category mix), then
    the confidence threshold that flags about ``flag_rate`` of the rows for an agent while catching the most
    errors. Returns the settings and the dev accuracy and flag rate they give."""
    z, y, log_prior = dev["logits"], dev["labels"], dev["log_prior"]
    n_cat = z.shape[1]
    counts = np.bincount(y, minlength=n_cat).astype(float)
    weight = np.exp(log_prior)[y] / counts[y]
    weight /= weight.sum()

    def probs(t: float, a: float) -> np.ndarray:
        s = z / t + a * log_prior
        s = np.exp(s - s.max(axis=1, keepdims=True))
        return s / s.sum(axis=1, keepdims=True)

    best = None
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 2.0):
        for a in (0.0, 0.25, 0.5, 0.75, 1.0):
            p = probs(t, a)
            nll = float(-(weight * np.log(p[np.arange(len(y)), y] + 1e-12)).sum())
            if best is None or nll < best[0]:
                best = (nll, t, a)
    _, t, a = best
    p = probs(t, a)
    top = p.max(axis=1)
    srt = np.sort(p, axis=1)
    margin = srt[:, -1] - srt[:, -2]
    correct = p.argmax(axis=1) == y
    choice = None
    for c in np.round(np.arange(0.20, 0.96, 0.01), 2):
        for m in (0.0, 0.05, 0.10):
            flagged = (top < c) | (margin < m)
            rate = float(weight @ flagged)
            if not flag_rate[0] <= rate <= flag_rate[1]:
                continue
            acc_confident = float(weight @ (correct & ~flagged)) / max(1e-9, float(weight @ ~flagged))
            if choice is None or acc_confident > choice["accuracy_when_confident"]:
                choice = {"min_confidence": float(c), "min_margin": m, "needs_agent_rate": round(rate, 4),
                          "accuracy_when_confident": round(acc_confident, 4)}
    per_cat = {dev["names"][k]: round(float(correct[y == k].mean()), 3) for k in range(n_cat) if (y == k).any()}
    return {"temperature": t, "prior_weight": a, "dev_rows": len(y), "dev_accuracy": round(float(weight @ correct), 4),
            "dev_accuracy_unweighted": round(float(correct.mean()), 4), **(choice or {}), "dev_recall": per_cat}


def taxonomy_settings(taxonomy: Taxonomy) -> dict[str, Any]:
    """The ``[model]`` table of the taxonomy file."""
    return tomllib.loads(Path(taxonomy.source).read_text(encoding="utf-8")).get("model", {})
