"""Settings of the ASGI server that tests/browser/test_chat.py starts: the project's own, with STATIC_ROOT
in a temporary folder (``ODR_TEST_STATIC_ROOT``, filled by collectstatic), since with DEBUG off WhiteNoise
serves only STATIC_ROOT and the repository's own is not there in a fresh clone."""

import os

from odr.settings import *  # noqa: F403

STATIC_ROOT = os.environ["ODR_TEST_STATIC_ROOT"]

# The tests make their users with the fast hasher (tests/conftest.py); the server must read those hashes.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
