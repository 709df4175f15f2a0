"""Per-request language and time zone: a signed-in user's own, remembered on their profile."""

import zoneinfo

from django.utils import timezone, translation


class UserLocaleMiddleware:
    """Activate the signed-in user's language and time zone (after LocaleMiddleware and authentication).

    Anonymous visitors keep what LocaleMiddleware chose (language cookie, Accept-Language) and UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
            try:
                if request.path.startswith("/api/"):
                    # The API answers in UTC; its *_local twins carry the user's zone explicitly.
                    timezone.deactivate()
                else:
                    timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class HealthCheckMiddleware:
    """``GET /healthz`` answered first, before the host check: the orchestrator's probe reaches the process
    by its own address (127.0.0.1:8000), which is not one of the site's ``ALLOWED_HOSTS``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            from django.http import JsonResponse

            return JsonResponse({"status": "ok"})
        return self.get_response(request)
