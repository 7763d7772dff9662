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


def _default_model_path() -> Path:
    from server.config import Settings

    return Settings().data_dir / "triage_text_model.pkl"


def _text_model_for(real_dir: Path, path: Path | None) -> Any:
    """The real-text model at ``path`` when it was trained on exactly the not-held-back rows under ``real_dir``;
    else trained now (minutes) and written there."""
    from server.triage import textmodel
    from server.triage.realdata import training_reports

    path = path or _default_model_path()
    rows = [(r.text, r.category) for r in training_reports(real_dir)]
    if not rows:
        raise typer.BadParameter(f"{real_dir}: no labelled real rows to train the real-text model on")
    found = textmodel.load(path, expect_fingerprint=textmodel.fingerprint(rows))
    if found is not None:
        typer.echo(f"real-text model: {path} (trained on the {len(rows)} not-held-back rows)")
        if any(m.cv.get("target_accuracy") != textmodel.TARGET_ACCURACY for m in found.languages.values()):
            found.retarget(textmodel.TARGET_ACCURACY)  # thresholds from its out-of-fold answers, no retraining
        return found
    typer.echo(f"real-text model: training on the {len(rows)} not-held-back rows into {path} (once; minutes)")
    model = textmodel.train(rows, log=typer.echo)
    textmodel.save(model, path)
    return model


def register(apps: dict[str, typer.Typer]) -> None:
    """Add ``eval triage``, ``eval triage-corrections`` and ``triage train``."""
    triage_app = typer.Typer(help="Triage models.", no_args_is_help=True)
    apps["root"].add_typer(triage_app, name="triage")

    @triage_app.command("train")
    def train_text_model(
        real_data: Annotated[Path | None, typer.Option(
            exists=True, file_okay=False, help="Folder holding complaints/fixmystreet_london and cities/helsinki: "
            "their NOT-held-back rows (crc32(id) % 5 != 0) are trained on.")] = None,
        extra: Annotated[list[Path] | None, typer.Option(
            exists=True, dir_okay=False, help="More labelled rows (CSV with text, category), e.g. agents' "
            "corrections from `groundcrew eval triage-corrections --out`. Repeatable.")] = None,
        out: Annotated[Path | None, typer.Option(dir_okay=False, help="Model file (default: "
                                                 "DATA_DIR/triage_text_model.pkl); name it in the taxonomy's "
                                                 "[model] text_model.")] = None,
        target_accuracy: Annotated[float, typer.Option(min=0.5, max=0.999, help="Out-of-fold accuracy the answered "
                                                       "reports must reach; the rest go to an agent.")] = 0.86,
    ) -> None:
        """Train the real-text category model (a model per language, chosen by 5-fold cross-validation on these
        rows only) and write it to the deployment's data folder. JSON summary on the last line."""
        from server.triage import textmodel
        from server.triage.evaluate import read_labelled
        from server.triage.realdata import training_reports

        rows: list[tuple[str, str]] = []
        if real_data is not None:
            rows += [(r.text, r.category) for r in training_reports(real_data)]
        for path in extra or []:
            try:
                rows += read_labelled(path)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from exc
        if not rows:
            raise typer.BadParameter("nothing to train on: give --real-data and/or --extra")
        path = out or _default_model_path()
        try:
            model = textmodel.train(rows, target_accuracy=target_accuracy, log=typer.echo)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        textmodel.save(model, path)
        typer.echo(f"wrote {path}")
        typer.echo(json.dumps(model.summary()))

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
        text_model: Annotated[Path | None, typer.Option(
            dir_okay=False, help="Real-text model file (default: DATA_DIR/triage_text_model.pkl). With --real-data "
            "it is trained there from the NOT-held-back rows when missing or trained on other rows.")] = None,
        base_only: Annotated[bool, typer.Option(help="Score the base model alone (no real-text model).")] = False,
    ) -> None:
        """Triage on real and synthetic labelled text: a table per set, then JSON on the last line."""
        from server.triage.evaluate import confusion_table, evaluate, read_labelled
        from server.triage.service import load_taxonomy, with_text_model

        tax = load_taxonomy(taxonomy)
        real_dir = real_data or (Path(os.environ["GROUNDCREW_SHARED_DATA"])
                                 if os.environ.get("GROUNDCREW_SHARED_DATA") else None)
        out: dict[str, Any] = {}
        if base_only:
            tax = with_text_model(tax, None)
        elif real_dir is not None and (text_model is not None or tax._text_model is None):
            tax = with_text_model(tax, _text_model_for(real_dir, text_model))
        if real_dir is not None:
            from server.triage.realdata import evaluate_real

            real = evaluate_real(real_dir, taxonomy=tax, limit=limit)
            for name in ("fixmystreet_london", "helsinki"):
                if name in real:
                    r = real[name]
                    typer.echo(f"REAL {name} (held back, as {r['channel']}): {r['rows']} rows, coverage "
                               f"{r['coverage']}, accuracy "
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
