"""Issued awards and their documents are immutable in the database itself: on PostgreSQL (the deployment's
database) a trigger refuses every UPDATE and DELETE of their rows, so a ``QuerySet.update()``, a raw
statement or a console session cannot change what ``Award.save()`` already refuses to (a correction is a
new award). A later migration that has to rewrite these rows (say a column made NOT NULL with a default)
must disable the trigger around it. Not on SQLite, the embedded development default: Django empties its
tables with DELETE between tests, which such a trigger would stop; TRUNCATE, PostgreSQL's way, fires no
row trigger."""

from django.db import migrations

TABLES = ("arbitration_award", "arbitration_awarddocument")
MESSAGE = "an issued award is immutable; the arbitrator may issue a correction"

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION odr_award_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: {MESSAGE}', TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""


def _run(schema_editor, statements):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)  # no parameters: the function's '%' are PL/pgSQL's, not placeholders


def create(apps, schema_editor):
    _run(
        schema_editor,
        [POSTGRES_FUNCTION]
        + [
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION odr_award_immutable()"
            for table in TABLES
        ],
    )


def drop(apps, schema_editor):
    _run(
        schema_editor,
        [f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}" for table in TABLES]
        + ["DROP FUNCTION IF EXISTS odr_award_immutable()"],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("arbitration", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
