"""Schema migrations with Alembic; scripts live in engine/migrations/ (never create_all)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine as SqlEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(sql_engine: SqlEngine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["sql_engine"] = sql_engine
    return config


def upgrade(sql_engine: SqlEngine, revision: str = "head") -> None:
    command.upgrade(alembic_config(sql_engine), revision)
