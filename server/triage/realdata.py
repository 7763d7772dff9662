"""Real labelled text for ``groundcrew eval triage --real``: FixMyStreet London and Helsinki resident reports (their
own categories mapped to the catalogue by the reviewed files in ``data/map_*.csv``) and real customer-support
threads (twcs, against the hand labels in ``data/twcs_labels.csv``).

The text itself is never part of the project: it is read from the paths given (``../shared/data`` here). Rows are
split by a fixed rule: a row is HELD BACK when ``crc32(id) % 5 == 0`` (20 %); figures are reported on held-back
rows only, and only the other rows may train a model (``write_training_csv``, at deployment: FixMyStreet's text
may not be shipped in a model)."""

from __future__ import annotations

import csv
import io
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.triage.service import OUT_OF_SCOPE, Taxonomy, classify, load_taxonomy

DATA = Path(__file__).resolve().parent / "data"
FMS_MAP = DATA / "map_fixmystreet_london.csv"
HELSINKI_MAP = DATA / "map_helsinki.csv"
TWCS_LABELS = DATA / "twcs_labels.csv"
FMS_FILE = Path("complaints/fixmystreet_london/fixmystreet_london_sample.csv")
HELSINKI_FILE = Path("cities/helsinki/helsinki_feedback_2015_all.csv")
TWCS_FILE = Path("complaints/twcs/twcs_sample.csv")


def held_back(row_id: str) -> bool:
    """True for the 20 % of rows kept for figures (never trained or tuned on): crc32 of the id, mod 5, is 0."""
    return zlib.crc32(str(row_id).encode()) % 5 == 0


def _commented_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV whose leading ``#`` lines are its header comment."""
    text = "".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                   if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(text)))


def read_mapping(path: Path) -> dict[str, str]:
    """Source category → catalogue category ("" when none fits)."""
    return {r["source_category"]: (r["category"] or "").strip() for r in _commented_csv(path)}


@dataclass(frozen=True)
class Report:
    id: str
    text: str
    category: str  # the catalogue category, "" when the source category maps to none
    source_category: str


def fixmystreet(path: Path, *, mapping: Path = FMS_MAP, strict: bool = True) -> list[Report]:
    """FixMyStreet London reports; ``strict`` leaves out council-written and title-is-the-category rows."""
    cmap = read_mapping(mapping)
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Report(r["id"], r["text"], cmap.get(r["category"], ""), r["category"]) for r in rows
            if not (strict and r.get("flag"))]


def helsinki(path: Path, *, mapping: Path = HELSINKI_MAP) -> list[Report]:
    """Helsinki feedback (Finnish): title + description, with the city's service name mapped."""
    cmap = read_mapping(mapping)
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        title, body = (r.get("title") or "").strip(), (r.get("description") or "").strip()
        text = body if title.rstrip(".") and body.startswith(title.rstrip(".")) else f"{title}. {body}".strip(". ")
        if text:
            out.append(Report(f"hki-{r['id']}", text, cmap.get(r["service_name"] or "", ""), r["service_name"] or ""))
    return out


@dataclass(frozen=True)
class Thread:
    first_id: str
    text: str
    brand: str


def twcs_threads(path: Path) -> list[Thread]:
    """Conversation threads (connected tweets), each by its first customer tweet."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ids = {r["tweet_id"] for r in rows}
    parent: dict[str, str] = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        p = r["in_response_to_tweet_id"]
        if p and (p := str(int(float(p)))) in ids:
            parent[find(r["tweet_id"])] = find(p)
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        groups[find(r["tweet_id"])].append(r)
    threads = []
    for group in groups.values():
        inbound = [r for r in group if r["inbound"] == "True"]
        if inbound:
            first = min(inbound, key=lambda r: int(r["tweet_id"]))
            brand = next((r["author_id"] for r in group if r["inbound"] == "False"), "")
            threads.append(Thread(first["tweet_id"], first["text"], brand))
    return sorted(threads, key=lambda t: int(t.first_id))


def twcs_labels(path: Path = TWCS_LABELS) -> dict[str, str]:
    """first_tweet_id → field | account | chatter."""
    return {r["first_tweet_id"]: r["label"] for r in _commented_csv(path)}


# --------------------------------------------------------------------------- figures
#: The channel each real set reaches Groundcrew through: resident reports from a city's or FixMyStreet's Open311
#: feed (FixMyStreet forwards reports to councils over Open311), support threads as tweets to a brand.
REPORTS_CHANNEL, THREADS_CHANNEL = "open311", "twitter"


def score_reports(reports: list[Report], *, taxonomy: Taxonomy | None = None,
                  channel: str = REPORTS_CHANNEL) -> dict[str, Any]:
    """Resident reports (every one a field problem): coverage (share answered as field work with a service),
    accuracy on the covered rows whose source category maps to the catalogue, and the field/not-field decision
    (wrong = answered out of scope or as an account matter; "unsure, to an agent" is not a wrong decision)."""
    taxonomy = taxonomy or load_taxonomy()
    outcomes: Counter[str] = Counter()
    mapped = covered = correct = wrong_kind = 0
    confusion: Counter[tuple[str, str]] = Counter()
    per_cat: dict[str, Counter[str]] = defaultdict(Counter)  # true category → rows, covered, correct
    calib: list[tuple[float, bool]] = []
    for rep in reports:
        scored = classify(rep.text, taxonomy=taxonomy, channel=channel)
        outcomes[scored.outcome] += 1
        calib.append((scored.p_field, True))
        if scored.outcome == OUT_OF_SCOPE or (scored.outcome == "agent" and scored.category is not None):
            wrong_kind += 1
        if not rep.category:
            continue
        mapped += 1
        per_cat[rep.category]["rows"] += 1
        if scored.outcome == "field_work":
            covered += 1
            correct += scored.category == rep.category
            per_cat[rep.category]["covered"] += 1
            per_cat[rep.category]["correct"] += scored.category == rep.category
            if scored.category != rep.category:
                confusion[(rep.category, scored.category or "")] += 1
    n = len(reports)
    return {
        "rows": n, "channel": channel, "mapped_rows": mapped, "outcomes": dict(outcomes),
        "coverage": round(covered / mapped, 4) if mapped else None,
        "accuracy_when_covered": round(correct / covered, 4) if covered else None,
        "accuracy_all_mapped": round(correct / mapped, 4) if mapped else None,
        "field_decision_correct": round(1 - wrong_kind / n, 4) if n else None,
        "top_confusions": [f"{t} -> {p}: {k}" for (t, p), k in confusion.most_common(8)],
        # Per true category: rows, coverage and accuracy when covered (where the ceiling is).
        "per_category": {c: {"rows": k["rows"], "coverage": round(k["covered"] / k["rows"], 3),
                             "accuracy_when_covered": round(k["correct"] / k["covered"], 3) if k["covered"] else None}
                         for c, k in sorted(per_cat.items(), key=lambda kv: -kv[1]["rows"])},
        "_calibration": calib,
    }


def score_threads(threads: list[Thread], labels: dict[str, str], *, taxonomy: Taxonomy | None = None,
                  channel: str = THREADS_CHANNEL) -> dict[str, Any]:
    """Support threads replayed as new messages: how many become field work (the automatic "where is it?" would
    go to each: no thread carries an address), get a service, go to an agent or are out of scope; on the labelled
    sample, field work beyond the genuinely local threads."""
    taxonomy = taxonomy or load_taxonomy()
    outcomes: Counter[str] = Counter()
    given_service = 0
    labelled: Counter[str] = Counter()
    field_on_nonlocal = field_on_local = 0
    calib: list[tuple[float, bool]] = []
    for thread in threads:
        scored = classify(thread.text, taxonomy=taxonomy, channel=channel)
        outcomes[scored.outcome] += 1
        given_service += scored.category is not None
        label = labels.get(thread.first_id)
        if label is None:
            continue
        labelled[label] += 1
        calib.append((scored.p_field, label == "field"))
        if scored.outcome == "field_work":
            if label == "field":
                field_on_local += 1
            else:
                field_on_nonlocal += 1
    n = len(threads)
    n_lab = sum(labelled.values())
    return {
        "threads": n, "channel": channel, "outcomes": dict(outcomes),
        "marked_field_work": outcomes["field_work"], "asked_for_location": outcomes["field_work"],
        "given_a_service": given_service,
        "labelled_sample": dict(labelled),
        "sample_field_work_beyond_local": field_on_nonlocal,
        "sample_field_work_beyond_local_rate": round(field_on_nonlocal / n_lab, 4) if n_lab else None,
        "sample_local_found": f"{field_on_local} of {labelled['field']}",
        "_calibration": calib,
    }


def reliability(pairs: list[tuple[float, bool]], bins: int = 5) -> list[dict[str, Any]]:
    """Reliability of p_field: per probability bin, the mean predicted probability and the share truly field."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, y) for p, y in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            out.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": len(inside),
                        "mean_p_field": round(sum(p for p, _ in inside) / len(inside), 3),
                        "share_field": round(sum(y for _, y in inside) / len(inside), 3)})
    return out


def evaluate_real(shared: Path, *, taxonomy: Taxonomy | None = None, limit: int | None = None) -> dict[str, Any]:
    """All real-text figures on the HELD-BACK rows under ``shared`` (the folder holding complaints/ and cities/)."""
    taxonomy = taxonomy or load_taxonomy()
    result: dict[str, Any] = {"held_back_rule": "crc32(id) % 5 == 0", "taxonomy": taxonomy.source,
                              "training_rows": taxonomy.training_rows}
    calib: list[tuple[float, bool]] = []
    if (shared / FMS_FILE).exists():
        rows = [r for r in fixmystreet(shared / FMS_FILE) if held_back(r.id)][:limit]
        result["fixmystreet_london"] = score_reports(rows, taxonomy=taxonomy)
        pairs = result["fixmystreet_london"].pop("_calibration")
        result["fixmystreet_london"]["p_field_reliability"] = reliability(pairs)
        calib += pairs
    if (shared / HELSINKI_FILE).exists():
        rows = [r for r in helsinki(shared / HELSINKI_FILE) if held_back(r.id)][:limit]
        result["helsinki"] = score_reports(rows, taxonomy=taxonomy)
        pairs = result["helsinki"].pop("_calibration")
        result["helsinki"]["p_field_reliability"] = reliability(pairs)
        calib += pairs
    if (shared / TWCS_FILE).exists():
        result["twcs"] = score_threads(twcs_threads(shared / TWCS_FILE), twcs_labels(), taxonomy=taxonomy)
        pairs = result["twcs"].pop("_calibration")
        result["twcs"]["p_field_reliability"] = reliability(pairs)
        calib += pairs
    result["p_field_reliability"] = reliability(calib)
    if taxonomy._text_model is not None:
        result["real_text_model"] = {"trained_on": "FixMyStreet London and Helsinki rows NOT held back "
                                     "(crc32(id) % 5 != 0); its settings chosen by 5-fold cross-validation on them",
                                     **taxonomy._text_model.summary()}
    return result


def training_reports(shared: Path) -> list[Report]:
    """The NOT-held-back FixMyStreet and Helsinki rows with a catalogue category (the only real rows any model may
    learn from; the held-back ones give figures). A row whose exact text is also a held-back row's (a report sent
    twice: 59 London rows, 1 Helsinki row) is left out too, so no held-back text is ever trained on."""
    rows: list[Report] = []
    for path, read in ((FMS_FILE, fixmystreet), (HELSINKI_FILE, helsinki)):
        if (shared / path).exists():
            reports = read(shared / path)
            held_texts = {r.text for r in reports if held_back(r.id)}
            rows += [r for r in reports if r.category and not held_back(r.id) and r.text not in held_texts]
    return rows


def write_training_csv(shared: Path, out: Path) -> int:
    """Write ``training_reports`` (columns text, category) to ``out``, for ``[model] extra_training_csv`` or
    ``groundcrew triage train --extra`` at a deployment that may use them. Returns the row count."""
    rows = training_reports(shared)
    with Path(out).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category", "mix"])
        writer.writerows([r.text, r.category, 1] for r in rows)
    return len(rows)


def main() -> None:
    """``python -m server.triage.realdata --shared ../shared/data --out /srv/groundcrew/triage_real.csv``: write the
    not-held-back real rows for a deployment's ``[model] extra_training_csv`` (FixMyStreet's text may be used where
    its terms allow, never shipped in the project)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0] if main.__doc__ else None)
    parser.add_argument("--shared", type=Path, required=True, help="folder holding complaints/ and cities/")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(f"wrote {write_training_csv(args.shared, args.out)} rows to {args.out}")


if __name__ == "__main__":
    main()
