from django.urls import path

from . import views

urlpatterns = [
    path("merchants/<int:merchant_id>/sanctions/", views.SanctionsApi.as_view(), name="api-sanctions"),
    path(
        "merchants/<int:merchant_id>/sanctions/<int:sanction_id>/lift/",
        views.SanctionLiftApi.as_view(),
        name="api-sanction-lift",
    ),
    path("compliance-register/", views.RegisterApi.as_view(), name="api-register"),
]
