"""Model instances from the rows of hand-written statements, built as peewee's own select builds
them, without its cursor wrappers: those work out every column's converter again for each
statement, which on a hot one-row read costs more than the read. Synchronous; call inside
``database.run``."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from peewee import Model

Row = TypeVar("Row", bound=Model)


def columns_of(model: type[Model], alias: str | None = None) -> str:
    """Every column of ``model`` (qualified by the table ``alias``, when given), in the order
    ``from_row`` reads them."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{field.column_name}"' for field in model._meta.sorted_fields)


def from_row(model: type[Row], row: Sequence) -> tuple[Row, tuple]:
    """An instance of ``model`` from the first values of ``row`` (selected with ``columns_of``),
    each through its field's ``python_value``; and the values after them."""
    fields = model._meta.sorted_fields
    values = tuple(row)
    instance = model(__no_default__=1)
    # What each field's accessor would store, set at once; nothing is dirty (nothing to save).
    instance.__data__ = {field.name: field.python_value(value) for field, value in zip(fields, values, strict=False)}
    return instance, values[len(fields):]
