from django.urls import path

from . import stats, views

urlpatterns = [
    path("merchants/<int:merchant_id>/sanctions/", views.SanctionsApi.as_view(), name="api-sanctions"),
    path(
        "merchants/<int:merchant_id>/sanctions/<int:sanction_id>/lift/",
        views.SanctionLiftApi.as_view(),
        name="api-sanction-lift",
    ),
    path("compliance-register/", views.RegisterApi.as_view(), name="api-register"),
    path("transparency/", views.TransparencyApi.as_view(), name="api-transparency"),
    path("stats/overview/", stats.OverviewApi.as_view(), name="api-stats-overview"),
    path("stats/merchants/", stats.MerchantsApi.as_view(), name="api-stats-merchants"),
    path("alerts/", stats.AlertsApi.as_view(), name="api-alerts"),
    path("alerts/<int:alert_id>/acknowledge/", stats.AlertAcknowledgeApi.as_view(), name="api-alert-acknowledge"),
    path("alerts/<int:alert_id>/sanction/", stats.AlertSanctionApi.as_view(), name="api-alert-sanction"),
]
