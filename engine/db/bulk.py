"""Writing many pending rows of one transaction in a few statements instead of one per row.

The ORM's unit of work inserts rows with a database-generated key one at a time on SQLite (it
reads each key back, and SQLite does not promise RETURNING's order), and updates rows that
carry a version counter one at a time on every database (it checks each row count). A timer
group of a hundred instances would make several hundred round trips that way.

`flush_in_bulk` writes the new rows of the given classes with one executemany per class and
set of columns, without reading keys back (the rows are detached afterwards, so nothing can
use a key it does not have), and the changed rows of versioned classes with one executemany
per set of changed columns. Those updates still check the version each row was read with and
raise the counter as the ORM would, so a writer holding an older copy still gets its conflict.
Everything else pending (deletes, other classes) is flushed by the ORM as usual.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError


def flush_in_bulk(session: Session, insert: tuple[type, ...], update_versioned: tuple[type, ...]) -> None:
    _insert_new(session, [obj for obj in session.new if isinstance(obj, insert)])
    _update_changed(session, [obj for obj in session.dirty if isinstance(obj, update_versioned)])
    session.flush()


def _insert_new(session: Session, objects: list[Any]) -> None:
    groups: dict[tuple[Any, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        state = inspect(obj)
        # As the ORM does: an attribute never set, or set to None, is left out so that its column
        # default applies (or NULL), except where the type stores None itself (JSON's null).
        values = {}
        for prop in state.mapper.column_attrs:
            column, value = prop.columns[0], state.dict.get(prop.key)
            if prop.key in state.dict and (value is not None or column.type.should_evaluate_none):
                values[column.key] = value
        groups[(state.mapper.local_table, tuple(sorted(values)))].append(values)
    for obj in objects:
        session.expunge(obj)
    for (table, _columns), rows in groups.items():
        session.execute(table.insert(), rows)


def _update_changed(session: Session, objects: list[Any]) -> None:
    groups: dict[tuple[Any, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        state = inspect(obj)
        mapper = state.mapper
        changed = sorted(state.committed_state)
        if (not changed or mapper.version_id_col is None or len(mapper.primary_key) != 1
                or any(key not in mapper.column_attrs for key in changed)):
            continue  # a relationship change, or nothing to version: the ORM's flush writes it
        version = mapper.get_property_by_column(mapper.version_id_col).key
        key = mapper.get_property_by_column(mapper.primary_key[0]).key
        row = {mapper.get_property(k).columns[0].key: state.dict[k] for k in changed}
        row.update({"_pk": state.dict[key], "_version": state.dict[version],
                    mapper.version_id_col.key: state.dict[version] + 1})
        groups[(mapper, tuple(sorted(row)))].append(row)
        session.expunge(obj)
    for (mapper, columns), rows in groups.items():
        table, (key,) = mapper.local_table, mapper.primary_key
        statement = (update(table)
                     .where(and_(key == bindparam("_pk"), mapper.version_id_col == bindparam("_version")))
                     .values({c: bindparam(c) for c in columns if not c.startswith("_")}))
        matched = session.connection().execute(statement, rows).rowcount
        if matched != len(rows):
            raise StaleDataError(f"{table.name}: {len(rows) - matched} of {len(rows)} rows were changed by "
                                 "someone else")
