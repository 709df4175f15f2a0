"""Shared by the mediation tests: URLs, money bodies, cases in other currencies, websocket clients."""

import io
import zipfile
from decimal import Decimal

from channels.testing import WebsocketCommunicator
from django.test import Client

from cases.demo import People, drive
from tests.factories import Cast, file_case

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")


def money(amount: str, currency: str = "EUR") -> dict:
    return {"amount": amount, "currency": currency}


def url(case, tail: str = "") -> str:
    return f"/api/v1/cases/{case.pk}/{tail}"


def people(cast: Cast) -> People:
    return People(cast.consumer, cast.merchant, cast.mediator, cast.arbitrator, cast.operator)


def case_in_currency(cast: Cast, state: str, *, claim: str, currency: str):
    """A case claiming ``claim`` ``currency``, driven through the services to ``state``."""
    return drive(file_case(cast, claim=claim, currency=currency), state, people(cast))


def page_client(user) -> Client:
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def session_cookie(user) -> bytes:
    """The ``cookie`` header of a browser session of ``user`` (as the case page's chat sends it)."""
    client = page_client(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def ws(path: str, *, cookie: bytes | None = None, origin: bytes | None = b"http://testserver") -> WebsocketCommunicator:
    """A websocket client of the whole ASGI application; ``origin=None`` sends no Origin header."""
    from odr.asgi import application

    headers = [HOST] if origin is None else [(b"origin", origin), HOST]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


def chat_path(case, room: str = "joint", ticket: str | None = None) -> str:
    path = f"/ws/cases/{case.pk}/chat/{room}/"
    return f"{path}?ticket={ticket}" if ticket else path


def unzip_all(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def dec(value: str) -> Decimal:
    return Decimal(value)
