"""`chengxin backup PATH` and `chengxin restore PATH`: the whole database, taken while it runs.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot
while workers and the web process keep writing; the copy is checked (`integrity_check`) and
renamed into place, so PATH is either a whole backup or absent. Restore copies it into the
`--db` file, which must be new or empty.

PostgreSQL: `pg_dump --format=custom` (only the schema of `--db` when its URL sets a
search_path, as the tests' schemas do) and `pg_restore`. The client tools must be installed
(Debian: `postgresql-client`), of the server's major version or newer. Restore goes into a
fresh database (or schema) of `--db`; when that schema's name differs from the dumped one
(a copy for staging or a test), the archive is rendered to SQL by `pg_restore`, the schema
name rewritten in its statements (never in table data), and run by `psql` in one transaction.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from .errors import EngineError, NotFound


class BackupFailed(EngineError):
    code = "backup_failed"


def backup(database_url: str, path: str | Path) -> dict[str, Any]:
    """Write a backup of the database to `path` (which must not exist yet)."""
    url, target = make_url(database_url), Path(path)
    if target.exists():
        raise BackupFailed(f"{target} already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        info = _sqlite_backup(_sqlite_file(url), target)
    elif url.get_backend_name() == "postgresql":
        info = _pg_backup(url, target)
    else:
        raise BackupFailed(f"no backup for {url.get_backend_name()} databases")
    return {"backup": str(target), "bytes": target.stat().st_size, "sha256": _sha256(target), **info}


def restore(database_url: str, path: str | Path) -> dict[str, Any]:
    """Restore the backup at `path` into the database of `database_url`, which must be empty."""
    url, source = make_url(database_url), Path(path)
    if not source.is_file():
        raise NotFound(f"no backup file {source}")
    if url.get_backend_name() == "sqlite":
        info = _sqlite_restore(source, _sqlite_file(url))
    elif url.get_backend_name() == "postgresql":
        info = _pg_restore(source, url)
    else:
        raise BackupFailed(f"no restore for {url.get_backend_name()} databases")
    result = {"restored": str(source), "into": url.render_as_string(hide_password=True), **info}
    result.update(_schema_summary(database_url))
    return result


# --- SQLite -----------------------------------------------------------------------------------
def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_backup(database: Path, target: Path) -> dict[str, Any]:
    if not database.is_file():
        raise NotFound(f"no database file {database}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(database, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            # One step: a consistent snapshot even while other connections write.
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            _check_sqlite(copy, partial)
        finally:
            copy.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"SQLite backup failed: {exc}") from exc
    finally:
        source.close()
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return {"engine": "sqlite"}


def _sqlite_restore(source: Path, database: Path) -> dict[str, Any]:
    try:
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupFailed(f"{source} is not a SQLite backup: {exc}") from exc
    try:
        _check_sqlite(backup_db, source)
        if database.exists() and database.stat().st_size > 0:
            existing = sqlite3.connect(database)
            try:
                tables = existing.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            finally:
                existing.close()
            if tables:
                raise BackupFailed(f"{database} already holds a database; restore into a new file "
                                   "(or move that one away first)")
        database.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(database)
        try:
            backup_db.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"SQLite restore failed: {exc}") from exc
    finally:
        backup_db.close()
    return {"engine": "sqlite"}


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        has_version = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(f"{path} is not a SQLite database: {exc}") from exc
    if result != "ok":
        raise BackupFailed(f"{path} fails SQLite's integrity check: {result}")
    if not has_version:
        raise BackupFailed(f"{path} is not a Chengxin database (no alembic_version table)")


# --- PostgreSQL -------------------------------------------------------------------------------
def _pg_backup(url: URL, target: Path) -> dict[str, Any]:
    schema = _search_path_schema(url)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    command = [_tool("pg_dump"), "--format=custom", "--file", str(partial), "--dbname", _conninfo(url)]
    if schema:
        command += ["--schema", schema]
    _run(command, url)
    os.replace(partial, target)
    return {"engine": "postgresql", "schema": schema or "(whole database)"}


def _pg_restore(source: Path, url: URL) -> dict[str, Any]:
    pg_restore = _tool("pg_restore")
    listing = _run([pg_restore, "--list", str(source)], url, what="reading the backup").stdout
    dumped = _dumped_schema(listing)
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            wanted = _search_path_schema(url) or conn.execute(text("SELECT current_schema()")).scalar() or "public"
            exists = conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": wanted}).scalar()
            tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": wanted}).scalar()
    finally:
        engine.dispose()
    if tables:
        raise BackupFailed(f"schema {wanted} of the target database already has tables; restore into a fresh "
                           "database (createdb) or an empty schema")
    # Leave out the dump's CREATE SCHEMA when the schema is already there (public, or made beforehand).
    entries = [line for line in listing.splitlines()
               if not (exists or dumped != wanted) or not re.search(rf"\bSCHEMA - {re.escape(dumped)}\b", line)]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as handle:
        handle.write("\n".join(entries) + "\n")
        list_file = handle.name
    try:
        options = ["--no-owner", "--no-privileges", "--exit-on-error", f"--use-list={list_file}"]
        if dumped == wanted:
            _run([pg_restore, *options, "--single-transaction", "--dbname", _conninfo(url), str(source)], url,
                 what="pg_restore")
        else:
            if not exists:
                entries_sql = f'CREATE SCHEMA "{wanted}";\n'
            else:
                entries_sql = ""
            script = _run([pg_restore, *options, "--file", "-", str(source)], url, what="pg_restore").stdout
            sql = entries_sql + _rename_schema(script, dumped, wanted)
            _run([_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                  "--dbname", _conninfo(url), "-f", "-"], url, what="psql", stdin=sql)
    finally:
        os.unlink(list_file)
    return {"engine": "postgresql", "schema": wanted, "dumped_schema": dumped}


def _dumped_schema(listing: str) -> str:
    """The schema the archive's tables live in (read off its alembic_version table)."""
    match = re.search(r"^\d+; \d+ \d+ TABLE (\S+) alembic_version ", listing, re.MULTILINE)
    if match is None:
        raise BackupFailed("the archive holds no Chengxin schema (no alembic_version table)")
    return match.group(1)


def _rename_schema(script: str, old: str, new: str) -> str:
    """Rewrite `old.` qualifiers to `new.` in statements; COPY data between `FROM stdin;` and `\\.` is kept."""
    qualified = re.compile(rf'(?<![\w"]){re.escape(old)}\.|"{re.escape(old)}"\.')
    out, in_data = [], False
    for line in script.splitlines(keepends=True):
        if in_data:
            in_data = line.rstrip("\r\n") != "\\."
            out.append(line)
            continue
        out.append(qualified.sub(f'"{new}".', line))
        if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
            in_data = True
    return "".join(out)


def _search_path_schema(url: URL) -> str | None:
    """The first schema of a `?options=-csearch_path=...` URL (how the tests isolate a run)."""
    options = url.query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    match = re.search(r"search_path\s*=\s*([^\s,]+)", options or "")
    return match.group(1).strip('"') if match else None


def _conninfo(url: URL) -> str:
    """A libpq URI without the password (that goes in PGPASSWORD, not on a command line)."""
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} is not installed: install the PostgreSQL client tools of the server's major "
                           "version or newer (Debian/Ubuntu: apt-get install postgresql-client)")
    return found


def _run(command: list[str], url: URL, what: str | None = None, stdin: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    result = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupFailed(f"{what or Path(command[0]).name} failed (exit {result.returncode}): "
                           f"{result.stderr.strip()[-2000:]}")
    return result


# --- both ---------------------------------------------------------------------------------------
def _schema_summary(database_url: str) -> dict[str, Any]:
    """What was restored: the schema revision and a few counts."""
    from .db.session import make_sql_engine
    engine = make_sql_engine(database_url)
    try:
        with engine.connect() as conn:
            revision = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
            counts = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                      for table in ("process_instance", "human_task", "instance_event", "clue")}
    finally:
        engine.dispose()
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config
    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    summary: dict[str, Any] = {"revision": revision, "counts": counts, "at_head": sorted(revision) == heads}
    if not summary["at_head"]:
        summary["next_step"] = "the backup predates this version: run `chengxin init` to upgrade the schema"
    return summary


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
