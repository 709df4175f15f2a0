"""Secrets and personal data never reach the logs, whatever the request does."""

import logging

from tests.factories import PASSWORD, filing_body


def test_passwords_tokens_and_personal_data_are_not_logged(cast, api, caplog):
    caplog.set_level(logging.DEBUG)
    anonymous = api(None)
    secret_password = "Sekr3t-Passw0rd-xyz"
    anonymous.post(
        "/api/v1/auth/register/",
        {
            "email": "private.person@example.test",
            "password": secret_password,
            "role": "consumer",
            "display_name": "Private Person",
            "country": "XX",  # invalid: the 400 path logs a warning
            "time_zone": "Europe/Madrid",
        },
        format="json",
    )
    anonymous.post(
        "/api/v1/auth/token/", {"email": cast.consumer.email, "password": "wrong-" + PASSWORD}, format="json"
    )
    token = anonymous.post("/api/v1/auth/token/", {"email": cast.consumer.email, "password": PASSWORD}, format="json")
    key = token.json()["token"]
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id, description="My card number is 4111 1111 1111 1111")
    body["claim"] = {"amount": "1.001", "currency": "EUR"}  # invalid: logged as a bad request
    client.post("/api/v1/cases/", body, format="json")

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the bad requests should have been logged"
    for secret in (secret_password, PASSWORD, key, "private.person@example.test", cast.consumer.email, "4111"):
        assert secret not in logged
