"""Alembic environment: the caller passes its SQLAlchemy engine in config.attributes."""
from alembic import context

from engine.db.base import Base
from engine.db import models  # noqa: F401 - registers the tables on Base.metadata

config = context.config
sql_engine = config.attributes.get("sql_engine")
if sql_engine is None:
    from engine.db.session import make_sql_engine
    sql_engine = make_sql_engine(config.get_main_option("sqlalchemy.url"))

with sql_engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
