"""Shared fixtures: API clients per role, a fresh cast of users, and service requirements."""

import os

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import Cast

#: The master key of the tests' evidence vaults ("id:base64 of 32 bytes").
TEST_EVIDENCE_KEY = "test1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(settings, request, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test has its own evidence vault and a known master key.
    settings.ODR_EVIDENCE_DIR = tmp_path / "evidence"
    settings.ODR_EVIDENCE_KEYS = TEST_EVIDENCE_KEY
    cache.clear()  # throttle counters live in the cache
    # Outside the integration tests (which start real workers), tasks queued on commit run in-process:
    # their delivery rows are what the unit tests check.
    from odr.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = "integration" not in request.keywords
    yield
    app.conf.task_always_eager = eager
    cache.clear()


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api():
    """``api(user)`` gives an APIClient authenticated as ``user`` (``None``: anonymous)."""
    return client_for


@pytest.fixture
def cast(db) -> Cast:
    return Cast.make()


def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def require_postgres():
    """Skip unless the database is PostgreSQL; with ODR_REQUIRE_SERVICES=1 fail instead of skipping."""
    if is_postgres():
        return
    if os.environ.get("ODR_REQUIRE_SERVICES") == "1":
        pytest.fail("ODR_REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL")
    pytest.skip("needs PostgreSQL (set DATABASE_URL)")
