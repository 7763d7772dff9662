"""Build the shipped triage weights: ``python -m server.triage.train`` (add ``--tune`` to first re-fit the
temperature, prior weight and needs_agent thresholds on a grouped dev split of the TRAINING CSV; paste the printed
values into the taxonomy's ``[model]``/``[triage]`` tables, then run it again without ``--tune``).

The weights go to the file named by ``[model] weights`` beside the taxonomy, stamped with a fingerprint of the
categories' keywords, the training CSV and the model code: ``load_taxonomy`` uses them only when the fingerprint
matches and otherwise trains in-process at load time (a deployment's own taxonomy), so stale weights are never
used. Deterministic: the same inputs give the same weights."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

from server.triage import model as model_module
from server.triage.service import DEFAULT_TAXONOMY, load_taxonomy, training_fingerprint


def build(taxonomy_path: Path = DEFAULT_TAXONOMY) -> Path:
    """Train on the taxonomy's training CSV and write its weights file; returns the path written."""
    data = tomllib.loads(taxonomy_path.read_text(encoding="utf-8"))
    settings = data.get("model", {})
    if not settings.get("weights") or not settings.get("training_csv"):
        raise SystemExit(f"{taxonomy_path}: [model] needs training_csv and weights")
    csv_path = (taxonomy_path.parent / settings["training_csv"]).resolve()
    out = (taxonomy_path.parent / settings["weights"]).resolve()
    if out.exists():
        out.unlink()  # never load the old weights while rebuilding
    taxonomy = load_taxonomy(taxonomy_path)  # no weights file: this trains on the CSV
    model_module.save(taxonomy._model, out, fingerprint=training_fingerprint(taxonomy.categories, csv_path, settings,
                                                                             base=taxonomy_path.parent))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxonomy", type=Path, default=DEFAULT_TAXONOMY)
    parser.add_argument("--tune", action="store_true", help="print dev-split settings instead of writing weights")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--split", choices=("author", "group"), default="author",
                        help="dev split: original vs later authors' phrase pools (default), or 5 grouped folds")
    args = parser.parse_args()
    if args.tune:
        from server.triage.evaluate import dev_predictions, tune

        dev = dev_predictions(taxonomy=load_taxonomy(args.taxonomy), folds=args.folds, split=args.split)
        print(json.dumps(tune(dev)))
        return
    out = build(args.taxonomy)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
