"""The migrations build exactly the schema the models describe (no create_all anywhere)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine import Engine
from engine.db.base import Base


def test_migrated_schema_matches_the_models(bare_engine: Engine) -> None:
    with bare_engine.sql_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
