"""``groundcrew eval triage``: triage measured on (a) real labelled resident reports, (b) real support threads and
(c) a labelled CSV (the shipped sets are synthetic), each reported under its own name."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "benchmarks" / "data" / "triage_baltimore_test.csv"


def register(apps: dict[str, typer.Typer]) -> None:
    """Add ``eval triage``."""

    @apps["eval"].command("triage")
    def eval_triage(
        reports: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                     help="CSV with columns text, category (default: the synthetic "
                                                          "Baltimore test set when --real-data is not given).")] = None,
        real_data: Annotated[Path | None, typer.Option(
            exists=True, file_okay=False, help="Folder holding complaints/fixmystreet_london, complaints/twcs and "
            "cities/helsinki (e.g. ../shared/data; default: $GROUNDCREW_SHARED_DATA). Scores their held-back rows "
            "(crc32(id) % 5 == 0).")] = None,
        taxonomy: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                      help="Taxonomy TOML (default: the shipped one).")] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N rows of each set.")] = None,
    ) -> None:
        """Triage on real and synthetic labelled text: a table per set, then JSON on the last line."""
        from server.triage.evaluate import confusion_table, evaluate, read_labelled
        from server.triage.service import load_taxonomy

        tax = load_taxonomy(taxonomy)
        real_dir = real_data or (Path(os.environ["GROUNDCREW_SHARED_DATA"])
                                 if os.environ.get("GROUNDCREW_SHARED_DATA") else None)
        out: dict[str, Any] = {}
        if real_dir is not None:
            from server.triage.realdata import evaluate_real

            real = evaluate_real(real_dir, taxonomy=tax, limit=limit)
            for name in ("fixmystreet_london", "helsinki"):
                if name in real:
                    r = real[name]
                    typer.echo(f"REAL {name} (held back): {r['rows']} rows, coverage {r['coverage']}, accuracy "
                               f"when covered {r['accuracy_when_covered']}, "
                               f"field decision {r['field_decision_correct']}")
            if "twcs" in real:
                t = real["twcs"]
                typer.echo(f"REAL twcs support threads: {t['threads']} threads, {t['marked_field_work']} field work "
                           f"(= asked where), {t['given_a_service']} given a service; labelled sample: "
                           f"{t['sample_field_work_beyond_local']} field work beyond the local ones "
                           f"({t['sample_field_work_beyond_local_rate']:.1%})")
            out["real"] = real
        if reports is not None or real_dir is None:
            # A malformed CSV or taxonomy raises ValueError naming the file: the CLI prints it as one line.
            path = reports or SYNTHETIC
            rows = read_labelled(path)
            result = evaluate(rows[:limit] if limit else rows, taxonomy=tax)
            if result["unknown_labels"]:
                typer.echo(f"warning: labels not in the taxonomy (always wrong): {', '.join(result['unknown_labels'])}",
                           err=True)
            kind = "SYNTHETIC" if path == SYNTHETIC else "LABELLED CSV"
            typer.echo(f"{kind} {path.name}: accuracy {result['accuracy']}")
            typer.echo(confusion_table(result))
            result["kind"] = kind.lower()
            if real_dir is None:
                out = result  # the last line stays the single set's figures (as before)
            else:
                out["labelled_csv"] = result
        typer.echo(json.dumps(out))

    @apps["eval"].command("triage-corrections")
    def eval_corrections(
        out: Annotated[Path | None, typer.Option(
            dir_okay=False, help="Write the corrections that are not held back here (columns text, category) for "
            "the taxonomy's model.extra_training_csv.")] = None,
        taxonomy: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                      help="Taxonomy TOML (default: the configured one).")] = None,
    ) -> None:
        """Agents' corrections (category, not field work) as training rows, and how often triage now agrees with
        them on the held-back part (case id crc32 % 5 == 0). Retrain: add the written CSV to the taxonomy's
        ``extra_training_csv``, run again with that taxonomy and compare. JSON on the last line."""
        from sqlmodel import Session

        from server.config import Settings
        from server.core.db import make_engine
        from server.triage.corrections import corrections, measure, write_training_csv
        from server.triage.service import load_taxonomy

        settings = Settings()
        tax = load_taxonomy(taxonomy or settings.taxonomy_path)
        with Session(make_engine(settings)) as session:
            rows = corrections(session=session, taxonomy=tax)
        result = measure(rows, taxonomy=tax)
        if out is not None:
            result["written"] = write_training_csv(rows, out)
        typer.echo(json.dumps(result))
