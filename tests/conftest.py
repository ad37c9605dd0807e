"""Test databases: SQLite by default; PostgreSQL when CHENGXIN_TEST_DATABASE is its URL.

The schema is migrated once per run (a template file on SQLite, a fresh schema of its own
on PostgreSQL); each test then starts from empty tables. An unreachable PostgreSQL makes
every test error out: CI fails rather than skipping.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine import Engine, EngineSettings, FixedClock
from engine.clock import parse_moment
from engine.db.base import Base
from engine.db.session import make_sql_engine
from engine.migrate import upgrade

from .factories import postgresql_schema, prepare_engine

TARGET = os.environ.get("CHENGXIN_TEST_DATABASE", "sqlite")
ON_POSTGRESQL = TARGET.startswith("postgresql")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not ON_POSTGRESQL:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        sql = make_sql_engine(f"sqlite:///{path}")
        upgrade(sql)
        sql.dispose()
        yield str(path)
        return
    with postgresql_schema(TARGET) as url:
        sql = make_sql_engine(url)
        upgrade(sql)
        sql.dispose()
        yield url


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if not ON_POSTGRESQL:
        target = tmp_path / "chengxin.sqlite3"
        shutil.copyfile(database_template, target)
        return f"sqlite:///{target}"
    sql = create_engine(database_template)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with sql.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    sql.dispose()
    return database_template


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(parse_moment("2023-10-17T09:00:00"))


@pytest.fixture
def bare_engine(database_url: str, clock: FixedClock) -> Iterator[Engine]:
    engine = Engine(EngineSettings(database_url=database_url), clock)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(bare_engine: Engine) -> Engine:
    """Processes deployed, Suizhou's units, one user per role and unit, the 2023 campaign."""
    prepare_engine(bare_engine)
    return bare_engine
