"""Inserting many rows in the hot paths (a chat batch's messages and their events): on PostgreSQL one
``INSERT ... SELECT * FROM unnest(...)``, elsewhere Django's ``bulk_create``.

Django 5.2's ``bulk_create`` sends the same statement on PostgreSQL, but first builds it through the query
compiler and prepares every value of every object through its field: a third of the time a chat batch of six
messages took in the database thread (9.5 ms, 6.5 ms without it; bench_chat's rooms). Here the values go as
the objects hold them: the callers build them in the database's form already (strings, ids, aware times,
JSON made canonical), so it is for hot paths whose values are known to be so (a naive time would be read as
UTC, a lazy translation refused); a column Django would convert is refused. No defaults are filled in, no
signals are sent (``bulk_create`` sends none either). Through Django's cursor, in the caller's transaction,
so errors are Django's and the statement is logged and counted like any other.
"""

import json

from django.db import connection


def insert_many(objs: list, fields: tuple[str, ...], *, along: tuple[str, list] | None = None) -> None:
    """Insert ``objs`` (instances of one model) with the values of ``fields``; set each one's new
    primary key. On PostgreSQL one statement; the ids come back in the order of ``objs``, as they do to
    ``bulk_create`` (the rows of ``INSERT ... SELECT`` from ``unnest`` are made and returned in order).

    ``along``: a data-modifying statement and its parameters that go in the same statement, on
    PostgreSQL only (a ``WITH`` before the insert: one round trip for both); the caller runs its own
    equivalent elsewhere."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    opts = model._meta
    columns, casts, values = [], [], []
    for name in fields:
        field = opts.get_field(name)
        _check_plain(field)
        columns.append(connection.ops.quote_name(field.column))
        casts.append(f"%s::{_array_type(field)}")
        attname = field.attname
        if field.get_internal_type() == "JSONField":
            values.append([_json(getattr(obj, attname)) for obj in objs])
        else:
            values.append([getattr(obj, attname) for obj in objs])
    pk = opts.pk
    prefix, params = (f"WITH along AS ({along[0]}) ", list(along[1])) if along else ("", [])
    table, returning = connection.ops.quote_name(opts.db_table), connection.ops.quote_name(pk.column)
    sql = (
        f"{prefix}INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (names from the model)
        f"SELECT * FROM unnest({', '.join(casts)}) RETURNING {returning}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + values)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk_value in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, pk_value)
        obj._state.adding = False
        obj._state.db = connection.alias


def _check_plain(field) -> None:
    """Refuse a column whose value Django would turn into something else on the way in (a JSON encoder of
    its own, a placeholder, a type that is not a plain scalar): those need ``bulk_create``."""
    internal = field.get_internal_type()
    if (
        (internal == "JSONField" and field.encoder is not None)
        or hasattr(field, "get_placeholder")
        or internal in {"ArrayField", "HStoreField", "DecimalField", "BinaryField"}
        or field.many_to_many
    ):
        raise TypeError(f"insert_many takes plain columns only, not {field.model.__name__}.{field.name}")


def _json(value) -> str | None:
    """A JSON column's value as its text (``None`` is SQL NULL, as the column stores it)."""
    return None if value is None else json.dumps(value)


def _array_type(field) -> str:
    """The array type to bind a column's values as: its own (a foreign key's that of the row it points to),
    without a length (``varchar(64)`` as ``varchar``); a JSON column's text turns into ``jsonb``."""
    if field.get_internal_type() == "JSONField":
        return "jsonb[]"
    return f"{field.db_type(connection).split('(')[0]}[]"
