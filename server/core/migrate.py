"""Running Alembic migrations from code (``groundcrew db upgrade``, the demo, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from server.config import Settings
from server.core.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "heads", engine: Engine | None = None) -> None:
    """Bring the database schema up to ``revision`` (idempotent). Feature branches of the migration
    tree are all applied (``heads``)."""
    config = alembic_config(settings)
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if own_engine:
            engine.dispose()  # also checkpoints SQLite's WAL into the main file


def current_revision(settings: Settings) -> str | None:
    """The applied revision(s), comma-separated."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
            return ",".join(sorted(heads)) or None
    finally:
        engine.dispose()
