"""A webhook subscribes only to event types that exist."""

from notifications.models import WebhookEndpoint


def test_unknown_event_types_are_refused_and_known_ones_kept(cast, api, settings):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True
    client = api(cast.merchant)
    bad = client.post(
        "/api/v1/webhooks/", {"url": "https://shop.example/hook", "events": ["respond", "drop_tables"]}, format="json"
    )
    assert bad.status_code == 400
    assert "events.1" in bad.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()
    good = client.post(
        "/api/v1/webhooks/", {"url": "https://shop.example/hook", "events": ["submit", "deadline_fired"]}, format="json"
    )
    assert good.status_code == 201
    assert WebhookEndpoint.objects.get().events == ["submit", "deadline_fired"]
