"""Inserting many rows through the database's fastest path.

Django's ``bulk_create`` compiles every value of every object in Python, which costs
more than the database itself for large imports. These helpers write plain tuples:
``COPY ... FROM STDIN`` on PostgreSQL and one ``executemany`` on SQLite. Primary keys
are reserved first (from the sequence on PostgreSQL; past the highest ever used on
SQLite, which admits one writer at a time), so that related rows can point at them.
Call them inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import batched, pairwise
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` primary keys nobody else will use."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence's name first, once: called inside the series, the catalog
            # lookup would run for every id (a third of a second for 100,000).
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            # Usually one unbroken run: then only its ends travel back. Inserts made
            # concurrently may interleave; then every value does.
            cursor.execute(
                "SELECT min(v), max(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL"
                " ELSE array_agg(v ORDER BY v) END FROM ("
                " SELECT nextval(%s::regclass) AS v FROM generate_series(1, %s)) AS reserved",
                [sequence, count],
            )
            first, last, scattered = cursor.fetchone()
            return scattered if scattered is not None else list(range(first, last + 1))
        # SQLite: AUTOINCREMENT remembers the highest id ever given in sqlite_sequence;
        # starting past it never reuses the id of a deleted row.
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
        highest = max(highest, cursor.fetchone()[0])
    return list(range(highest + 1, highest + 1 + count))


def db_datetime(value: datetime | None) -> Any:
    """A datetime as :func:`insert_rows` must receive it (SQLite stores text). Adapt
    shared values once, not per row."""
    if value is not None and connection.vendor == "sqlite":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert tuples (values in ``columns`` order, datetimes through :func:`db_datetime`)
    into ``table``."""
    column_list = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor raises psycopg's own errors; translate them into
            # Django's (IntegrityError...) like every other query does.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f'INSERT INTO "{table}" ({column_list}) VALUES ({placeholders})',  # noqa: S608
            rows if isinstance(rows, list) else list(rows),
        )


def insert_for_ids(table: str, id_column: str, ids: Sequence[int], **constants: Any) -> None:
    """Insert one row per id: the id in ``id_column``, the same ``constants`` (values
    through :func:`db_datetime`) in every row. One statement, the ids bound as one
    parameter: for narrow rows (outbox entries, many-to-many links) this beats
    :func:`insert_rows` on SQLite, which binds every value of every row."""
    if not ids:
        return
    columns = ", ".join(f'"{c}"' for c in (id_column, *constants))
    values = "".join(", %s" for _ in constants)
    if connection.vendor == "postgresql":
        if ids[-1] - ids[0] + 1 == len(ids) and all(a < b for a, b in pairwise(ids)):
            # One unbroken run (the usual case, see reserve_ids): only its ends travel.
            source, bound = "generate_series(%s::bigint, %s::bigint) AS ids(value)", None
        else:
            source, bound = "unnest(%s::bigint[]) AS ids(value)", _pg_array(ids)
    else:
        source, bound = "json_each(%s)", json.dumps(list(ids))
    params = [*constants.values(), *([ids[0], ids[-1]] if bound is None else [bound])]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({columns}) SELECT value{values} FROM {source}',  # noqa: S608
            params,
        )


def update_objects(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Save ``fields`` of ``objects`` (instances of one model), each row its own values:
    what ``QuerySet.bulk_update`` does, in one statement per ``UPDATE_CHUNK`` objects.

    ``bulk_update`` writes a ``CASE`` with one branch per object, which the database
    walks for every row it updates (work that grows with the square of the batch). Here
    the values travel as one JSON parameter, joined to the table by primary key
    (``UPDATE ... FROM``; SQLite 3.33 or newer, else ``bulk_update``). Each value is
    prepared as ``save()`` prepares it. JSON fields are refused: SQLite would store the
    JSON value unwrapped."""
    if not objects:
        return
    model = type(objects[0])
    concrete = [model._meta.get_field(name) for name in fields]
    if any(isinstance(field, models.JSONField) for field in concrete):
        raise ValueError("update_objects does not write JSON fields; use bulk_update")
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 33):
        model._default_manager.bulk_update(objects, fields, batch_size=500)
        return
    table, key = model._meta.db_table, model._meta.pk.column
    columns = [field.column for field in concrete]
    for chunk in batched(objects, UPDATE_CHUNK):
        rows = [
            [obj.pk, *(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete)]
            for obj in chunk
        ]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                types = ", ".join(
                    f'"{column}" {field.db_type(connection)}'
                    for column, field in zip(columns, concrete, strict=True)
                )
                assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns)
                keys = ["pk", *columns]
                cursor.execute(
                    f'UPDATE "{table}" AS t SET {assignments} FROM json_to_recordset(%s::json)'  # noqa: S608
                    f' AS v("pk" bigint, {types}) WHERE t."{key}" = v."pk"',
                    [json.dumps([dict(zip(keys, row, strict=True)) for row in rows], default=str)],
                )
            else:
                assignments = ", ".join(
                    f"\"{c}\" = json_extract(v.value, '$[{i}]')" for i, c in enumerate(columns, 1)
                )
                cursor.execute(
                    f'UPDATE "{table}" SET {assignments} FROM json_each(%s) AS v'  # noqa: S608
                    f' WHERE "{table}"."{key}" = json_extract(v.value, \'$[0]\')',
                    [json.dumps(rows, default=str)],
                )


UPDATE_CHUNK = 10_000


def values_subquery(values: Sequence[str]) -> RawSQL:
    """A subquery yielding ``values``, bound as ONE parameter (a JSON array):
    ``filter(field__in=values_subquery(big_list))`` costs one
    query whatever the list's length, without building thousands of placeholders."""
    # Bound as JSON text on both: psycopg adapts a Python list element by element, which
    # costs more than the query itself for 100,000 values.
    if connection.vendor == "postgresql":
        return RawSQL("SELECT json_array_elements_text(%s::json)", [json.dumps(list(values))])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(values))])


def _pg_array(ids: Sequence[int]) -> str:
    """Integers as a PostgreSQL array literal: built in one join, where psycopg adapts
    a list element by element."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"
