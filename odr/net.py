"""The client's address, the one rule for log-in limits and throttles alike."""

from django.conf import settings


def client_ip(request) -> str | None:
    """The address of the client that sent ``request``.

    Behind ``ODR_NUM_PROXIES`` trusted reverse proxies, each proxy appends the address it received the
    request from to X-Forwarded-For, so the client is the Nth entry from the right (what DRF's
    ``NUM_PROXIES`` does for throttling). With no proxy configured the header is ignored: a client could
    write anything there.
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return remote
