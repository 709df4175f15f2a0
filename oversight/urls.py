from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="oversight-dashboard"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="oversight-alert-acknowledge"),
    path("alerts/<int:alert_id>/sanction/", views.alert_sanction, name="oversight-alert-sanction"),
    path("merchants/", views.merchant_list, name="oversight-merchants"),
    path("merchants/<int:merchant_id>/", views.merchant_record, name="oversight-merchant"),
    path("merchants/<int:merchant_id>/sanctions/", views.sanction_apply, name="oversight-sanction-apply"),
    path(
        "merchants/<int:merchant_id>/sanctions/<int:sanction_id>/lift/",
        views.sanction_lift,
        name="oversight-sanction-lift",
    ),
]
