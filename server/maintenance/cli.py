"""``groundcrew db backup`` / ``groundcrew db restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(apps: dict[str, typer.Typer]) -> None:
    db_app = apps["db"]

    @db_app.command("backup")
    def db_backup(target: Annotated[Path, typer.Argument(help="Backup file to write.")]) -> None:
        """Back up the database (SQLite online backup, or pg_dump for PostgreSQL)."""
        from server.config import Settings
        from server.maintenance.service import backup

        written = backup(settings=Settings(), target=target)
        typer.echo(f"Backup written to {written} ({written.stat().st_size} bytes)")

    @db_app.command("restore")
    def db_restore(
        source: Annotated[Path, typer.Argument(help="Backup file made by 'groundcrew db backup'.")],
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Replace the database's contents with a backup."""
        from server.config import Settings
        from server.maintenance.service import restore

        if not yes:
            typer.confirm("This replaces everything in the database. Continue?", abort=True)
        restore(settings=Settings(), source=source)
        typer.echo(f"Restored from {source}")
