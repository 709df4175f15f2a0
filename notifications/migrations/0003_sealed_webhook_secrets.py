"""Webhook signing secrets sealed at rest: the column becomes text, and the secrets stored in clear are
sealed under the current master key of ODR_EVIDENCE_KEYS (reversed: opened again)."""

from django.db import migrations, models

PURPOSE = "webhook-secret"  # notifications.models.SECRET_PURPOSE when this was written


def _rows(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, secret FROM notifications_webhookendpoint")
        return cursor.fetchall()


def _write(schema_editor, changed):
    with schema_editor.connection.cursor() as cursor:
        for pk, value in changed:
            cursor.execute("UPDATE notifications_webhookendpoint SET secret = %s WHERE id = %s", [value, pk])


def seal_in_clear(apps, schema_editor):
    from cases.evidence import crypto

    rows = _rows(schema_editor)
    _write(schema_editor, [(pk, crypto.seal_text(value, PURPOSE)) for pk, value in rows if not _sealed(value)])


def open_again(apps, schema_editor):
    """Every secret is sealed once forward has run: open each one, and stop (VaultKeyMissing,
    VaultIntegrityError) rather than leave one sealed for the older code to sign with."""
    from cases.evidence import crypto

    rows = _rows(schema_editor)
    _write(schema_editor, [(pk, crypto.open_text(value, PURPOSE)) for pk, value in rows])


def _sealed(value: str) -> bool:
    from cases.evidence import crypto

    if crypto.sealed_key_id(value) is None:
        return False
    try:
        crypto.open_text(value, PURPOSE)
    except (crypto.VaultIntegrityError, crypto.VaultKeyMissing):  # a secret in clear that looks sealed
        return False
    return True


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_alert_notifications"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=models.TextField(),
        ),
        migrations.RunPython(seal_in_clear, open_again),
    ]
