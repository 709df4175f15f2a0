from django.urls import path

from . import views

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="api-notification-list"),
    path(
        "notifications/<int:notification_id>/read/", views.NotificationReadApi.as_view(), name="api-notification-read"
    ),
    path("webhooks/", views.WebhookListCreateApi.as_view(), name="api-webhooks"),
]
