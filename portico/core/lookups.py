"""``field__one_of=ids``: the field's value is one of many integers, bound as ONE
parameter whatever their number.

``field__in=ids`` binds every id as its own parameter (Django prepares each one, for
every query that names them: for chunks of thousands, more than the query itself).
A subquery (``IN (SELECT unnest(...))``) binds one parameter but leaves PostgreSQL to
estimate it: with statistics from before a bulk insert (a table believed empty), it
chose to compare every row with every id, and cancelling 10,000 waiting emails took 12
seconds instead of a few milliseconds. ``= ANY(array)`` is planned as an index lookup
per id or a hashed membership test, whatever the statistics say. SQLite reads the ids
from a JSON array.

Registered on integer fields (primary keys included) and foreign keys by the core app.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Lookup


class OneOf(Lookup):
    lookup_name = "one_of"
    prepare_rhs = False  # a list of ints, bound as a whole below

    def _ids(self) -> list[int]:
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608 (lhs is a column)
        return sql, [*params, json.dumps(self._ids())]

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        # An array literal built in one join: psycopg adapts a list element by element.
        literal = "{" + ",".join(map(str, self._ids())) + "}"
        return f"{lhs} = ANY(%s::bigint[])", [*params, literal]
