"""Hand-written bulk statements: one UPDATE that gives each of many rows values of its own
(instead of one UPDATE per row), which peewee's query builder has no form for; INSERTs (many rows,
or one returned as stored) built without the builder, which costs more CPU than the insert itself
on the trigger's path; an UPDATE of one row by its key; and the condition "one of these
values" in a form whose plan holds.
Synchronous; call inside ``database.run``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from peewee import Field

from storage.database import database, is_postgres
from storage.rows import columns_of, from_row

# PostgreSQL types the VALUES cells are cast to: untyped parameters there would be text.
_POSTGRES_CASTS = {"AUTO": "integer", "INT": "integer", "VARCHAR": "varchar", "TEXT": "text",
                   "TIMESTAMPTZ": "timestamptz", "BOOL": "boolean"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def insert_rows(model, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert ``rows`` (field name to value; every row names the same fields) in one statement,
    as peewee's ``insert_many`` would: each value through its field's ``db_value``, and every
    field a row leaves out that has a default given that default."""
    if rows:
        database.execute_sql(*_insert(model, rows))


def insert_returning(model, row: Mapping[str, object]):
    """Insert one row as ``insert_rows`` does, and return it as stored (``RETURNING``), as an
    instance of ``model``."""
    sql, params = _insert(model, [row])
    stored = database.execute_sql(f"{sql} RETURNING {columns_of(model)}", params).fetchone()
    return from_row(model, stored)[0]


def _insert(model, rows: Sequence[Mapping[str, object]]) -> tuple[str, list]:
    fields = model._meta.fields
    given = [fields[name] for name in rows[0]]
    defaulted = [field for field in model._meta.sorted_fields if field.name not in rows[0] and field.default is not None]
    columns = ", ".join(_quoted(field.column_name) for field in (*given, *defaulted))
    row_sql = "(" + ", ".join([database.param] * (len(given) + len(defaulted))) + ")"
    params: list = []
    for row in rows:
        params += [field.db_value(row[field.name]) for field in given]
        params += [field.db_value(field.default() if callable(field.default) else field.default) for field in defaulted]
    return f"INSERT INTO {_quoted(model._meta.table_name)} ({columns}) VALUES {', '.join([row_sql] * len(rows))}", params


def update_each(model, columns: Sequence[Field], rows: Sequence[Sequence], same: Mapping[Field, object],
                where: Mapping[Field, object]) -> set[int]:
    """For each of ``rows`` (its primary key, then one value per field of ``columns``): set those
    columns to its values and every field of ``same`` to its value, on that row if each field of
    ``where`` equals its value there. One statement; returns the primary keys of the rows updated."""
    if not rows:
        return set()
    param = database.param
    key = model._meta.primary_key
    fields = (key, *columns)
    if is_postgres():
        cell = [f"CAST({param} AS {_POSTGRES_CASTS.get(field.field_type, field.field_type)})" for field in fields]
    else:
        cell = [param] * len(fields)
    row_sql = "(" + ", ".join(cell) + ")"
    assignments = [f"{_quoted(field.column_name)} = v.column{index}" for index, field in enumerate(columns, start=2)]
    assignments += [f"{_quoted(field.column_name)} = {param}" for field in same]
    conditions = [f"t.{_quoted(key.column_name)} = v.column1"]
    conditions += [f"t.{_quoted(field.column_name)} = {param}" for field in where]
    sql = (
        f"UPDATE {_quoted(model._meta.table_name)} AS t SET {', '.join(assignments)}"
        f" FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v"
        f" WHERE {' AND '.join(conditions)} RETURNING {_quoted(key.column_name)}"
    )
    params = [field.db_value(value) for field, value in same.items()]  # in the order they appear
    for row in rows:
        params += [field.db_value(value) for field, value in zip(fields, row, strict=True)]
    params += [field.db_value(value) for field, value in where.items()]
    return {row_id for (row_id,) in database.execute_sql(sql, params).fetchall()}


def one_of(column_sql: str, values: Sequence, postgres_type: str = "integer") -> tuple[str, list]:
    """The condition that ``column_sql`` is one of ``values``, and its parameters.

    PostgreSQL: one array parameter (of ``postgres_type``), so one prepared statement serves any
    number of values, and its generic plan is an index scan even on a table filled since its
    statistics were taken (with ``IN`` and one parameter a value, that plan scanned and hashed
    every table it joined: 20 ms against 2 ms for a claim of 50 pages). SQLite: ``IN`` with one
    placeholder a value."""
    if is_postgres():
        return f"{column_sql} = ANY(CAST({database.param} AS {postgres_type}[]))", [list(values)]
    return f"{column_sql} IN ({', '.join([database.param] * len(values))})", list(values)


def update_row(model, row_id: int, changes: Mapping[Field, object]) -> None:
    """Set each field of ``changes`` to its value (through the field's ``db_value``) on the row
    with primary key ``row_id``, as peewee's ``update`` would, without building the statement."""
    assignments = ", ".join(f"{_quoted(field.column_name)} = {database.param}" for field in changes)
    key = _quoted(model._meta.primary_key.column_name)
    sql = f"UPDATE {_quoted(model._meta.table_name)} SET {assignments} WHERE {key} = {database.param}"
    database.execute_sql(sql, [*(field.db_value(value) for field, value in changes.items()), row_id])
