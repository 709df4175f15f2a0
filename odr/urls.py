"""Project URLs: the API under /api/v1/, its schema and docs, and the admin."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as accounts_views
from odr.errors import error_body
from oversight import views as oversight_views


def health(request):
    return JsonResponse({"status": "ok"})


def _api_or_html(status, code, message, html_view):
    def view(request, *args, **kwargs):
        if request.path.startswith("/api/"):
            return JsonResponse(error_body(code, message), status=status)
        return html_view(request, *args, **kwargs)

    return view


# Paths under /api/ answer in the API's error shape even when no view matched.
handler404 = _api_or_html(404, "not_found", "Not found.", defaults.page_not_found)
handler500 = _api_or_html(500, "server_error", "Server error.", defaults.server_error)


urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("cases/", include("cases.urls")),
    path("cases/", include("mediation.urls")),
    path("cases/", include("arbitration.urls")),
    path("notifications/", include("notifications.urls")),
    path("oversight/", include("oversight.urls")),
    path("compliance-register/", oversight_views.compliance_register, name="compliance-register"),
    path("transparency/", oversight_views.transparency, name="transparency"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("cases.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("api/v1/", include("mediation.api.urls")),
    path("api/v1/", include("arbitration.api.urls")),
    path("api/v1/", include("oversight.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", health, name="health"),
]
