"""Webhook signing, sending and address checks (HMAC-SHA256 over ``timestamp.body``)."""

import hashlib
import hmac
import ipaddress
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop


class WebhookAddressError(ValueError):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-ODR-Signature``: hex HMAC-SHA256 of ``timestamp + "." + body`` with the endpoint's secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_url(url: str) -> None:
    """Refuse anything but http(s); outside DEBUG (``ODR_WEBHOOK_ALLOW_PRIVATE`` off) refuse addresses that
    are not public (loopback, private ranges, link-local...), so a webhook cannot reach inside our network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookAddressError(gettext_noop("The URL must start with http:// or https:// and name a host."))
    if settings.ODR_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise WebhookAddressError(gettext_noop("The host name does not resolve.")) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookAddressError(gettext_noop("The URL points to an address that is not public."))


def post(url: str, secret: str, timestamp: str, body: bytes, *, timeout: float = 10) -> int:
    """POST the signed body; return the status. Raises on network errors and non-2xx answers."""
    check_url(url)  # again at send time: DNS may have changed since the endpoint was registered
    request = urllib.request.Request(  # noqa: S310 -- scheme checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "ODR-webhooks/1",
            "X-ODR-Timestamp": timestamp,
            "X-ODR-Signature": sign(secret, timestamp, body),
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.status
