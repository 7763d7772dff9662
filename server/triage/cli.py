"""``groundcrew eval triage``: category accuracy of triage on a labelled CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(apps: dict[str, typer.Typer]) -> None:
    """Add ``eval triage``."""

    @apps["eval"].command("triage")
    def eval_triage(
        reports: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV with columns text, category.")],
        taxonomy: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                      help="Taxonomy TOML (default: the shipped one).")] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N rows.")] = None,
    ) -> None:
        """Triage category accuracy on labelled complaints: a confusion table, then JSON on the last line."""
        from server.triage.evaluate import confusion_table, evaluate, read_labelled
        from server.triage.service import load_taxonomy

        # A malformed CSV or taxonomy raises ValueError naming the file: the CLI prints it as one line.
        rows = read_labelled(reports)
        tax = load_taxonomy(taxonomy)
        result = evaluate(rows[:limit] if limit else rows, taxonomy=tax)
        if result["unknown_labels"]:
            typer.echo(f"warning: labels not in the taxonomy (always wrong): {', '.join(result['unknown_labels'])}",
                       err=True)
        typer.echo(confusion_table(result))
        typer.echo(json.dumps(result))
