"""Webhook signing secrets are sealed at rest: a database dump alone does not give them away (nor the power
to forge the platform's signatures); they read back plain, survive key rotation, and the migration seals
the ones stored in clear before it."""

import base64
import importlib
import io
import secrets
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cases.evidence import crypto
from notifications.models import Delivery, WebhookEndpoint
from notifications.services import delivery_perform, webhook_create
from tests.conftest import TEST_EVIDENCE_KEY
from tests.factories import file_case

pytestmark = pytest.mark.django_db

KEY_B = "keyB:" + base64.b64encode(secrets.token_bytes(32)).decode()
migration = importlib.import_module("notifications.migrations.0003_sealed_webhook_secrets")


def stored(endpoint) -> str:
    """The secret column as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notifications_webhookendpoint WHERE id = %s", [endpoint.pk])
        return cursor.fetchone()[0]


def store(endpoint, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE notifications_webhookendpoint SET secret = %s WHERE id = %s", [value, endpoint.pk])


@pytest.fixture
def endpoint(cast):
    return webhook_create(user=cast.merchant, url="https://8.8.8.8/hook", events=[], secret="s3cret-of-the-shop-0123")


def test_the_database_holds_the_secret_sealed_and_the_platform_reads_it_plain(endpoint, cast):
    raw = stored(endpoint)
    assert raw.startswith("s1:test1:") and "s3cret" not in raw
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret == "s3cret-of-the-shop-0123"
    # The same secret sealed twice never reads the same.
    other = webhook_create(user=cast.merchant, url="https://8.8.4.4/hook", events=[], secret="s3cret-of-the-shop-0123")
    assert stored(other) != raw and other.signing_secret == "s3cret-of-the-shop-0123"


def test_an_altered_secret_or_one_sealed_for_another_use_does_not_open(endpoint):
    raw = stored(endpoint)
    data = bytearray(base64.b64decode(raw.rsplit(":", 1)[1]))
    data[-1] ^= 1
    store(endpoint, raw.rsplit(":", 1)[0] + ":" + base64.b64encode(bytes(data)).decode())
    with pytest.raises(crypto.VaultIntegrityError):
        WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret  # noqa: B018

    store(endpoint, crypto.seal_text("s3cret-of-the-shop-0123", "another-purpose"))
    with pytest.raises(crypto.VaultIntegrityError):
        WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret  # noqa: B018


def test_rotation_seals_every_secret_under_the_new_key_and_the_old_key_can_go(endpoint, settings):
    settings.ODR_EVIDENCE_KEYS = f"{KEY_B},{TEST_EVIDENCE_KEY}"
    out = io.StringIO()
    call_command("rotate_evidence_keys", stdout=out)
    assert "1 webhook secrets sealed again under keyB" in out.getvalue()
    assert stored(endpoint).startswith("s1:keyB:")

    settings.ODR_EVIDENCE_KEYS = KEY_B  # the old key dropped
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret == "s3cret-of-the-shop-0123"
    out = io.StringIO()
    call_command("rotate_evidence_keys", stdout=out)
    assert "0 webhook secrets sealed again" in out.getvalue()


def test_a_secret_under_a_key_no_longer_configured_stops_the_rotation_with_a_clear_error(endpoint, settings):
    from django.core.management.base import CommandError

    settings.ODR_EVIDENCE_KEYS = KEY_B  # test1 dropped before rotating
    with pytest.raises(CommandError, match="webhook secrets: .*'test1'"):
        call_command("rotate_evidence_keys", stdout=io.StringIO())


def test_the_migration_seals_the_secrets_stored_in_clear_and_its_reverse_opens_them(endpoint):
    store(endpoint, "a-secret-kept-in-clear-0001")
    editor = SimpleNamespace(connection=connection)

    migration.seal_in_clear(None, editor)
    assert stored(endpoint).startswith("s1:test1:")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret == "a-secret-kept-in-clear-0001"
    sealed = stored(endpoint)
    migration.seal_in_clear(None, editor)  # run twice: sealed once, not twice
    assert stored(endpoint) == sealed

    migration.open_again(None, editor)
    assert stored(endpoint) == "a-secret-kept-in-clear-0001"


def test_the_migrations_reverse_stops_on_a_secret_it_cannot_open(endpoint, settings):
    """Left sealed, the older code would sign with the sealed text: every signature wrong, nothing saying why."""
    settings.ODR_EVIDENCE_KEYS = KEY_B  # the key it is sealed under is gone
    with pytest.raises(crypto.VaultKeyMissing):
        migration.open_again(None, SimpleNamespace(connection=connection))
    assert stored(endpoint).startswith("s1:test1:")


@pytest.mark.parametrize("plain", ["s1:shop-prod-2025:AAAA", "s1:test1:AAAA", "s1:test1:" + "A" * 40])
def test_the_migration_seals_a_secret_in_clear_that_looks_sealed(endpoint, plain):
    """A merchant's own secret may read like a sealed value (an unknown key id, a short tail, a wrong tag):
    it is sealed like any other, and the migration does not stop on it."""
    store(endpoint, plain)
    migration.seal_in_clear(None, SimpleNamespace(connection=connection))
    assert stored(endpoint) != plain
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret == plain


def test_a_delivery_whose_secret_cannot_be_opened_is_recorded_as_failed_and_tried_again(endpoint, cast, settings):
    """A deployment that lost the key: nothing is sent, the delivery says why and is tried again later (once
    the key is back, it goes)."""
    settings.ODR_EVIDENCE_KEYS = KEY_B  # the key the secret is sealed under is gone
    case = file_case(cast)
    delivery = Delivery.objects.get(event__case=case, channel="webhook")
    if delivery.attempts == 0:  # not tried yet by an eager worker
        assert delivery_perform(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "VaultKeyMissing" in delivery.last_error and "test1" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()
